//! Issue 14, "memory per connection": what open connections cost, and that compacting an idle
//! connection changes nothing that is reported.
//!
//! The peak-memory tests run the binary under GNU time over captures that bench/idle.py and
//! bench/busy.py write (the same generators docs/performance.md measures with, at a smaller
//! scale so each run stays well under 30 s). They are named `cli::memory_*` so scripts/test.sh
//! runs them in its `memory` group.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use wsdissect::capture::file::FileSource;
use wsdissect::capture::PacketSource;
use wsdissect::conversation::DissectConfig;
use wsdissect::event::Event;
use wsdissect::output::Collect;
use wsdissect::tcp::FlowTableLimits;
use wsdissect::Pipeline;

use crate::common::repo;

/// Every capture under samples/, in order.
fn all_samples() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.to_string_lossy().to_string();
            if p.is_dir() && !name.ends_with("node_modules") {
                walk(&p, out);
            } else if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("samples"), &mut out);
    out
}

/// The events of a capture with these flow-table limits, whole payloads kept.
fn events_with(path: &Path, limits: FlowTableLimits) -> Vec<String> {
    let Ok(mut src) = FileSource::open(path) else {
        return Vec::new(); // unreadable on purpose (a hostile capture): nothing to compare
    };
    let cfg = DissectConfig {
        frame_keep: 4096,
        message_keep: 64 << 20,
        ..DissectConfig::default()
    };
    let mut pipeline = Pipeline::new(cfg, limits);
    let mut sink = Collect::default();
    let mut failed = false;
    loop {
        let next = src.next_packet(&mut |p| {
            failed |= pipeline.push_packet(p, &mut sink).is_err();
        });
        if !matches!(next, Ok(true)) || failed {
            break;
        }
    }
    let _ = pipeline.finish(&mut sink);
    sink.0.iter().map(|e: &Event| format!("{e:?}")).collect()
}

/// Compacting a connection after every packet (inflaters let go of their state and keep the
/// window deflated, or nothing) gives the same events as never compacting, on every sample:
/// the deflate ones (with and without context takeover, from Python, Node and Chromium) and
/// the hostile ones.
#[test]
fn compacting_after_every_packet_changes_no_event() {
    let samples = all_samples();
    assert!(samples.len() >= 20, "{} samples", samples.len());
    let always = FlowTableLimits {
        quiet_packets: 0,
        ..FlowTableLimits::default()
    };
    for path in samples {
        let usual = events_with(&path, FlowTableLimits::default());
        let compacted = events_with(&path, always);
        assert_eq!(usual.len(), compacted.len(), "{}", path.display());
        for (a, b) in usual.iter().zip(&compacted) {
            assert_eq!(a, b, "{}", path.display());
        }
    }
}

mod cli {
    use super::*;

    const BIN: &str = env!("CARGO_BIN_EXE_wsdissect");

