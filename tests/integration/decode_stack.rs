//! Decoders read messages, never frames (issue 15), so they work the same over TLS and over
//! HTTP/2. Shown on real captures in samples/apps/stack/ (README.md there), through the binary
//! as a user runs it (`wsdissect --tls-keylog KEYS --format json`), against the peers' logs:
//!
//! - MQTT over wss: every packet paho-mqtt logged is decoded with its kind, topic, QoS and
//!   packet id, answers matched; and the decoded units are those of the same session over
//!   plain ws;
//! - JSON-RPC 2.0 over WebSocket over HTTP/2 over TLS: every request, notification, batch
//!   element, response and error either side logged is decoded, and each answer is matched
//!   to its request on its own stream; and the same exchange over plain HTTP/1.1 decodes to
//!   the same units.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::repo;

fn stack(name: &str) -> PathBuf {
    repo().join("samples/apps/stack").join(name)
}

/// The NDJSON records of `wsdissect --tls-keylog KEYS --format json CAPTURE`.
fn ndjson(capture: &str, keys: Option<&str>) -> Vec<Value> {
    let mut args = Vec::new();
    if let Some(k) = keys {
        args.push(PathBuf::from("--tls-keylog"));
        args.push(stack(k));
    }
    args.push(stack(capture));
    crate::common::ndjson_records(&args)
}

fn of_type<'a>(records: &'a [Value], t: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

/// The decoded units of one direction's messages, in order; every message must be decoded
/// as `protocol`.
fn units<'a>(records: &'a [Value], dir: &str, protocol: &str) -> Vec<&'a Value> {
    units_on(records, None, dir, protocol)
}

/// The same, of one HTTP/2 stream's messages (all messages when `stream` is None).
fn units_on<'a>(
    records: &'a [Value],
    stream: Option<u64>,
    dir: &str,
    protocol: &str,
) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for m in of_type(records, "message") {
        if m["dir"] != dir || stream.is_some_and(|s| m["stream"] != s) {
            continue;
        }
        let d = &m["decoded"];
        assert_eq!(d["protocol"], protocol, "message not decoded: {m}");
        out.extend(d["units"].as_array().unwrap());
    }
    out
}

/// Rules of diagnostics that are not about the connection's TLS ending.
fn findings(records: &[Value]) -> Vec<String> {
    of_type(records, "diagnostic")
        .iter()
        .map(|d| d["rule"].as_str().unwrap().to_string())
        .filter(|r| r != "tls-close-notify")
        .collect()
}

// --------------------------------------------------------------------------- MQTT over wss

/// A packet as paho logged it: `Sending PUBLISH (d0, q1, r0, m3), 'b'a/b'', ... (8 bytes)`,
/// `Received PUBACK (Mid: 3)`, `Sending SUBSCRIBE (d0, m1) [...]`.
#[derive(Debug)]
struct Packet {
    line: String,
    kind: String,
    id: Option<u64>,
    qos: Option<u64>,
    topic: Option<String>,
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// paho's log of what it sent and what it received, in order.
fn paho(log: &str) -> (Vec<Packet>, Vec<Packet>) {
    let text = std::fs::read_to_string(stack(log)).unwrap();
    let (mut sent, mut received) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let Some((_, rest)) = line.split_once(" log ") else {
            continue;
        };
        let (list, rest) = match (
            rest.strip_prefix("Sending "),
            rest.strip_prefix("Received "),
        ) {
            (Some(r), _) => (&mut sent, r),
            (_, Some(r)) => (&mut received, r),
            _ => continue,
        };
        let kind = rest.split([' ', ',']).next().unwrap().to_string();
        let mut p = Packet {
            line: line.to_string(),
            kind,
            id: between(rest, "(Mid: ", ")").map(|m| m.parse().unwrap()),
            qos: None,
            topic: None,
        };
        match p.kind.as_str() {
            "PUBLISH" => {
                let flags = between(rest, "(", ")").unwrap();
                let num = |prefix: char| -> u64 {
                    let f = flags.split(", ").find(|f| f.starts_with(prefix)).unwrap();
                    f[1..].parse().unwrap()
                };
                let qos = num('q');
                p.qos = Some(qos);
                p.id = (qos > 0).then(|| num('m'));
                let quoted = rest.split_once("), '").unwrap().1;
                let quoted = quoted.strip_prefix("b'").unwrap_or(quoted);
                p.topic = Some(quoted.split('\'').next().unwrap().to_string());
            }
            "SUBSCRIBE" | "UNSUBSCRIBE" => {
                p.id = Some(between(rest, ", m", ")").unwrap().parse().unwrap());
            }
            _ => {}
        }
        list.push(p);
    }
    (sent, received)
}

