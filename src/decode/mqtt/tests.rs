//! The decoder over hand-made packets: every packet type of both versions, malformed packets
//! each with its finding, packets split over and joined in messages, answers, and the bounds.

use serde_json::{json, Value};

use super::*;
use crate::base::rules::Rule;

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n % 128) as u8;
        n /= 128;
        out.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            return out;
        }
    }
}

fn st(text: &str) -> Vec<u8> {
    let mut v = (text.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(text.as_bytes());
    v
}

fn pkt(first: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![first];
    v.extend(varint(body.len()));
    v.extend_from_slice(body);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn connect_311() -> Vec<u8> {
    // clean session, will (qos 1, retain), user name and password
    let flags = 0x02 | 0x04 | 0x08 | 0x20 | 0x80 | 0x40;
    pkt(
        0x10,
        &cat(&[
            &st("MQTT"),
            &[4, flags, 0, 60],
            &st("dev-1"),
            &st("dev/will"),
            &[0, 3, b'b', b'y', b'e'],
            &st("alice"),
            &[0, 6],
            b"s3cret",
        ]),
    )
}

fn connect_5() -> Vec<u8> {
    let props = cat(&[&[0x11, 0, 0, 0, 30], &[0x26], &st("app"), &st("x")]);
    pkt(
        0x10,
        &cat(&[
            &st("MQTT"),
            &[5, 0x02, 0, 10],
            &varint(props.len()),
            &props,
            &st("dev-5"),
        ]),
    )
}

/// A session decoder and a clock: each message is 1 ms after the one before.
struct Session {
    d: Decoder,
    index: [u64; 2],
    ts: u64,
    found: Vec<Finding>,
}

impl Session {
    fn new() -> Session {
        Session {
            d: Decoder::default(),
            index: [0, 0],
            ts: 0,
            found: Vec::new(),
        }
    }

    fn send(&mut self, dir: Direction, bytes: &[u8]) -> Option<Decoded> {
        self.message(dir, bytes, false, true)
    }

    fn message(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        text: bool,
        whole: bool,
    ) -> Option<Decoded> {
        self.index[dir.index()] += 1;
        self.ts += 1_000_000;
        let msg = AppMessage {
            dir,
            index: self.index[dir.index()],
            text,
            bytes,
            whole,
            ts: Timestamp(self.ts),
        };
        self.d.decode(&msg, &mut self.found)
    }

    /// The one unit of a message that must hold exactly one.
    fn one(&mut self, dir: Direction, bytes: &[u8]) -> Unit {
        let d = self.send(dir, bytes).expect("decoded");
        assert_eq!(d.units.len(), 1, "{:?}", d.units);
        d.units.into_iter().next().unwrap()
    }

    fn v311() -> Session {
        let mut s = Session::new();
        s.one(C2S, &connect_311());
        s
    }

    fn v5() -> Session {
        let mut s = Session::new();
        s.one(C2S, &connect_5());
        s
    }

    fn rules(&self) -> Vec<&'static str> {
        self.found.iter().map(|(r, _)| r.name).collect()
    }

    fn only_finding(&self, rule: &Rule) -> &str {
        assert_eq!(self.found.len(), 1, "{:?}", self.found);
        assert_eq!(self.found[0].0.name, rule.name);
        &self.found[0].1
    }
}

fn f<'a>(u: &'a Unit, name: &str) -> &'a Value {
    u.fields.get(name).unwrap_or(&Value::Null)
}

fn msg(dir: Direction, bytes: &[u8]) -> AppMessage<'_> {
    AppMessage {
        dir,
        index: 1,
        text: false,
        bytes,
        whole: true,
        ts: Timestamp(0),
    }
}

#[test]
fn a_first_client_connect_is_recognised() {
    assert!(recognises(&msg(C2S, &connect_311())));
    assert!(recognises(&msg(C2S, &connect_5())));
    let v31 = pkt(0x10, &cat(&[&st("MQIsdp"), &[3, 2, 0, 60], &st("old")]));
    assert!(recognises(&msg(C2S, &v31)));
    assert!(!recognises(&msg(S2C, &connect_311())));
    assert!(!recognises(&msg(C2S, &[0x10])));
    assert!(!recognises(&msg(C2S, b"CONNECT\naccept-version:1.2\n\n\0")));
    let connect = connect_311();
    let mut text = msg(C2S, &connect);
    text.text = true;
    assert!(!recognises(&text));
}

