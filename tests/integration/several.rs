//! Several capture files read as one, and the messages that help: a sample split with
//! `editcap` (as `tcpdump -C` rotates) dissects exactly as the whole file does, named file by
//! file in any order or as a directory; `--severity` and `--diagnostics`; hints when nothing is
//! found; flags that used to be mistakes (`--verbose`, `--color` before a subcommand, comma
//! lists, `-c 0`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use crate::common::repo;

const BIN: &str = env!("CARGO_BIN_EXE_wsdissect");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run wsdissect")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "wsdissect {args:?}: {:?}\n{}",
        out.status,
        stderr(&out)
    );
    out
}

/// A fresh directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wsdissect-several-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Run `editcap` (Wireshark's); these tests need it and fail, not skip, without it.
fn editcap(args: &[&str]) {
    let out = Command::new("editcap")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("editcap is needed (apt-get install wireshark-common or tshark): {e}")
        });
    assert!(out.status.success(), "editcap {args:?}: {out:?}");
}

/// The files of `dir`, sorted by name.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Samples split across files: a mix of link types, pcapng, several connections, TLS, HTTP/2
/// and violations; with the packets per file, and the flags each needs.
const SPLIT: &[(&str, &str, &[&str])] = &[
    ("node-fragments.pcap", "7", &[]),
    ("py-rejected.pcap", "7", &[]),
    ("py-reorder.pcap", "7", &[]),
    ("py-multilink.pcapng", "7", &[]),
    ("chromium-echo.pcapng", "20", &[]),
    ("violations/client-frames.pcap", "15", &[]),
    ("h2/node-h2c.pcap", "10", &[]),
    (
        "tls/chromium-tls.pcap",
        "30",
        &["--tls-keylog", "samples/tls/chromium-tls.keys"],
    ),
    (
        "h2/firefox-h2.pcap",
        "20",
        &["--tls-keylog", "samples/h2/firefox-h2.keys"],
    ),
];

