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
use wsdissect::capture::file::FileSource;
use wsdissect::capture::live::LiveSource;
use wsdissect::capture::{CaptureError, PacketSource};
use wsdissect::event::CaptureSummary;
use wsdissect::output::fit::output_width;
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
    let matches = cli::Args::command().term_width(width).get_matches();
    let mut args = cli::Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(command) = args.command.take() {
        return commands::run(command);
    }
    if args.list_interfaces {
        return commands::list_interfaces();
    }
    match Config::from_args(args) {
        Ok(cfg) => run(cfg),
        Err(e) => fail(e),
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
    };
    let result = wsdissect::dissect_with(source.as_mut(), cfg.dissect, limits, &mut sink);
    drop(sink);
    report_drops(source.as_mut());
    exit_code(result)
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
        Input::File(path) => Box::new(FileSource::open(path)?),
        Input::Live(opts) => Box::new(LiveSource::open(opts, stop.clone())?),
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
        eprintln!(
            "wsdissect: {} packets received by filter, {} dropped by kernel, {} dropped by interface",
            stats.received, stats.dropped_by_kernel, stats.dropped_by_interface
        );
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
