//! Differential test at the HTTP/2 level (RFC 8441): on every capture in samples/h2/ (with its key
//! log when it has one), what tshark 4.0 decodes and what wsdissect reports must name the same
//! streams, per TCP connection:
//!
//! * each request carrying `:protocol websocket`: its stream, `:method`, `:path`, `:authority`
//!   and final `:status` (wsdissect: `Event::Handshake` with `stream: Some(..)`); a request that
//!   got no answer is compared by stream and by how it ended (wsdissect reports it only as the
//!   `handshake-no-response` diagnostic, whose message names the ending);
//! * each other request: stream, method, path, final status (`Event::Http2Request`); the request
//!   upgraded from HTTP/1.1 (`Upgrade: h2c`, RFC 7540 §3.2) is stream 1, its method and path read
//!   by tshark's HTTP/1.1 dissector;
//! * how each accepted WebSocket stream ended (`Event::StreamEnd`): END_STREAM both ways,
//!   RST_STREAM (code, sender), GOAWAY (code, sender), or the connection ended.
//!
//! tshark does not decode WebSocket inside HTTP/2 (docs/tshark.md), so the WebSocket level is not
//! compared here; tshark's side is only its HTTP/2 frames (type, stream, flags, HPACK-decoded
//! headers, RST_STREAM and GOAWAY codes), with the stream endings derived from them by RFC 9113
//! §5.1 (a RST_STREAM after both END_STREAMs is on a closed stream and ends nothing) and §6.8 (a
//! GOAWAY ends the streams its receiver opened above its last stream id; the others end with the
//! connection, which wsdissect reports as "GOAWAY from" the side that sent the last GOAWAY).
//!
//! A second test compares every HTTP/2 frame: per connection and direction, the same frames in
//! the same order (type, stream, length, flags), each read by wsdissect no later than the packet
//! tshark shows it in (tshark names the packet where a frame that spans TCP segments completes,
//! wsdissect's `Event::Http2Frame` the one where it starts).
//!
//! tshark's arguments come from each connection's `h2` in NAME.expected.json: prior knowledge
//! `-d tcp.port==P,http2`, upgrade `-d tcp.port==P,http`, ALPN `-o tls.keylog_file:NAME.keys`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::common::repo;
use wsdissect::base::Direction;
use wsdissect::capture::file::FileSource;
use wsdissect::conversation::DissectConfig;
use wsdissect::event::{ErrorCode, Event, StreamEndReason};
use wsdissect::output::Collect;

struct H2Sample {
    capture: PathBuf,
    keys: Option<PathBuf>,
    truth: Value,
}

fn h2_samples() -> Vec<H2Sample> {
    let dir = repo().join("samples/h2");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    names.sort();
    let samples: Vec<H2Sample> = names
        .into_iter()
        .map(|p| {
            let truth: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            H2Sample {
                capture: dir.join(truth["capture"].as_str().unwrap()),
                keys: truth["keylog"].as_str().map(|k| dir.join(k)),
                truth,
            }
        })
        .collect();
    assert!(samples.len() >= 6, "samples/h2 holds {}", samples.len());
    samples
}

/// Per TCP connection (named by the client's address), the facts both sides must agree on.
type Rows = BTreeMap<String, BTreeSet<String>>;

/// One HTTP/2 frame: (packet, type, stream, length, flags).
type FrameRow = (u64, u8, u32, u32, u8);