const MQTT_ANSWERS: [&str; 7] = [
    "CONNACK", "PUBACK", "PUBREC", "PUBCOMP", "SUBACK", "UNSUBACK", "PINGRESP",
];

fn check_mqtt(p: &Packet, u: &Value) {
    let at = &p.line;
    let fields = &u["fields"];
    assert_eq!(u["kind"], p.kind.as_str(), "{at}");
    if let Some(qos) = p.qos {
        assert_eq!(fields["qos"], qos, "{at}");
    }
    if let Some(topic) = &p.topic {
        assert_eq!(fields["topic"], topic.as_str(), "{at}");
        assert_eq!(u["key"], topic.as_str(), "{at}");
    }
    if p.kind == "PUBLISH" || p.id.is_some() {
        assert_eq!(fields["packet_id"], json!(p.id), "{at}");
    }
    assert_eq!(
        u["heartbeat"],
        p.kind == "PINGREQ" || p.kind == "PINGRESP",
        "{at}"
    );
    if MQTT_ANSWERS.contains(&p.kind.as_str()) {
        let a = &u["answers"];
        assert!(a.is_object(), "{at}: no question matched: {u}");
        let rtt = a["rtt_ms"].as_f64().unwrap();
        assert!(rtt > 0.0 && rtt < 1000.0, "{at}: rtt {rtt} ms");
        if let Some(id) = p.id {
            assert_eq!(a["id"], id.to_string(), "{at}");
        }
    }
}

/// Every packet paho logged in `log`, in order, is the decoded unit of the capture's
/// messages in its direction.
fn check_paho_session(records: &[Value], log: &str) {
    let (sent, received) = paho(log);
    assert!(sent.len() >= 10 && received.len() >= 10, "{log} is short");
    for (dir, logged) in [("c2s", sent), ("s2c", received)] {
        let got = units(records, dir, "mqtt");
        let kinds = |u: &[&Value]| -> Vec<String> {
            u.iter()
                .map(|u| u["kind"].as_str().unwrap().to_string())
                .collect()
        };
        let want: Vec<String> = logged.iter().map(|p| p.kind.clone()).collect();
        assert_eq!(kinds(&got), want, "{log} {dir}");
        for (p, u) in logged.iter().zip(got) {
            check_mqtt(p, u);
        }
    }
}

#[test]
fn mqtt_over_wss_decodes_every_packet_paho_logged() {
    let records = ndjson("mqtt-wss.pcap", Some("mqtt-wss.keys"));
    let conn = of_type(&records, "connection");
    assert_eq!(conn.len(), 1);
    assert_eq!(conn[0]["tls"]["decrypted"], true, "{}", conn[0]);
    let hs = of_type(&records, "handshake");
    assert_eq!(hs[0]["subprotocol"], "mqtt");
    check_paho_session(&records, "paho-wss.log");
    assert!(findings(&records).is_empty(), "{:?}", findings(&records));
}

#[test]
fn mqtt_over_plain_ws_decodes_every_packet_paho_logged() {
    let records = ndjson("mqtt-ws.pcap", None);
    check_paho_session(&records, "paho-ws.log");
    assert!(findings(&records).is_empty(), "{:?}", findings(&records));
}

/// What a decoded unit says, without what depends on the run (the round-trip time).
fn unit_sans_timing(u: &Value) -> Value {
    let mut u = u.clone();
    if let Some(a) = u.get_mut("answers").and_then(Value::as_object_mut) {
        a.remove("rtt_ms");
    }
    u
}

/// TLS changes nothing that was decoded: the same session over ws and over wss gives the
/// same units (kinds, summaries, keys, fields, which message each answers).
#[test]
fn mqtt_decoded_units_are_the_same_over_ws_and_wss() {
    let plain = ndjson("mqtt-ws.pcap", None);
    let tls = ndjson("mqtt-wss.pcap", Some("mqtt-wss.keys"));
    for dir in ["c2s", "s2c"] {
        let a: Vec<Value> = units(&plain, dir, "mqtt")
            .into_iter()
            .map(unit_sans_timing)
            .collect();
        let b: Vec<Value> = units(&tls, dir, "mqtt")
            .into_iter()
            .map(unit_sans_timing)
            .collect();
        assert!(a.len() >= 10);
        assert_eq!(a, b, "{dir}");
    }
    // Without the key log nothing is decrypted, so nothing is decoded, and it says why.
    let locked = ndjson("mqtt-wss.pcap", None);
    assert!(of_type(&locked, "message").is_empty());
}

// ------------------------------------------------------- JSON-RPC over WebSocket over h2 over TLS

