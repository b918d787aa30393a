//! wsdissect: a WebSocket protocol dissector.
//!
//! ```text
//! capture ──► net ──► tcp (flow table, reassembly) ──► conversation ──► Event ──► output
//! (pcap,      (link,   per direction: order, gaps,       HTTP upgrade        text · NDJSON
//!  pcapng,     IP,     retransmissions, overlaps)        (http), frames,
//!  live)       TCP)                                      messages (ws)
//! ```
//!
//! Every stage is a plain value transformer; only `capture`, `output` and the binary touch the
//! outside world. The [`Pipeline`] drives packets through to a [`output::Sink`].

#![forbid(unsafe_code)]

pub mod base;
pub mod capture;
pub mod conversation;
pub mod decode;
pub mod event;
pub mod h2;
pub mod http;
pub mod net;
pub mod output;
pub mod tcp;
pub mod threads;
pub mod tls;
pub mod ws;

use std::io;
use std::sync::Arc;

use base::{ConnId, Diagnostic, PacketRef};
use capture::keyfile::KeyFile;
use capture::{CaptureError, PacketSource, RawPacket};
use conversation::{Connection, DissectConfig, KeyStore};
use event::{CaptureSummary, Event};
use output::Sink;
use tcp::{Application, FlowMeta, FlowTable, FlowTableLimits};
use threads::{Dispatch, Item, Proxy};

/// Where a pipeline hands what it reports, in order: a sink (one thread), or the worker
/// threads of `-j N` ([`threads::Dispatch`]).
pub trait Deliver<E> {
    /// Take `events`, leaving the vector empty.
    fn deliver(&mut self, events: &mut Vec<E>) -> io::Result<()>;
}

/// Any sink takes events as they are (no counting: [`Pipeline::finish`] then leaves the
/// summary's connection counts at zero).
impl<S: Sink + ?Sized> Deliver<Event> for S {
    fn deliver(&mut self, events: &mut Vec<Event>) -> io::Result<()> {
        let shown = events.iter_mut().try_for_each(|e| {
            self.event(e)?;
            e.recycle();
            Ok(())
        });
        events.clear();
        shown
    }
}

/// One thread: events straight to the sink, the connections shown counted on the way.
pub struct ToSink<'a> {
    pub sink: &'a mut dyn Sink,
    /// `websocket_connections` and `tls_*`: what the connection events shown say.
    pub counts: CaptureSummary,
}

impl Deliver<Event> for ToSink<'_> {
    fn deliver(&mut self, events: &mut Vec<Event>) -> io::Result<()> {
        // Rendered in place and dropped together: an event is not moved out to be rendered.
        let shown = events.iter_mut().try_for_each(|e| {
            if let Event::Connection(c) = e {
                self.counts.count_connection(c);
            }
            self.sink.event(e)?;
            e.recycle();
            Ok(())
        });
        events.clear();
        shown
    }
}

impl Deliver<Item> for Dispatch<'_> {
    fn deliver(&mut self, items: &mut Vec<Item>) -> io::Result<()> {
        self.take(items)
    }
}

/// Packets in, events out, for one capture. `A` is what runs above TCP on each connection:
/// the [`Connection`] itself, or with worker threads its stand-in ([`threads::Proxy`]).
pub struct Pipeline<A: Application = Connection> {
    /// Link, IP (with fragment reassembly) and TCP headers.
    decoder: net::Decoder,
    /// Diagnostics from the decoder, for the packet at hand.
    notes: Vec<Diagnostic>,
    flows: FlowTable<A>,
    /// TLS secrets, shared by every connection.
    keys: Arc<KeyStore>,
    events: Vec<A::Event>,
    /// Counts so far, skipped packets (by reason, in order of first occurrence) included.
    summary: CaptureSummary,
    last_packet: PacketRef,
}

impl Pipeline {
    pub fn new(cfg: DissectConfig, limits: FlowTableLimits) -> Pipeline {
        Pipeline::with_keys(cfg, limits, Arc::new(KeyStore::default()))
    }

    /// A pipeline that decrypts TLS with `keys`.
    pub fn with_keys(cfg: DissectConfig, limits: FlowTableLimits, keys: Arc<KeyStore>) -> Pipeline {
        let cfg = Arc::new(cfg);
        let shared = keys.clone();
        Pipeline::with_app(
            limits,
            keys,
            Box::new(move |_| Connection::new(cfg.clone(), shared.clone())),
        )
    }
}

