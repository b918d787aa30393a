//! `-j N`: the connections' layers above TCP (HTTP, TLS, HTTP/2, WebSocket) and, where the sink
//! allows it, the rendering of their events, on N worker threads, with output identical to one
//! thread, byte for byte.
//!
//! ```text
//!              main thread                                   workers (connection id mod N)
//! capture ─► net ─► flow table + reassembly ─► Call ─────► Connection (conversation) ─► events
//!                   (ids, sweeps, capture end      │         rendered to bytes when the sink can
//!                    exactly as with -j 1)         ▼
//!                                        order of calls ◄──── results, one per call, in order
//!                                              │
//!                                  merge ─► sink (writes bytes, or renders events)
//! ```
//!
//! The main thread reads the capture once and runs everything that is numbered or ordered
//! globally: IP fragment reassembly, skipped-packet counts, the flow table (connection ids,
//! idle sweeps, evictions, the end of every flow in id order) and TCP reassembly. Each call the
//! flow table makes into a connection's application becomes a [`Call`] for the connection's
//! worker, and leaves its place in the order of everything the pipeline reports. With one
//! thread the events of a packet are exactly the events of its calls, in call order, with the
//! main thread's own diagnostics among them; the merge restores that order by taking each
//! call's result from its worker's results, which come in the order the worker got the calls.
//!
//! Memory stays bounded: calls go to the workers in batches over bounded channels, results come
//! back over bounded channels, and the main thread merges whenever it would otherwise wait.

mod merge;
mod worker;

use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::base::PacketRef;
use crate::conversation::DissectConfig;
use crate::event::{CaptureSummary, Event};
use crate::output::Sink;
use crate::tcp::{Application, EndReason, FlowMeta, StreamEvent};

pub use merge::{Merge, Order, Output, Results};

