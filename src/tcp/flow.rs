//! The flow table: TCP connections by their endpoint pair, numbered in order of first packet.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::SocketAddr;

use super::reassembly::{Reassembler, StreamEvent, DEFAULT_MAX_PENDING};
use crate::base::{ConnId, PacketRef, Timestamp};
use crate::net::Segment;

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

/// What every layer above TCP learns about a connection.
#[derive(Clone, Debug)]
pub struct FlowMeta {
    pub id: ConnId,
    /// Side 0 is the endpoint that sent the connection's first packet seen.
    pub endpoints: [SocketAddr; 2],
    /// The side that sent the SYN, when the handshake was seen.
    pub client_side: Option<usize>,
    pub first_packet: PacketRef,
}

/// The protocol above TCP, one instance per connection.
pub trait Application {
    /// What the application reports; the flow table only carries it through.
    type Event;
    fn on_stream(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        event: StreamEvent<'_>,
        out: &mut Vec<Self::Event>,
    );
    fn on_end(
        &mut self,
        meta: &FlowMeta,
        reason: EndReason,
        packet: PacketRef,
        out: &mut Vec<Self::Event>,
    );
}

/// Hands on the events gathered so far (to the sink), leaving the vector empty. Called while a
/// packet is being processed whenever [`SPILL_AT`] events have gathered: one packet may
/// complete millions of frames (an 8 MiB out-of-order run of one-byte segments filled at once),
/// and they are streamed, never all held.
pub type Spill<'a, E> = &'a mut dyn FnMut(&mut Vec<E>);

/// Events gathered before they are handed on in the middle of a packet.
pub const SPILL_AT: usize = 1024;

/// Hand on `out` when it has grown to [`SPILL_AT`] events.
fn spill_if_full<E>(out: &mut Vec<E>, spill: &mut dyn FnMut(&mut Vec<E>)) {
    if out.len() >= SPILL_AT {
        spill(out);
    }
}

#[derive(Clone, Copy, Debug)]
pub struct FlowTableLimits {
    pub max_pending_per_direction: usize,
    /// A connection with no packet for this long (capture time) is ended and forgotten.
    pub idle_timeout_ns: u64,
    /// Connections beyond this many are evicted, least recently seen first.
    pub max_flows: usize,
}

impl Default for FlowTableLimits {
    fn default() -> Self {
        FlowTableLimits {
            max_pending_per_direction: DEFAULT_MAX_PENDING,
            idle_timeout_ns: 3600 * 1_000_000_000,
            max_flows: 100_000,
        }
    }
}

struct Flow<A> {
    meta: FlowMeta,
    streams: [Reassembler; 2],
    fin_seen: [bool; 2],
    syn_seq: [Option<u32>; 2],
    ended: bool,
    last_seen: PacketRef,
    app: A,
}

impl<A: Application> Flow<A> {
    fn new(meta: FlowMeta, app: A, max_pending: usize, packet: PacketRef) -> Flow<A> {
        Flow {
            meta,
            streams: [Reassembler::new(max_pending), Reassembler::new(max_pending)],
            fin_seen: [false; 2],
            syn_seq: [None; 2],
            ended: false,
            last_seen: packet,
            app,
        }
    }

    /// Port reuse: a fresh SYN after this connection ended, or with another ISN, or on a
    /// connection whose own SYN was never seen (the capture began mid-way).
    fn reused_by(&self, seg: &Segment<'_>) -> bool {
        let side = usize::from(self.meta.endpoints[0] != seg.src);
        seg.syn && !seg.ack_flag && (self.ended || self.syn_seq[side] != Some(seg.seq))
    }

    /// A SYN or SYN-ACK from `side`: its initial sequence number, and who the client is.
    fn on_syn(&mut self, seg: &Segment<'_>, side: usize) {
        self.syn_seq[side] = Some(seg.seq);
        self.streams[side].on_syn(seg.seq);
        if self.meta.client_side.is_none() {
            self.meta.client_side = Some(if seg.ack_flag { 1 - side } else { side });
        }
    }

    /// The segment's data to its direction's reassembly, and its ACK to the other's.
    fn deliver(
        &mut self,
        seg: &Segment<'_>,
        side: usize,
        packet: PacketRef,
        out: &mut Vec<A::Event>,
        spill: Spill<'_, A::Event>,
    ) {
        let Flow {
            meta, streams, app, ..
        } = self;
        let other = 1 - side;
        // Data carried in a SYN (TCP Fast Open) starts one past the ISN.
        let data_seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        streams[side].on_segment(
            data_seq,
            seg.payload,
            seg.orig_payload_len,
            seg.fin,
            packet,
            &mut |ev| {
                app.on_stream(meta, side, ev, out);
                spill_if_full(out, spill);
            },
        );
        if seg.ack_flag && streams[other].pending_bytes() > 0 {
            streams[other].on_peer_ack(seg.ack, packet, &mut |ev| {
                app.on_stream(meta, other, ev, out);
                spill_if_full(out, spill);
            });
        }
    }

    fn end(
        &mut self,
        reason: EndReason,
        packet: PacketRef,
        out: &mut Vec<A::Event>,
        spill: Spill<'_, A::Event>,
    ) {
        if self.ended {
            return;
        }
        self.ended = true;
        let Flow {
            meta, streams, app, ..
        } = self;
        for (side, stream) in streams.iter_mut().enumerate() {
            stream.flush(packet, &mut |ev| {
                app.on_stream(meta, side, ev, out);
                spill_if_full(out, spill);
            });
        }
        app.on_end(meta, reason, packet, out);
    }
}