#[test]
fn a_311_connect_shows_the_password_length_only() {
    let mut s = Session::new();
    let u = s.one(C2S, &connect_311());
    assert_eq!(u.kind, "CONNECT");
    assert_eq!(u.key.as_deref(), Some("dev-1"));
    assert_eq!(f(&u, "version"), "3.1.1");
    assert_eq!(f(&u, "protocol_level"), 4);
    assert_eq!(f(&u, "clean_session"), true);
    assert_eq!(f(&u, "keep_alive"), 60);
    assert_eq!(f(&u, "username"), "alice");
    assert_eq!(f(&u, "password_length"), 6);
    assert_eq!(
        f(&u, "will"),
        &json!({"topic": "dev/will", "qos": 1, "retain": true, "payload_size": 3, "payload_text": "bye"})
    );
    let all = format!("{} {}", u.summary, Value::Object(u.fields.clone()));
    assert!(!all.contains("s3cret"), "{all}");
    assert_eq!(
        u.summary,
        "\"dev-1\" v3.1.1 user \"alice\" keepalive 60 clean will dev/will"
    );
    assert!(s.found.is_empty(), "{:?}", s.found);
}

#[test]
fn every_311_packet_type_decodes() {
    let mut s = Session::v311();
    let ack = s.one(S2C, &[0x20, 2, 1, 0]);
    assert_eq!(
        (ack.kind.as_str(), ack.summary.as_str()),
        ("CONNACK", "Connection Accepted, session present")
    );
    assert_eq!(f(&ack, "return_code"), 0);
    assert_eq!(ack.answers.as_ref().unwrap().rtt_ns, 1_000_000);
    let p = s.one(C2S, &pkt(0x3B, &cat(&[&st("a/b"), &[0, 7], b"hello"])));
    assert_eq!(p.summary, "a/b qos 1 id 7 dup retain \"hello\"");
    assert_eq!(p.key.as_deref(), Some("a/b"));
    assert_eq!(
        (f(&p, "qos"), f(&p, "dup"), f(&p, "retain")),
        (&json!(1), &json!(true), &json!(true))
    );
    assert_eq!(
        (f(&p, "packet_id"), f(&p, "payload_size")),
        (&json!(7), &json!(5))
    );
    for (first, kind) in [
        (0x40, "PUBACK"),
        (0x50, "PUBREC"),
        (0x62, "PUBREL"),
        (0x70, "PUBCOMP"),
    ] {
        let u = s.one(S2C, &[first, 2, 0, 9]);
        assert_eq!((u.kind.as_str(), u.summary.as_str()), (kind, "id 9"));
    }
    let sub = s.one(
        C2S,
        &pkt(0x82, &cat(&[&[0, 3], &st("a/#"), &[0], &st("b/+"), &[2]])),
    );
    assert_eq!(sub.summary, "id 3 a/# q0, b/+ q2");
    assert_eq!(
        f(&sub, "subscriptions"),
        &json!([{"topic_filter": "a/#", "qos": 0}, {"topic_filter": "b/+", "qos": 2}])
    );
    let suback = s.one(S2C, &[0x90, 4, 0, 3, 0, 0x80]);
    assert_eq!(suback.summary, "id 3 q0, Failure");
    assert_eq!(f(&suback, "return_codes"), &json!([0, 128]));
    assert_eq!(
        f(&suback, "reasons"),
        &json!({"0": "Success - Maximum QoS 0", "128": "Failure"})
    );
    assert_eq!(
        suback.key.as_deref(),
        Some("a/# b/+"),
        "an answer groups with its question"
    );
    let unsub = s.one(C2S, &pkt(0xA2, &cat(&[&[0, 4], &st("a/#")])));
    assert_eq!(
        (unsub.summary.as_str(), f(&unsub, "topic_filters")),
        ("id 4 a/#", &json!(["a/#"]))
    );
    let unsuback = s.one(S2C, &[0xB0, 2, 0, 4]);
    assert_eq!(unsuback.answers.as_ref().unwrap().id, "4");
    let ping = s.one(C2S, &[0xC0, 0]);
    let pong = s.one(S2C, &[0xD0, 0]);
    assert!(ping.heartbeat && pong.heartbeat);
    assert_eq!(pong.answers.as_ref().unwrap().message, ping_message(&s));
    let bye = s.one(C2S, &[0xE0, 0]);
    assert_eq!((bye.kind.as_str(), bye.fields.len()), ("DISCONNECT", 1));
    assert!(s.found.is_empty(), "{:?}", s.found);
}

