//! WebSocket over HTTP/2 (RFC 8441): every capture in samples/h2/ (real HTTP/2 stacks: hypercorn,
//! Python h2 + wsproto, Node http2, Firefox) gives exactly the sessions, messages, closes, stream
//! ends and ordinary requests their senders logged; the RFC 8441 oddities of py-h2-violations are
//! each named on their stream; a capture that starts mid-connection, or loses a segment, shows
//! what it can and never glues bytes across the hole.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::{dissect_bytes, filter_pcap, repo, sha256_hex};
use crate::tls::dissect;
use wsdissect::base::Severity;
use wsdissect::event::{Event, StreamEndReason};
use wsdissect::ws::opcode::OpCode;

struct H2Sample {
    name: String,
    capture: PathBuf,
    keys: Option<PathBuf>,
    expected: serde_json::Value,
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
        .iter()
        .map(|p| {
            let expected: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            H2Sample {
                name: expected["capture"].as_str().unwrap().to_string(),
                capture: dir.join(expected["capture"].as_str().unwrap()),
                keys: expected["keylog"].as_str().map(|k| dir.join(k)),
                expected,
            }
        })
        .collect();
    assert!(samples.len() >= 6, "samples/h2 holds {}", samples.len());
    samples
}

/// What one WebSocket stream showed: handshake status, subprotocol, extensions, messages
/// `(dir, opcode, len, sha256, compressed)`, closes `(dir, code, reason)`, and its end.
/// A message: direction, opcode, length, sha256 of the payload, compressed on the wire.
type Msg = (String, u64, u64, String, bool);

#[derive(Clone, Debug, Default, PartialEq)]
struct StreamSeen {
    status: Option<u64>,
    subprotocol: Option<String>,
    extensions: Vec<String>,
    messages: Vec<Msg>,
    closes: Vec<(String, Option<u64>, String)>,
    end: Option<String>,
}

/// Per client address: how HTTP/2 started, the WebSocket streams, and the request lines
/// `(stream, method, path, status)`.
#[derive(Debug, Default)]
struct ConnSeen {
    http2: Option<String>,
    streams: BTreeMap<u64, StreamSeen>,
    requests: Vec<(u64, String, String, Option<u64>)>,
    rules: Vec<(Option<u64>, String, String)>,
}

fn end_kind(r: &StreamEndReason) -> String {
    match r {
        StreamEndReason::EndStream => "end_stream".into(),
        StreamEndReason::Reset { by, code } => format!("rst_stream {} {}", by.as_str(), code.0),
        StreamEndReason::GoAway { .. } => "goaway".into(),
        StreamEndReason::Connection(_) => "connection".into(),
    }
}

