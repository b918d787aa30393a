//! The run the flags describe, resolved once (like ripgrep's `hiargs.rs`): flags checked
//! against each other, defaults filled in, and the sinks that render the run built from it.
//! `cli.rs` holds the flags as typed; `main.rs` asks the `Config` for its parts and never looks
//! at a flag.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use wsdissect::capture::live::{LiveOptions, DEFAULT_SNAPLEN};
use wsdissect::conversation::{DecodeChoice, DissectConfig, MIN_FRAME_KEEP};
use wsdissect::output::annotate::{AnnotateOptions, AnnotateSink};
use wsdissect::output::conversation_view::{ConversationOptions, ConversationSink};
use wsdissect::output::export::ExportSink;
use wsdissect::output::filter::{EventFilter, FilterSink};
use wsdissect::output::fit::output_width;
use wsdissect::output::handshake::Halves;
use wsdissect::output::json::JsonSink;
use wsdissect::output::parquet::ParquetSink;
use wsdissect::output::style::{ColorChoice, Style};
use wsdissect::output::table::{TableOptions, TableSink};
use wsdissect::output::text::{TextOptions, TextSink};
use wsdissect::output::Sink;

use crate::cli::{Args, DecodeArg, FilterArgs, Format, LimitArgs, LiveArgs, ViewArgs};

/// Where the packets come from.
pub enum Input {
    /// Capture files and directories of them, read as one capture.
    Files(Vec<PathBuf>),
    Live(LiveOptions),
}

/// A capture run, resolved from the flags.
pub struct Config {
    pub input: Input,
    pub format: Format,
    pub explain: bool,
    /// `--diagram`: the §5.2 box on every frame of the teaching view.
    pub diagram: bool,
    /// `--no-notes`: the teaching view without its notes against common misconceptions.
    pub notes: bool,
    pub color: ColorChoice,
    pub pretty_json: bool,
    pub dissect: DissectConfig,
    pub preview: usize,
    pub filter: EventFilter,
    pub bpf: Option<String>,
    pub max_packets: Option<u64>,
    pub export: Option<PathBuf>,
    /// Threads that dissect (`-j N`): one for a live capture and for `-c N` (which stops
    /// where one thread would); else the flag, or the number of cores.
    pub threads: wsdissect::threads::Threads,
    /// `--out`: where `--format parquet` writes its tables.
    pub out: Option<PathBuf>,
}

