//! Issue 11, "clean failures", "a gap inside a message" and "resource bounds": the crafted
//! captures of samples/hostile/failures/ (README.md there gives each one's truth) and the
//! failing outputs, run through the binary.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::repo;

const BIN: &str = env!("CARGO_BIN_EXE_wsdissect");

fn capture(name: &str) -> PathBuf {
    repo().join("samples/hostile/failures").join(name)
}

/// Run the binary with `args`, standard output a pipe.
fn run<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn wsdissect")
}

/// Run the binary with standard output going to `stdout` (`/dev/full`, a closed pipe).
fn run_into(args: &[&str], stdout: Stdio) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wsdissect");
    child.wait_with_output().expect("wait for wsdissect")
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_no_panic(out: &Output) {
    let err = stderr_of(out);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

/// The NDJSON records of a run that must succeed.
fn records(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_type<'a>(recs: &'a [Value], t: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["type"] == t).collect()
}

fn with_rule<'a>(recs: &'a [Value], rule: &str) -> Vec<&'a Value> {
    recs.iter()
        .filter(|r| r["type"] == "diagnostic" && r["rule"] == rule)
        .collect()
}

fn rules(recs: &[Value]) -> Vec<&str> {
    of_type(recs, "diagnostic")
        .iter()
        .filter_map(|d| d["rule"].as_str())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Clean failures
// ---------------------------------------------------------------------------------------------

/// pcap-parser's text for this error holds its whole unread buffer (256 KiB here): the error
/// line says what is wrong in a few words instead.
#[test]
fn a_pcapng_parse_error_is_one_short_line() {
    // Made by samples/hostile/failures/gen-clean-failures.py; damaged files live with the
    // other bad inputs (every capture under samples/ must read to its end).
    let out = run(&[repo().join("tests/data/bad/pcapng-bad-block.pcapng")]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.len() < 300, "{} bytes: {err}", err.len());
    assert!(
        err.contains("corrupt capture at byte 1472 (after packet 10): a block does not parse"),
        "{err}"
    );
    // Everything before the bad block was dissected.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("10 packets, 1 TCP connection, 1 WebSocket connection"));
}

/// Interface 0 declares an impossible if_tsresol, but every packet is on interface 1: the
/// file reads as py-ipv6-subproto.pcap does.
#[test]
fn an_unused_interface_with_an_impossible_resolution_does_not_abort_the_file() {
    let recs = records(&[capture("unused-bad-tsresol.pcapng").to_str().unwrap()]);
    let echo = records(&[repo()
        .join("samples/py-ipv6-subproto.pcap")
        .to_str()
        .unwrap()]);
    let messages = |r: &[Value]| -> Vec<Value> {
        of_type(r, "message")
            .into_iter()
            .map(|m| {
                let mut m = m.clone();
                m.as_object_mut().unwrap().remove("ts");
                m
            })
            .collect()
    };
    assert_eq!(messages(&recs).len(), 8);
    assert_eq!(messages(&recs), messages(&echo));
    assert!(rules(&recs).is_empty(), "{:?}", rules(&recs));
}

/// py-echo.pcap cut to a 1024-byte snapshot length: 68 packets are cut short. One warning
/// says so (with the count and the first), and the summary carries the count.
#[test]
fn snaplen_cut_packets_are_counted_and_warned_about_once() {
    let recs = records(&[capture("snaplen-cut.pcap").to_str().unwrap()]);
    let warnings = with_rule(&recs, "packet-cut-short");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["packet"], 28);
    assert!(warnings[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("68 packets were cut short"));
    let summary = recs.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["cut_short"], 68);
    // The handshake fits in 1024 bytes: the session is still shown.
    assert_eq!(summary["websocket_connections"], 1);
    // A whole capture has no such field.
    let echo = records(&[repo().join("samples/py-echo.pcap").to_str().unwrap()]);
    assert!(echo.last().unwrap().get("cut_short").is_none());
}

/// zlib (the C library, through Python's zlib module) says "invalid distance too far back"
/// for this message; zlib-rs's fast path hides that reason, which the diagnostic still names.
#[test]
fn deflate_error_names_zlibs_reason() {
    let recs = records(&[capture("deflate-too-far-back.pcap").to_str().unwrap()]);
    let errors = with_rule(&recs, "deflate-error");
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0]["message"],
        "compressed message does not inflate: deflate decompression error: invalid distance too far back"
    );
}

