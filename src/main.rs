//! `wsdissect`: flags → configuration → pipeline → exit code.
//!
//! Exit codes: 0 success; 1 the capture was truncated or corrupt part-way (everything before
//! the damage was printed); 2 a fatal error (bad flags, missing or non-capture file, no
//! permission to capture, bad filter).

#![forbid(unsafe_code)]

mod cli;
mod commands;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{CommandFactory, Parser};
use wsdissect::capture::bpf::FileFilter;
use wsdissect::capture::file::FileSource;
use wsdissect::capture::live::LiveSource;
use wsdissect::capture::PacketSource;
use wsdissect::output::annotate::{AnnotateOptions, AnnotateSink};
use wsdissect::output::conversation_view::{ConversationOptions, ConversationSink};
use wsdissect::output::export::ExportSink;
use wsdissect::output::filter::FilterSink;
use wsdissect::output::json::JsonSink;
use wsdissect::output::table::{TableOptions, TableSink};
use wsdissect::output::text::{TextOptions, TextSink};
use wsdissect::output::{Sink, Tee};
use wsdissect::{RunError, RunLimits};

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("wsdissect: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match args.command {
        Some(cli::Command::Explain { hex, from, color }) => {
            return commands::explain(&hex, from, cli::color_choice(color))
        }
        Some(cli::Command::Accept { key }) => return commands::accept(&key),
        Some(cli::Command::Completions { shell }) => {
            clap_complete::generate(
                shell,
                &mut cli::Args::command(),
                "wsdissect",
                &mut io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Some(cli::Command::Man) => {
            return match clap_mangen::Man::new(cli::Args::command()).render(&mut io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        None => {}
    }
    if args.list_interfaces {
        return commands::list_interfaces();
    }
    let cfg = match args.resolve() {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    run(cfg)
}

fn run(cfg: cli::Config) -> ExitCode {
    let stop = Arc::new(AtomicBool::new(false));
    let live = matches!(cfg.input, cli::Input::Live(_));
    let mut source: Box<dyn PacketSource> = match &cfg.input {
        cli::Input::File(path) => match FileSource::open(path) {
            Ok(s) => Box::new(s),
            Err(e) => return fail(e),
        },
        cli::Input::Live(opts) => match LiveSource::open(opts, stop.clone()) {
            Ok(s) => Box::new(s),
            Err(e) => return fail(e),
        },
    };
    let filter = match cfg.bpf.as_deref().map(FileFilter::new).transpose() {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    if live {
        // Ctrl-C and SIGTERM end the capture cleanly: output flushed, summary printed.
        let flag = stop.clone();
        if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
            return fail(format!("cannot install the signal handler: {e}"));
        }
    }
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let style = cfg.color.resolve(tty);
    // Line-buffer a terminal or a live capture, block-buffer a pipe reading a file.
    let out: Box<dyn Write> = if tty || live {
        Box::new(io::LineWriter::new(stdout.lock()))
    } else {
        Box::new(io::BufWriter::with_capacity(1 << 16, stdout.lock()))
    };
    let inner: Box<dyn Sink> = match (cfg.format, cfg.explain) {
        (cli::Format::Json, _) => Box::new(JsonSink::new(out, live)),
        (cli::Format::Table, _) => Box::new(TableSink::new(
            out,
            TableOptions {
                // COLUMNS, else the terminal's width, else (a pipe) a fixed 100.
                width: std::env::var("COLUMNS")
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .or(if tty { None } else { Some(100) }),
                style,
            },
        )),
        (cli::Format::Conversation, _) => Box::new(ConversationSink::new(
            out,
            ConversationOptions {
                preview: cfg.preview,
                style,
                pretty_json: cfg.pretty_json,
                flush_each: live,
            },
        )),
        (cli::Format::Text, true) => Box::new(AnnotateSink::new(
            out,
            AnnotateOptions {
                payload_bytes: if cfg.full_payload { usize::MAX } else { 64 },
                style,
            },
        )),
        (cli::Format::Text, false) => Box::new(TextSink::new(
            out,
            TextOptions {
                preview: cfg.preview,
                flush_each: live,
                style,
                pretty_json: cfg.pretty_json,
            },
        )),
    };
    let inner: Box<dyn Sink> = match &cfg.export {
        Some(dir) => match ExportSink::new(inner, dir) {
            Ok(s) => Box::new(s),
            Err(e) => return fail(e),
        },
        None => inner,
    };
    // A live capture in a human view ends with the connection summary table.
    let inner: Box<dyn Sink> =
        if live && matches!(cfg.format, cli::Format::Text | cli::Format::Conversation) {
            let table = TableSink::new(
                io::stdout(),
                TableOptions {
                    width: if tty { None } else { Some(100) },
                    style,
                },
            );
            Box::new(Tee(inner, table))
        } else {
            inner
        };
    let mut sink = FilterSink::new(inner, cfg.filter);
    let limits = RunLimits {
        max_packets: cfg.max_packets,
        filter,
    };
    let result = wsdissect::dissect_with(source.as_mut(), cfg.dissect, limits, &mut sink);
    drop(sink);
    if live {
        if let Some(stats) = commands::live_stats(source.as_mut()) {
            eprintln!(
                "wsdissect: {} packets received by filter, {} dropped by kernel, {} dropped by interface",
                stats.received, stats.dropped_by_kernel, stats.dropped_by_interface
            );
        }
    }
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
