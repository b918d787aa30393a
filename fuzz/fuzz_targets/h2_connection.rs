//! (h) One TCP connection carrying HTTP/2 (RFC 8441 WebSockets on its streams), both sides:
//! `conversation::dissect_streams` fed arbitrary segments in capture order, so the whole
//! stack above TCP runs (preface or `Upgrade: h2c` detection, `h2::reader`, HPACK, the
//! `conversation::h2` layer, one WebSocket session per stream). Seeded with the cleartext
//! connections of samples/h2 (see `make-seeds.py`).
//!
//! Input: `[mode] [gap mask] [segments: [side << 15 | len, u16 BE] [len bytes]]...`, side 0
//! the client. mode: bits 0-1 the fine chunk size (1, 3, 64, or 1/3/64 in turn; 3 instead of
//! 1 over 8 KiB), bit 2 no preface prepended (else the client's bytes get the HTTP/2 preface
//! in front when they do not start with it, so most inputs reach the h2 layer), bit 3 a run
//! with gaps (segment i becomes a gap when bit i % 8 of the gap mask is set; bit 4 makes
//! those gaps 2³² bytes longer), bits 6-7 the config (default, full payload, keep nothing,
//! tiny keeps with the teaching view's HTTP/2 frame events).
//!
//! Oracles, besides no panic / hang / RSS blow-up:
//! * without gaps, the segments whole, coalesced per side (same capture order) and chopped in
//!   fine chunks give the same events, packet numbers, timestamps and pong round trips aside
//!   (they count pieces) — the client's first 24 bytes always arrive in one piece, see
//!   `PREFACE_WHOLE` below; zlib's wording of why compressed bytes are corrupt is not compared
//!   (as in `ws_session`);
//! * every Frame, Message and StreamEnd of a stream comes after a Handshake on that stream or
//!   an `inferred-websocket` diagnostic on it;
//! * at most one Handshake and one StreamEnd per stream id (HTTP/2 never reuses an id);
//! * a kept payload is never longer than its length; without gaps nothing is lost (no Gap
//!   event, no lost frame or message bytes).
#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use wsdissect::conversation::{dissect_streams, DissectConfig, Piece};
use wsdissect::event::Event;
use wsdissect_fuzz::normalized;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The fine runs chop the client's first 24 bytes (the preface) too, unless
/// `WSD_FUZZ_WHOLE_PREFACE=1`: the conversation layer waits for the whole preface (an earlier
/// finding: it needed 5 bytes of it in the first chunk). An `Upgrade: h2c` request cut before
/// its method is known is still not taken as one (the HTTP/1.1 path's business).
const PREFACE_WHOLE: usize = 24;

#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    Bytes(usize, &'a [u8]),
    Gap(usize, u64),
}

fn config(mode: u8) -> DissectConfig {
    match mode >> 6 {
        0 => DissectConfig::default(),
        1 => DissectConfig {
            frame_keep: 4096,
            message_keep: 64 << 20,
            ..DissectConfig::default()
        },
        2 => DissectConfig {
            frame_keep: 0,
            message_keep: 0,
            ..DissectConfig::default()
        },
        _ => DissectConfig {
            frame_keep: 7,
            message_keep: 13,
            tls_records: true,
            ..DissectConfig::default()
        },
    }
}

fn run(steps: &[Step<'_>], cfg: &DissectConfig) -> Vec<Event> {
    let pieces = steps.iter().map(|s| match *s {
        Step::Bytes(side, b) => (side, Piece::Bytes(b)),
        Step::Gap(side, len) => (side, Piece::Gap(len)),
    });
    dissect_streams(pieces, cfg.clone())
}

/// A stream's DATA was hunted for WebSocket frames (`conversation/h2/infer.rs`), or a session
/// lost and found its frame boundaries. The WebSocket hunt accepts a chain of frames that ends
/// exactly where the bytes so far end (`ws::resync`), so where it finds the first boundary, and
/// whether it finds one at all, depends on the chunking: a known finding (docs/robustness.md).
/// Such runs are not compared with each other unless `WSD_FUZZ_STRICT=1`.
fn hunted_websocket(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(e, Event::Diagnostic(d) if d.rule.name == "inferred-websocket"
            || (d.rule.name == "stream-resync" && d.stream.is_some()))
    })
}

