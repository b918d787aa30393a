//! Every trace of Zeek's WebSocket test suite (tests/peer/zeek/, BSD licence in
//! tests/peer/zeek/COPYING.zeek) against what Zeek's own baselines say about it.
//!
//! The expected values are read from Zeek's baseline files at run time wherever they can be
//! (tests/peer/zeek/baselines/<test>__<file>), so an assertion cannot drift from Zeek's word.
//! Where wsdissect and Zeek disagree, the test asserts the value the raw bytes prove and says
//! so in a comment; docs/zeek.md has one section per disagreement.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::{dissect_full, repo};
use wsdissect::base::rules::Severity;
use wsdissect::base::{ConnId, Direction};
use wsdissect::event::Handshake;
use wsdissect::event::{ConnectionInfo, EndReason, Event};
use wsdissect::http::Extension;

// ---------------------------------------------------------------------------------------------
// Files

fn zeek_dir() -> PathBuf {
    repo().join("tests/peer/zeek")
}

fn dissect(trace: &str) -> Vec<Event> {
    dissect_full(&zeek_dir().join("traces").join(trace))
}

fn baseline(name: &str) -> String {
    let p = zeek_dir().join("baselines").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A Zeek log as written by btest: either full ASCII-log format (`#fields` line) or the
/// zeek-cut form (first non-comment line is the header). One map per row, field → value.
fn zeek_log(name: &str) -> Vec<BTreeMap<String, String>> {
    let text = baseline(name);
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            header = Some(f.split('\t').map(String::from).collect());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<String> = line.split('\t').map(String::from).collect();
        match &header {
            None => header = Some(cols),
            Some(h) => {
                assert_eq!(h.len(), cols.len(), "{name}: {line}");
                rows.push(h.iter().cloned().zip(cols).collect());
            }
        }
    }
    rows
}

/// Zeek's print escaping: non-printable bytes as `\xNN`, everything else literal.
fn zeek_unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Zeek's `WebSocket::opcodes` names, as opcode numbers (RFC 6455 §5.2).
fn zeek_opcode(name: &str) -> u8 {
    match name {
        "continuation" => 0x0,
        "text" => 0x1,
        "binary" => 0x2,
        "close" => 0x8,
        "ping" => 0x9,
        "pong" => 0xA,
        other => panic!("unknown Zeek opcode name {other}"),
    }
}

/// Zeek's `T`/`F` for `is_orig` (the originator is the client in every trace here).
fn zeek_dir_of(is_orig: &str) -> Direction {
    match is_orig {
        "T" => Direction::ClientToServer,
        "F" => Direction::ServerToClient,
        other => panic!("bad is_orig {other}"),
    }
}

