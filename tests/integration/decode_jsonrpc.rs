//! JSON-RPC 2.0 decoded from a real exchange (samples/apps/jsonrpc: the json-rpc-2.0 npm
//! package on both ends), checked against what each end logged it sent.

use std::collections::HashMap;

use serde_json::Value;
use wsdissect::base::Direction;
use wsdissect::decode::Protocol;

use crate::decode_support::{assert_plausible_rtt, connections, decoded, log_lines, sent_by};

/// A request as the log shows it: where it went, and its method.
struct Asked {
    dir: Direction,
    message: u64,
    method: String,
}

#[test]
fn every_logged_message_is_decoded_with_its_kind_key_and_answer() {
    let conns = connections("jsonrpc/jsonrpc.pcap");
    assert_eq!(conns.len(), 1);
    let conn = &conns[0];
    conn.assert_no_rule("jsonrpc-malformed");
    let mut messages = conn.in_order();
    let mut asked: HashMap<(Direction, String), Asked> = HashMap::new();
    let (mut requests, mut answers) = (0, 0);
    for line in log_lines("jsonrpc/jsonrpc.log") {
        if line["dir"] != "sent" {
            continue;
        }
        let dir = sent_by(&line);
        let (n, m) = messages.next(dir);
        let text = line["text"].as_str().unwrap();
        assert_eq!(m.text(), Some(text), "{} message {n}", dir.as_str());
        let d = decoded(m);
        assert_eq!(d.protocol, Protocol::JsonRpc);
        let sent: Value = serde_json::from_str(text).unwrap();
        let elements = match &sent {
            Value::Array(a) => a.clone(),
            v => vec![v.clone()],
        };
        assert_eq!(d.units.len(), elements.len(), "{text}");
        for (e, u) in elements.iter().zip(&d.units) {
            let id = e.get("id").map(|i| i.to_string());
            if let Some(method) = e["method"].as_str() {
                let kind = if id.is_some() {
                    "request"
                } else {
                    "notification"
                };
                assert_eq!(u.kind, kind);
                assert_eq!(u.key.as_deref(), Some(method));
                assert_eq!(u.fields.get("params"), e.get("params"));
                if let Some(id) = id {
                    let q = Asked {
                        dir,
                        message: n,
                        method: method.to_string(),
                    };
                    asked.insert((dir, id), q);
                    requests += 1;
                }
                continue;
            }
            let id = id.expect("a response has an id");
            let other = if dir == Direction::ClientToServer {
                Direction::ServerToClient
            } else {
                Direction::ClientToServer
            };
            let q = asked
                .remove(&(other, id.clone()))
                .expect("the log shows the request");
            let a = u
                .answers
                .as_ref()
                .unwrap_or_else(|| panic!("unanswered {u:?}"));
            assert_eq!(
                (a.id.as_str(), a.dir, a.message),
                (id.as_str(), q.dir, q.message)
            );
            assert_plausible_rtt(u);
            assert_eq!(u.key.as_deref(), Some(q.method.as_str()));
            match e.get("error") {
                Some(err) => {
                    assert_eq!(u.kind, "error");
                    assert_eq!(u.fields["code"], err["code"]);
                    assert_eq!(u.fields["message"], err["message"]);
                }
                None => {
                    assert_eq!(u.kind, "response");
                    assert_eq!(u.fields["result"], e["result"]);
                }
            }
            answers += 1;
        }
    }
    assert!(asked.is_empty(), "every request was answered");
    assert_eq!(requests, answers);
    assert!(
        requests >= 8,
        "the sample has requests both ways and a batch"
    );
    messages.assert_all_taken("decode_jsonrpc");
}

#[test]
fn error_codes_are_named_from_the_spec() {
    let conns = connections("jsonrpc/jsonrpc.pcap");
    let names: Vec<_> = conns[0]
        .s2c
        .iter()
        .flat_map(|m| decoded(m).units.iter())
        .filter(|u| u.kind == "error")
        .map(|u| u.fields["code_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["method not found", "application error"]);
}