/// The output of `wsdissect` on `inputs` in a view, with `extra` flags.
fn view(inputs: &[&str], format: &str, extra: &[&str]) -> String {
    let mut args: Vec<&str> = inputs.to_vec();
    args.extend(["--format", format]);
    args.extend(extra);
    let out = Command::new(BIN)
        .args(&args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_capture_split_into_rotated_files_dissects_as_the_whole_file() {
    for (i, (name, per_file, extra)) in SPLIT.iter().enumerate() {
        let whole = repo().join("samples").join(name);
        let scratch = Scratch::new("rotated");
        // Small files, so connections, messages and even frames continue into the next file.
        let ext = whole.extension().unwrap().to_str().unwrap();
        editcap(&[
            "-c",
            per_file,
            s(&whole),
            s(&scratch.0.join(format!("part.{ext}"))),
        ]);
        let parts = files(&scratch.0);
        assert!(parts.len() > 2, "{name}: split into {} files", parts.len());
        let mut reversed: Vec<&str> = parts.iter().map(|p| s(p)).collect();
        reversed.reverse();
        // Every sample in NDJSON (the whole record of a run); a few in the text view too.
        let formats: &[&str] = if i < 3 { &["json", "text"] } else { &["json"] };
        for format in formats {
            let format = *format;
            let want = view(&[s(&whole)], format, extra);
            assert!(!want.is_empty());
            // Named in any order: the merge goes by timestamp.
            assert_eq!(
                view(&reversed, format, extra),
                want,
                "{name}: the {format} view of its {} parts, named last first",
                parts.len()
            );
            // A directory of rotations.
            assert_eq!(
                view(&[s(&scratch.0)], format, extra),
                want,
                "{name}: the {format} view of the directory of its parts"
            );
        }
    }
}

#[test]
fn interleaved_files_are_merged_by_timestamp() {
    // Three connections; packets 1-10 and 21-30 in one file, the rest in another.
    let whole = repo().join("samples/py-rejected.pcap");
    let scratch = Scratch::new("interleaved");
    let a = scratch.0.join("a.pcap");
    let b = scratch.0.join("b.pcap");
    editcap(&["-r", s(&whole), s(&a), "1-10", "21-30"]);
    editcap(&[s(&whole), s(&b), "1-10", "21-30"]);
    let want = view(&[s(&whole)], "json", &[]);
    assert_eq!(view(&[s(&b), s(&a)], "json", &[]), want);
    assert_eq!(view(&[s(&a), s(&b)], "json", &[]), want);
    // Packet numbers count across the merged capture: the summary has them all.
    let last: Value = serde_json::from_str(want.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["packets"], 34);
}

#[test]
fn a_directory_leaves_out_what_is_not_a_capture_and_says_so() {
    let whole = repo().join("samples/node-fragments.pcap");
    let scratch = Scratch::new("notes");
    editcap(&["-c", "20", s(&whole), s(&scratch.0.join("cap.pcap"))]);
    std::fs::write(scratch.0.join("NOTES.txt"), "rotated by tcpdump -C 1\n").unwrap();
    std::fs::write(scratch.0.join(".hidden"), "x").unwrap();
    let out = ok(&[s(&scratch.0), "--format", "json"]);
    assert_eq!(stdout(&out), view(&[s(&whole)], "json", &[]));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("NOTES.txt: not a pcap or pcapng capture file; left out"),
        "{err}"
    );
    // Named on the command line, a file that is not a capture is still an error.
    let out = run(&[s(&whole), s(&scratch.0.join("NOTES.txt"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
}

/// Diagnostics records of an NDJSON output.
fn records(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn severity_keeps_diagnostics_at_or_above_a_level() {
    let capture = "samples/violations/client-frames.pcap";
    let all = records(&view(&[capture], "json", &[]));
    let rank = |s: &str| ["info", "warning", "error"].iter().position(|x| *x == s);
    let diags = |v: &[Value], min: usize| -> Vec<Value> {
        v.iter()
            .filter(|r| r["type"] == "diagnostic")
            .filter(|r| rank(r["severity"].as_str().unwrap()).unwrap() >= min)
            .cloned()
            .collect()
    };
    assert!(!diags(&all, 2).is_empty() && diags(&all, 0).len() > diags(&all, 2).len());
    for (level, min) in [("info", 0), ("warning", 1), ("error", 2)] {
        let got = records(&view(&[capture], "json", &["--severity", level]));
        assert_eq!(diags(&got, 0), diags(&all, min), "--severity {level}");
        // Everything else is unchanged.
        let others = |v: &[Value]| -> Vec<Value> {
            v.iter()
                .filter(|r| r["type"] != "diagnostic")
                .cloned()
                .collect()
        };
        assert_eq!(others(&got), others(&all), "--severity {level}");
    }
}

#[test]
fn diagnostics_is_the_triage_view() {
    let capture = "samples/violations/client-frames.pcap";
    let all = records(&view(&[capture], "json", &[]));
    let got = records(&view(&[capture], "json", &["--diagnostics"]));
    let want: Vec<&Value> = all.iter().filter(|r| r["type"] == "diagnostic").collect();
    let got_diags: Vec<&Value> = got.iter().filter(|r| r["type"] == "diagnostic").collect();
    assert_eq!(got_diags, want);
    // Besides them only the lines of the connections they concern, each before its first
    // diagnostic, and the summary.
    for (i, r) in got.iter().enumerate() {
        match r["type"].as_str().unwrap() {
            "diagnostic" | "summary" => {}
            "connection" => {
                let next = &got[i + 1];
                assert_eq!(next["type"], "diagnostic", "{next}");
                assert_eq!(next["conn"], r["conn"]);
            }
            other => panic!("a {other} record in the triage view: {r}"),
        }
    }
    assert_eq!(got.last().unwrap()["type"], "summary");
    // With --severity: only errors, and only connections with an error.
    let errors = view(
        &[capture],
        "text",
        &["--diagnostics", "--severity", "error"],
    );
    assert!(errors.contains("error"), "{errors}");
    assert!(
        !errors.contains("warning") && !errors.contains(" info "),
        "{errors}"
    );
    // The conversation view has no diagnostics to show.
    let out = run(&[capture, "--diagnostics", "--format", "conversation"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--diagnostics"), "{}", stderr(&out));
}

#[test]
fn a_filter_that_matches_nothing_says_what_there_is() {
    let capture = repo().join("samples/py-rejected.pcap");
    let out = ok(&[s(&capture), "--conn", "99"]);
    assert_eq!(
        stderr(&out),
        "wsdissect: no connection 99 (connections are 1–3)\n"
    );
    let out = ok(&[s(&capture), "--conn", "2,7,9", "--port", "1"]);
    let err = stderr(&out);
    assert!(
        err.contains("no connections 7, 9 (connections are 1–3)"),
        "{err}"
    );
    assert!(
        err.contains("no connection on port 1 (ports seen: "),
        "{err}"
    );
    let out = ok(&[s(&capture), "--packet", "500"]);
    assert_eq!(
        stderr(&out),
        "wsdissect: no packet 500 (the capture has 34 packets)\n"
    );
    // Nothing to say when every value matched.
    assert_eq!(stderr(&ok(&[s(&capture), "--conn", "1,3"])), "");
}

#[test]
fn a_capture_without_a_handshake_suggests_ws_port() {
    let whole = repo().join("samples/node-fragments.pcap");
    let scratch = Scratch::new("nohandshake");
    // The TCP handshake only: a connection, and no WebSocket in it.
    let syn = scratch.0.join("syn.pcap");
    editcap(&["-r", s(&whole), s(&syn), "1-3"]);
    let out = ok(&[s(&syn)]);
    assert_eq!(
        stderr(&out),
        // Wrapped at 80 columns (standard error is not a terminal), under the hint's start.
        "wsdissect: no WebSocket handshake seen in 1 TCP connection;\n           if the capture starts after the handshake, try --ws-port PORT\n"
    );
    // JSON stays clean: hints are on standard error.
    let out = ok(&[s(&syn), "--format", "json"]);
    assert!(stderr(&out).contains("--ws-port"));
    assert!(records(&stdout(&out)).iter().all(|r| r["type"] != "hint"));
    let out = ok(&[s(&syn), "-f", "udp"]);
    assert_eq!(stderr(&out), "wsdissect: no packets passed the filter\n");
    // TLS without its keys: the hint is the key log.
    let tls = repo().join("samples/tls/chromium-tls.pcap");
    let err = stderr(&ok(&[s(&tls)]));
    let err = err.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        err.contains("2 TLS connections could not be decrypted; give their TLS secrets with --tls-keylog FILE"),
        "{err}"
    );
}

#[test]
fn common_mistakes_work_or_say_what_to_do() {
    let capture = repo().join("samples/node-fragments.pcap");
    let c = s(&capture);
    // --verbose is -v.
    assert_eq!(stdout(&ok(&[c, "--verbose"])), stdout(&ok(&[c, "-v"])));
    // --color before a subcommand, as after it.
    let before = ok(&["--color=always", "explain", "81", "00"]);
    let after = ok(&["explain", "--color", "always", "81", "00"]);
    assert_eq!(stdout(&before), stdout(&after));
    assert!(stdout(&before).contains('\x1b'), "colour asked for");
    // A capture flag before a subcommand is a mistake, said in one line.
    let out = run(&["-v", "explain", "81", "00"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "wsdissect: -v/--explain is for dissecting a capture; it does not go with the `explain` subcommand\n"
    );
    // Comma lists, as for --opcode.
    let rejected = repo().join("samples/py-rejected.pcap");
    let r = s(&rejected);
    assert_eq!(
        stdout(&ok(&[r, "--conn", "1,3", "--format", "json"])),
        stdout(&ok(&[r, "--conn", "1", "--conn", "3", "--format", "json"]))
    );
    let ports = stdout(&ok(&[r, "--port", "1,18769", "--format", "json"]));
    assert_eq!(ports, stdout(&ok(&[r, "--format", "json"])));
    // -c 0 and --packets 0 are refused, with what to do instead.
    for flag in ["-c", "--packets"] {
        let out = run(&[c, flag, "0"]);
        assert_eq!(out.status.code(), Some(2), "{flag} 0");
        assert!(
            stderr(&out).contains("must be at least 1 (leave the flag out for no limit)"),
            "{flag} 0: {}",
            stderr(&out)
        );
    }
}