/// Flags that parse but do not make a run; `Display` is the one line printed before exit 2.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// A live-capture flag given with a capture file.
    LiveFlagsWithFile,
    /// `--duration` that is not a positive, finite number of seconds.
    BadDuration(f64),
    /// Neither a capture file nor `-i IFACE`.
    NoInput,
    /// `-v` with a `--format` other than text.
    ExplainNeedsText,
    /// `--pretty-json` with a view whose layout is fixed (json, table).
    PrettyJsonFixedLayout,
    /// `--diagnostics` with the conversation view, which shows no diagnostics.
    DiagnosticsInConversation,
    /// `--format parquet` without `--out DIR`, or `--out` with another format.
    ParquetOut,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::LiveFlagsWithFile => f.write_str(
                "-w, --duration, --promiscuous, -B and --snaplen are for live capture (-i IFACE), not for reading a file",
            ),
            ConfigError::BadDuration(s) => {
                write!(f, "--duration must be a positive number of seconds, not {s}")
            }
            ConfigError::NoInput => f.write_str(
                "give a capture file, or -i IFACE to capture live (try `wsdissect samples/node-fragments.pcap`, or --help)",
            ),
            ConfigError::ExplainNeedsText => f.write_str(
                "-v/--explain is the annotated text view: it does not combine with --format other than text",
            ),
            ConfigError::PrettyJsonFixedLayout => f.write_str(
                "--pretty-json indents JSON messages in the text and conversation views; --format json and table already have a fixed layout",
            ),
            ConfigError::DiagnosticsInConversation => f.write_str(
                "--diagnostics lists diagnostics, which the conversation view does not show: use it with --format text, json or table",
            ),
            ConfigError::ParquetOut => f.write_str(
                "--format parquet writes its tables into a directory, given with --out DIR (and --out goes only with --format parquet)",
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Check the flags against each other and combine them into a run.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        if !args.capture.is_empty() && live_flags_given(&args.live) {
            return Err(ConfigError::LiveFlagsWithFile);
        }
        let input = input(
            args.capture,
            args.interface,
            args.filter.bpf.as_deref(),
            args.live,
        )?;
        check_view(&args.view)?;
        if args.filter.diagnostics && args.view.format == Format::Conversation {
            return Err(ConfigError::DiagnosticsInConversation);
        }
        let (view, limits, filter) = (args.view, args.limits, args.filter);
        // A live capture compiles its filter into libpcap; only files filter packet by packet.
        let live = matches!(input, Input::Live(_));
        let bpf = match &input {
            Input::Files(_) => filter.bpf.clone(),
            Input::Live(_) => None,
        };
        Ok(Config {
            input,
            format: view.format,
            explain: view.explain,
            diagram: view.diagram,
            notes: !view.no_notes,
            color: view.color.into(),
            pretty_json: view.pretty_json,
            dissect: DissectConfig {
                tls_keylog: filter.tls_keylog.clone(),
                live,
                // The teaching view shows where TLS ends and WebSocket begins.
                tls_records: view.explain,
                // ...and draws a frame cut short, with the rules its header breaks.
                partial_frames: view.explain,
                decode: decode_choice(&filter.decode),
                ..dissect_config(&view, &limits, filter.ws_port.clone())
            },
            preview: if view.full_payload {
                usize::MAX
            } else {
                64.min(view.max_payload)
            },
            // `-c N` stops where one thread would.
            threads: if limits.count.is_some() {
                wsdissect::threads::Threads::Asked(1)
            } else {
                wsdissect::threads::resolve(limits.threads, live)
            },
            filter: event_filter(filter, limits.count),
            bpf,
            max_packets: limits.packets,
            export: view.export,
            out: view.out,
        })
    }

    pub fn is_live(&self) -> bool {
        matches!(self.input, Input::Live(_))
    }

    /// Standard output, line-buffered for a terminal or a live capture (each line as it
    /// happens), block-buffered for a pipe reading a file.
    pub fn stdout(&self, tty: bool) -> Box<dyn Write> {
        let stdout = io::stdout();
        if tty || self.is_live() {
            Box::new(io::LineWriter::new(stdout.lock()))
        } else {
            Box::new(io::BufWriter::with_capacity(1 << 16, stdout.lock()))
        }
    }

    /// The sinks the flags ask for: the view writing to `out`, `--export` around it, and the
    /// event filters in front of them all.
    /// Fails only when the `--export` or `--out` directory cannot be used.
    pub fn sink(&self, out: Box<dyn Write>, tty: bool) -> io::Result<FilterSink<Box<dyn Sink>>> {
        let style = self.color.resolve(tty);
        let mut sink = self.view(out, style, tty)?;
        if let Some(dir) = &self.export {
            sink = Box::new(ExportSink::new(sink, dir)?);
        }
        Ok(FilterSink::new(sink, self.filter.clone()))
    }

    /// The view `--format` and `-v` choose.
    fn view(&self, out: Box<dyn Write>, style: Style, tty: bool) -> io::Result<Box<dyn Sink>> {
        let live = self.is_live();
        Ok(match (self.format, self.explain) {
            // `from_args` made sure --out is there; an empty path fails as a directory would.
            (Format::Parquet, _) => Box::new(ParquetSink::create(
                self.out.as_deref().unwrap_or(Path::new("")),
            )?),
            (Format::Json, _) => Box::new(JsonSink::new(out, live)),
            (Format::Table, _) => Box::new(TableSink::new(
                out,
                TableOptions {
                    width: table_width(tty),
                    style,
                },
            )),
            (Format::Conversation, _) => Box::new(ConversationSink::new(
                out,
                ConversationOptions {
                    preview: self.preview,
                    style,
                    pretty_json: self.pretty_json,
                    flush_each: live,
                    width: output_width(tty),
                },
            )),
            (Format::Text, true) => Box::new(
                AnnotateSink::new(
                    out,
                    AnnotateOptions {
                        // Like the default view's previews: 64 bytes, or fewer with --max-payload.
                        payload_bytes: self.preview,
                        style,
                        diagram: self.diagram,
                        width: output_width(tty),
                    },
                )
                .handshake_halves(Halves::AtPackets(self.filter.packets.clone()))
                .notes(self.notes),
            ),
            (Format::Text, false) => Box::new(TextSink::new(
                out,
                TextOptions {
                    preview: self.preview,
                    flush_each: live,
                    style,
                    pretty_json: self.pretty_json,
                    width: output_width(tty),
                },
            )),
        })
    }
}

