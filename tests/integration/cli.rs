//! The `wsdissect` binary as a user meets it: exit codes (0 success, 1 capture truncated or
//! corrupt part-way, 2 fatal), one clear line on stderr naming the input and the reason, never
//! panic text, output that cannot drive the terminal, and inputs crafted to hurt (huge record
//! lengths, truncation, stdin).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::common::repo;

const BIN: &str = env!("CARGO_BIN_EXE_wsdissect");

/// Longest a run over a small input may take before it counts as a hang (debug build).
const HANG_LIMIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

/// Run the binary with `args`, feeding `stdin` (or nothing), killing it past `HANG_LIMIT`.
fn run_with(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    run_command(cmd, args, stdin).expect("spawn wsdissect")
}

/// Run `cmd` bounded in time, feeding `stdin` from a thread so a full stdout pipe cannot
/// deadlock us (a broken pipe, the program having stopped reading early, is fine).
fn run_command(mut cmd: Command, what: &[&str], stdin: Option<&[u8]>) -> Option<Output> {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let feeder = stdin.map(|data| {
        let data = data.to_vec();
        let mut pipe = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        })
    });
    let out = wait_bounded(child, HANG_LIMIT, what);
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Some(out)
}

fn run(args: &[&str]) -> Output {
    run_with(args, None)
}

/// Wait for `child`, collecting its output on threads; panic (after killing it) past `limit`.
fn wait_bounded(mut child: std::process::Child, limit: Duration, what: &[&str]) -> Output {
    use std::io::Read;
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wsdissect {what:?} still running after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// No panic text on either stream, whatever the outcome.
fn assert_no_panic(out: &Output) {
    for (name, s) in [("stdout", stdout_of(out)), ("stderr", stderr_of(out))] {
        assert!(
            !s.contains("panicked") && !s.contains("RUST_BACKTRACE"),
            "panic text on {name}:\n{s}"
        );
    }
}

/// Exit `code`, and stderr is exactly one line starting `wsdissect: `, naming `input` and
/// containing `reason`.
fn assert_one_line_error(out: &Output, code: i32, input: &str, reason: &str) {
    assert_no_panic(out);
    let err = stderr_of(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status for {input}; stderr: {err}"
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "stderr should be one line, got:\n{err}");
    let line = lines[0];
    assert!(line.starts_with("wsdissect: "), "{line}");
    assert!(line.contains(input), "stderr does not name {input}: {line}");
    assert!(
        line.to_lowercase().contains(&reason.to_lowercase()),
        "stderr does not say {reason:?}: {line}"
    );
}

// ---------------------------------------------------------------------------------------------
// Scratch files (std only)
// ---------------------------------------------------------------------------------------------

/// A fresh directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "wsdissect-cli-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write scratch file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn sample(name: &str) -> PathBuf {
    repo().join("samples").join(name)
}

fn bad(name: &str) -> PathBuf {
    repo().join("tests/data/bad").join(name)
}

// ---------------------------------------------------------------------------------------------
// Hand-made pcap files
// ---------------------------------------------------------------------------------------------

/// Little-endian microsecond pcap global header, Ethernet, snap length 65535.
fn pcap_header() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    v.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    v.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    v.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    v
}

fn pcap_record(out: &mut Vec<u8>, ts_usec: u32, data: &[u8]) {
    out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    out.extend_from_slice(&ts_usec.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

/// Ethernet + IPv4 + TCP with correct lengths; checksums left zero.
fn tcp_packet(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(54 + payload.len());
    p.extend_from_slice(&[0x02, 0, 0, 0, 0, 2]); // dst MAC
    p.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]); // src MAC
    p.extend_from_slice(&[0x08, 0x00]); // IPv4
    let total = (20 + 20 + payload.len()) as u16;
    p.extend_from_slice(&[0x45, 0x00]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0x00, 0x01, 0x40, 0x00, 64, 6, 0, 0]); // id, DF, ttl, TCP, csum 0
    p.extend_from_slice(&src.0);
    p.extend_from_slice(&dst.0);
    p.extend_from_slice(&src.1.to_be_bytes());
    p.extend_from_slice(&dst.1.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[0x50, flags]); // data offset 5 words
    p.extend_from_slice(&65535u16.to_be_bytes()); // window
    p.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    p.extend_from_slice(payload);
    p
}

/// One WebSocket connection: handshake with the RFC 6455 §1.3 key, then the server sends each
/// of `server_frames` (raw frame bytes) in its own segment, then both sides FIN.
fn websocket_pcap(host: &str, reason: &str, server_frames: &[Vec<u8>]) -> Vec<u8> {
    websocket_pcap_with(host, reason, "", server_frames)
}

