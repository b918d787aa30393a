//! Connections whose handshake was not seen: both sides are hunted for WebSocket frames until
//! one side's frames chain. Its MASK bit tells the client from the server (RFC 6455 §5.1), and
//! the hunting decoders become the session's.

use crate::base::rules;
use crate::base::{Direction, PacketRef};
use crate::tcp::EndReason;
use crate::ws::decoder::{FrameDecoder, FrameEvent, Input};
use crate::ws::resync::{Expect, AFTER_GAP, RECOGNISE};
use crate::ws::session::{Session, Summary, PLAUSIBLE_MAX_PAYLOAD};

use super::{Chunk, Cx, Hole, Layer, Phase, Side};

/// Bytes examined (both directions together) for WebSocket frames in a connection whose
/// handshake was not seen, before it is taken as not WebSocket. The hunt itself holds at most
/// a bounded window of them.
const MAX_PROBE: u64 = 16 << 20;

/// Hunting both sides; indexed by side, since the roles are not known yet.
#[derive(Debug)]
pub struct Probe {
    decoders: [FrameDecoder; 2],
    /// The server side, when its port is given with `--ws-port`.
    forced: Option<Side>,
}

/// Where hunting found the first boundary of a side.
struct Found {
    skipped: u64,
    at: u64,
    masked: bool,
}

impl Probe {
    /// Start hunting both sides; `side`'s bytes begin at `offset`.
    pub fn start(cx: &Cx<'_>, side: Side, offset: u64) -> Box<Probe> {
        let forced = cx.forced_server();
        let criteria = if forced.is_some() {
            AFTER_GAP
        } else {
            RECOGNISE
        };
        let hunter = |s: Side| {
            let expect = Expect {
                masked: forced.map(|server| s != server),
                max_payload: PLAUSIBLE_MAX_PAYLOAD,
            };
            let start = if s == side { offset } else { 0 };
            let mut d = FrameDecoder::with_expect(start, cx.cfg.frame_keep, expect);
            d.set_hunt_rules(expect, criteria);
            d.start_hunting();
            d
        };
        Box::new(Probe {
            decoders: [hunter(0), hunter(1)],
            forced,
        })
    }

    /// `side` chained frames with this MASK bit: clients mask, servers do not, so the roles
    /// are known. Announce the connection and hand the decoders, by direction, to a session
    /// that walks the rest of `input`.
    fn recognised(self, cx: &mut Cx<'_>, side: Side, found: Found, mut input: Input<'_>) -> Phase {
        let client = if found.masked { side } else { 1 - side };
        cx.shared.client_side = Some(client);
        let [a, b] = self.decoders;
        let mut by_dir = if client == 0 { [a, b] } else { [b, a] };
        let other = if side == client {
            Direction::ServerToClient
        } else {
            Direction::ClientToServer
        };
        let expect = Expect {
            masked: Some(other == Direction::ClientToServer),
            max_payload: PLAUSIBLE_MAX_PAYLOAD,
        };
        by_dir[other.index()].set_hunt_rules(expect, AFTER_GAP);
        cx.announce(true);
        let why = if self.forced.is_some() {
            "its port is given with --ws-port"
        } else {
            "its frames were recognised"
        };
        let msg = format!(
            "no handshake seen: WebSocket assumed because {why}; the client is {}",
            cx.meta.endpoints[client]
        );
        let packet = input.packet();
        cx.diag(None, packet, &rules::INFERRED_WEBSOCKET, msg);
        let mut session = Session::recognised(cx.session_key(), cx.limits(), by_dir);
        cx.decode_messages(&mut session, None, None);
        let dir = cx.dir_of(side);
        session.resynced(dir, found.skipped, found.at, packet, cx);
        session.pull(dir, &mut input, cx);
        Phase::WebSocket(Box::new(session))
    }
}

impl Layer for Probe {
    fn data(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
        let mut input = Input::new(chunk.bytes, chunk.packet);
        // While hunting, the only event a decoder gives is the boundary it found.
        let found = match self.decoders[side].next(&mut input) {
            Some(FrameEvent::Resync {
                skipped,
                at,
                masked,
            }) => Some(Found {
                skipped,
                at,
                masked,
            }),
            _ => None,
        };
        if let Some(found) = found {
            return self.recognised(cx, side, found, input);
        }
        let probed: u64 = self.decoders.iter().map(FrameDecoder::hunted_bytes).sum();
        if probed > MAX_PROBE && self.forced.is_none() {
            // Not WebSocket, or not recognisable: stop spending effort on it.
            return Phase::Done;
        }
        Phase::Probe(self)
    }

    fn gap(mut self: Box<Self>, _: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
        // The hunt starts over after the gap.
        self.decoders[side].gap(hole.len, hole.packet);
        Phase::Probe(self)
    }

    fn end(self: Box<Self>, _: &mut Cx<'_>, _: PacketRef, _: EndReason) -> Summary {
        Summary::default()
    }
}
