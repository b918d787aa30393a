//! The flow table: TCP connections by their endpoint pair, numbered in order of first packet.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use super::note::{Control, Doubt, Note, Refusal};
use super::reassembly::{Incoming, Reassembler, StreamEvent, DEFAULT_MAX_PENDING};
use crate::base::{ConnId, PacketRef, Timestamp};
use crate::net::{Checksum, Segment, WireFacts};

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
    /// The connection has been quiet for a while ([`FlowTableLimits::quiet_packets`]): let go
    /// of what only activity needs. It reports nothing and must not change what later packets
    /// give. (`out` is for an application that hands the work on, as `-j N`'s proxies do.)
    fn compact(&mut self, _meta: &FlowMeta, _out: &mut Vec<Self::Event>) {}
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
    /// Connections beyond this many are evicted, least recently seen first. The default,
    /// a million, is what 2 GiB holds at the 2 KiB an open idle connection may cost (issue 14,
    /// `memory_` tests).
    pub max_flows: usize,
    /// A connection without a packet among the last this many is compacted
    /// ([`Application::compact`]); 0 compacts after every packet (tests: compacting must
    /// change no event).
    pub quiet_packets: u64,
}

impl Default for FlowTableLimits {
    fn default() -> Self {
        FlowTableLimits {
            max_pending_per_direction: DEFAULT_MAX_PENDING,
            idle_timeout_ns: 3600 * 1_000_000_000,
            max_flows: 1_000_000,
            quiet_packets: QUIET_PACKETS,
        }
    }
}

/// What is usual for one direction of a flow, to tell which packets its receiver dropped.
#[derive(Clone, Copy, Debug, Default)]
struct Usual {
    /// The direction's TTL (hop limit), by majority vote (Boyer-Moore: O(1) memory, and a few
    /// forged packets cannot outvote the sender's own).
    ttl: u8,
    ttl_votes: u32,
    /// A packet of this direction had right (or offloaded) checksums: a wrong one is news.
    checksums_checked: bool,
}

/// A TTL this many hops below the direction's usual one does not reach the receiver. A route
/// change of a hop or two within a connection is normal; a packet built to expire between the
/// capture point and the receiver (a decoy for a passive observer) is usually further off.
const LOW_TTL_MARGIN: u8 = 3;

impl Usual {
    /// Why the receiver probably never took this packet, judged against earlier ones.
    fn doubt(&self, facts: &WireFacts) -> Option<Doubt> {
        if facts.checksum_bad() && self.checksums_checked {
            return Some(Doubt::BadChecksum);
        }
        if self.ttl_votes > 0 && facts.ttl.saturating_add(LOW_TTL_MARGIN) <= self.ttl {
            return Some(Doubt::LowTtl {
                ttl: facts.ttl,
                usual: self.ttl,
            });
        }
        None
    }

    fn learn(&mut self, facts: &WireFacts) {
        if self.ttl_votes == 0 {
            self.ttl = facts.ttl;
        }
        if self.ttl == facts.ttl {
            self.ttl_votes += 1;
        } else {
            self.ttl_votes -= 1;
        }
        let checked = facts.tcp_checksum != Checksum::Unknown;
        self.checksums_checked |= checked && !facts.checksum_bad();
    }
}

/// What a SYN on a known endpoint pair means.
enum SynOnFlow {
    /// Not a fresh SYN: the connection goes on.
    No,
    /// The connection had ended: this starts a new one.
    NewConnection,
    /// A fresh SYN on a live connection: the receiver answers with a challenge ACK (RFC 5961
    /// §4), unless it had forgotten the connection. Held until the answer shows which.
    Held,
}

