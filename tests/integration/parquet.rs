//! `--format parquet --out DIR` (docs/parquet.md): the output directory's rules, row counts
//! against the NDJSON of every sample (read back with the `parquet` crate), row groups on a
//! generated capture, the schema section of docs/parquet.md, and, in the `parquet` group of
//! scripts/test.sh, DuckDB reading the tables and comparing every value with the NDJSON
//! (tests/parquet/compare.py).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use parquet::file::reader::{FileReader, SerializedFileReader};
use wsdissect::output::parquet::table::Column;
use wsdissect::output::parquet::{table_path, TABLES};

use crate::common::repo;

const BIN: &str = env!("CARGO_BIN_EXE_wsdissect");

/// A fresh directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wsdissect-parquet-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wsdissect(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run wsdissect")
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The samples the DuckDB comparison covers: HTTP/1.1, deflate, a rejected handshake with
/// diagnostics, TLS with a key log, HTTP/2 in clear and over TLS, and decoded application
/// protocols (Socket.IO, MQTT). Paths from the repository root.
const SAMPLES: &[(&str, Option<&str>)] = &[
    ("samples/py-echo.pcap", None),
    ("samples/node-deflate.pcap", None),
    ("samples/py-deflate.pcap", None),
    ("samples/py-rejected.pcap", None),
    (
        "samples/tls/node-tls.pcap",
        Some("samples/tls/node-tls.keys"),
    ),
    ("samples/h2/node-h2c.pcap", None),
    (
        "samples/h2/py-h2-tls.pcap",
        Some("samples/h2/py-h2-tls.keys"),
    ),
    ("samples/apps/socketio/deflate.pcap", None),
    ("samples/apps/mqtt/mqtt.pcap", None),
];

fn capture_args<'a>(capture: &'a str, keys: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec![capture];
    if let Some(keys) = keys {
        args.extend(["--tls-keylog", keys]);
    }
    args
}

/// `--format parquet --out DIR` over a capture; panics with its stderr when it fails.
fn write_parquet(args: &[&str], dir: &Path) {
    let mut all = args.to_vec();
    all.extend(["--format", "parquet", "--out", dir.to_str().unwrap()]);
    let out = wsdissect(&all);
    assert!(out.status.success(), "{all:?}: {}", stderr_of(&out));
    assert!(
        out.stdout.is_empty(),
        "parquet output writes nothing on stdout"
    );
}

