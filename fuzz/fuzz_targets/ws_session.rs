//! (e) One WebSocket session, both directions: `ws::session::Session` fed arbitrary bytes,
//! chopped into chunks, some chunks turned into capture gaps, with and without
//! permessage-deflate, with small and large keep limits; then `end`.
//!
//! Input: `[mode] [limits] [split hi] [split lo] [c0..c7] [bytes...]`. The bytes before the
//! split are the client's stream, the rest the server's. mode: deflate (none, takeover,
//! no_context_takeover, mixed), start offsets, interleaving; limits: frame, message and
//! inflate limits. The 8 cut bytes choose where each direction is split (the same fractions
//! for both) and which chunks become gaps.
//!
//! Oracles, besides no panic / hang / RSS blow-up:
//! * per direction, frame indices are 1, 2, 3… in order, and message indices likewise;
//! * kept frame payload ≤ frame_keep, kept message payload ≤ message_keep, kept ≤ length;
//! * `Summary.stats` counts the frames, messages and payload bytes reported per direction,
//!   and `Summary.close` is the last close frame's;
//! * frames do not overlap in the stream; without gaps they are contiguous from the start
//!   offset and nothing is lost;
//! * an uncompressed message's wire length is its length;
//! * without gaps, one chunk per direction, the chopped chunks (same direction order) and
//!   byte-at-a-time feeds report identical frames, messages, diagnostics and summary; chunks
//!   interleaved between the directions give the same frames and messages per direction, except
//!   for pong round-trip times (which ping a pong answers depends on the interleaving). zlib's
//!   wording of why compressed bytes are corrupt is not compared, only that they are.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::base::{ConnId, Diagnostic, Direction, PacketRef, StreamId, Timestamp};
use wsdissect::ws::deflate::DeflateParams;
use wsdissect::ws::opcode::OpCode;
use wsdissect::ws::record::{Frame, InflateFailure, Message};
use wsdissect::ws::session::{Limits, Report, Session, SessionKey, Summary};

const DIRS: [Direction; 2] = [Direction::ClientToServer, Direction::ServerToClient];

#[derive(Default)]
struct Rec {
    frames: Vec<Frame>,
    messages: Vec<Message>,
    diags: Vec<Diagnostic>,
}

impl Report for Rec {
    fn frame(&mut self, frame: Frame) {
        self.frames.push(frame);
    }
    fn message(&mut self, message: Message) {
        self.messages.push(message);
    }
    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }
}

impl Rec {
    fn frames(&self, dir: Direction) -> Vec<&Frame> {
        self.frames.iter().filter(|f| f.dir == dir).collect()
    }
    fn messages(&self, dir: Direction) -> Vec<&Message> {
        self.messages.iter().filter(|m| m.dir == dir).collect()
    }
}

/// One step of a run: bytes of a direction, or a gap of `len` bytes in it.
#[derive(Clone, Copy)]
enum Step<'a> {
    Bytes(Direction, &'a [u8]),
    Gap(Direction, u64),
}

struct Setup {
    key: SessionKey,
    limits: Limits,
    starts: [u64; 2],
    deflate: Option<DeflateParams>,
}

const PACKET: PacketRef = PacketRef {
    number: 1,
    ts: Timestamp(1_000),
};

