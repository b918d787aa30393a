//! The human views as a user sees them: snapshots of every view over every sample capture, a
//! few exact checks of the table, conversation and export outputs, and proof that a hostile
//! payload cannot reach the terminal through any sink.
//!
//! Snapshots are made from the built binary with `--color never` and `COLUMNS=100`. Regenerate
//! them with `INSTA_UPDATE=always cargo test --test integration views` and review the diff.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use wsdissect::base::{ConnId, Direction, PacketRef, StreamId, Timestamp};
use wsdissect::conversation::{dissect_raw_frames, DissectConfig};
use wsdissect::event::{CaptureSummary, ConnectionEnd, ConnectionInfo, DirStats, EndReason, Event};
use wsdissect::event::{H2Start, Handshake, Http2Request, TlsInfo};
use wsdissect::http::{parse_extensions, Exchange, Headers};
use wsdissect::net::SkipReason;
use wsdissect::output::annotate::{AnnotateOptions, AnnotateSink};
use wsdissect::output::conversation_view::{ConversationOptions, ConversationSink};
use wsdissect::output::json::JsonSink;
use wsdissect::output::style::Style;
use wsdissect::output::table::{TableOptions, TableSink};
use wsdissect::output::text::{TextOptions, TextSink};
use wsdissect::output::Sink;

use crate::common::{repo, sha256_hex};

const BIN: &str = env!("CARGO_BIN_EXE_wsdissect");

/// Snapshots keep this many lines (JSON: `JSON_LINES`) and cut longer lines, then record the
/// full line count: the big captures print hundreds of kilobytes, which would make snapshot
/// files unreviewable; the head of each output is where a rendering change shows.
const MAX_LINES: usize = 300;
const JSON_LINES: usize = 200;
const MAX_LINE_CHARS: usize = 1000;

/// Every capture in samples/ and samples/violations/, as (snapshot name, repo-relative path).
fn captures() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for (dir, prefix) in [("samples", ""), ("samples/violations", "violations-")] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.ends_with(".pcap") || name.ends_with(".pcapng")
            })
            .collect();
        files.sort();
        for p in files {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            let rel = p.strip_prefix(repo()).unwrap().to_path_buf();
            out.push((format!("{prefix}{stem}"), rel));
        }
    }
    assert!(out.len() >= 15, "found only {} captures", out.len());
    out.extend(app_captures());
    out
}

/// The captures of real application protocols (samples/apps/PROTO/, docs/decoders.md), as
/// (`apps-PROTO-stem`, path).
pub fn app_captures() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("samples/apps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let proto = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
            .collect();
        files.sort();
        for p in files {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            let rel = p.strip_prefix(repo()).unwrap().to_path_buf();
            out.push((format!("apps-{proto}-{stem}"), rel));
        }
    }
    assert!(
        out.len() >= 2,
        "found only {} application captures",
        out.len()
    );
    out
}

/// Run the binary from the repository root; stdout as text (it must be UTF-8).
fn run(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .current_dir(repo())
        .env("COLUMNS", "100")
        .env_remove("NO_COLOR")
        .args(["--color", "never"])
        .args(args)
        .output()
        .expect("run wsdissect");
    assert!(
        out.status.success(),
        "wsdissect {args:?} exited {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("output is UTF-8")
}

fn capped(output: &str, max_lines: usize) -> String {
    let total = output.lines().count();
    let mut s = String::new();
    for line in output.lines().take(max_lines) {
        let chars = line.chars().count();
        if chars > MAX_LINE_CHARS {
            s.extend(line.chars().take(MAX_LINE_CHARS));
            s.push_str(&format!(" …[line cut: +{} chars]", chars - MAX_LINE_CHARS));
        } else {
            s.push_str(line);
        }
        s.push('\n');
    }
    if total > max_lines {
        s.push_str(&format!("…[{} more lines]\n", total - max_lines));
    }
    s.push_str(&format!("[{total} lines]\n"));
    s
}

fn snapshot_view(view: &str, args: &[&str], max_lines: usize) {
    for (name, path) in captures() {
        let path = path.to_string_lossy().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.push(&path);
        let output = capped(&run(&all), max_lines);
        let mut settings = insta::Settings::clone_current();
        settings.set_description(format!("wsdissect --color never {}", all.join(" ")));
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!(format!("{name}-{view}"), output));
    }
}