/// As `websocket_pcap`, with extra header lines in both heads (e.g. an extension offered and
/// accepted); frames longer than a segment are split across several.
fn websocket_pcap_with(
    host: &str,
    reason: &str,
    extra_headers: &str,
    server_frames: &[Vec<u8>],
) -> Vec<u8> {
    let c = ([10, 0, 0, 1], 40000u16);
    let s = ([10, 0, 0, 2], 80u16);
    let request = format!(
        "GET /chat HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
    );
    let response = format!(
        "HTTP/1.1 101 {reason}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra_headers}\r\n"
    );
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut out = pcap_header();
    let mut t = 0u32;
    let mut rec = |out: &mut Vec<u8>, pkt: Vec<u8>| {
        t += 100;
        pcap_record(out, t, &pkt);
    };
    rec(&mut out, tcp_packet(c, s, cseq, 0, SYN, b""));
    rec(&mut out, tcp_packet(s, c, sseq, cseq + 1, SYN | ACK, b""));
    cseq += 1;
    sseq += 1;
    rec(&mut out, tcp_packet(c, s, cseq, sseq, ACK, b""));
    rec(
        &mut out,
        tcp_packet(c, s, cseq, sseq, PSH | ACK, request.as_bytes()),
    );
    cseq += request.len() as u32;
    rec(
        &mut out,
        tcp_packet(s, c, sseq, cseq, PSH | ACK, response.as_bytes()),
    );
    sseq += response.len() as u32;
    for f in server_frames {
        for segment in f.chunks(60_000) {
            rec(&mut out, tcp_packet(s, c, sseq, cseq, PSH | ACK, segment));
            sseq += segment.len() as u32;
        }
    }
    rec(&mut out, tcp_packet(c, s, cseq, sseq, FIN | ACK, b""));
    rec(&mut out, tcp_packet(s, c, sseq, cseq + 1, FIN | ACK, b""));
    rec(&mut out, tcp_packet(c, s, cseq + 1, sseq + 1, ACK, b""));
    out
}