type FlowKey = (SocketAddr, SocketAddr);

fn key_of(a: SocketAddr, b: SocketAddr) -> FlowKey {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

pub struct FlowTable<A> {
    flows: HashMap<FlowKey, Flow<A>>,
    next_id: u64,
    limits: FlowTableLimits,
    packets_since_sweep: u32,
    new_app: Box<dyn FnMut(&FlowMeta) -> A>,
}

/// Sweep for idle connections every this many packets: cheap, and often enough.
const SWEEP_EVERY: u32 = 8192;
/// Keep an ended connection this long so its late retransmissions are not a new connection.
const ENDED_LINGER_NS: u64 = 60 * 1_000_000_000;

impl<A: Application> FlowTable<A> {
    pub fn new(limits: FlowTableLimits, new_app: Box<dyn FnMut(&FlowMeta) -> A>) -> FlowTable<A> {
        FlowTable {
            flows: HashMap::new(),
            next_id: 1,
            limits,
            packets_since_sweep: 0,
            new_app,
        }
    }

    /// Number of TCP connections seen so far.
    pub fn connections_seen(&self) -> u64 {
        self.next_id - 1
    }

    /// One segment in; its events into `out`, handed on through `spill` as they gather.
    pub fn process(
        &mut self,
        seg: &Segment<'_>,
        packet: PacketRef,
        out: &mut Vec<A::Event>,
        spill: Spill<'_, A::Event>,
    ) {
        self.packets_since_sweep += 1;
        if self.packets_since_sweep >= SWEEP_EVERY || self.flows.len() > self.limits.max_flows {
            self.packets_since_sweep = 0;
            self.sweep(packet, out, spill);
        }
        let flow = self.flow_for(seg, packet, out, spill);
        flow.last_seen = packet;
        if flow.ended {
            return;
        }
        let side = usize::from(flow.meta.endpoints[0] != seg.src);
        if seg.syn {
            flow.on_syn(seg, side);
        }
        flow.deliver(seg, side, packet, out, spill);
        if seg.fin {
            flow.fin_seen[side] = true;
        }
        // A reset whose sequence number is far from where the sender is (blind or injected,
        // RFC 5961 §3) does not end the connection.
        if seg.rst && flow.streams[side].seq_plausible(seg.seq) {
            flow.end(EndReason::Reset, packet, out, spill);
        } else if flow.fin_seen[0]
            && flow.fin_seen[1]
            && flow.streams[0].is_finished()
            && flow.streams[1].is_finished()
        {
            flow.end(EndReason::Fin, packet, out, spill);
        }
    }

    /// The connection this segment belongs to: the known one, or a new one when the endpoint
    /// pair is new or reused.
    fn flow_for(
        &mut self,
        seg: &Segment<'_>,
        packet: PacketRef,
        out: &mut Vec<A::Event>,
        spill: Spill<'_, A::Event>,
    ) -> &mut Flow<A> {
        let mut new_flow = || {
            let meta = FlowMeta {
                id: ConnId(self.next_id),
                endpoints: [seg.src, seg.dst],
                client_side: None,
                first_packet: packet,
            };
            self.next_id += 1;
            let app = (self.new_app)(&meta);
            Flow::new(meta, app, self.limits.max_pending_per_direction, packet)
        };
        match self.flows.entry(key_of(seg.src, seg.dst)) {
            Entry::Vacant(v) => v.insert(new_flow()),
            Entry::Occupied(o) if !o.get().reused_by(seg) => o.into_mut(),
            Entry::Occupied(mut o) => {
                o.get_mut().end(EndReason::Reused, packet, out, spill);
                *o.get_mut() = new_flow();
                o.into_mut()
            }
        }
    }

    /// End idle connections and forget ended ones, oldest connection first (deterministic).
    /// Over the connection limit, the least recently seen tenth is ended at once, so the cost of
    /// a sweep is spread over many new connections.
    fn sweep(&mut self, packet: PacketRef, out: &mut Vec<A::Event>, spill: Spill<'_, A::Event>) {
        let now = packet.ts.0;
        let mut expired: Vec<(ConnId, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, f)| {
                let idle = now.saturating_sub(f.last_seen.ts.0);
                (f.ended && idle > ENDED_LINGER_NS) || idle > self.limits.idle_timeout_ns
            })
            .map(|(k, f)| (f.meta.id, *k))
            .collect();
        if self.flows.len() - expired.len() > self.limits.max_flows {
            let mut by_age: Vec<(Timestamp, ConnId, FlowKey)> = self
                .flows
                .iter()
                .map(|(k, f)| (f.last_seen.ts, f.meta.id, *k))
                .collect();
            let excess = self.flows.len() - self.limits.max_flows * 9 / 10;
            by_age.select_nth_unstable(excess - 1);
            expired.extend(by_age[..excess].iter().map(|&(_, id, k)| (id, k)));
        }
        expired.sort();
        expired.dedup();
        for (_, key) in expired {
            if let Some(mut f) = self.flows.remove(&key) {
                let last = f.last_seen;
                f.end(EndReason::Idle, last, out, spill);
            }
        }
    }

    /// The capture ended: end every open connection in id order.
    pub fn finish(
        &mut self,
        packet: PacketRef,
        out: &mut Vec<A::Event>,
        spill: Spill<'_, A::Event>,
    ) {
        let mut all: Vec<Flow<A>> = self.flows.drain().map(|(_, f)| f).collect();
        all.sort_by_key(|f| f.meta.id);
        for mut f in all {
            f.end(EndReason::CaptureEnd, packet, out, spill);
        }
    }
}