fn ping_message(s: &Session) -> u64 {
    s.index[0]
}

#[test]
fn qos0_publishes_have_no_id_and_binary_payloads_show_their_size() {
    let mut s = Session::v311();
    let u = s.one(C2S, &pkt(0x30, &cat(&[&st("t"), &[0xFF, 0x00, 0x01]])));
    assert_eq!(u.summary, "t qos 0 <3 bytes>");
    assert_eq!(f(&u, "packet_id"), &Value::Null);
    assert_eq!(f(&u, "payload_hex"), "ff0001");
    let long = "x".repeat(100);
    let u = s.one(C2S, &pkt(0x30, &cat(&[&st("t"), long.as_bytes()])));
    assert_eq!(u.summary, format!("t qos 0 \"{}…\"", "x".repeat(24)));
    assert_eq!(f(&u, "payload_preview_cut"), true);
    assert_eq!(f(&u, "payload_text").as_str().unwrap().len(), 64);
}

#[test]
fn every_v5_packet_type_decodes_with_its_properties() {
    let mut s = Session::new();
    let c = s.one(C2S, &connect_5());
    assert_eq!(f(&c, "version"), "5.0");
    assert_eq!(f(&c, "clean_start"), true);
    assert_eq!(
        f(&c, "properties"),
        &json!({"session_expiry_interval": 30, "user_property": [["app", "x"]]})
    );
    let ack_props = cat(&[&[0x21, 0, 20, 0x22, 0, 10, 0x12], &st("auto-1")]);
    let ack = s.one(
        S2C,
        &pkt(0x20, &cat(&[&[0, 0], &varint(ack_props.len()), &ack_props])),
    );
    assert_eq!(ack.summary, "Success");
    assert_eq!(f(&ack, "reason_code"), 0);
    assert_eq!(
        f(&ack, "properties")["assigned_client_identifier"],
        "auto-1"
    );
    let props = cat(&[
        &[0x01, 1, 0x02, 0, 0, 0, 60, 0x03],
        &st("text/plain"),
        &[0x08],
        &st("re/ply"),
        &[0x09, 0, 2, 0xAB, 0xCD, 0x0B, 0x81, 0x01, 0x0B, 0x02, 0x26],
        &st("k1"),
        &st("v1"),
        &[0x26],
        &st("k1"),
        &st("v2"),
    ]);
    let p = s.one(
        C2S,
        &pkt(
            0x34,
            &cat(&[&st("a/b"), &[0, 5], &varint(props.len()), &props, b"hi"]),
        ),
    );
    assert_eq!(p.summary, "a/b qos 2 id 5 \"hi\"");
    assert_eq!(
        f(&p, "properties"),
        &json!({
            "payload_format_indicator": 1, "message_expiry_interval": 60,
            "content_type": "text/plain", "response_topic": "re/ply", "correlation_data": "abcd",
            "subscription_identifier": [129, 2], "user_property": [["k1", "v1"], ["k1", "v2"]]
        })
    );
    let rec = s.one(S2C, &[0x50, 3, 0, 5, 0x10]);
    assert_eq!(rec.summary, "id 5 No matching subscribers");
    assert_eq!(rec.key.as_deref(), Some("a/b"));
    let rel = s.one(C2S, &[0x62, 2, 0, 5]);
    assert_eq!(
        f(&rel, "reason_code"),
        &Value::Null,
        "a 2-byte PUBREL has no reason code"
    );
    let reason = cat(&[&[0x1F], &st("ok")]);
    let comp = s.one(
        S2C,
        &pkt(0x70, &cat(&[&[0, 5, 0], &varint(reason.len()), &reason])),
    );
    assert_eq!(f(&comp, "properties"), &json!({"reason_string": "ok"}));
    assert_eq!(comp.answers.as_ref().unwrap().id, "5");
    let sub = s.one(
        C2S,
        &pkt(
            0x82,
            &cat(&[&[0, 1, 2, 0x0B, 7], &st("x/#"), &[0b0010_1101]]),
        ),
    );
    assert_eq!(
        f(&sub, "subscriptions"),
        &json!([{"topic_filter": "x/#", "qos": 1, "no_local": true, "retain_as_published": true, "retain_handling": 2}])
    );
    assert_eq!(
        f(&sub, "properties"),
        &json!({"subscription_identifier": [7]})
    );
    let suback = s.one(S2C, &[0x90, 5, 0, 1, 0, 0x01, 0x87]);
    assert_eq!(suback.summary, "id 1 q1, Not authorized");
    assert_eq!(f(&suback, "reason_codes"), &json!([1, 0x87]));
    let many = s.one(S2C, &[0x90, 8, 0, 7, 0, 0x87, 0x87, 0x87, 0x87, 0x87]);
    assert_eq!(
        many.summary,
        "id 7 Not authorized, Not authorized, Not authorized … +2"
    );
    assert_eq!(f(&many, "reasons"), &json!({"135": "Not authorized"}));
    s.one(C2S, &pkt(0xA2, &cat(&[&[0, 2, 0], &st("x/#")])));
    let unsuback = s.one(S2C, &[0xB0, 4, 0, 2, 0, 0x11]);
    assert_eq!(unsuback.summary, "id 2 No subscription existed");
    let auth_props = cat(&[&[0x15], &st("SCRAM"), &[0x16, 0, 1, 0x99]]);
    let auth = s.one(
        C2S,
        &pkt(
            0xF0,
            &cat(&[&[0x18], &varint(auth_props.len()), &auth_props]),
        ),
    );
    assert_eq!(auth.summary, "Continue authentication method SCRAM");
    assert_eq!(f(&auth, "properties")["authentication_data"], "99");
    let bye = s.one(S2C, &[0xE0, 1, 0x8E]);
    assert_eq!(bye.summary, "Session taken over");
    let bye = s.one(C2S, &[0xE0, 0]);
    assert_eq!(bye.summary, "Normal disconnection");
    assert!(s.found.is_empty(), "{:?}", s.found);
}