/// Neither run reached HTTP/2, and one showed an HTTP/1.1 connection. Whether an invalid
/// request head is reported depends on how much of it had arrived when it was found invalid
/// (`conversation/upgrade.rs`, a known finding): the HTTP/1.1 path is other targets' business.
fn http1_only(a: &[Event], b: &[Event]) -> bool {
    let shown = |events: &[Event], h2: bool| {
        events
            .iter()
            .any(|e| matches!(e, Event::Connection(c) if c.http2.is_some() == h2))
    };
    !shown(a, true) && !shown(b, true) && (shown(a, false) || shown(b, false))
}

/// The per-run oracles: streams, handshakes and ends; payload lengths; nothing lost without gaps.
fn check(events: &[Event], gaps: bool) {
    let mut websocket: HashSet<u32> = HashSet::new();
    let mut handshakes: HashMap<u32, usize> = HashMap::new();
    let mut ends: HashMap<u32, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let (stream, what) = match e {
            Event::Handshake(h) => {
                if let Some(s) = h.stream {
                    if let Some(prev) = handshakes.insert(s.0, i) {
                        panic!("stream {}: a second Handshake (events {prev} and {i})", s.0);
                    }
                    websocket.insert(s.0);
                }
                continue;
            }
            Event::Diagnostic(d) if d.rule.name == "inferred-websocket" => {
                if let Some(s) = d.stream {
                    websocket.insert(s.0);
                }
                continue;
            }
            Event::Frame(f) => {
                assert!(
                    f.payload.bytes.len() as u64 <= f.payload.len,
                    "frame keeps more than its length: {f:?}"
                );
                assert!(gaps || f.lost == 0, "frame bytes lost without gaps: {f:?}");
                (f.stream, "Frame")
            }
            Event::Message(m) => {
                assert!(
                    m.payload.bytes.len() as u64 <= m.payload.len,
                    "message keeps more than its length: {m:?}"
                );
                assert!(
                    gaps || m.lost == 0,
                    "message bytes lost without gaps: {m:?}"
                );
                (m.stream, "Message")
            }
            Event::StreamEnd(s) => {
                if let Some(prev) = ends.insert(s.stream.0, i) {
                    panic!(
                        "stream {}: a second StreamEnd (events {prev} and {i}): {s:?}",
                        s.stream.0
                    );
                }
                (Some(s.stream), "StreamEnd")
            }
            Event::Gap(g) => {
                assert!(gaps, "a Gap event without gaps: {g:?}");
                continue;
            }
            _ => continue,
        };
        if let Some(s) = stream {
            assert!(
                websocket.contains(&s.0),
                "event {i}: a {what} on stream {} with no Handshake or inferred-websocket before it",
                s.0
            );
        }
    }
}

fn parse(data: &[u8]) -> Option<(u8, u8, Vec<(usize, &[u8])>)> {
    let [mode, mask, rest @ ..] = data else {
        return None;
    };
    let mut rest: &[u8] = rest;
    let mut segments = Vec::new();
    while rest.len() >= 2 {
        let h = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(h & 0x7fff).min(rest.len() - 2);
        // TCP never hands over an empty piece.
        if len > 0 {
            segments.push((usize::from(h >> 15), &rest[2..2 + len]));
        }
        rest = &rest[2 + len..];
    }
    if *mode & 4 == 0 {
        let client_starts = segments.iter().find(|s| s.0 == 0);
        if !client_starts.is_some_and(|s| s.1.starts_with(PREFACE)) {
            segments.insert(0, (0, PREFACE));
        }
    }
    Some((*mode, *mask, segments))
}