/// An unmasked server frame (payload < 126 bytes).
fn server_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![b0, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

/// Offsets at which each record of a classic pcap ends (after the 24-byte header).
fn record_ends(pcap: &[u8]) -> Vec<usize> {
    let le = pcap[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || pcap[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let u32_at = |i: usize| {
        let b = [pcap[i], pcap[i + 1], pcap[i + 2], pcap[i + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut ends = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32_at(at + 8) as usize;
        at += 16 + caplen;
        if at > pcap.len() {
            break;
        }
        ends.push(at);
    }
    ends
}

// ---------------------------------------------------------------------------------------------
// Fatal errors: exit 2, one line
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_file_is_fatal_and_named() {
    let scratch = Scratch::new("missing");
    let p = scratch.0.join("no-such-capture.pcap");
    let out = run(&[path_str(&p)]);
    assert_one_line_error(&out, 2, "no-such-capture.pcap", "cannot open");
    assert!(out.stdout.is_empty());
}

#[test]
fn directory_is_fatal() {
    let scratch = Scratch::new("dir");
    let out = run(&[path_str(&scratch.0)]);
    assert_one_line_error(&out, 2, path_str(&scratch.0), "directory");
    assert!(out.stdout.is_empty());
}

#[test]
fn text_file_is_not_a_capture() {
    let p = bad("not-a-capture.txt");
    let out = run(&[path_str(&p)]);
    assert_one_line_error(&out, 2, "not-a-capture.txt", "not a pcap or pcapng");
    assert!(out.stdout.is_empty());
    // The crate's own manifest: a text file outside the test data too.
    let manifest = repo().join("Cargo.toml");
    let out = run(&[path_str(&manifest), "--format", "json"]);
    assert_one_line_error(&out, 2, "Cargo.toml", "not a pcap or pcapng");
}

#[test]
fn empty_file_is_fatal() {
    let scratch = Scratch::new("empty");
    let p = scratch.write("empty.pcap", b"");
    let out = run(&[path_str(&p)]);
    assert_one_line_error(&out, 2, "empty.pcap", "empty");
    assert!(out.stdout.is_empty());
}

#[test]
fn no_capture_argument_is_fatal() {
    let out = run(&[]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr_of(&out).lines().count(), 1, "{}", stderr_of(&out));
}

#[test]
fn unknown_flag_is_fatal() {
    let out = run(&["--no-such-flag", path_str(&sample("py-nano.pcap"))]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--no-such-flag"));
    assert!(out.stdout.is_empty());
}

#[test]
fn header_only_files_are_clean() {
    // A pcap global header and nothing else: a valid, empty capture.
    let scratch = Scratch::new("hdronly");
    let p = scratch.write("header-only.pcap", &pcap_header());
    let out = run(&[path_str(&p)]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("0 packets"));
    // Half a global header: not a capture, or a cut-short one; never 0, never a panic.
    let p = scratch.write("half-header.pcap", &pcap_header()[..12]);
    let out = run(&[path_str(&p)]);
    assert_no_panic(&out);
    assert!(matches!(out.status.code(), Some(1 | 2)), "{out:?}");
    assert_eq!(stderr_of(&out).lines().count(), 1, "{}", stderr_of(&out));
}

// ---------------------------------------------------------------------------------------------
// Partial captures: exit 1, what came before is printed
// ---------------------------------------------------------------------------------------------

#[test]
fn truncated_capture_prints_what_came_before_and_exits_1() {
    let whole = std::fs::read(sample("py-echo.pcap")).unwrap();
    let ends = record_ends(&whole);
    assert!(ends.len() > 20, "py-echo.pcap has {} records", ends.len());
    // Cut in the middle of a record about half way through the file.
    let k = ends.partition_point(|&e| e < whole.len() / 2);
    let (prev, next) = (ends[k - 1], ends[k]);
    let cut_at = prev + (next - prev) / 2;
    assert!(cut_at > prev + 16, "cut inside the record's data");
    let scratch = Scratch::new("trunc");
    let p = scratch.write("py-echo-cut.pcap", &whole[..cut_at]);

    let out = run(&[path_str(&p)]);
    assert_one_line_error(&out, 1, "py-echo-cut.pcap", "truncated");
    let text = stdout_of(&out);
    assert!(text.contains("handshake GET"), "{text}");
    assert!(text.contains("→ 101"), "{text}");
    assert!(
        text.contains(" c2s → FIN "),
        "no frames before the cut:\n{text}"
    );
    assert!(text.contains("packets,"), "no summary line:\n{text}");

    let out = run(&[path_str(&p), "--format", "json"]);
    assert_one_line_error(&out, 1, "py-echo-cut.pcap", "truncated");
    let frames = stdout_of(&out)
        .lines()
        .filter(|l| l.contains("\"type\":\"frame\""))
        .count();
    assert!(frames > 0, "no frames decoded before the cut");
    // Every line printed before the error is still whole JSON.
    for line in stdout_of(&out).lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

#[test]
fn cut_record_header_is_truncated_too() {
    // Cut inside a 16-byte record header rather than its data.
    let whole = std::fs::read(sample("py-nano.pcap")).unwrap();
    let ends = record_ends(&whole);
    let scratch = Scratch::new("trunchdr");
    let p = scratch.write("py-nano-cut.pcap", &whole[..ends[9] + 7]);
    let out = run(&[path_str(&p), "--format", "json"]);
    assert_one_line_error(&out, 1, "py-nano-cut.pcap", "truncated");
    assert!(stdout_of(&out).contains("\"type\":\"handshake\""));
}

/// Global header, then a record header claiming 0x7fffffff captured bytes, then a few bytes.
fn huge_caplen_pcap() -> Vec<u8> {
    let mut pcap = pcap_header();
    pcap.extend_from_slice(&0u32.to_le_bytes());
    pcap.extend_from_slice(&0u32.to_le_bytes());
    pcap.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
    pcap.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
    pcap.extend_from_slice(&[0u8; 64]);
    pcap
}

#[test]
fn huge_caplen_is_a_clean_error_without_a_huge_allocation() {
    let scratch = Scratch::new("huge");
    let p = scratch.write("huge-caplen.pcap", &huge_caplen_pcap());

    let start = Instant::now();
    let out = run(&[path_str(&p)]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert_one_line_error(&out, 1, "huge-caplen.pcap", "byte 24");
}

#[test]
#[ignore = "memory bound: needs GNU time at /usr/bin/time (scripts/test.sh runs it)"]
fn memory_huge_caplen_file_peak_rss_under_256_mib() {
    let scratch = Scratch::new("huge-rss");
    let p = scratch.write("huge-caplen.pcap", &huge_caplen_pcap());
    let kib = max_rss_kib(&[path_str(&p)], None);
    assert!(kib < 256 * 1024, "peak RSS {kib} KiB");
}

/// The same record header on stdin, followed by 100 MB of zeros: the reader grows its buffer
/// up to its 64 MiB record limit and then reports corruption instead of allocating 2 GiB.
fn huge_caplen_stream() -> Vec<u8> {
    let mut pcap = pcap_header();
    pcap.extend_from_slice(&[0u8; 8]);
    pcap.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
    pcap.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
    pcap.resize(pcap.len() + 100_000_000, 0);
    pcap
}

#[test]
fn huge_caplen_on_an_endless_stream_stops_at_the_record_limit() {
    let out = run_with(&["-"], Some(&huge_caplen_stream()));
    assert_one_line_error(&out, 1, "-", "larger than");
}

#[test]
#[ignore = "memory bound: needs GNU time at /usr/bin/time (scripts/test.sh runs it)"]
fn memory_huge_caplen_stream_peak_rss_under_256_mib() {
    let kib = max_rss_kib(&["-"], Some(&huge_caplen_stream()));
    assert!(kib < 256 * 1024, "peak RSS {kib} KiB");
}

/// Peak resident set size of a run, via GNU time (`/usr/bin/time -v`). The `memory_*` tests that
/// use it are `#[ignore]`d: scripts/test.sh runs them when GNU time is there (it installs it as
/// root) and otherwise reports them as skipped (a failure under `CI=true`).
fn max_rss_kib(args: &[&str], stdin: Option<&[u8]>) -> u64 {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "peak memory is measured with GNU time: apt-get install time"
    );
    let mut cmd = Command::new(time);
    cmd.arg("-v").arg(BIN).args(args);
    let out = run_command(cmd, args, stdin).expect("spawn /usr/bin/time");
    peak_rss_kib(&stderr_of(&out))
}

/// The peak RSS that `/usr/bin/time -v` reports on standard error.
fn peak_rss_kib(err: &str) -> u64 {
    err.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in /usr/bin/time -v's output: {err}"))
}

// ---------------------------------------------------------------------------------------------
// Standard input and JSON
// ---------------------------------------------------------------------------------------------

#[test]
fn stdin_gives_the_same_json_as_the_file() {
    let p = sample("py-nano.pcap");
    let from_file = run(&[path_str(&p), "--format", "json"]);
    assert_eq!(
        from_file.status.code(),
        Some(0),
        "{}",
        stderr_of(&from_file)
    );
    let bytes = std::fs::read(&p).unwrap();
    let from_stdin = run_with(&["-", "--format", "json"], Some(&bytes));
    assert_no_panic(&from_stdin);
    assert_eq!(
        from_stdin.status.code(),
        Some(0),
        "{}",
        stderr_of(&from_stdin)
    );
    assert!(from_stdin.stderr.is_empty(), "{}", stderr_of(&from_stdin));
    assert!(!from_file.stdout.is_empty());
    assert_eq!(stdout_of(&from_stdin), stdout_of(&from_file));
}

#[test]
fn stdin_pcapng_works_too() {
    let p = sample("py-multilink.pcapng");
    let from_file = run(&[path_str(&p)]);
    let from_stdin = run_with(&["-"], Some(&std::fs::read(&p).unwrap()));
    assert_eq!(
        from_stdin.status.code(),
        Some(0),
        "{}",
        stderr_of(&from_stdin)
    );
    assert_eq!(stdout_of(&from_stdin), stdout_of(&from_file));
}

#[test]
fn truncated_stdin_names_the_input() {
    let whole = std::fs::read(sample("py-nano.pcap")).unwrap();
    let out = run_with(&["-"], Some(&whole[..whole.len() - 5]));
    assert_one_line_error(&out, 1, "-", "truncated");
}

#[test]
fn json_lines_all_parse_and_carry_type_and_conn() {
    let mut checked = 0;
    for name in [
        "py-nano.pcap",
        "py-closes.pcap",
        "py-rejected.pcap",
        "py-multilink.pcapng",
        "node-fragments.pcap",
    ] {
        let out = run(&[path_str(&sample(name)), "--format", "json"]);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr_of(&out));
        let text = stdout_of(&out);
        assert!(text.ends_with('\n'), "{name}: output ends mid-line");
        let mut types = std::collections::BTreeSet::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {line}"));
            let t = v
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or_else(|| panic!("{name}: no \"type\": {line}"));
            assert!(v.get("conn").is_some(), "{name}: no \"conn\": {line}");
            types.insert(t.to_string());
            checked += 1;
        }
        assert!(types.contains("frame"), "{name}: {types:?}");
        assert!(types.contains("capture_end") || types.len() > 1, "{name}");
    }
    assert!(checked > 50);
}

// ---------------------------------------------------------------------------------------------
// Hostile payloads cannot reach the terminal
// ---------------------------------------------------------------------------------------------

const HOSTILE: &[u8] = b"\x1b]0;pwned\x07\x1b[2Jhi";

fn assert_terminal_safe(stdout: &[u8]) {
    let text = String::from_utf8_lossy(stdout);
    assert!(!stdout.contains(&0x1b), "ESC reached the terminal:\n{text}");
    assert!(!stdout.contains(&0x07), "BEL reached the terminal:\n{text}");
    for c in text.chars() {
        assert!(
            c == '\n' || !(c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "control or bidi character U+{:04X} reached the terminal:\n{text}",
            c as u32
        );
    }
}

#[test]
fn escape_sequences_in_payloads_are_printed_escaped() {
    let pcap = websocket_pcap(
        "server.example.com",
        "Switching Protocols",
        &[server_frame(0x81, HOSTILE)],
    );
    let scratch = Scratch::new("esc");
    let p = scratch.write("hostile.pcap", &pcap);

    let out = run(&[path_str(&p)]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(
        text.contains("accept ok"),
        "handshake not recognised:\n{text}"
    );
    assert!(
        text.contains(" s2c ← FIN text "),
        "frame not decoded:\n{text}"
    );
    assert!(
        text.contains(r"\x1b]0;pwned\x07\x1b[2Jhi"),
        "payload not shown escaped:\n{text}"
    );
    assert_terminal_safe(&out.stdout);

    // With whole payloads shown, too.
    let out = run(&[path_str(&p), "--full-payload"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_terminal_safe(&out.stdout);

    // JSON escapes it and round-trips the exact text.
    let out = run(&[path_str(&p), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(!out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07));
    let texts: Vec<String> = stdout_of(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "message")
        .filter_map(|v| v["text"].as_str().map(String::from))
        .collect();
    assert_eq!(texts, vec![String::from_utf8(HOSTILE.to_vec()).unwrap()]);
}

#[test]
fn hostile_handshake_fields_and_close_reasons_are_escaped() {
    // C1 CSI and a right-to-left override in the Host header and the reason phrase (httparse
    // accepts them as obs-text), and control characters in a close reason and a ping.
    let mut close = vec![0x03, 0xe8];
    close.extend_from_slice(b"bye\x1b[31m\x07");
    let pcap = websocket_pcap(
        "evil\u{202e}moc.\u{9b}2J",
        "Switching \u{9b}31m Protocols",
        &[
            server_frame(0x89, b"\x1b[5n"),
            server_frame(0x81, "\u{9b}1;1H\u{2066}x".as_bytes()),
            server_frame(0x88, &close),
        ],
    );
    let scratch = Scratch::new("eschs");
    let p = scratch.write("hostile-handshake.pcap", &pcap);
    for extra in [&[][..], &["--full-payload"][..]] {
        let mut args = vec![path_str(&p)];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        let text = stdout_of(&out);
        assert!(text.contains("handshake GET /chat"), "{text}");
        assert!(text.contains("close"), "{text}");
        assert!(
            text.contains(r"\u{202e}"),
            "bidi override not shown escaped:\n{text}"
        );
        assert!(
            text.contains(r"\u{9b}"),
            "C1 CSI not shown escaped:\n{text}"
        );
        assert_terminal_safe(&out.stdout);
    }
}

// ---------------------------------------------------------------------------------------------
// Regression inputs found by fuzzing (tests/data/bad/)
// ---------------------------------------------------------------------------------------------

/// Every crafted bad input in tests/data/bad runs to a clean end: no panic, exit 0, 1 or 2,
/// at most one line on stderr, in bounded time.
#[test]
fn every_bad_input_ends_cleanly() {
    let dir = repo().join("tests/data/bad");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !KNOWN_BUGS.iter().any(|b| p.ends_with(b)))
        .collect();
    entries.sort();
    assert!(!entries.is_empty());
    for p in entries {
        for fmt in ["text", "json"] {
            let start = Instant::now();
            let out = run(&[path_str(&p), "--format", fmt]);
            assert_no_panic(&out);
            let code = out.status.code();
            assert!(
                matches!(code, Some(0..=2)),
                "{}: exit {code:?}: {}",
                p.display(),
                stderr_of(&out)
            );
            assert!(
                stderr_of(&out).lines().count() <= 1,
                "{}: {}",
                p.display(),
                stderr_of(&out)
            );
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{}: took {:?}",
                p.display(),
                start.elapsed()
            );
        }
    }
}

/// Inputs in tests/data/bad that still crash; each has its own ignored test below.
const KNOWN_BUGS: &[&str] = &[];

/// Found by fuzz target `frame_decoder` (input: tests/data/bad/frame-decoder-gap-while-hunting.fuzz;
/// mode 0xc9 = keep 1, start offset 18000, hunting; the stream 03 | gap 1 | 02 03 04 03 04).
/// A capture gap while the decoder is hunting for a frame boundary restarts the hunt at
/// `next_offset + len`, but while hunting `next_offset` still points at the start of the old
/// hunt: the bytes held in the old hunt buffer are forgotten, so every later frame's
/// `stream_offset` in that direction is too small by that many bytes. Fixed in
/// src/ws/decoder.rs `gap()`; kept as a regression test.
#[test]
fn gap_while_hunting_keeps_stream_offsets() {
    use wsdissect::base::PacketRef;
    use wsdissect::ws::decoder::{FrameDecoder, FrameEvent, Input};
    let mut starts = Vec::new();
    let mut dec = FrameDecoder::new(18000, 1);
    dec.start_hunting();
    let mut feed = |dec: &mut FrameDecoder, bytes: &[u8]| {
        let mut input = Input::new(bytes, PacketRef::default());
        while let Some(ev) = dec.next(&mut input) {
            if let FrameEvent::End(f) = ev {
                starts.push(f.stream_offset);
            }
        }
    };
    feed(&mut dec, &[0x03]); // offset 18000, held by the hunt
    dec.gap(1, PacketRef::default()); // offset 18001 lost
    feed(&mut dec, &[0x02, 0x03, 0x04, 0x03, 0x04]); // 18002..18007
    assert!(
        !dec.is_hunting(),
        "a binary frame of 3 bytes ends exactly at the data's end"
    );
    assert_eq!(
        starts,
        vec![18002],
        "the resynced frame starts after the gap"
    );
    assert_eq!(dec.next_offset(), 18007);
}

/// A deflate bomb: a 16 MiB message of zeros compressed to a few kilobytes.
fn deflate_bomb_pcap() -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; 16 << 20]).unwrap();
    enc.flush().unwrap(); // sync flush: ends with 00 00 ff ff, which permessage-deflate strips
    let mut compressed = enc.finish().unwrap();
    while compressed.ends_with(&[0x03, 0x00]) {
        compressed.truncate(compressed.len() - 2); // the final empty block finish() adds
    }
    assert!(compressed.ends_with(&[0x00, 0x00, 0xff, 0xff]));
    compressed.truncate(compressed.len() - 4);
    let mut frame = vec![0xc2, 126]; // FIN, RSV1 (compressed), binary; 16-bit length
    frame.extend_from_slice(&(compressed.len() as u16).to_be_bytes());
    frame.extend_from_slice(&compressed);
    let ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    websocket_pcap_with("example.com", "Switching Protocols", ext, &[frame])
}

/// With --max-inflate 1 MiB inflation of the bomb stops at the limit with a diagnostic, quickly
/// (and in little memory: `memory_deflate_bomb_…`); with the default limit the whole message is
/// inflated and its length is exact.
#[test]
fn deflate_bomb_stops_at_the_inflate_limit() {
    let dir = Scratch::new("bomb");
    let file = dir.write("bomb.pcap", &deflate_bomb_pcap());
    let started = Instant::now();
    let out = run(&[
        "--format",
        "json",
        "--max-inflate",
        "1048576",
        path_str(&file),
    ]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = stdout_of(&out);
    assert!(text.contains("\"rule\":\"inflate-limit\""), "{text}");
    assert!(text.contains("\"inflate_error\""), "{text}");
    let out = run(&["--format", "json", path_str(&file)]);
    let text = stdout_of(&out);
    assert!(text.contains(&format!("\"len\":{}", 16 << 20)), "{text}");
    assert!(!text.contains("inflate-limit"));
}

#[test]
#[ignore = "memory bound: needs GNU time at /usr/bin/time (scripts/test.sh runs it)"]
fn memory_deflate_bomb_with_max_inflate_peak_rss_under_64_mib() {
    let dir = Scratch::new("bomb-rss");
    let file = dir.write("bomb.pcap", &deflate_bomb_pcap());
    let kib = max_rss_kib(
        &[
            "--format",
            "json",
            "--max-inflate",
            "1048576",
            path_str(&file),
        ],
        None,
    );
    assert!(kib < 64 * 1024, "max RSS {kib} KiB");
}

/// `--format parquet` writes a row group every 65,536 rows: its memory does not grow with the
/// capture. 200,000 messages (about 25 MB: three full row groups of frames and three of
/// messages) peak within a few MiB of 70,000 (one), and under 128 MiB. The debug build takes
/// a while on a busy machine, hence the longer time limit than other runs get.
#[test]
#[ignore = "memory bound: needs GNU time at /usr/bin/time (scripts/test.sh runs it)"]
fn memory_parquet_output_is_flat_in_the_capture_size() {
    let peak = |messages: usize| {
        let scratch = Scratch::new("parquet-rss");
        let capture = scratch.write("big.pcap", &crate::parquet::many_messages_pcap(messages));
        let out = scratch.0.join("out");
        // The default thread count: the workers hand their events over in bounded parts.
        let args = [
            "--format",
            "parquet",
            "--out",
            path_str(&out),
            path_str(&capture),
        ];
        let child = Command::new("/usr/bin/time")
            .arg("-v")
            .arg(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn /usr/bin/time (apt-get install time)");
        let run = wait_bounded(child, Duration::from_secs(300), &args);
        assert!(run.status.success(), "{}", stderr_of(&run));
        peak_rss_kib(&stderr_of(&run))
    };
    let (small, large) = (peak(70_000), peak(200_000));
    eprintln!("parquet peak RSS: {small} KiB for 70,000 messages, {large} KiB for 200,000");
    assert!(large < 128 * 1024, "peak RSS {large} KiB");
    assert!(
        large < small + 8 * 1024,
        "peak RSS grew from {small} KiB to {large} KiB with the capture"
    );
}

// ---------------------------------------------------------------------------------------------
// Fitting the terminal, and the small things (issue 13)
// ---------------------------------------------------------------------------------------------

/// Every capture under samples/, in name order.
fn all_samples() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![repo().join("samples")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 40, "found only {} captures", out.len());
    out
}

/// Run with standard output a pipe (not a terminal), `COLUMNS` as given or unset.
fn run_piped(args: &[&str], columns: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("NO_COLOR");
    match columns {
        Some(c) => cmd.env("COLUMNS", c),
        None => cmd.env_remove("COLUMNS"),
    };
    run_command(cmd, args, None).expect("spawn wsdissect")
}

/// Lines wider than `width` columns, with their widths.
fn too_wide(text: &str, width: usize) -> Vec<(usize, String)> {
    text.lines()
        .map(|l| (wsdissect::output::fit::display_width(l), l.to_string()))
        .filter(|(w, _)| *w > width)
        .collect()
}

#[test]
fn default_view_of_every_sample_fits_80_columns_in_a_pipe() {
    for p in all_samples() {
        let out = run_piped(&["--color", "never", path_str(&p)], None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            p.display(),
            stderr_of(&out)
        );
        let wide = too_wide(&stdout_of(&out), 80);
        assert!(
            wide.is_empty(),
            "{}: lines over 80 columns: {wide:#?}",
            p.display()
        );
    }
}

#[test]
fn default_view_follows_columns_and_colour_takes_no_room() {
    for (columns, width) in [("50", 50), ("132", 132)] {
        for name in [
            "node-fragments.pcap",
            "py-deflate.pcap",
            "violations/client-frames.pcap",
        ] {
            let p = sample(name);
            let out = run_piped(&["--color", "always", path_str(&p)], Some(columns));
            let wide = too_wide(&stdout_of(&out), width);
            assert!(wide.is_empty(), "{name} at {columns}: {wide:#?}");
        }
    }
    // Wide enough, a preview stays on its frame's line.
    let p = sample("node-fragments.pcap");
    let out = stdout_of(&run_piped(&["--color", "never", path_str(&p)], Some("132")));
    let line = out.lines().find(|l| l.starts_with("  #14 ")).unwrap();
    assert!(
        line.ends_with("\"Hello, fragménted world 😀 - three fragments\""),
        "{line}"
    );
    // Narrow, it is cut with a count of the bytes left out, on a line of its own.
    let out = stdout_of(&run_piped(&["--color", "never", path_str(&p)], None));
    let at = out.lines().position(|l| l.starts_with("  #15 ")).unwrap();
    let next = out.lines().nth(at + 1).unwrap();
    assert!(
        next.starts_with("                         3f 5e 7d"),
        "{next}"
    );
    assert!(next.ends_with(" bytes)"), "{next}");
}

#[test]
fn diagnostics_wrap_under_their_severity_keeping_rule_and_section() {
    let p = sample("violations/client-frames.pcap");
    let out = stdout_of(&run_piped(&["--color", "never", path_str(&p)], None));
    let lines: Vec<&str> = out.lines().collect();
    let mut wrapped = 0;
    for (i, l) in lines.iter().enumerate() {
        if !(l.contains(" error ") || l.contains(" warning ")) || !l.contains("(RFC ") {
            continue;
        }
        assert!(l.contains("): "), "rule and section on the first line: {l}");
        if let Some(next) = lines.get(i + 1) {
            if next.starts_with("            ") && !next.starts_with("             ") {
                wrapped += 1;
            }
        }
    }
    assert!(
        wrapped > 0,
        "no diagnostic needed wrapping at 80 columns:\n{out}"
    );
}

#[test]
fn help_fits_80_columns_in_a_pipe() {
    for flag in ["-h", "--help"] {
        let out = run_piped(&[flag], None);
        assert_eq!(out.status.code(), Some(0));
        let wide = too_wide(&stdout_of(&out), 80);
        assert!(wide.is_empty(), "{flag}: {wide:#?}");
    }
    assert!(stdout_of(&run_piped(&["--help"], None)).contains("Examples:"));
}

/// Run with standard output a pipe whose reader is gone before the program starts writing
/// (closed at once; the program starts 0.3 s later), so its writes fail with EPIPE.
fn run_into_closed_pipe(args: &[&str]) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("sleep 0.3; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    drop(child.stdout.take());
    child.wait_with_output().expect("wait")
}

#[test]
fn a_closed_pipe_is_a_normal_end_for_every_command() {
    let capture = sample("node-fragments.pcap");
    let cases: [&[&str]; 8] = [
        &["man"],
        &["completions", "bash"],
        &["completions", "zsh"],
        &["-D"],
        &["--help"],
        &["explain", "81 85 37 fa 21 3d 7f 9f 4d 51 58"],
        &["accept", "dGhlIHNhbXBsZSBub25jZQ=="],
        &[path_str(&capture)],
    ];
    for args in cases {
        let normal = run(args);
        let closed = run_into_closed_pipe(args);
        assert_no_panic(&closed);
        // `-D` may fail where libpcap lists nothing; a closed pipe must not change the outcome.
        assert_eq!(
            closed.status.code(),
            normal.status.code(),
            "wsdissect {args:?} into a closed pipe: {}",
            stderr_of(&closed)
        );
        if normal.status.success() {
            assert!(closed.stderr.is_empty(), "{args:?}: {}", stderr_of(&closed));
        }
    }
}

#[test]
fn man_page_names_no_missing_pages_and_keeps_its_examples() {
    let out = run(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = stdout_of(&out);
    // Only one page is installed: nothing may point to wsdissect-explain(1) and the like.
    assert!(
        !page.contains("(1)"),
        "a reference to another page:\n{page}"
    );
    let examples = page
        .split(".SH EXAMPLES\n")
        .nth(1)
        .expect("an EXAMPLES section")
        .split("\n.SH ")
        .next()
        .unwrap();
    for command in [
        "wsdissect capture.pcap",
        "wsdissect accept dGhlIHNhbXBsZSBub25jZQ==",
    ] {
        // One example per paragraph, its command on a line of its own (not run together).
        let roff = format!(".TP\n\\fB{}\\fR\n", command.replace('-', "\\-"));
        assert!(
            examples.contains(&roff),
            "{command} missing from:\n{examples}"
        );
    }
    assert!(page.contains(".SH \"EXIT STATUS\"\n0 done"));
    assert!(page.contains(".SH COMMANDS\n.TP\n\\fBwsdissect explain\\fR"));
}

#[test]
fn bash_completion_of_interface_offers_the_interfaces() {
    let script = stdout_of(&run(&["completions", "bash"]));
    let dir = std::env::temp_dir().join(format!("wsdissect-compl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("wsdissect.bash");
    std::fs::write(&file, script).unwrap();
    let listed = stdout_of(&run(&["-D"]));
    let want: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_once(". ").map(|(_, rest)| rest))
        .map(|rest| rest.split(' ').next().unwrap())
        .collect();
    for flag in ["-i", "--interface"] {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {f}; COMP_WORDS=({bin} {flag} ''); COMP_CWORD=2; \
                 _wsdissect {bin} '' {flag}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                f = file.display(),
                bin = BIN
            ))
            .output()
            .expect("bash");
        let got: Vec<String> = stdout_of(&out).lines().map(str::to_string).collect();
        assert_eq!(got, want, "{flag}: {}", stderr_of(&out));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pretty_json_is_json_and_terminal_safe() {
    let payload =
        "{\"a\": 1, \"b\": [\"x\u{202e}y\", \"\u{9b}31m\", \"\\u001b[2J\"], \"c\": \"\\\"q\\\"\"}";
    let pcap = websocket_pcap(
        "example.com",
        "Switching Protocols",
        &[server_frame(0x81, payload.as_bytes())],
    );
    for format in ["text", "conversation"] {
        let out = run_with(
            &["--color", "never", "--pretty-json", "--format", format, "-"],
            Some(&pcap),
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        let text = stdout_of(&out);
        assert!(
            !text.contains('\u{202e}') && !text.contains('\u{9b}') && !text.contains('\x1b'),
            "{text}"
        );
        // The lines from an indented `{` to the `}` at its indentation.
        let lines: Vec<&str> = text.lines().collect();
        let open = lines
            .iter()
            .position(|l| l.trim() == "{")
            .unwrap_or_else(|| panic!("{format}: no indented JSON block in:\n{text}"));
        let indent = &lines[open][..lines[open].len() - 1];
        let close = open
            + lines[open..]
                .iter()
                .position(|l| *l == format!("{indent}}}"))
                .unwrap();
        let block = lines[open..=close].join("\n");
        let parsed: serde_json::Value =
            serde_json::from_str(&block).unwrap_or_else(|e| panic!("{format}: {e}:\n{block}"));
        let original: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert_eq!(parsed, original, "{format}");
    }
}

#[test]
fn full_payload_shows_whole_messages_in_the_default_view() {
    let p = sample("node-fragments.pcap");
    let out = stdout_of(&run_piped(
        &["--color", "never", "--full-payload", path_str(&p)],
        None,
    ));
    assert!(
        !out.contains("…(+"),
        "something was cut:\n{}",
        &out[..2000.min(out.len())]
    );
    // The 70000-byte text message, in one frame, whole on its frame's line.
    let line = out.lines().find(|l| l.starts_with("  #28 ")).unwrap();
    assert!(line.len() > 70_000, "{} bytes", line.len());
}

#[test]
fn counts_of_one_are_singular() {
    let plural_one = [
        "1 frames",
        "1 messages",
        "1 diagnostics",
        "1 packets",
        "1 TCP connections",
        "1 WebSocket connections",
        "1 payload bytes",
        "1 bytes",
    ];
    for p in all_samples() {
        for format in ["text", "table"] {
            let out = stdout_of(&run_piped(
                &["--color", "never", "--format", format, path_str(&p)],
                Some("200"),
            ));
            for l in out.lines() {
                for bad in plural_one {
                    let hit = l
                        .match_indices(bad)
                        .any(|(i, _)| !l[..i].ends_with(|c: char| c.is_ascii_digit()));
                    assert!(!hit, "{}: {bad:?} in {l:?}", p.display());
                }
            }
        }
    }
    let p = sample("node-fragments.pcap");
    let out = stdout_of(&run(&["--color", "never", path_str(&p)]));
    assert!(
        out.contains("44 packets, 1 TCP connection, 1 WebSocket connection\n"),
        "{out}"
    );
    let p = sample("violations/server-frames.pcap");
    let out = stdout_of(&run_piped(&["--color", "never", path_str(&p)], Some("300")));
    assert!(out.contains("c2s 1 frame, 0 messages, 19 payload bytes; s2c 2 frames, 1 message, 30 payload bytes; 1 diagnostic"), "{out}");
}

#[test]
fn filters_keep_the_capture_clock() {
    // py-closes: conn 2 (client port 46360) starts at packet 15, well after the first packet.
    let p = sample("py-closes.pcap");
    let line = |extra: &[&str], view: &str, prefix: &str| -> String {
        let mut args = vec!["--color", "never", "--format", view];
        args.extend_from_slice(extra);
        args.push(path_str(&p));
        let out = stdout_of(&run_piped(&args, Some("200")));
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{args:?}: no line {prefix:?} in:\n{out}"))
            .to_string()
    };
    let frame = line(&[], "text", "  #22 ");
    let handshake = line(&[], "text", "  #18 ");
    assert!(!frame.contains(" 0.000"), "{frame}");
    for filter in [
        &["--conn", "2"][..],
        &["-f", "tcp port 46360"],
        &["--port", "46360"],
    ] {
        assert_eq!(line(filter, "text", "  #22 "), frame, "{filter:?}");
        assert_eq!(line(filter, "text", "  #18 "), handshake, "{filter:?}");
    }
    assert_eq!(line(&["--packet", "22"], "text", "  #22 "), frame);
    let said = line(&[], "conversation", "[conn 2] ");
    assert_eq!(line(&["--conn", "2"], "conversation", "[conn 2] "), said);
    // Filtered by BPF, the connection is the only one, so it is numbered 1.
    let filtered = line(&["-f", "tcp port 46360"], "conversation", "[conn 1] ");
    assert_eq!(
        filtered.split_once("] ").unwrap().1,
        said.split_once("] ").unwrap().1
    );
}

#[test]
fn table_never_splits_an_address() {
    for (name, addrs) in [
        ("py-ipv6-subproto.pcap", &["[::1]:38814", "[::1]:9443"][..]),
        ("py-closes.pcap", &["127.0.0.1:46346", "127.0.0.1:18770"]),
    ] {
        let p = sample(name);
        for columns in ["60", "80", "100"] {
            let out = stdout_of(&run_piped(
                &["--color", "never", "--format", "table", path_str(&p)],
                Some(columns),
            ));
            for a in addrs {
                assert!(
                    out.contains(a),
                    "{name} at {columns} columns: {a} split in:\n{out}"
                );
            }
        }
    }
}
