//! GraphQL over WebSocket decoded from real exchanges (samples/apps/graphql: the graphql-ws
//! package for graphql-transport-ws, subscriptions-transport-ws for graphql-ws), checked
//! against what each end logged it sent.

use std::collections::HashMap;

use serde_json::Value;
use wsdissect::base::Direction;
use wsdissect::decode::Protocol;

use crate::decode_support::{assert_plausible_rtt, connections, decoded, log_lines, sent_by};

/// The key a reader groups an operation by: its name, else its first field (the test's own
/// reading of the logged query).
fn key_of(payload: &Value) -> String {
    if let Some(name) = payload["operationName"].as_str() {
        return name.to_string();
    }
    let q = payload["query"].as_str().unwrap();
    let body = &q[q.find('{').unwrap() + 1..];
    body.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .find(|w| !w.is_empty())
        .unwrap()
        .to_string()
}

fn check(capture: &str, proto: &str, protocol: Protocol) -> usize {
    let conns = connections(capture);
    assert_eq!(conns.len(), 1, "{capture}");
    let conn = &conns[0];
    assert_eq!(conn.subprotocol.as_deref(), Some(proto));
    conn.assert_no_rule("graphql-ws-malformed");
    let mut messages = conn.in_order();
    // Operations open by the log: id → (message number, key).
    let mut open: HashMap<String, (u64, String)> = HashMap::new();
    let mut answered = 0;
    for line in log_lines("graphql/graphql.log") {
        if line["proto"] != proto || line["dir"] != "sent" {
            continue;
        }
        let dir = sent_by(&line);
        let (n, m) = messages.next(dir);
        let text = line["text"].as_str().unwrap();
        assert_eq!(m.text(), Some(text));
        let d = decoded(m);
        assert_eq!(d.protocol, protocol);
        let u = &d.units[0];
        let sent: Value = serde_json::from_str(text).unwrap();
        let t = sent["type"].as_str().unwrap();
        assert_eq!(u.kind, t);
        assert_eq!(u.heartbeat, matches!(t, "ping" | "pong" | "ka"), "{t}");
        let id = sent["id"].as_str().map(str::to_string);
        match (dir, t) {
            (Direction::ClientToServer, "subscribe" | "start") => {
                let key = key_of(&sent["payload"]);
                assert_eq!(u.key.as_deref(), Some(key.as_str()));
                assert_eq!(u.fields["query"], sent["payload"]["query"]);
                assert_eq!(u.fields.get("variables"), sent["payload"].get("variables"));
                open.insert(id.unwrap(), (n, key));
            }
            (Direction::ClientToServer, "complete" | "stop") => {
                let (_, key) = open
                    .remove(&id.unwrap())
                    .expect("cancels an open operation");
                assert_eq!(u.key.as_deref(), Some(key.as_str()));
                assert!(u.answers.is_none());
            }
            (Direction::ServerToClient, "next" | "data" | "error" | "complete") => {
                let id = id.unwrap();
                // After a client's cancel the server may still send: nothing is open to answer.
                match open.get(&id).cloned() {
                    Some((asked, key)) => {
                        let a = u
                            .answers
                            .as_ref()
                            .unwrap_or_else(|| panic!("unanswered {u:?}"));
                        assert_eq!((a.id.as_str(), a.message), (id.as_str(), asked));
                        assert_plausible_rtt(u);
                        assert_eq!(u.key.as_deref(), Some(key.as_str()));
                        answered += 1;
                    }
                    None => assert!(u.answers.is_none()),
                }
                if t != "next" && t != "data" {
                    open.remove(&id);
                } else {
                    assert_eq!(u.fields["payload"], sent["payload"]);
                }
            }
            _ => assert!(id.is_none()),
        }
    }
    messages.assert_all_taken("decode_graphql");
    answered
}

#[test]
fn graphql_transport_ws_messages_match_the_log() {
    let answered = check(
        "graphql/graphql-transport-ws.pcap",
        "graphql-transport-ws",
        Protocol::GraphqlTransportWs,
    );
    assert!(answered >= 12, "{answered}");
}

#[test]
fn graphql_ws_messages_match_the_log() {
    let answered = check("graphql/graphql-ws.pcap", "graphql-ws", Protocol::GraphqlWs);
    assert!(answered >= 8, "{answered}");
}
