//! (b) HTTP heads: `parse_request`, `parse_response`, `Exchange::from_heads`, `violations()`,
//! `parse_extensions`, `compute_accept`. Input: `[split hi] [split lo] [bytes...]`: the bytes
//! before the split are the request, after it the response. (c) The bytes as text pasted into
//! `explain --http` (`read_pasted`), and the teaching view of what it read: every line within
//! 80 columns, no control character.
//!
//! Then the same bytes as one connection's two streams through the whole stack above TCP
//! (`conversation::dissect_streams`): the client's bytes (requests, bodies, frames) and the
//! server's (answers, bodies, frames), so the HTTP/1.1 phase runs (empty lines, keep-alive
//! bodies, interim answers, a 101 to any request, a lost request or 101). Runs: each side
//! whole; each side in chunks of 1, 3, 7 or 64 bytes (by the input's length); the chunks
//! interleaved between the sides; and the client's first chunk turned into a capture gap.
//! Oracles: whole and chunked give the same events (packet numbers and zlib's wording of why
//! compressed bytes are corrupt aside) unless a side was hunted for frames (a known finding: the hunt depends on the chunking); in every run, no
//! frame, message or handshake before the connection is shown, at most one end, and a 101 is
//! the last handshake.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::base::{ConnId, PacketRef};
use wsdissect::conversation::{dissect_streams, DissectConfig, Piece};
use wsdissect::event::{Event, Handshake};
use wsdissect::http::{
    compute_accept, is_upgrade_request, looks_like_request_start, parse_extensions, parse_request,
    parse_response, read_pasted, Exchange, Head,
};
use wsdissect::output::fit::display_width;
use wsdissect::output::handshake::{taught, Parts, WIDTH};
use wsdissect::output::style::Style;
use wsdissect_fuzz::normalized;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let split = (usize::from(data[0]) << 8 | usize::from(data[1])).min(data.len() - 2);
    let (req_bytes, resp_bytes) = data[2..].split_at(split);

    let _ = looks_like_request_start(req_bytes);
    let req = match parse_request(req_bytes) {
        Head::Complete(r, n) => {
            assert!(n <= req_bytes.len());
            // The head alone parses to the same thing.
            match parse_request(&req_bytes[..n]) {
                Head::Complete(r2, n2) => assert_eq!((&r, n), (&r2, n2)),
                other => panic!("request head alone is {other:?}"),
            }
            let _ = is_upgrade_request(&r);
            Some(r)
        }
        Head::Incomplete => {
            assert!(req_bytes.len() < wsdissect::http::MAX_HEAD_LEN);
            None
        }
        Head::Invalid(_) => None,
    };
    let resp = match parse_response(resp_bytes) {
        Head::Complete(r, n) => {
            assert!(n <= resp_bytes.len());
            Some(r)
        }
        _ => None,
    };
    let text = String::from_utf8_lossy(data);
    for ext in parse_extensions(&text) {
        let _ = ext.to_string();
        let _ = ext.param("server_max_window_bits");
    }
    let _ = compute_accept(&text);
    if let (Some(req), Some(resp)) = (req, resp) {
        let h = Exchange::from_heads(&req, PacketRef::default(), &resp, PacketRef::default());
        let _ = h.accepted();
        let valid = h.accept_valid();
        let v = h.violations();
        if valid {
            assert!(!v.iter().any(|x| x.rule.name == "handshake-accept-mismatch"));
        }
        for e in &h.extensions {
            let _ = e.to_string();
        }
    }
    pasted(&data[2..]);
    stack(req_bytes, resp_bytes);
});

/// The bytes pasted into `explain --http`, and what the teaching view makes of them.
fn pasted(bytes: &[u8]) {
    let Some(p) = read_pasted(&String::from_utf8_lossy(bytes)) else {
        return;
    };
    let Some(exchange) = p.exchange else {
        return;
    };
    let h = Handshake {
        conn: ConnId(1),
        stream: None,
        exchange,
    };
    let parts = Parts {
        request: true,
        response: true,
        request_known: p.has_request,
    };
    for line in taught(&h, parts, Style::default(), WIDTH) {
        assert!(display_width(&line) <= WIDTH, "{line}");
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }
}

/// The two streams through the layers above TCP, cut four ways.
fn stack(client: &[u8], server: &[u8]) {
    let k = [1, 3, 7, 64][(client.len() + server.len()) % 4];
    let cfg = DissectConfig::default();
    let run = |pieces: Vec<(usize, Piece<'_>)>| dissect_streams(pieces, cfg.clone());
    let whole = run(vec![(0, Piece::Bytes(client)), (1, Piece::Bytes(server))]);
    let chunks = |side, b| chunked(side, b, k);
    let mut chopped = chunks(0, client);
    chopped.extend(chunks(1, server));
    let chopped = run(chopped);
    check(&whole);
    check(&chopped);
    if !hunted(&whole) && !hunted(&chopped) {
        let a: Vec<String> = whole.iter().map(normalized).collect();
        let b: Vec<String> = chopped.iter().map(normalized).collect();
        assert_eq!(a, b, "whole and {k}-byte chunks differ");
    }
    let (c, s) = (chunks(0, client), chunks(1, server));
    let mut mixed = Vec::new();
    for i in 0..c.len().max(s.len()) {
        mixed.extend(c.get(i).copied());
        mixed.extend(s.get(i).copied());
    }
    check(&run(mixed));
    let mut lost = chunks(0, client);
    if let Some(first) = lost.first_mut() {
        first.1 = Piece::Gap(client.len().min(k) as u64);
    }
    lost.extend(chunks(1, server));
    check(&run(lost));
}

/// `b` as `side`'s pieces of `k` bytes.
fn chunked(side: usize, b: &[u8], k: usize) -> Vec<(usize, Piece<'_>)> {
    b.chunks(k).map(|c| (side, Piece::Bytes(c))).collect()
}

/// A side was hunted for frame boundaries: where the hunt finds one depends on the chunking.
fn hunted(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(e, Event::Diagnostic(d) if matches!(d.rule.name,
            "inferred-websocket" | "stream-resync" | "handshake-request-missing"
                | "handshake-response-missing"))
    })
}

fn check(events: &[Event]) {
    let mut shown = false;
    let mut ended = 0;
    let mut last_status = None;
    for e in events {
        match e {
            Event::Connection(_) => shown = true,
            Event::Handshake(h) => {
                assert!(shown, "a handshake before the connection");
                assert_ne!(last_status, Some(101), "a handshake after a 101");
                last_status = Some(h.status);
            }
            Event::Frame(_) | Event::Message(_) => assert!(shown, "a frame before the connection"),
            Event::ConnectionEnd(_) => ended += 1,
            _ => {}
        }
    }
    assert!(ended <= 1, "{ended} ends");
}