fn zeek_bool(s: &str) -> bool {
    match s {
        "T" => true,
        "F" => false,
        other => panic!("bad bool {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Zeek's event printouts (websocket.events__out, websocket.coalesced-reply-ping__out-*)

/// One printed Zeek event, in the form we can also derive from our events.
#[derive(Debug, Clone, PartialEq)]
enum Z {
    Frame {
        dir: Direction,
        fin: bool,
        rsv: u8,
        opcode: u8,
        len: u64,
    },
    /// `len` is the chunk length; `data` is what Zeek printed (`data[:120]`), unescaped.
    Data {
        dir: Direction,
        len: u64,
        data: Vec<u8>,
    },
    /// Zeek reports status 0 for a close frame without a status code.
    Close {
        dir: Direction,
        status: u16,
        reason: String,
    },
    Message {
        dir: Direction,
        opcode: u8,
    },
}

/// Zeek's `data[:120]` in websocket_frame_data.
const ZEEK_DATA_PREFIX: usize = 120;

fn parse_zeek_events(lines: &[&str]) -> Vec<Z> {
    let mut out = Vec::new();
    for line in lines {
        let kind = line.split(", ").next().unwrap();
        match kind {
            "websocket_frame" => {
                // websocket_frame, uid, T, fin, T, rsv, 0, opcode, ping, payload_len, 4
                let p: Vec<&str> = line.split(", ").collect();
                assert_eq!(p.len(), 11, "{line}");
                assert_eq!(
                    (p[3], p[5], p[7], p[9]),
                    ("fin", "rsv", "opcode", "payload_len")
                );
                out.push(Z::Frame {
                    dir: zeek_dir_of(p[2]),
                    fin: zeek_bool(p[4]),
                    rsv: p[6].parse().unwrap(),
                    opcode: zeek_opcode(p[8]),
                    len: p[10].parse().unwrap(),
                });
            }
            "websocket_frame_data" => {
                // websocket_frame_data, uid, T, len, 4, data, <escaped bytes, may contain ", ">
                let p: Vec<&str> = line.splitn(7, ", ").collect();
                assert_eq!((p[3], p[5]), ("len", "data"), "{line}");
                out.push(Z::Data {
                    dir: zeek_dir_of(p[2]),
                    len: p[4].parse().unwrap(),
                    data: zeek_unescape(p[6]),
                });
            }
            "websocket_close" => {
                // websocket_close, uid, T, status, 1000, reason, <reason>
                let p: Vec<&str> = line.splitn(7, ", ").collect();
                assert_eq!((p[3], p[5]), ("status", "reason"), "{line}");
                out.push(Z::Close {
                    dir: zeek_dir_of(p[2]),
                    status: p[4].parse().unwrap(),
                    reason: p[6].to_string(),
                });
            }
            "websocket_message" => {
                // websocket_message, uid, T, opcode, binary
                let p: Vec<&str> = line.split(", ").collect();
                assert_eq!(p[3], "opcode", "{line}");
                out.push(Z::Message {
                    dir: zeek_dir_of(p[2]),
                    opcode: zeek_opcode(p[4]),
                });
            }
            "websocket_established" => {}
            other => panic!("unexpected Zeek event {other}: {line}"),
        }
    }
    out
}

/// The lines websocket.events__out printed for one trace (the test echoes each trace's name
/// before running Zeek on it).
fn events_out_section(trace: &str) -> Vec<String> {
    let text = baseline("websocket.events__out");
    let mut lines = text.lines().filter(|l| !l.starts_with("###"));
    let mut out = Vec::new();
    for l in lines.by_ref() {
        if l == trace {
            break;
        }
    }
    for l in lines {
        if l.ends_with(".pcap") && !l.contains(", ") {
            break;
        }
        out.push(l.to_string());
    }
    assert!(
        !out.is_empty(),
        "no section for {trace} in websocket.events__out"
    );
    out
}

/// The same Zeek events, derived from ours. Zeek raises websocket_message for control frames
/// too (one per frame); we emit Message events only for text/binary messages, so a control
/// frame yields a synthetic message here. `with_messages` is false for the coalesced-ping test,
/// whose script does not print websocket_message.
fn our_zeek_view(events: &[Event], conn: ConnId, with_messages: bool) -> Vec<Z> {
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::Frame(f) if f.conn == conn => {
                let h = &f.header;
                out.push(Z::Frame {
                    dir: f.dir,
                    fin: h.fin,
                    rsv: (u8::from(h.rsv1) << 2) | (u8::from(h.rsv2) << 1) | u8::from(h.rsv3),
                    opcode: h.opcode.bits(),
                    len: h.payload_len,
                });
                if f.payload.len > 0 {
                    out.push(Z::Data {
                        dir: f.dir,
                        len: f.payload.len,
                        data: f.payload.bytes.clone(),
                    });
                }
                if let Some(c) = &f.close {
                    out.push(Z::Close {
                        dir: f.dir,
                        status: c.code.unwrap_or(0),
                        reason: c.reason.clone(),
                    });
                }
                if with_messages && h.opcode.is_control() {
                    out.push(Z::Message {
                        dir: f.dir,
                        opcode: h.opcode.bits(),
                    });
                }
            }
            Event::Message(m) if m.conn == conn && with_messages => out.push(Z::Message {
                dir: m.dir,
                opcode: m.opcode.bits(),
            }),
            _ => {}
        }
    }
    out
}

/// Compare our events with Zeek's printout, in order. Frame data: Zeek printed the first 120
/// bytes, so our (unmasked) payload must start with them.
fn assert_same_events(trace: &str, ours: &[Z], zeek: &[Z]) {
    for (i, (o, z)) in ours.iter().zip(zeek).enumerate() {
        let ok = match (o, z) {
            (
                Z::Data { dir, len, data },
                Z::Data {
                    dir: zd,
                    len: zl,
                    data: zdata,
                },
            ) => {
                assert_eq!(
                    zdata.len() as u64,
                    (*zl).min(ZEEK_DATA_PREFIX as u64),
                    "{trace}: Zeek line {i}: unescaping Zeek's data[:120] went wrong"
                );
                dir == zd && len == zl && data.starts_with(zdata)
            }
            _ => o == z,
        };
        assert!(
            ok,
            "{trace}: event {i} differs\n ours: {o:?}\n zeek: {z:?}\n(ours so far: {:#?})",
            &ours[..i]
        );
    }
    assert_eq!(
        ours.len(),
        zeek.len(),
        "{trace}: number of frame/data/close/message events (ours {ours:#?})"
    );
}

// ---------------------------------------------------------------------------------------------
// Our events

struct Conn<'a> {
    info: &'a ConnectionInfo,
    handshake: &'a Handshake,
}

fn connections(events: &[Event]) -> Vec<Conn<'_>> {
    let mut out = Vec::new();
    for e in events {
        if let Event::Connection(c) = e {
            let handshake = events
                .iter()
                .find_map(|e| match e {
                    Event::Handshake(h) if h.conn == c.conn => Some(&**h),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("conn {}: no handshake", c.conn));
            out.push(Conn { info: c, handshake });
        }
    }
    out
}

fn only_connection(events: &[Event]) -> Conn<'_> {
    let mut c = connections(events);
    assert_eq!(c.len(), 1, "exactly one WebSocket connection");
    c.remove(0)
}

