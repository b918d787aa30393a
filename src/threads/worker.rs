//! One worker of `-j N`: the connections dealt to it, each a [`Connection`] as with one thread,
//! fed the calls the main thread's flow table made, in the same order; their events rendered to
//! bytes when the sink has a [`Renderer`].

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use super::merge::{Output, Results};
use super::{Call, Held, Input, Meta, What, RESULTS_PART};
use crate::base::{ConnId, PacketRef};
use crate::conversation::{Connection, DissectConfig, KeyStore};
use crate::event::Event;
use crate::output::Renderer;
use crate::tcp::{Application, FlowMeta, StreamEvent};

/// A connection this worker owns, and its meta as the main thread last sent it. Boxed, in a
/// table indexed by the place the main thread dealt it: an idle connection costs its
/// [`Connection`], this and a pointer (issue 14).
struct Slot {
    conn: Connection,
    meta: KeptMeta,
}

/// A connection's [`FlowMeta`] as its worker keeps it between calls: what the connection
/// layers read, without the id (the call has it) and, over IPv4, with the addresses in 12 bytes
/// instead of 64.
struct KeptMeta {
    first_packet: PacketRef,
    endpoints: Endpoints,
    client_side: Option<u8>,
}

enum Endpoints {
    V4([SocketAddrV4; 2]),
    Other(Box<[SocketAddr; 2]>),
}

impl KeptMeta {
    fn of(meta: &FlowMeta) -> KeptMeta {
        let endpoints = match meta.endpoints {
            [SocketAddr::V4(a), SocketAddr::V4(b)] => Endpoints::V4([a, b]),
            both => Endpoints::Other(Box::new(both)),
        };
        KeptMeta {
            first_packet: meta.first_packet,
            endpoints,
            // A side is 0 or 1.
            client_side: meta.client_side.map(|s| s as u8),
        }
    }

    fn meta(&self, id: ConnId) -> FlowMeta {
        FlowMeta {
            id,
            endpoints: match &self.endpoints {
                Endpoints::V4([a, b]) => [SocketAddr::V4(*a), SocketAddr::V4(*b)],
                Endpoints::Other(both) => **both,
            },
            client_side: self.client_side.map(usize::from),
            first_packet: self.first_packet,
        }
    }
}

/// What a worker needs to start.
pub struct Job {
    pub cfg: Arc<DissectConfig>,
    /// The key log's text (`--tls-keylog`); each worker keeps its own copy of the secrets, so
    /// secrets from the capture reach it exactly between the calls they came between.
    pub keys: Option<Arc<Vec<u8>>>,
    pub render: Option<Renderer>,
    /// The bytes of results handed over and not yet written.
    pub(super) held: Arc<Held>,
}

impl Job {
    /// Take batches of calls until the main thread closes the channel (or stops reading).
    pub fn run(self, calls: Receiver<Input>, results: SyncSender<Results>) {
        let keys = Arc::new(KeyStore::default());
        if let Some(text) = &self.keys {
            keys.add(text);
        }
        // The main thread reports malformed lines; a worker's copies would only pile up.
        keys.take_malformed();
        let mut conns: Vec<Option<Box<Slot>>> = Vec::new();
        let mut events = Vec::new();
        for input in calls {
            let batch = match input {
                Input::Secrets(text) => {
                    keys.add(&text);
                    keys.take_malformed();
                    continue;
                }
                Input::Calls { calls, bytes, out } => (calls, bytes, out),
            };
            let (calls, mut bytes, buffer) = batch;
            let mut outbox = Outbox {
                out: Results::new(self.render.map(|_| buffer.unwrap_or_default())),
                results: &results,
                job: &self,
            };
            let mut rest = &bytes[..];
            for call in calls {
                self.call(&mut conns, &keys, call, &mut rest, &mut events);
                match self.take(&mut events, &mut outbox) {
                    Ok(()) => {}
                    Err(Stop::Output(e)) => {
                        outbox.out.error = Some(e);
                        break;
                    }
                    Err(Stop::Gone) => return,
                }
            }
            bytes.clear();
            if !outbox.hand_over(false, bytes) {
                return;
            }
        }
    }

    /// Make the call on its connection (created at its first call: creating one has no
    /// effect, so this is the same as creating it with its flow); forget it at its end.
    /// `bytes`: the batch's stream bytes not yet taken by its calls.
    fn call(
        &self,
        conns: &mut Vec<Option<Box<Slot>>>,
        keys: &Arc<KeyStore>,
        call: Call,
        bytes: &mut &[u8],
        events: &mut Vec<Event>,
    ) {
        let Call {
            conn: id,
            slot: at,
            meta: update,
            what,
            ..
        } = call;
        let at = at as usize;
        if at >= conns.len() {
            conns.resize_with(at + 1, || None);
        }
        let place = &mut conns[at];
        match (update, place.as_mut()) {
            (Meta::First(m), _) => {
                *place = Some(Box::new(Slot {
                    conn: Connection::new(self.cfg.clone(), keys.clone()),
                    meta: KeptMeta::of(&m),
                }));
            }
            (Meta::Changed(m), Some(slot)) => slot.meta = KeptMeta::of(&m),
            // Past its end (a flow lingers after its FIN): the connection is gone.
            (_, None) => return,
            (Meta::Unchanged, Some(_)) => {}
        }
        let Some(slot) = place.as_mut() else { return };
        let meta = slot.meta.meta(id);
        let conn = &mut slot.conn;
        match what {
            What::Stream { side, event, len } => {
                let event = match event {
                    StreamEvent::Data { offset, packet, .. } => {
                        let (data, rest) = bytes.split_at(len.min(bytes.len()));
                        *bytes = rest;
                        StreamEvent::Data {
                            offset,
                            bytes: data,
                            packet,
                        }
                    }
                    other => other,
                };
                conn.on_stream(&meta, side, event, events);
            }
            What::End { reason, packet } => {
                conn.on_end(&meta, reason, packet, events);
                *place = None;
                forget_ended(conns);
            }
            What::Compact => conn.compact(&meta, events),
        }
    }

