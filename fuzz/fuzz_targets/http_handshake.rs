//! (b) HTTP heads: `parse_request`, `parse_response`, `Exchange::from_heads`, `violations()`,
//! `parse_extensions`, `compute_accept`. Input: `[split hi] [split lo] [bytes...]`: the bytes
//! before the split are the request, after it the response. (c) The bytes as text pasted into
//! `explain --http` (`read_pasted`), and the teaching view of what it read: every line within
//! 80 columns, no control character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::base::{ConnId, PacketRef};
use wsdissect::event::Handshake;
use wsdissect::http::{
    compute_accept, is_upgrade_request, looks_like_request_start, parse_extensions, parse_request,
    parse_response, read_pasted, Exchange, Head,
};
use wsdissect::output::fit::display_width;
use wsdissect::output::handshake::{taught, Parts, WIDTH};
use wsdissect::output::style::Style;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let split = (usize::from(data[0]) << 8 | usize::from(data[1])).min(data.len() - 2);
    let (req_bytes, resp_bytes) = data[2..].split_at(split);

    let _ = looks_like_request_start(req_bytes);
    let req = match parse_request(req_bytes) {
        Head::Complete(r, n) => {
            assert!(n <= req_bytes.len());
            // The head alone parses to the same thing.
            match parse_request(&req_bytes[..n]) {
                Head::Complete(r2, n2) => assert_eq!((&r, n), (&r2, n2)),
                other => panic!("request head alone is {other:?}"),
            }
            let _ = is_upgrade_request(&r);
            Some(r)
        }
        Head::Incomplete => {
            assert!(req_bytes.len() < wsdissect::http::MAX_HEAD_LEN);
            None
        }
        Head::Invalid(_) => None,
    };
    let resp = match parse_response(resp_bytes) {
        Head::Complete(r, n) => {
            assert!(n <= resp_bytes.len());
            Some(r)
        }
        _ => None,
    };
    let text = String::from_utf8_lossy(data);
    for ext in parse_extensions(&text) {
        let _ = ext.to_string();
        let _ = ext.param("server_max_window_bits");
    }
    let _ = compute_accept(&text);
    if let Some(p) = read_pasted(&String::from_utf8_lossy(&data[2..])) {
        if let Some(exchange) = p.exchange {
            let h = Handshake {
                conn: ConnId(1),
                stream: None,
                exchange,
            };
            let parts = Parts {
                request: true,
                response: true,
                request_known: p.has_request,
            };
            for line in taught(&h, parts, Style::default()) {
                assert!(display_width(&line) <= WIDTH, "{line}");
                assert!(!line.chars().any(char::is_control), "{line:?}");
            }
        }
    }
    if let (Some(req), Some(resp)) = (req, resp) {
        let h = Exchange::from_heads(&req, PacketRef::default(), &resp, PacketRef::default());
        let _ = h.accepted();
        let valid = h.accept_valid();
        let v = h.violations();
        if valid {
            assert!(!v.iter().any(|x| x.rule.name == "handshake-accept-mismatch"));
        }
        for e in &h.extensions {
            let _ = e.to_string();
        }
    }
});