struct Flow<A> {
    meta: FlowMeta,
    streams: [Reassembler; 2],
    syn_seq: [Option<u32>; 2],
    /// The latest acknowledgment number each side sent: its RCV.NXT.
    acked: [Option<u32>; 2],
    usual: [Usual; 2],
    /// A fresh SYN (its ISN and packet) from side 0 or 1 on this live connection.
    held_syn: Option<(usize, u32, PacketRef)>,
    /// Packets seen on this connection.
    packets: u64,
    ended: bool,
    /// In the table's queue of recently active connections (see [`QUIET_PACKETS`]).
    queued: bool,
    last_seen: PacketRef,
    app: A,
}

impl<A: Application> Flow<A> {
    fn new(meta: FlowMeta, app: A, max_pending: usize, packet: PacketRef) -> Flow<A> {
        Flow {
            meta,
            streams: [Reassembler::new(max_pending), Reassembler::new(max_pending)],
            syn_seq: [None; 2],
            acked: [None; 2],
            usual: [Usual::default(); 2],
            held_syn: None,
            packets: 0,
            ended: false,
            queued: false,
            last_seen: packet,
            app,
        }
    }

    fn side_of(&self, seg: &Segment<'_>) -> usize {
        usize::from(self.meta.endpoints[0] != seg.src)
    }

    /// A SYN (without ACK) on this endpoint pair: a retransmission, port reuse after the end,
    /// or a SYN on a live connection.
    fn syn_on_flow(&self, seg: &Segment<'_>) -> SynOnFlow {
        let retransmitted = self.syn_seq[self.side_of(seg)] == Some(seg.seq);
        if !seg.syn || seg.ack_flag || retransmitted || self.packets == 0 {
            SynOnFlow::No
        } else if self.ended || !self.synchronized() {
            SynOnFlow::NewConnection
        } else {
            SynOnFlow::Held
        }
    }

    /// Both sides' sequence numbers are known (from SYNs or data): RFC 5961 §4 applies.
    fn synchronized(&self) -> bool {
        self.streams.iter().all(|s| s.expected_seq().is_some())
    }

    /// Does this segment show that the receiver took the held SYN as a new connection (its
    /// SYN-ACK, or the SYN sender going on from the new ISN)?
    fn held_syn_taken(&self, seg: &Segment<'_>) -> Option<(usize, u32, PacketRef)> {
        let held @ (syn_side, isn, _) = self.held_syn?;
        let side = self.side_of(seg);
        let answered =
            side != syn_side && seg.syn && seg.ack_flag && seg.ack == isn.wrapping_add(1);
        let went_on = side == syn_side && !seg.syn && seg.seq == isn.wrapping_add(1);
        (answered || went_on).then_some(held)
    }

    /// A SYN or SYN-ACK from `side`: its initial sequence number, and who the client is.
    fn on_syn(&mut self, seq: u32, ack_flag: bool, side: usize) {
        self.syn_seq[side] = Some(seq);
        self.streams[side].on_syn(seq);
        if self.meta.client_side.is_none() {
            self.meta.client_side = Some(if ack_flag { 1 - side } else { side });
        }
    }

    /// A TCP note about `side`'s stream, to the application.
    fn note(&mut self, side: usize, note: Note, packet: PacketRef, out: &mut Vec<A::Event>) {
        self.app
            .on_stream(&self.meta, side, StreamEvent::Note { note, packet }, out);
    }

    fn ignored(
        &mut self,
        side: usize,
        control: Control,
        why: Refusal,
        packet: PacketRef,
        out: &mut Vec<A::Event>,
    ) {
        self.note(side, Note::ControlIgnored { control, why }, packet, out);
    }