    /// One call's events into the results: counted, and rendered or kept; handed over in
    /// pieces when they pass [`RESULTS_PART`] (whole messages kept can make one call's output
    /// tens of MiB: the main thread writes the first pieces while the rest are rendered).
    fn take(&self, events: &mut Vec<Event>, outbox: &mut Outbox<'_>) -> Result<(), Stop> {
        let taken = match self.render {
            Some(render) => render_in_place(render, events, outbox),
            None => keep_all(events, outbox),
        };
        events.clear();
        taken?;
        outbox.out.end_call();
        if outbox.out.weight() >= RESULTS_PART && !outbox.hand_over(false, Vec::new()) {
            return Err(Stop::Gone);
        }
        Ok(())
    }
}

/// Render each event where it is (an event is not moved out to be rendered), and give its
/// payload buffer back.
fn render_in_place(
    render: Renderer,
    events: &mut [Event],
    outbox: &mut Outbox<'_>,
) -> Result<(), Stop> {
    let last = events.len().saturating_sub(1);
    for (i, e) in events.iter_mut().enumerate() {
        let out = &mut outbox.out;
        count(&mut out.counts, e);
        let Output::Bytes(bytes) = &mut out.output else {
            return Err(Stop::Output(std::io::Error::other("no renderer")));
        };
        render.render(e, bytes).map_err(Stop::Output)?;
        e.recycle();
        if out.weight() >= RESULTS_PART && i < last {
            outbox.split_call()?;
        }
    }
    Ok(())
}

/// Keep the events themselves (the main thread's sink renders them).
fn keep_all(events: &mut Vec<Event>, outbox: &mut Outbox<'_>) -> Result<(), Stop> {
    let mut events = events.drain(..);
    while let Some(e) = events.next() {
        let out = &mut outbox.out;
        count(&mut out.counts, &e);
        out.keep(e);
        if out.weight() >= RESULTS_PART && events.len() > 0 {
            outbox.split_call()?;
        }
    }
    Ok(())
}

/// The connections the events show, for the summary.
fn count(counts: &mut crate::event::CaptureSummary, e: &Event) {
    if let Event::Connection(c) = e {
        counts.count_connection(c);
    }
}

/// Why a worker stops taking a batch's calls.
enum Stop {
    /// Rendering failed: the results say so, and the run stops there.
    Output(std::io::Error),
    /// The main thread has stopped.
    Gone,
}

/// The results being gathered, and where they go.
struct Outbox<'a> {
    out: Results,
    results: &'a SyncSender<Results>,
    job: &'a Job,
}

impl Outbox<'_> {
    /// The call's output so far goes over as an unfinished part; the rest follows.
    fn split_call(&mut self) -> Result<(), Stop> {
        self.out.end_call();
        if self.hand_over(true, Vec::new()) {
            Ok(())
        } else {
            Err(Stop::Gone)
        }
    }

    /// Hand over the results so far, once the main thread holds few enough unwritten
    /// ([`Held`]); `unfinished`: the last call's output goes on in the next part. `spare`: the
    /// batch's input buffer, with its last part. False when the main thread has stopped.
    fn hand_over(&mut self, unfinished: bool, spare: Vec<u8>) -> bool {
        let next = Results::new(self.job.render.map(|_| Vec::new()));
        let mut part = std::mem::replace(&mut self.out, next);
        part.unfinished = unfinished;
        part.spare = spare;
        self.job.held.reserve(part.weight()) && self.results.send(part).is_ok()
    }
}

/// The table lets go of the places past its last connection, and of its spare capacity when
/// it has shrunk to a quarter: it stays as large as the connections open at once.
fn forget_ended(conns: &mut Vec<Option<Box<Slot>>>) {
    while conns.last().is_some_and(Option::is_none) {
        conns.pop();
    }
    if conns.len() < conns.capacity() / 4 {
        conns.shrink_to(conns.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a worker keeps per open connection beside its [`Connection`] (issue 14: an idle
    /// connection at most 2 KiB with `-j N` too): a pointer in the table, and the slot.
    #[test]
    fn a_slot_stays_small() {
        let kept = std::mem::size_of::<KeptMeta>();
        let slot = std::mem::size_of::<Slot>();
        assert!(kept <= 40, "KeptMeta is {kept} bytes");
        assert!(slot <= 136, "Slot is {slot} bytes");
        assert_eq!(std::mem::size_of::<Option<Box<Slot>>>(), 8);
    }

    #[test]
    fn kept_meta_gives_back_the_meta() {
        let v4: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let v4b: SocketAddr = "10.1.2.3:40000".parse().unwrap();
        let v6: SocketAddr = "[fe80::1%2]:443".parse().unwrap();
        for endpoints in [[v4, v4b], [v6, v4], [v4b, v6]] {
            for client_side in [None, Some(0), Some(1)] {
                let meta = FlowMeta {
                    id: ConnId(7),
                    endpoints,
                    client_side,
                    first_packet: PacketRef::default(),
                };
                let back = KeptMeta::of(&meta).meta(ConnId(7));
                assert_eq!(back.endpoints, meta.endpoints);
                assert_eq!(back.client_side, meta.client_side);
                assert_eq!(back.first_packet, meta.first_packet);
            }
        }
    }
}
