//! `wsdissect`: flags → configuration → pipeline → exit code.
//!
//! Exit codes: 0 success; 1 the capture was truncated or corrupt part-way (everything before
//! the damage was printed); 2 a fatal error (bad flags, missing or non-capture file, no
//! permission to capture, bad filter).

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod config;

use std::fmt;
use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches};
use wsdissect::capture::bpf::FileFilter;
use wsdissect::capture::live::LiveSource;
use wsdissect::capture::merge;
use wsdissect::capture::{CaptureError, PacketSource};
use wsdissect::event::CaptureSummary;
use wsdissect::output::fit::{output_width, wrap};
use wsdissect::output::Sink;
use wsdissect::{RunError, RunLimits};

use config::{Config, Input};

/// Print a fatal error once and exit 2.
fn fail(msg: impl fmt::Display) -> ExitCode {
    eprintln!("wsdissect: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    // Help wraps to the terminal (80 columns for a pipe, at most 100 for reading ease).
    let width = output_width(io::stdout().is_terminal()).min(100);
    let matches = match cli::Args::command().term_width(width).try_get_matches() {
        Ok(matches) => matches,
        Err(e) => return clap_exit(&e),
    };
    let mut args = cli::Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(command) = args.command.take() {
        if let Some(flag) = cli::capture_flag_with_subcommand(&matches) {
            let name = matches.subcommand_name().unwrap_or_default();
            return fail(format!(
                "{flag} is for dissecting a capture; it does not go with the `{name}` subcommand"
            ));
        }
        return commands::run(command, args.view.color);
    }
    if args.list_interfaces {
        return commands::list_interfaces();
    }
    match Config::from_args(args) {
        Ok(cfg) => run(cfg),
        Err(e) => fail(e),
    }
}

/// `--help`, `--version` or a usage error, as clap prints them, but with a failed write to
/// standard output reported (clap's own `exit` ignores it: `--help > /dev/full` exited 0).
fn clap_exit(e: &clap::Error) -> ExitCode {
    use std::io::Write;
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    match e.print().and_then(|()| io::stdout().flush()) {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
            fail(format!("cannot write output: {err}"))
        }
        _ => ExitCode::from(code),
    }
}

/// Dissect the configured input into the configured view.
fn run(cfg: Config) -> ExitCode {
    let stop = Arc::new(AtomicBool::new(false));
    let (mut source, filter) = match open_input(&cfg, &stop) {
        Ok(opened) => opened,
        Err(e) => return fail(e),
    };
    let tty = io::stdout().is_terminal();
    let mut sink = match cfg.sink(cfg.stdout(tty), tty) {
        Ok(sink) => sink,
        Err(e) => return fail(e),
    };
    let limits = RunLimits {
        max_packets: cfg.max_packets,
        filter,
        threads: cfg.threads,
    };
    let hinting = Hinting {
        ws_ports: !cfg.dissect.ws_ports.is_empty(),
        filtered: cfg.bpf.is_some(),
        live: cfg.is_live(),
        max_packets: cfg.max_packets,
    };
    let result = wsdissect::dissect_with(source.as_mut(), cfg.dissect, limits, &mut sink);
    let stopped_early = !sink.wants_more();
    let unmatched = sink.unmatched();
    drop(sink);
    report_drops(source.as_mut());
    if let Ok(summary) = &result {
        if !stopped_early && hinting.max_packets.is_none_or(|m| summary.packets < m) {
            let width = output_width(io::stderr().is_terminal());
            for hint in hints(summary, &unmatched, &hinting) {
                for line in wrap(&format!("wsdissect: {hint}"), width, 11) {
                    eprintln!("{line}");
                }
            }
        }
    }
    exit_code(result)
}

/// What the hints need to know about the run besides its summary.
struct Hinting {
    /// `--ws-port` was given.
    ws_ports: bool,
    /// A BPF filter chose the packets.
    filtered: bool,
    /// A live capture (its statistics line already says how many packets it captured).
    live: bool,
    max_packets: Option<u64>,
}

