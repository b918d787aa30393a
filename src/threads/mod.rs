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
//! back in parts bounded by bytes (one call's output split between parts if need be), a worker
//! waits while too many of its bytes are unwritten, and the main thread merges whenever it
//! would otherwise wait.

mod merge;
mod worker;

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::base::{ConnId, PacketRef};
use crate::conversation::DissectConfig;
use crate::event::{CaptureSummary, Event};
use crate::output::Sink;
use crate::tcp::{Application, EndReason, FlowMeta, StreamEvent};

pub use merge::{Merge, Order, Output, Results};

/// The threads a run was given: `-j N`, or one per core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// `-j N`: N threads, whatever the output.
    Asked(usize),
    /// No `-j`: one thread per core where the workers render the output (NDJSON). A view that
    /// renders its own events (text, `-v`, table, conversation, the report, any filter) runs
    /// on one thread: its rendering stays on the main thread, and the events' trip from the
    /// workers cost more than the workers saved (on `many-connections.pcap` the text view took
    /// 0.46 s of wall clock and 0.66 s of CPU with two threads, 0.38 s and 0.38 s with one:
    /// docs/performance.md, "Threads").
    PerCore(usize),
}

impl Default for Threads {
    fn default() -> Threads {
        Threads::Asked(1)
    }
}

impl Threads {
    /// The threads to run with, for an output the workers can render or not.
    pub fn for_output(self, rendered_by_workers: bool) -> usize {
        match self {
            Threads::Asked(n) => n,
            Threads::PerCore(n) if rendered_by_workers => n,
            Threads::PerCore(_) => 1,
        }
    }
}

