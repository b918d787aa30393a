//! The events every sink renders: the one type between the conversation and the outputs, so
//! text, JSON, tables and tests cannot disagree.

use std::fmt;
use std::net::SocketAddr;

use crate::http::Handshake;
use crate::ws::frame::FrameHeader;
use crate::ws::opcode::OpCode;
use crate::ws::rules::Rule;

/// Connection id: numbered from 1 in the order of each TCP connection's first packet, counting
/// every TCP connection (so `conn - 1` is usually Wireshark's `tcp.stream`). 0 means the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Capture timestamp in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

/// Which packet of the capture (1-based, like Wireshark's frame numbers) and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PacketRef {
    pub number: u64,
    pub ts: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c2s",
            Direction::ServerToClient => "s2c",
        }
    }
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToServer => "→",
            Direction::ServerToClient => "←",
        }
    }
    pub fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }
    pub fn from_index(i: usize) -> Direction {
        if i == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Connection(ConnectionInfo),
    Handshake(Box<Handshake>),
    Frame(Box<Frame>),
    Message(Message),
    Gap(Gap),
    ConnectionEnd(ConnectionEnd),
    Diagnostic(Diagnostic),
    CaptureEnd(CaptureSummary),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionInfo {
    pub conn: ConnId,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first_packet: PacketRef,
    /// True when the WebSocket was recognised without seeing its handshake.
    pub inferred: bool,
}

/// The payload bytes kept for display: unmasked (and, later, inflated), possibly cut short.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Payload {
    pub bytes: Vec<u8>,
    /// Length on the wire; `bytes.len() < len` means the kept copy was cut at the limit.
    pub len: u64,
}

impl Payload {
    pub fn truncated(&self) -> bool {
        (self.bytes.len() as u64) < self.len
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CloseInfo {
    /// None when the close frame had an empty payload.
    pub code: Option<u16>,
    pub reason: String,
    /// Offset of the first invalid UTF-8 byte in the reason, if any.
    pub reason_utf8_error: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub conn: ConnId,
    pub dir: Direction,
    /// 1-based frame number within this direction.
    pub index: u64,
    pub first_packet: PacketRef,
    pub last_packet: PacketRef,
    /// Offset of the frame's first header byte in this direction's TCP stream.
    pub stream_offset: u64,
    pub header: FrameHeader,
    pub header_bytes: [u8; 14],
    pub payload: Payload,
    /// Payload bytes lost in a capture gap.
    pub lost: u64,
    pub close: Option<CloseInfo>,
    /// On a pong: the round-trip time from the matching ping, in nanoseconds.
    pub rtt_ns: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub conn: ConnId,
    pub dir: Direction,
    /// 1-based message number within this direction.
    pub index: u64,
    pub opcode: OpCode,
    pub payload: Payload,
    pub fragments: u32,
    pub first_packet: PacketRef,
    pub last_packet: PacketRef,
    /// Text messages: offset of the first invalid UTF-8 byte, if any.
    pub utf8_error: Option<u64>,
    /// Bytes of the message lost in a capture gap.
    pub lost: u64,
    /// permessage-deflate: the payload above is the inflated one.
    pub compressed: bool,
    /// Payload bytes on the wire (the compressed size when `compressed`).
    pub wire_len: u64,
    /// Inflation failed or stopped; the payload is what was inflated before that.
    pub inflate_error: Option<String>,
}

impl Message {
    /// The kept payload as text, when this is a text message and the kept bytes are valid UTF-8
    /// (a copy cut at the limit is cut back to a character boundary).
    pub fn text(&self) -> Option<&str> {
        if self.opcode != OpCode::Text
            || self.utf8_error.is_some()
            || self.lost > 0
            || self.inflate_error.is_some()
        {
            return None;
        }
        match std::str::from_utf8(&self.payload.bytes) {
            Ok(s) => Some(s),
            Err(e) if e.error_len().is_none() && self.payload.truncated() => {
                std::str::from_utf8(&self.payload.bytes[..e.valid_up_to()]).ok()
            }
            Err(_) => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Gap {
    pub conn: ConnId,
    pub dir: Direction,
    pub stream_offset: u64,
    pub len: u64,
    pub packet: PacketRef,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Fin,
    Reset,
    /// The capture ended before FIN or RST.
    CaptureEnd,
    /// No packet for the idle timeout (an hour of capture time), or the connection table was
    /// full: the connection is forgotten; later packets start a new one.
    Idle,
    /// A new SYN reused the connection's addresses and ports before it had ended.
    Reused,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Reset => "rst",
            EndReason::CaptureEnd => "capture-end",
            EndReason::Idle => "idle",
            EndReason::Reused => "reused",
        }
    }
}

/// Per-direction counters, for summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    pub frames: u64,
    pub messages: u64,
    pub payload_bytes: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionEnd {
    pub conn: ConnId,
    pub reason: EndReason,
    pub packet: PacketRef,
    pub stats: [DirStats; 2],
    pub close: [Option<CloseInfo>; 2],
    pub diagnostics: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub conn: ConnId,
    pub dir: Option<Direction>,
    pub packet: Option<PacketRef>,
    pub rule: &'static Rule,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct CaptureSummary {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_connections: u64,
    pub websocket_connections: u64,
    /// Packets not decoded, by reason, in order of first occurrence.
    pub skipped: Vec<(String, u64)>,
}