/// Why a run showed nothing, when it did, and what to try: filter values that matched nothing
/// (`no connection 99 (connections are 1–3)`), or a capture without a WebSocket in it.
fn hints(
    s: &CaptureSummary,
    unmatched: &[wsdissect::output::filter::Unmatched],
    h: &Hinting,
) -> Vec<String> {
    let mut out: Vec<String> = unmatched.iter().map(ToString::to_string).collect();
    if s.websocket_connections > 0 || (h.live && s.packets == 0) {
        return out;
    }
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let undecrypted = s.tls_connections.saturating_sub(s.tls_decrypted);
    out.push(if s.packets == 0 {
        if h.filtered {
            "no packets passed the filter".to_string()
        } else {
            "no packets in this capture".to_string()
        }
    } else if s.tcp_connections == 0 {
        format!("no TCP connection in {}", plural(s.packets, "packet", "packets"))
    } else if undecrypted > 0 {
        format!(
            "{} could not be decrypted; give their TLS secrets with --tls-keylog FILE (the key log SSLKEYLOGFILE writes)",
            plural(undecrypted, "TLS connection", "TLS connections")
        )
    } else if h.ws_ports {
        format!(
            "no WebSocket seen in {}, on the --ws-port ports or by a handshake",
            plural(s.tcp_connections, "TCP connection", "TCP connections")
        )
    } else {
        format!(
            "no WebSocket handshake seen in {}; if the capture starts after the handshake, try --ws-port PORT",
            plural(s.tcp_connections, "TCP connection", "TCP connections")
        )
    });
    out
}

/// Why the input could not be opened.
enum OpenError {
    Capture(CaptureError),
    Signal(ctrlc::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Capture(e) => e.fmt(f),
            OpenError::Signal(e) => write!(f, "cannot install the signal handler: {e}"),
        }
    }
}

impl From<CaptureError> for OpenError {
    fn from(e: CaptureError) -> OpenError {
        OpenError::Capture(e)
    }
}

/// The packet source, and the BPF filter a file's packets go through. A live capture stops
/// cleanly on Ctrl-C and SIGTERM (output flushed, summary printed) by raising `stop`.
fn open_input(
    cfg: &Config,
    stop: &Arc<AtomicBool>,
) -> Result<(Box<dyn PacketSource>, Option<FileFilter>), OpenError> {
    let source: Box<dyn PacketSource> = match &cfg.input {
        Input::Files(paths) => {
            let (source, notes) = merge::open(paths)?;
            for note in notes {
                eprintln!("wsdissect: {note}");
            }
            source
        }
        Input::Live(opts) => {
            let live = LiveSource::open(opts, stop.clone())?;
            // As tcpdump starts: where, on what link, how much of each packet.
            eprintln!("wsdissect: {}", live.listening());
            Box::new(live)
        }
    };
    let filter = cfg.bpf.as_deref().map(FileFilter::new).transpose()?;
    if cfg.is_live() {
        let flag = stop.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
            .map_err(OpenError::Signal)?;
    }
    Ok((source, filter))
}

/// After a live capture: libpcap's counters, so packets lost before dissection are not silent.
fn report_drops(source: &mut dyn PacketSource) {
    if let Some(stats) = source.stats() {
        eprintln!("wsdissect: {stats}");
    }
}

/// 0 when the run finished (a reader closing the pipe is a normal end, as for ripgrep); 1 when
/// the capture broke off after its first packets were dissected; 2 on any other error.
fn exit_code(result: Result<CaptureSummary, RunError>) -> ExitCode {
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(RunError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(RunError::Output(e)) => fail(format!("cannot write output: {e}")),
        Err(RunError::Capture(e)) if e.is_partial() => {
            eprintln!("wsdissect: {e}");
            ExitCode::from(1)
        }
        Err(RunError::Capture(e)) => fail(e),
    }
}