/// The threads a run uses: `asked` (`-j N`), else one per core; one for a live capture, whose
/// packets come at the pace of the network (one thread keeps up, and shows each at once).
pub fn resolve(asked: Option<u64>, live: bool) -> usize {
    if live {
        return 1;
    }
    match asked {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(MAX_THREADS),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// More threads than this only cost memory (each holds batches in flight).
const MAX_THREADS: usize = 256;

/// What a pipeline run with worker threads reports, in order: its own events (diagnostics about
/// packets and the capture), and calls into connections, whose events the workers make.
pub enum Item {
    Main(Event),
    Call(Call),
}

impl From<Event> for Item {
    fn from(e: Event) -> Item {
        Item::Main(e)
    }
}

/// One call the flow table made into a connection's application, to be made again on the
/// connection's worker.
pub struct Call {
    pub worker: usize,
    pub meta: FlowMeta,
    pub what: What,
}

/// [`Application::on_stream`] or [`Application::on_end`], with owned bytes.
pub enum What {
    Stream {
        side: usize,
        /// The event; for `Data` its bytes are in `bytes` (the event's own slice is empty).
        event: StreamEvent<'static>,
        bytes: Vec<u8>,
    },
    End {
        reason: EndReason,
        packet: PacketRef,
    },
}

impl Call {
    /// Bytes the call carries (what it costs in a batch).
    fn weight(&self) -> usize {
        match &self.what {
            What::Stream { bytes, .. } => bytes.len() + 64,
            What::End { .. } => 64,
        }
    }
}

/// The stream event with its bytes moved into a vector of its own.
fn owned(event: StreamEvent<'_>) -> (StreamEvent<'static>, Vec<u8>) {
    match event {
        StreamEvent::Data {
            offset,
            bytes,
            packet,
        } => (
            StreamEvent::Data {
                offset,
                bytes: &[],
                packet,
            },
            bytes.to_vec(),
        ),
        StreamEvent::Gap {
            offset,
            len,
            packet,
            cause,
        } => (
            StreamEvent::Gap {
                offset,
                len,
                packet,
                cause,
            },
            Vec::new(),
        ),
        StreamEvent::OverlapConflict {
            offset,
            len,
            packet,
            first_replaced,
        } => (
            StreamEvent::OverlapConflict {
                offset,
                len,
                packet,
                first_replaced,
            },
            Vec::new(),
        ),
        StreamEvent::Note { note, packet } => (StreamEvent::Note { note, packet }, Vec::new()),
    }
}

/// The stand-in application on the main thread: it records each call for the worker that owns
/// the connection.
pub struct Proxy {
    worker: usize,
}

impl Proxy {
    /// The connection's worker: connections are dealt to the workers by id, round robin, so
    /// captures of many connections spread evenly.
    pub fn for_connection(meta: &FlowMeta, workers: usize) -> Proxy {
        Proxy {
            worker: (meta.id.0 % workers.max(1) as u64) as usize,
        }
    }
}

impl Application for Proxy {
    type Event = Item;

    fn on_stream(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        event: StreamEvent<'_>,
        out: &mut Vec<Item>,
    ) {
        let (event, bytes) = owned(event);
        out.push(Item::Call(Call {
            worker: self.worker,
            meta: meta.clone(),
            what: What::Stream { side, event, bytes },
        }));
    }

    fn on_end(
        &mut self,
        meta: &FlowMeta,
        reason: EndReason,
        packet: PacketRef,
        out: &mut Vec<Item>,
    ) {
        out.push(Item::Call(Call {
            worker: self.worker,
            meta: meta.clone(),
            what: What::End { reason, packet },
        }));
    }
}

/// Calls gathered before they are handed to the workers, and the order released with them:
/// large enough that a batch costs little to send, small enough that the workers start early
/// and the batches in flight stay small.
const EPOCH_CALLS: usize = 2048;
const EPOCH_BYTES: usize = 1 << 20;
/// Batches waiting in each channel (each way) before the sender waits: enough to keep a worker
/// busy while the main thread reads, few enough to bound memory.
const CHANNEL_BATCHES: usize = 4;

/// What the main thread sends a worker.
enum Input {
    Calls(Vec<Call>),
    /// TLS secrets the capture carries, at their place among the calls.
    Secrets(Arc<Vec<u8>>),
}

struct Worker {
    calls: Option<SyncSender<Input>>,
    results: Option<Receiver<Results>>,
    batch: Vec<Call>,
    thread: Option<JoinHandle<()>>,
}

/// The main thread's side of `-j N`: hands calls to the workers, merges their results in order
/// into the sink, and adds up the connections the workers counted.
pub struct Dispatch<'a> {
    sink: &'a mut dyn Sink,
    workers: Vec<Worker>,
    /// Items whose calls are still in the workers' batches (not yet sent).
    epoch: Vec<Order>,
    epoch_bytes: usize,
    merge: Merge,
    counts: CaptureSummary,
}

impl<'a> Dispatch<'a> {
    /// Start `n` workers for connections dissected with `cfg`, and TLS secrets from `keys` (the
    /// key log's text).
    pub fn start(
        n: usize,
        cfg: Arc<DissectConfig>,
        keys: Option<Arc<Vec<u8>>>,
        sink: &'a mut dyn Sink,
    ) -> io::Result<Dispatch<'a>> {
        let render = sink.renderer();
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (calls_tx, calls_rx) = mpsc::sync_channel(CHANNEL_BATCHES);
            let (results_tx, results_rx) = mpsc::sync_channel(CHANNEL_BATCHES);
            let job = worker::Job {
                cfg: cfg.clone(),
                keys: keys.clone(),
                render,
            };
            let thread = std::thread::Builder::new()
                .name(format!("wsdissect-{i}"))
                .spawn(move || job.run(calls_rx, results_tx))?;
            workers.push(Worker {
                calls: Some(calls_tx),
                results: Some(results_rx),
                batch: Vec::new(),
                thread: Some(thread),
            });
        }
        Ok(Dispatch {
            sink,
            merge: Merge::new(n),
            workers,
            epoch: Vec::new(),
            epoch_bytes: 0,
            counts: CaptureSummary::default(),
        })
    }

    pub fn sink(&mut self) -> &mut dyn Sink {
        self.sink
    }

    /// Take the items of a packet (or part of one): main events and calls, in order.
    pub fn take(&mut self, items: &mut Vec<Item>) -> io::Result<()> {
        for item in items.drain(..) {
            match item {
                Item::Main(e) => self.epoch.push(Order::Main(Box::new(e))),
                Item::Call(call) => {
                    self.epoch_bytes += call.weight();
                    self.epoch.push(Order::Call(call.worker));
                    self.workers[call.worker].batch.push(call);
                }
            }
        }
        if self.epoch.len() >= EPOCH_CALLS || self.epoch_bytes >= EPOCH_BYTES {
            self.release()?;
        }
        Ok(())
    }

    /// TLS secrets from the capture: every worker learns them after the calls so far, as the
    /// one-thread pipeline does.
    pub fn secrets(&mut self, text: &[u8]) -> io::Result<()> {
        self.release()?;
        let text = Arc::new(text.to_vec());
        for w in 0..self.workers.len() {
            self.send(w, Input::Secrets(text.clone()))?;
        }
        Ok(())
    }

    /// Send the gathered batches to their workers, then let the merge have their order; write
    /// whatever results are ready.
    fn release(&mut self) -> io::Result<()> {
        for w in 0..self.workers.len() {
            if !self.workers[w].batch.is_empty() {
                let batch = std::mem::take(&mut self.workers[w].batch);
                self.send(w, Input::Calls(batch))?;
            }
        }
        self.merge.release(self.epoch.drain(..));
        self.epoch_bytes = 0;
        while self.step(false)? {}
        Ok(())
    }

    /// Send to worker `w`; while its channel is full, merge (which waits only on results of
    /// calls already sent, so this always moves on).
    fn send(&mut self, w: usize, mut input: Input) -> io::Result<()> {
        loop {
            let Some(tx) = &self.workers[w].calls else {
                return Err(gone());
            };
            match tx.try_send(input) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(back)) => {
                    input = back;
                    if !self.step(true)? {
                        // Nothing left to merge: the worker is busy with calls whose results
                        // are merged already; wait for room.
                        let tx = self.workers[w].calls.as_ref().ok_or_else(gone)?;
                        return tx.send(input).map_err(|_| self.failed(w));
                    }
                }
                Err(TrySendError::Disconnected(_)) => return Err(self.failed(w)),
            }
        }
    }

    /// One step of the merge: the next item to the sink, when its result is there (or, with
    /// `wait`, once it is). False when nothing could be written.
    fn step(&mut self, wait: bool) -> io::Result<bool> {
        let Dispatch {
            sink,
            workers,
            merge,
            counts,
            ..
        } = self;
        let mut fetch = |w: usize| -> Result<Option<Results>, usize> {
            let rx = workers[w].results.as_ref().ok_or(w)?;
            let got = if wait {
                rx.recv().map_err(|_| w)
            } else {
                match rx.try_recv() {
                    Ok(r) => Ok(r),
                    Err(TryRecvError::Empty) => return Ok(None),
                    Err(TryRecvError::Disconnected) => Err(w),
                }
            };
            let results = got?;
            add_counts(counts, &results.counts);
            Ok(Some(results))
        };
        match merge.step(&mut fetch, *sink) {
            Ok(wrote) => Ok(wrote),
            Err(merge::Failed::Output(e)) => Err(e),
            Err(merge::Failed::Worker(w)) => Err(self.failed(w)),
        }
    }

    /// End of input: every call to its worker, every result to the sink. Returns the
    /// connections the workers counted (`websocket_connections`, `tls_*`).
    pub fn finish(&mut self) -> io::Result<CaptureSummary> {
        self.release()?;
        while self.step(true)? {}
        self.stop();
        Ok(self.counts.clone())
    }

    /// A worker stopped early: it panicked (the panic goes on here, as it would have with one
    /// thread), or its channel is gone.
    fn failed(&mut self, w: usize) -> io::Error {
        self.workers[w].calls = None;
        self.workers[w].results = None;
        if let Some(t) = self.workers[w].thread.take() {
            if let Err(panic) = t.join() {
                std::panic::resume_unwind(panic);
            }
        }
        gone()
    }

    /// Close the channels and wait for the workers: a worker waiting to send sees its receiver
    /// gone and stops.
    fn stop(&mut self) {
        for w in &mut self.workers {
            w.calls = None;
            w.results = None;
        }
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                // A panic after the output was complete (or after an output error) changes
                // nothing more.
                let _ = t.join();
            }
        }
    }
}

impl Drop for Dispatch<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

fn gone() -> io::Error {
    io::Error::other("a worker thread stopped")
}

/// Add the connection counts of `from` (what a worker counted) to `into`.
fn add_counts(into: &mut CaptureSummary, from: &CaptureSummary) {
    into.websocket_connections += from.websocket_connections;
    into.tls_connections += from.tls_connections;
    into.tls_decrypted += from.tls_decrypted;
}