#[test]
fn snapshots_text() {
    snapshot_view("text", &[], MAX_LINES);
}

#[test]
fn snapshots_explain() {
    snapshot_view("explain", &["--explain"], MAX_LINES);
}

/// `explain --diagram` on RFC 6455 §5.7's examples: a text frame unmasked and masked, and a
/// 256-byte binary frame with a 16-bit extended length, each opening with its §5.2 box.
#[test]
fn snapshot_explain_diagram() {
    let mut args = vec!["explain", "--diagram", "s:", "81 05 48 65 6c 6c 6f"];
    args.extend([
        "c:",
        "81 85 37 fa 21 3d 7f 9f 4d 51 58",
        "s:",
        "82 7e 01 00",
    ]);
    let payload = "00 ".repeat(256);
    args.push(&payload);
    let output = run(&args);
    // The box fits 80 columns (the rest of -v is being fitted separately).
    let boxed: Vec<&str> = (output.lines())
        .filter(|l| l.starts_with("   |") || l.starts_with("   +-"))
        .collect();
    assert_eq!(boxed.len(), 13 + 17 + 13, "{output}");
    for line in boxed {
        assert!(line.chars().count() <= 80, "{line}");
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_description("wsdissect --color never explain --diagram (RFC 6455 §5.7 examples)");
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!("explain-diagram", output));
}

#[test]
fn snapshots_table() {
    snapshot_view("table", &["--format", "table"], MAX_LINES);
}

#[test]
fn snapshots_conversation() {
    snapshot_view("conversation", &["--format", "conversation"], MAX_LINES);
}

#[test]
fn snapshots_json() {
    snapshot_view("json", &["--format", "json"], JSON_LINES);
}

// ---------------------------------------------------------------------------------------------
// Exact checks
// ---------------------------------------------------------------------------------------------

/// The body rows of the table printed under `heading`, cells trimmed.
fn table_rows(output: &str, heading: &str) -> Vec<Vec<String>> {
    let mut lines = output.lines().skip_while(|l| *l != heading).skip(1);
    let mut rows = Vec::new();
    let mut in_body = false;
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        if line.starts_with('╞') {
            in_body = true;
            continue;
        }
        if in_body && line.starts_with('│') {
            let inner = line.trim_start_matches('│').trim_end_matches('│');
            rows.push(inner.split('┆').map(|c| c.trim().to_string()).collect());
        }
    }
    assert!(!rows.is_empty(), "no table under {heading:?} in:\n{output}");
    rows
}

#[test]
fn table_counts_node_fragments() {
    let out = run(&["--format", "table", "samples/node-fragments.pcap"]);
    let traffic = table_rows(&out, "Traffic per connection and direction");
    assert_eq!(traffic.len(), 2, "{traffic:?}");
    // conn, direction, frames, messages, payload bytes, close, close reason
    assert_eq!(
        traffic[0][..6],
        ["1", "c2s →", "14", "5", "70827", "1000 Normal Closure"]
    );
    assert_eq!(
        traffic[1][..6],
        ["", "s2c ←", "9", "5", "70827", "1000 Normal Closure"]
    );
    let sizes = table_rows(&out, "Message sizes (bytes)");
    assert_eq!(sizes[0][..2], ["c2s →", "5"]);
    assert_eq!(sizes[1][..2], ["s2c ←", "5"]);
    assert_eq!(sizes[0][6], "70000", "max message size");
    let rtts = table_rows(&out, "Ping round-trip times (ms)");
    assert_eq!(rtts[0][..2], ["1", "3"]);
    let ops = table_rows(&out, "Frames by opcode");
    assert!(ops.contains(&vec![
        "continuation (0x0)".to_string(),
        "5".into(),
        "0".into(),
        "5".into()
    ]));
}

