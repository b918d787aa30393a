//! Regressions from the code review, each on a small crafted capture in tests/data/regress/
//! (made by the `.gen.py` next to it; `pcap.py` builds Ethernet/IPv4/TCP by hand). Hand-made
//! bytes are right here: each one is a capture-order or TCP corner real tools rarely produce.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::common::{dissect_full, repo};
use wsdissect::event::{EndReason, Event};

fn regress(name: &str) -> PathBuf {
    repo().join("tests/data/regress").join(name)
}

fn messages(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some((
                m.dir.as_str().to_string(),
                String::from_utf8_lossy(&m.payload.bytes).into_owned(),
            )),
            _ => None,
        })
        .collect()
}

fn rules(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Diagnostic(d) => Some(d.rule.name),
            _ => None,
        })
        .collect()
}

#[test]
fn response_captured_between_two_request_segments() {
    let events = dissect_full(&regress("t1.pcap"));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Handshake(h) if h.status == 101)));
    assert_eq!(
        messages(&events),
        [
            ("c2s".into(), "hello".into()),
            ("s2c".into(), "world".into())
        ]
    );
}

#[test]
fn a_syn_reusing_the_ports_of_a_connection_seen_mid_way_starts_a_new_connection() {
    let events = dissect_full(&regress("t2.pcap"));
    let ends: Vec<EndReason> = events
        .iter()
        .filter_map(|e| {
            if let Event::ConnectionEnd(c) = e {
                Some(c.reason)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(ends, [EndReason::Reused, EndReason::CaptureEnd]);
    assert!(
        events.iter().any(|e| matches!(e, Event::Handshake(_))),
        "the new connection's handshake is seen"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::Gap(_))),
        "no invented gaps: {:?}",
        rules(&events)
    );
}

#[test]
fn an_ack_captured_before_its_data_does_not_lose_the_data() {
    let events = dissect_full(&regress("t3.pcap"));
    let got = messages(&events);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(!events.iter().any(|e| matches!(e, Event::Gap(_))));
}

#[test]
fn an_out_of_window_reset_does_not_end_the_connection() {
    let events = dissect_full(&regress("t7.pcap"));
    let got = messages(&events);
    assert!(
        got.contains(&("c2s".into(), "still here".into()))
            && got.contains(&("s2c".into(), "me too".into())),
        "{got:?}"
    );
}

#[test]
fn a_server_speaking_first_after_a_seen_syn_is_not_websocket() {
    let events = dissect_full(&regress("t10.pcap"));
    assert!(!events.iter().any(|e| matches!(e, Event::Connection(_))));
}

#[test]
fn a_reserved_data_opcode_is_not_part_of_the_open_message() {
    let events = dissect_full(&regress("t11.pcap"));
    assert_eq!(messages(&events), [("s2c".into(), "abcdef".into())]);
    assert!(rules(&events).contains(&"reserved-opcode"));
}

/// 120 000 SYNs (a port scan): over the connection limit, eviction is amortised instead of a
/// full sort per new connection (it took minutes before).
#[test]
fn many_connections_do_not_make_each_packet_slow() {
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    pcap.extend_from_slice(&65535u32.to_le_bytes());
    pcap.extend_from_slice(&101u32.to_le_bytes()); // raw IPv4
    let n = 120_000u32;
    for i in 0..n {
        let mut ip = vec![
            0x45,
            0,
            0,
            40,
            0,
            1,
            0,
            0,
            64,
            6,
            0,
            0,
            10,
            0,
            (i >> 16) as u8,
            (i >> 8) as u8,
            10,
            0,
            0,
            2,
        ];
        ip[15] = (i & 0xff) as u8;
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&((i % 60_000) as u16 + 1024).to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x02; // SYN
        ip.extend_from_slice(&tcp);
        pcap.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        pcap.extend_from_slice(&i.to_le_bytes());
        pcap.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        pcap.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        pcap.extend_from_slice(&ip);
    }
    let started = Instant::now();
    let events = crate::common::dissect_bytes(pcap, vec![]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let Some(Event::CaptureEnd(s)) = events.last() else {
        panic!()
    };
    assert_eq!(s.tcp_connections, u64::from(n));
}