#[test]
fn a_will_in_v5_has_its_own_properties() {
    let will_props = [0x18, 0, 0, 0, 10];
    let body = cat(&[
        &st("MQTT"),
        &[5, 0x06, 0, 5, 0],
        &st("w"),
        &[5],
        &will_props,
        &st("t/w"),
        &[0, 1, b'x'],
    ]);
    let mut s = Session::new();
    let u = s.one(C2S, &pkt(0x10, &body));
    assert_eq!(
        f(&u, "will")["properties"],
        json!({"will_delay_interval": 10})
    );
    assert_eq!(f(&u, "will")["topic"], "t/w");
}

#[test]
fn topic_aliases_resolve_per_direction() {
    let mut s = Session::v5();
    let set = pkt(0x30, &cat(&[&st("long/topic"), &[3, 0x23, 0, 3], b"1"]));
    let use_ = pkt(0x30, &cat(&[&st(""), &[3, 0x23, 0, 3], b"2"]));
    assert_eq!(s.one(C2S, &set).key.as_deref(), Some("long/topic"));
    let u = s.one(C2S, &use_);
    assert_eq!(u.key.as_deref(), Some("long/topic"));
    assert_eq!(u.summary, "long/topic (alias 3) qos 0 \"2\"");
    assert_eq!(f(&u, "topic"), "long/topic");
    assert_eq!(f(&u, "topic_from_alias"), true);
    assert!(s.found.is_empty());
    // The server's aliases are its own: alias 3 from the server is not the client's.
    let u = s.one(S2C, &use_);
    assert_eq!(u.key, None);
    s.only_finding(&rules::MQTT_TOPIC_ALIAS_UNKNOWN);
}

