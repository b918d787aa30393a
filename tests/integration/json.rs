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

/// A validator for the subset of JSON Schema docs/json.schema.json uses: type, const, enum,
/// required, properties, additionalProperties: false, items, minimum/maximum, and a oneOf of
/// `required` alternatives. (The schema itself is standard draft 2020-12.)
fn validate(schema: &serde_json::Value, v: &serde_json::Value, at: &str, errors: &mut Vec<String>) {
    use serde_json::Value as V;
    let type_ok = |t: &str| match t {
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    };
    match schema.get("type") {
        Some(V::String(t)) if !type_ok(t) => errors.push(format!("{at}: not {t}: {v}")),
        Some(V::Array(ts)) if !ts.iter().any(|t| type_ok(t.as_str().unwrap())) => {
            errors.push(format!("{at}: not any of {ts:?}: {v}"))
        }
        _ => {}
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            errors.push(format!("{at}: {v} is not {c}"));
        }
    }
    if let Some(V::Array(options)) = schema.get("enum") {
        if !options.contains(v) {
            errors.push(format!("{at}: {v} not in {options:?}"));
        }
    }
    for key in ["minimum", "maximum"] {
        if let (Some(limit), Some(n)) = (schema.get(key).and_then(V::as_f64), v.as_f64()) {
            if (key == "minimum" && n < limit) || (key == "maximum" && n > limit) {
                errors.push(format!("{at}: {n} breaks {key} {limit}"));
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for r in schema
            .get("required")
            .and_then(V::as_array)
            .into_iter()
            .flatten()
        {
            if !obj.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{at}: missing {r}"));
            }
        }
        let props = schema.get("properties").and_then(V::as_object);
        for (k, value) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, value, &format!("{at}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&V::Bool(false)) => {
                    errors.push(format!("{at}: unexpected field {k}"))
                }
                None => {}
            }
        }
        if let Some(V::Array(alternatives)) = schema.get("oneOf") {
            let matching = alternatives
                .iter()
                .filter(|alt| {
                    alt["required"]
                        .as_array()
                        .is_some_and(|r| r.iter().all(|k| obj.contains_key(k.as_str().unwrap())))
                })
                .count();
            if matching != 1 {
                errors.push(format!("{at}: {matching} of the oneOf alternatives match"));
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            validate(items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

#[test]
fn every_record_validates_against_docs_json_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::common::repo().join("docs/json.schema.json")).unwrap(),
    )
    .unwrap();
    let mut inputs: Vec<std::path::PathBuf> = samples_with_expectations()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for dir in ["samples/violations", "tests/peer/zeek/traces"] {
        let mut more: Vec<_> = std::fs::read_dir(crate::common::repo().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
            .collect();
        more.sort();
        inputs.extend(more);
    }
    // The application protocols' captures: their records carry `decoded`.
    inputs.extend(
        crate::views::app_captures()
            .into_iter()
            .map(|(_, p)| crate::common::repo().join(p)),
    );
    // HTTP/2 (RFC 8441): cleartext samples as they are; TLS ones below with their key logs.
    let h2 = crate::common::repo().join("samples/h2");
    let mut h2_captures: Vec<_> = std::fs::read_dir(&h2)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "pcap") && !p.with_extension("keys").exists()
        })
        .collect();
    h2_captures.sort();
    inputs.extend(h2_captures);
    // wss: each TLS sample decrypted with its key log, and once without (undecrypted records).
    let tls = crate::common::repo().join("samples/tls");
    let mut runs: Vec<(std::path::PathBuf, Vec<String>)> =
        inputs.into_iter().map(|p| (p, Vec::new())).collect();
    let stack = crate::common::repo().join("samples/apps/stack");
    let mut keyed: Vec<_> = [&tls, &h2, &stack]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "keys"))
        .collect();
    keyed.sort();
    for keys in keyed {
        let pcap = keys.with_extension("pcap");
        if pcap.exists() {
            let with = vec!["--tls-keylog".to_string(), keys.display().to_string()];
            runs.push((pcap.clone(), with));
            runs.push((pcap, Vec::new()));
        }
    }
    let mut errors = Vec::new();
    let mut records = 0;
    let mut seen_types = std::collections::BTreeSet::new();
    for (capture, extra) in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
            .args(["--format", "json"])
            .args(&extra)
            .arg(&capture)
            .output()
            .unwrap();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = v["type"].as_str().unwrap_or("?").to_string();
            seen_types.insert(t.clone());
            match schema["$defs"].get(&t) {
                Some(def) => validate(def, &v, &format!("{}:{t}", capture.display()), &mut errors),
                None => errors.push(format!(
                    "{}: record type {t} is not in the schema",
                    capture.display()
                )),
            }
            records += 1;
        }
    }
    assert!(records > 1000);
    for t in ["http2_request", "stream_end"] {
        assert!(seen_types.contains(t), "no {t} record was checked");
    }
    assert!(
        errors.is_empty(),
        "{}",
        errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The `stream` field (docs/json.md): a session carried by an HTTP/2 stream names it right after
/// `conn` on its handshake, frame, message and diagnostic records, and those records still
/// validate; over HTTP/1.1 it is absent (every sample above).
#[test]
fn session_records_name_their_stream() {
    use wsdissect::base::StreamId;
    use wsdissect::event::Event;
    use wsdissect::output::json::JsonSink;
    use wsdissect::output::Sink;
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::common::repo().join("docs/json.schema.json")).unwrap(),
    )
    .unwrap();
    let capture = crate::common::repo().join("samples/violations/client-frames.pcap");
    let mut events = crate::common::dissect_full(&capture);
    let stream = Some(StreamId(5));
    for e in &mut events {
        match e {
            Event::Handshake(h) => h.stream = stream,
            Event::Frame(f) => f.stream = stream,
            Event::Message(m) => m.stream = stream,
            Event::Diagnostic(d) => d.stream = stream,
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut sink = JsonSink::new(&mut out, false);
    for e in &events {
        sink.event(e).unwrap();
    }
    sink.finish().unwrap();
    drop(sink);
    let mut errors = Vec::new();
    let mut named = std::collections::BTreeMap::new();
    for line in String::from_utf8(out).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = v["type"].as_str().unwrap().to_string();
        validate(&schema["$defs"][&t], &v, &t, &mut errors);
        let after_conn = line.contains(&format!("\"conn\":{},\"stream\":5", v["conn"]));
        let session_record = matches!(t.as_str(), "handshake" | "frame" | "message" | "diagnostic");
        assert_eq!(after_conn, session_record, "{line}");
        *named.entry(t).or_insert(0) += usize::from(after_conn);
    }
    assert!(errors.is_empty(), "{errors:?}");
    for t in ["handshake", "frame", "message", "diagnostic"] {
        assert!(
            named.get(t).copied().unwrap_or(0) > 0,
            "no {t} record: {named:?}"
        );
    }
}