/// `-w`, `--duration`, `--promiscuous`, `-B` or `--snaplen`.
fn live_flags_given(l: &LiveArgs) -> bool {
    l.write.is_some()
        || l.duration.is_some()
        || l.promiscuous
        || l.buffer_mib.is_some()
        || l.snaplen.is_some()
}

/// A capture file, or a live interface with its capture settings (BPF default: "tcp").
fn input(
    capture: Vec<PathBuf>,
    interface: Option<String>,
    bpf: Option<&str>,
    live: LiveArgs,
) -> Result<Input, ConfigError> {
    match (capture.is_empty(), interface) {
        (false, None) => Ok(Input::Files(capture)),
        (true, Some(interface)) => Ok(Input::Live(LiveOptions {
            interface,
            filter: bpf.unwrap_or("tcp").to_string(),
            snaplen: live.snaplen.unwrap_or(DEFAULT_SNAPLEN),
            promiscuous: live.promiscuous,
            buffer_mib: live.buffer_mib.unwrap_or(64).max(1),
            write: live.write,
            duration: match live.duration {
                // Longer than a Duration holds (1e20 s): as long as it can be, i.e. forever.
                Some(s) if s.is_finite() && s > 0.0 => {
                    Some(Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX))
                }
                Some(s) => return Err(ConfigError::BadDuration(s)),
                None => None,
            },
        })),
        _ => Err(ConfigError::NoInput),
    }
}

/// The view flags that only make sense with some formats.
fn check_view(v: &ViewArgs) -> Result<(), ConfigError> {
    if v.explain && v.format != Format::Text {
        return Err(ConfigError::ExplainNeedsText);
    }
    if v.pretty_json && matches!(v.format, Format::Json | Format::Table | Format::Parquet) {
        return Err(ConfigError::PrettyJsonFixedLayout);
    }
    if (v.format == Format::Parquet) != v.out.is_some() {
        return Err(ConfigError::ParquetOut);
    }
    Ok(())
}

/// How much of each frame and message the dissector keeps: whole frames and messages with
/// `--full-payload`, else `--max-payload`; never more than `--max-message-bytes`.
fn dissect_config(v: &ViewArgs, l: &LimitArgs, ws_ports: Vec<u16>) -> DissectConfig {
    let keep = if v.full_payload {
        l.max_message_bytes
    } else {
        v.max_payload.min(l.max_message_bytes)
    };
    DissectConfig {
        // The default view shows a one-frame message on its frame's line.
        frame_keep: MIN_FRAME_KEEP.max(keep),
        message_keep: keep,
        inflate_limit: l.max_inflate,
        inflate_total: l.max_inflate_total,
        ws_ports,
        ..DissectConfig::default()
    }
}

/// What `--decode` asked for: `none` anywhere turns decoding off.
fn decode_choice(args: &[DecodeArg]) -> DecodeChoice {
    let forced = args.iter().filter_map(|a| match a {
        DecodeArg::Protocol(p, port) => Some((*p, *port)),
        DecodeArg::Off => None,
    });
    DecodeChoice {
        enabled: !args.contains(&DecodeArg::Off),
        forced: forced.collect(),
    }
}

fn event_filter(f: FilterArgs, max_messages: Option<u64>) -> EventFilter {
    EventFilter {
        conns: f.conns,
        streams: f.streams,
        dir: f.dir.map(Into::into),
        opcodes: f.opcode.into_iter().map(Into::into).collect(),
        hosts: f.host,
        ports: f.port,
        packets: f.packet,
        max_messages,
        min_severity: f.severity.map(Into::into),
        diagnostics_only: f.diagnostics,
    }
}

/// `--format table`'s width: COLUMNS, else the terminal's own width.
fn table_width(tty: bool) -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or(terminal_or_fixed_width(tty))
}

/// `None` lets the table measure the terminal; a pipe gets a fixed 100 columns.
fn terminal_or_fixed_width(tty: bool) -> Option<u16> {
    if tty {
        None
    } else {
        Some(100)
    }
}
