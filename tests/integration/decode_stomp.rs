//! STOMP decoded from a real exchange (samples/apps/stomp: @stomp/stompjs against RabbitMQ's
//! Web-STOMP plugin), checked against the raw frames stompjs logged it sent (`>>>`) and
//! received (`<<<`).

use std::collections::HashMap;

use wsdissect::base::Direction;
use wsdissect::decode::Protocol;

use crate::decode_support::{assert_plausible_rtt, connections, decoded, log_lines};

/// A frame from the log: its direction, raw text, command and headers (first of each name).
struct Logged {
    dir: Direction,
    raw: String,
    command: String,
    headers: HashMap<String, String>,
}

/// stompjs's raw log per session: `>>> FRAME` sent, `<<< CHUNK` received, `>>> PING` a
/// heart-beat sent (an EOL); `<<< PONG` is its note of an EOL parsed, not a message.
fn logged(session: u64) -> Vec<Logged> {
    let mut out = Vec::new();
    for line in log_lines("stomp/stomp.log") {
        if line["session"] != session {
            continue;
        }
        let text = line["line"].as_str().unwrap();
        let (dir, raw) = match text.split_at(text.len().min(4)) {
            (">>> ", "PING") => (Direction::ClientToServer, "\n"),
            ("<<< ", "PONG") => continue,
            (">>> ", raw) => (Direction::ClientToServer, raw),
            ("<<< ", raw) => (Direction::ServerToClient, raw),
            _ => continue,
        };
        let mut lines = raw.split('\n');
        let command = lines.next().unwrap_or("").to_string();
        let mut headers = HashMap::new();
        for h in lines.take_while(|l| !l.is_empty()) {
            let (n, v) = h.split_once(':').unwrap();
            headers
                .entry(n.to_string())
                .or_insert_with(|| v.to_string());
        }
        out.push(Logged {
            dir,
            raw: raw.to_string(),
            command,
            headers,
        });
    }
    out
}

/// § Value Encoding, for the test's own reading of the log.
fn unescape(v: &str) -> String {
    v.replace("\\n", "\n")
        .replace("\\c", ":")
        .replace("\\r", "\r")
        .replace("\\\\", "\\")
}

#[test]
fn every_logged_frame_is_decoded_and_answers_are_matched() {
    let conns = connections("stomp/stomp.pcap");
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0].subprotocol.as_deref(), Some("v12.stomp"));
    assert_eq!(
        conns[1].subprotocol, None,
        "session 2 is recognised from its CONNECT"
    );
    let (mut heartbeats, mut answered) = (0, 0);
    for (session, conn) in (1..).zip(&conns) {
        conn.assert_no_rule("stomp-malformed");
        let mut messages = conn.in_order();
        // Where each receipt, subscription id and ack id was asked, by the log.
        let mut receipts = HashMap::new();
        let mut subs = HashMap::new();
        let mut acks = HashMap::new();
        let frames = logged(session);
        for f in &frames {
            let (n, m) = messages.next(f.dir);
            assert_eq!(
                m.text(),
                Some(f.raw.as_str()),
                "session {session} {} {n}",
                f.dir.as_str()
            );
            let d = decoded(m);
            assert_eq!(d.protocol, Protocol::Stomp);
            assert_eq!(d.units.len(), 1);
            let u = &d.units[0];
            if f.raw == "\n" {
                assert!(u.heartbeat && u.kind == "HEARTBEAT");
                heartbeats += 1;
                continue;
            }
            assert_eq!(u.kind, f.command);
            assert!(!u.heartbeat);
            let headers = u.fields["headers"].as_object().unwrap();
            for (name, value) in &f.headers {
                let want = if f.command.starts_with("CONNECT") {
                    value.clone()
                } else {
                    unescape(value)
                };
                assert_eq!(headers[name.as_str()], want.as_str(), "{name}");
            }
            if let Some(dest) = f.headers.get("destination") {
                assert_eq!(u.key.as_deref(), Some(dest.as_str()));
            }
            if let Some(cl) = f.headers.get("content-length") {
                assert_eq!(u.fields["body_length"], cl.parse::<u64>().unwrap());
            }
            let asked = match f.command.as_str() {
                "RECEIPT" | "ERROR" => f.headers.get("receipt-id").map(|r| (&receipts, r)),
                "MESSAGE" => f.headers.get("subscription").map(|s| (&subs, s)),
                "ACK" | "NACK" => f.headers.get("id").map(|a| (&acks, a)),
                _ => None,
            };
            if let Some((table, id)) = asked {
                let (dir, message) = table[id];
                let a = u
                    .answers
                    .as_ref()
                    .unwrap_or_else(|| panic!("unanswered {u:?}"));
                assert_eq!(
                    (a.id.as_str(), a.dir, a.message),
                    (id.as_str(), dir, message)
                );
                assert_plausible_rtt(u);
                answered += 1;
            } else {
                assert!(u.answers.is_none(), "{u:?}");
            }
            let at = (f.dir, n);
            // RabbitMQ copies a SEND's receipt header into the MESSAGE it delivers: only
            // a client's asks for a receipt.
            if let (Direction::ClientToServer, Some(r)) = (f.dir, f.headers.get("receipt")) {
                receipts.insert(r.clone(), at);
            }
            match f.command.as_str() {
                "SUBSCRIBE" => {
                    subs.insert(f.headers["id"].clone(), at);
                }
                "MESSAGE" => {
                    acks.insert(f.headers.get("ack").cloned().unwrap_or_default(), at);
                }
                _ => {}
            }
        }
        messages.assert_all_taken(&format!("session {session}"));
    }
    assert!(heartbeats >= 4, "heart-beats both ways: {heartbeats}");
    assert!(
        answered >= 12,
        "receipts, messages, acks and the error: {answered}"
    );
}

#[test]
fn a_body_holding_nul_is_read_by_its_content_length() {
    let conns = connections("stomp/stomp.pcap");
    let nul = conns[0]
        .c2s
        .iter()
        .flat_map(|m| decoded(m).units.iter())
        .find(|u| u.fields.get("body").and_then(|b| b.as_str()) == Some("nul\u{0}inside"));
    assert!(nul.is_some(), "the SEND whose body holds NUL");
}