/// The NDJSON of a capture.
fn ndjson(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = wsdissect(&all);
    assert!(out.status.success(), "{all:?}: {}", stderr_of(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn reader(dir: &Path, table: &str) -> SerializedFileReader<File> {
    let path = table_path(dir, table);
    SerializedFileReader::new(File::open(&path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not parquet: {e}", path.display()))
}

fn rows(dir: &Path, table: &str) -> i64 {
    reader(dir, table).metadata().file_metadata().num_rows()
}

/// Records of one NDJSON type.
fn count(ndjson: &str, kind: &str) -> i64 {
    let tag = format!("{{\"type\":\"{kind}\"");
    ndjson.lines().filter(|l| l.starts_with(&tag)).count() as i64
}

#[test]
fn every_table_has_a_row_per_ndjson_record() {
    for (capture, keys) in SAMPLES {
        let args = capture_args(capture, *keys);
        let scratch = Scratch::new("counts");
        let dir = scratch.0.join("out");
        write_parquet(&args, &dir);
        let json = ndjson(&args);
        for (table, kind) in [
            ("connections", "connection"),
            ("handshakes", "handshake"),
            ("frames", "frame"),
            ("messages", "message"),
            ("diagnostics", "diagnostic"),
        ] {
            assert_eq!(rows(&dir, table), count(&json, kind), "{capture}: {table}");
        }
        assert!(rows(&dir, "frames") > 0, "{capture}");
    }
}

#[test]
fn a_missing_directory_is_created_and_a_non_empty_one_refused() {
    let scratch = Scratch::new("dir");
    let dir = scratch.0.join("new/nested");
    write_parquet(&["samples/py-echo.pcap"], &dir);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<_> = TABLES.iter().map(|(t, _)| format!("{t}.parquet")).collect();
    want.sort();
    assert_eq!(names, want);

    let before = std::fs::read(table_path(&dir, "frames")).unwrap();
    let d = dir.to_str().unwrap();
    let again = wsdissect(&["samples/py-echo.pcap", "--format", "parquet", "--out", d]);
    assert_eq!(again.status.code(), Some(2));
    let err = stderr_of(&again);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not empty") && err.contains(d), "{err}");
    assert_eq!(std::fs::read(table_path(&dir, "frames")).unwrap(), before);
}

#[test]
fn parquet_needs_out_and_out_needs_parquet() {
    let scratch = Scratch::new("flags");
    let d = scratch.0.join("x");
    for args in [
        vec!["samples/py-echo.pcap", "--format", "parquet"],
        vec!["samples/py-echo.pcap", "--out", d.to_str().unwrap()],
        vec![
            "samples/py-echo.pcap",
            "--format",
            "json",
            "--out",
            d.to_str().unwrap(),
        ],
    ] {
        let out = wsdissect(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr_of(&out).contains("--out DIR"), "{}", stderr_of(&out));
        assert!(!d.exists(), "{args:?} created the directory");
    }
}

#[test]
fn an_out_path_that_is_a_file_is_a_one_line_error() {
    let scratch = Scratch::new("file");
    let f = scratch.0.join("file");
    std::fs::write(&f, b"x").unwrap();
    let d = f.to_str().unwrap();
    let out = wsdissect(&["samples/py-echo.pcap", "--format", "parquet", "--out", d]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("wsdissect: --out "), "{err}");
}

/// A pcap (Ethernet, IPv4) of one WebSocket connection: the RFC 6455 §1.3 handshake, then
/// `messages` unmasked server text frames of 60–120 bytes, 100 to a TCP segment, then FIN
/// both ways. Made here so a capture of any size needs no file in the repository.
pub fn many_messages_pcap(messages: usize) -> Vec<u8> {
    fn record(out: &mut Vec<u8>, n: u32, up: bool, seq: u32, flags: u8, payload: &[u8]) {
        let (src, dst) = if up {
            (([10, 0, 0, 1], 40000u16), ([10, 0, 0, 2], 80u16))
        } else {
            (([10, 0, 0, 2], 80u16), ([10, 0, 0, 1], 40000u16))
        };
        let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0];
        p.extend_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        p.extend_from_slice(&src.0);
        p.extend_from_slice(&dst.0);
        p.extend_from_slice(&src.1.to_be_bytes());
        p.extend_from_slice(&dst.1.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        // One packet per millisecond from 2023-11-14.
        out.extend_from_slice(&(1_700_000_000 + n / 1000).to_le_bytes());
        out.extend_from_slice(&((n % 1000) * 1000).to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&p);
    }
    let mut out = Vec::with_capacity(24 + messages * 100);
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let request = b"GET /big HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let (mut cseq, mut sseq, mut n) = (1000u32, 5000u32, 0u32);
    let mut next = || {
        n += 1;
        n
    };
    record(&mut out, next(), true, cseq, 0x02, b"");
    record(&mut out, next(), false, sseq, 0x12, b"");
    cseq += 1;
    sseq += 1;
    record(&mut out, next(), true, cseq, 0x18, request);
    cseq += request.len() as u32;
    record(&mut out, next(), false, sseq, 0x18, response);
    sseq += response.len() as u32;
    let mut segment = Vec::new();
    for i in 0..messages {
        let len = 60 + i % 61;
        let text = format!("{{\"seq\":{i},\"pad\":\"{}\"}}", "x".repeat(len));
        segment.push(0x81);
        segment.push(126);
        segment.extend_from_slice(&(text.len() as u16).to_be_bytes());
        segment.extend_from_slice(text.as_bytes());
        if (i + 1) % 100 == 0 || i + 1 == messages {
            record(&mut out, next(), false, sseq, 0x18, &segment);
            sseq = sseq.wrapping_add(segment.len() as u32);
            segment.clear();
        }
    }
    record(&mut out, next(), false, sseq, 0x11, b"");
    record(&mut out, next(), true, cseq, 0x11, b"");
    out
}

#[test]
fn a_large_capture_is_written_in_several_row_groups() {
    let scratch = Scratch::new("groups");
    let capture = scratch.0.join("big.pcap");
    let messages = 150_000;
    std::fs::write(&capture, many_messages_pcap(messages)).unwrap();
    let dir = scratch.0.join("out");
    write_parquet(&[capture.to_str().unwrap()], &dir);
    for table in ["frames", "messages"] {
        let r = reader(&dir, table);
        assert_eq!(r.metadata().file_metadata().num_rows(), messages as i64);
        // 65,536 rows a group (src/output/parquet/table.rs): 150,000 rows make three.
        assert_eq!(r.metadata().num_row_groups(), 3, "{table}");
    }
    assert_eq!(rows(&dir, "connections"), 1);
}

// ---------------------------------------------------------------------------------------------
// docs/parquet.md: the schema tables are generated from the code
// ---------------------------------------------------------------------------------------------

const BEGIN: &str = "<!-- schema: generated from src/output/parquet/schema.rs -->";
const END: &str = "<!-- end of generated schema -->";

fn schema_markdown() -> String {
    let mut s = String::new();
    for (table, columns) in TABLES {
        s.push_str(&format!("\n### `{table}.parquet`\n\n"));
        s.push_str("| column | type | null | NDJSON field | meaning |\n|---|---|---|---|---|\n");
        for c in columns {
            s.push_str(&schema_row(c));
        }
    }
    s.push('\n');
    s
}

fn schema_row(c: &Column) -> String {
    let mirrors = if c.mirrors.is_empty() {
        "—".to_string()
    } else {
        format!("`{}`", c.mirrors)
    };
    let null = if c.nullable { "yes" } else { "no" };
    format!(
        "| `{}` | {} | {null} | {mirrors} | {} |\n",
        c.name,
        c.kind.doc_name(),
        c.meaning.replace('|', "\\|")
    )
}

#[test]
fn parquet_schema_docs_match_the_code() {
    let path = repo().join("docs/parquet.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = doc.split_once(BEGIN).expect("schema begin marker");
    let (_, tail) = rest.split_once(END).expect("schema end marker");
    let fresh = format!("{head}{BEGIN}\n{}{END}{tail}", schema_markdown());
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    } else {
        assert!(
            doc == fresh,
            "docs/parquet.md is stale: UPDATE_DOCS=1 cargo test --test integration docs"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// DuckDB (scripts/test.sh group `parquet`)
// ---------------------------------------------------------------------------------------------

/// The Python with DuckDB: `WSDISSECT_PYTHON`, else the venv scripts/test.sh makes.
fn python() -> PathBuf {
    std::env::var_os("WSDISSECT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/py-venv/bin/python"))
}

#[test]
#[ignore = "needs DuckDB's Python package (target/py-venv; scripts/test.sh group `parquet`)"]
fn duckdb_reads_every_table_as_the_ndjson_says() {
    for (capture, keys) in SAMPLES {
        let args = capture_args(capture, *keys);
        let scratch = Scratch::new("duckdb");
        let dir = scratch.0.join("out");
        write_parquet(&args, &dir);
        let json = scratch.0.join("capture.ndjson");
        std::fs::write(&json, ndjson(&args)).unwrap();
        let out = Command::new(python())
            .arg(repo().join("tests/parquet/compare.py"))
            .arg(&json)
            .arg(&dir)
            .output()
            .expect("run tests/parquet/compare.py (is target/py-venv made?)");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{capture}: parquet and NDJSON differ:\n{said}{}",
            stderr_of(&out)
        );
        // It read all five tables, and found the frames.
        assert_eq!(said.lines().count(), TABLES.len(), "{said}");
        assert!(!said.contains("frames 0 rows"), "{capture}: {said}");
    }
}