    /// The segment's data to its direction's reassembly, and its ACK to the other's.
    fn deliver(
        &mut self,
        seg: &Segment<'_>,
        side: usize,
        doubt: Option<Doubt>,
        packet: PacketRef,
        out: &mut Vec<A::Event>,
        spill: Spill<'_, A::Event>,
    ) {
        let mut payload = seg.payload;
        let mut orig_len = seg.orig_payload_len;
        // Data carried in a SYN (TCP Fast Open) starts one past the ISN. A server drops it
        // unless the SYN carries a cookie (RFC 7413 §4.2.2); the client sends it again.
        let data_seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if seg.syn && !seg.ack_flag && orig_len > 0 && !seg.facts.tfo_cookie {
            let note = Note::SynDataDropped {
                len: orig_len as u64,
            };
            self.note(side, note, packet, out);
            (payload, orig_len) = (&[], 0);
        }
        if seg.fin {
            if let Some(d) = doubt {
                self.ignored(side, Control::Fin, Refusal::Dropped(d), packet, out);
            }
        }
        let Flow {
            meta,
            streams,
            app,
            acked,
            ..
        } = self;
        let other = 1 - side;
        let incoming = Incoming {
            seq: data_seq,
            payload,
            orig_len,
            fin: seg.fin && doubt.is_none(),
            urgent_pointer: seg.facts.urgent_pointer.filter(|_| doubt.is_none()),
            doubtful: doubt.is_some(),
            packet,
        };
        streams[side].receive(incoming, &mut |ev| {
            app.on_stream(meta, side, ev, out);
            spill_if_full(out, spill);
        });
        if seg.ack_flag && doubt.is_none() {
            acked[side] = Some(seg.ack);
            streams[other].forget_acked(seg.ack);
            if streams[other].pending_bytes() > 0 {
                streams[other].on_peer_ack(seg.ack, packet, &mut |ev| {
                    app.on_stream(meta, other, ev, out);
                    spill_if_full(out, spill);
                });
            }
        }
    }

    /// Would the receiver take this reset (RFC 5961 §3.2)? Only one at exactly the next
    /// sequence number it expects: ours, or the one its own last ACK gave.
    fn rst_refusal(&self, seg: &Segment<'_>, side: usize, doubt: Option<Doubt>) -> Option<Refusal> {
        if let Some(d) = doubt {
            return Some(Refusal::Dropped(d));
        }
        let Some(expected) = self.streams[side].expected_seq() else {
            return None; // nothing known of this side's sequence numbers (a refused SYN)
        };
        let exact = [Some(expected), self.acked[1 - side]];
        // After a FIN, Linux also takes a reset at the FIN's own number (tcp_reset_check).
        let at_fin = self.streams[side].is_finished() && seg.seq == expected.wrapping_sub(1);
        if at_fin || exact.contains(&Some(seg.seq)) {
            return None;
        }
        Some(Refusal::RstNotExact {
            off: i64::from(seg.seq.wrapping_sub(expected) as i32),
        })
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
        self.settle_held_syn(out);
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
        // The capture's end ends every open connection in one go: hand on as they gather.
        spill_if_full(out, spill);
    }

    /// The held SYN was not taken as a new connection: say so.
    fn settle_held_syn(&mut self, out: &mut Vec<A::Event>) {
        if let Some((side, _, packet)) = self.held_syn.take() {
            self.ignored(side, Control::Syn, Refusal::SynOnEstablished, packet, out);
        }
    }

    /// One segment of this live connection.
    fn process(
        &mut self,
        seg: &Segment<'_>,
        packet: PacketRef,
        out: &mut Vec<A::Event>,
        spill: Spill<'_, A::Event>,
    ) {
        let side = self.side_of(seg);
        let doubt = self.usual[side].doubt(&seg.facts);
        self.usual[side].learn(&seg.facts);
        if let SynOnFlow::Held = self.syn_on_flow(seg) {
            match doubt {
                Some(d) => self.ignored(side, Control::Syn, Refusal::Dropped(d), packet, out),
                None => {
                    self.held_syn.get_or_insert((side, seg.seq, packet));
                }
            }
            return;
        }
        self.settle_held_syn(out);
        if seg.syn && doubt.is_none() {
            self.on_syn(seg.seq, seg.ack_flag, side);
        }
        self.deliver(seg, side, doubt, packet, out, spill);
        if seg.rst {
            match self.rst_refusal(seg, side, doubt) {
                None => return self.end(EndReason::Reset, packet, out, spill),
                Some(why) => self.ignored(side, Control::Rst, why, packet, out),
            }
        }
        if self.streams[0].is_finished() && self.streams[1].is_finished() {
            self.end(EndReason::Fin, packet, out, spill);
        }
    }
}