/// The threads a run uses: `asked` (`-j N`), else one per core; one for a live capture, whose
/// packets come at the pace of the network (one thread keeps up, and shows each at once).
pub fn resolve(asked: Option<u64>, live: bool) -> Threads {
    if live {
        return Threads::Asked(1);
    }
    match asked {
        Some(n) => Threads::Asked(usize::try_from(n).unwrap_or(usize::MAX).min(MAX_THREADS)),
        None => Threads::PerCore(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// More threads than this only cost memory (each holds batches in flight).
const MAX_THREADS: usize = 256;

/// What a pipeline run with worker threads reports, in order: its own events (diagnostics about
/// packets and the capture), and calls into connections, whose events the workers make.
pub enum Item {
    /// Boxed: these are rare, and an event is more than twice the size of a call, which every
    /// packet's item would otherwise be moved as.
    Main(Box<Event>),
    Call(Call),
}

impl From<Event> for Item {
    fn from(e: Event) -> Item {
        Item::Main(Box::new(e))
    }
}

/// One call the flow table made into a connection's application, to be made again on the
/// connection's worker.
pub struct Call {
    pub worker: usize,
    pub conn: ConnId,
    /// The connection's place in its worker's table (the main thread deals the places out, so
    /// the worker needs no hash table).
    pub slot: u32,
    pub meta: Meta,
    pub what: What,
}

/// The connection's addresses and roles: with its first call, and again when they change (the
/// SYN says who the client is); the worker keeps them in between.
pub enum Meta {
    /// The connection's first call: its worker starts a fresh connection in the slot.
    First(Box<FlowMeta>),
    Changed(Box<FlowMeta>),
    Unchanged,
}

/// [`Application::on_stream`] or [`Application::on_end`].
pub enum What {
    Stream {
        side: usize,
        /// The event; for `Data` its bytes are the next `len` of the batch's bytes (the
        /// event's own slice is empty).
        event: StreamEvent<'static>,
        len: usize,
    },
    End {
        reason: EndReason,
        packet: PacketRef,
    },
    /// The connection has been quiet: its worker compacts it (idle memory, issue 14).
    Compact,
}

impl Call {
    /// What the call costs in a batch: its bytes, and about its own size.
    fn weight(&self) -> usize {
        match &self.what {
            What::Stream { len, .. } => len + 64,
            What::End { .. } | What::Compact => 64,
        }
    }
}

/// The stream event without its bytes, which go to `bytes`; how many there were.
fn detach(event: StreamEvent<'_>, bytes: &mut Vec<u8>) -> (StreamEvent<'static>, usize) {
    match event {
        StreamEvent::Data {
            offset,
            bytes: data,
            packet,
        } => {
            bytes.extend_from_slice(data);
            let event = StreamEvent::Data {
                offset,
                bytes: &[],
                packet,
            };
            (event, data.len())
        }
        StreamEvent::Gap {
            offset,
            len,
            packet,
            cause,
        } => {
            let event = StreamEvent::Gap {
                offset,
                len,
                packet,
                cause,
            };
            (event, 0)
        }
        StreamEvent::OverlapConflict {
            offset,
            len,
            packet,
            first_replaced,
        } => {
            let event = StreamEvent::OverlapConflict {
                offset,
                len,
                packet,
                first_replaced,
            };
            (event, 0)
        }
        StreamEvent::Note { note, packet } => (StreamEvent::Note { note, packet }, 0),
    }
}

/// What the proxies of one worker's connections share on the main thread.
#[derive(Default)]
pub struct Lane {
    /// The stream bytes of the calls not yet sent: the proxies append, the dispatch sends them
    /// with their batch of calls. One buffer per batch instead of a vector per call: the
    /// allocations, and their frees on another thread, cost more than the copy.
    bytes: Vec<u8>,
    /// Places in the worker's table of connections that no connection holds.
    free: Vec<u32>,
    /// Places never dealt out start here.
    next: u32,
}

impl Lane {
    fn take_slot(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }
}

/// One [`Lane`] per worker (all on the main thread).
pub type Pending = Rc<RefCell<Vec<Lane>>>;

/// The stand-in application on the main thread: it records each call for the worker that owns
/// the connection. Small: one is kept per open connection (issue 14).
pub struct Proxy {
    lanes: Pending,
    /// The connection's place in its worker's table: its own from the proxy's start to its
    /// drop (after its flow ended), so the worker's copy is gone before the place is dealt out
    /// again.
    slot: u32,
    worker: u16,
    /// The `client_side` the worker has for this connection (None: nothing sent yet).
    sent: Option<Option<u8>>,
}

impl Proxy {
    /// The connection's worker: connections are dealt to the workers by id, round robin, so
    /// captures of many connections spread evenly.
    pub fn for_connection(meta: &FlowMeta, lanes: Pending) -> Proxy {
        let workers = lanes.borrow().len().max(1) as u64;
        let worker = (meta.id.0 % workers) as usize;
        let slot = lanes.borrow_mut()[worker].take_slot();
        Proxy {
            lanes,
            slot,
            // Dispatch::start caps the workers at MAX_THREADS.
            worker: worker as u16,
            sent: None,
        }
    }

    fn call(&mut self, meta: &FlowMeta, what: What) -> Item {
        // A side is 0 or 1.
        let side = meta.client_side.map(|s| s as u8);
        let update = match self.sent {
            None => Meta::First(Box::new(meta.clone())),
            Some(sent) if sent != side => Meta::Changed(Box::new(meta.clone())),
            Some(_) => Meta::Unchanged,
        };
        self.sent = Some(side);
        Item::Call(Call {
            worker: usize::from(self.worker),
            conn: meta.id,
            slot: self.slot,
            meta: update,
            what,
        })
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
        let worker = usize::from(self.worker);
        let (event, len) = detach(event, &mut self.lanes.borrow_mut()[worker].bytes);
        out.push(self.call(meta, What::Stream { side, event, len }));
    }

    fn on_end(
        &mut self,
        meta: &FlowMeta,
        reason: EndReason,
        packet: PacketRef,
        out: &mut Vec<Item>,
    ) {
        out.push(self.call(meta, What::End { reason, packet }));
    }

    fn compact(&mut self, meta: &FlowMeta, out: &mut Vec<Item>) {
        out.push(self.call(meta, What::Compact));
    }
}

impl Drop for Proxy {
    /// The place goes back to be dealt out again: any later call for it comes after this
    /// connection's last one, and the next connection's first call starts it afresh.
    fn drop(&mut self) {
        let mut lanes = self.lanes.borrow_mut();
        lanes[usize::from(self.worker)].free.push(self.slot);
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
/// A batch's input is bounded, but not what it makes (with whole messages kept, one packet can
/// complete sixty messages of 1 MiB: `bench/bomb.py`). So a worker hands its results over in
/// parts of about this many bytes (events with their payloads, or the bytes rendered from
/// them), splitting one call's output between parts when it must...
const RESULTS_PART: usize = 1 << 20;
/// ...and waits before handing over more while this many bytes of its results are not written
/// yet (a part always goes through when none are held, so it never waits for nothing). A
/// worker then holds one call's events, as one thread does, and the parts in flight.
const RESULTS_HELD: usize = 4 << 20;

/// The bytes of a worker's results that the main thread holds and has not written yet.
#[derive(Default)]
struct Held {
    state: Mutex<HeldState>,
    written: Condvar,
}

#[derive(Default)]
struct HeldState {
    bytes: usize,
    /// The main thread stopped reading: nobody waits any more.
    closed: bool,
}

impl Held {
    /// On the worker: wait until `weight` more bytes fit (they always do when none are held),
    /// and count them. False when the main thread has stopped.
    fn reserve(&self, weight: usize) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !state.closed && state.bytes > 0 && state.bytes + weight > RESULTS_HELD {
            state = self
                .written
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.bytes += weight;
        !state.closed
    }

    /// On the main thread: results of `weight` bytes are written.
    fn release(&self, weight: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.bytes = state.bytes.saturating_sub(weight);
        self.written.notify_one();
    }

    fn close(&self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = true;
        self.written.notify_all();
    }
}

/// How long [`Dispatch::merge`] waits for the workers' results.
#[derive(Clone, Copy)]
enum Wait {
    /// Only what is there already.
    Never,
    /// For the next item's, then what is there.
    ForOne,
    /// For every item's (the end of the input).
    ForAll,
}

/// What the main thread sends a worker.
enum Input {
    /// Calls, and the stream bytes of their `Data` events one after the other; `out` is a
    /// buffer for the rendered output, from results already written.
    Calls {
        calls: Vec<Call>,
        bytes: Vec<u8>,
        out: Option<Vec<u8>>,
    },
    /// TLS secrets the capture carries, at their place among the calls.
    Secrets(Arc<Vec<u8>>),
}

struct Worker {
    calls: Option<SyncSender<Input>>,
    results: Option<Receiver<Results>>,
    held: Arc<Held>,
    batch: Vec<Call>,
    /// Output buffers of results already written, for the worker to fill again.
    spare_out: Vec<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

/// Buffers kept for use again, per pool: input buffers as many as can be in flight; output
/// buffers a few, since a batch takes one and its results may come in several parts (more
/// would only keep memory the results no longer hold: with one per batch in flight, the peak
/// on many-connections.pcap went from 29 to 52 MiB, and the page faults did not go down). A
/// buffer that grew past [`SPARE_MAX`] (a huge message) is freed instead. Reused buffers save
/// the page faults and zeroing of fresh memory for every batch.
const SPARE_INPUTS: usize = 2 * CHANNEL_BATCHES + 2;
const SPARE_OUTPUTS: usize = 2;
const SPARE_MAX: usize = 2 * RESULTS_PART;

/// Keep `buf` in `pool` (of at most `spares`) for use again, when there is room and it is not
/// too large.
fn recycle(pool: &mut Vec<Vec<u8>>, spares: usize, mut buf: Vec<u8>) {
    if pool.len() < spares && buf.capacity() <= SPARE_MAX {
        buf.clear();
        pool.push(buf);
    }
}

/// The main thread's side of `-j N`: hands calls to the workers, merges their results in order
/// into the sink, and adds up the connections the workers counted.
pub struct Dispatch<'a> {
    sink: &'a mut dyn Sink,
    workers: Vec<Worker>,
    /// Items whose calls are still in the workers' batches (not yet sent).
    epoch: Vec<Order>,
    epoch_bytes: usize,
    pending: Pending,
    /// Emptied input buffers, to take the place of those sent.
    spare_in: Vec<Vec<u8>>,
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
        let n = n.clamp(1, MAX_THREADS);
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (calls_tx, calls_rx) = mpsc::sync_channel(CHANNEL_BATCHES);
            let (results_tx, results_rx) = mpsc::sync_channel(CHANNEL_BATCHES);
            let held = Arc::new(Held::default());
            let job = worker::Job {
                cfg: cfg.clone(),
                keys: keys.clone(),
                render,
                held: held.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("wsdissect-{i}"))
                .spawn(move || job.run(calls_rx, results_tx))?;
            workers.push(Worker {
                calls: Some(calls_tx),
                results: Some(results_rx),
                held,
                batch: Vec::new(),
                spare_out: Vec::new(),
                thread: Some(thread),
            });
        }
        Ok(Dispatch {
            sink,
            merge: Merge::new(n),
            workers,
            epoch: Vec::new(),
            epoch_bytes: 0,
            pending: Rc::new(RefCell::new((0..n).map(|_| Lane::default()).collect())),
            spare_in: Vec::new(),
            counts: CaptureSummary::default(),
        })
    }

    /// What the proxies share: where they put the stream bytes of their calls, and the places
    /// in the workers' tables.
    pub fn pending(&self) -> Pending {
        self.pending.clone()
    }

    pub fn sink(&mut self) -> &mut dyn Sink {
        self.sink
    }

    /// Take the items of a packet (or part of one): main events and calls, in order.
    pub fn take(&mut self, items: &mut Vec<Item>) -> io::Result<()> {
        for item in items.drain(..) {
            match item {
                Item::Main(e) => self.epoch.push(Order::Main(e)),
                Item::Call(call) => {
                    self.epoch_bytes += call.weight();
                    self.epoch.push(Order::Call(call.worker));
                    self.workers[call.worker].batch.push(call);
                }
            }
        }
        // Per call of `take`, not per item: the stream bytes of all these calls are in the
        // lanes already (the flow table hands items on in bounded groups: tcp::flow::SPILL_AT).
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
            let calls = self.workers[w].batch.len();
            if calls > 0 {
                let batch =
                    std::mem::replace(&mut self.workers[w].batch, Vec::with_capacity(calls));
                let fresh = self.spare_in.pop().unwrap_or_default();
                let bytes = std::mem::replace(&mut self.pending.borrow_mut()[w].bytes, fresh);
                let out = self.workers[w].spare_out.pop();
                self.send(
                    w,
                    Input::Calls {
                        calls: batch,
                        bytes,
                        out,
                    },
                )?;
            }
        }
        self.merge.release(self.epoch.drain(..));
        self.epoch_bytes = 0;
        self.merge(Wait::Never)?;
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
                    if !self.merge(Wait::ForOne)? {
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

    /// Merge what is ready into the sink; with [`Wait::ForOne`] wait for the next item's
    /// results first if need be, with [`Wait::ForAll`] for every item's. False when nothing
    /// could be written.
    fn merge(&mut self, wait: Wait) -> io::Result<bool> {
        let mut wrote = false;
        loop {
            let wait_now = match wait {
                Wait::Never => false,
                Wait::ForOne => !wrote,
                Wait::ForAll => true,
            };
            let stepped = self.step(wait_now);
            if !self.merge.spent.is_empty() {
                self.recycle_spent();
            }
            match stepped {
                Ok(true) => wrote = true,
                Ok(false) => return Ok(wrote),
                Err(merge::Failed::Output(e)) => return Err(e),
                Err(merge::Failed::Worker(w)) => return Err(self.failed(w)),
            }
        }
    }

    /// One step of the merge: the next item to the sink, when its result is there (or, with
    /// `wait`, once it is). False when nothing could be written.
    fn step(&mut self, wait: bool) -> Result<bool, merge::Failed> {
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
        merge.step(&mut fetch, *sink)
    }

    /// Results the merge has written: their room goes back to the worker (which may be
    /// waiting for it), their buffers to be filled again.
    fn recycle_spent(&mut self) {
        for (w, spent) in self.merge.spent.drain(..) {
            self.workers[w].held.release(spent.weight());
            if spent.spare.capacity() > 0 {
                recycle(&mut self.spare_in, SPARE_INPUTS, spent.spare);
            }
            if let Output::Bytes(out) = spent.output {
                recycle(&mut self.workers[w].spare_out, SPARE_OUTPUTS, out);
            }
        }
    }

    /// End of input: every call to its worker, every result to the sink. Returns the
    /// connections the workers counted (`websocket_connections`, `tls_*`).
    pub fn finish(&mut self) -> io::Result<CaptureSummary> {
        self.release()?;
        self.merge(Wait::ForAll)?;
        self.stop();
        Ok(self.counts.clone())
    }

    /// A worker stopped early: it panicked (the panic goes on here, as it would have with one
    /// thread), or its channel is gone.
    fn failed(&mut self, w: usize) -> io::Error {
        self.workers[w].calls = None;
        self.workers[w].results = None;
        self.workers[w].held.close();
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
            w.held.close();
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