/// One JSON-RPC object as the decoder must show it: its kind, and the fields it must carry.
fn expected_unit(v: &Value, batch: bool) -> (String, Value) {
    let o = v.as_object().unwrap();
    let mut fields = serde_json::Map::new();
    let kind = if let Some(m) = o.get("method") {
        fields.insert("method".into(), m.clone());
        if let Some(p) = o.get("params") {
            fields.insert("params".into(), p.clone());
        }
        match o.get("id") {
            Some(id) => {
                fields.insert("id".into(), id.clone());
                "request"
            }
            None => "notification",
        }
    } else if let Some(r) = o.get("result") {
        fields.insert("id".into(), o["id"].clone());
        fields.insert("result".into(), r.clone());
        "response"
    } else {
        let e = &o["error"];
        fields.insert("id".into(), o["id"].clone());
        fields.insert("code".into(), e["code"].clone());
        fields.insert("message".into(), e["message"].clone());
        "error"
    };
    if batch {
        fields.insert("batch".into(), Value::Bool(true));
    }
    (kind.to_string(), Value::Object(fields))
}

/// The texts one side logged it sent on one WebSocket (`key` = `stream` in the client's log,
/// `path` in the server's), as the units they must decode to.
fn logged_units(log: &str, key: &str, on: Value) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(stack(log)).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        if r["dir"] != "sent" || r[key] != on {
            continue;
        }
        let v: Value = serde_json::from_str(r["text"].as_str().unwrap()).unwrap();
        match &v {
            Value::Array(items) => out.extend(items.iter().map(|i| expected_unit(i, true))),
            _ => out.push(expected_unit(&v, false)),
        }
    }
    out
}

#[test]
fn jsonrpc_over_h2_over_tls_decodes_every_logged_message() {
    let records = ndjson("jsonrpc-h2.pcap", Some("jsonrpc-h2.keys"));
    let conn = of_type(&records, "connection");
    assert_eq!(conn.len(), 1);
    assert_eq!(conn[0]["tls"]["decrypted"], true);
    assert_eq!(conn[0]["tls"]["alpn"], "h2");
    // Stream 1 negotiated `jsonrpc`; stream 3 negotiated nothing, so its decoder was
    // recognised from its first message.
    let hs = of_type(&records, "handshake");
    let streams: Vec<_> = hs
        .iter()
        .map(|h| (&h["stream"], &h["subprotocol"]))
        .collect();
    assert_eq!(
        streams,
        [(&json!(1), &json!("jsonrpc")), (&json!(3), &Value::Null)]
    );
    // Each side logged what it sent, per WebSocket: the client by stream, the server by path.
    for (stream, path) in [(1, "/rpc"), (3, "/rpc-b")] {
        for (dir, logged) in [
            (
                "c2s",
                logged_units("jsonrpc-h2.client.jsonl", "stream", json!(stream)),
            ),
            (
                "s2c",
                logged_units("jsonrpc-h2.server.jsonl", "path", json!(path)),
            ),
        ] {
            let got = units_on(&records, Some(stream), dir, "json-rpc");
            check_jsonrpc_units(&format!("stream {stream} {dir}"), &got, &logged);
        }
        check_jsonrpc_answers(&records, Some(stream));
    }
    // The 30 kB request went as three WebSocket fragments spanning HTTP/2 DATA frames and TLS
    // records: one message, decoded whole.
    let messages = of_type(&records, "message");
    let big: Vec<_> = messages.iter().filter(|m| m["fragments"] == 3).collect();
    assert_eq!(big.len(), 1);
    let name = &big[0]["decoded"]["units"][0]["fields"]["params"]["name"];
    assert_eq!(name.as_str().map(str::len), Some(30000));
    assert!(findings(&records).is_empty(), "{:?}", findings(&records));
}

/// The units decoded on one stream in one direction are those the sender logged (`at` names
/// them in a failure).
fn check_jsonrpc_units(at: &str, got: &[&Value], logged: &[(String, Value)]) {
    assert_eq!(got.len(), logged.len(), "{at}: {got:?}");
    for ((kind, fields), u) in logged.iter().zip(got) {
        assert_eq!(u["kind"], kind.as_str(), "{at}: {u}");
        for (k, v) in fields.as_object().unwrap() {
            assert_eq!(&u["fields"][k], v, "{at} {k}: {u}");
        }
        if u["fields"].get("batch").is_some() {
            assert_eq!(fields.get("batch"), Some(&Value::Bool(true)), "{at}: {u}");
        }
    }
}