/// A connection's two endpoints, the lower first, so that both directions find one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct FlowKey(SocketAddr, SocketAddr);

impl FlowKey {
    fn of(a: SocketAddr, b: SocketAddr) -> FlowKey {
        if a <= b {
            FlowKey(a, b)
        } else {
            FlowKey(b, a)
        }
    }
}

/// Each endpoint hashed as one or two words, not field by field as `SocketAddr` hashes itself
/// (a call per field: most of the table's lookup, which runs for every packet). Keys that are
/// equal hash alike: the IPv6 flow label and scope left out only make more keys share a hash.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        for end in [self.0, self.1] {
            match end {
                SocketAddr::V4(a) => {
                    h.write_u64(u64::from(a.ip().to_bits()) << 16 | u64::from(a.port()))
                }
                SocketAddr::V6(a) => {
                    h.write_u128(a.ip().to_bits());
                    h.write_u16(a.port());
                }
            }
        }
    }
}

/// The flow table's hasher: one lookup per packet, so SipHash's cost showed (4 % of the text
/// view). foldhash is seeded at random per run, so a crafted capture cannot aim its endpoints
/// at one bucket: it cannot see the seed, which is all foldhash's flooding resistance needs.
pub type FlowHash = foldhash::fast::RandomState;

pub struct FlowTable<A> {
    /// Boxed: the map keeps spare slots (up to half of them just after it grows), and a
    /// pointer is all a spare slot should cost.
    flows: HashMap<FlowKey, Box<Flow<A>>, FlowHash>,
    next_id: u64,
    limits: FlowTableLimits,
    packets_since_sweep: u64,
    new_app: Box<dyn FnMut(&FlowMeta) -> A>,
    /// Connections that had a packet lately, by the packet number they were queued at (each
    /// once): those quiet for `limits.quiet_packets` are compacted. Each has had a packet
    /// among the last `quiet_packets`, so there are at most that many.
    active: VecDeque<(u64, ConnId, FlowKey)>,
}

/// A connection without a packet among the last this many of the capture is quiet (the
/// default of [`FlowTableLimits::quiet_packets`]): its application compacts what only activity
/// needs (an inflater's state, for one). Small, so that few connections at a time hold that
/// state; large enough that a connection in use (a message every few thousand packets of the
/// capture) keeps it.
pub const QUIET_PACKETS: u64 = 4096;

/// Sweep for idle connections every this many packets: cheap, and often enough.
const SWEEP_EVERY: u64 = 8192;
/// Keep an ended connection this long so its late retransmissions are not a new connection.
const ENDED_LINGER_NS: u64 = 60 * 1_000_000_000;

