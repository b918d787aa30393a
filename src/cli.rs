//! Command-line flags (clap) and their resolution into a run configuration.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable frames and messages.
    Text,
    /// NDJSON, one event per line (docs/json.md).
    Json,
}

/// Dissect WebSocket traffic in a pcap/pcapng capture.
#[derive(Debug, Parser)]
#[command(name = "wsdissect", version, about, long_about = None)]
pub struct Args {
    /// Capture file (pcap or pcapng); `-` reads standard input.
    pub capture: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Keep and print whole message payloads (up to --max-message-bytes).
    #[arg(long)]
    pub full_payload: bool,

    /// Payload bytes kept per message when --full-payload is not given.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_payload: usize,

    /// Upper bound on the bytes kept for one message, even with --full-payload.
    #[arg(long, value_name = "N", default_value_t = 64 << 20)]
    pub max_message_bytes: usize,

    /// Treat connections on this port as WebSocket even without a visible handshake
    /// (repeatable; like Wireshark's "decode as").
    #[arg(long, value_name = "PORT")]
    pub ws_port: Vec<u16>,

    /// Stop inflating a compressed message past this many bytes (deflate bomb guard).
    #[arg(long, value_name = "N", default_value_t = 256 << 20)]
    pub max_inflate: u64,
}

/// What a run does, resolved once from the flags.
pub struct Config {
    pub capture: PathBuf,
    pub format: Format,
    pub dissect: wsdissect::conversation::DissectConfig,
    pub preview: usize,
}

impl Args {
    pub fn resolve(self) -> Result<Config, String> {
        let capture = self
            .capture
            .ok_or("no capture file given (try `wsdissect samples/py-echo.pcap`, or --help)")?;
        let message_keep = if self.full_payload {
            self.max_message_bytes
        } else {
            self.max_payload.min(self.max_message_bytes)
        };
        Ok(Config {
            capture,
            format: self.format,
            dissect: wsdissect::conversation::DissectConfig {
                frame_keep: 4096.max(self.max_payload),
                message_keep,
                inflate_limit: self.max_inflate,
                ws_ports: self.ws_port,
            },
            preview: if self.full_payload {
                usize::MAX
            } else {
                64.min(self.max_payload)
            },
        })
    }
}