#[test]
fn table_close_codes_py_closes() {
    let out = run(&["--format", "table", "samples/py-closes.pcap"]);
    let traffic = table_rows(&out, "Traffic per connection and direction");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("samples/py-closes.expected.json")).unwrap(),
    )
    .unwrap();
    for c in expected["connections"].as_array().unwrap() {
        for close in c["closes"].as_array().unwrap() {
            let code = match close["code"].as_u64() {
                Some(c) => format!("{c} "),
                None => "(no status code)".to_string(),
            };
            assert!(
                traffic.iter().any(|r| r[5].starts_with(&code)),
                "close code {code} missing from {traffic:?}"
            );
        }
    }
}

#[test]
fn conversation_shows_every_close_py_closes() {
    let out = run(&["--format", "conversation", "samples/py-closes.pcap"]);
    // A line too long for the width goes on four columns in: join it back.
    let out = out.replace("\n    ", " ");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("samples/py-closes.expected.json")).unwrap(),
    )
    .unwrap();
    let mut n = 0;
    for c in expected["connections"].as_array().unwrap() {
        for close in c["closes"].as_array().unwrap() {
            let side = if close["dir"] == "c2s" {
                "client"
            } else {
                "server"
            };
            let reason = close["reason"].as_str().unwrap();
            let want = match close["code"].as_u64() {
                Some(code) => format!("by {side}: {code} "),
                None => format!("by {side}: no status code"),
            };
            assert!(
                out.lines().any(|l| l.contains(&want)
                    && (reason.is_empty() || l.ends_with(&format!("\"{reason}\"")))),
                "no line with {want:?} (reason {reason:?}) in:\n{out}"
            );
            n += 1;
        }
    }
    assert!(n >= 6, "only {n} closes in the expectations");
    // Only handshakes, messages and closes: one line each (no binary messages here).
    assert!(out.lines().all(|l| l.starts_with("[conn ")), "{out}");
}

#[test]
fn conversation_shows_rejected_handshakes() {
    let out = run(&["--format", "conversation", "samples/py-rejected.pcap"]);
    let rejected: Vec<&str> = out.lines().filter(|l| l.contains("rejected")).collect();
    assert_eq!(rejected.len(), 2, "{out}");
    assert!(
        rejected[0].contains("GET /forbidden → 403 Forbidden"),
        "{out}"
    );
}