impl<A: Application> FlowTable<A> {
    pub fn new(limits: FlowTableLimits, new_app: Box<dyn FnMut(&FlowMeta) -> A>) -> FlowTable<A> {
        FlowTable {
            flows: HashMap::default(),
            next_id: 1,
            limits,
            packets_since_sweep: 0,
            new_app,
            active: VecDeque::new(),
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
        // A sweep visits every connection, so with many it waits for as many packets: at most
        // one visit per packet, however many connections are open.
        let sweep_every = (self.flows.len() as u64).max(SWEEP_EVERY);
        if self.packets_since_sweep >= sweep_every || self.flows.len() > self.limits.max_flows {
            self.packets_since_sweep = 0;
            self.sweep(packet, out, spill);
        }
        let now = packet.number;
        let key = FlowKey::of(seg.src, seg.dst);
        let flow = self.flow_for(key, seg, packet, out, spill);
        flow.last_seen = packet;
        if !flow.ended {
            flow.process(seg, packet, out, spill);
        }
        flow.packets += 1;
        let queue = !flow.queued && !flow.ended;
        flow.queued |= queue;
        let id = flow.meta.id;
        if queue {
            self.active.push_back((now, id, key));
        }
        self.compact_quiet(now, out);
    }

    /// Compact the connections that had no packet for `limits.quiet_packets`; those that had
    /// one wait another round.
    fn compact_quiet(&mut self, now: u64, out: &mut Vec<A::Event>) {
        let quiet = self.limits.quiet_packets;
        // Each entry once at most: one put back (its connection had a packet since) is
        // looked at in a later round, even if packet numbers go backwards.
        for _ in 0..self.active.len() {
            let Some(&(at, id, key)) = self.active.front() else {
                return;
            };
            if now < at.saturating_add(quiet) {
                return;
            }
            self.active.pop_front();
            let Some(flow) = self.flows.get_mut(&key).filter(|f| f.meta.id == id) else {
                continue; // ended and forgotten, or the pair now carries a new connection
            };
            if flow.last_seen.number.saturating_add(quiet) <= now {
                flow.queued = false;
                flow.app.compact(&flow.meta, out);
            } else {
                self.active.push_back((now, id, key));
            }
        }
    }

    /// A new connection, numbered in order of first packet. (Given the table's fields rather
    /// than the table, so that it can be called while a slot of `flows` is borrowed.)
    fn new_flow(
        next_id: &mut u64,
        new_app: &mut dyn FnMut(&FlowMeta) -> A,
        max_pending: usize,
        (client, server, first): (SocketAddr, SocketAddr, PacketRef),
    ) -> Box<Flow<A>> {
        let meta = FlowMeta {
            id: ConnId(*next_id),
            endpoints: [client, server],
            client_side: None,
            first_packet: first,
        };
        *next_id += 1;
        let app = new_app(&meta);
        Box::new(Flow::new(meta, app, max_pending, first))
    }

    /// The connection this segment belongs to: the known one, or a new one when the endpoint
    /// pair is new or reused (after its end, or when the receiver took a held SYN). One hash
    /// lookup: this runs for every packet.
    fn flow_for(
        &mut self,
        key: FlowKey,
        seg: &Segment<'_>,
        packet: PacketRef,
        out: &mut Vec<A::Event>,
        spill: Spill<'_, A::Event>,
    ) -> &mut Flow<A> {
        let max_pending = self.limits.max_pending_per_direction;
        let old = match self.flows.entry(key) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => {
                let start = (seg.src, seg.dst, packet);
                return slot.insert(Self::new_flow(
                    &mut self.next_id,
                    &mut self.new_app,
                    max_pending,
                    start,
                ));
            }
        };
        // (client, server, first packet, the client's ISN when its SYN was held)
        let fresh = if let Some((side, isn, syn_packet)) = old.held_syn_taken(seg) {
            let [a, b] = old.meta.endpoints;
            let (client, server) = if side == 0 { (a, b) } else { (b, a) };
            Some((client, server, syn_packet, Some(isn)))
        } else if matches!(old.syn_on_flow(seg), SynOnFlow::NewConnection) {
            Some((seg.src, seg.dst, packet, None))
        } else {
            None
        };
        if let Some((client, server, first, isn)) = fresh {
            let start = (client, server, first);
            let mut new = Self::new_flow(&mut self.next_id, &mut self.new_app, max_pending, start);
            if let Some(isn) = isn {
                new.on_syn(isn, false, 0);
            }
            old.held_syn = None;
            old.end(EndReason::Reused, packet, out, spill);
            *old = new;
        }
        old
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
        // The flows are boxed, so moving them out costs a pointer and an id each (the table is
        // freed as they leave), and each is freed once it has ended.
        let flows = std::mem::take(&mut self.flows);
        let mut by_id: Vec<(ConnId, Box<Flow<A>>)> =
            flows.into_values().map(|f| (f.meta.id, f)).collect();
        by_id.sort_unstable_by_key(|(id, _)| *id);
        for (_, mut f) in by_id {
            f.end(EndReason::CaptureEnd, packet, out, spill);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::PacketRef;

    /// Records what the flow table reports, as short strings.
    struct Log;

    impl Application for Log {
        type Event = String;
        fn on_stream(
            &mut self,
            meta: &FlowMeta,
            side: usize,
            event: StreamEvent<'_>,
            out: &mut Vec<String>,
        ) {
            let what = match event {
                StreamEvent::Data { bytes, .. } => {
                    format!("data {}", String::from_utf8_lossy(bytes))
                }
                StreamEvent::Note { note, .. } => format!("{note:?}"),
                other => format!("{other:?}"),
            };
            out.push(format!("{} {side} {what}", meta.id.0));
        }
        fn on_end(
            &mut self,
            meta: &FlowMeta,
            reason: EndReason,
            _: PacketRef,
            out: &mut Vec<String>,
        ) {
            out.push(format!("{} end {}", meta.id.0, reason.as_str()));
        }
    }

    const C: &str = "10.0.0.1:40000";
    const S: &str = "10.0.0.2:80";

    /// A segment from `from` to the other endpoint: flags in "SAFR" letters.
    fn seg<'a>(from: &str, seq: u32, ack: u32, flags: &str, payload: &'a [u8]) -> Segment<'a> {
        let to = if from == C { S } else { C };
        Segment {
            src: from.parse().unwrap(),
            dst: to.parse().unwrap(),
            seq,
            ack,
            ack_flag: flags.contains('A'),
            syn: flags.contains('S'),
            fin: flags.contains('F'),
            rst: flags.contains('R'),
            payload,
            orig_payload_len: payload.len(),
            facts: WireFacts {
                ttl: 64,
                ip_checksum: Checksum::Good,
                tcp_checksum: Checksum::Offloaded,
                ..WireFacts::default()
            },
        }
    }