fn seen(events: &[Event]) -> BTreeMap<String, ConnSeen> {
    let mut clients = BTreeMap::new();
    let mut by_conn: BTreeMap<u64, ConnSeen> = BTreeMap::new();
    for e in events {
        match e {
            Event::Connection(c) => {
                clients.insert(c.conn.0, c.client.to_string());
                by_conn.entry(c.conn.0).or_default().http2 =
                    c.http2.map(|s| s.as_str().to_string());
            }
            Event::Handshake(h) => {
                let Some(stream) = h.stream else { continue };
                let s = by_conn
                    .entry(h.conn.0)
                    .or_default()
                    .streams
                    .entry(stream.0.into())
                    .or_default();
                s.status = Some(h.status.into());
                s.subprotocol = h.subprotocol.clone();
                s.extensions = h.extensions.iter().map(|e| e.to_string()).collect();
            }
            Event::Message(m) => {
                let Some(stream) = m.stream else { continue };
                let s = by_conn
                    .entry(m.conn.0)
                    .or_default()
                    .streams
                    .entry(stream.0.into())
                    .or_default();
                let msg = (
                    m.dir.as_str().to_string(),
                    m.opcode.bits().into(),
                    m.payload.len,
                    sha256_hex(&m.payload.bytes),
                    m.compressed,
                );
                s.messages.push(msg);
            }
            Event::Frame(f) if f.header.opcode == OpCode::Close => {
                let (Some(stream), Some(c)) = (f.stream, &f.close) else {
                    continue;
                };
                let s = by_conn
                    .entry(f.conn.0)
                    .or_default()
                    .streams
                    .entry(stream.0.into())
                    .or_default();
                s.closes.push((
                    f.dir.as_str().to_string(),
                    c.code.map(u64::from),
                    c.reason.clone(),
                ));
            }
            Event::StreamEnd(e) => {
                let s = by_conn
                    .entry(e.conn.0)
                    .or_default()
                    .streams
                    .entry(e.stream.0.into())
                    .or_default();
                assert!(s.end.is_none(), "stream {} ended twice", e.stream);
                s.end = Some(end_kind(&e.reason));
            }
            Event::Http2Request(r) => {
                let line = (
                    r.stream.0.into(),
                    r.method.clone(),
                    r.path.clone(),
                    r.status.map(u64::from),
                );
                by_conn.entry(r.conn.0).or_default().requests.push(line);
            }
            Event::Diagnostic(d) => {
                let rule = (
                    d.stream.map(|s| s.0.into()),
                    d.dir.map_or("-", |x| x.as_str()).to_string(),
                    d.rule.name.to_string(),
                );
                by_conn.entry(d.conn.0).or_default().rules.push(rule);
            }
            _ => {}
        }
    }
    by_conn
        .into_iter()
        .filter_map(|(conn, s)| Some((clients.get(&conn)?.clone(), s)))
        .collect()
}

/// How the truth file says the stream ended, in [`end_kind`]'s words: a RST_STREAM from either
/// side (the code as its sender logged it), END_STREAM both ways, or the connection closing
/// (after a GOAWAY, when there was one).
fn expected_end(w: &serde_json::Value, conn: &serde_json::Value) -> String {
    let end = &w["end"];
    for dir in ["c2s", "s2c"] {
        if end[dir] == "rst_stream" {
            // The generators name the field either way; Firefox's is a list (one per stream end).
            let code = [
                format!("rst_stream_{dir}_error"),
                format!("rst_stream_error_{dir}"),
            ]
            .iter()
            .find_map(|k| w[k].as_u64().or_else(|| w[k][0].as_u64()));
            return format!(
                "rst_stream {dir} {}",
                code.expect("the RST_STREAM code is logged")
            );
        }
    }
    if end["c2s"] == "end_stream" && end["s2c"] == "end_stream" {
        return "end_stream".into();
    }
    let goaway = conn["goaway"]
        .as_object()
        .is_some_and(|g| g.values().any(|v| !v.is_null()));
    if goaway || end["c2s"] == "goaway" || end["s2c"] == "goaway" {
        return "goaway".into();
    }
    "connection".into()
}

fn expected_stream(w: &serde_json::Value, conn: &serde_json::Value) -> StreamSeen {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    StreamSeen {
        status: w["status"].as_u64(),
        subprotocol: w["subprotocol"].as_str().map(String::from),
        extensions: w["extensions"].as_array().unwrap().iter().map(s).collect(),
        messages: w["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    s(&m["dir"]),
                    m["opcode"].as_u64().unwrap(),
                    m["len"].as_u64().unwrap(),
                    s(&m["sha256"]),
                    m["compressed"].as_bool().unwrap_or(false),
                )
            })
            .collect(),
        closes: w["closes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (s(&c["dir"]), c["code"].as_u64(), s(&c["reason"])))
            .collect(),
        end: Some(expected_end(w, conn)),
    }
}

/// Messages compared per direction: the two directions interleave differently in the capture
/// than in the senders' logs.
fn by_dir(mut s: StreamSeen) -> StreamSeen {
    s.messages.sort_by_key(|m| m.0 == "s2c");
    s.closes.sort_by_key(|c| c.0 == "s2c");
    s
}

fn events_of(sample: &H2Sample) -> Vec<Event> {
    dissect(&sample.capture, sample.keys.clone())
}

