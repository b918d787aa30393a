//! MQTT decoding over samples/apps/mqtt/mqtt.pcap (paho-mqtt and a hand-made client against
//! Mosquitto, samples/apps/mqtt/README.md): wsdissect's NDJSON checked against what the
//! clients logged: every
//! packet paho says it sent or received is a unit of the right kind with the right topic, QoS,
//! flags and packet id, in order; answers are matched with plausible round trips; the
//! hand-made client's messages are the bytes it logged, packets split and joined as it sent
//! them; no MQTT finding.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};
use wsdissect::base::Direction;
use wsdissect::decode::{Answer, Unit};

use crate::common::repo;

/// One message of wsdissect's NDJSON: direction, payload, units.
struct Msg {
    dir: Direction,
    bytes: Vec<u8>,
    /// The decoder read it (a message holding only the start of a packet has no unit).
    decoded: bool,
    units: Vec<Unit>,
}

fn sample(name: &str) -> std::path::PathBuf {
    repo().join("samples/apps/mqtt").join(name)
}

/// `wsdissect --format json --full-payload` over the capture, one NDJSON record a line.
pub fn ndjson(capture: &std::path::Path) -> Vec<Value> {
    crate::common::ndjson_records(&[std::ffi::OsStr::new("--full-payload"), capture.as_os_str()])
}

/// A unit as NDJSON writes it (docs/json.md), read back.
fn unit(v: &Value) -> Unit {
    let mut u = Unit::new(v["kind"].as_str().unwrap(), v["summary"].as_str().unwrap());
    u.key = v["key"].as_str().map(String::from);
    u.fields = v["fields"].as_object().unwrap().clone();
    u.heartbeat = v["heartbeat"].as_bool().unwrap();
    u.answers = v.get("answers").map(|a| Answer {
        id: a["id"].as_str().unwrap().to_string(),
        dir: dir(&a["dir"]),
        message: a["message"].as_u64().unwrap(),
        rtt_ns: (a["rtt_ms"].as_f64().unwrap() * 1e6).round() as u64,
    });
    u
}

fn dir(v: &Value) -> Direction {
    match v.as_str() {
        Some("c2s") => Direction::ClientToServer,
        _ => Direction::ServerToClient,
    }
}

/// Messages by connection, and the rule names of every diagnostic.
fn dissect() -> (BTreeMap<u64, Vec<Msg>>, Vec<String>) {
    let mut conns: BTreeMap<u64, Vec<Msg>> = BTreeMap::new();
    let mut rules = Vec::new();
    for r in ndjson(&sample("mqtt.pcap")) {
        match r["type"].as_str() {
            Some("message") => {
                let decoded = &r["decoded"];
                if !decoded.is_null() {
                    assert_eq!(decoded["protocol"], "mqtt");
                }
                let units = decoded["units"]
                    .as_array()
                    .map_or(Vec::new(), |u| u.iter().map(unit).collect());
                let bytes = match (r["data"].as_str(), r["data_b64"].as_str()) {
                    (Some(text), _) => text.as_bytes().to_vec(),
                    (_, Some(b64)) => BASE64.decode(b64).unwrap(),
                    _ => Vec::new(),
                };
                conns
                    .entry(r["conn"].as_u64().unwrap())
                    .or_default()
                    .push(Msg {
                        dir: dir(&r["dir"]),
                        bytes,
                        decoded: !decoded.is_null(),
                        units,
                    });
            }
            Some("diagnostic") => rules.push(r["rule"].as_str().unwrap().to_string()),
            _ => {}
        }
    }
    (conns, rules)
}

fn units(msgs: &[Msg], dir: Direction) -> Vec<&Unit> {
    msgs.iter()
        .filter(|m| m.dir == dir)
        .flat_map(|m| &m.units)
        .collect()
}

fn f<'a>(u: &'a Unit, name: &str) -> &'a Value {
    u.fields.get(name).unwrap_or(&Value::Null)
}