    /// A connection after its handshake and one request byte each way: client ISN 99,
    /// server ISN 499.
    fn run(extra: &[Segment<'_>]) -> Vec<String> {
        let mut table = FlowTable::new(FlowTableLimits::default(), Box::new(|_: &FlowMeta| Log));
        let mut out = Vec::new();
        let mut all = vec![
            seg(C, 99, 0, "S", b""),
            seg(S, 499, 100, "SA", b""),
            seg(C, 100, 500, "A", b"q"),
            seg(S, 500, 101, "A", b"r"),
        ];
        all.extend_from_slice(extra);
        for (i, s) in all.iter().enumerate() {
            let packet = PacketRef {
                number: i as u64 + 1,
                ..PacketRef::default()
            };
            table.process(s, packet, &mut out, &mut |_| {});
        }
        table.finish(PacketRef::default(), &mut out, &mut |_| {});
        out
    }

    fn ended(out: &[String]) -> Vec<&str> {
        out.iter()
            .filter(|l| l.contains(" end "))
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn only_a_reset_at_the_exact_sequence_number_ends_the_connection() {
        let out = run(&[seg(C, 102, 501, "RA", b""), seg(C, 101, 501, "A", b"more")]);
        assert_eq!(ended(&out), ["1 end capture-end"]);
        assert!(
            out.iter().any(|l| l.contains("RstNotExact { off: 1 }")),
            "{out:?}"
        );
        assert!(out.contains(&"1 0 data more".to_string()));
        let out = run(&[seg(C, 101, 501, "RA", b"")]);
        assert_eq!(ended(&out), ["1 end rst"]);
        // The number the receiver's own last ACK gave is exact too (data the capture missed).
        let out = run(&[seg(S, 501, 150, "A", b""), seg(C, 150, 501, "R", b"")]);
        assert_eq!(ended(&out), ["1 end rst"]);
    }

    #[test]
    fn a_reset_with_a_bad_checksum_is_dropped_unless_all_checksums_are_bad() {
        let mut rst = seg(C, 101, 501, "RA", b"");
        rst.facts.tcp_checksum = Checksum::Bad;
        let out = run(&[rst.clone()]);
        assert_eq!(ended(&out), ["1 end capture-end"]);
        assert!(
            out.iter().any(|l| l.contains("Dropped(BadChecksum)")),
            "{out:?}"
        );
        // A capture where every checksum is wrong (an offload pattern not recognised): the
        // checksum says nothing.
        let mut table = FlowTable::new(FlowTableLimits::default(), Box::new(|_: &FlowMeta| Log));
        let mut out = Vec::new();
        let rst = Segment { seq: 100, ..rst };
        for s in [seg(C, 99, 0, "S", b""), seg(S, 499, 100, "SA", b""), rst] {
            let mut s = s;
            s.facts.tcp_checksum = Checksum::Bad;
            table.process(&s, PacketRef::default(), &mut out, &mut |_| {});
        }
        assert_eq!(ended(&out), ["1 end rst"]);
    }

    #[test]
    fn a_packet_too_low_to_reach_the_receiver_is_dropped() {
        let mut fin = seg(C, 101, 501, "FA", b"");
        fin.facts.ttl = 1;
        let mut rst = seg(C, 101, 501, "RA", b"");
        rst.facts.ttl = 62; // two hops: within the margin
        let out = run(&[fin, rst]);
        assert!(
            out.iter()
                .any(|l| l.contains("LowTtl { ttl: 1, usual: 64 }")),
            "{out:?}"
        );
        assert_eq!(ended(&out), ["1 end rst"]);
    }

    #[test]
    fn a_syn_on_an_established_connection_is_ignored_unless_answered() {
        let out = run(&[seg(C, 7777, 0, "S", b""), seg(C, 101, 501, "A", b"more")]);
        assert_eq!(ended(&out), ["1 end capture-end"]);
        assert!(
            out.iter().any(|l| l.contains("SynOnEstablished")),
            "{out:?}"
        );
        assert!(out.contains(&"1 0 data more".to_string()));
        // Answered with a SYN-ACK: the server had forgotten the old connection.
        let out = run(&[
            seg(C, 7777, 0, "S", b""),
            seg(S, 9999, 7778, "SA", b""),
            seg(C, 7778, 10000, "A", b"new"),
        ]);
        assert_eq!(ended(&out), ["1 end reused", "2 end capture-end"]);
        assert!(out.contains(&"2 0 data new".to_string()), "{out:?}");
    }

    #[test]
    fn syn_data_needs_a_fast_open_cookie() {
        let mut table = FlowTable::new(FlowTableLimits::default(), Box::new(|_: &FlowMeta| Log));
        let mut out = Vec::new();
        let mut syn = seg(C, 99, 0, "S", b"junk");
        table.process(&syn, PacketRef::default(), &mut out, &mut |_| {});
        assert!(
            out.iter().any(|l| l.contains("SynDataDropped { len: 4 }")),
            "{out:?}"
        );
        assert!(!out.iter().any(|l| l.contains("data junk")));
        let mut table = FlowTable::new(FlowTableLimits::default(), Box::new(|_: &FlowMeta| Log));
        syn.facts.tfo_cookie = true;
        table.process(&syn, PacketRef::default(), &mut out, &mut |_| {});
        assert!(out.contains(&"1 0 data junk".to_string()), "{out:?}");
    }

    /// What every connection costs in the table whatever it carries (issue 14: an open idle
    /// connection at most 2 KiB): the slot is a key and a pointer, and the flow itself (here
    /// with an empty application) stays small.
    #[test]
    fn a_flow_stays_small() {
        let slot = std::mem::size_of::<(FlowKey, Box<Flow<Log>>)>();
        let flow = std::mem::size_of::<Flow<Log>>();
        assert!(slot <= 72, "a table slot is {slot} bytes");
        assert!(flow <= 528, "Flow is {flow} bytes");
    }
}
