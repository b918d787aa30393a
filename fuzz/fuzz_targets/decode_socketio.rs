//! The Socket.IO decoder fed arbitrary messages: `decode::AppDecoder` with `--decode socketio`.
//!
//! Input: `[flags] ([ctl] [len lo] [len hi] [bytes])*`, one message per record: ctl bit 0 is
//! the direction (1 = server to client), bit 1 a text message, bit 2 a message that is not
//! whole (cut, holed), bits 3-7 the milliseconds since the previous message. A length past the
//! input's end takes what is left. flags bit 0: the session is recognised from its first
//! messages instead of named.
//!
//! Oracles, besides no panic / hang:
//! * a decoded message holds one unit, whose summary is one line of at most 200 characters;
//! * an answer points back to an earlier message of the other direction, with an RTT equal
//!   to the time between them;
//! * the heap the decoder holds between messages (counted by a wrapping allocator, with
//!   what it returned dropped) stays under 4 MiB: at most MAX_PENDING emits and pings wait,
//!   their strings are cut, attachments are counted, not kept.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use libfuzzer_sys::fuzz_target;
use wsdissect::base::{Direction, Timestamp};
use wsdissect::decode::{AppDecoder, AppMessage, Hint, Protocol};

/// Live heap bytes of this process's Rust allocations.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap the decoder may hold between messages.
const HELD_LIMIT: isize = 4 << 20;

struct Sent {
    dir: Direction,
    index: u64,
    ts: u64,
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let before = LIVE.load(Ordering::Relaxed);
    let hint = Hint {
        forced: (flags & 1 == 0).then_some(Protocol::SocketIo),
        ..Hint::default()
    };
    let mut app = AppDecoder::new(&hint);
    let mut sent: Vec<Sent> = Vec::new();
    let mut count = [0u64; 2];
    let mut now = 0u64;
    while rest.len() >= 3 {
        let ctl = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]]));
        let body = &rest[3..];
        let (bytes, tail) = body.split_at(len.min(body.len()));
        rest = tail;
        let dir = if ctl & 1 == 1 {
            Direction::ServerToClient
        } else {
            Direction::ClientToServer
        };
        count[dir.index()] += 1;
        now += u64::from(ctl >> 3) * 1_000_000;
        let msg = AppMessage {
            dir,
            index: count[dir.index()],
            text: ctl & 2 != 0,
            bytes,
            whole: ctl & 4 == 0,
            ts: Timestamp(now),
        };
        let mut found = Vec::new();
        if let Some(d) = app.decode(&msg, &mut found) {
            assert_eq!(d.protocol, Protocol::SocketIo);
            assert_eq!(d.units.len(), 1);
            let u = &d.units[0];
            assert!(!u.summary.contains('\n'), "{:?}", u.summary);
            assert!(u.summary.chars().count() <= 200, "{:?}", u.summary);
            if let Some(a) = &u.answers {
                assert_ne!(a.dir, dir);
                let q = sent
                    .iter()
                    .find(|s| s.dir == a.dir && s.index == a.message)
                    .expect("an answer to a message that was sent");
                assert_eq!(a.rtt_ns, now - q.ts);
            }
        }
        assert!(found.len() <= 2, "{found:?}");
        sent.push(Sent {
            dir,
            index: msg.index,
            ts: now,
        });
        let held = LIVE.load(Ordering::Relaxed) - before
            - (sent.capacity() * std::mem::size_of::<Sent>()) as isize;
        assert!(held < HELD_LIMIT, "the decoder holds {held} bytes");
    }
});