/// A fresh, empty directory under the target's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("views-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn export_writes_one_file_per_message_py_echo() {
    let dir = scratch("export-py-echo");
    let d = dir.to_string_lossy().to_string();
    run(&[
        "--format",
        "table",
        "--full-payload",
        "--export",
        &d,
        "samples/py-echo.pcap",
    ]);
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("samples/py-echo.expected.json")).unwrap(),
    )
    .unwrap();
    let conns = expected["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1);
    let messages = conns[0]["messages"].as_array().unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    files.sort();
    assert_eq!(files.len(), messages.len(), "{files:?}");

    // The k-th message of a direction is file conn1-{dir}-{k:05}; every payload is whole.
    let mut per_dir = [0u64; 2];
    let mut big = 0;
    for m in messages {
        let dir_name = m["dir"].as_str().unwrap();
        let k = &mut per_dir[usize::from(dir_name == "s2c")];
        *k += 1;
        let ext = if m["opcode"] == 1 { "txt" } else { "bin" };
        let name = format!("conn1-{dir_name}-{:05}.{ext}", *k);
        let bytes = std::fs::read(dir.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(bytes.len() as u64, m["len"].as_u64().unwrap(), "{name}");
        assert_eq!(sha256_hex(&bytes), m["sha256"].as_str().unwrap(), "{name}");
        if bytes.len() == 1_572_864 && ext == "txt" {
            big += 1;
        }
    }
    assert_eq!(big, 2, "the 1.5 MiB text message, each way");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_keeps_the_previewed_bytes_without_full_payload() {
    let dir = scratch("export-node-fragments");
    let d = dir.to_string_lossy().to_string();
    let out = run(&[
        "--export",
        &d,
        "--max-payload",
        "100",
        "samples/node-fragments.pcap",
    ]);
    assert!(
        out.contains("message text 47 bytes"),
        "the view still prints"
    );
    let big = std::fs::read(dir.join("conn1-c2s-00003.txt")).unwrap();
    assert_eq!(big.len(), 100, "cut at --max-payload");
    assert_eq!(
        std::fs::read(dir.join("conn1-s2c-00002.bin"))
            .unwrap()
            .len(),
        100
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 10);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_to_an_unwritable_place_is_a_clear_error() {
    // A directory cannot be created under a regular file.
    let out = Command::new(BIN)
        .current_dir(repo())
        .args([
            "--export",
            "samples/py-nano.pcap/out",
            "samples/py-nano.pcap",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("wsdissect: cannot create directory samples/py-nano.pcap/out"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Terminal safety
// ---------------------------------------------------------------------------------------------

const HOSTILE: &str = "\x1b]0;pwned\x07\x1b[2J\u{202e}hi";

/// A frame as a server sends it (unmasked), `len` < 126.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![first, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

/// Events of a connection whose handshake, messages and close all carry the hostile text.
fn hostile_events() -> Vec<Event> {
    let addr: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
    let conn = ConnId(1);
    let p = PacketRef {
        number: 1,
        ts: Timestamp(1_700_000_000_000_000_000),
    };
    let mut events = vec![Event::Connection(ConnectionInfo {
        conn,
        client: addr,
        server: addr,
        first_packet: p,
        inferred: false,
        // What a TLS handshake said is the peers' text too.
        tls: Some(TlsInfo {
            version: 0x0304,
            suite: 0x1301,
            sni: Some(HOSTILE.into()),
            alpn_offered: vec![HOSTILE.into()],
            alpn: Some(HOSTILE.into()),
            decrypted: true,
            resumed: false,
        }),
        http2: Some(H2Start::Alpn),
    })];
    events.push(Event::Handshake(Box::new(Handshake {
        conn,
        stream: None,
        exchange: Exchange {
            request_packet: p,
            response_packet: p,
            method: format!("GET{HOSTILE}"),
            target: format!("/{HOSTILE}"),
            host: Some(HOSTILE.into()),
            origin: Some(HOSTILE.into()),
            user_agent: Some(HOSTILE.into()),
            key: Some(HOSTILE.into()),
            version: Some(HOSTILE.into()),
            offered_protocols: vec![HOSTILE.into()],
            offered_extensions: parse_extensions(&format!("x{HOSTILE}; a=\"{HOSTILE}\"")),
            status: 101,
            reason: HOSTILE.into(),
            accept: Some(HOSTILE.into()),
            expected_accept: None,
            subprotocol: Some(HOSTILE.into()),
            extensions: parse_extensions(&format!("x{HOSTILE}; a=\"{HOSTILE}\"")),
            request_headers: Headers(vec![(HOSTILE.into(), HOSTILE.into())]),
            response_headers: Headers(vec![(HOSTILE.into(), HOSTILE.into())]),
            http2: None,
        },
    })));
    // Over HTTP/2 the fields come from HPACK: the peers' text as well.
    let h2 = Exchange::from_extended_connect(
        &Headers(vec![
            (":method".into(), format!("CONNECT{HOSTILE}")),
            (":protocol".into(), HOSTILE.into()),
            (":path".into(), format!("/{HOSTILE}")),
            (":authority".into(), HOSTILE.into()),
            ("sec-websocket-protocol".into(), HOSTILE.into()),
        ]),
        p,
        &Headers(vec![
            (":status".into(), "200".into()),
            ("sec-websocket-protocol".into(), HOSTILE.into()),
        ]),
        p,
        true,
    );
    events.push(Event::Handshake(Box::new(Handshake {
        conn,
        stream: Some(StreamId(3)),
        exchange: h2,
    })));
    events.push(Event::Http2Request(Http2Request {
        conn,
        stream: StreamId(5),
        packet: p,
        method: HOSTILE.into(),
        path: HOSTILE.into(),
        status: Some(200),
        upgraded: false,
    }));
    let mut wire = frame(0x81, HOSTILE.as_bytes());
    wire.extend(frame(0x82, HOSTILE.as_bytes()));
    wire.extend(frame(0x89, HOSTILE.as_bytes()));
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(HOSTILE.as_bytes());
    wire.extend(frame(0x88, &close));
    let raw = dissect_raw_frames(
        &[(Direction::ServerToClient, &wire)],
        None,
        DissectConfig::default(),
    );
    assert!(raw.incomplete.is_empty());
    let messages = raw
        .events
        .iter()
        .filter(|e| matches!(e, Event::Message(_)))
        .count();
    assert_eq!(messages, 2, "{:?}", raw.events);
    events.extend(raw.events);
    events.push(Event::ConnectionEnd(ConnectionEnd {
        conn,
        reason: EndReason::Fin,
        packet: p,
        stats: [DirStats::default(); 2],
        close: [None, None],
        diagnostics: 0,
    }));
    events.push(Event::CaptureEnd(CaptureSummary {
        packets: 1,
        // Skip reasons are the dissector's own words, never capture bytes.
        skipped: vec![(SkipReason::NotTcp(17), 1)],
        ..CaptureSummary::default()
    }));
    events
}

fn render(sink: &mut dyn Sink, events: &[Event]) {
    for e in events {
        sink.event(e).unwrap();
    }
    sink.finish().unwrap();
}

fn assert_terminal_safe(view: &str, out: &[u8], check_rlo: bool) {
    assert!(!out.is_empty(), "{view}: no output");
    assert!(
        !out.contains(&0x1b),
        "{view}: ESC reached the output:\n{}",
        String::from_utf8_lossy(out)
    );
    assert!(!out.contains(&0x07), "{view}: BEL reached the output");
    let text = std::str::from_utf8(out).unwrap_or_else(|e| panic!("{view}: not UTF-8: {e}"));
    if check_rlo {
        assert!(
            !text.contains('\u{202e}'),
            "{view}: U+202E reached the output"
        );
    }
    assert!(
        text.contains("pwned"),
        "{view}: the payload should be shown, escaped:\n{text}"
    );
}

#[test]
fn hostile_payloads_cannot_reach_the_terminal() {
    let events = hostile_events();
    let style = Style { color: false };
    for pretty_json in [false, true] {
        let mut out = Vec::new();
        render(
            &mut TextSink::new(
                &mut out,
                TextOptions {
                    preview: usize::MAX,
                    flush_each: false,
                    style,
                    pretty_json,
                    width: usize::MAX,
                },
            ),
            &events,
        );
        assert_terminal_safe("text", &out, true);
    }

    let mut out = Vec::new();
    render(
        &mut AnnotateSink::new(
            &mut out,
            AnnotateOptions {
                payload_bytes: usize::MAX,
                style,
                diagram: true,
                width: 80,
            },
        ),
        &events,
    );
    assert_terminal_safe("explain", &out, true);

    let mut out = Vec::new();
    render(
        &mut TableSink::new(
            &mut out,
            TableOptions {
                width: Some(100),
                style,
            },
        ),
        &events,
    );
    assert_terminal_safe("table", &out, true);

    for pretty_json in [false, true] {
        let mut out = Vec::new();
        render(
            &mut ConversationSink::new(
                &mut out,
                ConversationOptions {
                    preview: usize::MAX,
                    style,
                    pretty_json,
                    flush_each: false,
                    width: 80,
                },
            ),
            &events,
        );
        assert_terminal_safe("conversation", &out, true);
    }

    let mut out = Vec::new();
    render(&mut JsonSink::new(&mut out, false), &events);
    // JSON escapes control characters as \u001b; the bidi override is checked separately.
    assert_terminal_safe("json", &out, false);
    assert!(String::from_utf8_lossy(&out).contains("\\u001b]0;pwned\\u0007"));
}

/// serde_json alone writes U+202E (and the other bidi controls, and C1 controls) as raw UTF-8,
/// so `--format json` piped to a terminal could reorder a line; the sink's formatter escapes them.
#[test]
fn json_escapes_bidi_overrides() {
    let mut out = Vec::new();
    render(&mut JsonSink::new(&mut out, false), &hostile_events());
    assert_terminal_safe("json", &out, true);
}

/// wss: the views of every TLS sample decrypted with its key log (the teaching view shows the
/// record layer), and the default view of one without it.
#[test]
fn snapshots_tls() {
    let dir = repo().join("samples/tls");
    let mut keys: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "keys"))
        .collect();
    keys.sort();
    let mut seen = 0;
    for k in keys {
        let pcap = k.with_extension("pcap");
        if !pcap.exists() {
            continue;
        }
        seen += 1;
        let name = pcap.file_stem().unwrap().to_string_lossy().to_string();
        let rel = |p: &PathBuf| {
            p.strip_prefix(repo())
                .unwrap()
                .to_string_lossy()
                .to_string()
        };
        let (pcap, k) = (rel(&pcap), rel(&k));
        for (view, args, max) in [
            ("text", vec![], 60),
            ("explain", vec!["-v"], 120),
            ("json", vec!["--format", "json"], 40),
        ] {
            let mut all: Vec<&str> = args.clone();
            all.extend(["--tls-keylog", &k, &pcap]);
            let output = capped(&run(&all), max);
            let mut settings = insta::Settings::clone_current();
            settings.set_description(format!("wsdissect --color never {}", all.join(" ")));
            settings.set_omit_expression(true);
            settings.bind(|| insta::assert_snapshot!(format!("tls-{name}-{view}"), output));
        }
    }
    assert!(seen >= 10);
    let no_key = capped(&run(&["samples/tls/py-tls12-gcm.pcap"]), 40);
    insta::assert_snapshot!("tls-py-tls12-gcm-no-key-text", no_key);
}

/// WebSocket over HTTP/2: every view of every sample in samples/h2 (with its key log when it
/// has one); the teaching view shows each HTTP/2 frame above the WebSocket frames it carries.
#[test]
fn snapshots_h2() {
    let dir = repo().join("samples/h2");
    let mut captures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    captures.sort();
    assert!(captures.len() >= 6);
    for pcap in captures {
        let name = pcap.file_stem().unwrap().to_string_lossy().to_string();
        let rel = |p: &PathBuf| {
            p.strip_prefix(repo())
                .unwrap()
                .to_string_lossy()
                .to_string()
        };
        let keys = pcap.with_extension("keys");
        let mut input = Vec::new();
        if keys.exists() {
            input.extend(["--tls-keylog".to_string(), rel(&keys)]);
        }
        input.push(rel(&pcap));
        for (view, args, max) in [
            ("text", vec![], 80),
            ("explain", vec!["-v"], 160),
            ("table", vec!["--format", "table"], 80),
            ("conversation", vec!["--format", "conversation"], 60),
            ("json", vec!["--format", "json"], 40),
        ] {
            let mut all: Vec<&str> = args.clone();
            all.extend(input.iter().map(String::as_str));
            let output = capped(&run(&all), max);
            let mut settings = insta::Settings::clone_current();
            settings.set_description(format!("wsdissect --color never {}", all.join(" ")));
            settings.set_omit_expression(true);
            settings.bind(|| insta::assert_snapshot!(format!("h2-{name}-{view}"), output));
        }
    }
}
