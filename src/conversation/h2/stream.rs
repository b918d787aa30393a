//! One HTTP/2 stream of a connection that carries WebSockets: the request waiting for its
//! answer, the WebSocket session it opened, or an ordinary request noted and left alone.

use crate::base::{Direction, PacketRef};
use crate::http::Headers;
use crate::ws::session::Session;

use super::infer::StreamProbe;

/// Client DATA held while an extended CONNECT waits for its answer, per stream and (all its
/// streams together) per connection.
pub const MAX_EARLY_DATA: usize = 1 << 20;
pub const MAX_EARLY_DATA_PER_CONNECTION: usize = 8 << 20;

#[derive(Debug)]
pub struct H2Stream {
    pub kind: Kind,
    /// END_STREAM (or RST_STREAM) seen, by direction.
    pub ended: [bool; 2],
    /// DATA bytes of each direction so far: offsets in the session's byte streams.
    pub offset: [u64; 2],
    /// DATA that should not be there was reported, by direction (once each).
    pub odd_data_reported: [bool; 2],
}

#[derive(Debug)]
pub enum Kind {
    /// An extended CONNECT for a WebSocket, no final answer yet.
    Requested(Box<Requested>),
    WebSocket(Box<Session>),
    /// An extended CONNECT for a WebSocket the server refused (non-2xx): no tunnel.
    Refused,
    /// An ordinary request: one summary line.
    Other(Box<OtherRequest>),
    /// DATA on a stream whose fields were not seen (mid-connection): hunted for WebSocket
    /// frames.
    Unknown(Box<StreamProbe>),
    /// Nothing more to learn (ended, or given up on); kept a while to recognise late DATA.
    Closed,
}

#[derive(Debug)]
pub struct Requested {
    pub fields: Headers,
    pub packet: PacketRef,
    /// The server had enabled the extended CONNECT when the request was sent.
    pub connect_enabled: bool,
    /// Client DATA that came before the answer, held to feed the session once it opens.
    pub early: Vec<(PacketRef, Vec<u8>)>,
    pub early_len: usize,
    /// Client DATA beyond [`MAX_EARLY_DATA`]: a hole once the session opens.
    pub early_dropped: u64,
}

#[derive(Debug)]
pub struct OtherRequest {
    pub method: String,
    pub path: String,
    pub packet: PacketRef,
    pub status: Option<u16>,
    /// The HTTP/1.1 request upgraded to h2c.
    pub upgraded: bool,
    /// Its summary line went out.
    pub reported: bool,
}

impl H2Stream {
    pub fn new(kind: Kind) -> H2Stream {
        H2Stream {
            kind,
            ended: [false; 2],
            offset: [0; 2],
            odd_data_reported: [false; 2],
        }
    }

    pub fn both_ended(&self) -> bool {
        self.ended == [true; 2]
    }
}

impl Requested {
    /// Hold client DATA until the answer; past the stream's limit, or when the connection's
    /// `budget` (what its streams may hold together) is spent, only its length is kept.
    pub fn hold(&mut self, bytes: &[u8], packet: PacketRef, budget: &mut usize) {
        let fits = self.early_len + bytes.len() <= MAX_EARLY_DATA && bytes.len() <= *budget;
        if self.early_dropped == 0 && fits {
            self.early_len += bytes.len();
            *budget -= bytes.len();
            self.early.push((packet, bytes.to_vec()));
        } else {
            self.early_dropped += bytes.len() as u64;
        }
    }
}

impl OtherRequest {
    pub fn from_fields(fields: &Headers, packet: PacketRef) -> OtherRequest {
        OtherRequest {
            method: fields.owned(":method").unwrap_or_default(),
            path: fields
                .owned(":path")
                .or_else(|| fields.owned(":authority"))
                .unwrap_or_default(),
            packet,
            status: None,
            upgraded: false,
            reported: false,
        }
    }
}

/// The final status in response fields: None for an informational (1xx) answer or none at all.
pub fn final_status(fields: &Headers) -> Option<u16> {
    let status: u16 = fields.get(":status")?.trim().parse().ok()?;
    (status >= 200).then_some(status)
}

/// Direction a stream's initiator sends in: clients open odd streams, servers push even ones.
pub fn initiator(stream: u32) -> Direction {
    if stream % 2 == 1 {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    }
}