/// Every response and error answers the request of its id sent the other way on the same
/// stream (the streams' ids collide), and is keyed by that request's method; the server's own
/// `tick` notifications answer nothing.
fn check_jsonrpc_answers(records: &[Value], stream: Option<u64>) {
    let requests = units_on(records, stream, "c2s", "json-rpc");
    let mut answered = 0;
    for u in units_on(records, stream, "s2c", "json-rpc") {
        match u["kind"].as_str().unwrap() {
            "response" | "error" => {
                let id = &u["fields"]["id"];
                let a = &u["answers"];
                assert_eq!(a["id"], id.to_string(), "{u}");
                assert_eq!(a["dir"], "c2s", "{u}");
                let rtt = a["rtt_ms"].as_f64().unwrap();
                assert!(rtt > 0.0 && rtt < 1000.0, "{u}");
                let asked = requests
                    .iter()
                    .find(|r| r["kind"] == "request" && &r["fields"]["id"] == id)
                    .unwrap_or_else(|| panic!("no request with id {id}"));
                assert_eq!(u["key"], asked["fields"]["method"], "{u}");
                answered += 1;
            }
            "notification" => {
                assert_eq!(u["key"], "tick");
                assert!(u.get("answers").is_none(), "{u}");
            }
            k => panic!("the server sent a {k}: {u}"),
        }
    }
    let asked = requests.iter().filter(|r| r["kind"] == "request").count();
    assert_eq!(answered, asked, "every request is answered once");
    if stream != Some(3) {
        let error = units_on(records, stream, "s2c", "json-rpc")
            .into_iter()
            .find(|u| u["kind"] == "error")
            .unwrap();
        assert_eq!(error["fields"]["code"], -32601);
        assert_eq!(error["key"], "no_such_method");
    }
}

/// HTTP/2 and TLS change nothing that was decoded: stream 1's exchange, sent again over
/// plain HTTP/1.1 WebSocket (jsonrpc-h1.pcap, websockets' client, which fragments the big
/// request into four frames instead of three), decodes to the same units.
#[test]
fn jsonrpc_decoded_units_are_the_same_over_h2_tls_and_plain_ws() {
    let h2 = ndjson("jsonrpc-h2.pcap", Some("jsonrpc-h2.keys"));
    let h1 = ndjson("jsonrpc-h1.pcap", None);
    assert_eq!(of_type(&h1, "handshake")[0]["subprotocol"], "jsonrpc");
    for dir in ["c2s", "s2c"] {
        let logged = if dir == "c2s" {
            logged_units("jsonrpc-h1.client.jsonl", "path", json!("/rpc-h1"))
        } else {
            logged_units("jsonrpc-h1.server.jsonl", "path", json!("/rpc-h1"))
        };
        let plain = units(&h1, dir, "json-rpc");
        check_jsonrpc_units(&format!("h1 {dir}"), &plain, &logged);
        let over_h2: Vec<Value> = units_on(&h2, Some(1), dir, "json-rpc")
            .into_iter()
            .map(unit_sans_timing)
            .collect();
        let plain: Vec<Value> = plain.into_iter().map(unit_sans_timing).collect();
        assert!(plain.len() >= 10);
        assert_eq!(plain, over_h2, "{dir}");
    }
    check_jsonrpc_answers(&h1, None);
    assert!(findings(&h1).is_empty(), "{:?}", findings(&h1));
}

// --------------------------------------------------------------------------- the views

/// The default view and `--format conversation` show the decoded lines over TLS and h2 too,
/// within 80 columns.
#[test]
fn stack_views_show_the_decoded_packets() {
    for (capture, keys, wanted) in [
        (
            "mqtt-wss.pcap",
            "mqtt-wss.keys",
            &[
                "mqtt PUBLISH wsd/stack/q2/x qos 2 id 4",
                "mqtt PUBCOMP id 4",
            ][..],
        ),
        (
            "jsonrpc-h2.pcap",
            "jsonrpc-h2.keys",
            &[
                "json-rpc request id \"sub-1\" subscribe",
                "json-rpc error id 7 -32601",
                "json-rpc notification tick",
            ][..],
        ),
    ] {
        for view in [&[][..], &["--format", "conversation"][..]] {
            let out = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
                .args(["--color", "never", "--tls-keylog"])
                .arg(stack(keys))
                .args(view)
                .arg(stack(capture))
                .output()
                .unwrap();
            assert!(out.status.success(), "{capture} {view:?}");
            let text = String::from_utf8(out.stdout).unwrap();
            for w in wanted {
                assert!(text.contains(w), "{capture} {view:?}: no {w:?} in\n{text}");
            }
            for line in text.lines() {
                assert!(line.chars().count() <= 80, "{capture} {view:?}: {line}");
            }
        }
    }
}