#[test]
fn every_h2_sample_gives_what_the_senders_logged() {
    for sample in h2_samples()
        .iter()
        .filter(|s| !s.name.contains("violations"))
    {
        let seen = seen(&events_of(sample));
        let conns = sample.expected["connections"].as_array().unwrap();
        assert_eq!(
            seen.len(),
            conns.len(),
            "{}: connections shown",
            sample.name
        );
        for conn in conns {
            let client = conn["client"].as_str().unwrap();
            let got = seen
                .get(client)
                .unwrap_or_else(|| panic!("{}: {client} not shown", sample.name));
            assert_eq!(
                got.http2.as_deref(),
                conn["h2"].as_str(),
                "{}: how HTTP/2 started",
                sample.name
            );
            let websockets = conn["websockets"].as_array().unwrap();
            let streams: Vec<u64> = websockets
                .iter()
                .map(|w| w["stream"].as_u64().unwrap())
                .collect();
            assert_eq!(
                got.streams.keys().copied().collect::<Vec<_>>(),
                streams,
                "{}: WebSocket streams",
                sample.name
            );
            for w in websockets {
                let id = w["stream"].as_u64().unwrap();
                let want = by_dir(expected_stream(w, conn));
                let have = by_dir(got.streams[&id].clone());
                assert_eq!(have, want, "{} stream {id}", sample.name);
            }
            let requests: Vec<_> = conn["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["stream"].as_u64().unwrap(),
                        r["method"].as_str().unwrap().to_string(),
                        r["path"].as_str().unwrap().to_string(),
                        r["status"].as_u64(),
                    )
                })
                .collect();
            let mut lines = got.requests.clone();
            lines.sort();
            assert_eq!(lines, requests, "{}: request lines", sample.name);
            let errors: Vec<_> = got.rules.iter().filter(|r| is_error(&r.2)).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", sample.name);
        }
    }
}

fn is_error(rule: &str) -> bool {
    wsdissect::base::rules::ALL
        .iter()
        .any(|r| r.name == rule && r.severity == Severity::Error)
}

