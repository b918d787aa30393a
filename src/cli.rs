//! Command-line flags (clap derive), as typed: no checks across flags and no defaults that
//! depend on other flags. `config.rs` resolves them into a run, once.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use wsdissect::base::{Direction, Severity};
use wsdissect::decode::Protocol;
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
    /// Parquet tables in the --out directory, for data engines (docs/parquet.md).
    Parquet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl From<Color> for ColorChoice {
    fn from(c: Color) -> ColorChoice {
        match c {
            Color::Auto => ColorChoice::Auto,
            Color::Always => ColorChoice::Always,
            Color::Never => ColorChoice::Never,
        }
    }
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

impl From<DirArg> for Direction {
    fn from(d: DirArg) -> Direction {
        match d {
            DirArg::C2s => Direction::ClientToServer,
            DirArg::S2c => Direction::ServerToClient,
        }
    }
}

/// `--severity`: the lowest severity shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Error,
    Warning,
    Info,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Severity {
        match s {
            SeverityArg::Error => Severity::Error,
            SeverityArg::Warning => Severity::Warning,
            SeverityArg::Info => Severity::Info,
        }
    }
}

/// `-c` and `--packets`: a count of 0 would stop before the first packet, so it is refused.
fn at_least_one(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1 (leave the flag out for no limit)".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// One `--decode` value: `none`, or a protocol for every session or for one port's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeArg {
    Off,
    Protocol(Protocol, Option<u16>),
}

/// `--decode PROTO[:PORT]` or `--decode none`.
fn decode_arg(s: &str) -> Result<DecodeArg, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(DecodeArg::Off);
    }
    let (name, port) = match s.rsplit_once(':') {
        Some((name, port)) => {
            let port = port
                .parse::<u16>()
                .map_err(|e| format!("port {port:?}: {e}"))?;
            (name, Some(port))
        }
        None => (s, None),
    };
    let names: Vec<_> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
    let protocol = Protocol::from_name(name).ok_or_else(|| {
        format!(
            "unknown protocol {name:?}: one of {}, or none",
            names.join(", ")
        )
    })?;
    Ok(DecodeArg::Protocol(protocol, port))
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

/// Examples for `--help` and the man page: a command line and what it shows.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "wsdissect capture.pcap",
        "frames and messages, one line each",
    ),
    (
        "wsdissect -v capture.pcap --conn 2",
        "the teaching view of one connection",
    ),
    (
        "wsdissect --format json capture.pcapng",
        "NDJSON (docs/json.md)",
    ),
    (
        "sudo wsdissect -i lo -f 'tcp port 8080'",
        "live, on loopback",
    ),
    (
        "wsdissect rotated/ --diagnostics",
        "problems only, across tcpdump -C files",
    ),
    (
        "wsdissect explain 81 85 37 fa 21 3d 7f 9f 4d 51 58",
        "one masked frame, bit by bit",
    ),
    (
        "wsdissect report capture.pcap -o report.html",
        "one HTML page to look at: diagrams, bytes, plots",
    ),
    (
        "wsdissect accept dGhlIHNhbXBsZSBub25jZQ==",
        "the Sec-WebSocket-Accept for a key, step by step",
    ),
    (
        "wsdissect explain --http < handshake.txt",
        "a pasted HTTP request and/or response, taught and checked",
    ),
];

/// What the exit status means, for `--help` and the man page.
pub const EXIT_STATUS: &str = "0 done (violations are reported, not errors); 1 the capture is \
truncated or corrupt part-way (everything before it was printed); 2 fatal: bad flags, unreadable \
or non-capture file, no permission to capture, unknown interface, bad filter.";

/// The text after the options in `--help`: examples, each command over its meaning, and the
/// exit status (clap wraps it to the terminal).
fn after_help() -> String {
    let mut s = String::from("Examples:\n");
    for (command, what) in EXAMPLES {
        s.push_str(&format!("  {command}\n      {what}\n"));
    }
    s.push_str(&format!("\nExit status: {EXIT_STATUS}"));
    s
}

