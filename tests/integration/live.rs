//! Live capture on the loopback interface against a real WebSocket peer (python `websockets`,
//! tests/live/peer.py): `wsdissect -i lo` run as a child, stopped by signals, `-c`, `--duration`;
//! its NDJSON checked against what the peer says it sent (sha256 per message).
//!
//! Needs root (CAP_NET_RAW), the loopback interface and a Python with `websockets` >= 13 (the
//! `websockets.asyncio` API; `WSDISSECT_PYTHON`, default `python3`), so every test here is
//! `#[ignore]`d: a plain `cargo test` reports them as ignored, and scripts/test.sh runs them with
//! `--ignored` when the prerequisites are there (it makes a virtual environment for
//! `websockets`), or reports them as skipped (a failure under `CI=true`). Run by hand:
//! `WSDISSECT_PYTHON=target/py-venv/bin/python cargo test --test integration -- --ignored live::`.
//! Run without a prerequisite, a test fails and says which. The tests take a lock so only one
//! captures at a time (the soak test's load would otherwise disturb the latency test). Every
//! wait is bounded; children are killed when a test fails. See docs/live.md.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::Value;

use crate::common::{repo, sha256_hex};

const BIN: &str = env!("CARGO_BIN_EXE_wsdissect");

/// How long a stopped capture may take to exit after SIGTERM/SIGINT or its `--duration`.
const STOP_LIMIT: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------------------------
// Preconditions
// ---------------------------------------------------------------------------------------------

