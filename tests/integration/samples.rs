//! Every sample against what its sending programs logged they sent (samples/*.expected.json):
//! connections, handshake facts, and each message's direction, opcode, length and SHA-256.

use std::collections::BTreeMap;

use crate::common::{dissect_full, samples_with_expectations, sha256_hex};
use wsdissect::base::ConnId;
use wsdissect::event::Event;

/// Close frames per (connection, direction): code and reason.
type Closes<'a> = BTreeMap<(ConnId, &'a str), Vec<(Option<u16>, String)>>;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Msg {
    opcode: u8,
    len: u64,
    sha256: String,
}

#[test]
fn every_sample_yields_exactly_the_messages_that_were_sent() {
    let mut failures = Vec::new();
    for (capture, expected) in samples_with_expectations() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let events = dissect_full(&capture);
        let mut conns: BTreeMap<(String, String), ConnId> = BTreeMap::new();
        let mut handshakes = BTreeMap::new();
        let mut messages: BTreeMap<(ConnId, &str), Vec<Msg>> = BTreeMap::new();
        let mut closes: Closes = BTreeMap::new();
        for e in &events {
            match e {
                Event::Connection(c) => {
                    conns.insert((c.client.to_string(), c.server.to_string()), c.conn);
                }
                Event::Handshake(h) => {
                    handshakes.insert(h.conn, h.clone());
                }
                Event::Message(m) => {
                    assert!(!m.payload.truncated(), "{name}: message kept whole");
                    messages
                        .entry((m.conn, m.dir.as_str()))
                        .or_default()
                        .push(Msg {
                            opcode: m.opcode.bits(),
                            len: m.payload.len,
                            sha256: sha256_hex(&m.payload.bytes),
                        });
                }
                Event::Frame(f) => {
                    if let Some(c) = &f.close {
                        closes
                            .entry((f.conn, f.dir.as_str()))
                            .or_default()
                            .push((c.code, c.reason.clone()));
                    }
                }
                _ => {}
            }
        }
        let exp_conns = expected["connections"].as_array().unwrap();
        assert_eq!(
            conns.len(),
            exp_conns.len(),
            "{name}: number of WebSocket connections"
        );
        for ec in exp_conns {
            let key = (
                ec["client"].as_str().unwrap().to_string(),
                ec["server"].as_str().unwrap().to_string(),
            );
            let Some(&id) = conns.get(&key) else {
                failures.push(format!(
                    "{name}: connection {key:?} not found; have {:?}",
                    conns.keys()
                ));
                continue;
            };
            let h = &handshakes[&id];
            assert_eq!(
                u64::from(h.status),
                ec["status"].as_u64().unwrap(),
                "{name} conn {id}: status"
            );
            assert_eq!(
                h.subprotocol.as_deref(),
                ec["subprotocol"].as_str(),
                "{name} conn {id}: subprotocol"
            );
            let exts: Vec<String> = h.extensions.iter().map(|e| e.name.clone()).collect();
            let exp_exts: Vec<String> = ec["extensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    e.as_str()
                        .unwrap()
                        .split(';')
                        .next()
                        .unwrap()
                        .trim()
                        .to_string()
                })
                .collect();
            assert_eq!(exts, exp_exts, "{name} conn {id}: extensions");
            if h.status == 101 {
                assert!(h.accept_valid(), "{name} conn {id}: accept");
            }
            for dir in ["c2s", "s2c"] {
                let want: Vec<Msg> = ec["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["dir"] == dir)
                    .map(|m| Msg {
                        opcode: m["opcode"].as_u64().unwrap() as u8,
                        len: m["len"].as_u64().unwrap(),
                        sha256: m["sha256"].as_str().unwrap().to_string(),
                    })
                    .collect();
                let got = messages.get(&(id, dir)).cloned().unwrap_or_default();
                if got != want {
                    failures.push(format!("{name} conn {id} {dir}: {} messages, expected {}; first difference at {:?}", got.len(), want.len(), got.iter().zip(&want).position(|(a, b)| a != b)));
                }
                let want_closes: Vec<(Option<u16>, String)> = ec["closes"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|c| c["dir"] == dir)
                            .map(|c| {
                                (
                                    c["code"].as_u64().map(|x| x as u16),
                                    c["reason"].as_str().unwrap_or("").to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let got_closes = closes.get(&(id, dir)).cloned().unwrap_or_default();
                if got_closes != want_closes {
                    failures.push(format!(
                        "{name} conn {id} {dir}: closes {got_closes:?} != {want_closes:?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