/// Dissect WebSocket traffic: every connection, handshake, frame and message, with every
/// RFC 6455 / RFC 7692 violation named.
#[derive(Debug, Parser)]
#[command(
    name = "wsdissect",
    version,
    about,
    long_about = None,
    override_usage = "wsdissect [OPTIONS] [CAPTURE]...\n       wsdissect [--color WHEN] <COMMAND>",
    after_long_help = after_help()
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Capture files (pcap or pcapng), or directories of them (tcpdump -C/-G rotations),
    /// read as one capture: merged by timestamp, connections continuing from file to file,
    /// packets numbered across the merge. `-` reads standard input.
    #[arg(value_name = "CAPTURE")]
    pub capture: Vec<PathBuf>,

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
    #[arg(short = 'v', long, visible_alias = "verbose")]
    pub explain: bool,

    /// With -v: start each frame with the RFC 6455 §5.2 box, filled in with its values.
    #[arg(long, requires = "explain")]
    pub diagram: bool,

    /// With -v: leave out the notes against common misconceptions (masking is not
    /// encryption, only clients mask, …), for a reader who knows them.
    #[arg(long, requires = "explain")]
    pub no_notes: bool,

    /// Colour: auto (a terminal, unless NO_COLOR is set), always or never; also for the
    /// subcommands, before or after their name.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true, value_name = "WHEN")]
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

    /// Also write each message payload to DIR/conn{N}-{c2s|s2c}-{index:05}.{txt|bin} (the
    /// kept bytes; whole messages with --full-payload).
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,

    /// With --format parquet: the directory for the tables (created; must be empty).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Only these connection ids (a comma list, or repeated).
    #[arg(long = "conn", value_name = "IDS", value_delimiter = ',')]
    pub conns: Vec<u64>,

    /// Only the WebSocket sessions on these HTTP/2 streams (a comma list, or repeated; with
    /// --conn, of one connection).
    #[arg(long = "stream", value_name = "IDS", value_delimiter = ',')]
    pub streams: Vec<u32>,

    /// Only frames, messages and diagnostics in this direction.
    #[arg(long, value_enum)]
    pub dir: Option<DirArg>,

    /// Only frames and messages with these opcodes (a comma list).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "NAMES")]
    pub opcode: Vec<OpcodeName>,

    /// Only connections with this endpoint address (ip or ip:port) or Host header (a comma
    /// list, or repeated).
    #[arg(long, value_name = "ADDRS", value_delimiter = ',')]
    pub host: Vec<String>,

    /// Only connections with one of these ports on either side (a comma list, or repeated).
    #[arg(long, value_name = "PORTS", value_delimiter = ',')]
    pub port: Vec<u16>,

    /// Only frames and messages carried by these packet numbers (a comma list, or repeated),
    /// and diagnostics at them.
    #[arg(long = "packet", value_name = "NS", value_delimiter = ',')]
    pub packet: Vec<u64>,

    /// BPF filter applied to packets, for files and live capture (live default: "tcp").
    #[arg(short = 'f', long, value_name = "BPF")]
    pub bpf: Option<String>,

    /// Treat connections on these ports as WebSocket even without a visible handshake (a
    /// comma list, or repeated; like Wireshark's "decode as").
    #[arg(long, value_name = "PORTS", value_delimiter = ',')]
    pub ws_port: Vec<u16>,

    /// Decode the messages of sessions on PORT (or of every session) as PROTO: socket.io,
    /// mqtt, stomp, graphql-transport-ws, graphql-ws or json-rpc, whatever the handshake
    /// said. `none` decodes nothing. Without it, the subprotocol, the request target or the
    /// first messages choose (docs/decoders.md). A comma list, or repeated.
    #[arg(long, value_name = "PROTO[:PORT]", value_delimiter = ',', value_parser = decode_arg)]
    pub decode: Vec<DecodeArg>,

    /// Only diagnostics of this severity or higher (error > warning > info).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub severity: Option<SeverityArg>,

    /// Only diagnostics (the triage view): each with its connection's line, nothing else.
    #[arg(long)]
    pub diagnostics: bool,

    /// Decrypt TLS (wss) with this key log (NSS format, as SSLKEYLOGFILE writes it); a
    /// pcapng's own Decryption Secrets Blocks are used without it.
    #[arg(long, value_name = "FILE")]
    pub tls_keylog: Option<PathBuf>,
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
    /// Stop after this many WebSocket messages (at least 1; leave it out for no limit).
    #[arg(short = 'c', long, value_name = "N", value_parser = at_least_one)]
    pub count: Option<u64>,

    /// Stop after this many packets (at least 1; leave it out for no limit).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub packets: Option<u64>,

    /// Threads that dissect a capture file, its connections shared among them. The output is
    /// the same for every N. Default: the number of cores for NDJSON (the threads write its
    /// lines), one for the other views (they draw on one thread anyway). Live capture and -c
    /// use one.
    #[arg(short = 'j', long, value_name = "N", value_parser = at_least_one)]
    pub threads: Option<u64>,

    /// Upper bound on the bytes kept for one message, even with --full-payload.
    #[arg(long, value_name = "N", default_value_t = 64 << 20)]
    pub max_message_bytes: usize,

    /// Stop inflating a compressed message past this many bytes (deflate bomb guard).
    #[arg(long, value_name = "N", default_value_t = 256 << 20)]
    pub max_inflate: u64,

    /// Stop inflating a session's compressed messages once they have inflated this many bytes
    /// together (both directions).
    #[arg(long, value_name = "N", default_value_t = wsdissect::conversation::DEFAULT_INFLATE_TOTAL)]
    pub max_inflate_total: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dissect raw frame bytes given in hex (or on standard input), no capture needed.
    Explain {
        /// Hex bytes, e.g. `81 85 37 fa 21 3d 7f 9f 4d 51 58`; read from stdin when absent.
        /// Also read as pasted: `\x81\x05` escapes, a C array `{0x81, 0x05}`, a Python bytes
        /// literal `b'\x81\x05Hello'`, or a Wireshark "Copy as Hex Dump", `xxd` or
        /// `hexdump -C` dump (offsets and text column skipped).
        /// `c:` or `s:` before a frame's bytes says the client or the server sent it, e.g.
        /// `c: 89 85 … s: 8a 05 …`.
        hex: Vec<String>,
        /// Who sent the bytes not marked `c:` or `s:` (decides which masking rule applies);
        /// default: each frame's MASK bit (clients mask).
        #[arg(long, value_enum)]
        from: Option<Side>,
        /// Read the frames as on a connection that negotiated permessage-deflate (RFC 7692),
        /// with these parameters if given (e.g. `--deflate=server_no_context_takeover`): RSV1
        /// marks a compressed message, and it is inflated.
        #[arg(long, value_name = "PARAMS", num_args = 0..=1, require_equals = true, default_missing_value = "")]
        deflate: Option<String>,
        /// Start each frame with the RFC 6455 §5.2 box, filled in with its values.
        #[arg(long)]
        diagram: bool,
        /// Payload bytes drawn per frame (a message's text shows four times as many); the
        /// rest is counted.
        #[arg(long, value_name = "N", default_value_t = 256)]
        max_payload: usize,
        /// Draw whole payloads.
        #[arg(long)]
        full_payload: bool,
        /// Leave out the notes against common misconceptions (masking is not encryption, only
        /// clients mask, …).
        #[arg(long)]
        no_notes: bool,
        /// Read the input as a pasted HTTP handshake, not frame bytes: a request, a response,
        /// or both one after the other (CRLF or LF line ends, or `\r\n` escapes; each
        /// argument a line). Each header is taught and the handshake checked, as in -v.
        #[arg(long, conflicts_with_all = ["from", "deflate", "diagram"])]
        http: bool,
    },
    /// Write one self-contained HTML page about a capture: sequence diagrams, every frame's
    /// bytes, plots and diagnostics (docs/report.md).
    Report {
        /// Capture files or directories of them, read as one capture (as without a subcommand).
        #[arg(required = true, value_name = "CAPTURE")]
        capture: Vec<PathBuf>,
        /// The page to write; `-` writes it to standard output.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
        /// Frames drawn per WebSocket session; later frames are counted, not drawn.
        #[arg(long, value_name = "N", default_value_t = 100, value_parser = at_least_one)]
        max_frames: u64,
        /// Decrypt TLS (wss) with this key log (NSS format, as SSLKEYLOGFILE writes it).
        #[arg(long, value_name = "FILE")]
        tls_keylog: Option<PathBuf>,
        /// Treat connections on these ports as WebSocket even without a visible handshake.
        #[arg(long, value_name = "PORTS", value_delimiter = ',')]
        ws_port: Vec<u16>,
        /// Threads that dissect the captures (default: one; the page is drawn on one thread,
        /// so more save little); the page is the same for every N.
        #[arg(short = 'j', long, value_name = "N", value_parser = at_least_one)]
        threads: Option<u64>,
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

/// The first flag of a capture run given on the command line together with a subcommand
/// (`--color` is for both), spelled as typed: `wsdissect -v explain 81 00` is a mistake, not
/// a request to ignore `-v`.
pub fn capture_flag_with_subcommand(matches: &clap::ArgMatches) -> Option<String> {
    use clap::parser::ValueSource;
    use clap::CommandFactory;
    let cmd = Args::command();
    matches
        .ids()
        .filter(|id| id.as_str() != "color")
        .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .find_map(|id| {
            let arg = cmd.get_arguments().find(|a| a.get_id() == id)?;
            Some(match (arg.get_long(), arg.get_short()) {
                (Some(long), Some(short)) => format!("-{short}/--{long}"),
                (Some(long), None) => format!("--{long}"),
                (None, Some(short)) => format!("-{short}"),
                (None, None) => format!("the capture argument {:?}", id.as_str()),
            })
        })
}