fn diagnostics(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Diagnostic(d) => Some(d.rule.name),
            _ => None,
        })
        .collect()
}

/// Zeek's test asserts `test ! -f weird.log`: Zeek saw nothing wrong. We should not either.
fn assert_no_diagnostics(trace: &str, events: &[Event]) {
    let d = diagnostics(events);
    assert!(d.is_empty(), "{trace}: unexpected diagnostics {d:?}");
}

fn assert_nothing_above_info(trace: &str, events: &[Event]) {
    for e in events {
        if let Event::Diagnostic(d) = e {
            assert!(
                d.rule.severity <= Severity::Info,
                "{trace}: {} {}",
                d.rule.name,
                d.message
            );
        }
    }
}

fn messages(events: &[Event], conn: ConnId, dir: Direction) -> Vec<&wsdissect::event::Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.conn == conn && m.dir == dir => Some(m),
            _ => None,
        })
        .collect()
}

fn frames(events: &[Event], conn: ConnId, dir: Direction) -> Vec<&wsdissect::event::Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Frame(f) if f.conn == conn && f.dir == dir => Some(f),
            _ => None,
        })
        .collect()
}

/// All of one direction's binary messages, concatenated: the tunnelled byte stream.
fn tunnel_stream(events: &[Event], conn: ConnId, dir: Direction) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages(events, conn, dir) {
        assert_eq!(m.opcode.bits(), 0x2, "tunnel messages are binary");
        assert!(!m.payload.truncated() && m.lost == 0);
        out.extend_from_slice(&m.payload.bytes);
    }
    out
}

fn end_reason(events: &[Event], conn: ConnId) -> EndReason {
    events
        .iter()
        .find_map(|e| match e {
            Event::ConnectionEnd(c) if c.conn == conn => Some(c.reason),
            _ => None,
        })
        .expect("connection end")
}

fn websocket_connection_count(events: &[Event]) -> u64 {
    events
        .iter()
        .find_map(|e| match e {
            Event::CaptureEnd(s) => Some(s.websocket_connections),
            _ => None,
        })
        .expect("capture end")
}

// ---------------------------------------------------------------------------------------------
// Handshake facts

/// A websocket.log field: `-` is unset.
fn opt(v: &str) -> Option<String> {
    (v != "-").then(|| v.to_string())
}

/// A websocket.log vector field (set separator `,`): `-` is unset, i.e. empty.
fn list(v: &str) -> Vec<String> {
    if v == "-" {
        Vec::new()
    } else {
        v.split(',').map(String::from).collect()
    }
}

/// Zeek logs the raw extension text, e.g. `permessage-deflate; client_max_window_bits`.
fn extension_matches(e: &Extension, zeek: &str) -> bool {
    let mut parts = zeek.split(';').map(str::trim);
    let name = parts.next().unwrap();
    let params: Vec<String> = parts.map(String::from).collect();
    let ours: Vec<String> = e
        .params
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    e.name == name && ours == params
}

fn assert_extensions(what: &str, ours: &[Extension], zeek: &str) {
    let z = list(zeek);
    assert_eq!(ours.len(), z.len(), "{what}: ours {ours:?}, Zeek {zeek}");
    for (o, z) in ours.iter().zip(&z) {
        assert!(extension_matches(o, z), "{what}: ours {o:?}, Zeek {z}");
    }
}

/// One websocket.log row against our connection and handshake.
fn assert_websocket_log_row(trace: &str, c: &Conn<'_>, row: &BTreeMap<String, String>) {
    let h = c.handshake;
    assert_eq!(c.info.client.ip().to_string(), row["id.orig_h"], "{trace}");
    assert_eq!(
        c.info.client.port().to_string(),
        row["id.orig_p"],
        "{trace}"
    );
    assert_eq!(c.info.server.ip().to_string(), row["id.resp_h"], "{trace}");
    assert_eq!(
        c.info.server.port().to_string(),
        row["id.resp_p"],
        "{trace}"
    );
    assert_eq!(h.host, opt(&row["host"]), "{trace}: host");
    assert_eq!(h.target, row["uri"], "{trace}: uri");
    assert_eq!(h.user_agent, opt(&row["user_agent"]), "{trace}: user_agent");
    assert_eq!(
        h.subprotocol,
        opt(&row["subprotocol"]),
        "{trace}: subprotocol"
    );
    assert_eq!(
        h.offered_protocols,
        list(&row["client_protocols"]),
        "{trace}: client_protocols"
    );
    assert_extensions(
        &format!("{trace}: server_extensions"),
        &h.extensions,
        &row["server_extensions"],
    );
    assert_extensions(
        &format!("{trace}: client_extensions"),
        &h.offered_extensions,
        &row["client_extensions"],
    );
    assert_eq!(
        h.status, 101,
        "{trace}: Zeek logged an established WebSocket"
    );
}

