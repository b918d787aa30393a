//! The handshake, taught (issue 12): `-v` teaches every header of the request and the response,
//! the Sec-WebSocket-Accept computation checked, and offered against chosen; `--packet N` on a
//! handshake packet teaches that half; HTTP/2 extended CONNECTs are taught as such.

use std::process::Command;

use crate::common::{repo, wsdissect_with_stdin};

fn wsdissect(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wsdissect {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn taught(capture: &str, packet: &str) -> String {
    wsdissect(&["-v", "--color", "never", capture, "--packet", packet])
}

/// The taught lines fit 80 columns (the diagnostics' lines are the annotated view's own).
fn assert_fits(out: &str) {
    let diagnostic = |l: &str| ["   ✗", "   !", "   ·"].iter().any(|m| l.starts_with(m));
    for line in out.lines().filter(|l| !diagnostic(l)) {
        assert!(line.chars().count() <= 80, "wider than 80 columns: {line}");
    }
}

/// aiohttp offering two subprotocols over IPv6: the request's packet gives the request.
#[test]
fn packet_of_the_request_teaches_the_request() {
    let out = taught("samples/py-ipv6-subproto.pcap", "4");
    assert!(
        out.contains("handshake request (RFC 6455 §4), packet #4"),
        "{out}"
    );
    assert!(!out.contains("handshake response"), "{out}");
    assert!(!out.contains("── conn 1 frame"), "{out}");
    assert_fits(&out);
    insta::assert_snapshot!("handshake-request-packet", out);
}

/// The 101's packet gives the response, the accept computed again from the request's key, and
/// the subprotocol offered against the one chosen.
#[test]
fn packet_of_the_101_teaches_the_response_and_the_accept() {
    let out = taught("samples/py-ipv6-subproto.pcap", "6");
    assert!(!out.contains("handshake request"), "{out}");
    assert!(out.contains("handshake response, packet #6"), "{out}");
    assert!(
        out.contains("+ GUID     258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
        "{out}"
    );
    assert!(out.contains("=          the value sent"), "{out}");
    assert!(out.contains("chosen  chat.v1"), "{out}");
    assert_fits(&out);
    insta::assert_snapshot!("handshake-response-packet", out);
}

/// A hand-made server answering websockets' client with a wrong accept (samples/violations):
/// the mismatch is shown in the computation and reported by its rule under it.
#[test]
fn a_wrong_accept_is_shown_against_the_computed_one() {
    let out = taught("samples/violations/handshakes.pcap", "36");
    assert!(out.contains("≠          NOT the value sent"), "{out}");
    assert!(out.contains("error handshake-accept-mismatch"), "{out}");
    assert_fits(&out);
}

/// permessage-deflate negotiated by websockets 17.4: each chosen parameter explained.
#[test]
fn deflate_parameters_are_explained() {
    let out = taught("samples/py-deflate.pcap", "6");
    assert!(
        out.contains("extension  offered permessage-deflate; client_max_window_bits"),
        "{out}"
    );
    assert!(
        out.contains("server_max_window_bits: the server compresses with a window"),
        "{out}"
    );
    assert!(out.contains("2^12 = 4096 bytes"), "{out}");
    assert_fits(&out);
}

/// hypercorn over h2c (RFC 8441): :method CONNECT, :protocol, the SETTINGS that allowed it, and
/// no key nor accept.
#[test]
fn http2_extended_connect_is_taught() {
    let out = taught("samples/h2/py-h2c.pcap", "10,11");
    assert!(
        out.contains("conn 1 stream 1 handshake request (RFC 8441), packet #10"),
        "{out}"
    );
    assert!(out.contains(":method CONNECT"), "{out}");
    assert!(out.contains(":protocol websocket"), "{out}");
    assert!(
        out.contains("SETTINGS_ENABLE_CONNECT_PROTOCOL = 1"),
        "{out}"
    );
    assert!(
        out.contains("no Sec-WebSocket-Key, and so no Sec-WebSocket-Accept"),
        "{out}"
    );
    assert!(out.contains("2xx: the server accepts"), "{out}");
    assert!(!out.contains("SHA-1"), "{out}");
    let taught: String = out
        .lines()
        .filter(|l| !l.starts_with("  #"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_fits(&taught);
    insta::assert_snapshot!("handshake-h2-connect", out);
}

const RFC_EXAMPLE: &str = "GET /chat HTTP/1.1
Host: server.example.com
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
Origin: http://example.com
Sec-WebSocket-Protocol: chat, superchat
Sec-WebSocket-Version: 13

HTTP/1.1 101 Switching Protocols
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
Sec-WebSocket-Protocol: chat
";

/// Runs `wsdissect explain --http ARGS` with `input` on standard input.
fn explain_http(args: &[&str], input: &str) -> (Option<i32>, String, String) {
    let args = [&["explain", "--http", "--color", "never"], args].concat();
    wsdissect_with_stdin(&args, input, None)
}

/// RFC 6455 §1.3's handshake pasted: taught like a captured one, clean.
#[test]
fn explain_http_teaches_the_rfc_example() {
    let (code, out, err) = explain_http(&[], RFC_EXAMPLE);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("HTTP request and response"), "{out}");
    assert!(out.contains("=          the value sent"), "{out}");
    assert!(!out.contains("error"), "{out}");
    assert_fits(&out);
    insta::assert_snapshot!("explain-http-rfc", out);
}

/// CRLF, LF, one argument per line or `\r\n` escapes: the same handshake is read.
#[test]
fn explain_http_reads_every_line_end() {
    let body = |out: &str| out.split_once('\n').unwrap().1.to_string();
    let (_, lf, _) = explain_http(&[], RFC_EXAMPLE);
    let (_, crlf, _) = explain_http(&[], &RFC_EXAMPLE.replace('\n', "\r\n"));
    assert!(
        crlf.starts_with("HTTP request and response, 385 bytes\n"),
        "{crlf}"
    );
    assert!(
        lf.starts_with("HTTP request and response, 385 bytes (LF line ends"),
        "{lf}"
    );
    assert_eq!(body(&lf), body(&crlf));
    let lines: Vec<&str> = RFC_EXAMPLE.lines().collect();
    let (_, args, _) = explain_http(&lines, "");
    assert_eq!(body(&args), body(&lf));
    let escaped = RFC_EXAMPLE.replace('\n', "\\r\\n");
    let (_, escapes, _) = explain_http(&[&escaped], "");
    assert!(escapes.contains("escapes read as line ends"), "{escapes}");
    assert_eq!(body(&escapes), body(&lf));
}

/// A response alone: only what it can break alone is checked, and the view says what is not.
#[test]
fn explain_http_response_alone() {
    let response = RFC_EXAMPLE.split("\n\n").nth(1).unwrap();
    let (code, out, _) = explain_http(&[], response);
    assert_eq!(code, Some(0));
    assert!(out.contains("no request given"), "{out}");
    assert!(
        out.contains("the request was not given: give it too"),
        "{out}"
    );
    assert!(!out.contains("handshake request"), "{out}");
    assert!(!out.contains("error"), "{out}");
}

/// Bytes that are not HTTP are a malformed handshake (exit 0: a finding), nothing is an error.
#[test]
fn explain_http_malformed_and_empty() {
    let (code, out, _) = explain_http(&[], "\u{1b}]0;title\u{7}\n");
    assert_eq!(code, Some(0));
    assert!(out.contains("error handshake-malformed"), "{out}");
    assert!(!out.contains('\u{1b}'), "{out}");
    let (code, _, err) = explain_http(&[], " \n");
    assert_eq!(code, Some(2));
    assert!(err.contains("no HTTP request or response"), "{err}");
    let (code, _, err) = explain_http(&["--from", "client"], RFC_EXAMPLE);
    assert_eq!(code, Some(2), "--http reads no frames: {err}");
}

/// Every HTTP/1.1 handshake in the samples, written out as text and pasted, breaks exactly the
/// rules the capture path reported for it: one parser, one set of rules.
#[test]
fn pasted_handshakes_break_the_rules_their_captures_did() {
    use wsdissect::event::Event;
    let captures = [
        "samples/violations/handshakes.pcap",
        "samples/violations/handshakes-2.pcap",
        "samples/py-rejected.pcap",
        "samples/py-ipv6-subproto.pcap",
        "samples/chromium-echo.pcapng",
    ];
    let mut compared = 0;
    for capture in captures {
        let events = crate::common::dissect_full(&repo().join(capture));
        for e in &events {
            let Event::Handshake(h) = e else { continue };
            if h.http2.is_some() {
                continue;
            }
            let head = |first: String, headers: &[(String, String)]| {
                let mut s = first;
                for (n, v) in headers {
                    s.push_str(&format!("\r\n{n}: {v}"));
                }
                s + "\r\n\r\n"
            };
            let text = head(
                format!("{} {} HTTP/1.1", h.method, h.target),
                &h.request_headers.0,
            ) + &head(
                format!("HTTP/1.1 {} {}", h.status, h.reason),
                &h.response_headers.0,
            );
            let pasted = wsdissect::http::read_pasted(&text).unwrap();
            let mut from_paste: Vec<&str> = pasted.violations.iter().map(|v| v.rule.name).collect();
            let mut from_capture: Vec<&str> = events
                .iter()
                .filter_map(|e| match e {
                    Event::Diagnostic(d) if d.conn == h.conn => Some(d.rule.name),
                    _ => None,
                })
                .filter(|n| n.starts_with("handshake-"))
                .collect();
            from_paste.sort_unstable();
            from_capture.sort_unstable();
            assert_eq!(from_paste, from_capture, "{capture} conn {}", h.conn);
            compared += 1;
        }
    }
    assert!(compared >= 12, "only {compared} handshakes compared");
}
