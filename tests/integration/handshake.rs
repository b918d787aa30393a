//! The handshake, taught (issue 12): `-v` teaches every header of the request and the response,
//! the Sec-WebSocket-Accept computation checked, and offered against chosen; `--packet N` on a
//! handshake packet teaches that half; HTTP/2 extended CONNECTs are taught as such.

use std::process::Command;

use crate::common::repo;

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
