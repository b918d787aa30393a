//! One worker of `-j N`: the connections dealt to it, each a [`Connection`] as with one thread,
//! fed the calls the main thread's flow table made, in the same order; their events rendered to
//! bytes when the sink has a [`Renderer`].

use std::collections::hash_map::{Entry, HashMap};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use super::merge::{Output, Results};
use super::{Call, Input, What};
use crate::base::ConnId;
use crate::conversation::{Connection, DissectConfig, KeyStore};
use crate::event::Event;
use crate::output::Renderer;
use crate::tcp::{Application, FlowMeta, StreamEvent};

/// A connection this worker owns, and its meta as the main thread last sent it. Boxed: the
/// map keeps spare slots, and an idle connection should cost little (issue 14).
type Slot = Box<(Connection, FlowMeta)>;

/// What a worker needs to start.
pub struct Job {
    pub cfg: Arc<DissectConfig>,
    /// The key log's text (`--tls-keylog`); each worker keeps its own copy of the secrets, so
    /// secrets from the capture reach it exactly between the calls they came between.
    pub keys: Option<Arc<Vec<u8>>>,
    pub render: Option<Renderer>,
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
        let mut conns: HashMap<ConnId, Slot> = HashMap::new();
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
            let mut out = Results::new(self.render.map(|_| buffer.unwrap_or_default()));
            let mut rest = &bytes[..];
            for call in calls {
                self.call(&mut conns, &keys, call, &mut rest, &mut events);
                if let Err(e) = self.take(&mut events, &mut out) {
                    out.error = Some(e);
                    break;
                }
            }
            bytes.clear();
            out.spare = bytes;
            if results.send(out).is_err() {
                return;
            }
        }
    }

    /// Make the call on its connection (created at its first call: creating one has no
    /// effect, so this is the same as creating it with its flow); forget it at its end.
    /// `bytes`: the batch's stream bytes not yet taken by its calls.
    fn call(
        &self,
        conns: &mut HashMap<ConnId, Slot>,
        keys: &Arc<KeyStore>,
        call: Call,
        bytes: &mut &[u8],
        events: &mut Vec<Event>,
    ) {
        let Call {
            conn: id,
            meta: new_meta,
            what,
            ..
        } = call;
        let slot = match (conns.entry(id), new_meta) {
            (Entry::Occupied(e), new_meta) => {
                let slot = e.into_mut();
                if let Some(m) = new_meta {
                    slot.1 = *m;
                }
                slot
            }
            (Entry::Vacant(e), Some(m)) => e.insert(Box::new((
                Connection::new(self.cfg.clone(), keys.clone()),
                *m,
            ))),
            // The first call of a connection always carries its meta.
            (Entry::Vacant(_), None) => return,
        };
        let (conn, meta) = (&mut slot.0, &slot.1);
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
                conn.on_stream(meta, side, event, events);
            }
            What::End { reason, packet } => {
                conn.on_end(meta, reason, packet, events);
                conns.remove(&id);
            }
            What::Compact => conn.compact(meta, events),
        }
    }

    /// One call's events into the results: counted, and rendered or kept.
    fn take(&self, events: &mut Vec<Event>, out: &mut Results) -> std::io::Result<()> {
        for e in events.iter() {
            if let Event::Connection(c) = e {
                out.counts.count_connection(c);
            }
        }
        match (&mut out.output, self.render) {
            (Output::Bytes(bytes), Some(render)) => {
                for e in events.drain(..) {
                    render.render(&e, bytes)?;
                }
            }
            (Output::Events(kept), _) => kept.append(events),
            (Output::Bytes(_), None) => return Err(std::io::Error::other("no renderer")),
        }
        out.end_call();
        Ok(())
    }
}