/// The `c$websocket` record printed with websocket_established in websocket.events__out:
/// `[..., host=..., uri=..., ..., client_key=..., server_accept=...]`.
fn established_record(section: &[String]) -> BTreeMap<&'static str, String> {
    let line = section
        .iter()
        .find(|l| l.starts_with("websocket_established"))
        .expect("websocket_established line");
    const KEYS: [&str; 9] = [
        "host",
        "uri",
        "user_agent",
        "subprotocol",
        "client_protocols",
        "server_extensions",
        "client_extensions",
        "client_key",
        "server_accept",
    ];
    let mut out = BTreeMap::new();
    for (i, k) in KEYS.iter().enumerate() {
        let start = line.find(&format!(", {k}=")).unwrap() + k.len() + 3;
        let end = match KEYS.get(i + 1) {
            Some(next) => line.find(&format!(", {next}=")).unwrap(),
            None => line.len() - 1, // the record's closing ']'
        };
        out.insert(*k, line[start..end].to_string());
    }
    out
}

/// Key and accept from Zeek's established record, plus the fields websocket.log also has.
fn assert_established_record(trace: &str, h: &Handshake, section: &[String]) {
    let r = established_record(section);
    let unset = |v: &str| (v != "<uninitialized>").then(|| v.to_string());
    assert_eq!(h.key, unset(&r["client_key"]), "{trace}: client_key");
    assert_eq!(
        h.accept,
        unset(&r["server_accept"]),
        "{trace}: server_accept"
    );
    assert!(
        h.accept_valid(),
        "{trace}: Zeek raised no wrong-accept weird"
    );
    assert_eq!(h.host, unset(&r["host"]), "{trace}: host");
    assert_eq!(h.target, r["uri"], "{trace}: uri");
    assert_eq!(h.user_agent, unset(&r["user_agent"]), "{trace}: user_agent");
    assert_eq!(h.subprotocol, unset(&r["subprotocol"]), "{trace}");
    let protocols: Vec<String> = match unset(&r["client_protocols"]) {
        None => Vec::new(),
        Some(v) => v
            .trim_matches(|c| c == '[' || c == ']')
            .split(", ")
            .map(String::from)
            .collect(),
    };
    assert_eq!(h.offered_protocols, protocols, "{trace}: client_protocols");
}

/// conn.log: the connections whose service list includes websocket, and how each ended.
fn assert_conn_log(trace: &str, events: &[Event], log: &str) {
    let rows = zeek_log(log);
    let ws: Vec<_> = rows
        .iter()
        .filter(|r| r["service"].split(',').any(|s| s == "websocket"))
        .collect();
    assert_eq!(
        websocket_connection_count(events),
        ws.len() as u64,
        "{trace}: WebSocket connections in {log}"
    );
    let conns = connections(events);
    assert_eq!(conns.len(), ws.len(), "{trace}");
    // Rows are in connection order (same order as our ids). History letters: upper case from
    // the originator, lower case from the responder; `R`/`r` a reset, `F`/`f` a FIN.
    for (c, r) in conns.iter().zip(&ws) {
        let h = &r["history"];
        let expected = if h.contains(['R', 'r']) {
            EndReason::Reset
        } else {
            assert!(h.contains('F') && h.contains('f'), "{trace}: history {h}");
            EndReason::Fin
        };
        assert_eq!(
            end_reason(events, c.info.conn),
            expected,
            "{trace}: conn {} (history {h})",
            c.info.conn
        );
    }
}

/// The whole check for a trace covered by websocket.events__out.
fn check_events_out(trace: &str, events: &[Event]) -> ConnId {
    let c = only_connection(events);
    let section = events_out_section(trace);
    assert_established_record(trace, c.handshake, &section);
    let lines: Vec<&str> = section.iter().map(String::as_str).collect();
    let zeek = parse_zeek_events(&lines);
    let ours = our_zeek_view(events, c.info.conn, true);
    assert_same_events(trace, &ours, &zeek);
    c.info.conn
}

// ---------------------------------------------------------------------------------------------
// Tests: one per trace

#[test]
fn zeek_jupyter_websocket() {
    let t = "jupyter-websocket.pcap";
    let ev = dissect(t);
    check_events_out(t, &ev);
    let log = zeek_log("websocket.jupyter-websocket__websocket.log");
    assert_eq!(log.len(), 1);
    assert_websocket_log_row(t, &only_connection(&ev), &log[0]);
    assert_conn_log(t, &ev, "websocket.jupyter-websocket__conn.log");
    assert_no_diagnostics(t, &ev);
}

