//! `-j N`: every sample (hostile ones included) in every view gives the same bytes, exit code
//! and standard error on three worker threads as on one.
//!
//! Run just these with `cargo test --test integration threads`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::repo;

/// Every capture under samples/ (not the npm folder), sorted.
fn captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![repo().join("samples")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() && name != "node_modules" {
                dirs.push(p);
            } else if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 50, "found only {} captures", out.len());
    out
}

/// The key log beside a capture (`NAME.keys`), if there is one.
fn keys_of(capture: &Path) -> Option<PathBuf> {
    let keys = capture.with_extension("keys");
    keys.exists().then_some(keys)
}

/// Exit code, standard output and standard error of wsdissect with `args`.
fn run(args: &[String]) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    let out = Command::new(env!("CARGO_BIN_EXE_wsdissect"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    (out.status.code(), out.stdout, out.stderr)
}

/// The views, as arguments before the capture (`report` writes its page to standard output).
const VIEWS: &[&[&str]] = &[
    &[],
    &["-v"],
    &["--format", "json"],
    &["--format", "table"],
    &["--format", "conversation"],
    &["--diagnostics"],
    &["report", "-o", "-"],
];

/// Every run to compare: a view of a capture, with its key log if it has one; TLS captures
/// also without their key log (connections that cannot be decrypted).
fn cases() -> Vec<Vec<String>> {
    let mut cases = Vec::new();
    for capture in captures() {
        let keys = keys_of(&capture);
        let capture = capture.to_string_lossy().to_string();
        for view in VIEWS {
            let mut args: Vec<String> = view.iter().map(|s| s.to_string()).collect();
            if let Some(k) = &keys {
                args.extend(["--tls-keylog".to_string(), k.to_string_lossy().to_string()]);
            }
            args.push(capture.clone());
            cases.push(args);
        }
        if keys.is_some() {
            cases.push(vec!["--format".into(), "json".into(), capture.clone()]);
        }
        // Whole messages kept: a worker hands its results over in parts and waits for the
        // main thread past a bound (src/threads/mod.rs, RESULTS_HELD).
        for view in [
            &["--full-payload"][..],
            &["--full-payload", "--format", "json"],
        ] {
            let mut args: Vec<String> = view.iter().map(|s| s.to_string()).collect();
            if let Some(k) = &keys {
                args.extend(["--tls-keylog".to_string(), k.to_string_lossy().to_string()]);
            }
            args.push(capture.clone());
            cases.push(args);
        }
    }
    // Filters go through the events (not the rendered bytes); -c runs on one thread; a BPF
    // filter and --packets choose packets before the pipeline.
    let sample = repo()
        .join("samples/py-echo.pcap")
        .to_string_lossy()
        .to_string();
    for extra in [
        &["--format", "json", "--conn", "2"][..],
        &["--format", "json", "--dir", "s2c"],
        &["--format", "json", "-c", "3"],
        &["--format", "json", "--packets", "40"],
        &["--format", "json", "-f", "tcp port 8765"],
        &["--port", "8765", "--opcode", "text"],
    ] {
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        args.push(sample.clone());
        cases.push(args);
    }
    // Several files read as one capture.
    let other = repo().join("samples/node-deflate.pcap");
    for view in [&["--format", "json"][..], &[]] {
        let mut args: Vec<String> = view.iter().map(|s| s.to_string()).collect();
        args.extend([sample.clone(), other.to_string_lossy().to_string()]);
        cases.push(args);
    }
    cases
}

/// `args` with `-j N` in front (after the subcommand, for `report`).
fn with_threads(args: &[String], n: usize) -> Vec<String> {
    let at = usize::from(args.first().is_some_and(|a| a == "report"));
    let mut out = args.to_vec();
    out.splice(at..at, ["-j".to_string(), n.to_string()]);
    out
}

#[test]
/// `-j 2` and `-j 3`: connections dealt to two and three workers.
fn every_sample_in_every_view_is_the_same_on_two_and_three_threads_as_on_one() {
    let cases = cases();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let differ = std::sync::Mutex::new(Vec::new());
    // Two runs at a time: the runs are short, and spawning them one by one leaves cores idle.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(args) = cases.get(i) else { break };
                let one = run(&with_threads(args, 1));
                for n in [2, 3] {
                    if one != run(&with_threads(args, n)) {
                        differ
                            .lock()
                            .unwrap()
                            .push(format!("-j {n} {}", args.join(" ")));
                    }
                }
            });
        }
    });
    let differ = differ.into_inner().unwrap();
    assert!(
        differ.is_empty(),
        "{} of {} runs differ from -j 1:\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );
}

/// Whole messages that inflate to far more than a worker hands over at once
/// (`bench/bomb.py`: 1 MiB messages, about 60 of them completed by each packet) are the same
/// on two and three threads as on one, rendered by the workers (JSON) or as events on the main thread
/// (the table).
#[test]
fn whole_inflated_messages_are_the_same_on_two_and_three_threads_as_on_one() {
    let dir = repo().join("target/threads-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("bomb-80.pcap");
    let status = Command::new("python3")
        .arg(repo().join("bench/bomb.py"))
        .arg("80")
        .stdout(std::fs::File::create(&capture).unwrap())
        .status()
        .expect("run python3");
    assert!(status.success());
    let capture = capture.to_string_lossy().to_string();
    for view in [&["--format", "json"][..], &["--format", "table"]] {
        let mut args: Vec<String> = view.iter().map(|s| s.to_string()).collect();
        args.extend(["--full-payload".to_string(), capture.clone()]);
        let one = run(&with_threads(&args, 1));
        assert_eq!(one.0, Some(0), "{}", String::from_utf8_lossy(&one.2));
        assert!(
            one.1.len() > 80 << 20 || view[1] == "table",
            "{}",
            one.1.len()
        );
        for n in [2, 3] {
            assert!(
                one == run(&with_threads(&args, n)),
                "-j {n} {args:?} differs"
            );
        }
    }
}

#[test]
fn threads_must_be_at_least_one() {
    let (code, _, err) = run(&["-j".into(), "0".into(), "samples/py-echo.pcap".into()]);
    assert_eq!(code, Some(2));
    assert!(
        String::from_utf8_lossy(&err).contains("at least 1"),
        "{}",
        String::from_utf8_lossy(&err)
    );
}