#[test]
fn an_unknown_topic_alias_is_a_finding() {
    let mut s = Session::v5();
    let u = s.one(C2S, &pkt(0x30, &cat(&[&st(""), &[3, 0x23, 0, 9], b"x"])));
    assert_eq!(u.summary, "(no topic) (alias 9) qos 0 \"x\"");
    assert!(s
        .only_finding(&rules::MQTT_TOPIC_ALIAS_UNKNOWN)
        .contains("alias 9"));
}

#[test]
fn a_message_may_hold_several_packets() {
    let mut s = Session::v311();
    let both = cat(&[
        &pkt(0x32, &cat(&[&st("a"), &[0, 1], b"x"])),
        &[0xC0, 0],
        &[0xE0, 0],
    ]);
    let d = s.send(C2S, &both).unwrap();
    let kinds: Vec<_> = d.units.iter().map(|u| u.kind.as_str()).collect();
    assert_eq!(kinds, ["PUBLISH", "PINGREQ", "DISCONNECT"]);
    let d = s.send(S2C, &[0x40, 2, 0, 1, 0xD0, 0]).unwrap();
    assert!(d.units.iter().all(|u| u.answers.is_some()));
}

#[test]
fn a_packet_may_span_messages_even_inside_its_header() {
    let mut s = Session::v311();
    let payload = vec![b'z'; 300];
    let p = pkt(0x30, &cat(&[&st("big"), &payload]));
    assert_eq!(&p[..3], &[0x30, 0xB1, 0x02]);
    // cut after the first length byte, then in the body; the last part holds a PINGREQ too
    let d = s.send(C2S, &p[..2]).unwrap();
    assert!(d.units.is_empty());
    assert!(s.send(C2S, &p[2..100]).unwrap().units.is_empty());
    let d = s.send(C2S, &cat(&[&p[100..], &[0xC0, 0]])).unwrap();
    assert_eq!(d.units.len(), 2);
    assert_eq!(f(&d.units[0], "payload_size"), 300);
    assert_eq!(f(&d.units[0], "started_in_message"), 2);
    assert_eq!(d.units[1].kind, "PINGREQ");
    assert_eq!(f(&d.units[1], "started_in_message"), &Value::Null);
    assert!(s.found.is_empty(), "{:?}", s.found);
}

#[test]
fn a_message_ends_one_packet_and_starts_another() {
    let mut s = Session::v311();
    let a = pkt(0x30, &cat(&[&st("a"), b"1"]));
    let b = pkt(0x30, &cat(&[&st("b"), b"2"]));
    let stream = cat(&[&a, &b]);
    assert!(s.send(C2S, &stream[..3]).unwrap().units.is_empty());
    let d = s.send(C2S, &stream[3..7]).unwrap();
    assert_eq!(d.units.len(), 1);
    let d = s.send(C2S, &stream[7..]).unwrap();
    assert_eq!(d.units[0].key.as_deref(), Some("b"));
}