/// The Python that runs tests/live/peer.py: `WSDISSECT_PYTHON`, or `python3`.
fn python() -> String {
    std::env::var("WSDISSECT_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Why these tests cannot run here, if they cannot.
pub(crate) fn missing_prerequisite() -> Option<String> {
    static REASON: OnceLock<Option<String>> = OnceLock::new();
    REASON
        .get_or_init(|| {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            // "Uid:\treal\teffective\tsaved\tfs"
            let euid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(String::from));
            if euid.as_deref() != Some("0") {
                return Some(format!(
                    "live capture needs root (effective uid {})",
                    euid.unwrap_or_else(|| "unknown".into())
                ));
            }
            if !Path::new("/sys/class/net/lo").exists() {
                return Some("there is no loopback interface `lo`".into());
            }
            let py = python();
            let ok = Command::new(&py)
                .args(["-c", "import websockets.asyncio.server"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if !ok.is_ok_and(|s| s.success()) {
                return Some(format!(
                    "`{py}` cannot import websockets.asyncio (websockets >= 13; \
                     scripts/test.sh makes target/py-venv, then set WSDISSECT_PYTHON)"
                ));
            }
            None
        })
        .clone()
}

/// Fail (saying which prerequisite is missing) when live capture cannot run here; otherwise
/// hold the capture lock. The tests are `#[ignore]`d, so they only run when asked for.
macro_rules! live_test {
    () => {{
        if let Some(reason) = missing_prerequisite() {
            panic!("cannot run a live-capture test: {reason}");
        }
        serial()
    }};
}

pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wsdissect-live-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

/// Run a short command, killing it past `limit`.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = read_all(child.stdout.take().unwrap());
    let err = read_all(child.stderr.take().unwrap());
    let status = wait_until(&mut child, Instant::now() + limit).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} did not finish within {limit:?}");
    });
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn read_all(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// NDJSON lines from a child, timestamped on arrival
// ---------------------------------------------------------------------------------------------

struct Line {
    wall: SystemTime,
    value: Value,
}

struct Lines {
    rx: Receiver<(SystemTime, String)>,
    seen: Vec<Line>,
    closed: bool,
}

impl Lines {
    fn new(r: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                if tx.send((SystemTime::now(), line)).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
            closed: false,
        }
    }

    /// Take in lines until `deadline` or until one arrives; false when nothing more will come.
    fn pump(&mut self, deadline: Instant) -> bool {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(wait) {
            Ok(first) => {
                self.push(first);
                while let Ok(more) = self.rx.try_recv() {
                    self.push(more);
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => {
                self.closed = true;
                false
            }
        }
    }

    fn push(&mut self, (wall, line): (SystemTime, String)) {
        let value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        self.seen.push(Line { wall, value });
    }

    /// Index of the first line from `from` on that `pred` accepts, waiting up to `timeout`.
    fn find_from(
        &mut self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        let mut at = from;
        loop {
            if let Some(i) = self.seen[at..].iter().position(|l| pred(&l.value)) {
                return Some(at + i);
            }
            at = self.seen.len();
            if Instant::now() >= deadline || self.closed || !self.pump(deadline) {
                return self.seen[at..]
                    .iter()
                    .position(|l| pred(&l.value))
                    .map(|i| at + i);
            }
        }
    }

    /// Everything until the writer closes its end (bounded).
    fn drain(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.closed && Instant::now() < deadline {
            self.pump(deadline);
        }
    }

    fn values(&self) -> Vec<Value> {
        self.seen.iter().map(|l| l.value.clone()).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The WebSocket peer
// ---------------------------------------------------------------------------------------------

struct Peer {
    child: Child,
    stdin: ChildStdin,
    out: Lines,
}

impl Peer {
    fn start(port: u16) -> Peer {
        Peer::start_with(port, &[])
    }

    fn start_with(port: u16, extra: &[&str]) -> Peer {
        let mut child = Command::new(python())
            .arg(repo().join("tests/live/peer.py"))
            .args(["serve", &port.to_string()])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python tests/live/peer.py");
        let stdin = child.stdin.take().unwrap();
        let out = Lines::new(child.stdout.take().unwrap());
        let mut peer = Peer { child, stdin, out };
        peer.expect("listening", Duration::from_secs(10));
        peer
    }

    fn send_line(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to peer");
        self.stdin.flush().unwrap();
    }

    /// The next reply with this `event`.
    fn expect(&mut self, event: &str, timeout: Duration) -> Value {
        let from = self.out.seen.len();
        let i = self
            .out
            .find_from(from, timeout, |v| v["event"] == event)
            .unwrap_or_else(|| {
                panic!(
                    "peer: no {event:?} within {timeout:?}; it said {:?}",
                    self.out.values()
                )
            });
        // Replies are answered in order: forget everything up to this one.
        let v = self.out.seen[i].value.clone();
        self.out.seen.drain(..=i);
        v
    }

    fn cmd(&mut self, line: &str, event: &str, timeout: Duration) -> Value {
        self.send_line(line);
        self.expect(event, timeout)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        if wait_until(&mut self.child, Instant::now() + Duration::from_secs(2)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// wsdissect as a live child
// ---------------------------------------------------------------------------------------------

struct Capture {
    child: Child,
    out: Lines,
    err: Option<JoinHandle<Vec<u8>>>,
    port: u16,
}

struct Stopped {
    status: ExitStatus,
    records: Vec<Value>,
    stderr: String,
    /// Set when the capture did not stop by itself: it needed a packet to notice.
    stop_problem: Option<String>,
    /// From the signal (or start, for `--duration`/`-c`) to exit.
    took: Duration,
}

impl Capture {
    /// `wsdissect -i lo -f 'tcp port PORT' --format json --full-payload EXTRA...`
    fn start(port: u16, extra: &[&str]) -> Capture {
        let filter = format!("tcp port {port}");
        let mut args = vec![
            "-i",
            "lo",
            "-f",
            &filter,
            "--format",
            "json",
            "--full-payload",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wsdissect");
        let out = Lines::new(child.stdout.take().unwrap());
        let err = Some(read_all(child.stderr.take().unwrap()));
        Capture {
            child,
            out,
            err,
            port,
        }
    }

    /// Probe connections through the peer until wsdissect reports one: it is capturing.
    fn wait_capturing(&mut self, peer: &mut Peer) {
        for k in 0..20 {
            peer.cmd(&format!("probe {k}"), "probed", Duration::from_secs(10));
            let text = format!("probe-{k}");
            if self
                .out
                .find_from(0, Duration::from_millis(500), |v| {
                    v["type"] == "message" && v["text"] == text.as_str()
                })
                .is_some()
            {
                return;
            }
            if self.out.closed {
                break;
            }
        }
        let _ = self.child.kill();
        panic!(
            "wsdissect never reported a probe connection; stderr: {}",
            String::from_utf8_lossy(&self.err.take().unwrap().join().unwrap())
        );
    }

    /// Send `sig` and wait for the exit. A capture that has not exited after STOP_LIMIT is
    /// nudged with a TCP connection to its port (one packet through the filter) and noted.
    fn stop(self, sig: &str) -> Stopped {
        let pid = self.child.id();
        let start = Instant::now();
        signal(pid, sig);
        self.finish(start, &format!("SIG{sig}"))
    }

    /// Wait for an exit the capture decides itself (`-c`, `--duration`), from `start`.
    fn finish(mut self, start: Instant, cause: &str) -> Stopped {
        let mut stop_problem = None;
        let mut status = wait_until(&mut self.child, start + STOP_LIMIT);
        let took = start.elapsed();
        if status.is_none() {
            stop_problem = Some(format!(
                "wsdissect did not exit within {STOP_LIMIT:?} of {cause} while no packet \
                 matched its filter; it exited only once a packet arrived"
            ));
            for _ in 0..25 {
                let _ = TcpStream::connect_timeout(
                    &([127, 0, 0, 1], self.port).into(),
                    Duration::from_millis(200),
                );
                status = wait_until(&mut self.child, Instant::now() + Duration::from_millis(200));
                if status.is_some() {
                    break;
                }
            }
        }
        let Some(status) = status else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!("wsdissect did not exit after {cause}, even with traffic: killed");
        };
        self.out.drain(Duration::from_secs(10));
        let stderr =
            String::from_utf8_lossy(&self.err.take().unwrap().join().unwrap()).into_owned();
        Stopped {
            status,
            records: self.out.values(),
            stderr,
            stop_problem,
            took,
        }
    }

    fn rss_kib(&self) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checking records
// ---------------------------------------------------------------------------------------------

/// (dir, opcode, len, sha256) of one message.
type Msg = (String, u64, u64, String);

fn sent_messages(reply: &Value) -> Vec<Msg> {
    reply["sent"]
        .as_array()
        .expect("peer reply has sent[]")
        .iter()
        .map(|m| {
            (
                m["dir"].as_str().unwrap().to_string(),
                m["opcode"].as_u64().unwrap(),
                m["len"].as_u64().unwrap(),
                m["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn payload(m: &Value) -> Vec<u8> {
    assert_ne!(
        m["truncated"], true,
        "--full-payload message truncated: {m}"
    );
    if let Some(t) = m["text"].as_str() {
        t.as_bytes().to_vec()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(m["data_b64"].as_str().expect("text or data_b64"))
            .expect("base64")
    }
}

fn is_probe(m: &Value) -> bool {
    m["text"].as_str().is_some_and(|t| t.starts_with("probe-"))
}

/// Every message record, probes excepted.
fn dissected_messages(records: &[Value]) -> Vec<Msg> {
    records
        .iter()
        .filter(|r| r["type"] == "message" && !is_probe(r))
        .map(|m| {
            let p = payload(m);
            assert_eq!(
                m["len"].as_u64(),
                Some(p.len() as u64),
                "len vs payload: {m}"
            );
            (
                m["dir"].as_str().unwrap().to_string(),
                m["opcode"].as_u64().unwrap(),
                p.len() as u64,
                sha256_hex(&p),
            )
        })
        .collect()
}

fn multiset(v: &[Msg]) -> BTreeMap<Msg, usize> {
    let mut m = BTreeMap::new();
    for x in v {
        *m.entry(x.clone()).or_insert(0) += 1;
    }
    m
}

/// Each sent message dissected exactly once.
fn assert_each_once(sent: &[Msg], records: &[Value]) {
    let got = multiset(&dissected_messages(records));
    let want = multiset(sent);
    assert_eq!(
        got, want,
        "messages dissected (left) vs messages sent (right), by (dir, opcode, len, sha256)"
    );
}

/// `(captured, dropped by kernel, dropped by interface)` from the stderr summary line.
fn drop_counters(stderr: &str) -> Option<(u64, u64, u64)> {
    let line = stderr.lines().find(|l| l.contains("packets captured"))?;
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let expected = format!(
        "wsdissect: {} packets captured, {} dropped by kernel, {} dropped by interface",
        nums[0], nums[1], nums[2]
    );
    assert!(
        line.starts_with(&expected),
        "drop counter line format: {line}"
    );
    // The kernel's count differs on loopback (each packet seen twice), and says so.
    if line.len() > expected.len() {
        assert!(
            line.contains("the kernel's filter passed") && line.contains("loopback"),
            "the kernel's count explained: {line}"
        );
    }
    Some((nums[0], nums[1], nums[2]))
}

fn assert_clean_exit(s: &Stopped) {
    assert!(
        s.status.success(),
        "exit status {:?}, stderr: {}",
        s.status,
        s.stderr
    );
    assert!(
        s.stderr.lines().next()
            == Some("wsdissect: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes"),
        "the capture says where it listens first: {}",
        s.stderr
    );
    let (captured, kernel, _) = drop_counters(&s.stderr)
        .unwrap_or_else(|| panic!("no drop counters on stderr: {:?}", s.stderr));
    assert!(captured > 0, "{}", s.stderr);
    assert_eq!(kernel, 0, "kernel drops: {}", s.stderr);
    assert_eq!(
        s.records.last().map(|r| r["type"].clone()),
        Some("summary".into()),
        "the last record is the summary"
    );
}

/// Tests whose subject is not stopping report a capture that needed a nudge, but go on.
fn note_stop_problem(s: &Stopped) {
    if let Some(p) = &s.stop_problem {
        eprintln!("NOTE (checked by the idle-stop tests): {p}");
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn live_capture_dissects_a_real_exchange_end_to_end() {
    let _lock = live_test!();
    let port = free_port();
    let mut peer = Peer::start(port);
    let mut cap = Capture::start(port, &[]);
    cap.wait_capturing(&mut peer);
    let reply = peer.cmd("exchange", "exchanged", Duration::from_secs(20));
    let sent = sent_messages(&reply);
    assert_eq!(sent.len(), 18, "9 messages each way");
    // Let the last packets (close handshake, FINs) reach wsdissect before stopping it.
    thread::sleep(Duration::from_millis(300));
    let s = cap.stop("TERM");
    assert_clean_exit(&s);
    assert_each_once(&sent, &s.records);

    let r = &s.records;
    // Fragmented messages: as many frames as the peer sent.
    for m in reply["sent"].as_array().unwrap() {
        if let Some(n) = m["fragments"].as_u64() {
            let rec = r
                .iter()
                .find(|x| {
                    x["type"] == "message"
                        && x["dir"] == m["dir"]
                        && sha256_hex(&payload(x)) == m["sha256"].as_str().unwrap()
                })
                .unwrap();
            assert_eq!(rec["fragments"].as_u64(), Some(n), "{rec}");
        }
    }
    // The second connection negotiated permessage-deflate and its data frames are compressed.
    let deflate_conn = r
        .iter()
        .find(|x| {
            x["type"] == "handshake"
                && x["extensions"].as_array().is_some_and(|e| {
                    e.iter()
                        .any(|e| e.as_str().unwrap().starts_with("permessage-deflate"))
                })
        })
        .map(|x| x["conn"].clone())
        .expect("a handshake with permessage-deflate");
    assert!(
        r.iter().any(|x| x["type"] == "frame"
            && x["conn"] == deflate_conn
            && x["rsv1"] == true
            && x["dir"] == "c2s"),
        "compressed (RSV1) frames on the deflate connection"
    );
    for x in r.iter().filter(|x| x["type"] == "handshake") {
        assert_eq!(x["status"], 101);
        assert_eq!(x["accept_valid"], true, "{x}");
    }
    // Pings answered by pongs (matched: rtt_ms), closes in both directions.
    let frames = |dir: &str, name: &str| {
        r.iter()
            .filter(|x| x["type"] == "frame" && x["dir"] == dir && x["opcode_name"] == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(frames("c2s", "ping").len(), 2);
    let pongs = frames("s2c", "pong");
    assert_eq!(pongs.len(), 2);
    assert!(pongs.iter().all(|p| p["rtt_ms"].is_number()), "{pongs:?}");
    assert!(frames("c2s", "close")
        .iter()
        .any(|c| c["close_code"] == 1000 && c["close_reason"] == "bye"));
    assert!(frames("s2c", "close").len() >= 2);
    // No rule broken by a conforming peer.
    let errors: Vec<_> = r
        .iter()
        .filter(|x| x["type"] == "diagnostic" && x["severity"] == "error")
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // Ended connections reported as ended by FIN.
    let ends = r.iter().filter(|x| x["type"] == "connection_end");
    assert!(ends.clone().count() >= 2);
    assert!(
        ends.clone().all(|x| x["reason"] == "fin"),
        "{:?}",
        ends.collect::<Vec<_>>()
    );
    drop(peer);
    assert!(s.stop_problem.is_none(), "{}", s.stop_problem.unwrap());
}

/// wss live: the client writes each connection's secrets to the key log as it connects (as a
/// browser with SSLKEYLOGFILE does), after wsdissect has read the file; wsdissect reads it again
/// when it meets a connection it has no secrets for, and decrypts every message.
#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn live_wss_is_decrypted_with_a_key_log_written_during_the_capture() {
    let _lock = live_test!();
    let port = free_port();
    let keylog = temp_dir("live-wss").join("keys.log");
    std::fs::write(&keylog, b"").unwrap();
    let keylog_arg = keylog.to_string_lossy().to_string();
    let mut peer = Peer::start_with(port, &["--tls", &keylog_arg]);
    let mut cap = Capture::start(port, &["--tls-keylog", &keylog_arg]);
    cap.wait_capturing(&mut peer);
    let reply = peer.cmd("exchange", "exchanged", Duration::from_secs(20));
    let sent = sent_messages(&reply);
    assert_eq!(sent.len(), 18, "9 messages each way");
    thread::sleep(Duration::from_millis(300));
    let s = cap.stop("TERM");
    assert_clean_exit(&s);
    assert_each_once(&sent, &s.records);
    let tls: Vec<&Value> = s
        .records
        .iter()
        .filter(|x| x["type"] == "connection")
        .map(|x| &x["tls"])
        .collect();
    let diags: Vec<&Value> = s
        .records
        .iter()
        .filter(|x| x["type"] == "diagnostic")
        .collect();
    assert!(tls.len() >= 3, "probe and exchange connections: {tls:?}");
    assert!(
        tls.iter()
            .all(|t| t["decrypted"] == true && t["version"] == "TLSv1.3"),
        "{tls:?} {diags:?}"
    );
    assert!(std::fs::metadata(&keylog).unwrap().len() > 0);
    drop(peer);
}

#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn live_output_arrives_while_the_connection_is_still_open() {
    let _lock = live_test!();
    let port = free_port();
    let mut peer = Peer::start(port);
    let mut cap = Capture::start(port, &[]);
    cap.wait_capturing(&mut peer);
    peer.cmd("open", "opened", Duration::from_secs(10));
    let mut latencies = Vec::new();
    for i in 0..5 {
        let text = format!("live-{i}");
        let reply = peer.cmd(&format!("send {text}"), "sent", Duration::from_secs(10));
        let sent_at = UNIX_EPOCH + Duration::from_secs_f64(reply["t"].as_f64().unwrap());
        let idx = cap
            .out
            .find_from(0, Duration::from_secs(2), |v| {
                v["type"] == "message" && v["dir"] == "c2s" && v["text"] == text.as_str()
            })
            .unwrap_or_else(|| panic!("{text} not reported within 2 s (the connection is open)"));
        let arrived = cap.out.seen[idx].wall;
        let latency = arrived.duration_since(sent_at).unwrap_or_default();
        latencies.push(latency);
        assert!(
            latency < Duration::from_secs(1),
            "{text}: reported {latency:?} after it was sent"
        );
    }
    eprintln!("send → record latencies: {latencies:?}");
    peer.cmd("more 0", "more", Duration::from_secs(10));
    thread::sleep(Duration::from_millis(200));
    let s = cap.stop("TERM");
    note_stop_problem(&s);
    assert_clean_exit(&s);
}

#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn count_stops_the_capture_after_n_messages() {
    let _lock = live_test!();
    let port = free_port();
    let mut peer = Peer::start(port);
    let mut cap = Capture::start(port, &["-c", "3"]);
    // Each probe is two messages (and its echo): the capture stops during the second one it
    // sees. Probe until it has exited by itself.
    let start = Instant::now();
    let mut k = 0;
    while cap.child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(15) {
        peer.cmd(&format!("probe {k}"), "probed", Duration::from_secs(10));
        k += 1;
        thread::sleep(Duration::from_millis(200));
    }
    let s = cap.finish(Instant::now(), "-c 3");
    assert!(s.stop_problem.is_none(), "-c 3: {:?}", s.stop_problem);
    assert_clean_exit(&s);
    let messages = s.records.iter().filter(|r| r["type"] == "message").count();
    assert_eq!(messages, 3, "{:?}", s.records);
}

#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn duration_stops_an_idle_capture_by_itself() {
    let _lock = live_test!();
    let port = free_port();
    let start = Instant::now();
    let cap = Capture::start(port, &["--duration", "1"]);
    let s = cap.finish(start, "--duration 1 (counted from start)");
    eprintln!("--duration 1 exited after {:?}", start.elapsed());
    assert!(s.status.success(), "{:?} {}", s.status, s.stderr);
    assert!(drop_counters(&s.stderr).is_some(), "{}", s.stderr);
    assert!(
        s.stop_problem.is_none() && s.took < Duration::from_millis(2500),
        "--duration 1 took {:?}: {:?}",
        s.took,
        s.stop_problem
    );
}

#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn duration_stops_a_busy_capture_by_itself() {
    let _lock = live_test!();
    let port = free_port();
    let mut peer = Peer::start(port);
    let start = Instant::now();
    let mut cap = Capture::start(port, &["--duration", "1.5"]);
    let mut k = 0;
    while cap.child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(6) {
        peer.cmd(&format!("probe {k}"), "probed", Duration::from_secs(10));
        k += 1;
        thread::sleep(Duration::from_millis(50));
    }
    let took = start.elapsed();
    let s = cap.finish(start, "--duration 1.5");
    assert_clean_exit(&s);
    assert!(
        took < Duration::from_millis(2500),
        "--duration 1.5 with traffic took {took:?}"
    );
}

#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn signals_stop_an_idle_capture() {
    let _lock = live_test!();
    for sig in ["INT", "TERM"] {
        let port = free_port();
        let cap = Capture::start(port, &[]);
        thread::sleep(Duration::from_secs(1));
        let s = cap.stop(sig);
        eprintln!("SIG{sig}: exited after {:?}", s.took);
        assert!(s.status.success(), "SIG{sig}: {:?} {}", s.status, s.stderr);
        assert!(drop_counters(&s.stderr).is_some(), "SIG{sig}: {}", s.stderr);
        assert!(
            s.stop_problem.is_none(),
            "SIG{sig}: {}",
            s.stop_problem.unwrap()
        );
    }
}

#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn write_option_saves_a_pcap_that_dissects_the_same_offline() {
    let _lock = live_test!();
    let dir = temp_dir("write");
    let file = dir.join("live.pcap");
    let port = free_port();
    let mut peer = Peer::start(port);
    let mut cap = Capture::start(port, &["-w", file.to_str().unwrap()]);
    cap.wait_capturing(&mut peer);
    let reply = peer.cmd("exchange", "exchanged", Duration::from_secs(20));
    thread::sleep(Duration::from_millis(300));
    let s = cap.stop("TERM");
    note_stop_problem(&s);
    assert_clean_exit(&s);
    assert_each_once(&sent_messages(&reply), &s.records);

    let off = run_bounded(
        Command::new(BIN)
            .args(["--format", "json", "--full-payload"])
            .arg(&file),
        Duration::from_secs(20),
    );
    assert!(
        off.status.success(),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    let offline: Vec<Value> = String::from_utf8(off.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_each_once(&sent_messages(&reply), &offline);
    // Same records, probes and all, except the packet counts of the end (the nudge, if any).
    let kinds = |v: &[Value]| {
        v.iter()
            .filter(|r| matches!(r["type"].as_str(), Some("message" | "frame" | "handshake")))
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().remove("ts");
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(&s.records),
        kinds(&offline),
        "live vs offline records"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn connections_open_before_the_capture_are_picked_up() {
    let _lock = live_test!();
    let port = free_port();
    let mut peer = Peer::start(port);
    peer.cmd("open", "opened", Duration::from_secs(10));
    let mut cap = Capture::start(port, &[]);
    cap.wait_capturing(&mut peer);
    let reply = peer.cmd("more 4", "more", Duration::from_secs(10));
    thread::sleep(Duration::from_millis(300));
    let s = cap.stop("TERM");
    note_stop_problem(&s);
    assert_clean_exit(&s);
    let sent = sent_messages(&reply);
    assert_eq!(sent.len(), 8);
    assert_each_once(&sent, &s.records);
    let conn = s
        .records
        .iter()
        .find(|r| r["type"] == "message" && r["text"] == "after capture 0")
        .map(|r| r["conn"].clone())
        .unwrap();
    let c = s
        .records
        .iter()
        .find(|r| r["type"] == "connection" && r["conn"] == conn)
        .unwrap_or_else(|| panic!("no connection record for conn {conn}"));
    assert_eq!(c["inferred"], true, "{c}");
    assert_eq!(c["server"], format!("127.0.0.1:{port}"), "{c}");
}

#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn live_capture_errors_exit_2_with_a_useful_message() {
    let _lock = live_test!();
    let limit = Duration::from_secs(10);
    // Unknown interface: the message lists the real ones.
    let o = run_bounded(Command::new(BIN).args(["-i", "nosuchif0"]), limit);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("nosuchif0") && err.contains("lo"), "{err}");
    // A filter libpcap cannot compile: its own message.
    let o = run_bounded(
        Command::new(BIN).args(["-i", "lo", "-f", "tcp prt 80"]),
        limit,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("tcp prt 80") && err.contains("syntax error"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // No capture permission: an unprivileged user (a copy of the binary it can execute).
    let dir = temp_dir("perm");
    let copy = dir.join("wsdissect");
    std::fs::copy(BIN, &copy).unwrap();
    let chmod = |p: &Path, mode: &str| {
        assert!(Command::new("chmod")
            .args([mode])
            .arg(p)
            .status()
            .unwrap()
            .success())
    };
    chmod(&dir, "755");
    chmod(&copy, "755");
    let mut cmd = if Path::new("/usr/bin/setpriv").exists() || which("setpriv") {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&copy)
            .args(["-i", "lo"]);
        c
    } else {
        let mut c = Command::new("su");
        c.args(["nobody", "-s", "/bin/sh", "-c"])
            .arg(format!("'{}' -i lo", copy.display()));
        c
    };
    let o = run_bounded(&mut cmd, limit);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("CAP_NET_RAW") && err.contains("setcap"),
        "{err}"
    );
    assert!(
        err.contains(copy.to_str().unwrap()),
        "names the binary to setcap: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn which(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Many short connections and one long one for ~20 s; wsdissect's RSS sampled every second.
/// Memory should be flat: ended connections must not pile up.
#[test]
#[ignore = "live capture: needs root, lo and python websockets (scripts/test.sh runs it)"]
fn soak_many_short_connections_keeps_memory_flat() {
    let _lock = live_test!();
    let port = free_port();
    let mut peer = Peer::start(port);
    let mut cap = Capture::start(port, &[]);
    cap.wait_capturing(&mut peer);
    // Discard records as they come (the test keeps only counts): read them on a thread.
    let (connections, short_per_conn, secs) = (2000, 3, 20.0);
    peer.send_line(&format!("soak {connections} {short_per_conn} {secs}"));
    let start = Instant::now();
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut next_sample = Instant::now();
    let reply = loop {
        if Instant::now() >= next_sample {
            if let Some(kib) = cap.rss_kib() {
                samples.push((start.elapsed().as_secs_f64(), kib));
            }
            next_sample += Duration::from_secs(1);
        }
        let from = peer.out.seen.len();
        if let Some(i) = peer
            .out
            .find_from(from, Duration::from_millis(100), |v| v["event"] == "soaked")
        {
            break peer.out.seen[i].value.clone();
        }
        // Keep wsdissect's stdout pipe drained.
        cap.out.pump(Instant::now());
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "soak did not end"
        );
    };
    // Two more samples after the load, as it settles.
    for _ in 0..2 {
        thread::sleep(Duration::from_secs(1));
        cap.out.pump(Instant::now());
        if let Some(kib) = cap.rss_kib() {
            samples.push((start.elapsed().as_secs_f64(), kib));
        }
    }
    let s = cap.stop("TERM");
    note_stop_problem(&s);
    eprintln!("soak: peer {reply}");
    eprintln!("soak: RSS samples (s, KiB): {samples:?}");
    eprintln!("soak: {}", s.stderr.trim());
    assert_clean_exit(&s);
    let reported = s
        .records
        .iter()
        .filter(|r| r["type"] == "message" && !is_probe(r))
        .count() as u64;
    let expected = 2 * reply["messages"].as_u64().unwrap();
    assert_eq!(reported, expected, "every message (and echo) reported");
    let websocket = s
        .records
        .iter()
        .filter(|r| r["type"] == "connection")
        .count() as u64;
    assert!(websocket > reply["connections"].as_u64().unwrap());
    assert!(samples.len() >= 6, "{samples:?}");
    let third = samples[samples.len() / 3].1;
    let last = samples.last().unwrap().1;
    assert!(
        (last as f64) <= 1.5 * third as f64,
        "RSS grew from {third} KiB (a third in) to {last} KiB at the end over {} connections: {samples:?}",
        reply["connections"]
    );
}

/// A live capture in the text view ends with one summary: the counts line on standard output
/// (no tables, however idle the capture), the capture's statistics on standard error.
#[test]
fn live_text_view_ends_with_one_short_summary() {
    let _lock = live_test!();
    let port = free_port();
    let out = Command::new(BIN)
        .args([
            "-i",
            "lo",
            "-f",
            &format!("tcp port {port}"),
            "--duration",
            "1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stdout, "0 packets, 0 TCP connections, 0 WebSocket connections\n",
        "only the counts line"
    );
    assert_eq!(
        stderr,
        "wsdissect: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n\
         wsdissect: 0 packets captured, 0 dropped by kernel, 0 dropped by interface\n"
    );
}
