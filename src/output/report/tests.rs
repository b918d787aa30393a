//! The page from raw frames: escaping of everything captured, its structure (every arrow has
//! its detail, every diagnostic its frame), and the bounds.

use super::labels::html;
use super::*;
use crate::base::PacketRef;
use crate::conversation::{dissect_raw_frames, DissectConfig};

const HOSTILE: &str = "</script><script>alert(1)</script>";

/// A client text frame masked with key 01 02 03 04.
fn masked_text(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [1u8, 2, 3, 4];
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// An unmasked server frame.
fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x80 | opcode, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

/// The page for frames sent each way, as one connection.
fn page(pieces: &[(Direction, Vec<u8>)], max_frames: usize) -> String {
    let pieces: Vec<(Direction, &[u8])> = pieces.iter().map(|(d, b)| (*d, &b[..])).collect();
    let raw = dissect_raw_frames(&pieces, None, DissectConfig::default());
    let mut sink = ReportSink::new(
        Vec::new(),
        ReportOptions {
            captures: vec!["<b>x</b>.pcap".into()],
            max_frames,
        },
    );
    let addr = "127.0.0.1:8080".parse().unwrap();
    sink.event(&Event::Connection(ConnectionInfo {
        conn: ConnId(1),
        client: addr,
        server: addr,
        first_packet: PacketRef::default(),
        inferred: true,
        tls: None,
        http2: None,
    }))
    .unwrap();
    for e in &raw.events {
        sink.event(e).unwrap();
    }
    sink.event(&Event::CaptureEnd(CaptureSummary::default()))
        .unwrap();
    sink.finish().unwrap();
    String::from_utf8(sink.into_inner()).unwrap()
}

/// Every `attr="…"` value in the page's markup (its script left out), in order.
fn attrs<'a>(page: &'a str, attr: &str) -> Vec<&'a str> {
    let page = &page[..page.find("<script>").unwrap()];
    let needle = format!("{attr}=\"");
    page.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &page[i + needle.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

#[test]
fn html_escapes_markup_and_quotes() {
    assert_eq!(
        html(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
    assert!(!html(HOSTILE).contains('<'));
}

#[test]
fn a_payload_cannot_inject_markup() {
    let close_reason = [&[0x03, 0xe8][..], b"<img src=x onerror=alert(2)>"].concat();
    let p = page(
        &[
            (Direction::ClientToServer, masked_text(HOSTILE.as_bytes())),
            (
                Direction::ClientToServer,
                masked_text("\u{2028}\u{202e}<&>'".as_bytes()),
            ),
            (Direction::ServerToClient, server_frame(0x8, &close_reason)),
        ],
        100,
    );
    // The page's own script is the only one, and nothing captured became an element.
    assert_eq!(p.matches("<script").count(), 1, "{p}");
    assert_eq!(p.matches("</script").count(), 1);
    assert!(!p.contains("<img"));
    assert!(!p.contains("<b>"));
    assert!(p.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
    assert!(p.contains("&lt;img src=x onerror=alert(2)&gt;"));
    // Line separators and bidirectional overrides are shown as escapes, not acted on.
    assert!(!p.contains('\u{2028}') && !p.contains('\u{202e}'));
    assert!(p.contains(r"\u{2028}\u{202e}&lt;&amp;&gt;&#39;"));
}

#[test]
fn every_arrow_has_its_detail_and_every_link_a_target() {
    let p = page(
        &[
            (Direction::ClientToServer, masked_text(b"Hello")),
            (Direction::ServerToClient, server_frame(0x1, b"Hello")),
            // A server must not mask (§5.1): a diagnostic about this frame.
            (Direction::ServerToClient, masked_text(b"masked")),
        ],
        100,
    );
    assert!(p.starts_with("<!DOCTYPE html>"));
    assert!(p.trim_end().ends_with("</html>"));
    let arrows = attrs(&p, "data-frame");
    assert_eq!(arrows, ["f1-c2s-1", "f1-s2c-1", "f1-s2c-2"]);
    let ids = attrs(&p, "id");
    for a in &arrows {
        assert!(ids.contains(a), "no detail for {a}");
    }
    for href in attrs(&p, "href") {
        let target = href.strip_prefix('#').expect("only links inside the page");
        assert!(ids.contains(&target), "link to nothing: {href}");
    }
    // The masked server frame's diagnostic links to it, and it back to the diagnostic.
    let diag = p.find("server-frame-masked").expect("diagnostic listed");
    assert!(p[diag..].contains(r##"href="#f1-s2c-2""##));
    let detail = &p[p.find(r#"id="f1-s2c-2""#).unwrap()..];
    let detail = &detail[..detail.find("</aside>").unwrap()];
    assert!(detail.contains("Diagnostics of this frame"));
    assert!(detail.contains("server-frame-masked"));
    // The client frame's unmasking step: the key repeated and the text it gives.
    let detail = &p[p.find(r#"id="f1-c2s-1""#).unwrap()..];
    assert!(detail.contains(
        r#"<span class="k-key" title="masking key">01</span> <span class="k-key">02</span>"#
    ));
    assert!(detail.contains("Unmasked: <q>Hello</q>"));
}

#[test]
fn frames_past_the_limit_are_counted_not_drawn() {
    let frames: Vec<(Direction, Vec<u8>)> = (0..10)
        .map(|i| {
            (
                Direction::ClientToServer,
                masked_text(format!("m{i}").as_bytes()),
            )
        })
        .collect();
    let p = page(&frames, 3);
    assert_eq!(attrs(&p, "data-frame").len(), 3);
    assert_eq!(
        attrs(&p, "class")
            .iter()
            .filter(|c| **c == "detail")
            .count(),
        3
    );
    assert!(p.contains("7 more frames not drawn (at most 3 per session,"));
    // The plot still has every message.
    assert_eq!(p.matches(r#"class="pt c2s""#).count(), 10 + 1);
}

#[test]
fn the_page_loads_nothing() {
    let p = page(&[(Direction::ClientToServer, masked_text(b"x"))], 100);
    assert!(!p.contains("http://") && !p.contains("https://"));
    assert!(!p.contains("src="));
    assert!(p.contains("default-src 'none'"));
}

#[test]
fn the_page_draws_at_most_its_frame_budget() {
    let frames: Vec<(Direction, Vec<u8>)> = (0..MAX_FRAMES_PER_PAGE + 5)
        .map(|_| (Direction::ServerToClient, server_frame(0x2, b"ab")))
        .collect();
    let p = page(&frames, usize::MAX);
    assert_eq!(attrs(&p, "data-frame").len(), MAX_FRAMES_PER_PAGE);
    assert!(p.contains("… 5 more frames not drawn"));
}
