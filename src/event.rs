//! The events every sink renders: the one type between the conversation and the outputs, so
//! text, JSON, tables and tests cannot disagree.

use std::net::SocketAddr;

use crate::base::{ConnId, Diagnostic, Direction, PacketRef};
use crate::http::Handshake;
pub use crate::tcp::EndReason;
use crate::ws::frame::FrameHeader;
use crate::ws::opcode::OpCode;

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

#[derive(Clone, Debug, PartialEq, Default)]
pub struct CaptureSummary {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_connections: u64,
    pub websocket_connections: u64,
    /// Packets not decoded, by reason, in order of first occurrence.
    pub skipped: Vec<(crate::net::SkipReason, u64)>,
}
