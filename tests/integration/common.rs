//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use wsdissect::capture::file::FileSource;
use wsdissect::conversation::DissectConfig;
use wsdissect::event::Event;
use wsdissect::output::Collect;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every capture in samples/ that has an expected.json next to it.
pub fn samples_with_expectations() -> Vec<(PathBuf, serde_json::Value)> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(repo().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".expected.json") {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let capture = v["capture"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| format!("{stem}.pcap"));
            out.push((repo().join("samples").join(capture), v));
        }
    }
    assert!(
        out.len() >= 8,
        "expected at least 8 samples, found {}",
        out.len()
    );
    out
}

/// Dissect a capture keeping whole payloads.
pub fn dissect_full(path: &Path) -> Vec<Event> {
    let mut src = FileSource::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut sink = Collect::default();
    let cfg = DissectConfig {
        frame_keep: 4096,
        message_keep: 64 << 20,
        inflate_limit: 256 << 20,
        ..DissectConfig::default()
    };
    wsdissect::dissect(&mut src, cfg, &mut sink)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    sink.0
}

pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A legacy pcap file rewritten keeping only the packets `keep(number)` accepts (1-based).
pub fn filter_pcap(path: &Path, keep: impl Fn(u64) -> bool) -> Vec<u8> {
    let data = std::fs::read(path).unwrap();
    let le = data[0] == 0xd4 || data[0] == 0x4d;
    let u32_at = |o: usize| {
        let b = [data[o], data[o + 1], data[o + 2], data[o + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut out = data[..24].to_vec();
    let (mut at, mut number) = (24, 0);
    while at + 16 <= data.len() {
        let caplen = u32_at(at + 8) as usize;
        number += 1;
        if keep(number) {
            out.extend_from_slice(&data[at..at + 16 + caplen]);
        }
        at += 16 + caplen;
    }
    out
}

/// Dissect capture bytes held in memory, keeping whole payloads.
pub fn dissect_bytes(bytes: Vec<u8>, ws_ports: Vec<u16>) -> Vec<Event> {
    let mut src = FileSource::from_reader(
        PathBuf::from("memory"),
        Box::new(std::io::Cursor::new(bytes)),
    )
    .unwrap();
    let mut sink = Collect::default();
    let cfg = DissectConfig {
        frame_keep: 4096,
        message_keep: 64 << 20,
        ws_ports,
        ..DissectConfig::default()
    };
    wsdissect::dissect(&mut src, cfg, &mut sink).unwrap();
    sink.0
}

/// wsdissect run from the repository with `args` and `input` on standard input, without
/// colour: its exit code, standard output and standard error. `columns` sets `COLUMNS` (a
/// wide value keeps sentences unbroken, to look for them); `None` leaves it unset, so a pipe's
/// 80 columns apply.
pub fn wsdissect_with_stdin(
    args: &[&str],
    input: &str,
    columns: Option<&str>,
) -> (Option<i32>, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wsdissect"));
    cmd.args(args).current_dir(repo()).env("NO_COLOR", "1");
    match columns {
        Some(c) => cmd.env("COLUMNS", c),
        None => cmd.env_remove("COLUMNS"),
    };
    let mut child = (cmd.stdin(Stdio::piped()).stdout(Stdio::piped()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A child that exits before reading all of it closes the pipe: not this test's failure.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The NDJSON records of `wsdissect --format json ARGS…`, run from the repository root; the run
/// must succeed.
pub fn ndjson_records<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .current_dir(repo())
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("run wsdissect");
    assert!(
        out.status.success(),
        "wsdissect {:?}: {}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8(out.stdout)
        .expect("NDJSON is UTF-8")
        .lines())
    .map(|l| serde_json::from_str(l).expect("each line is JSON"))
    .collect()
}
