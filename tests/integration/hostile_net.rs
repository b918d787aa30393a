//! samples/hostile/net/: real captures rewritten so their packets travel in IPv4 and IPv6
//! fragments (in and out of order, duplicated, overlapped, late), under five VLAN tags, or
//! with an Ethernet FCS. Every message the endpoints sent must come out, as their
//! `.expected.json` (the original capture's truth) says, with the diagnostics it lists.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::{dissect_bytes, dissect_full, repo, sha256_hex};
use wsdissect::event::Event;
use wsdissect::net::SkipReason;

fn dir() -> PathBuf {
    repo().join("samples/hostile/net")
}

/// Every capture of the directory with its truth.
fn cases() -> Vec<(PathBuf, serde_json::Value)> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".expected.json"))
        .collect();
    names.sort();
    for name in names {
        let truth: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir().join(&name)).unwrap()).unwrap();
        out.push((dir().join(truth["capture"].as_str().unwrap()), truth));
    }
    assert!(out.len() >= 8, "{} captures", out.len());
    out
}

/// (dir, opcode, length, SHA-256) of each message, in order.
type Messages = Vec<(String, u8, u64, String)>;

fn messages_of(events: &[Event]) -> Messages {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some((
                m.dir.as_str().to_string(),
                m.opcode.bits(),
                m.payload.len,
                sha256_hex(&m.payload.bytes),
            )),
            _ => None,
        })
        .collect()
}

fn expected_messages(truth: &serde_json::Value) -> Messages {
    let conns = truth["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1);
    conns[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["dir"].as_str().unwrap().to_string(),
                m["opcode"].as_u64().unwrap() as u8,
                m["len"].as_u64().unwrap(),
                m["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// How many diagnostics of each `ip-frag-*` rule, and the packets skipped.
fn frag_rules(events: &[Event]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for e in events {
        if let Event::Diagnostic(d) = e {
            if d.rule.name.starts_with("ip-frag-") {
                *out.entry(d.rule.name.to_string()).or_default() += 1;
            }
        }
    }
    out
}

fn skipped(events: &[Event]) -> Vec<(SkipReason, u64)> {
    events
        .iter()
        .find_map(|e| match e {
            Event::CaptureEnd(s) => Some(s.skipped.clone()),
            _ => None,
        })
        .unwrap()
}

/// Per message direction, in order: what each endpoint received is what the other sent.
fn by_dir(m: &Messages) -> BTreeMap<String, Vec<(u8, u64, String)>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (d, op, len, sha) in m {
        out.entry(d.clone())
            .or_default()
            .push((*op, *len, sha.clone()));
    }
    out
}

#[test]
fn hostile_net_every_message_comes_out_with_the_listed_diagnostics() {
    let mut failures = Vec::new();
    for (capture, truth) in cases() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let events = dissect_full(&capture);
        let conn = &truth["connections"][0];
        let handshakes: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Handshake(h) => Some(h),
                _ => None,
            })
            .collect();
        if handshakes.len() != 1 {
            failures.push(format!("{name}: {} handshakes", handshakes.len()));
            continue;
        }
        let h = handshakes[0];
        if u64::from(h.status) != conn["status"].as_u64().unwrap() || !h.accept_valid() {
            failures.push(format!(
                "{name}: handshake {} {}",
                h.status,
                h.accept_valid()
            ));
        }
        let client = conn["client"].as_str().unwrap();
        let found = events.iter().any(|e| match e {
            Event::Connection(c) => c.client.to_string() == client,
            _ => false,
        });
        if !found {
            failures.push(format!("{name}: no connection from {client}"));
        }
        let got = by_dir(&messages_of(&events));
        let want = by_dir(&expected_messages(&truth));
        if got != want {
            failures.push(format!("{name}: messages {got:?}\n  expected {want:?}"));
        }
        let want_rules: BTreeMap<String, u64> = truth["diagnostics"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        let got_rules = frag_rules(&events);
        if got_rules != want_rules {
            failures.push(format!(
                "{name}: diagnostics {got_rules:?} != {want_rules:?}"
            ));
        }
        let skipped = skipped(&events);
        if !skipped.is_empty() {
            failures.push(format!("{name}: skipped {skipped:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The decoys' bytes never reach the output: Linux dropped the datagram that had the
/// overlapping one ("GET /decoy"; "DECOYDECOYDECOY!"), and kept the first copy of the bytes
/// under the one wholly inside a run ("/DECOYDECOYDECOY"). The request seen is the real one.
#[test]
fn hostile_net_decoy_fragments_are_never_shown() {
    for name in ["ipv4-frag-overlap.pcap", "ipv4-frag-decoys.pcap"] {
        let events = dissect_full(&dir().join(name));
        let handshake = events
            .iter()
            .find_map(|e| match e {
                Event::Handshake(h) => Some(h),
                _ => None,
            })
            .unwrap();
        assert_eq!(handshake.target, "/", "{name}");
        let text = format!("{events:?}").to_lowercase();
        assert!(!text.contains("decoy"), "{name}: a decoy leaked");
    }
}

/// A frame whose FCS does not match is dropped by the receiving NIC: skipped, and counted.
#[test]
fn hostile_net_a_frame_with_a_bad_fcs_is_skipped() {
    let mut bytes = std::fs::read(dir().join("fcs.pcap")).unwrap();
    // The fourth record is the upgrade request: flip a byte of its HTTP text.
    let mut at = 24;
    for _ in 0..3 {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        at += 16 + caplen as usize;
    }
    bytes[at + 16 + 70] ^= 0x20;
    let events = dissect_bytes(bytes, vec![]);
    assert_eq!(skipped(&events), vec![(SkipReason::BadFcs, 1)]);
    let handshakes = events
        .iter()
        .filter(|e| matches!(e, Event::Handshake(_)))
        .count();
    assert_eq!(handshakes, 0, "the request never reached the server");
}