/// Per TCP connection and direction (client address, "c2s"/"s2c"), its frames in order.
type Frames = BTreeMap<(String, &'static str), Vec<FrameRow>>;

fn ended(reason: &StreamEndReason) -> String {
    match reason {
        StreamEndReason::EndStream => "END_STREAM both ways".to_string(),
        StreamEndReason::Reset { by, code } => {
            format!("RST_STREAM {code} from the {}", by.sender())
        }
        StreamEndReason::GoAway { by, code } => format!("GOAWAY {code} from the {}", by.sender()),
        StreamEndReason::Connection(_) => "connection ended".to_string(),
    }
}

fn ws_row(stream: u32, method: &str, path: &str, authority: &str, status: u16) -> String {
    format!("websocket stream {stream}: {method} :protocol websocket :path {path} :authority {authority} -> :status {status}")
}

fn unanswered_row(stream: u32, end: &str) -> String {
    format!("websocket stream {stream}: no answer, ended by {end}")
}

fn end_row(stream: u32, end: &str) -> String {
    format!("websocket stream {stream}: ended by {end}")
}

fn request_row(
    stream: u32,
    method: &str,
    upgraded: bool,
    path: &str,
    status: Option<u16>,
) -> String {
    let status = status.map_or("no answer".to_string(), |s| format!(":status {s}"));
    let how = if upgraded {
        " (upgraded from HTTP/1.1)"
    } else {
        ""
    };
    format!("request stream {stream}: {method}{how} {path} -> {status}")
}

// ---------------------------------------------------------------- wsdissect

/// wsdissect's events; `frames` asks for one `Event::Http2Frame` per HTTP/2 frame (the
/// teaching view's setting).
fn dissect(s: &H2Sample, frames: bool) -> Vec<Event> {
    let cfg = DissectConfig {
        tls_keylog: s.keys.clone(),
        tls_records: frames,
        ..DissectConfig::default()
    };
    let mut src = FileSource::open(&s.capture).unwrap();
    let mut sink = Collect::default();
    wsdissect::dissect(&mut src, cfg, &mut sink).unwrap();
    sink.0
}

fn wsdissect_frames(s: &H2Sample) -> Frames {
    let events = dissect(s, true);
    let mut client = BTreeMap::new();
    let mut frames = Frames::new();
    for e in &events {
        match e {
            Event::Connection(c) => {
                client.insert(c.conn, c.client.to_string());
            }
            Event::Http2Frame(f) => {
                let name = client
                    .get(&f.conn)
                    .cloned()
                    .unwrap_or(format!("conn {}", f.conn));
                let h = &f.header;
                frames.entry((name, f.dir.as_str())).or_default().push((
                    f.packet.number,
                    h.kind.0,
                    h.stream,
                    h.len,
                    h.flags,
                ));
            }
            _ => {}
        }
    }
    frames
}

fn wsdissect_rows(s: &H2Sample) -> Rows {
    let events = dissect(s, false);
    let mut client = BTreeMap::new();
    let mut rows = Rows::new();
    for e in &events {
        let (conn, row) = match e {
            Event::Connection(c) => {
                client.insert(c.conn, c.client.to_string());
                rows.entry(c.client.to_string()).or_default();
                continue;
            }
            Event::Handshake(h) => {
                let Some(stream) = h.stream else { continue };
                let protocol = h.http2.as_ref().and_then(|x| x.protocol.clone());
                assert_eq!(protocol.as_deref(), Some("websocket"), "{h:?}");
                let row = ws_row(
                    stream.0,
                    &h.method,
                    &h.target,
                    h.host.as_deref().unwrap_or("-"),
                    h.status,
                );
                (h.conn, row)
            }
            Event::Http2Request(r) => {
                let row = request_row(r.stream.0, &r.method, r.upgraded, &r.path, r.status);
                (r.conn, row)
            }
            Event::StreamEnd(x) => (x.conn, end_row(x.stream.0, &ended(&x.reason))),
            Event::Diagnostic(d) if d.rule.name == "handshake-no-response" => {
                let Some(stream) = d.stream else { continue };
                // "the WebSocket request on stream N ended (<how>) with no answer"
                let how = d
                    .message
                    .split_once(" ended (")
                    .and_then(|(_, rest)| rest.strip_suffix(") with no answer"))
                    .map(|how| match how.starts_with("connection ended") {
                        true => "connection ended",
                        false => how,
                    })
                    .unwrap_or("? (message not understood)")
                    .to_string();
                (d.conn, unanswered_row(stream.0, &how))
            }
            _ => continue,
        };
        let name = client.get(&conn).cloned().unwrap_or(format!("conn {conn}"));
        rows.entry(name).or_default().insert(row);
    }
    rows
}

// ---------------------------------------------------------------- tshark

fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(|x| x.as_str())
}