#[test]
fn the_rfc8441_oddities_are_named_on_their_streams() {
    let sample = h2_samples()
        .into_iter()
        .find(|s| s.name.contains("violations"))
        .unwrap();
    let seen = seen(&events_of(&sample));
    let conns = sample.expected["connections"].as_array().unwrap();
    // (stream, dir, rule) each connection must show, from what the generator logged doing.
    let wanted: [&[(u64, &str, &str)]; 4] = [
        &[
            (1, "c2s", "h2-connect-not-enabled"),
            (1, "s2c", "handshake-no-response"),
        ],
        &[
            (1, "c2s", "h2-connect-not-enabled"),
            (1, "c2s", "h2-websocket-key-sent"),
            (1, "s2c", "h2-websocket-key-sent"),
            (1, "c2s", "frame-incomplete"),
            (3, "s2c", "handshake-rejected"),
            (3, "s2c", "h2-data-after-refusal"),
            (5, "c2s", "h2-data-after-end-stream"),
        ],
        &[
            (1, "c2s", "h2-protocol-not-connect"),
            (1, "c2s", "handshake-no-response"),
        ],
        &[],
    ];
    assert_eq!(conns.len(), wanted.len());
    for (conn, wanted) in conns.iter().zip(wanted) {
        let client = conn["client"].as_str().unwrap();
        let got = &seen[client];
        for (stream, dir, rule) in wanted {
            let hit = got
                .rules
                .iter()
                .any(|r| r.0 == Some(*stream) && r.1 == *dir && r.2 == *rule);
            assert!(
                hit,
                "{client}: no {rule} on stream {stream} {dir}: {:?}",
                got.rules
            );
        }
        // Errors only where the generator broke a rule (conn 3's missing version is real too:
        // its GET carries :protocol but no sec-websocket-version).
        let unexpected: Vec<_> = got
            .rules
            .iter()
            .filter(|r| {
                is_error(&r.2) && !wanted.iter().any(|w| r.2 == w.2) && r.2 != "handshake-version"
            })
            .collect();
        assert!(unexpected.is_empty(), "{client}: {unexpected:?}");
        // What the endpoints accepted is dissected like any session.
        for w in conn["websockets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["status"] == 200)
        {
            let id = w["stream"].as_u64().unwrap();
            let want = by_dir(expected_stream(w, conn));
            assert_eq!(
                by_dir(got.streams[&id].clone()),
                want,
                "{client} stream {id}"
            );
        }
    }
}

/// Each (stream, dir)'s messages, as [`StreamSeen`] has them.
fn messages_by_stream_dir(
    streams: &BTreeMap<u64, StreamSeen>,
) -> BTreeMap<(u64, String), Vec<Msg>> {
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for (id, s) in streams {
        for m in &s.messages {
            out.entry((*id, m.0.clone())).or_default().push(m.clone());
        }
    }
    out
}

fn py_h2c() -> H2Sample {
    h2_samples()
        .into_iter()
        .find(|s| s.name == "py-h2c.pcap")
        .unwrap()
}

#[test]
fn a_capture_that_starts_mid_connection_infers_the_streams() {
    let sample = py_h2c();
    let conn = &sample.expected["connections"][0];
    let mut truth = BTreeMap::new();
    for w in conn["websockets"].as_array().unwrap() {
        truth.insert(w["stream"].as_u64().unwrap(), expected_stream(w, conn));
    }
    let truth = messages_by_stream_dir(&truth);
    // Cuts after the handshakes (packet 33 answers the last extended CONNECT) and one before.
    for first in [20, 40, 60] {
        let events = dissect_bytes(filter_pcap(&sample.capture, |n| n >= first), vec![]);
        let seen = seen(&events);
        let got = seen
            .values()
            .next()
            .unwrap_or_else(|| panic!("cut at {first}: nothing shown"));
        assert_eq!(got.http2.as_deref(), Some("inferred"), "cut at {first}");
        let shown = messages_by_stream_dir(&got.streams);
        assert!(shown.len() >= 4, "cut at {first}: {:?}", shown.keys());
        for (key, msgs) in shown {
            // What is shown is the end of what was sent: the messages cut by the start of the
            // capture are not shown at all, never in part.
            let sent = &truth[&key];
            assert!(
                sent.ends_with(&msgs),
                "cut at {first}, stream {key:?}: {msgs:?} is not the end of {sent:?}"
            );
        }
        let inferred = got
            .rules
            .iter()
            .filter(|r| r.2 == "inferred-websocket")
            .count();
        assert!(inferred >= 2, "cut at {first}: {:?}", got.rules);
    }
}

/// The TCP payload of each packet of a loopback (Ethernet, IPv4) capture: (source port, bytes).
fn tcp_payloads(pcap: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let pkt = &pcap[at + 16..at + 16 + caplen];
        let ip = &pkt[14..];
        let tcp = &ip[usize::from(ip[0] & 0x0f) * 4..];
        let payload = &tcp[usize::from(tcp[12] >> 4) * 4..];
        out.push((u16::from_be_bytes([tcp[0], tcp[1]]), payload.to_vec()));
        at += 16 + caplen;
    }
    out
}