#[test]
fn zeek_wstunnel_http() {
    let t = "wstunnel-http.pcap";
    let ev = dissect(t);
    let conn = check_events_out(t, &ev);
    let log = zeek_log("websocket.wstunnel-http__websocket.log");
    assert_eq!(log.len(), 1);
    let c = only_connection(&ev);
    assert_websocket_log_row(t, &c, &log[0]);
    assert_conn_log(t, &ev, "websocket.wstunnel-http__conn.log");

    // http.log: row 1 is the upgrade request, row 2 the request tunnelled inside WebSocket.
    let http = zeek_log("websocket.wstunnel-http__http.log");
    assert_eq!(http.len(), 2);
    assert_eq!(c.handshake.host, opt(&http[0]["host"]));
    assert_eq!(c.handshake.target, http[0]["uri"]);
    // Disagreement (docs/zeek.md, "wstunnel-http: status of the upgrade request"): Zeek's
    // http.log gives the upgrade request status 301, which is the status of the *tunnelled*
    // reply; packet 6 on the wire is "HTTP/1.1 101 Switching Protocols".
    assert_eq!(http[0]["status_code"], "301");
    assert_eq!(c.handshake.status, 101);
    let req = messages(&ev, conn, Direction::ClientToServer);
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut r = httparse::Request::new(&mut headers);
    assert!(r.parse(&req[0].payload.bytes).unwrap().is_complete());
    assert_eq!(r.path, Some(http[1]["uri"].as_str()));
    let hv = |name: &str| {
        r.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    assert_eq!(hv("Host"), opt(&http[1]["host"]));
    assert_eq!(hv("User-Agent"), opt(&http[1]["user_agent"]));
    let resp = messages(&ev, conn, Direction::ServerToClient);
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut r = httparse::Response::new(&mut headers);
    r.parse(&resp[0].payload.bytes).unwrap();
    assert_eq!(
        r.code.map(|c| c.to_string()),
        Some(http[0]["status_code"].clone())
    );

    // Disagreement (docs/zeek.md, "wstunnel-http: unmasked client frames"): Zeek reports no
    // weird, but both client frames have the mask bit clear (packet 8: `82 48`, packet 10:
    // `88 02`), which RFC 6455 §5.1 forbids.
    for f in frames(&ev, conn, Direction::ClientToServer) {
        assert!(!f.header.masked, "packet {}", f.first_packet.number);
    }
    assert_eq!(
        diagnostics(&ev),
        ["client-frame-unmasked", "client-frame-unmasked"]
    );
}

#[test]
fn zeek_broker_websocket() {
    let t = "broker-websocket.pcap";
    let ev = dissect(t);
    check_events_out(t, &ev);
    let log = zeek_log("websocket.broker-websocket__websocket.log");
    assert_eq!(log.len(), 1);
    assert_websocket_log_row(t, &only_connection(&ev), &log[0]);
    assert_conn_log(t, &ev, "websocket.broker-websocket__conn.log");
    assert_no_diagnostics(t, &ev);
}

#[test]
fn zeek_message_too_big_status() {
    let t = "message-too-big-status.pcap";
    let ev = dissect(t);
    check_events_out(t, &ev);
    assert_no_diagnostics(t, &ev);
}

#[test]
fn zeek_two_binary_fragments() {
    let t = "two-binary-fragments.pcap";
    let ev = dissect(t);
    let conn = check_events_out(t, &ev);
    assert_no_diagnostics(t, &ev);
    // Zeek printed the two fragments "Hello" and " there!" and one binary message; the
    // message we reassemble is their concatenation.
    let zeek = parse_zeek_events(
        &events_out_section(t)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let mut fragments = Vec::new();
    let mut in_data_frame = false;
    for z in &zeek {
        match z {
            Z::Frame { dir, opcode, .. } => {
                in_data_frame =
                    *dir == Direction::ServerToClient && (*opcode == 0x2 || *opcode == 0x0)
            }
            Z::Data { data, .. } if in_data_frame => fragments.extend_from_slice(data),
            _ => {}
        }
    }
    let m = messages(&ev, conn, Direction::ServerToClient);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].fragments, 2);
    assert_eq!(m[0].payload.bytes, fragments);
}

fn check_reply_ping(t: &str, out: &str, coalesced: bool) {
    let ev = dissect(t);
    let c = only_connection(&ev);
    let text = baseline(out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("###")).collect();
    assert!(lines[0].starts_with("websocket_established"));
    let zeek = parse_zeek_events(&lines);
    let ours = our_zeek_view(&ev, c.info.conn, false);
    assert_same_events(t, &ours, &zeek);
    // weird.log has no websocket_wrong_accept_header: the accept is right.
    assert!(c.handshake.accept_valid());
    assert_eq!(c.handshake.status, 101);
    // The first server frame, the ping, against the packet that carried the 101 response.
    let ping = frames(&ev, c.info.conn, Direction::ServerToClient)[0];
    assert_eq!(ping.header.opcode.bits(), 0x9);
    if coalesced {
        // websocket.coalesced-reply-ping__weird.log: protocol_data_with_HTTP_upgrade_reply, 6:
        // six bytes followed the 101 response in its segment: the whole ping frame (2 + 4).
        let weird = zeek_log("websocket.coalesced-reply-ping__weird.log");
        assert_eq!(weird.len(), 1);
        assert_eq!(weird[0]["name"], "protocol_data_with_HTTP_upgrade_reply");
        assert_eq!(weird[0]["id.orig_p"], c.info.client.port().to_string());
        assert_eq!(ping.first_packet.number, c.handshake.response_packet.number);
        assert_eq!(ping.last_packet.number, c.handshake.response_packet.number);
        let after: u64 = weird[0]["addl"].parse().unwrap();
        assert_eq!(
            u64::from(ping.header.header_len) + ping.header.payload_len,
            after
        );
    } else {
        // The test asserts `test ! -f weird.log` for this trace: the ping has its own packet.
        assert!(ping.first_packet.number > c.handshake.response_packet.number);
    }
    // Data right after a 101 is allowed (RFC 6455 §4.2.2: once the server has sent its
    // handshake the connection is OPEN): nothing to report. See docs/zeek.md.
    assert_no_diagnostics(t, &ev);
}