/// The first value of `key` anywhere under `v` (tshark nests HTTP/1.1 fields under the request
/// or status line).
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v {
        Value::Object(m) => m
            .get(key)
            .and_then(|x| x.as_str())
            .or_else(|| m.values().find_map(|x| find(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

fn number(s: &str) -> u32 {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

#[derive(Default)]
struct TsStream {
    request: Option<Vec<(String, String)>>,
    upgraded: bool,
    status: Option<u16>,
    end_stream: [bool; 2],
    end: Option<StreamEndReason>,
}

#[derive(Default)]
struct TsConn {
    streams: BTreeMap<u32, TsStream>,
    goaway: Option<(Direction, ErrorCode)>,
    /// An HTTP/1.1 request with `Upgrade: h2c`, waiting for its 101.
    upgrade_request: Option<(String, String)>,
    frames: [Vec<FrameRow>; 2],
}

fn header<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The arguments that make tshark decode each connection of the sample as HTTP/2.
fn tshark_args(s: &H2Sample) -> Vec<String> {
    let mut args = Vec::new();
    for c in s.truth["connections"].as_array().unwrap() {
        let port = c["server"].as_str().unwrap().rsplit(':').next().unwrap();
        let arg = match c["h2"].as_str().unwrap() {
            "prior-knowledge" => vec!["-d".to_string(), format!("tcp.port=={port},http2")],
            "upgrade" => vec!["-d".to_string(), format!("tcp.port=={port},http")],
            "alpn" => {
                let keys = s.keys.as_ref().expect("a TLS sample has a key log");
                vec![
                    "-o".to_string(),
                    format!("tls.keylog_file:{}", keys.display()),
                ]
            }
            other => panic!("{}: h2 {other:?}", s.capture.display()),
        };
        if !args.windows(2).any(|w| w == arg.as_slice()) {
            args.extend(arg);
        }
    }
    args
}

/// What tshark decoded: the rows, and every HTTP/2 frame.
fn tshark_view(s: &H2Sample) -> (Rows, Frames) {
    let out = Command::new("tshark")
        .args([
            "-n",
            "-o",
            "tcp.reassemble_out_of_order:TRUE",
            "--no-duplicate-keys",
            "-r",
        ])
        .arg(&s.capture)
        .args(tshark_args(s))
        .args(["-T", "json", "-J", "frame ip ipv6 tcp http http2"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        s.capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let packets: Value = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    let servers: BTreeSet<String> = s.truth["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["server"].as_str().unwrap().to_string())
        .collect();
    let mut conns: BTreeMap<String, TsConn> = BTreeMap::new();
    for p in packets.as_array().unwrap() {
        let layers = &p["_source"]["layers"];
        let packet = number(str_of(&layers["frame"], "frame.number").unwrap()) as u64;
        let (src, dst) = match (layers.get("ip"), layers.get("ipv6")) {
            (Some(ip), _) => (
                str_of(ip, "ip.src").unwrap().to_string(),
                str_of(ip, "ip.dst").unwrap().to_string(),
            ),
            (None, Some(ip)) => (
                format!("[{}]", str_of(ip, "ipv6.src").unwrap()),
                format!("[{}]", str_of(ip, "ipv6.dst").unwrap()),
            ),
            _ => continue,
        };
        let Some(tcp) = layers.get("tcp") else {
            continue;
        };
        let src = format!("{src}:{}", str_of(tcp, "tcp.srcport").unwrap());
        let dst = format!("{dst}:{}", str_of(tcp, "tcp.dstport").unwrap());
        let (dir, client) = if servers.contains(&dst) {
            (Direction::ClientToServer, src)
        } else if servers.contains(&src) {
            (Direction::ServerToClient, dst)
        } else {
            continue;
        };
        let conn = conns.entry(client).or_default();

        // HTTP/1.1 before an upgrade to h2c: the upgraded request becomes stream 1.
        for h in list(&layers["http"]) {
            let upgrade_h2c =
                find(h, "http.upgrade").is_some_and(|u| u.eq_ignore_ascii_case("h2c"));
            match (
                dir,
                find(h, "http.request.method"),
                find(h, "http.response.code"),
            ) {
                (Direction::ClientToServer, Some(method), _) if upgrade_h2c => {
                    let uri = find(h, "http.request.uri").unwrap_or("").to_string();
                    conn.upgrade_request = Some((method.to_string(), uri));
                }
                (Direction::ServerToClient, _, Some("101")) => {
                    if let Some((method, uri)) = conn.upgrade_request.take() {
                        let st = conn.streams.entry(1).or_default();
                        st.request = Some(vec![
                            (":method".to_string(), method),
                            (":path".to_string(), uri),
                        ]);
                        st.upgraded = true;
                        // The upgraded request is complete: the client's half is closed
                        // (RFC 7540 §3.2).
                        st.end_stream[Direction::ClientToServer.index()] = true;
                    }
                }
                _ => {}
            }
        }

        for h in list(&layers["http2"]) {
            for f in list(&h["http2.stream"]) {
                let Some(kind) = str_of(f, "http2.type") else {
                    continue; // the connection preface
                };
                let kind = number(kind);
                let stream = number(str_of(f, "http2.streamid").unwrap());
                let flags = number(str_of(f, "http2.flags").unwrap());
                let len = number(str_of(f, "http2.length").unwrap());
                conn.frames[dir.index()].push((packet, kind as u8, stream, len, flags as u8));
                match kind {
                    // HEADERS, CONTINUATION: tshark shows the fields HPACK decoded.
                    1 | 9 => {
                        let fields: Vec<(String, String)> = list(&f["http2.header"])
                            .iter()
                            .map(|x| {
                                (
                                    str_of(x, "http2.header.name").unwrap_or("").to_string(),
                                    str_of(x, "http2.header.value").unwrap_or("").to_string(),
                                )
                            })
                            .collect();
                        let st = conn.streams.entry(stream).or_default();
                        match dir {
                            Direction::ClientToServer
                                if st.request.is_none() && header(&fields, ":method").is_some() =>
                            {
                                st.request = Some(fields);
                            }
                            Direction::ServerToClient if st.status.is_none() => {
                                // A 1xx is informational: the final answer is still to come.
                                st.status = header(&fields, ":status")
                                    .and_then(|s| s.parse().ok())
                                    .filter(|s| *s >= 200);
                            }
                            _ => {}
                        }
                    }
                    // RST_STREAM
                    3 => {
                        let code = number(str_of(f, "http2.rst_stream.error").unwrap());
                        let st = conn.streams.entry(stream).or_default();
                        st.end.get_or_insert(StreamEndReason::Reset {
                            by: dir,
                            code: ErrorCode(code),
                        });
                    }
                    // GOAWAY
                    7 => {
                        let code = ErrorCode(number(str_of(f, "http2.goaway.error").unwrap()));
                        let last = number(str_of(f, "http2.goaway.last_stream_id").unwrap());
                        conn.goaway = Some((dir, code));
                        // The receiver's streams above `last` were never processed.
                        let receiver_opens_odd = dir == Direction::ServerToClient;
                        for (id, st) in conn.streams.range_mut(last + 1..) {
                            if (id % 2 == 1) == receiver_opens_odd {
                                st.end
                                    .get_or_insert(StreamEndReason::GoAway { by: dir, code });
                            }
                        }
                    }
                    _ => {}
                }
                // END_STREAM on DATA or HEADERS.
                if matches!(kind, 0 | 1) && flags & 0x1 != 0 {
                    let st = conn.streams.entry(stream).or_default();
                    st.end_stream[dir.index()] = true;
                    if st.end_stream == [true, true] {
                        st.end.get_or_insert(StreamEndReason::EndStream);
                    }
                }
            }
        }
    }

    let mut frames = Frames::new();
    let mut rows = Rows::new();
    for (client, mut conn) in conns {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let list = std::mem::take(&mut conn.frames[dir.index()]);
            frames.insert((client.clone(), dir.as_str()), list);
        }
        let at_close = match conn.goaway {
            Some((by, code)) => StreamEndReason::GoAway { by, code },
            None => StreamEndReason::Connection(wsdissect::event::EndReason::Fin),
        };
        let set = rows.entry(client).or_default();
        for (id, st) in &conn.streams {
            let Some(req) = &st.request else { continue };
            let end = ended(st.end.as_ref().unwrap_or(&at_close));
            let method = header(req, ":method").unwrap_or("-");
            let path = header(req, ":path").unwrap_or("-");
            let websocket =
                header(req, ":protocol").is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
            if !websocket {
                set.insert(request_row(*id, method, st.upgraded, path, st.status));
                continue;
            }
            match st.status {
                Some(status) => {
                    let authority = header(req, ":authority").unwrap_or("-");
                    set.insert(ws_row(*id, method, path, authority, status));
                    if (200..300).contains(&status) {
                        set.insert(end_row(*id, &end));
                    }
                }
                None => {
                    set.insert(unanswered_row(*id, &end));
                }
            }
        }
    }
    (rows, frames)
}

#[test]
#[ignore = "needs tshark (scripts/test.sh runs it)"]
fn http2_streams_requests_and_endings_agree_with_tshark_on_every_h2_sample() {
    crate::tshark_messages::require_tshark();
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for s in h2_samples() {
        let name = s.capture.file_name().unwrap().to_string_lossy().to_string();
        let (theirs, tshark_frames) = tshark_view(&s);
        let frames: usize = tshark_frames.values().map(Vec::len).sum();
        let ours = wsdissect_rows(&s);
        // tshark must have decoded HTTP/2 on every connection, or the comparison says nothing.
        let connections = s.truth["connections"].as_array().unwrap().len();
        if frames == 0 || theirs.len() != connections {
            failures.push(format!(
                "{name}: tshark decoded {frames} HTTP/2 frames on {} of {connections} connections",
                theirs.len()
            ));
        }
        let clients: BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
        let mut rows = 0;
        for client in clients {
            let empty = BTreeSet::new();
            let t = theirs.get(client).unwrap_or(&empty);
            let o = ours.get(client).unwrap_or(&empty);
            rows += t.len();
            for r in t.difference(o) {
                failures.push(format!("{name} {client}: only tshark: {r}"));
            }
            for r in o.difference(t) {
                failures.push(format!("{name} {client}: only wsdissect: {r}"));
            }
        }
        report.push(format!(
            "{name}: {connections} connections, {frames} HTTP/2 frames, {rows} rows"
        ));
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "tshark and wsdissect disagree:\n{}",
        failures.join("\n")
    );
}

#[test]
#[ignore = "needs tshark (scripts/test.sh runs it)"]
fn every_http2_frame_agrees_with_tshark_on_every_h2_sample() {
    crate::tshark_messages::require_tshark();
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for s in h2_samples() {
        let name = s.capture.file_name().unwrap().to_string_lossy().to_string();
        let (_, theirs) = tshark_view(&s);
        let ours = wsdissect_frames(&s);
        let (mut total, mut later) = (0, Vec::new());
        let keys: BTreeSet<&(String, &str)> = theirs.keys().chain(ours.keys()).collect();
        for key in keys {
            let (client, dir) = key;
            let t = theirs.get(key).map(Vec::as_slice).unwrap_or_default();
            let o = ours.get(key).map(Vec::as_slice).unwrap_or_default();
            total += t.len();
            let strip = |r: &FrameRow| (r.1, r.2, r.3, r.4);
            if let Some(i) =
                (0..t.len().max(o.len())).find(|&i| t.get(i).map(strip) != o.get(i).map(strip))
            {
                failures.push(format!(
                    "{name} {client} {dir}: {} frames, tshark {}; first difference at frame {i}: wsdissect {:?}, tshark {:?} (packet, type, stream, length, flags)",
                    o.len(),
                    t.len(),
                    o.get(i),
                    t.get(i)
                ));
                continue;
            }
            for (a, b) in o.iter().zip(t) {
                if a.0 > b.0 {
                    failures.push(format!(
                        "{name} {client} {dir}: wsdissect reads {a:?} in a packet after tshark's {b:?}"
                    ));
                } else if a.0 < b.0 {
                    later.push(format!("#{}/#{}", a.0, b.0));
                }
            }
        }
        if total == 0 {
            failures.push(format!("{name}: tshark decoded no HTTP/2 frame"));
        }
        report.push(format!(
            "{name}: {total} HTTP/2 frames; spanning packets (wsdissect's first / tshark's last): {}",
            later.join(" ")
        ));
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "tshark and wsdissect read different HTTP/2 frames:\n{}",
        failures.join("\n")
    );
}