#[test]
fn a_lost_segment_loses_only_what_it_carried_and_never_glues() {
    let sample = py_h2c();
    let conn = &sample.expected["connections"][0];
    let client_port: u16 = conn["client"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let payloads = tcp_payloads(&std::fs::read(&sample.capture).unwrap());
    // The second segment of large client DATA frames of stream 1 (the 65536-byte message): a
    // whole frame lost at a frame boundary, so the reader cannot know which streams it carried.
    let lost = payloads
        .iter()
        .enumerate()
        .filter(|(_, (port, p))| {
            *port == client_port && p.len() > 4096 && p[3] == 0 && p[5..9] == [0, 0, 0, 1]
        })
        .map(|(i, _)| i as u64 + 1)
        .nth(1)
        .expect("stream 1 carries large client DATA frames");
    let events = dissect_bytes(filter_pcap(&sample.capture, |n| n != lost), vec![]);
    let seen = seen(&events);
    let got = &seen[conn["client"].as_str().unwrap()];
    let mut truth = BTreeMap::new();
    for w in conn["websockets"].as_array().unwrap() {
        truth.insert(w["stream"].as_u64().unwrap(), expected_stream(w, conn));
    }
    let truth = messages_by_stream_dir(&truth);
    for (key, msgs) in messages_by_stream_dir(&got.streams) {
        // Every message shown is one that was sent, in order: none glued across the hole.
        let sent = &truth[&key];
        let mut rest = sent.iter();
        for m in &msgs {
            assert!(
                rest.any(|s| s == m),
                "packet {lost} lost, stream {key:?}: {m:?} was never sent"
            );
        }
    }
    let shown_c2s = messages_by_stream_dir(&got.streams)
        .get(&(1, "c2s".into()))
        .map_or(0, Vec::len);
    assert!(
        shown_c2s < truth[&(1, "c2s".into())].len(),
        "the message with the hole is not shown whole"
    );
    let named = got
        .rules
        .iter()
        .any(|r| r.0 == Some(1) && r.1 == "c2s" && r.2 == "stream-desync");
    assert!(named, "packet {lost} lost: {:?}", got.rules);
    // The server's direction lost nothing.
    for id in [1, 5, 7] {
        assert_eq!(
            messages_by_stream_dir(&got.streams).get(&(id, "s2c".into())),
            truth.get(&(id, "s2c".into())),
            "stream {id} s2c"
        );
    }
}

/// `--stream` keeps one stream's session (and the connection's own records).
#[test]
fn the_stream_filter_keeps_one_session() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .args(["--format", "json", "--stream", "7"])
        .arg(repo().join("samples/h2/py-h2c.pcap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut types = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(stream) = v.get("stream") {
            assert_eq!(stream, 7, "{line}");
        }
        *types
            .entry(v["type"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(types.get("handshake"), Some(&1), "{types:?}");
    assert_eq!(types.get("message"), Some(&14), "{types:?}");
    assert_eq!(types.get("stream_end"), Some(&1), "{types:?}");
    assert!(!types.contains_key("http2_request"), "{types:?}");
}

/// A fuzz finding, kept as a regression: an `Upgrade: h2c` connection (from py-h2c-upgrade)
/// whose client preface is damaged. Where the frame hunt after it finds the boundary must not
/// depend on how the bytes are cut: the whole segments and 1-, 2- and 5-byte pieces show the
/// same events. Input format: fuzz/fuzz_targets/h2_connection.rs (mode, gap mask, then
/// segments as side << 15 | length, big-endian, and the bytes).
#[test]
fn a_damaged_preface_is_hunted_past_the_same_way_however_the_bytes_are_cut() {
    use wsdissect::conversation::{dissect_streams, DissectConfig, Piece};
    let data = std::fs::read(repo().join("tests/data/h2c-upgrade-bad-preface.fuzz")).unwrap();
    let mut segments = Vec::new();
    let mut at = 2;
    while at + 2 <= data.len() {
        let head = usize::from(u16::from_be_bytes([data[at], data[at + 1]]));
        let len = (head & 0x7fff).min(data.len() - at - 2);
        segments.push((head >> 15, &data[at + 2..at + 2 + len]));
        at += 2 + len;
    }
    let run = |piece: usize| {
        let pieces = segments
            .iter()
            .flat_map(|(side, bytes)| bytes.chunks(piece).map(move |b| (*side, Piece::Bytes(b))));
        let events = dissect_streams(pieces, DissectConfig::default());
        let seen = seen(&events);
        let c = seen
            .values()
            .next()
            .expect("the connection is shown")
            .streams
            .clone();
        c.into_iter()
            .map(|(id, s)| (id, s.messages.len(), s.end))
            .collect::<Vec<_>>()
    };
    let whole = run(usize::MAX);
    assert!(
        whole.iter().any(|s| s.1 > 0),
        "the WebSocket on stream 3 is found: {whole:?}"
    );
    for piece in [1, 2, 5] {
        assert_eq!(run(piece), whole, "in {piece}-byte pieces");
    }
}
