//! Streams whose fields were never seen (the capture started after their extended CONNECT, or
//! HPACK could not decode it): their DATA is hunted for WebSocket frames, as a mid-stream
//! HTTP/1.1 connection's bytes are (`conversation/probe.rs`). A MASK bit that chains tells the
//! client from the server.

use crate::base::Direction;
use crate::ws::decoder::{FrameDecoder, FrameEvent, Input};
use crate::ws::resync::{Expect, AFTER_GAP, RECOGNISE};
use crate::ws::session::{Limits, Session, SessionKey, PLAUSIBLE_MAX_PAYLOAD};

use super::super::Side;

/// DATA bytes of one stream examined before it is taken as not WebSocket.
const MAX_STREAM_PROBE: u64 = 1 << 20;

/// Both sides of one stream, hunted; indexed by side.
#[derive(Debug)]
pub struct StreamProbe {
    decoders: [FrameDecoder; 2],
}

/// Where hunting found a side's first frame boundary.
pub struct Found {
    pub skipped: u64,
    pub at: u64,
    /// The side whose frames are masked: the client.
    pub client: Side,
}

impl StreamProbe {
    /// Start hunting; each side's DATA so far on this stream is at `offsets`.
    pub fn new(frame_keep: usize, offsets: [u64; 2]) -> StreamProbe {
        let hunter = |s: Side| {
            let expect = Expect {
                masked: None,
                max_payload: PLAUSIBLE_MAX_PAYLOAD,
            };
            let mut d = FrameDecoder::with_expect(offsets[s], frame_keep, expect);
            d.set_hunt_rules(expect, RECOGNISE);
            d.start_hunting();
            d
        };
        StreamProbe {
            decoders: [hunter(0), hunter(1)],
        }
    }

    /// Hunt `side`'s next DATA bytes; on a boundary, `input` holds what follows it.
    pub fn feed(&mut self, side: Side, input: &mut Input<'_>) -> Option<Found> {
        match self.decoders[side].next(input) {
            Some(FrameEvent::Resync {
                skipped,
                at,
                masked,
            }) => Some(Found {
                skipped,
                at,
                client: if masked { side } else { 1 - side },
            }),
            _ => None,
        }
    }

    /// `len` bytes of `side` are missing: the hunt starts over after them.
    pub fn gap(&mut self, side: Side, len: u64, packet: crate::base::PacketRef) {
        self.decoders[side].gap(len, packet);
    }

    /// Looked at long enough without finding WebSocket frames.
    pub fn exhausted(&self) -> bool {
        self.decoders
            .iter()
            .map(FrameDecoder::hunted_bytes)
            .sum::<u64>()
            > MAX_STREAM_PROBE
    }

    /// The stream is WebSocket and `client` is the client's side: the hunting decoders become
    /// the session's, by direction.
    pub fn into_session(
        self,
        key: SessionKey,
        limits: Limits,
        client: Side,
        found_side: Side,
    ) -> Session {
        let [a, b] = self.decoders;
        let mut by_dir = if client == 0 { [a, b] } else { [b, a] };
        let other = if found_side == client {
            Direction::ServerToClient
        } else {
            Direction::ClientToServer
        };
        let expect = Expect {
            masked: Some(other == Direction::ClientToServer),
            max_payload: PLAUSIBLE_MAX_PAYLOAD,
        };
        by_dir[other.index()].set_hunt_rules(expect, AFTER_GAP);
        Session::recognised(key, limits, by_dir)
    }
}