#[test]
fn zeek_reply_ping_coalesced() {
    check_reply_ping(
        "reply-ping-coalesced.pcap",
        "websocket.coalesced-reply-ping__out-coalesced",
        true,
    );
}

#[test]
fn zeek_reply_ping_separate() {
    check_reply_ping(
        "reply-ping-separate.pcap",
        "websocket.coalesced-reply-ping__out-separate",
        false,
    );
}

#[test]
fn zeek_fragmented_http_reply() {
    let t = "fragmented-http-reply.pcap";
    let ev = dissect(t);
    let c = only_connection(&ev);
    let conn = c.info.conn;
    assert_eq!(c.handshake.status, 101);
    // websocket.fragmented-http-reply__out: after websocket_established, Zeek's HTTP analyzer
    // saw these headers in the tunnelled request (T) and in the reply (F), which the server
    // split over several WebSocket frames: the reassembled message must hold them all.
    let text = baseline("websocket.fragmented-http-reply__out");
    let mut lines = text.lines().filter(|l| !l.starts_with("###"));
    assert_eq!(lines.next(), Some("websocket_established"));
    let expected: Vec<(Direction, String, String)> = lines
        .map(|l| {
            let p: Vec<&str> = l.splitn(4, ", ").collect();
            assert_eq!(p[0], "http_header");
            (zeek_dir_of(p[1]), p[2].to_string(), p[3].to_string())
        })
        .collect();
    assert_eq!(expected.len(), 3);

    let mut seen = Vec::new();
    for dir in [Direction::ClientToServer, Direction::ServerToClient] {
        let m = messages(&ev, conn, dir);
        assert_eq!(m.len(), 1, "{dir:?}");
        assert_eq!(m[0].opcode.bits(), 0x2);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let hs: Vec<(String, String)> = if dir == Direction::ClientToServer {
            let mut r = httparse::Request::new(&mut headers);
            assert!(r.parse(&m[0].payload.bytes).unwrap().is_complete());
            r.headers
                .iter()
                .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into()))
                .collect()
        } else {
            let mut r = httparse::Response::new(&mut headers);
            assert!(r.parse(&m[0].payload.bytes).unwrap().is_complete());
            r.headers
                .iter()
                .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into()))
                .collect()
        };
        // Zeek prints header names upper-cased.
        seen.extend(hs.into_iter().map(|(n, v)| (dir, n.to_uppercase(), v)));
    }
    assert_eq!(seen, expected);
    // The reply really was fragmented: one binary frame, then continuations.
    let f = frames(&ev, conn, Direction::ServerToClient);
    let data: Vec<_> = f.iter().filter(|f| !f.header.opcode.is_control()).collect();
    assert!(data.len() > 1);
    assert_eq!(data[0].header.opcode.bits(), 0x2);
    assert!(!data[0].header.fin);
    assert!(data[1..].iter().all(|f| f.header.opcode.bits() == 0x0));
    assert!(data.last().unwrap().header.fin);
    assert_no_diagnostics(t, &ev);
}

#[test]
fn zeek_wrong_accept_header() {
    let t = "wrong-accept-header.pcap";
    let ev = dissect(t);
    let c = only_connection(&ev);
    let log = zeek_log("websocket.key-accept-wrong__websocket.log");
    assert_eq!(log.len(), 1);
    assert_websocket_log_row(t, &c, &log[0]);
    // websocket.key-accept-wrong__weird.log:
    // websocket_wrong_accept_header  expected=N8nt…=, found=N8nt…=-wrong
    let weird = zeek_log("websocket.key-accept-wrong__weird.log");
    assert_eq!(weird.len(), 1);
    assert_eq!(weird[0]["name"], "websocket_wrong_accept_header");
    let addl = &weird[0]["addl"];
    let (exp, found) = addl
        .strip_prefix("expected=")
        .and_then(|s| s.split_once(", found="))
        .unwrap_or_else(|| panic!("addl {addl}"));
    assert_eq!(c.handshake.expected_accept.as_deref(), Some(exp));
    assert_eq!(c.handshake.accept.as_deref(), Some(found));
    assert!(!c.handshake.accept_valid());
    assert_eq!(diagnostics(&ev), ["handshake-accept-mismatch"]);
}

