//! `wsdissect report`: the page written for real captures is one self-contained file that
//! holds their frames; and, in headless Chromium, clicking a frame shows its bytes.
//!
//! The browser test is `#[ignore]`d (it needs Debian's `chromium` and the Python venv that
//! scripts/test.sh makes); scripts/test.sh runs it as the group "browser". With
//! `UPDATE_DOCS=1` it also rewrites the screenshots in docs/report/.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use wsdissect::event::{Event, Frame};
use wsdissect::output::escape::{escape_bytes, hex_spaced};
use wsdissect::output::report::DEFAULT_MAX_FRAMES;
use wsdissect::ws::opcode::OpCode;

use crate::common::{dissect_full, repo};

const BIN: &str = env!("CARGO_BIN_EXE_wsdissect");

/// The samples the page is checked on: fragments and pings, deflate, closes, HTTP/2.
const SAMPLES: &[&str] = &[
    "samples/node-fragments.pcap",
    "samples/node-deflate.pcap",
    "samples/py-closes.pcap",
    "samples/h2/node-h2c.pcap",
];

/// Write the report of `capture` into a fresh directory under target/; its path.
fn write_report(capture: &str, name: &str) -> PathBuf {
    let dir = repo().join("target").join("report-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join(format!("{name}.html"));
    let _ = std::fs::remove_file(&page);
    let out = Command::new(BIN)
        .args(["report", capture, "-o"])
        .arg(&page)
        .current_dir(repo())
        .output()
        .expect("run wsdissect");
    assert!(
        out.status.success(),
        "{capture}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    page
}

/// The page's anchor for a frame (as src/output/report/labels.rs names it).
fn frame_id(f: &Frame) -> String {
    match f.stream {
        Some(s) => format!("f{}s{}-{}-{}", f.conn.0, s.0, f.dir.as_str(), f.index),
        None => format!("f{}-{}-{}", f.conn.0, f.dir.as_str(), f.index),
    }
}

/// The frames the page draws: the first DEFAULT_MAX_FRAMES of each session.
fn drawn_frames(events: &[Event]) -> Vec<&Frame> {
    let mut per_session: BTreeMap<(u64, Option<u32>), usize> = BTreeMap::new();
    events
        .iter()
        .filter_map(|e| match e {
            Event::Frame(f) => Some(f),
            _ => None,
        })
        .filter(|f| {
            let n = per_session
                .entry((f.conn.0, f.stream.map(|s| s.0)))
                .or_default();
            *n += 1;
            *n <= DEFAULT_MAX_FRAMES
        })
        .collect()
}

/// Nothing in the page is fetched: no `src`, no stylesheet link, no `url(…)`, no `@import`,
/// and an address only ever as text.
fn assert_self_contained(page: &str, name: &str) {
    for banned in [
        "src=", "<link", "url(", "@import", "<iframe", "<object", "<embed",
    ] {
        assert!(!page.contains(banned), "{name}: the page has {banned}");
    }
    for attr in ["href=\"", "action=\"", "xlink:href=\""] {
        for (i, _) in page.match_indices(attr) {
            let value = &page[i + attr.len()..];
            assert!(
                value.starts_with('#'),
                "{name}: a link out of the page: {}",
                &value[..value.find('"').unwrap_or(value.len()).min(80)]
            );
        }
    }
    assert!(page.contains("default-src 'none'"), "{name}: no CSP");
    assert_eq!(page.matches("<script").count(), 1, "{name}: one script");
}

#[test]
fn report_of_samples_is_self_contained_and_holds_their_frames() {
    for capture in SAMPLES {
        let name = Path::new(capture).file_stem().unwrap().to_string_lossy();
        let path = write_report(capture, &name);
        let page = std::fs::read_to_string(&path).unwrap();
        assert_self_contained(&page, &name);
        let events = dissect_full(&repo().join(capture));
        let frames = drawn_frames(&events);
        assert!(!frames.is_empty(), "{name}: no frames");
        for f in &frames {
            let id = frame_id(f);
            assert!(
                page.contains(&format!(r#"data-frame="{id}""#)),
                "{name}: no arrow for {id}"
            );
            assert!(
                page.contains(&format!(r#"<div class="detail" id="{id}">"#)),
                "{name}: no detail for {id}"
            );
        }
        let arrows = page.matches(r##"<a href="#f"##).count();
        assert_eq!(arrows, frames.len(), "{name}: arrows and frames");
        let listed = page.matches(r##"<a class="fi" href="#f"##).count();
        assert_eq!(listed, frames.len(), "{name}: listed frames");
        // Every message of several frames, or compressed, has its line.
        for e in &events {
            if let Event::Message(m) = e {
                if m.fragments > 1 || m.compressed {
                    let line = format!("message #{} {}", m.index, m.opcode.name());
                    assert!(page.contains(&line), "{name}: no line {line:?}");
                }
            }
        }
        let handshakes = events
            .iter()
            .filter(|e| matches!(e, Event::Handshake(_)))
            .count();
        assert_eq!(
            page.matches(r#"<dl class="hs">"#).count(),
            handshakes,
            "{name}: handshakes"
        );
    }
}

#[test]
fn report_to_stdout_and_errors() {
    let out = Command::new(BIN)
        .args(["report", "samples/py-echo.pcap", "-o", "-"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"<!DOCTYPE html>"));
    let out = Command::new(BIN)
        .args(["report", "samples/no-such.pcap", "-o", "target/x.html"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("wsdissect: ") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!Path::new("target/x.html").exists());
    let out = Command::new(BIN)
        .args([
            "report",
            "samples/py-echo.pcap",
            "-o",
            "/nonexistent-dir/x.html",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write /nonexistent-dir/x.html"));
}

/// The Python that drives Chromium: scripts/test.sh's venv (it has `websockets`).
fn python() -> PathBuf {
    std::env::var_os("WSDISSECT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/py-venv/bin/python"))
}

/// The first client text frame whose first bytes are text: the unmasking step shows them.
fn masked_text_frame(events: &[Event]) -> &Frame {
    events
        .iter()
        .find_map(|e| match e {
            Event::Frame(f)
                if f.header.opcode == OpCode::Text
                    && f.header.masked
                    && std::str::from_utf8(&f.payload.bytes[..16.min(f.payload.bytes.len())])
                        .is_ok() =>
            {
                Some(f)
            }
            _ => None,
        })
        .expect("a masked text frame")
}

/// Load `page` in Chromium, click the frame `id`, save the screenshots in `shots`: what the
/// page showed (tests/browser/report.py).
fn click_in_chromium(page: &Path, id: &str, shots: &Path) -> serde_json::Value {
    let out = Command::new(python())
        .arg(repo().join("tests/browser/report.py"))
        .arg(page)
        .arg(id)
        .arg(shots)
        .output()
        .expect("run tests/browser/report.py");
    assert!(
        out.status.success(),
        "report.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["requests"], serde_json::json!([]), "the page fetched");
    assert_eq!(seen["hint_visible_before"], true);
    assert_eq!(seen["shown_id"], id);
    assert_eq!(seen["selected"], true);
    // A line of the frame list opens its frame too.
    assert_eq!(seen["list_shown"], seen["list_target"]);
    seen
}

/// With UPDATE_DOCS set, copy screenshots into docs/report/ as (taken, kept) names.
fn update_screenshots(shots: &Path, names: &[(&str, &str)]) {
    if std::env::var_os("UPDATE_DOCS").is_none() {
        return;
    }
    let docs = repo().join("docs/report");
    std::fs::create_dir_all(&docs).unwrap();
    for (taken, kept) in names {
        std::fs::copy(shots.join(taken), docs.join(kept)).unwrap();
    }
}

#[test]
#[ignore = "needs chromium and the Python venv: scripts/test.sh group browser"]
fn browser_shows_a_clicked_frame() {
    let capture = "samples/node-fragments.pcap";
    let page = write_report(capture, "browser");
    let events = dissect_full(&repo().join(capture));
    let frame = masked_text_frame(&events);
    let id = frame_id(frame);
    let shots = repo().join("target/report-tests/screenshots");
    let seen = click_in_chromium(&page, &id, &shots);
    let key = frame.header.mask_key.unwrap();
    assert_eq!(seen["key"], hex_spaced(&key).as_str());
    let shown = 16.min(frame.payload.bytes.len());
    assert_eq!(
        seen["unmasked"],
        escape_bytes(&frame.payload.bytes[..shown]).as_str()
    );
    let text = seen["text"].as_str().unwrap();
    assert!(text.contains("RFC 6455 §5.2"), "{text}");
    assert!(text.contains("Masking-key (32)"), "{text}");
    update_screenshots(
        &shots,
        &[("overview.png", "overview.png"), ("frame.png", "frame.png")],
    );
}

#[test]
#[ignore = "needs chromium and the Python venv: scripts/test.sh group browser"]
fn browser_shows_a_frame_with_its_diagnostics() {
    // Frames a real server (Node ws) received from a client that breaks the rules.
    let capture = "samples/violations/client-frames-node.pcap";
    let page = write_report(capture, "browser-diagnostics");
    let html = std::fs::read_to_string(&page).unwrap();
    // The first diagnostic that links to its frame.
    let link = html
        .split(r##"<a class="fl" href="#"##)
        .nth(1)
        .expect("a diagnostic linked to a frame");
    let id = &link[..link.find('"').unwrap()];
    let before = &html[..html
        .find(&format!(r##"<a class="fl" href="#{id}""##))
        .unwrap()];
    let rule = before.rsplit("<code>").next().unwrap();
    let rule = &rule[..rule.find("</code>").unwrap()];
    let shots = repo().join("target/report-tests/screenshots-diagnostics");
    let seen = click_in_chromium(&page, id, &shots);
    let text = seen["text"].as_str().unwrap();
    // innerText is as shown: the headings are in capitals.
    assert!(
        text.to_lowercase().contains("diagnostics of this frame"),
        "{text}"
    );
    assert!(text.contains(rule), "{rule} not in {text}");
    update_screenshots(
        &shots,
        &[
            ("overview.png", "summary.png"),
            ("frame.png", "diagnostics.png"),
        ],
    );
}

/// A pcap (Ethernet, IPv4) of `conns` WebSocket connections, each a handshake and then
/// `frames` small server text frames, one per segment. Checksums are zero (wsdissect does not
/// drop a packet for its checksum alone).
fn many_frames_pcap(conns: u16, frames: usize) -> Vec<u8> {
    fn record(
        out: &mut Vec<u8>,
        usec: u32,
        ip: ([u8; 4], u16, [u8; 4], u16),
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0];
        p.extend_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        p.extend_from_slice(&ip.0);
        p.extend_from_slice(&ip.2);
        p.extend_from_slice(&ip.1.to_be_bytes());
        p.extend_from_slice(&ip.3.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(&usec.to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&p);
    }
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let mut t = 0u32;
    for c in 0..conns {
        let (client, server) = (([10, 0, 0, 1], 20000 + c), ([10, 0, 0, 2], 80));
        let up = (client.0, client.1, server.0, server.1);
        let down = (server.0, server.1, client.0, client.1);
        let (mut cseq, mut sseq) = (1000u32, 5000u32);
        let mut next = || {
            t += 10;
            t
        };
        record(&mut out, next(), up, cseq, 0x02, b"");
        record(&mut out, next(), down, sseq, 0x12, b"");
        cseq += 1;
        sseq += 1;
        record(&mut out, next(), up, cseq, 0x18, request);
        cseq += request.len() as u32;
        record(&mut out, next(), down, sseq, 0x18, response);
        sseq += response.len() as u32;
        for i in 0..frames {
            let text = format!("frame {i}");
            let frame = [&[0x81, text.len() as u8][..], text.as_bytes()].concat();
            record(&mut out, next(), down, sseq, 0x18, &frame);
            sseq += frame.len() as u32;
        }
        record(&mut out, next(), up, cseq, 0x11, b"");
        record(&mut out, next(), down, sseq, 0x11, b"");
    }
    out
}

#[test]
fn a_big_capture_makes_a_bounded_page() {
    // 60 connections of 150 frames: past the connections, per-session and per-page limits.
    let dir = repo().join("target/report-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("many.pcap");
    std::fs::write(&capture, many_frames_pcap(60, 150)).unwrap();
    let page = dir.join("many.html");
    let out = Command::new(BIN)
        .args(["report"])
        .arg(&capture)
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        html.matches(r##"<a href="#f"##).count(),
        wsdissect::output::report::MAX_FRAMES_PER_PAGE
    );
    assert!(html.contains("… 10 more connections not drawn (at most 50 per page)"));
    assert!(html.contains("… 50 more frames not drawn (at most 100 per session"));
    assert!(
        html.contains("… 150 more frames not drawn"),
        "sessions past the page budget"
    );
    assert!(html.len() < 12 << 20, "page of {} bytes", html.len());
}

#[test]
fn a_gap_is_drawn_where_it_happened() {
    // py-echo without packet 70, a segment in the middle of a 1.5 MB frame.
    let dir = repo().join("target/report-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("gap.pcap");
    let bytes = crate::common::filter_pcap(&repo().join("samples/py-echo.pcap"), |n| n != 70);
    std::fs::write(&capture, bytes).unwrap();
    let page = dir.join("gap.html");
    let out = Command::new(BIN)
        .arg("report")
        .arg(&capture)
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("bytes missing from the capture"),
        "no gap line"
    );
    assert!(html.contains(" lost)"), "no frame with lost bytes");
}

#[test]
fn a_refused_upgrade_says_so() {
    // websockets answered 403 and 400 to the first two connections, 101 to the third.
    let page = write_report("samples/py-rejected.pcap", "rejected");
    let html = std::fs::read_to_string(page).unwrap();
    assert_eq!(html.matches("<h3>Upgrade refused</h3>").count(), 2);
    assert!(html.contains("<code>403 Forbidden</code> <span class=\"bad\">refused</span>"));
    assert_eq!(html.matches("<h3>WebSocket session</h3>").count(), 1);
}

#[test]
fn a_truncated_capture_still_gets_its_page_and_exit_1() {
    let dir = repo().join("target/report-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("truncated.pcap");
    let whole = std::fs::read(repo().join("samples/py-echo.pcap")).unwrap();
    std::fs::write(&capture, &whole[..100_000]).unwrap();
    let page = dir.join("truncated.html");
    let _ = std::fs::remove_file(&page);
    let out = Command::new(BIN)
        .arg("report")
        .arg(&capture)
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("capture is truncated"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("data-frame=") && html.trim_end().ends_with("</html>"));
}