/// Run `steps` through a fresh session; `vary_packets` gives each step its own packet.
fn run(setup: &Setup, steps: &[Step<'_>], vary_packets: bool) -> (Rec, Summary) {
    let mut s = Session::opened(setup.key, setup.limits, setup.starts, setup.deflate.clone());
    let mut rec = Rec::default();
    let mut at = setup.starts;
    let mut packet = PACKET;
    for (i, step) in steps.iter().enumerate() {
        if vary_packets {
            packet = PacketRef {
                number: i as u64 + 1,
                ts: Timestamp((i as u64 * 7_919) % 50_000),
            };
        }
        match *step {
            Step::Bytes(dir, b) => {
                s.feed(dir, b, packet, &mut rec);
                at[dir.index()] += b.len() as u64;
            }
            Step::Gap(dir, len) => {
                s.gap(dir, at[dir.index()], len, packet, &mut rec);
                at[dir.index()] += len;
            }
        }
        let _ = s.incomplete(Direction::ClientToServer);
        let _ = s.incomplete(Direction::ServerToClient);
    }
    let summary = s.end(packet, &mut rec);
    forget_zlib_reasons(&mut rec);
    (rec, summary)
}

/// zlib's reason for corrupt compressed data depends on how much input one inflate call saw
/// (zlib-rs 0.6.8 hides it on its fast path, see `corrupt_reason` in src/ws/deflate.rs), so the
/// runs compare that a message failed to inflate, not zlib's words for why.
fn forget_zlib_reasons(rec: &mut Rec) {
    for m in &mut rec.messages {
        if let Some(InflateFailure::Corrupt(why)) = m.inflate_error.as_mut() {
            why.clear();
        }
    }
    for d in &mut rec.diags {
        if d.rule.name == "deflate-error" {
            d.message.clear();
        }
    }
}

/// The invariants every run must satisfy.
fn check(setup: &Setup, rec: &Rec, summary: &Summary, gaps: bool) {
    let Limits {
        frame_keep,
        message_keep,
        ..
    } = setup.limits;
    for dir in DIRS {
        let d = dir.index();
        let frames = rec.frames(dir);
        let messages = rec.messages(dir);
        let mut end = setup.starts[d];
        let mut payload_bytes = 0u64;
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.index, i as u64 + 1, "{dir:?} frame indices");
            assert_eq!((f.conn, f.stream), (setup.key.conn, setup.key.stream));
            assert!(
                f.payload.bytes.len() <= frame_keep,
                "frame kept {} > frame_keep {frame_keep}",
                f.payload.bytes.len()
            );
            assert_eq!(f.payload.len, f.header.payload_len);
            assert!(f.payload.bytes.len() as u64 <= f.payload.len);
            assert!(f.lost <= f.payload.len);
            if gaps {
                assert!(f.stream_offset >= end, "{dir:?} frames overlap: {f:?}");
            } else {
                assert_eq!(f.stream_offset, end, "{dir:?} frames not contiguous: {f:?}");
                assert_eq!(f.lost, 0);
            }
            end = f.stream_offset + u64::from(f.header.header_len) + f.header.payload_len;
            payload_bytes += f.payload.len;
        }
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(m.index, i as u64 + 1, "{dir:?} message indices");
            assert_eq!((m.conn, m.stream), (setup.key.conn, setup.key.stream));
            assert!(
                m.payload.bytes.len() <= message_keep,
                "message kept {} > message_keep {message_keep}",
                m.payload.bytes.len()
            );
            assert!(m.payload.bytes.len() as u64 <= m.payload.len);
            assert!(matches!(m.opcode, OpCode::Text | OpCode::Binary));
            assert!(m.fragments >= 1);
            assert!(!m.compressed || setup.deflate.is_some());
            if !m.compressed {
                assert_eq!(m.wire_len, m.payload.len, "uncompressed wire_len");
            }
            if !gaps {
                assert_eq!(m.lost, 0);
            }
        }
        let stats = summary.stats[d];
        assert_eq!(stats.frames, frames.len() as u64, "{dir:?} stats.frames");
        assert_eq!(
            stats.messages,
            messages.len() as u64,
            "{dir:?} stats.messages"
        );
        assert_eq!(
            stats.payload_bytes, payload_bytes,
            "{dir:?} stats.payload_bytes"
        );
        let last_close = frames
            .iter()
            .rev()
            .find(|f| f.header.opcode == OpCode::Close);
        assert_eq!(
            summary.close[d].as_ref(),
            last_close.and_then(|f| f.close.as_ref()),
            "{dir:?} summary close"
        );
    }
    for diag in &rec.diags {
        assert!(diag.dir.is_some());
        assert_eq!((diag.conn, diag.stream), (setup.key.conn, setup.key.stream));
    }
}

/// Cut `bytes` at the fractions given by the cut bytes: non-empty chunks, in order, each with
/// the cut byte that decided its end.
fn chop<'a>(bytes: &'a [u8], cuts: &[u8]) -> Vec<(u8, &'a [u8])> {
    let mut points: Vec<(usize, u8)> = cuts
        .iter()
        .map(|&c| ((usize::from(c) * bytes.len()) / 256, c))
        .collect();
    points.push((bytes.len(), 0));
    points.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for (p, c) in points {
        if p > from {
            out.push((c, &bytes[from..p]));
            from = p;
        }
    }
    out
}

/// Per-direction records of an interleaved run, pong round-trip times removed.
fn without_rtt(rec: &Rec, dir: Direction) -> (Vec<Frame>, Vec<&Message>) {
    let frames = rec
        .frames(dir)
        .into_iter()
        .map(|f| Frame {
            rtt_ns: None,
            ..f.clone()
        })
        .collect();
    (frames, rec.messages(dir))
}