/// A packet as paho logged it (`Sending PUBLISH (d0, q1, r0, m3), 'b'a/b'', ... (8 bytes)`).
#[derive(Debug)]
struct Logged {
    line: String,
    kind: String,
    mid: Option<u64>,
    publish: Option<(u64, bool, bool, String, u64)>, // qos, dup, retain, topic, payload size
    filters: Vec<String>,
}

/// Text between `start` and the next `end` after it.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// Every `b'…'` in `s` (paho prints topic filters as Python bytes).
fn python_bytes(s: &str) -> Vec<String> {
    s.split("b'")
        .skip(1)
        .filter_map(|p| p.split('\'').next())
        .map(String::from)
        .collect()
}

fn paho_log(name: &str) -> (Vec<Logged>, Vec<Logged>) {
    let text = std::fs::read_to_string(sample(name)).unwrap();
    let (mut sent, mut received) = (Vec::new(), Vec::new());
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.split_once(" log ").map(|(_, r)| r) else {
            continue;
        };
        let (out, rest) = if let Some(r) = rest.strip_prefix("Sending ") {
            (true, r)
        } else if let Some(r) = rest.strip_prefix("Received ") {
            (false, r)
        } else {
            continue;
        };
        let kind = rest.split([' ', ',']).next().unwrap().to_string();
        let mut l = Logged {
            line: line.to_string(),
            kind: kind.clone(),
            mid: None,
            publish: None,
            filters: Vec::new(),
        };
        if let Some(m) = between(rest, "(Mid: ", ")") {
            l.mid = Some(m.parse().unwrap());
        }
        if kind == "PUBLISH" {
            let flags = between(rest, "(", ")").unwrap();
            let num = |p: &str| -> u64 {
                let v = flags.split(", ").find(|x| x.starts_with(p)).unwrap();
                v[1..].parse().unwrap()
            };
            l.mid = Some(num("m"));
            let quoted = rest.split_once("), '").unwrap().1;
            let quoted = quoted.strip_prefix("b'").unwrap_or(quoted);
            let mut topic = quoted.split('\'').next().unwrap().to_string();
            // v5 topic aliases: the first PUBLISH names the topic, the next send it empty.
            if let Some(a) = between(rest, "TopicAlias : ", "]") {
                if topic.is_empty() {
                    topic = aliases[a].clone();
                } else {
                    aliases.insert(a.to_string(), topic.clone());
                }
            }
            let size = between(rest, "... (", " bytes)")
                .or_else(|| between(rest, "...  (", " bytes)"))
                .map_or(0, |n| n.parse().unwrap());
            l.publish = Some((num("q"), num("d") == 1, num("r") == 1, topic, size));
        }
        if kind == "SUBSCRIBE" || kind == "UNSUBSCRIBE" {
            l.mid = Some(between(rest, ", m", ")").unwrap().parse().unwrap());
            l.filters = python_bytes(rest.split_once(')').unwrap().1);
        }
        if out {
            sent.push(l)
        } else {
            received.push(l)
        }
    }
    (sent, received)
}

