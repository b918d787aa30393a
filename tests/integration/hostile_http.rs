//! The HTTP tricks of issue 11 (samples/hostile/http/): upgrades real peers accept, HTTP before
//! the upgrade on the same connection, and handshakes missing from the capture. The truth is
//! each real peer's own log (NAME.expected.json, written by gen.py; py-echo.expected.json for
//! the captures with a packet removed).

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::common::{dissect_bytes, dissect_full, filter_pcap, repo, sha256_hex};
use wsdissect::base::rules::Severity;
use wsdissect::event::Event;

fn dir() -> PathBuf {
    repo().join("samples/hostile/http")
}

/// (direction, opcode, length, sha256) of every message, in order.
type Msg = (String, u64, u64, String);

fn messages(events: &[Event]) -> Vec<Msg> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some((
                m.dir.as_str().to_string(),
                u64::from(m.opcode.bits()),
                m.payload.len,
                sha256_hex(&m.payload.bytes),
            )),
            _ => None,
        })
        .collect()
}

fn logged(list: &serde_json::Value) -> Vec<Msg> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["dir"].as_str().unwrap().to_string(),
                m["opcode"].as_u64().unwrap(),
                m["len"].as_u64().unwrap(),
                m["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Messages of one direction, in order: the two directions interleave by capture order only.
fn by_dir(v: &[Msg], d: &str) -> Vec<Msg> {
    v.iter().filter(|m| m.0 == d).cloned().collect()
}

fn assert_same_messages(got: &[Msg], want: &[Msg], what: &str) {
    assert!(!want.is_empty(), "{what}: the log has messages");
    for d in ["c2s", "s2c"] {
        assert_eq!(by_dir(got, d), by_dir(want, d), "{what}: {d} messages");
    }
}

/// Rules that fired, and those among them of warning or error severity.
fn rules(events: &[Event]) -> (BTreeSet<&'static str>, BTreeSet<&'static str>) {
    let mut all = BTreeSet::new();
    let mut serious = BTreeSet::new();
    for e in events {
        if let Event::Diagnostic(d) = e {
            all.insert(d.rule.name);
            if d.rule.severity >= Severity::Warning {
                serious.insert(d.rule.name);
            }
        }
    }
    (all, serious)
}

fn connections(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Connection(_)))
        .count()
}

/// Each capture gen.py made: the rules that must fire, and every warning or error allowed.
const TRICKS: &[(&str, &[&str], &[&str])] = &[
    ("leading-crlf", &["http-leading-empty-line"], &[]),
    (
        "double-space",
        &["http-request-line-spaces"],
        &["http-request-line-spaces"],
    ),
    ("many-headers", &["http-many-headers"], &[]),
    (
        "target-control",
        &["http-target-control-bytes"],
        &["http-target-control-bytes"],
    ),
    ("keep-alive", &["http-exchange"], &[]),
    ("continue-100", &["http-exchange"], &[]),
    ("retry-401", &["handshake-rejected"], &[]),
    (
        "no-upgrade-header",
        &[
            "handshake-request-not-upgrade",
            "handshake-accept-missing",
            "handshake-key-invalid",
            "handshake-version",
        ],
        &[
            "handshake-request-not-upgrade",
            "handshake-accept-missing",
            "handshake-key-invalid",
            "handshake-version",
        ],
    ),
];

#[test]
fn every_http_trick_a_real_peer_accepted_is_dissected_and_flagged() {
    for (name, must, allowed) in TRICKS {
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir().join(format!("{name}.expected.json"))).unwrap(),
        )
        .unwrap();
        let events = dissect_full(&dir().join(format!("{name}.pcap")));
        assert_eq!(connections(&events), 1, "{name}: one WebSocket connection");
        assert_same_messages(&messages(&events), &logged(&expected["messages"]), name);
        let (all, serious) = rules(&events);
        for rule in *must {
            assert!(all.contains(rule), "{name}: {rule} expected, got {all:?}");
        }
        let unexpected: Vec<_> = serious.iter().filter(|r| !allowed.contains(r)).collect();
        assert!(unexpected.is_empty(), "{name}: unexpected {unexpected:?}");
    }
}

/// The real peer's log says the connection was upgraded after what the trick did: the
/// captures are what the trick claims.
#[test]
fn the_real_peers_logged_the_upgrade_of_every_trick() {
    for (name, _, _) in TRICKS {
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir().join(format!("{name}.expected.json"))).unwrap(),
        )
        .unwrap();
        let log = expected["real_peer_log"].as_array().unwrap();
        let upgraded = log.iter().any(|e| {
            matches!(e["event"].as_str(), Some("upgrade" | "open"))
                && e["status"].as_u64().is_none_or(|s| s == 101)
        }) || *name == "no-upgrade-header";
        assert!(upgraded, "{name}: {log:?}");
    }
}

#[test]
fn a_401_then_a_retry_on_the_same_connection_gives_two_handshakes() {
    let events = dissect_full(&dir().join("retry-401.pcap"));
    let statuses: Vec<u16> = events
        .iter()
        .filter_map(|e| match e {
            Event::Handshake(h) => Some(h.status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, vec![401, 101]);
}

#[test]
fn plain_exchanges_before_the_upgrade_are_named() {
    let events = dissect_full(&dir().join("keep-alive.pcap"));
    let notes: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Diagnostic(d) if d.rule.name == "http-exchange" => Some(d.message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        vec![
            "GET /plain answered 200 OK before the upgrade",
            "POST /chunked answered 200 OK before the upgrade"
        ]
    );
}

fn py_echo_messages() -> Vec<Msg> {
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("samples/py-echo.expected.json")).unwrap(),
    )
    .unwrap();
    logged(&v["connections"][0]["messages"])
}

