//! Captures that start after the handshake, or lose a segment: trimmed and holed copies of real
//! samples, made at test time, against the full capture's messages.

use crate::common::{dissect_bytes, dissect_full, filter_pcap, repo, sha256_hex};
use wsdissect::event::Event;

/// (direction, opcode, length, sha256, first packet) of every message.
fn messages(events: &[Event]) -> Vec<(&'static str, u8, u64, String, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some((
                m.dir.as_str(),
                m.opcode.bits(),
                m.payload.len,
                sha256_hex(&m.payload.bytes),
                m.first_packet.number,
            )),
            _ => None,
        })
        .collect()
}

fn strip_packets(
    v: &[(&'static str, u8, u64, String, u64)],
) -> Vec<(&'static str, u8, u64, String)> {
    v.iter()
        .map(|(d, o, l, h, _)| (*d, *o, *l, h.clone()))
        .collect()
}

#[test]
fn a_capture_cut_after_the_handshake_still_yields_every_later_message() {
    for name in [
        "py-echo.pcap",
        "node-fragments.pcap",
        "py-closes.pcap",
        "py-ipv6-subproto.pcap",
    ] {
        let path = repo().join("samples").join(name);
        let full = messages(&dissect_full(&path));
        let handshake_done = dissect_full(&path).iter().find_map(|e| match e {
            Event::Handshake(h) => Some(h.response_packet.number),
            _ => None,
        });
        let total = full.iter().map(|m| m.4).max().unwrap();
        for cut in (handshake_done.unwrap() + 1..total).step_by(3) {
            let events = dissect_bytes(filter_pcap(&path, |n| n >= cut), vec![]);
            let got = strip_packets(&messages(&events));
            // Every message that starts at or after the cut, in order.
            let want: Vec<_> = strip_packets(
                &full
                    .iter()
                    .filter(|m| m.4 >= cut)
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            for dir in ["c2s", "s2c"] {
                let got_tail: Vec<_> = got
                    .iter()
                    .filter(|m| m.0 == dir && want.contains(m))
                    .collect();
                let want_dir: Vec<_> = want.iter().filter(|m| m.0 == dir).collect();
                assert_eq!(got_tail, want_dir, "{name} cut at packet {cut}, {dir}");
            }
            assert!(
                got.len() <= want.len() + 2,
                "{name} cut at {cut}: at most the messages in flight at the cut may be added"
            );
            let single_connection = name != "py-closes.pcap";
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e, Event::Connection(c) if c.inferred))
                    || want.is_empty()
                    || !single_connection,
                "{name} cut at {cut}: connection marked inferred"
            );
        }
    }
}

#[test]
fn a_lost_segment_loses_only_the_frames_it_must() {
    let path = repo().join("samples/py-echo.pcap");
    let full_events = dissect_full(&path);
    let full = messages(&full_events);
    // Packet 29 carries bytes 32768..65536 of the client's 65535-byte text message.
    let events = dissect_bytes(filter_pcap(&path, |n| n != 29), vec![]);
    let got = messages(&events);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Gap(g) if g.len == 32768)),
        "the hole is a gap event"
    );
    let lost: Vec<_> = full
        .iter()
        .filter(|m| !got.iter().any(|g| g.0 == m.0 && g.2 == m.2 && g.3 == m.3))
        .collect();
    assert_eq!(
        lost.len(),
        1,
        "only the message the segment belonged to is incomplete: {lost:?}"
    );
    assert_eq!((lost[0].0, lost[0].2), ("c2s", 65535));
    let damaged = events.iter().find_map(|e| match e {
        Event::Message(m) if m.lost > 0 => Some(m.lost),
        _ => None,
    });
    assert_eq!(
        damaged,
        Some(32768),
        "the damaged message says how much is missing"
    );
}

#[test]
fn ws_port_forces_websocket_on_a_stream_without_handshake() {
    let path = repo().join("samples/py-nano.pcap");
    let full = dissect_full(&path);
    let hs = full.iter().find_map(|e| match e {
        Event::Handshake(h) => Some(h.response_packet.number),
        _ => None,
    });
    let Some(Event::Connection(c)) = full.iter().find(|e| matches!(e, Event::Connection(_))) else {
        panic!()
    };
    // Drop every packet up to the 101, then force the port: even one frame is taken.
    let cut = dissect_bytes(
        filter_pcap(&path, |n| n > hs.unwrap()),
        vec![c.server.port()],
    );
    assert_eq!(
        strip_packets(&messages(&cut)),
        strip_packets(&messages(&full))
    );
}
