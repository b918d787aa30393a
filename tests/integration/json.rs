//! The NDJSON contract of docs/json.md, checked on the output for every sample.

use std::process::Command;

use crate::common::samples_with_expectations;

fn has(v: &serde_json::Value, key: &str, check: fn(&serde_json::Value) -> bool) -> bool {
    v.get(key).is_some_and(check)
}

#[test]
fn every_record_of_every_sample_keeps_the_minimum_contract() {
    use serde_json::Value as V;
    let int = |v: &V| v.is_u64();
    let boolean = |v: &V| v.is_boolean();
    let string = |v: &V| v.is_string();
    let str_or_null = |v: &V| v.is_string() || v.is_null();
    let dir = |v: &V| v == "c2s" || v == "s2c";
    for (capture, _) in samples_with_expectations() {
        let out = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
            .args(["--format", "json"])
            .arg(&capture)
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut types = std::collections::BTreeSet::new();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let v: V = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: {e}: {line}", capture.display()));
            assert!(has(&v, "type", string) && has(&v, "conn", int), "{line}");
            let t = v["type"].as_str().unwrap().to_string();
            let ok = match t.as_str() {
                "connection" => has(&v, "client", string) && has(&v, "server", string),
                "handshake" => {
                    has(&v, "status", int)
                        && has(&v, "subprotocol", str_or_null)
                        && has(&v, "extensions", |e| {
                            e.as_array()
                                .is_some_and(|a| a.iter().all(|x| x.is_string()))
                        })
                        && has(&v, "accept_valid", boolean)
                }
                "frame" => {
                    ["fin", "rsv1", "rsv2", "rsv3", "masked"]
                        .iter()
                        .all(|k| has(&v, k, boolean))
                        && has(&v, "dir", dir)
                        && has(&v, "opcode", int)
                        && has(&v, "payload_len", int)
                        && has(&v, "mask_key", |k| {
                            k.is_null() || k.as_str().is_some_and(|s| s.len() == 8)
                        })
                        && (v["opcode"] != 8
                            || (v.get("close_code").is_some() && has(&v, "close_reason", string)))
                }
                "message" => {
                    has(&v, "dir", dir)
                        && has(&v, "opcode", |o| o == 1 || o == 2)
                        && has(&v, "len", int)
                        && (has(&v, "text", string) ^ has(&v, "data_b64", string))
                        && has(&v, "truncated", boolean)
                }
                "diagnostic" => {
                    has(&v, "severity", string)
                        && has(&v, "rule", string)
                        && has(&v, "message", string)
                }
                "gap" | "connection_end" | "summary" => true,
                other => panic!("unknown record type {other}"),
            };
            assert!(
                ok,
                "{}: record breaks the contract: {line}",
                capture.display()
            );
            types.insert(t);
        }
        for t in ["connection", "handshake", "summary"] {
            assert!(types.contains(t), "{}: no {t} record", capture.display());
        }
    }
}

#[test]
fn payloads_are_truncated_by_default_and_whole_on_request() {
    let capture = crate::common::repo().join("samples/py-echo.pcap");
    let run = |extra: &[&str]| -> Vec<serde_json::Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
            .args(["--format", "json"])
            .args(extra)
            .arg(&capture)
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|v: &serde_json::Value| v["type"] == "message")
            .collect()
    };
    let short = run(&[]);
    let big = short.iter().find(|m| m["len"] == 1572864).unwrap();
    assert_eq!(big["truncated"], true);
    assert!(big["text"].as_str().unwrap().len() <= 1024);
    let full = run(&["--full-payload"]);
    let big = full.iter().find(|m| m["len"] == 1572864).unwrap();
    assert_eq!(big["truncated"], false);
    assert_eq!(big["text"].as_str().unwrap().len(), 1572864);
}