#[test]
fn zeek_oversized_close_frame() {
    let t = "oversized-close-frame.pcapng";
    let ev = dissect(t);
    let c = only_connection(&ev);
    // websocket.close-too-large__weird-{pac,spicy}.log: websocket_control_frame_size_exceeded,
    // "258 > 125", on 10.0.0.1:40081 → 10.0.0.2:80.
    for log in [
        "websocket.close-too-large__weird-pac.log",
        "websocket.close-too-large__weird-spicy.log",
    ] {
        let weird = zeek_log(log);
        assert_eq!(weird.len(), 1);
        let w = &weird[0];
        assert_eq!(w["name"], "websocket_control_frame_size_exceeded");
        assert_eq!(
            c.info.client.to_string(),
            format!("{}:{}", w["id.orig_h"], w["id.orig_p"])
        );
        assert_eq!(
            c.info.server.to_string(),
            format!("{}:{}", w["id.resp_h"], w["id.resp_p"])
        );
        let (len, limit) = w["addl"].split_once(" > ").unwrap();
        let len: u64 = len.parse().unwrap();
        assert_eq!(limit, "125");
        let all: Vec<_> = [Direction::ClientToServer, Direction::ServerToClient]
            .into_iter()
            .flat_map(|d| frames(&ev, c.info.conn, d))
            .collect();
        assert_eq!(all.len(), 1);
        let f = all[0];
        assert_eq!(f.dir, Direction::ServerToClient);
        assert_eq!(f.header.opcode.bits(), 0x8);
        assert_eq!(f.header.payload_len, len);
        // websocket.close-too-large__out-*-uncapped: "Close length: 256" (the reason: the
        // 258-byte payload less its 2-byte status code). The status code itself is not in
        // Zeek's output; the bytes are `03 e8` (1000) at payload offset 0 (packet 6).
        for out in [
            "websocket.close-too-large__out-pac-uncapped",
            "websocket.close-too-large__out-spicy-uncapped",
        ] {
            let text = baseline(out);
            let n: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("Close length: "))
                .unwrap()
                .parse()
                .unwrap();
            let close = f.close.as_ref().unwrap();
            assert_eq!(close.reason.len(), n, "{out}");
            assert_eq!(close.code, Some(1000));
        }
    }
    let mut d = diagnostics(&ev);
    d.sort();
    assert_eq!(d, ["control-frame-too-long", "length-not-minimal"]);
}

// -- TLS and SSH inside the tunnel: what Zeek's ssl.log and ssh.log found there -----------------

fn be16(b: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([b[0], b[1]]))
}

/// Walk a TLS byte stream record by record; it must end on a record boundary. Returns the
/// records as (content type, body).
fn tls_records(stream: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < stream.len() {
        assert!(i + 5 <= stream.len(), "record header cut at {i}");
        let len = be16(&stream[i + 3..]);
        assert!(i + 5 + len <= stream.len(), "record body cut at {i}");
        out.push((stream[i], &stream[i + 5..i + 5 + len]));
        i += 5 + len;
    }
    out
}

/// Extensions of a ClientHello (type 1) or ServerHello (type 2) handshake message.
fn hello_extensions(hs: &[u8]) -> Vec<(u16, &[u8])> {
    let body = &hs[4..4 + (usize::from(hs[1]) << 16 | be16(&hs[2..]))];
    let mut i = 2 + 32; // version, random
    i += 1 + usize::from(body[i]); // session id
    if hs[0] == 1 {
        i += 2 + be16(&body[i..]); // cipher suites
        i += 1 + usize::from(body[i]); // compression methods
    } else {
        i += 2 + 1; // cipher suite, compression method
    }
    let end = i + 2 + be16(&body[i..]);
    i += 2;
    let mut out = Vec::new();
    while i < end {
        let len = be16(&body[i + 2..]);
        out.push((be16(&body[i..]) as u16, &body[i + 4..i + 4 + len]));
        i += 4 + len;
    }
    out
}

