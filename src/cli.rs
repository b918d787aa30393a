//! Command-line flags (clap) and their resolution into a run configuration, once.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use wsdissect::base::Direction;
use wsdissect::conversation::DissectConfig;
use wsdissect::output::filter::EventFilter;
use wsdissect::output::style::ColorChoice;
use wsdissect::ws::opcode::OpCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable: one line per frame, messages reassembled.
    Text,
    /// NDJSON, one event per line (docs/json.md).
    Json,
    /// Summary tables at the end: connections, opcodes, message sizes, ping round trips.
    Table,
    /// Messages only, like a chat log (WebSocket's "follow stream").
    Conversation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Side {
    Client,
    Server,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DirArg {
    C2s,
    S2c,
}

/// The opcodes `--opcode` names: the six RFC 6455 defines (§5.2); reserved ones have no name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OpcodeName {
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    Continuation,
}

impl From<OpcodeName> for OpCode {
    fn from(name: OpcodeName) -> OpCode {
        match name {
            OpcodeName::Text => OpCode::Text,
            OpcodeName::Binary => OpCode::Binary,
            OpcodeName::Close => OpCode::Close,
            OpcodeName::Ping => OpCode::Ping,
            OpcodeName::Pong => OpCode::Pong,
            OpcodeName::Continuation => OpCode::Continuation,
        }
    }
}

const AFTER_HELP: &str = "\
Examples:
  wsdissect capture.pcap                     frames and messages, one line each
  wsdissect -v capture.pcap --conn 2         the teaching view of one connection
  wsdissect --format json capture.pcapng     NDJSON (docs/json.md)
  sudo wsdissect -i lo -f 'tcp port 8080'    live, on loopback
  wsdissect explain 81 85 37 fa 21 3d 7f 9f 4d 51 58
  wsdissect accept dGhlIHNhbXBsZSBub25jZQ==

Exit status: 0 done (violations are reported, not errors); 1 the capture is truncated or
corrupt part-way (everything before it was printed); 2 fatal: bad flags, unreadable or
non-capture file, no permission to capture, unknown interface, bad filter.";

/// Dissect WebSocket traffic: every connection, handshake, frame and message, with every
/// RFC 6455 / RFC 7692 violation named.
#[derive(Debug, Parser)]
#[command(name = "wsdissect", version, about, long_about = None, args_conflicts_with_subcommands = true, after_long_help = AFTER_HELP)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Capture file (pcap or pcapng); `-` reads standard input.
    pub capture: Option<PathBuf>,

    /// Capture live from this interface instead of reading a file.
    #[arg(short = 'i', long, value_name = "IFACE", conflicts_with = "capture")]
    pub interface: Option<String>,

    /// List the interfaces libpcap can capture on.
    #[arg(short = 'D', long)]
    pub list_interfaces: bool,

    #[command(flatten)]
    pub view: ViewArgs,

    #[command(flatten)]
    pub filter: FilterArgs,

    #[command(flatten)]
    pub live: LiveArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, ClapArgs)]
#[command(next_help_heading = "Output")]
pub struct ViewArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// The teaching view: every frame bit by bit, with its meaning and RFC section.
    #[arg(short = 'v', long)]
    pub explain: bool,

    /// Colour: auto (a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// Pretty-print text messages that are JSON.
    #[arg(long)]
    pub pretty_json: bool,

    /// Keep and print whole payloads (up to --max-message-bytes).
    #[arg(long)]
    pub full_payload: bool,

    /// Payload bytes kept per message otherwise.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_payload: usize,

    /// Also write each message payload to DIR/conn{N}-{c2s|s2c}-{index}.{txt|bin} (the kept
    /// bytes; whole messages with --full-payload).
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Only these connection ids (repeatable).
    #[arg(long = "conn", value_name = "ID")]
    pub conns: Vec<u64>,

    /// Only frames, messages and diagnostics in this direction.
    #[arg(long, value_enum)]
    pub dir: Option<DirArg>,

    /// Only frames and messages with these opcodes (comma list: text,binary,close,ping,pong,continuation).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "NAMES")]
    pub opcode: Vec<OpcodeName>,

    /// Only connections with this endpoint address (ip or ip:port) or Host header (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub host: Vec<String>,

    /// Only connections with this port on either side (repeatable).
    #[arg(long, value_name = "PORT")]
    pub port: Vec<u16>,

    /// Only frames and messages carried by this packet number (repeatable), and diagnostics
    /// at it.
    #[arg(long = "packet", value_name = "N")]
    pub packet: Vec<u64>,

    /// BPF filter applied to packets, for files and live capture (live default: "tcp").
    #[arg(short = 'f', long, value_name = "BPF")]
    pub bpf: Option<String>,

    /// Treat connections on this port as WebSocket even without a visible handshake
    /// (repeatable; like Wireshark's "decode as").
    #[arg(long, value_name = "PORT")]
    pub ws_port: Vec<u16>,
}

#[derive(Debug, ClapArgs)]
#[command(next_help_heading = "Live capture")]
pub struct LiveArgs {
    /// Also write the captured packets to this pcap file.
    #[arg(short = 'w', long, value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Stop after this many seconds.
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,

    /// Put the interface in promiscuous mode.
    #[arg(long)]
    pub promiscuous: bool,