impl<A: Application> Pipeline<A>
where
    A::Event: From<Event>,
{
    /// A pipeline whose connections run `new_app`'s applications; `keys` only collects the
    /// key log's malformed lines for the warnings.
    pub fn with_app(
        limits: FlowTableLimits,
        keys: Arc<KeyStore>,
        new_app: Box<dyn FnMut(&FlowMeta) -> A>,
    ) -> Pipeline<A> {
        Pipeline {
            decoder: net::Decoder::default(),
            notes: Vec::new(),
            flows: FlowTable::new(limits, new_app),
            keys,
            events: Vec::new(),
            summary: CaptureSummary::default(),
            last_packet: PacketRef::default(),
        }
    }

    /// Dissect one packet and hand what it completes to `sink`.
    pub fn push_packet(
        &mut self,
        pkt: &RawPacket<'_>,
        sink: &mut dyn Deliver<A::Event>,
    ) -> io::Result<()> {
        let packet = PacketRef {
            number: pkt.number,
            ts: pkt.ts,
        };
        self.last_packet = packet;
        self.summary.packets += 1;
        self.summary.bytes += u64::from(pkt.orig_len);
        if (pkt.data.len() as u64) < u64::from(pkt.orig_len) {
            self.summary.cut_short += 1;
            self.summary.first_cut_short.get_or_insert(packet);
        }
        let decoded =
            self.decoder
                .decode(pkt.link, pkt.data, pkt.orig_len, packet, &mut self.notes);
        let notes = self.notes.drain(..).map(|n| Event::Diagnostic(n).into());
        self.events.extend(notes);
        match decoded {
            Ok(Some(seg)) => {
                let Pipeline { flows, events, .. } = self;
                let mut streamed = Streamed::new(sink);
                flows.process(&seg, packet, events, &mut |e| streamed.take(e));
                streamed.result?;
            }
            Ok(None) => {}
            Err(reason) => self.skipped(reason, packet),
        }
        self.drain(sink)
    }

    /// A packet that is not TCP over IP: counted by reason; the first of each reason is shown.
    fn skipped(&mut self, reason: net::SkipReason, packet: PacketRef) {
        // Compared as values: no string is built for a skipped packet after the first.
        let skipped = &mut self.summary.skipped;
        if let Some((_, n)) = skipped.iter_mut().find(|(r, _)| *r == reason) {
            *n += 1;
            return;
        }
        self.events.push(
            Event::Diagnostic(Diagnostic {
                conn: ConnId(0),
                stream: None,
                dir: None,
                packet: Some(packet),
                rule: &base::rules::PACKET_SKIPPED,
                message: format!("{reason} (first of its kind; counted in the summary)"),
            })
            .into(),
        );
        skipped.push((reason, 1));
    }

    /// Packets cut short by the snapshot length: one warning, at the end, with their count
    /// (one line however many there are; the summary carries the count too).
    fn report_cut_short(&mut self) {
        let (n, Some(first)) = (self.summary.cut_short, self.summary.first_cut_short) else {
            return;
        };
        let message = format!(
            "{n} packet{} cut short by the capture's snapshot length (the first: packet {}); the bytes cut off are gaps in their streams",
            if n == 1 { " was" } else { "s were" },
            first.number
        );
        self.events.push(
            Event::Diagnostic(Diagnostic {
                conn: ConnId(0),
                stream: None,
                dir: None,
                packet: Some(first),
                rule: &base::rules::PACKET_CUT_SHORT,
                message,
            })
            .into(),
        );
    }

    /// TLS secrets the capture carries (a pcapng Decryption Secrets Block).
    pub fn add_secrets(&mut self, text: &[u8]) {
        self.keys.add(text);
    }

    /// Key log lines that could not be read: a warning each (the first few), then a count.
    fn report_malformed_keys(&mut self) {
        const SHOWN: usize = 10;
        let bad = self.keys.take_malformed();
        for m in bad.iter().take(SHOWN) {
            let message = format!("key log line {}: {}; skipped", m.line, m.why);
            self.events
                .push(capture_diagnostic(&base::rules::TLS_KEYLOG_MALFORMED, message).into());
        }
        if bad.len() > SHOWN {
            let message = format!("{} more malformed key log lines skipped", bad.len() - SHOWN);
            self.events
                .push(capture_diagnostic(&base::rules::TLS_KEYLOG_MALFORMED, message).into());
        }
    }

    fn drain(&mut self, sink: &mut dyn Deliver<A::Event>) -> io::Result<()> {
        self.report_malformed_keys();
        sink.deliver(&mut self.events)
    }

    /// End of input: close every connection and hand on what that completes. Returns the
    /// capture's counts; the connections shown are counted by whoever the events reach.
    pub fn finish(&mut self, sink: &mut dyn Deliver<A::Event>) -> io::Result<CaptureSummary> {
        self.decoder.finish(&mut self.notes);
        let notes = self.notes.drain(..).map(|n| Event::Diagnostic(n).into());
        self.events.extend(notes);
        let Pipeline {
            flows,
            events,
            last_packet,
            ..
        } = self;
        let mut streamed = Streamed::new(sink);
        flows.finish(*last_packet, events, &mut |e| streamed.take(e));
        streamed.result?;
        self.report_cut_short();
        self.drain(sink)?;
        self.summary.tcp_connections = self.flows.connections_seen();
        Ok(self.summary.clone())
    }
}