/// A failing standard output (a full disk) is an error with exit 2 for every subcommand and
/// for help; a reader that closes the pipe early is a normal end (exit 0); never a panic.
#[test]
fn a_failing_stdout_is_reported_never_a_panic() {
    let cases: [&[&str]; 6] = [
        &["accept", "dGhlIHNhbXBsZSBub25jZQ=="],
        &["completions", "bash"],
        &["-D"],
        &["man"],
        &["--help"],
        &["--version"],
    ];
    for args in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = run_into(args, Stdio::from(full));
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert_eq!(
            stderr_of(&out),
            "wsdissect: cannot write output: No space left on device (os error 28)\n",
            "{args:?}"
        );
        // A pipe whose reader is gone before anything is written.
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr_of(&out));
    }
}

/// `--duration 1e20` is longer than a `Duration` holds: taken as "until stopped", not a panic.
/// (The interface does not exist, so the run stops right after the flags are read.)
#[test]
fn a_huge_duration_is_not_a_panic() {
    for d in ["1e20", "1e300", "18446744073709551615"] {
        let out = run(&["-i", "no-such-interface-0", "--duration", d]);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr_of(&out).contains("no interface named"),
            "{d}: {}",
            stderr_of(&out)
        );
    }
}

/// Live capture with `-w` (root and the loopback interface: the `live` group of
/// scripts/test.sh).
mod live {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    /// Fails, saying why, when live capture cannot run here (as the live group's tests do);
    /// otherwise holds the capture lock, so no other live test captures at the same time.
    fn can_capture() -> std::sync::MutexGuard<'static, ()> {
        if let Some(reason) = crate::live::missing_prerequisite() {
            panic!("cannot run a live-capture test: {reason}");
        }
        crate::live::serial()
    }

    /// `-w /dev/full`: the pcap header cannot be written, so the capture does not start:
    /// exit 2 with one line (it used to exit 0 having written nothing).
    #[test]
    #[ignore = "live capture: needs root and lo (scripts/test.sh runs it)"]
    fn write_to_a_full_disk_is_an_error() {
        let _capture = can_capture();
        let out = run(&["-i", "lo", "-w", "/dev/full", "--duration", "1"]);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
        assert_eq!(
            stderr_of(&out),
            "wsdissect: -w /dev/full: cannot write: No space left on device (os error 28)\n"
        );
    }

    /// A `-w` path that is not UTF-8 is a path like any other (libpcap's savefile, through
    /// the pcap crate, panicked on it).
    #[test]
    #[ignore = "live capture: needs root and lo (scripts/test.sh runs it)"]
    fn write_to_a_non_utf8_path() {
        let _capture = can_capture();
        let dir = std::env::temp_dir().join(format!("wsd-nonutf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(OsStr::from_bytes(b"caught-\xff.pcap"));
        let args = [
            OsStr::new("-i"),
            OsStr::new("lo"),
            OsStr::new("--duration"),
            OsStr::new("0.5"),
            OsStr::new("-w"),
            path.as_os_str(),
        ];
        let out = run(&args);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        // A valid (possibly empty) pcap file: it reads back.
        let back = run(&[path.as_os_str()]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(back.status.code(), Some(0), "{}", stderr_of(&back));
    }
}

// ---------------------------------------------------------------------------------------------
// A gap inside a message
// ---------------------------------------------------------------------------------------------

/// A real 2 MiB binary message (Python websockets echo over loopback) with 16 segments,
/// 262,144 bytes, dropped from the capture: the message says where its hole is, keeps only
/// the bytes before it (they are the bytes the sender sent), and no payload-limit is claimed.
#[test]
fn a_hole_in_a_real_message_is_marked_not_glued() {
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(capture("message-hole.expected.json")).unwrap(),
    )
    .unwrap();
    let path = capture("message-hole.pcap");
    let recs = records(&["--full-payload", path.to_str().unwrap()]);
    let messages = of_type(&recs, "message");
    let m = messages.iter().find(|m| m["dir"] == "s2c").unwrap();
    let (hole_at, hole_len) = (&truth["hole"]["offset"], &truth["hole"]["len"]);
    assert_eq!(m["len"], truth["message"]["len"]);
    assert_eq!(m["lost"], *hole_len);
    assert_eq!(
        m["holes"],
        serde_json::json!([{"offset": hole_at, "len": hole_len}])
    );
    assert_eq!(m["truncated"], true);
    use base64::Engine;
    let kept = base64::engine::general_purpose::STANDARD
        .decode(m["data_b64"].as_str().unwrap())
        .unwrap();
    assert_eq!(kept.len() as u64, hole_at.as_u64().unwrap());
    assert_eq!(
        crate::common::sha256_hex(&kept),
        truth["sha256_before_hole"].as_str().unwrap()
    );
    // The client's copy (no hole) is whole and has no hole field.
    let c2s = messages.iter().find(|m| m["dir"] == "c2s").unwrap();
    assert!(c2s.get("holes").is_none());
    assert_eq!(rules(&recs), ["stream-gap"]);
    // The text view says where the hole is.
    let text = String::from_utf8(run(&[&path]).stdout).unwrap();
    assert!(text.contains("[bytes 540662–802805 missing]"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Resource bounds (peak RSS with GNU time: the `memory` group of scripts/test.sh)
// ---------------------------------------------------------------------------------------------

/// `--max-inflate-total`: a session's compressed messages share one budget. On py-deflate
/// (Python websockets, context takeover) with a budget of 1000 bytes: one `inflate-budget`
/// warning, and every later compressed message says why it was not inflated (no flood of
/// `deflate-context-unknown`).
#[test]
fn the_inflate_budget_is_spent_once_per_session() {
    let path = repo().join("samples/py-deflate.pcap");
    let recs = records(&["--max-inflate-total", "1000", path.to_str().unwrap()]);
    let sessions = of_type(&recs, "handshake").len();
    assert!(sessions > 1);
    assert_eq!(
        rules(&recs),
        vec!["inflate-budget"; sessions],
        "one per session"
    );
    let spent = "the session's 1000-byte inflate budget is spent";
    for conn in 1..=sessions {
        let messages: Vec<&Value> = of_type(&recs, "message")
            .into_iter()
            .filter(|m| m["conn"] == conn && m["compressed"] == true)
            .collect();
        let after = messages.iter().skip_while(|m| m["inflate_error"] != spent);
        assert!(after.clone().count() > 1, "conn {conn}");
        assert!(
            after.clone().all(|m| m["inflate_error"] == spent),
            "conn {conn}"
        );
    }
    // The default budget (4 GiB) is far from reached.
    let whole = records(&[path.to_str().unwrap()]);
    assert!(!rules(&whole).contains(&"inflate-budget"));
}

/// Memory bounds against crafted captures (bench/hostile-ooo.py makes bigger ones). Named
/// `cli::memory_*` so scripts/test.sh runs them in its `memory` group.
mod cli {
    use super::*;

    const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 80);
    const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);

    /// Ethernet + IPv4 + TCP (checksums zero, as offloading senders capture them); `orig`
    /// payload bytes on the wire, of which `payload` were captured.
    fn packet(
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        flags: u8,
        payload: &[u8],
        orig: usize,
    ) -> (Vec<u8>, usize) {
        let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&((40 + orig) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        p.extend_from_slice(&src.0);
        p.extend_from_slice(&dst.0);
        p.extend_from_slice(&src.1.to_be_bytes());
        p.extend_from_slice(&dst.1.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        let wire = p.len() + orig;
        p.extend_from_slice(payload);
        (p, wire)
    }

    /// The capture bench/hostile-ooo.py makes, smaller: a handshake, then `header_only`
    /// segments from the server far ahead of its stream with 1460 bytes on the wire and none
    /// captured, then `blocks` blocks of `block` one-byte segments in reverse order, each
    /// block a run of empty text frames (0x81 0x00) completed at once by its first byte.
    fn hostile_ooo(blocks: u32, block: u32, header_only: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let mut n = 0u32;
        let mut rec = |out: &mut Vec<u8>, (p, wire): (Vec<u8>, usize)| {
            n += 1;
            for v in [n / 1_000_000, n % 1_000_000, p.len() as u32, wire as u32] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&p);
        };
        let req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let resp =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        let (c, s) = (1000u32, 5000u32);
        rec(&mut out, packet(CLIENT, SERVER, c, 0x02, b"", 0));
        rec(&mut out, packet(SERVER, CLIENT, s, 0x12, b"", 0));
        rec(
            &mut out,
            packet(CLIENT, SERVER, c + 1, 0x18, req.as_bytes(), req.len()),
        );
        rec(
            &mut out,
            packet(SERVER, CLIENT, s + 1, 0x18, resp.as_bytes(), resp.len()),
        );
        let start = s + 1 + resp.len() as u32;
        for i in 0..header_only {
            let seq = start + 1_000_000 + 2000 * i;
            rec(&mut out, packet(SERVER, CLIENT, seq, 0x10, b"", 1460));
        }
        for b in 0..blocks {
            for i in (0..block).rev() {
                let byte = [[0x81u8], [0x00]][(i % 2) as usize];
                let seq = start + b * block + i;
                rec(&mut out, packet(SERVER, CLIENT, seq, 0x18, &byte, 1));
            }
        }
        out
    }

    /// Peak resident set size of a run, via GNU time.
    fn max_rss_kib(args: &[&str]) -> u64 {
        assert!(
            std::path::Path::new("/usr/bin/time").exists(),
            "apt-get install time"
        );
        let out = Command::new("/usr/bin/time")
            .arg("-v")
            .arg(BIN)
            .args(args)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_no_panic(&out);
        err.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Maximum resident set size (kbytes): ")
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no peak RSS: {err}"))
    }

    /// Remove a scratch file, and its directory once empty.
    fn discard(p: &std::path::Path) {
        let _ = std::fs::remove_file(p);
        if let Some(dir) = p.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }

    fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wsd-hostile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// 2 × 128 Ki one-byte segments in reverse order (19 MB): each block completes 65,536
    /// frames and as many messages in one packet. Peak RSS of the release binary before the
    /// fix 56 MiB (a packet's events were all gathered before any was printed, and each
    /// one-byte segment was held for one byte of the 8 MiB cap), after it 16 MiB (this debug
    /// build: 20 MiB). At 8 × 1 MiB (bench/hostile-ooo.py, 596 MB): 400 MiB before, 16 MiB after.
    #[test]
    #[ignore = "memory bound: needs GNU time at /usr/bin/time (scripts/test.sh runs it)"]
    fn memory_one_byte_out_of_order_segments_peak_rss_under_40_mib() {
        let p = scratch("ooo.pcap", &hostile_ooo(2, 128 << 10, 0));
        let kib = max_rss_kib(&["--format", "json", p.to_str().unwrap()]);
        discard(&p);
        assert!(kib < 40 * 1024, "peak RSS {kib} KiB");
    }

    /// 32 Ki header-only segments ahead of the stream (2.3 MB): each was held out of order
    /// at no cost against the cap, and all became gaps at the end at once. Release binary:
    /// 63 MiB before the fix (121 MiB at 64 Ki, 463 MiB at 256 Ki), 9 MiB after.
    #[test]
    #[ignore = "memory bound: needs GNU time at /usr/bin/time (scripts/test.sh runs it)"]
    fn memory_header_only_segments_peak_rss_under_40_mib() {
        let p = scratch("header-only.pcap", &hostile_ooo(0, 0, 32 << 10));
        let kib = max_rss_kib(&["--format", "json", p.to_str().unwrap()]);
        discard(&p);
        assert!(kib < 40 * 1024, "peak RSS {kib} KiB");
    }

    /// The same captures, for what they show: the one-byte segments beyond the cap become
    /// gaps (the dissector says so), and every line is whole JSON.
    #[test]
    fn hostile_out_of_order_runs_are_bounded_and_reported() {
        let p = scratch("ooo-small.pcap", &hostile_ooo(1, 16 << 10, 5_000));
        let recs = records(&[p.to_str().unwrap()]);
        discard(&p);
        let gaps = of_type(&recs, "gap");
        assert!(!gaps.is_empty());
        assert!(rules(&recs).contains(&"stream-gap"));
    }
}
