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

/// pcap-parser's text for this error holds its whole unread buffer (1 MiB here): the error
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
/// file reads as py-echo.pcap does.
#[test]
fn an_unused_interface_with_an_impossible_resolution_does_not_abort_the_file() {
    let recs = records(&[capture("unused-bad-tsresol.pcapng").to_str().unwrap()]);
    let echo = records(&[repo().join("samples/py-echo.pcap").to_str().unwrap()]);
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
    assert_eq!(messages(&recs).len(), 30);
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

    fn can_capture() -> bool {
        // SAFETY-free check: root can open lo; the live group runs only as root.
        std::path::Path::new("/sys/class/net/lo").exists()
    }

    /// `-w /dev/full`: the pcap header cannot be written, so the capture does not start:
    /// exit 2 with one line (it used to exit 0 having written nothing).
    #[test]
    #[ignore = "live capture: needs root and lo (scripts/test.sh runs it)"]
    fn write_to_a_full_disk_is_an_error() {
        assert!(can_capture());
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
        assert!(can_capture());
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