    /// A capture written by a bench/ generator into the target directory.
    fn generated(script: &str, args: &[&str], name: &str) -> PathBuf {
        let dir = repo().join("target/memory-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let file = std::fs::File::create(&path).unwrap();
        let status = Command::new("python3")
            .arg(repo().join("bench").join(script))
            .args(args)
            .stdout(file)
            .status()
            .expect("run python3");
        assert!(status.success(), "bench/{script} {args:?}");
        path
    }

    /// Peak resident set size of `wsdissect --format json CAPTURE`, via GNU time, on one thread.
    fn max_rss_kib(capture: &Path) -> u64 {
        max_rss_kib_threads(capture, 1)
    }

    fn max_rss_kib_threads(capture: &Path, threads: u32) -> u64 {
        max_rss_kib_with(capture, threads, &[])
    }

    /// The same with more arguments before the capture.
    fn max_rss_kib_with(capture: &Path, threads: u32, more: &[&str]) -> u64 {
        let time = Path::new("/usr/bin/time");
        assert!(
            time.exists(),
            "peak memory is measured with GNU time: apt-get install time"
        );
        let out = Command::new(time)
            .arg("-v")
            .arg(BIN)
            .args(["--format", "json", "-j", &threads.to_string()])
            .args(more)
            .arg(capture)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .expect("spawn /usr/bin/time");
        assert!(out.status.success(), "{capture:?}: {:?}", out.status);
        let err = String::from_utf8_lossy(&out.stderr);
        err.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Maximum resident set size (kbytes): ")
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no peak RSS in /usr/bin/time -v's output: {err}"))
    }

    /// What one more open connection costs: the peak of `many` less the peak of `few`, per
    /// connection between them, in bytes.
    fn per_connection(few: (u32, &Path), many: (u32, &Path)) -> u64 {
        let (a, b) = (max_rss_kib(few.1), max_rss_kib(many.1));
        (b.saturating_sub(a) * 1024) / u64::from(many.0 - few.0)
    }

    /// An open, idle WebSocket connection (upgrade done, a message each way, no FIN) costs at
    /// most 2 KiB, so a million fit in 2 GiB (docs/performance.md measures 100,000 and a
    /// million).
    #[test]
    #[ignore = "memory bound: needs GNU time at /usr/bin/time (scripts/test.sh runs it)"]
    fn memory_an_idle_connection_costs_at_most_2_kib() {
        // 30,000 connections apart: the buffers in flight between the threads (a few MiB,
        // whatever the connections) fill up with the larger capture and not the smaller one,
        // and must not pass for a cost per connection (with 10,000 apart they added ~200 B).
        let few = generated("idle.py", &["1000"], "idle-1k.pcap");
        let many = generated("idle.py", &["31000"], "idle-31k.pcap");
        let each = per_connection((1000, &few), (31000, &many));
        assert!(each <= 2048, "{each} bytes per idle connection");
        // The default on this machine: connections on the workers, their flows on the main
        // thread, and the batches in flight between (docs/performance.md, "Threads").
        for threads in [2, 3] {
            let (a, b) = (
                max_rss_kib_threads(&few, threads),
                max_rss_kib_threads(&many, threads),
            );
            let each = (b.saturating_sub(a) * 1024) / 30_000;
            assert!(
                each <= 2048,
                "{each} bytes per idle connection with -j {threads}"
            );
        }
    }

    /// Buffers shrink when a message completes: 4,000 connections all busy at once with
    /// messages up to 64 KiB, 50 MB in all, peak under 64 MiB (it was 100 MiB).
    #[test]
    #[ignore = "memory bound: needs GNU time at /usr/bin/time (scripts/test.sh runs it)"]
    fn memory_4000_busy_connections_stay_under_64_mib() {
        let capture = generated("busy.py", &["4000", "50"], "busy-4000.pcap");
        let kib = max_rss_kib(&capture);
        assert!(kib < 64 * 1024, "peak RSS {kib} KiB");
    }

    /// With permessage-deflate and context takeover, an idle connection's inflaters keep
    /// their windows deflated: 100,000 such connections fit in 2 GiB (at most 20 KiB each;
    /// each was about 117 KiB).
    #[test]
    #[ignore = "memory bound: needs GNU time at /usr/bin/time (scripts/test.sh runs it)"]
    fn memory_an_idle_deflate_connection_costs_at_most_20_kib() {
        // Both well past the connections of the last 4096 packets, which are not quiet yet.
        let few = generated("idle.py", &["2000", "--deflate"], "idle-deflate-2k.pcap");
        let many = generated("idle.py", &["6000", "--deflate"], "idle-deflate-6k.pcap");
        let each = per_connection((2000, &few), (6000, &many));
        assert!(each <= 20 << 10, "{each} bytes per idle deflate connection");
    }

    /// Whole messages kept on two threads peak near one thread: a deflate bomb of 200 messages
    /// of 1 MiB (about 60 completed by each packet, bench/bomb.py) with `--full-payload`. A
    /// worker hands a call's output over in pieces and waits while 1 MiB of it is unwritten;
    /// before, a batch held all its calls' output (3.1 GB for 500 such messages).
    #[test]
    #[ignore = "memory bound: needs GNU time at /usr/bin/time (scripts/test.sh runs it)"]
    fn memory_whole_inflated_messages_on_two_threads_peak_near_one_thread() {
        let bomb = generated("bomb.py", &["200"], "bomb-200.pcap");
        let one = max_rss_kib_with(&bomb, 1, &["--full-payload"]);
        let two = max_rss_kib_with(&bomb, 2, &["--full-payload"]);
        assert!(
            two <= one + 32 * 1024,
            "peak RSS {two} KiB with -j 2, {one} KiB with -j 1"
        );
    }
}