#[test]
fn zeek_wstunnel_https() {
    let t = "wstunnel-https.pcap";
    let ev = dissect(t);
    let c = only_connection(&ev);
    let conn = c.info.conn;
    let log = zeek_log("websocket.wstunnel-https__websocket.log");
    assert_eq!(log.len(), 1);
    assert_websocket_log_row(t, &c, &log[0]);
    // conn.log service http,ssl,websocket; history ShADadFR.
    assert_conn_log(t, &ev, "websocket.wstunnel-https__conn.log");
    // No per-frame baseline: Zeek's test only asserts that there is no weird.log.
    assert_nothing_above_info(t, &ev);
    for dir in [Direction::ClientToServer, Direction::ServerToClient] {
        let f = frames(&ev, conn, dir);
        assert!(f.iter().any(|f| f.header.opcode.bits() == 0x2), "{dir:?}");
        assert!(!messages(&ev, conn, dir).is_empty(), "{dir:?}");
        // Each side ends with a close frame, nothing after it.
        assert_eq!(f.last().unwrap().header.opcode.bits(), 0x8, "{dir:?}");
    }

    // websocket.wstunnel-https__ssl.log: version TLSv13, server_name zeek.org. Zeek's SSL
    // analyzer ran on the concatenated binary messages; so do we: both directions must parse
    // as whole TLS records, with the SNI and the negotiated version Zeek logged.
    let ssl = zeek_log("websocket.wstunnel-https__ssl.log");
    assert_eq!(ssl.len(), 1);
    let c2s = tunnel_stream(&ev, conn, Direction::ClientToServer);
    let s2c = tunnel_stream(&ev, conn, Direction::ServerToClient);
    let client = tls_records(&c2s);
    let server = tls_records(&s2c);
    let (ty, ch) = client[0];
    assert_eq!((ty, ch[0]), (22, 1), "ClientHello first");
    let sni = hello_extensions(ch)
        .into_iter()
        .find(|(t, _)| *t == 0)
        .expect("server_name extension")
        .1;
    // server_name_list length (2), name type (1), name length (2), name
    assert_eq!(sni[2], 0);
    assert_eq!(
        &sni[5..5 + be16(&sni[3..])],
        ssl[0]["server_name"].as_bytes()
    );
    let (ty, sh) = server[0];
    assert_eq!((ty, sh[0]), (22, 2), "ServerHello first");
    let version = hello_extensions(sh)
        .into_iter()
        .find(|(t, _)| *t == 43)
        .map(|(_, v)| be16(v))
        .unwrap_or_else(|| be16(&sh[4..]));
    let zeek_version = match ssl[0]["version"].as_str() {
        "TLSv10" => 0x0301,
        "TLSv11" => 0x0302,
        "TLSv12" => 0x0303,
        "TLSv13" => 0x0304,
        other => panic!("version {other}"),
    };
    assert_eq!(version, zeek_version);
}

/// SSH inside the tunnel: the version line, then binary packets up to NEWKEYS (unencrypted).
/// Returns the version line and the KEXINIT name-lists.
fn ssh_hello(stream: &[u8]) -> (String, Vec<Vec<String>>) {
    let eol = stream.windows(2).position(|w| w == b"\r\n").unwrap();
    let version = String::from_utf8(stream[..eol].to_vec()).unwrap();
    let pkt = &stream[eol + 2..];
    let len = u32::from_be_bytes(pkt[..4].try_into().unwrap()) as usize;
    let padding = usize::from(pkt[4]);
    let payload = &pkt[5..4 + len - padding];
    assert_eq!(payload[0], 20, "SSH_MSG_KEXINIT");
    let mut i = 1 + 16; // cookie
    let mut lists = Vec::new();
    for _ in 0..10 {
        let n = u32::from_be_bytes(payload[i..i + 4].try_into().unwrap()) as usize;
        let s = std::str::from_utf8(&payload[i + 4..i + 4 + n]).unwrap();
        lists.push(s.split(',').map(String::from).collect());
        i += 4 + n;
    }
    (version, lists)
}

/// RFC 4253 §7.1: the first algorithm on the client's list that the server also supports.
fn negotiate(client: &[String], server: &[String]) -> String {
    client.iter().find(|a| server.contains(a)).unwrap().clone()
}

#[test]
fn zeek_wstunnel_ssh() {
    let t = "wstunnel-ssh.pcap";
    let ev = dissect(t);
    let conns = connections(&ev);
    let log = zeek_log("websocket.wstunnel-ssh__websocket.log");
    assert_eq!(conns.len(), log.len());
    assert_eq!(log.len(), 2);
    // conn.log: both connections http,websocket,ssh; history ShADadR.
    assert_conn_log(t, &ev, "websocket.wstunnel-ssh__conn.log");
    // No per-frame baseline: Zeek's test only asserts that there is no weird.log.
    assert_nothing_above_info(t, &ev);
    let ssh = zeek_log("websocket.wstunnel-ssh__ssh.log");
    assert_eq!(ssh.len(), 2);
    for row in &log {
        let c = conns
            .iter()
            .find(|c| c.info.client.port().to_string() == row["id.orig_p"])
            .unwrap_or_else(|| panic!("no connection from port {}", row["id.orig_p"]));
        assert_websocket_log_row(t, c, row);
        let conn = c.info.conn;
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let f = frames(&ev, conn, dir);
            assert!(f.iter().any(|f| f.header.opcode.bits() == 0x2), "{dir:?}");
            assert!(!messages(&ev, conn, dir).is_empty(), "{dir:?}");
            assert_eq!(f.last().unwrap().header.opcode.bits(), 0x8, "{dir:?}");
        }
        // ssh.log (joined on uid): client and server version strings, kex and host key
        // algorithm. Zeek's SSH analyzer ran on the concatenated binary messages.
        let s = ssh.iter().find(|s| s["uid"] == row["uid"]).unwrap();
        let (cv, ck) = ssh_hello(&tunnel_stream(&ev, conn, Direction::ClientToServer));
        let (sv, sk) = ssh_hello(&tunnel_stream(&ev, conn, Direction::ServerToClient));
        assert_eq!(cv, s["client"]);
        assert_eq!(sv, s["server"]);
        assert_eq!(negotiate(&ck[0], &sk[0]), s["kex_alg"]);
        assert_eq!(negotiate(&ck[1], &sk[1]), s["host_key_alg"]);
    }
}