/// samples/py-echo.pcap without packet `lost` (what edit.sh writes to disk).
fn py_echo_without(lost: u64, ws_ports: Vec<u16>) -> Vec<Event> {
    let path = repo().join("samples/py-echo.pcap");
    dissect_bytes(filter_pcap(&path, |n| n != lost), ws_ports)
}

/// Issue 11: "Drop the single packet that carries the GET from samples/py-echo.pcap: the output
/// is 0 WebSocket connections, even with --ws-port 8765".
#[test]
fn a_lost_upgrade_request_still_gives_every_message_from_the_101() {
    for ports in [vec![], vec![8765]] {
        let events = py_echo_without(4, ports.clone());
        assert_eq!(connections(&events), 1, "ports {ports:?}");
        assert_same_messages(&messages(&events), &py_echo_messages(), "lost request");
        let (all, serious) = rules(&events);
        assert!(all.contains("handshake-request-missing"), "{all:?}");
        assert_eq!(
            serious.into_iter().collect::<Vec<_>>(),
            vec!["handshake-request-missing"]
        );
        let gap = events
            .iter()
            .any(|e| matches!(e, Event::Gap(g) if g.stream_offset == 0 && g.dir.as_str() == "c2s"));
        assert!(gap, "the missing request is shown as a gap");
    }
}

#[test]
fn a_lost_101_with_frames_after_it_gives_an_inferred_session() {
    let events = py_echo_without(6, vec![]);
    assert_eq!(connections(&events), 1);
    assert_same_messages(&messages(&events), &py_echo_messages(), "lost 101");
    let (all, _) = rules(&events);
    assert!(all.contains("handshake-response-missing"), "{all:?}");
    assert!(!all.contains("handshake-no-response"), "{all:?}");
}

/// The session's parameters come from the 101 when the request is lost: a deflate session
/// is inflated.
#[test]
fn a_lost_request_keeps_the_101s_permessage_deflate() {
    let path = repo().join("samples/py-deflate.pcap");
    let full = dissect_full(&path);
    let request_packet = full
        .iter()
        .find_map(|e| match e {
            Event::Handshake(h) => Some(h.request_packet.number),
            _ => None,
        })
        .unwrap();
    let events = dissect_bytes(filter_pcap(&path, |n| n != request_packet), vec![]);
    let want = messages(&full);
    assert_same_messages(&messages(&events), &want, "py-deflate without its request");
    let (_, serious) = rules(&events);
    assert!(
        !serious.contains("rsv-without-extension") && !serious.contains("deflate-error"),
        "{serious:?}"
    );
}

/// The events when a connection's two streams are cut into `k`-byte pieces (0: whole).
fn events_when_cut(client: &[u8], server: &[u8], k: usize) -> Vec<Event> {
    use wsdissect::conversation::{dissect_streams, DissectConfig, Piece};
    fn cut(side: usize, b: &[u8], k: usize) -> Vec<(usize, Piece<'_>)> {
        if k == 0 {
            return vec![(side, Piece::Bytes(b))];
        }
        b.chunks(k).map(|c| (side, Piece::Bytes(c))).collect()
    }
    let mut pieces = cut(0, client, k);
    pieces.extend(cut(1, server, k));
    dissect_streams(pieces, DissectConfig::default())
}

/// Rules raised when a connection's two streams are cut into `k`-byte pieces (0: whole).
fn rules_when_cut(client: &[u8], server: &[u8], k: usize) -> Vec<&'static str> {
    events_when_cut(client, server, k)
        .iter()
        .filter_map(|e| match e {
            Event::Diagnostic(d) => Some(d.rule.name),
            _ => None,
        })
        .collect()
}

/// Found by the http_handshake fuzz target: when a request's chunked body breaks, what is
/// dropped starts at the broken byte, not at the segment that held it.
#[test]
fn a_broken_chunked_body_is_dropped_from_the_broken_byte_however_cut() {
    let client: &[u8] = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXXXXXXXX";
    let server: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let head = client.len() - b"5\r\nhelloXXXXXXXX".len();
    for k in [0, 1, 3, 7, 64] {
        let gaps: Vec<(u64, u64)> = events_when_cut(client, server, k)
            .iter()
            .filter_map(|e| match e {
                Event::Gap(g) => Some((g.stream_offset, g.len)),
                _ => None,
            })
            .collect();
        // "5\r\nhello" is body; the byte after it should be CR and is not.
        assert_eq!(gaps, vec![(head as u64 + 8, 8)], "{k}-byte pieces");
    }
}

/// Found by the http_handshake fuzz target: a head is parsed again only when its blank line
/// may have come, so an unreadable head without one was reported whole but not in pieces, and
/// one whose end came later was given up on in pieces only.
#[test]
fn an_unreadable_head_is_reported_the_same_however_its_segments_are_cut() {
    let upgrade: &[u8] = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let after_401 = [upgrade, b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n"].concat();
    let cases: [(&[u8], &[u8], &[&str]); 4] = [
        (
            &after_401,
            b"HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nBad\x01",
            &["handshake-rejected", "handshake-malformed"],
        ),
        (
            b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nBad\x01Name: y\r\n",
            b"",
            &["handshake-malformed"],
        ),
        (
            upgrade,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\x01bad",
            &["handshake-malformed"],
        ),
        (
            b"GET /chat HTTP/1.1\r\nHost:Q\x00x\r\nUpgrade: websocket\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
            &["handshake-malformed", "http-exchange"],
        ),
    ];
    for (client, server, want) in cases {
        for k in [0, 1, 3, 7, 64] {
            assert_eq!(
                rules_when_cut(client, server, k),
                want.to_vec(),
                "{k}-byte pieces of {:?}",
                String::from_utf8_lossy(client)
            );
        }
    }
}
