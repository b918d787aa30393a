//! The MQTT decoder (`decode::mqtt`, through `AppDecoder` with `--decode mqtt`) fed arbitrary
//! messages: a sequence of `[len] [flags] [len bytes]` records, flags bit 0 the direction
//! (s2c), bit 1 a text message, bit 2 a message not whole; the first input byte's bit 0 puts
//! every message in the client's direction, binary and whole (for the split oracle), bit 1
//! makes the session recognise MQTT from its first message instead of being told.
//!
//! Oracles, besides no panic / hang / RSS blow-up:
//! * a message of n bytes ends at most n/2 + 1 packets (the carried one and 2-byte ones);
//! * summaries are bounded by what was sent: all units' summaries together are at most eight
//!   times the bytes sent so far plus 256 bytes a unit (a topic or filter is shown once, at
//!   most three reason names a packet; summaries are not escaped, a topic may hold a newline);
//! * the split oracle: one direction's messages give the same packets (kind, key, summary) as
//!   their concatenation sent as one message, up to the first malformed packet (after it, a
//!   split stream goes on at the next message and a joined one does not).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::base::{Direction, Timestamp};
use wsdissect::decode::{AppDecoder, AppMessage, Hint, Protocol, Unit};

struct Msg {
    dir: Direction,
    text: bool,
    whole: bool,
    bytes: Vec<u8>,
}

fn messages(data: &[u8], one_way: bool) -> Vec<Msg> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let (len, flags) = (usize::from(rest[0]), rest[1]);
        let body = &rest[2..];
        let take = len.min(body.len());
        out.push(Msg {
            dir: if flags & 1 != 0 && !one_way {
                Direction::ServerToClient
            } else {
                Direction::ClientToServer
            },
            text: flags & 2 != 0 && !one_way,
            whole: flags & 4 == 0 || one_way,
            bytes: body[..take].to_vec(),
        });
        rest = &body[take..];
    }
    out
}

/// Decode every message; the units in order, and whether a malformed packet was found.
fn run(msgs: &[Msg], recognise: bool) -> (Vec<(String, Option<String>, String)>, bool) {
    let hint = Hint {
        forced: (!recognise).then_some(Protocol::Mqtt),
        ..Hint::default()
    };
    let mut d = AppDecoder::new(&hint);
    let mut index = [0u64; 2];
    let mut units = Vec::new();
    let mut malformed = false;
    let (mut sent, mut shown, mut count) = (0usize, 0usize, 0usize);
    for (i, m) in msgs.iter().enumerate() {
        sent += m.bytes.len();
        index[m.dir.index()] += 1;
        let msg = AppMessage {
            dir: m.dir,
            index: index[m.dir.index()],
            text: m.text,
            bytes: &m.bytes,
            whole: m.whole,
            ts: Timestamp(i as u64 * 1000),
        };
        let mut found = Vec::new();
        let decoded = d.decode(&msg, &mut found);
        malformed |= found.iter().any(|(r, _)| r.name == "mqtt-malformed");
        if let Some(dec) = decoded {
            assert!(dec.units.len() <= m.bytes.len() / 2 + 1);
            for u in dec.units {
                check(&u);
                shown += u.summary.len();
                count += 1;
                assert!(
                    shown <= 4 * sent + 128 * count,
                    "{shown} bytes of summary for {sent} sent"
                );
                if !malformed {
                    units.push((u.kind, u.key, u.summary));
                }
            }
        }
    }
    (units, malformed)
}

fn check(u: &Unit) {
    if let Some(a) = &u.answers {
        assert!(a.message >= 1);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let one_way = mode & 1 != 0;
    let recognise = mode & 2 != 0;
    let msgs = messages(rest, one_way);
    let (split, split_malformed) = run(&msgs, recognise);
    if one_way && !recognise {
        let joined = Msg {
            dir: Direction::ClientToServer,
            text: false,
            whole: true,
            bytes: msgs.iter().flat_map(|m| m.bytes.iter().copied()).collect(),
        };
        let (whole, whole_malformed) = run(&[joined], false);
        if !split_malformed && !whole_malformed {
            assert_eq!(split, whole);
        } else {
            let n = split.len().min(whole.len());
            assert_eq!(split[..n], whole[..n]);
        }
    }
});