/// The events a packet completes, streamed on while it is processed (the flow table spills
/// them every `tcp::flow::SPILL_AT`); after an output error the rest are dropped and the error
/// is returned once the packet is done.
struct Streamed<'a, E> {
    sink: &'a mut dyn Deliver<E>,
    result: io::Result<()>,
}

impl<'a, E> Streamed<'a, E> {
    fn new(sink: &'a mut dyn Deliver<E>) -> Streamed<'a, E> {
        Streamed {
            sink,
            result: Ok(()),
        }
    }

    fn take(&mut self, events: &mut Vec<E>) {
        if self.result.is_ok() {
            self.result = self.sink.deliver(events);
        }
        events.clear();
    }
}

/// The summary, with the connections counted where the events went, to the sink; then the
/// sink is finished.
fn end_capture(
    sink: &mut dyn Sink,
    mut summary: CaptureSummary,
    counts: &CaptureSummary,
) -> io::Result<CaptureSummary> {
    summary.websocket_connections = counts.websocket_connections;
    summary.tls_connections = counts.tls_connections;
    summary.tls_decrypted = counts.tls_decrypted;
    sink.event(&Event::CaptureEnd(summary.clone()))?;
    sink.finish()?;
    Ok(summary)
}

/// A diagnostic about the capture as a whole (connection 0), at no packet in particular.
fn capture_diagnostic(rule: &'static base::Rule, message: String) -> Event {
    Event::Diagnostic(Diagnostic {
        conn: ConnId(0),
        stream: None,
        dir: None,
        packet: None,
        rule,
        message,
    })
}

/// Why a run stopped early.
#[derive(Debug)]
pub enum RunError {
    Capture(CaptureError),
    Output(io::Error),
}

/// Read every packet of `source` through a new pipeline into `sink`. A capture error after some
/// packets still finishes the pipeline, so everything decoded before it is reported.
pub fn dissect(
    source: &mut dyn PacketSource,
    cfg: DissectConfig,
    sink: &mut dyn Sink,
) -> Result<CaptureSummary, RunError> {
    dissect_with(source, cfg, RunLimits::default(), sink)
}

/// Where a run may stop before the input ends, which packets it reads, and on how many threads.
#[derive(Default)]
pub struct RunLimits {
    /// Stop after this many packets (counted after the BPF filter).
    pub max_packets: Option<u64>,
    /// Only packets this filter accepts are dissected.
    pub filter: Option<capture::bpf::FileFilter>,
    /// Worker threads for the connections (`-j N`, module [`threads`]); 0 or 1: one thread
    /// does everything. A live capture, or a sink that may stop early (`-c N`), runs on one
    /// thread whatever this says: the output is the same either way.
    pub threads: threads::Threads,
}

/// [`dissect`], with limits. Also stops when the sink has what it wants (`-c N`).
pub fn dissect_with(
    source: &mut dyn PacketSource,
    cfg: DissectConfig,
    mut limits: RunLimits,
    sink: &mut dyn Sink,
) -> Result<CaptureSummary, RunError> {
    let keys = match &cfg.tls_keylog {
        Some(path) => Some(KeyFile::open(path).map_err(RunError::Capture)?),
        None => None,
    };
    let threads = limits.threads.for_output(sink.renderer().is_some());
    if threads > 1 && !cfg.live {
        return dissect_threaded(threads, source, cfg, limits, sink, keys);
    }
    let keys = Arc::new(KeyStore::new(keys, cfg.live));
    let mut pipeline = Pipeline::with_keys(cfg, FlowTableLimits::default(), keys);
    let mut out = ToSink {
        sink,
        counts: CaptureSummary::default(),
    };
    let (summary, read) = read_all(source, &mut limits, &mut pipeline, &mut out)?;
    let summary = end_capture(out.sink, summary, &out.counts).map_err(RunError::Output)?;
    read.map_err(RunError::Capture)?;
    Ok(summary)
}

/// [`dissect_with`] on `limits.threads` workers: the same output, byte for byte.
fn dissect_threaded(
    n: usize,
    source: &mut dyn PacketSource,
    cfg: DissectConfig,
    mut limits: RunLimits,
    sink: &mut dyn Sink,
    keys: Option<(KeyFile, Vec<u8>)>,
) -> Result<CaptureSummary, RunError> {
    let text = keys.as_ref().map(|(_, text)| Arc::new(text.clone()));
    // The main thread's key store only collects malformed lines for the warnings.
    let store = Arc::new(KeyStore::new(keys, false));
    let mut out = Dispatch::start(n, Arc::new(cfg), text, sink).map_err(RunError::Output)?;
    let pending = out.pending();
    let mut pipeline = Pipeline::with_app(
        FlowTableLimits::default(),
        store,
        Box::new(move |meta| Proxy::for_connection(meta, pending.clone())),
    );
    let (summary, read) = read_all(source, &mut limits, &mut pipeline, &mut out)?;
    let counts = out.finish().map_err(RunError::Output)?;
    let summary = end_capture(out.sink(), summary, &counts).map_err(RunError::Output)?;
    read.map_err(RunError::Capture)?;
    Ok(summary)
}

/// What a pipeline's events go to, besides the events: the sink (when the capture starts,
/// whether it wants more) and the capture's TLS secrets.
pub trait Downstream<E>: Deliver<E> {
    fn sink(&mut self) -> &mut dyn Sink;
    /// TLS secrets the capture carries, after the events so far.
    fn secrets(&mut self, _text: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

impl Downstream<Event> for ToSink<'_> {
    fn sink(&mut self) -> &mut dyn Sink {
        self.sink
    }
}

impl Downstream<Item> for Dispatch<'_> {
    fn sink(&mut self) -> &mut dyn Sink {
        Dispatch::sink(self)
    }
    fn secrets(&mut self, text: &[u8]) -> io::Result<()> {
        Dispatch::secrets(self, text)
    }
}

/// Every packet of `source` through `pipeline` to `out`, then the end of every connection.
/// Returns the capture's counts and how reading ended.
fn read_all<A: Application>(
    source: &mut dyn PacketSource,
    limits: &mut RunLimits,
    pipeline: &mut Pipeline<A>,
    out: &mut dyn Downstream<A::Event>,
) -> Result<(CaptureSummary, Result<(), CaptureError>), RunError>
where
    A::Event: From<Event>,
{
    let mut out_err = None;
    let mut packets = 0u64;
    let mut started = false;
    let read = loop {
        let mut on = |p: &RawPacket<'_>| {
            // Times count from the capture's first packet, whatever the filters leave out.
            if !started {
                started = true;
                out.sink().capture_start(p.ts);
            }
            if let Some(f) = limits.filter.as_mut() {
                if !f.matches(p.link, p.data) {
                    return;
                }
            }
            packets += 1;
            if out_err.is_none() {
                if let Err(e) = pipeline.push_packet(p, out) {
                    out_err = Some(e);
                }
            }
        };
        let next = source.next_packet(&mut on);
        if let Some(secrets) = source.take_secrets() {
            pipeline.add_secrets(&secrets);
            if let Err(e) = out.secrets(&secrets) {
                out_err.get_or_insert(e);
            }
        }
        match next {
            Ok(true)
                if out_err.is_none()
                    && out.sink().wants_more()
                    && limits.max_packets.is_none_or(|m| packets < m) =>
            {
                continue
            }
            Ok(_) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    if let Some(e) = out_err {
        return Err(RunError::Output(e));
    }
    let summary = pipeline.finish(out).map_err(RunError::Output)?;
    Ok((summary, read))
}
