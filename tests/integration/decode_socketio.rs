//! The Socket.IO decoder over real captures (samples/apps/socketio/): a Node `socket.io`
//! server and `socket.io-client`, checked against what each peer logged it sent.

use std::path::PathBuf;

use serde_json::Value;
use wsdissect::base::Direction;
use wsdissect::decode::Unit;
use wsdissect::event::Event;

use crate::common::{dissect_full, repo};

fn dir() -> PathBuf {
    repo().join("samples/apps/socketio")
}

/// A peer's JSON-lines log.
fn log(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join(name)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// One WebSocket message and the unit it decoded to.
#[derive(Debug)]
struct Decoded {
    dir: Direction,
    index: u64,
    ts: u64,
    compressed: bool,
    unit: Unit,
}

/// Every message of the capture's WebSocket session, with its one decoded unit, and every
/// diagnostic's rule name.
fn decode(capture: &str) -> (Vec<Decoded>, Vec<String>) {
    let mut out = Vec::new();
    let mut rules = Vec::new();
    for ev in dissect_full(&dir().join(capture)) {
        match ev {
            Event::Message(m) => {
                let d = m.decoded.as_ref().unwrap_or_else(|| {
                    panic!(
                        "{capture}: {} message {} not decoded",
                        m.dir.as_str(),
                        m.index
                    )
                });
                assert_eq!(d.protocol.as_str(), "socket.io");
                assert_eq!(d.units.len(), 1, "one Engine.IO packet per message");
                out.push(Decoded {
                    dir: m.dir,
                    index: m.index,
                    ts: m.last_packet.ts.0,
                    compressed: m.compressed,
                    unit: d.units[0].clone(),
                });
            }
            Event::Diagnostic(d) => rules.push(d.rule.name.to_string()),
            _ => {}
        }
    }
    (out, rules)
}

/// What a sender's log says it sent over the WebSocket transport, in order: Engine.IO packets
/// (type and data) and, for each Socket.IO packet, the parser's record of it.
struct Sent {
    engine: Vec<Value>,
    socketio: Vec<Value>,
}

fn sent(log: &[Value]) -> Sent {
    let by = |layer: &str| {
        log.iter()
            .filter(|r| r["layer"] == layer && r["dir"] == "sent")
            .cloned()
            .collect::<Vec<_>>()
    };
    let engine = by("engine.io")
        .into_iter()
        .filter(|r| r["transport"] == "websocket")
        .collect();
    Sent {
        engine,
        socketio: by("socket.io"),
    }
}

/// Arguments compared with binary parts blanked: the log shows a Buffer as `{binary: N}`, the
/// wire as a placeholder.
fn blank_binary(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.contains_key("binary") || m.contains_key("_placeholder") => {
            Value::String("<binary>".into())
        }
        Value::Array(a) => Value::Array(a.iter().map(blank_binary).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), blank_binary(x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The units of one direction that the sender logged (not the open packet, the upgrade probe or
/// the upgrade packet, which Engine.IO writes to the transport without an event) are, in order,
/// the packets it logged.
fn check_direction(units: &[&Decoded], sender: &Sent, who: &str) {
    let logged: Vec<&&Decoded> = units
        .iter()
        .filter(|d| {
            !(d.unit.kind == "open"
                || d.unit.kind == "upgrade"
                || d.unit.fields.get("probe") == Some(&Value::Bool(true)))
        })
        .collect();
    assert_eq!(
        logged.len(),
        sender.engine.len(),
        "{who}: messages decoded vs Engine.IO packets logged"
    );
    let mut sio = sender.socketio.iter();
    let mut attachments_left = 0;
    for (d, rec) in logged.iter().zip(&sender.engine) {
        let at = format!("{who} message {} ({})", d.index, rec);
        let ty = rec["type"].as_str().unwrap();
        let u = &d.unit;
        if ty != "message" {
            assert_eq!(u.kind, ty, "{at}");
            assert_eq!(u.heartbeat, ty == "ping" || ty == "pong", "{at}");
            continue;
        }
        if let Some(size) = rec["data"]["binary"].as_u64() {
            assert_eq!(u.kind, "attachment", "{at}");
            assert_eq!(u.fields["size"], size, "{at}");
            assert!(attachments_left > 0, "{at}: an attachment nobody announced");
            attachments_left -= 1;
            if attachments_left == 0 {
                assert!(
                    u.fields.contains_key("sizes"),
                    "{at}: the last says all arrived"
                );
            }
            continue;
        }
        let wire = rec["data"].as_str().unwrap();
        // the Socket.IO record of this packet (volatile packets the engine dropped are skipped)
        let p = sio
            .by_ref()
            .find(|p| p["wire"] == wire)
            .unwrap_or_else(|| panic!("{at}: no Socket.IO record"));
        assert_eq!(u.kind, p["type"].as_str().unwrap(), "{at}");
        assert_eq!(u.fields["nsp"], p["nsp"], "{at}");
        assert_eq!(u.fields.get("id"), p.get("id"), "{at}");
        let data = &p["data"];
        match u.kind.as_str() {
            "EVENT" | "BINARY_EVENT" => {
                let args = Value::Array(data.as_array().unwrap()[1..].to_vec());
                assert_eq!(u.fields["event"], data[0], "{at}");
                assert_eq!(blank_binary(&u.fields["args"]), blank_binary(&args), "{at}");
                let nsp = p["nsp"].as_str().unwrap();
                let name = data[0].as_str().unwrap();
                let key = if nsp == "/" {
                    name.to_string()
                } else {
                    format!("{nsp} {name}")
                };
                assert_eq!(u.key.as_deref(), Some(key.as_str()), "{at}");
            }
            "ACK" | "BINARY_ACK" => {
                assert_eq!(blank_binary(&u.fields["args"]), blank_binary(data), "{at}")
            }
            "CONNECT" if d.dir == Direction::ClientToServer => {
                assert_eq!(u.fields.get("auth"), p.get("data"), "{at}")
            }
            "CONNECT" => assert_eq!(u.fields["sid"], data["sid"], "{at}"),
            "CONNECT_ERROR" => assert_eq!(u.fields["message"], data["message"], "{at}"),
            _ => {}
        }
        let announced = p["attachments"].as_array().unwrap().len();
        assert_eq!(
            u.fields.get("attachments").and_then(Value::as_u64),
            (announced > 0).then_some(announced as u64),
            "{at}"
        );
        attachments_left = announced;
    }
}

/// Every ACK answers the EVENT with its id and namespace from the other side, every heartbeat
/// pong its ping, with round-trip times a loopback run can have.
fn check_answers(all: &[Decoded]) {
    let mut acks = 0;
    let mut pongs = 0;
    for d in all {
        let u = &d.unit;
        let is_ack = u.kind == "ACK" || u.kind == "BINARY_ACK";
        if !(is_ack || u.kind == "pong") {
            continue;
        }
        let a = u
            .answers
            .as_ref()
            .unwrap_or_else(|| panic!("{u:?} answers nothing"));
        assert_ne!(a.dir, d.dir);
        let q = all
            .iter()
            .find(|q| q.dir == a.dir && q.index == a.message)
            .unwrap();
        assert_eq!(a.rtt_ns, d.ts - q.ts);
        assert!(a.rtt_ns > 0 && a.rtt_ns < 1_000_000_000, "rtt {}", a.rtt_ns);
        if is_ack {
            acks += 1;
            assert!(q.unit.kind.ends_with("EVENT"), "{:?}", q.unit);
            assert_eq!(q.unit.fields["id"], u.fields["id"]);
            assert_eq!(q.unit.fields["nsp"], u.fields["nsp"]);
            assert_eq!(q.unit.key, u.key, "an ack is keyed by the event it answers");
        } else {
            pongs += 1;
            assert_eq!(q.unit.kind, "ping");
        }
    }
    assert!(acks >= 5, "acks both ways, binary and not: {acks}");
    assert!(pongs >= 3, "several heartbeats: {pongs}");
}

/// The whole check of one capture against its two logs.
fn check(name: &str) -> Vec<Decoded> {
    let (all, rules) = decode(&format!("{name}.pcap"));
    let socketio_rules: Vec<_> = rules.iter().filter(|r| r.starts_with("socketio")).collect();
    assert!(socketio_rules.is_empty(), "{name}: {socketio_rules:?}");
    let server = log(&format!("{name}.server.jsonl"));
    let client = log(&format!("{name}.client.jsonl"));
    let of = |dir| all.iter().filter(|d| d.dir == dir).collect::<Vec<_>>();
    check_direction(&of(Direction::ClientToServer), &sent(&client), "client");
    check_direction(&of(Direction::ServerToClient), &sent(&server), "server");
    check_answers(&all);
    let kinds: Vec<&str> = all.iter().map(|d| d.unit.kind.as_str()).collect();
    for kind in [
        "CONNECT",
        "CONNECT_ERROR",
        "DISCONNECT",
        "BINARY_EVENT",
        "BINARY_ACK",
    ] {
        assert!(kinds.contains(&kind), "{name}: no {kind}");
    }
    all
}

#[test]
fn socketio_websocket_session_matches_the_peers_logs() {
    let all = check("plain");
    // the session opened on the WebSocket: the first server message is the open packet, whose
    // sid is the one the server's engine logged
    let open = &all
        .iter()
        .find(|d| d.dir == Direction::ServerToClient)
        .unwrap()
        .unit;
    assert_eq!(open.kind, "open");
    let server = log("plain.server.jsonl");
    let sid = server.iter().find(|r| r["event"] == "open").unwrap()["sid"].clone();
    assert_eq!(open.fields["sid"], sid);
    assert_eq!(open.fields["ping_interval"], 300);
    assert_eq!(open.fields["ping_timeout"], 2000);
    assert!(open.fields["max_payload"].is_u64());
}

#[test]
fn socketio_upgraded_compressed_session_matches_the_peers_logs() {
    let all = check("deflate");
    assert!(all.iter().filter(|d| d.compressed).count() > all.len() / 2);
    // it began with long-polling: the WebSocket starts with the probe and the upgrade
    let first: Vec<(&str, Option<&Value>)> = all[..3]
        .iter()
        .map(|d| (d.unit.kind.as_str(), d.unit.fields.get("probe")))
        .collect();
    let probe = Some(&Value::Bool(true));
    assert_eq!(first, [("ping", probe), ("pong", probe), ("upgrade", None)]);
    assert!(!all[0].unit.heartbeat);
    assert_eq!(all[1].unit.answers.as_ref().unwrap().message, all[0].index);
}

/// The NDJSON message records carry the same units, and a table of the capture groups them by
/// event with the acks' round-trip times.
#[test]
fn socketio_ndjson_and_table_show_the_decoded_units() {
    for name in ["plain", "deflate"] {
        let capture = dir().join(format!("{name}.pcap"));
        let (all, _) = decode(&format!("{name}.pcap"));
        let run = |format: &str| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsdissect"))
                .args(["--color", "never", "--format", format])
                .arg(&capture)
                .output()
                .unwrap();
            assert!(out.status.success(), "{name} {format}");
            String::from_utf8(out.stdout).unwrap()
        };
        let records: Vec<Value> = run("json")
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["type"] == "message")
            .collect();
        assert_eq!(records.len(), all.len(), "{name}");
        for (r, d) in records.iter().zip(&all) {
            assert_eq!(r["dir"], d.dir.as_str());
            assert_eq!(r["index"], d.index);
            let dec = &r["decoded"];
            assert_eq!(dec["protocol"], "socket.io");
            let u = &dec["units"][0];
            assert_eq!(u["kind"], d.unit.kind.as_str());
            assert_eq!(u["summary"], d.unit.summary.as_str());
            assert_eq!(u.get("key").and_then(Value::as_str), d.unit.key.as_deref());
            assert_eq!(u["fields"], Value::Object(d.unit.fields.clone()));
            assert_eq!(u["heartbeat"], d.unit.heartbeat);
            match (&u.get("answers"), &d.unit.answers) {
                (None, None) => {}
                (Some(j), Some(a)) => {
                    assert_eq!(j["id"], a.id.as_str());
                    assert_eq!(j["message"], a.message);
                    let ms = j["rtt_ms"].as_f64().unwrap();
                    assert!((ms - a.rtt_ns as f64 / 1e6).abs() < 1e-6);
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        let table = run("table");
        for key in ["add", "upload", "download", "question", "/admin stats"] {
            assert!(
                table.contains(key),
                "{name}: no {key:?} in the table:\n{table}"
            );
        }
    }
}
