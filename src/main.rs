//! `wsdissect`: flags → configuration → pipeline → exit code.
//!
//! Exit codes: 0 success; 1 the capture was truncated or corrupt part-way (everything before
//! the damage was printed); 2 a fatal error (bad flags, missing or non-capture file).

#![forbid(unsafe_code)]

mod cli;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use wsdissect::capture::file::FileSource;
use wsdissect::output::json::JsonSink;
use wsdissect::output::text::{TextOptions, TextSink};
use wsdissect::output::Sink;
use wsdissect::RunError;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let cfg = match args.resolve() {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("wsdissect: {msg}");
            return ExitCode::from(2);
        }
    };
    let mut source = match FileSource::open(&cfg.capture) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wsdissect: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    // Line-buffer a terminal, block-buffer a pipe.
    let out: Box<dyn Write> = if tty {
        Box::new(io::LineWriter::new(stdout.lock()))
    } else {
        Box::new(io::BufWriter::with_capacity(1 << 16, stdout.lock()))
    };
    let mut sink: Box<dyn Sink> = match cfg.format {
        cli::Format::Json => Box::new(JsonSink::new(out, false)),
        cli::Format::Text => Box::new(TextSink::new(
            out,
            TextOptions {
                preview: cfg.preview,
                flush_each: false,
            },
        )),
    };
    match wsdissect::dissect(&mut source, cfg.dissect, sink.as_mut()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(RunError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(RunError::Output(e)) => {
            eprintln!("wsdissect: cannot write output: {e}");
            ExitCode::from(2)
        }
        Err(RunError::Capture(e)) => {
            eprintln!("wsdissect: {e}");
            ExitCode::from(if e.is_partial() { 1 } else { 2 })
        }
    }
}
