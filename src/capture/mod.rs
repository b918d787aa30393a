//! Capture sources: pcap and pcapng files (or standard input), and live interfaces.
//!
//! Files are read with the pure-Rust `pcap-parser`, not libpcap: libpcap 1.10 refuses pcapng
//! files whose interfaces have different link types (see docs/design.md). libpcap (the `pcap`
//! crate) is used for live capture and to compile BPF filters.

pub mod bpf;
pub mod file;
pub mod keyfile;
pub mod live;
pub mod merge;
pub mod savefile;

use std::fmt;
use std::path::PathBuf;

use crate::base::LinkType;
use crate::base::Timestamp;

/// One captured packet, borrowed from the source's buffer.
#[derive(Debug)]
pub struct RawPacket<'a> {
    /// 1-based, as in Wireshark.
    pub number: u64,
    pub ts: Timestamp,
    pub link: LinkType,
    pub data: &'a [u8],
    pub orig_len: u32,
}

/// A source of packets.
pub trait PacketSource {
    /// Hand the next packet to `on`; `Ok(false)` at the end of the capture.
    fn next_packet(&mut self, on: &mut dyn FnMut(&RawPacket<'_>)) -> Result<bool, CaptureError>;

    /// TLS secrets the capture itself carries (a pcapng Decryption Secrets Block, in the NSS
    /// key log format), once each, as soon as they have been read.
    fn take_secrets(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// libpcap's counters so far, for a live capture (`None` for a file).
    fn stats(&mut self) -> Option<live::LiveStats> {
        None
    }
}

/// Fatal problems with the capture input: one line each, naming the input.
#[derive(Debug)]
pub enum CaptureError {
    Open {
        input: PathBuf,
        source: std::io::Error,
    },
    NotACapture {
        input: PathBuf,
    },
    Empty {
        input: PathBuf,
    },
    /// The file ends in the middle of a record: everything before it was dissected.
    Truncated {
        input: PathBuf,
        after_packets: u64,
        offset: u64,
    },
    Corrupt {
        input: PathBuf,
        after_packets: u64,
        offset: u64,
        detail: String,
    },
    Read {
        input: PathBuf,
        detail: String,
    },
    /// Live capture: no permission, unknown interface, or a libpcap failure.
    Live {
        detail: String,
    },
    /// The TLS key log cannot be read.
    KeyLog {
        path: PathBuf,
        source: std::io::Error,
    },
    /// libpcap could not compile the BPF expression.
    Filter {
        filter: String,
        detail: String,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Open { input, source } => write!(f, "{}: cannot open: {source}", input.display()),
            CaptureError::NotACapture { input } => write!(f, "{}: not a pcap or pcapng capture file", input.display()),
            CaptureError::Empty { input } => write!(f, "{}: empty file, not a capture", input.display()),
            CaptureError::Truncated { input, after_packets, offset } => write!(
                f,
                "{}: capture is truncated: the record at byte {offset} is cut short (after packet {after_packets}); the packets before it were dissected",
                input.display()
            ),
            CaptureError::Corrupt { input, after_packets, offset, detail } => write!(
                f,
                "{}: corrupt capture at byte {offset} (after packet {after_packets}): {}; the packets before it were dissected",
                input.display(),
                capped(detail)
            ),
            CaptureError::Read { input, detail } => write!(f, "{}: read error: {}", input.display(), capped(detail)),
            // libpcap's own errors fit its 256-byte error buffer; what is added to them is
            // advice that must be read whole (the setcap line names the binary's path).
            CaptureError::Live { detail } => f.write_str(detail),
            CaptureError::Filter { filter, detail } => write!(f, "bad filter {:?}: {}", capped(filter), capped(detail)),
            CaptureError::KeyLog { path, source } => write!(f, "{}: cannot read the TLS key log: {source}", path.display()),
        }
    }
}

impl std::error::Error for CaptureError {}

/// The most of a library's error text an error line shows. Error lines are one short line:
/// pcap-parser's own text for a parse error holds the rest of its read buffer (up to the whole
/// 64 MiB record limit), so no detail from below is printed whole.
const MAX_DETAIL_CHARS: usize = 200;

/// `text`, cut at [`MAX_DETAIL_CHARS`] characters (the cut marked with `…`).
fn capped(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        None => text.into(),
        Some((end, _)) => format!("{}…", &text[..end]).into(),
    }
}

impl CaptureError {
    /// Partial results were produced before this error.
    pub fn is_partial(&self) -> bool {
        matches!(
            self,
            CaptureError::Truncated { .. } | CaptureError::Corrupt { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: pcap-parser's text for a parse error held its whole buffer (178 MB on one
    /// line); no detail from below is printed whole.
    #[test]
    fn error_details_are_capped() {
        let e = CaptureError::Corrupt {
            input: PathBuf::from("x.pcapng"),
            after_packets: 3,
            offset: 99,
            detail: format!(
                "Internal parser error Verify, input {:?}",
                vec![0x41u8; 1 << 20]
            ),
        };
        let line = e.to_string();
        assert!(line.len() < 400, "{} bytes", line.len());
        assert!(
            line.contains("…; the packets before it were dissected"),
            "{line}"
        );
        assert_eq!(capped("short"), "short");
        assert_eq!(
            capped(&"é".repeat(300)).chars().count(),
            MAX_DETAIL_CHARS + 1
        );
    }
}
