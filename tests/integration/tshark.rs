//! Differential test: our frame fields against tshark's on every sample.
//!
//! Needs tshark, so it is `#[ignore]`d: scripts/test.sh runs it with `--ignored` when tshark is
//! there (it installs it as root) and otherwise reports it as skipped (a failure under
//! `CI=true`). Run without tshark, it fails.

use std::process::Command;

use crate::common::{dissect_full, samples_with_expectations};
use wsdissect::event::Event;

/// (packet, fin, rsv, opcode, masked, mask key, payload_len) for each frame.
type FrameRow = (u64, bool, u8, u8, bool, Option<String>, u64);

fn field<'a>(ws: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    ws.get(name).and_then(|v| v.as_str())
}

fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

/// tshark's frames, via `-T json` (fields output cannot align optional fields across several
/// frames in one packet). `--no-duplicate-keys` turns repeated layers into arrays.
fn tshark_frames(capture: &std::path::Path) -> Vec<FrameRow> {
    let out = Command::new("tshark")
        .args([
            "-n",
            "-o",
            "tcp.reassemble_out_of_order:TRUE",
            "--no-duplicate-keys",
            "-r",
        ])
        .arg(capture)
        .args(["-Y", "websocket", "-T", "json", "-J", "websocket frame"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packets: serde_json::Value = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    let mut rows = Vec::new();
    for p in packets.as_array().unwrap() {
        let layers = &p["_source"]["layers"];
        let number = num(layers["frame"]["frame.number"].as_str().unwrap());
        let ws_layers = match &layers["websocket"] {
            serde_json::Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        for ws in ws_layers {
            let Some(fin) = field(&ws, "websocket.fin") else {
                continue;
            };
            let len = field(&ws, "websocket.payload_length_ext_64")
                .or(field(&ws, "websocket.payload_length_ext_16"))
                .or(field(&ws, "websocket.payload_length"))
                .map(num)
                .unwrap();
            rows.push((
                number,
                fin == "1",
                num(field(&ws, "websocket.rsv").unwrap()) as u8,
                num(field(&ws, "websocket.opcode").unwrap()) as u8,
                field(&ws, "websocket.mask") == Some("1"),
                field(&ws, "websocket.masking_key").map(|k| k.replace(':', "")),
                len,
            ));
        }
    }
    rows
}

#[test]
#[ignore = "needs tshark (scripts/test.sh runs it)"]
fn frame_fields_agree_with_tshark_on_every_sample() {
    crate::tshark_messages::require_tshark();
    let mut failures = Vec::new();
    for (capture, _) in samples_with_expectations() {
        let ours: Vec<FrameRow> = dissect_full(&capture)
            .iter()
            .filter_map(|e| match e {
                Event::Frame(f) => {
                    let h = &f.header;
                    let rsv = u8::from(h.rsv1) << 2 | u8::from(h.rsv2) << 1 | u8::from(h.rsv3);
                    let key = h
                        .mask_key
                        .map(|k| k.iter().map(|b| format!("{b:02x}")).collect::<String>());
                    Some((
                        f.last_packet.number,
                        h.fin,
                        rsv,
                        h.opcode.bits(),
                        h.masked,
                        key,
                        h.payload_len,
                    ))
                }
                _ => None,
            })
            .collect();
        let mut theirs = tshark_frames(&capture);
        let mut ours_sorted = ours.clone();
        // Within one packet, both list frames in stream order; across directions we sort by packet.
        ours_sorted.sort_by_key(|r| r.0);
        theirs.sort_by_key(|r| r.0);
        if ours_sorted != theirs {
            let first = ours_sorted.iter().zip(&theirs).position(|(a, b)| a != b);
            failures.push(format!(
                "{}: {} frames vs tshark {}; first difference at {:?}: ours {:?} tshark {:?}",
                capture.display(),
                ours_sorted.len(),
                theirs.len(),
                first,
                first.map(|i| ours_sorted[i].clone()),
                first.map(|i| theirs[i].clone())
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
