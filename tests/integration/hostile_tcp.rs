//! Crafted TCP tricks on a real loopback session (samples/hostile/tcp/, made by gen.py there
//! from samples/py-nano.pcap): forged or doubtful SYN, RST and FIN, decoy copies, data after a
//! FIN, SYN data, urgent data. For each, what the receiving kernel really did is the truth (see
//! the README there): every message of the original session comes out, the trick is flagged
//! with its rule, and the connection ends as the original did.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{dissect_full, repo, sha256_hex};
use wsdissect::event::Event;

fn hostile(name: &str) -> PathBuf {
    repo().join("samples/hostile/tcp").join(name)
}

fn truth(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(hostile(&format!("{name}.expected.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// (direction, opcode, length, SHA-256) of every message, in order, per client address.
fn messages(events: &[Event]) -> BTreeMap<String, Vec<Msg>> {
    let mut client_of = BTreeMap::new();
    let mut out: BTreeMap<String, Vec<Msg>> = BTreeMap::new();
    for e in events {
        match e {
            Event::Connection(c) => {
                client_of.insert(c.conn, c.client.to_string());
            }
            Event::Message(m) => out.entry(client_of[&m.conn].clone()).or_default().push((
                m.dir.as_str().to_string(),
                u64::from(m.opcode.bits()),
                m.payload.len,
                sha256_hex(&m.payload.bytes),
            )),
            _ => {}
        }
    }
    out
}

type Msg = (String, u64, u64, String);

fn rules(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Diagnostic(d) => Some(d.rule.name),
            _ => None,
        })
        .collect()
}

/// The capture against its truth: the messages, the TCP rules flagged, how it ended.
fn check(name: &str) -> Vec<Event> {
    let t = truth(name);
    let capture = hostile(t["capture"].as_str().unwrap());
    let events = dissect_full(Path::new(&capture));
    let got_rules = rules(&events);
    for want in t["tcp_rules"].as_array().unwrap() {
        let want = want.as_str().unwrap();
        assert!(
            got_rules.contains(&want),
            "{name}: {want} not in {got_rules:?}"
        );
    }
    for unexpected in ["stream-gap", "handshake-malformed", "inferred-websocket"] {
        assert!(!got_rules.contains(&unexpected), "{name}: {got_rules:?}");
    }
    let conns = t["connections"].as_array().unwrap();
    if conns.is_empty() {
        return events;
    }
    let want: BTreeMap<String, Vec<Msg>> = conns
        .iter()
        .map(|c| {
            let msgs = c["messages"].as_array().unwrap().iter().map(|m| {
                (
                    m["dir"].as_str().unwrap().to_string(),
                    m["opcode"].as_u64().unwrap(),
                    m["len"].as_u64().unwrap(),
                    m["sha256"].as_str().unwrap().to_string(),
                )
            });
            (c["client"].as_str().unwrap().to_string(), msgs.collect())
        })
        .collect();
    let got = messages(&events);
    // Crafted captures keep the original's client address.
    assert_eq!(got, want, "{name}: messages per connection");
    let ends: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::ConnectionEnd(c) => Some(c.reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        ends,
        vec![t["end"].as_str().unwrap(); conns.len()],
        "{name}: how each connection ended"
    );
    events
}

#[test]
fn a_reset_in_the_window_but_not_exact_is_answered_not_obeyed() {
    check("rst-in-window");
}

#[test]
fn a_syn_with_a_fresh_isn_on_an_established_connection_is_ignored() {
    check("syn-fresh-isn");
}

#[test]
fn a_reset_with_a_bad_checksum_does_not_end_the_connection() {
    check("rst-bad-checksum");
}

#[test]
fn a_reset_that_expires_before_the_receiver_does_not_end_the_connection() {
    check("rst-low-ttl");
}

#[test]
fn a_fin_with_a_bad_checksum_does_not_end_the_stream() {
    check("fin-bad-checksum");
}

#[test]
fn a_fin_that_expires_before_the_receiver_does_not_end_the_stream() {
    check("fin-low-ttl");
}

#[test]
fn a_decoy_request_with_a_bad_checksum_loses_to_the_real_one() {
    check("decoy-request-bad-checksum");
}

#[test]
fn a_decoy_request_with_a_low_ttl_loses_to_the_real_one() {
    check("decoy-request-low-ttl");
}

#[test]
fn data_after_a_fin_is_not_delivered_and_the_fin_is_no_gap() {
    let events = check("data-after-fin");
    assert!(!events.iter().any(|e| matches!(e, Event::Gap(_))));
}

#[test]
fn syn_data_without_a_cookie_is_dropped() {
    check("syn-data-no-cookie");
}

#[test]
fn syn_data_with_a_cookie_is_the_request() {
    check("syn-data-cookie");
}

#[test]
fn a_conflicting_copy_is_reported_even_when_no_session_is_announced() {
    check("decoy-request-undetectable");
}

#[test]
fn the_urgent_byte_a_real_kernel_sent_is_not_stream_data() {
    let events = check("urgent-byte");
    let urgent = events.iter().find_map(|e| match e {
        Event::Diagnostic(d) if d.rule.name == "tcp-urgent-byte" => Some(d.message.clone()),
        _ => None,
    });
    assert!(
        urgent.unwrap().contains("0x21"),
        "the byte sent with MSG_OOB is '!'"
    );
}

#[test]
fn control_packets_that_expired_at_a_real_router_do_not_end_the_session() {
    let events = check("low-ttl");
    let ignored = events
        .iter()
        .filter(|e| {
            matches!(e, Event::Diagnostic(d) if d.rule.name == "tcp-control-ignored"
            && d.message.contains("TTL 1 where this direction has 64"))
        })
        .count();
    assert_eq!(ignored, 2, "the RST and the FIN");
}

#[test]
fn real_fast_open_syn_data_counts_only_with_a_cookie() {
    let events = check("tfo");
    let dropped: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Diagnostic(d) if d.rule.name == "tcp-syn-data-dropped" => Some(d.conn.0),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, [1], "only the SYN without a cookie");
}