#[test]
fn every_split_of_a_stream_gives_the_same_packets() {
    let stream = cat(&[
        &connect_5(),
        &pkt(0x32, &cat(&[&st("a/b"), &[0, 1, 0], b"payload"])),
        &[0xC0, 0],
        &pkt(0x82, &cat(&[&[0, 2, 0], &st("x"), &[1]])),
    ]);
    let whole: Vec<Unit> = Session::new().send(C2S, &stream).unwrap().units;
    assert_eq!(whole.len(), 4);
    for cut1 in 0..stream.len() {
        for cut2 in cut1..stream.len() {
            let mut s = Session::new();
            let mut units = Vec::new();
            for part in [&stream[..cut1], &stream[cut1..cut2], &stream[cut2..]] {
                units.extend(s.send(C2S, part).unwrap().units);
            }
            let kinds = |u: &[Unit]| {
                u.iter()
                    .map(|u| (u.kind.clone(), u.key.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(kinds(&units), kinds(&whole), "cuts {cut1} {cut2}");
            assert!(s.found.is_empty(), "{:?}", s.found);
        }
    }
}

#[test]
fn malformed_packets_each_say_what_is_wrong() {
    let cases: &[(&[u8], &str)] = &[
        (&[0x00, 0], "packet type 0 is reserved"),
        (&[0x60, 2, 0, 1], "PUBREL flags are 0000, must be 0010"),
        (&[0x63, 2, 0, 1], "PUBREL flags are 0011, must be 0010"),
        (&[0x36, 3, 0, 1, b'a'], "QoS 3"),
        (&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], "past four bytes"),
        (&[0x30, 3, 0, 5, b'a'], "topic name needs 5 bytes, 1 left"),
        (&[0x30, 3, 0, 1, 0xC3], "not well-formed UTF-8"),
        (&[0x32, 3, 0, 1, b'a'], "packet identifier needs 2 bytes"),
        (&[0x32, 5, 0, 1, b'a', 0, 0], "packet identifier 0"),
        (&[0x40, 3, 0, 1, 0], "1 bytes after the PUBACK's last field"),
        (&[0xC0, 1, 0], "1 bytes after the PINGREQ"),
        (&[0x82, 2, 0, 1], "SUBSCRIBE without a topic filter"),
        (
            &[0x82, 5, 0, 1, 0, 1, b'a'],
            "subscription options needs 1 bytes",
        ),
        (&[0x82, 6, 0, 1, 0, 1, b'a', 3], "QoS 3"),
        (&[0xA2, 2, 0, 1], "UNSUBSCRIBE without a topic filter"),
        (&[0x90, 2, 0, 1], "SUBACK without a return code"),
        (&[0xB0, 3, 0, 1, 0], "3.1.1 UNSUBACK has no payload"),
        (&[0x20, 2, 2, 0], "reserved connect acknowledge flags"),
        (&[0xF0, 0], "packet type 15 is reserved"),
        (&[0xE0, 1, 0], "1 bytes after the DISCONNECT"),
    ];
    for (bytes, want) in cases {
        let mut s = Session::v311();
        assert!(s.send(C2S, bytes).is_none(), "{bytes:02x?}");
        let said = s.only_finding(&rules::MQTT_MALFORMED);
        assert!(said.contains(want), "{bytes:02x?}: {said}");
    }
}

#[test]
fn malformed_v5_packets_each_say_what_is_wrong() {
    let cases: &[(&[u8], &str)] = &[
        (
            &[0x30, 5, 0, 1, b'a', 1, 0x05],
            "unknown property identifier 0x05",
        ),
        (
            &[0x30, 5, 0, 1, b'a', 9, 0x01],
            "property length 9 runs past the packet",
        ),
        (
            &[0x30, 7, 0, 1, b'a', 1, 0x23, 0, 5],
            "a property runs past the property length",
        ),
        (&[0x40, 4, 0, 1, 0, 0x05], "property length 5"),
    ];
    for (bytes, want) in cases {
        let mut s = Session::v5();
        assert!(s.send(C2S, bytes).is_none(), "{bytes:02x?}");
        let said = s.only_finding(&rules::MQTT_MALFORMED);
        assert!(said.contains(want), "{bytes:02x?}: {said}");
    }
    let mut s = Session::new();
    let bad = pkt(0x10, &cat(&[&st("MQTT"), &[6, 2, 0, 0], &st("x")]));
    assert!(s.send(C2S, &bad).is_none());
    assert!(s.only_finding(&rules::MQTT_MALFORMED).contains("level 6"));
    let mut s = Session::new();
    let bad = pkt(0x10, &cat(&[&st("MQTT"), &[4, 3, 0, 0], &st("x")]));
    assert!(s.send(C2S, &bad).is_none());
    assert!(s
        .only_finding(&rules::MQTT_MALFORMED)
        .contains("reserved connect flag"));
}

#[test]
fn a_malformed_packet_keeps_the_packets_before_it() {
    let mut s = Session::v311();
    let d = s.send(C2S, &[0xC0, 0, 0x00, 0, 0xC0, 0]).unwrap();
    assert_eq!(d.units.len(), 1, "the rest of the message is shown raw");
    assert!(s
        .only_finding(&rules::MQTT_MALFORMED)
        .starts_with("byte 0 of a packet"));
    // nothing was carried: the next message starts afresh
    assert_eq!(s.send(C2S, &[0xC0, 0]).unwrap().units.len(), 1);
}

#[test]
fn a_text_message_is_a_finding() {
    let mut s = Session::v311();
    assert!(s.message(C2S, &[0xC0, 0], true, true).is_none());
    assert!(s.only_finding(&rules::MQTT_TEXT_MESSAGE).contains("binary"));
}

#[test]
fn a_message_not_whole_drops_the_carried_packet() {
    let mut s = Session::v311();
    let p = pkt(0x30, &cat(&[&st("topic"), b"payload"]));
    assert!(s.send(C2S, &p[..4]).unwrap().units.is_empty());
    assert!(s.message(C2S, &p[4..8], false, false).is_none());
    assert!(s.found.is_empty());
    // the next message is read as the start of a packet
    assert_eq!(s.one(C2S, &[0xC0, 0]).kind, "PINGREQ");
}

#[test]
fn a_packet_too_long_to_carry_is_skipped_by_length() {
    let mut s = Session::v311();
    let total_body = MAX_CARRY + 10;
    let mut first = vec![0x30];
    first.extend(varint(total_body));
    let header = first.len();
    first.extend(s_topic_and_fill(1000));
    assert!(s.send(C2S, &first).unwrap().units.is_empty());
    assert!(s
        .only_finding(&rules::MQTT_PACKET_TOO_LONG)
        .contains("PUBLISH"));
    let mut left = header + total_body - first.len();
    // the middle, then the end followed by a whole PINGREQ
    let middle = vec![b'm'; left - 5];
    left -= middle.len();
    // Each message the skip covers says so (a lying length must not hide them silently).
    let d = s.send(C2S, &middle).unwrap();
    let kinds: Vec<&str> = d.units.iter().map(|u| u.kind.as_str()).collect();
    assert_eq!(kinds, ["skipped"]);
    assert_eq!(d.units[0].fields["left"], 5);
    let mut last = vec![b'e'; left];
    last.extend([0xC0, 0]);
    let d = s.send(C2S, &last).unwrap();
    let kinds: Vec<&str> = d.units.iter().map(|u| u.kind.as_str()).collect();
    assert_eq!(kinds, ["skipped", "PINGREQ"]);
    assert!(s.d.streams[0].carry.capacity() <= MAX_CARRY);
}

fn s_topic_and_fill(n: usize) -> Vec<u8> {
    let mut v = st("big");
    v.resize(n, b'x');
    v
}

#[test]
fn a_carried_packet_that_grows_too_long_is_skipped_too() {
    let mut s = Session::v311();
    // the header itself is cut: the length is learnt only from the second message
    let mut header = vec![0x30];
    header.extend(varint(MAX_CARRY * 2));
    assert!(s.send(C2S, &header[..2]).unwrap().units.is_empty());
    assert!(s.found.is_empty());
    let mut rest = header[2..].to_vec();
    rest.extend([b'x'; 100]);
    assert!(s.send(C2S, &rest).unwrap().units.is_empty());
    s.only_finding(&rules::MQTT_PACKET_TOO_LONG);
    let skip = s.d.streams[0].skip as usize;
    assert_eq!(skip, header.len() + MAX_CARRY * 2 - header.len() - 100);
}

#[test]
fn packets_after_a_skipped_one_in_the_same_message_are_read() {
    let mut s = Session::v311();
    let mut header = vec![0x30];
    header.extend(varint(MAX_CARRY + 10));
    assert!(s.send(C2S, &header[..1]).unwrap().units.is_empty());
    // the rest of the header, the whole body, and a PINGREQ
    let mut rest = header[1..].to_vec();
    rest.resize(rest.len() + MAX_CARRY + 10, b'x');
    rest.extend([0xC0, 0]);
    let d = s.send(C2S, &rest).unwrap();
    s.only_finding(&rules::MQTT_PACKET_TOO_LONG);
    assert_eq!(d.units.len(), 1);
    assert_eq!(d.units[0].kind, "PINGREQ");
    assert_eq!(s.d.streams[0].skip, 0);
}

#[test]
fn answers_are_matched_by_id_type_and_direction() {
    let mut s = Session::v311();
    s.one(S2C, &[0x20, 2, 0, 0]);
    s.one(C2S, &pkt(0x32, &cat(&[&st("a"), &[0, 1]])));
    s.one(C2S, &pkt(0x34, &cat(&[&st("b"), &[0, 2]])));
    // the wrong type for id 2 (a QoS 2 PUBLISH is answered by PUBREC), the wrong direction
    assert!(s.one(S2C, &[0x40, 2, 0, 2]).answers.is_none());
    assert!(s.one(C2S, &[0x40, 2, 0, 1]).answers.is_none());
    let rec = s.one(S2C, &[0x50, 2, 0, 2]);
    let a = rec.answers.unwrap();
    assert_eq!((a.id.as_str(), a.dir, a.message), ("2", C2S, 3));
    assert_eq!(a.rtt_ns, 3_000_000);
    let ack = s.one(S2C, &[0x40, 2, 0, 1]);
    assert_eq!(ack.answers.unwrap().message, 2);
    // an answer is used once
    assert!(s.one(S2C, &[0x40, 2, 0, 1]).answers.is_none());
    // the server's PUBLISH is answered by the client
    s.one(S2C, &pkt(0x32, &cat(&[&st("c"), &[0, 1]])));
    assert_eq!(s.one(C2S, &[0x40, 2, 0, 1]).answers.unwrap().dir, S2C);
}

#[test]
fn pending_questions_are_bounded() {
    let mut s = Session::v311();
    for id in 1..=(MAX_PENDING as u16 + 100) {
        s.one(C2S, &pkt(0x32, &cat(&[&st("a"), &id.to_be_bytes()])));
    }
    // the CONNECT's question and the oldest 100 PUBLISHes are forgotten
    assert_eq!(s.d.pending.len(), MAX_PENDING);
    assert!(s.d.pending.order.len() <= 2 * MAX_PENDING + 1);
    assert!(s.one(S2C, &[0x40, 2, 0, 50]).answers.is_none());
    assert!(s.one(S2C, &[0x40, 2, 0, 200]).answers.is_some());
    // answering keeps the queue compact too
    for round in 0..5u16 {
        for id in 1..=MAX_PENDING as u16 {
            s.one(C2S, &pkt(0x32, &cat(&[&st("a"), &id.to_be_bytes()])));
            s.one(S2C, &[0x40, 2, (id >> 8) as u8, id as u8]);
        }
        assert!(
            s.d.pending.order.len() <= 2 * MAX_PENDING + 1,
            "round {round}"
        );
    }
}

#[test]
fn without_connect_the_version_is_inferred() {
    let mut s = Session::new();
    let u = s.one(C2S, &pkt(0x30, &cat(&[&st("a"), b"x"])));
    assert_eq!(
        (f(&u, "version"), f(&u, "version_inferred")),
        (&json!("3.1.1"), &json!(true))
    );
    assert_eq!(s.rules(), ["mqtt-version-inferred"]);
    // a 4-byte PUBACK is 5.0's: from here on, 5.0
    let u = s.one(S2C, &[0x40, 4, 0, 1, 0x10, 0]);
    assert_eq!(f(&u, "version"), "5.0");
    assert_eq!(f(&u, "reason"), "No matching subscribers");
    assert_eq!(
        s.rules(),
        ["mqtt-version-inferred", "mqtt-version-inferred"]
    );
    assert!(s.found[1].1.contains("PUBACK"), "{}", s.found[1].1);
    let u = s.one(C2S, &pkt(0x30, &cat(&[&st("a"), &[0], b"x"])));
    assert_eq!(f(&u, "payload_text"), "x");
    assert_eq!(s.found.len(), 2, "said once per change");
    // a CONNECT settles it
    let c = s.one(C2S, &connect_311());
    assert_eq!(f(&c, "version_inferred"), &Value::Null);
    assert_eq!(f(&s.one(C2S, &[0xC0, 0]), "version"), &Value::Null);
}

#[test]
fn the_version_is_remembered_for_both_directions() {
    let mut s = Session::v5();
    // a 5.0 CONNACK has a property length
    assert_eq!(
        s.one(S2C, &[0x20, 3, 0, 0x86, 0]).summary,
        "Bad User Name or Password"
    );
    let mut s = Session::v311();
    // the same bytes are malformed in 3.1.1
    assert!(s.send(S2C, &[0x20, 3, 0, 0x86, 0]).is_none());
}