/// A logged packet and the unit decoded for it agree.
fn check(l: &Logged, u: &Unit) {
    let at = &l.line;
    assert_eq!(u.kind, l.kind, "{at}");
    if let Some((qos, dup, retain, topic, size)) = &l.publish {
        assert_eq!(f(u, "qos"), qos, "{at}");
        assert_eq!(f(u, "dup"), dup, "{at}");
        assert_eq!(f(u, "retain"), retain, "{at}");
        assert_eq!(f(u, "topic"), topic.as_str(), "{at}");
        assert_eq!(u.key.as_deref(), Some(topic.as_str()), "{at}");
        assert_eq!(f(u, "payload_size"), size, "{at}");
        let id = if *qos > 0 { json!(l.mid) } else { Value::Null };
        assert_eq!(f(u, "packet_id"), &id, "{at}");
        assert!(u.summary.starts_with(topic.as_str()), "{at}: {}", u.summary);
        check_properties(l, u);
    } else if let Some(mid) = l.mid {
        assert_eq!(f(u, "packet_id"), mid, "{at}");
    }
    if l.kind == "SUBSCRIBE" {
        let filters: Vec<_> = f(u, "subscriptions")
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["topic_filter"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(filters, l.filters, "{at}");
    }
    if l.kind == "UNSUBSCRIBE" {
        assert_eq!(f(u, "topic_filters"), &json!(l.filters), "{at}");
    }
    if l.kind == "CONNECT" {
        let id = between(at, "client_id=b'", "'").unwrap();
        assert_eq!(f(u, "client_id"), id, "{at}");
        assert_eq!(f(u, "username"), "alice", "{at}");
        assert!(u.fields.contains_key("password_length"), "{at}");
        let all = format!("{} {}", u.summary, Value::Object(u.fields.clone()));
        assert!(
            !all.contains("secret-password"),
            "the password shows: {all}"
        );
    }
    let heartbeat = l.kind == "PINGREQ" || l.kind == "PINGRESP";
    assert_eq!(u.heartbeat, heartbeat, "{at}");
    let answers = [
        "CONNACK", "PUBACK", "PUBREC", "PUBCOMP", "SUBACK", "UNSUBACK", "PINGRESP",
    ];
    if answers.contains(&l.kind.as_str()) {
        let a = u
            .answers
            .as_ref()
            .unwrap_or_else(|| panic!("{at}: no question matched"));
        assert!(
            a.rtt_ns > 0 && a.rtt_ns < 1_000_000_000,
            "{at}: rtt {} ns",
            a.rtt_ns
        );
        if let Some(mid) = l.mid {
            assert_eq!(a.id, mid.to_string(), "{at}");
        }
    }
}

/// The v5 properties paho logged on a PUBLISH it sent are the unit's.
fn check_properties(l: &Logged, u: &Unit) {
    let at = &l.line;
    let props = f(u, "properties");
    if let Some(ct) = between(at, "ContentType : ", ",") {
        assert_eq!(props["content_type"], ct, "{at}");
    }
    if let Some(e) = between(at, "MessageExpiryInterval : ", ",") {
        assert_eq!(
            props["message_expiry_interval"],
            e.parse::<u64>().unwrap(),
            "{at}"
        );
    }
    if let Some(pairs) = between(at, "UserProperty : [", "]") {
        let quoted: Vec<&str> = pairs.split('\'').skip(1).step_by(2).collect();
        let want: Vec<Value> = quoted.chunks(2).map(|p| json!([p[0], p[1]])).collect();
        assert_eq!(props["user_property"], json!(want), "{at}");
    }
    if let Some(a) = between(at, "TopicAlias : ", "]") {
        assert_eq!(props["topic_alias"], a.parse::<u64>().unwrap(), "{at}");
    }
}

fn check_paho_session(msgs: &[Msg], log: &str) {
    let (sent, received) = paho_log(log);
    for (dir, logged) in [
        (Direction::ClientToServer, sent),
        (Direction::ServerToClient, received),
    ] {
        let got = units(msgs, dir);
        let kinds = |v: &[&Unit]| v.iter().map(|u| u.kind.clone()).collect::<Vec<_>>();
        let want: Vec<_> = logged.iter().map(|l| l.kind.clone()).collect();
        assert_eq!(kinds(&got), want, "{log} {dir:?}");
        for (l, u) in logged.iter().zip(got) {
            check(l, u);
        }
    }
}

#[test]
fn mqtt_paho_311_session_decodes_as_logged() {
    let (conns, _) = dissect();
    let first = conns.values().next().unwrap();
    check_paho_session(first, "paho-311.log");
    assert_eq!(
        f(units(first, Direction::ClientToServer)[0], "version"),
        "3.1.1"
    );
}

#[test]
fn mqtt_paho_5_session_decodes_as_logged() {
    let (conns, _) = dissect();
    let second = conns.values().nth(1).unwrap();
    check_paho_session(second, "paho-5.log");
    let aliased = units(second, Direction::ClientToServer)
        .into_iter()
        .filter(|u| f(u, "topic_from_alias") == true)
        .count();
    assert_eq!(aliased, 2, "two PUBLISHes name their topic by alias");
}

/// raw.log: `sent HEX` / `received HEX` per message, `packet KIND id=N qos=Q TOPIC` per packet
/// built, in the order sent.
#[test]
fn mqtt_packets_split_and_joined_across_messages_decode_as_sent() {
    let (conns, _) = dissect();
    let raw = conns.values().nth(2).unwrap();
    let text = std::fs::read_to_string(sample("raw.log")).unwrap();
    let logged = |word: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split_once(' ').unwrap().1.strip_prefix(word))
            .map(String::from)
            .collect()
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for (dir, word) in [
        (Direction::ClientToServer, "sent "),
        (Direction::ServerToClient, "received "),
    ] {
        let got: Vec<_> = raw
            .iter()
            .filter(|m| m.dir == dir)
            .map(|m| hex(&m.bytes))
            .collect();
        assert_eq!(
            got,
            logged(word),
            "{dir:?}: the messages are the bytes logged"
        );
    }
    let packets = logged("packet ");
    let sent = units(raw, Direction::ClientToServer);
    assert_eq!(sent.len(), packets.len());
    for (p, u) in packets.iter().zip(&sent) {
        let mut words = p.split(' ');
        assert_eq!(u.kind, words.next().unwrap(), "{p}");
        for w in words {
            match w.split_once('=') {
                Some(("id", id)) => {
                    assert_eq!(f(u, "packet_id"), id.parse::<u64>().unwrap(), "{p}")
                }
                Some(("qos", q)) => assert_eq!(f(u, "qos"), q.parse::<u64>().unwrap(), "{p}"),
                Some(("client_id", c)) => assert_eq!(f(u, "client_id"), c, "{p}"),
                _ => assert_eq!(u.key.as_deref(), Some(w), "{p}"),
            }
        }
    }
    // Where the client cut and joined: the units say which message a packet started in.
    let spanned: Vec<_> = sent
        .iter()
        .filter(|u| u.fields.contains_key("started_in_message"))
        .map(|u| u.kind.as_str())
        .collect();
    assert_eq!(spanned, ["CONNECT", "PUBLISH", "PUBREL"]);
    let most = raw.iter().map(|m| m.units.len()).max().unwrap();
    assert_eq!(most, 3, "SUBSCRIBE, PUBLISH and PINGREQ in one message");
    // The broker sends a packet a message: one unit each, of the type its first byte says.
    let kinds = MQTT_KINDS;
    for m in raw.iter().filter(|m| m.dir == Direction::ServerToClient) {
        assert_eq!(m.units.len(), 1);
        assert_eq!(m.units[0].kind, kinds[usize::from(m.bytes[0] >> 4)]);
    }
    let big = sent
        .iter()
        .find(|u| u.key.as_deref() == Some("wsd/raw/big"))
        .unwrap();
    assert_eq!(f(big, "payload_size"), 600);
}

#[test]
fn mqtt_clean_capture_has_no_mqtt_finding() {
    let (conns, rules) = dissect();
    assert_eq!(conns.len(), 3);
    let mqtt: Vec<_> = rules.iter().filter(|r| r.starts_with("mqtt")).collect();
    assert!(mqtt.is_empty(), "{mqtt:?}");
    for msgs in conns.values() {
        assert!(msgs.iter().all(|m| m.decoded), "every message is MQTT");
    }
}

/// MQTT's control packet types by the high nibble of their first byte (MQTT 5.0 §2.1.2).
pub const MQTT_KINDS: [&str; 16] = [
    "",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];