    /// Kernel capture buffer in MiB (more absorbs longer bursts without drops) [default: 64].
    #[arg(short = 'B', long = "buffer-size", value_name = "MIB")]
    pub buffer_mib: Option<i32>,

    /// Snap length: bytes captured per packet [default: 262144].
    #[arg(long, value_name = "N")]
    pub snaplen: Option<i32>,
}

#[derive(Debug, ClapArgs)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Stop after this many WebSocket messages.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this many packets.
    #[arg(long, value_name = "N")]
    pub packets: Option<u64>,

    /// Upper bound on the bytes kept for one message, even with --full-payload.
    #[arg(long, value_name = "N", default_value_t = 64 << 20)]
    pub max_message_bytes: usize,

    /// Stop inflating a compressed message past this many bytes (deflate bomb guard).
    #[arg(long, value_name = "N", default_value_t = 256 << 20)]
    pub max_inflate: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dissect raw frame bytes given in hex (or on standard input), no capture needed.
    Explain {
        /// Hex bytes, e.g. `81 85 37 fa 21 3d 7f 9f 4d 51 58`; read from stdin when absent.
        hex: Vec<String>,
        /// Who sent the bytes (decides which masking rule applies); default: from the MASK bit.
        #[arg(long, value_enum)]
        from: Option<Side>,
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Compute Sec-WebSocket-Accept for a Sec-WebSocket-Key, showing each step.
    Accept {
        /// The client's Sec-WebSocket-Key, e.g. dGhlIHNhbXBsZSBub25jZQ==
        key: String,
    },
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// Where the packets come from.
pub enum Input {
    File(PathBuf),
    Live(wsdissect::capture::live::LiveOptions),
}

/// A capture run, resolved from the flags.
pub struct Config {
    pub input: Input,
    pub format: Format,
    pub explain: bool,
    pub color: ColorChoice,
    pub pretty_json: bool,
    pub dissect: DissectConfig,
    pub preview: usize,
    pub filter: EventFilter,
    pub bpf: Option<String>,
    pub max_packets: Option<u64>,
    pub full_payload: bool,
    pub export: Option<PathBuf>,
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
        }
    }
}

impl std::error::Error for ConfigError {}

pub fn color_choice(c: Color) -> ColorChoice {
    match c {
        Color::Auto => ColorChoice::Auto,
        Color::Always => ColorChoice::Always,
        Color::Never => ColorChoice::Never,
    }
}

impl Args {
    pub fn resolve(self) -> Result<Config, ConfigError> {
        let v = self.view;
        let l = self.limits;
        let l_ = &self.live;
        if self.capture.is_some()
            && (l_.write.is_some()
                || l_.duration.is_some()
                || l_.promiscuous
                || l_.buffer_mib.is_some()
                || l_.snaplen.is_some())
        {
            return Err(ConfigError::LiveFlagsWithFile);
        }
        let input = match (self.capture, self.interface) {
            (Some(path), None) => Input::File(path),
            (None, Some(interface)) => Input::Live(wsdissect::capture::live::LiveOptions {
                interface,
                filter: self.filter.bpf.clone().unwrap_or_else(|| "tcp".into()),
                snaplen: self
                    .live
                    .snaplen
                    .unwrap_or(wsdissect::capture::live::DEFAULT_SNAPLEN),
                promiscuous: self.live.promiscuous,
                buffer_mib: self.live.buffer_mib.unwrap_or(64).max(1),
                write: self.live.write,
                duration: match self.live.duration {
                    Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
                    Some(s) => return Err(ConfigError::BadDuration(s)),
                    None => None,
                },
            }),
            _ => return Err(ConfigError::NoInput),
        };
        let bpf = match &input {
            Input::File(_) => self.filter.bpf,
            Input::Live(_) => None,
        };
        if v.explain && v.format != Format::Text {
            return Err(ConfigError::ExplainNeedsText);
        }
        if v.pretty_json && matches!(v.format, Format::Json | Format::Table) {
            return Err(ConfigError::PrettyJsonFixedLayout);
        }
        let message_keep = if v.full_payload {
            l.max_message_bytes
        } else {
            v.max_payload.min(l.max_message_bytes)
        };
        Ok(Config {
            input,
            format: v.format,
            explain: v.explain,
            color: color_choice(v.color),
            pretty_json: v.pretty_json,
            dissect: DissectConfig {
                frame_keep: 4096.max(v.max_payload.min(l.max_message_bytes)),
                message_keep,
                inflate_limit: l.max_inflate,
                ws_ports: self.filter.ws_port,
            },
            preview: if v.full_payload {
                usize::MAX
            } else {
                64.min(v.max_payload)
            },
            filter: EventFilter {
                conns: self.filter.conns,
                dir: self.filter.dir.map(|d| match d {
                    DirArg::C2s => Direction::ClientToServer,
                    DirArg::S2c => Direction::ServerToClient,
                }),
                opcodes: self.filter.opcode.into_iter().map(OpCode::from).collect(),
                hosts: self.filter.host,
                ports: self.filter.port,
                packets: self.filter.packet,
                max_messages: l.count,
            },
            bpf,
            max_packets: l.packets,
            full_payload: v.full_payload,
            export: v.export,
        })
    }
}