/// Panic with the first record that differs (the whole lists are too long to read).
fn same<T: PartialEq + std::fmt::Debug>(a: &[T], b: &[T], what: &str) {
    if a == b {
        return;
    }
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => panic!("{what}: record {i} differs:\n  {:?}\n  {:?}", a[i], b[i]),
        None => panic!("{what}: {} records vs {}", a.len(), b.len()),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let (mode, lim) = (data[0], data[1]);
    let split = usize::from(data[2]) << 8 | usize::from(data[3]);
    let cuts = &data[4..12];
    let bytes = &data[12..];
    let (c2s, s2c) = bytes.split_at(split.min(bytes.len()));

    let deflate = match mode & 3 {
        0 => None,
        1 => Some(DeflateParams::default()),
        2 => Some(DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            ..DeflateParams::default()
        }),
        _ => Some(DeflateParams {
            client_no_context_takeover: true,
            server_max_window_bits: Some(9),
            ..DeflateParams::default()
        }),
    };
    let base = u64::from((mode >> 2) & 7) * 1_000;
    let setup = Setup {
        key: SessionKey {
            conn: ConnId(7),
            stream: (mode & 0x20 != 0).then_some(StreamId(3)),
        },
        limits: Limits {
            frame_keep: [0, 1, 16, 4096][usize::from(lim & 3)],
            message_keep: [0, 3, 64, 1 << 20][usize::from((lim >> 2) & 3)],
            inflate_limit: [0, 16, 4096, 64 << 20][usize::from((lim >> 4) & 3)],
            inflate_total: u64::MAX,
            partial_frames: false,
        },
        starts: [base, base + 77],
        deflate,
    };
    let interleave = (mode >> 6) as usize;

    // One chunk per direction.
    let whole = [
        Step::Bytes(Direction::ClientToServer, c2s),
        Step::Bytes(Direction::ServerToClient, s2c),
    ];
    let (rec_whole, sum_whole) = run(&setup, &whole, false);
    check(&setup, &rec_whole, &sum_whole, false);

    // Chopped, the client's chunks first: identical records.
    let c_chunks = chop(c2s, cuts);
    let s_chunks = chop(s2c, cuts);
    let mut chopped: Vec<Step<'_>> = Vec::new();
    chopped.extend(
        c_chunks
            .iter()
            .map(|&(_, b)| Step::Bytes(Direction::ClientToServer, b)),
    );
    chopped.extend(
        s_chunks
            .iter()
            .map(|&(_, b)| Step::Bytes(Direction::ServerToClient, b)),
    );
    let (rec_chopped, sum_chopped) = run(&setup, &chopped, false);
    check(&setup, &rec_chopped, &sum_chopped, false);
    same(
        &rec_whole.frames,
        &rec_chopped.frames,
        "chopping changed the frames",
    );
    same(
        &rec_whole.messages,
        &rec_chopped.messages,
        "chopping changed the messages",
    );
    same(
        &rec_whole.diags,
        &rec_chopped.diags,
        "chopping changed the diagnostics",
    );
    assert_eq!(sum_whole, sum_chopped, "chopping changed the summary");

    // Byte at a time (bounded, to keep executions fast).
    if bytes.len() <= 384 {
        let mut singles: Vec<Step<'_>> = Vec::new();
        singles.extend(
            c2s.chunks(1)
                .map(|b| Step::Bytes(Direction::ClientToServer, b)),
        );
        singles.extend(
            s2c.chunks(1)
                .map(|b| Step::Bytes(Direction::ServerToClient, b)),
        );
        let (rec_single, sum_single) = run(&setup, &singles, false);
        same(
            &rec_whole.frames,
            &rec_single.frames,
            "byte-at-a-time changed the frames",
        );
        same(
            &rec_whole.messages,
            &rec_single.messages,
            "byte-at-a-time changed the messages",
        );
        same(
            &rec_whole.diags,
            &rec_single.diags,
            "byte-at-a-time changed the diagnostics",
        );
        assert_eq!(sum_whole, sum_single, "byte-at-a-time changed the summary");
    }

    // Interleaved between the directions (a cut byte's bit 1, or the mode's pattern), no gaps.
    let mut schedule = Vec::new();
    let (mut ci, mut si) = (0, 0);
    while ci < c_chunks.len() || si < s_chunks.len() {
        let k = ci + si;
        let pick_client = match interleave {
            0 => k % 2 == 0,
            1 => cuts[k % 8] & 2 != 0,
            2 => k % 3 != 2,
            _ => k % 2 == 1,
        };
        if si == s_chunks.len() || (pick_client && ci < c_chunks.len()) {
            schedule.push((Direction::ClientToServer, c_chunks[ci]));
            ci += 1;
        } else {
            schedule.push((Direction::ServerToClient, s_chunks[si]));
            si += 1;
        }
    }
    let interleaved: Vec<Step<'_>> = schedule
        .iter()
        .map(|&(d, (_, b))| Step::Bytes(d, b))
        .collect();
    let (rec_inter, sum_inter) = run(&setup, &interleaved, false);
    check(&setup, &rec_inter, &sum_inter, false);
    for dir in DIRS {
        let (fw, mw) = without_rtt(&rec_whole, dir);
        let (fi, mi) = without_rtt(&rec_inter, dir);
        same(&fw, &fi, "interleaving changed the frames");
        same(&mw, &mi, "interleaving changed the messages");
    }
    assert_eq!(sum_whole, sum_inter, "interleaving changed the summary");

    // The same schedule with chunks whose cut byte is odd turned into gaps (0xff: a huge one).
    let gappy: Vec<Step<'_>> = schedule
        .iter()
        .map(|&(d, (c, b))| match c {
            0xff => Step::Gap(d, b.len() as u64 + (1 << 31)),
            c if c & 1 == 1 => Step::Gap(d, b.len() as u64),
            _ => Step::Bytes(d, b),
        })
        .collect();
    let any_gap = gappy.iter().any(|s| matches!(s, Step::Gap(..)));
    let (rec_gappy, sum_gappy) = run(&setup, &gappy, true);
    check(&setup, &rec_gappy, &sum_gappy, any_gap);
});