/// The segments chopped in `fine`-byte chunks (in turn 1, 3, 64 when `fine` is 0), the
/// client's first [`PREFACE_WHOLE`] bytes in one piece unless `split_preface`.
fn chopped<'a>(segments: &[(usize, &'a [u8])], fine: usize, split_preface: bool) -> Vec<Step<'a>> {
    let mut steps = Vec::new();
    let mut client_at = 0;
    let mut turn = 0;
    for &(side, mut bytes) in segments {
        if side == 0 && !split_preface && client_at < PREFACE_WHOLE {
            let n = (PREFACE_WHOLE - client_at).min(bytes.len());
            steps.push(Step::Bytes(side, &bytes[..n]));
            bytes = &bytes[n..];
            client_at += n;
        }
        if side == 0 {
            client_at += bytes.len();
        }
        while !bytes.is_empty() {
            let n = match fine {
                0 => [1, 3, 64][turn % 3],
                n => n,
            };
            turn += 1;
            let (c, rest) = bytes.split_at(n.min(bytes.len()));
            steps.push(Step::Bytes(side, c));
            bytes = rest;
        }
    }
    steps
}

fn first_difference(a: &[String], b: &[String]) -> String {
    let i = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    format!(
        "{} vs {} events; first difference at {i}:\n  whole: {}\n  other: {}",
        a.len(),
        b.len(),
        a.get(i).map_or("(none)", String::as_str),
        b.get(i).map_or("(none)", String::as_str)
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, mask, segments)) = parse(data) else {
        return;
    };
    let cfg = config(mode);
    let total: usize = segments.iter().map(|s| s.1.len()).sum();
    let debug = std::env::var_os("WSD_FUZZ_DEBUG").is_some();
    let split_preface = std::env::var_os("WSD_FUZZ_WHOLE_PREFACE").is_none();

    // A: whole segments.
    let whole: Vec<Step> = segments.iter().map(|&(s, b)| Step::Bytes(s, b)).collect();
    let a = run(&whole, &cfg);
    check(&a, false);
    let a_norm: Vec<String> = a.iter().map(normalized).collect();
    if debug {
        for e in &a_norm {
            eprintln!("{e}");
        }
    }

    // B: coalesced per side, C: fine chunks.
    let mut merged: Vec<(usize, Vec<u8>)> = Vec::new();
    for &(s, b) in &segments {
        match merged.last_mut() {
            Some((ls, lb)) if *ls == s => lb.extend_from_slice(b),
            _ => merged.push((s, b.to_vec())),
        }
    }
    let coalesced: Vec<Step> = merged.iter().map(|(s, b)| Step::Bytes(*s, b)).collect();
    let fine_len = match mode & 3 {
        0 if total <= 8192 => 1,
        0 | 1 => 3,
        2 => 64,
        _ => 0,
    };
    let fine = chopped(&segments, fine_len, split_preface);
    let strict = std::env::var_os("WSD_FUZZ_STRICT").is_some();
    for (name, steps) in [("coalesced", &coalesced), ("fine chunks", &fine)] {
        let r = run(steps, &cfg);
        check(&r, false);
        if !strict && (hunted_websocket(&a) || hunted_websocket(&r) || http1_only(&a, &r)) {
            continue;
        }
        let r_norm: Vec<String> = r.iter().map(normalized).collect();
        assert!(
            r_norm == a_norm,
            "{name} (chunk {fine_len}): {}",
            first_difference(&a_norm, &r_norm)
        );
    }

    // G: segments whose mask bit is set become gaps.
    if mode & 8 != 0 {
        let extra = if mode & 0x10 != 0 { 1 << 32 } else { 0 };
        let steps: Vec<Step> = segments
            .iter()
            .enumerate()
            .map(|(i, &(s, b))| match mask >> (i % 8) & 1 {
                1 => Step::Gap(s, b.len() as u64 + extra),
                _ => Step::Bytes(s, b),
            })
            .collect();
        let g = run(&steps, &cfg);
        check(&g, true);
    }
});
