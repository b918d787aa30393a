//! Rule checks against real violations (samples/violations/*.pcap): every rule a connection's
//! expected.json says must fire does fire, on that connection and in the violating direction;
//! no other error-severity rule fires unless listed in `allowed_extra`; the real library's
//! reaction (its close code, its handshake status) is in the capture. And on the clean samples
//! (samples/*.expected.json) nothing of severity warning or error fires at all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::common::{dissect_full, repo, samples_with_expectations};
use wsdissect::base::rules::{Severity, ALL};
use wsdissect::base::{ConnId, Direction};
use wsdissect::event::Event;

fn violations_dir() -> PathBuf {
    repo().join("samples").join("violations")
}

fn load(name: &str) -> (PathBuf, serde_json::Value) {
    let dir = violations_dir();
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.expected.json"))).unwrap(),
    )
    .unwrap();
    let capture = dir.join(v["capture"].as_str().unwrap());
    (capture, v)
}

fn strs(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// What the dissector said about one connection.
#[derive(Default)]
struct ConnView {
    id: ConnId,
    /// (rule, severity, direction) of every diagnostic.
    diags: Vec<(&'static str, Severity, Option<Direction>)>,
    /// Close codes seen per direction (None = empty close payload).
    closes: BTreeMap<&'static str, Vec<Option<u16>>>,
    status: Option<u16>,
}

fn view(capture: &std::path::Path) -> BTreeMap<String, ConnView> {
    let events = dissect_full(capture);
    let mut by_id: BTreeMap<ConnId, String> = BTreeMap::new();
    let mut out: BTreeMap<String, ConnView> = BTreeMap::new();
    for e in &events {
        match e {
            Event::Connection(c) => {
                by_id.insert(c.conn, c.client.to_string());
                out.insert(
                    c.client.to_string(),
                    ConnView {
                        id: c.conn,
                        ..Default::default()
                    },
                );
            }
            Event::Diagnostic(d) => {
                if let Some(v) = by_id.get(&d.conn).and_then(|c| out.get_mut(c)) {
                    v.diags.push((d.rule.name, d.rule.severity, d.dir));
                } else {
                    assert_eq!(
                        d.conn,
                        ConnId(0),
                        "diagnostic on an unknown connection: {d:?}"
                    );
                }
            }
            Event::Frame(f) => {
                if let (Some(c), Some(v)) = (&f.close, by_id.get(&f.conn)) {
                    let v = out.get_mut(v).unwrap();
                    v.closes.entry(f.dir.as_str()).or_default().push(c.code);
                }
            }
            Event::Handshake(h) => {
                if let Some(v) = by_id.get(&h.conn).and_then(|c| out.get_mut(c)) {
                    v.status = Some(h.status);
                }
            }
            _ => {}
        }
    }
    out
}

/// Check every connection of violations/NAME.expected.json whose name is in `only` (all when
/// empty); returns the failures, one line each.
fn check_capture(name: &str, only: &[&str]) -> Vec<String> {
    let (capture, expected) = load(name);
    let seen = view(&capture);
    let mut failures = Vec::new();
    let conns = expected["connections"].as_array().unwrap();
    assert!(!conns.is_empty(), "{name}: no connections");
    for c in conns {
        let cname = c["name"].as_str().unwrap();
        if !only.is_empty() && !only.contains(&cname) {
            continue;
        }
        let client = c["client"].as_str().unwrap();
        let Some(v) = seen.get(client) else {
            failures.push(format!("{name}/{cname}: no connection from {client}"));
            continue;
        };
        let at = format!("{name}.pcap conn {} ({cname}, {client})", v.id);
        let dir = c["dir"].as_str().unwrap();
        let rules = strs(&c["rules"]);
        let allowed: BTreeSet<String> = c["allowed_extra"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["rule"].as_str().unwrap().to_string())
            .collect();
        for r in &rules {
            assert!(
                ALL.iter().any(|x| x.name == r),
                "{at}: {r} is not a wsdissect rule"
            );
            if !v.diags.iter().any(|(n, _, _)| n == r) {
                failures.push(format!("{at}: {r} did not fire (got {:?})", v.diags));
            }
        }
        // The primary violation is reported in the direction that carried it.
        let primary = &rules[0];
        if !v
            .diags
            .iter()
            .any(|(n, _, d)| n == primary && d.map(|d| d.as_str()) == Some(dir))
            && v.diags.iter().any(|(n, _, _)| n == primary)
        {
            failures.push(format!("{at}: {primary} not reported as {dir}"));
        }
        for (n, sev, _) in &v.diags {
            if *sev == Severity::Error && !rules.iter().any(|r| r == n) && !allowed.contains(*n) {
                failures.push(format!("{at}: unexpected error rule {n}"));
            }
        }
        // The real library's reaction is in the capture.
        let reaction = &c["reaction"];
        if let Some(code) = reaction["close_sent"]["code"].as_u64() {
            let back = if dir == "c2s" { "s2c" } else { "c2s" };
            let got = v.closes.get(back).cloned().unwrap_or_default();
            if !got.contains(&Some(code as u16)) {
                failures.push(format!(
                    "{at}: reaction close {code} ({back}) not seen: {got:?}"
                ));
            }
        }
        if let Some(status) = reaction["handshake_status"].as_u64() {
            if v.status != Some(status as u16) {
                failures.push(format!("{at}: status {:?}, expected {status}", v.status));
            }
        }
    }
    failures
}

fn assert_capture(name: &str) {
    let failures = check_capture(name, &[]);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn rules_fire_on_client_frame_violations() {
    assert_capture("client-frames");
}

#[test]
fn rules_fire_on_client_frame_violations_node_ws() {
    assert_capture("client-frames-node");
}

#[test]
fn rules_fire_on_server_frame_violations() {
    assert_capture("server-frames");
}

#[test]
fn rules_fire_on_handshake_violations() {
    assert_capture("handshakes");
}

/// POST, no Host, a frame cut off by FIN (raw client -> websockets server); 101 without
/// Upgrade, malformed / non-HTTP response, no response at all (raw server -> websockets client).
#[test]
fn rules_fire_on_handshake_violations_2() {
    assert_capture("handshakes-2");
}

#[test]
fn rules_fire_on_deflate_violations() {
    assert_capture("deflate");
}

const CAPTURES: &[&str] = &[
    "client-frames",
    "client-frames-node",
    "server-frames",
    "handshakes",
    "handshakes-2",
    "deflate",
];

/// Every rule the violation captures are meant to demonstrate has at least one connection.
#[test]
fn rules_violation_captures_cover_the_checkable_rules() {
    let want = [
        "client-frame-unmasked",
        "server-frame-masked",
        "rsv-without-extension",
        "reserved-opcode",
        "control-frame-too-long",
        "control-frame-fragmented",
        "continuation-without-start",
        "new-message-while-fragmented",
        "invalid-utf8-text",
        "invalid-utf8-close-reason",
        "length-msb-set",
        "length-not-minimal",
        "close-payload-one-byte",
        "close-code-not-on-wire",
        "close-code-invalid",
        "data-after-close",
        "pong-unsolicited",
        "handshake-accept-mismatch",
        "handshake-accept-missing",
        "handshake-key-invalid",
        "handshake-version",
        "handshake-rejected",
        "handshake-subprotocol-not-offered",
        "handshake-extension-not-offered",
        "handshake-not-get",
        "handshake-host-missing",
        "handshake-upgrade-headers",
        "handshake-malformed",
        "handshake-no-response",
        "frame-incomplete",
        "deflate-rsv1-misplaced",
        "deflate-error",
    ];
    let mut covered = BTreeSet::new();
    for name in CAPTURES {
        let (capture, expected) = load(name);
        assert!(capture.exists(), "{}", capture.display());
        for c in expected["connections"].as_array().unwrap() {
            covered.extend(strs(&c["rules"]));
        }
    }
    let missing: Vec<_> = want.iter().filter(|r| !covered.contains(**r)).collect();
    assert!(missing.is_empty(), "no violation capture for {missing:?}");
}

/// Request-side handshake rules (bad key, bad version, not GET, no Host) are `c2s`
/// diagnostics; the packet they point at should be the request's, not the response's.
#[test]
fn rules_request_side_handshake_diagnostics_point_at_the_request() {
    let mut failures = Vec::new();
    for name in ["handshakes", "handshakes-2"] {
        let (capture, _) = load(name);
        let events = dissect_full(&capture);
        let mut request_packet = BTreeMap::new();
        for e in &events {
            match e {
                Event::Handshake(h) => {
                    request_packet.insert(h.conn, h.request_packet.number);
                }
                // Only handshake rules: a c2s frame rule (frame-incomplete) points at its frame.
                Event::Diagnostic(d)
                    if d.dir == Some(Direction::ClientToServer)
                        && d.rule.name.starts_with("handshake-") =>
                {
                    let want = request_packet.get(&d.conn).copied();
                    let got = d.packet.map(|p| p.number);
                    if got != want {
                        failures.push(format!(
                            "{name} conn {} {}: packet {got:?}, request is {want:?}",
                            d.conn, d.rule.name
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Deliberate violations inside the top-level samples: (capture, rule, how many times).
/// py-rejected's 2nd connection is a raw handshake with `Sec-WebSocket-Version: 8`.
const KNOWN_IN_SAMPLES: &[(&str, &str, usize)] = &[("py-rejected.pcap", "handshake-version", 1)];

/// Clean traffic between real implementations: no warning or error of any kind (apart from
/// the deliberate ones listed in KNOWN_IN_SAMPLES, which must fire exactly as listed).
#[test]
fn rules_clean_samples_have_no_warnings_or_errors() {
    let mut failures = Vec::new();
    let mut known: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for (capture, _) in samples_with_expectations() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        for e in dissect_full(&capture) {
            let Event::Diagnostic(d) = e else { continue };
            if d.rule.severity < Severity::Warning {
                continue;
            }
            if KNOWN_IN_SAMPLES
                .iter()
                .any(|(c, r, _)| *c == name && *r == d.rule.name)
            {
                *known.entry((name.clone(), d.rule.name)).or_default() += 1;
                continue;
            }
            failures.push(format!(
                "{name} conn {} packet {:?}: {} {}: {}",
                d.conn,
                d.packet.map(|p| p.number),
                d.rule.severity,
                d.rule.name,
                d.message
            ));
        }
    }
    for (c, r, n) in KNOWN_IN_SAMPLES {
        let got = known.get(&(c.to_string(), *r)).copied().unwrap_or(0);
        if got != *n {
            failures.push(format!("{c}: {r} fired {got} times, expected {n}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
