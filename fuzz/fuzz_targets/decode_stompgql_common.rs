//! Shared by the decode_stomp, decode_graphql and decode_jsonrpc targets: fuzzer bytes become a
//! sequence of WebSocket messages handed to one application decoder, named or recognised.
//!
//! Input: `[mode] ([flags] [len hi] [len lo] [bytes…])*`. mode bit 0: recognise from the first
//! messages instead of naming the protocol; bit 1: the older graphql-ws (graphql target only).
//! flags bit 0: server to client; bit 1: binary; bit 2: cut (not whole); bits 3-7: time step
//! in ms. The last message takes what is left when its length runs past the end.
//!
//! Oracles, besides no panic / hang / RSS blow-up (libFuzzer's -rss_limit_mb holds the
//! MAX_PENDING and MAX_CARRY bounds to account):
//! * a decoded message has at least one unit (else it is not decoded), of the chosen protocol;
//! * an answer points at an earlier message number in its direction (or any message the
//!   other way that came before), with an RTT no longer than the time since the first message;
//! * a summary and a finding are of bounded length; a message found malformed is not decoded;
//! * every finding names the protocol's rule.

use wsdissect::base::{Direction, Timestamp};
use wsdissect::decode::{AppDecoder, AppMessage, Hint, Protocol};

pub fn run(data: &[u8], protocol: Protocol, rule: &str) {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let protocol = match (protocol, mode & 2 != 0) {
        (Protocol::GraphqlTransportWs, true) => Protocol::GraphqlWs,
        (p, _) => p,
    };
    // Recognising may choose another protocol (and its rule): the strict oracles are for a
    // named one.
    let strict = mode & 1 == 0;
    let hint = Hint {
        forced: strict.then_some(protocol),
        ..Hint::default()
    };
    let mut dec = AppDecoder::new(&hint);
    let mut index = [0u64; 2];
    let mut now = 1_000_000_000u64;
    let start = now;
    let mut found = Vec::new();
    while let [flags, hi, lo, tail @ ..] = rest {
        let len = (usize::from(*hi) << 8 | usize::from(*lo)).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        rest = next;
        let dir = if flags & 1 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        index[dir.index()] += 1;
        now += u64::from(flags >> 3) * 1_000_000;
        let msg = AppMessage {
            dir,
            index: index[dir.index()],
            text: flags & 2 == 0,
            bytes,
            whole: flags & 4 == 0,
            ts: Timestamp(now),
        };
        found.clear();
        let decoded = dec.decode(&msg, &mut found);
        for (r, why) in &found {
            assert!(!strict || r.name == rule, "{}: {why}", r.name);
            assert!(why.chars().count() < 512, "finding too long: {}", why.len());
        }
        let Some(d) = decoded else { continue };
        assert!(found.is_empty(), "decoded and malformed: {found:?}");
        assert!(!d.units.is_empty());
        // A graphql-transport-ws session may turn out to be graphql-ws.
        let graphql = [Protocol::GraphqlTransportWs, Protocol::GraphqlWs];
        assert!(
            !strict || d.protocol == protocol || (graphql.contains(&protocol) && graphql.contains(&d.protocol))
        );
        for u in &d.units {
            assert!(u.summary.chars().count() < 512, "summary too long: {}", u.summary.len());
            if let Some(a) = &u.answers {
                if a.dir == dir {
                    assert!(a.message <= msg.index, "{a:?} answers a later message");
                } else {
                    assert!(a.message <= index[a.dir.index()], "{a:?} answers an unseen message");
                }
                assert!(a.rtt_ns <= now - start, "{a:?}");
            }
        }
    }
}
