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
use tcp::{FlowTable, FlowTableLimits};

/// Packets in, events out, for one capture.
pub struct Pipeline {
    /// Link, IP (with fragment reassembly) and TCP headers.
    decoder: net::Decoder,
    /// Diagnostics from the decoder, for the packet at hand.
    notes: Vec<Diagnostic>,
    flows: FlowTable<Connection>,
    /// TLS secrets, shared by every connection.
    keys: Arc<KeyStore>,
    events: Vec<Event>,
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
        let flows = FlowTable::new(
            limits,
            Box::new(move |_| Connection::new(cfg.clone(), shared.clone())),
        );
        Pipeline {
            decoder: net::Decoder::default(),
            notes: Vec::new(),
            flows,
            keys,
            events: Vec::new(),
            summary: CaptureSummary::default(),
            last_packet: PacketRef::default(),
        }
    }

    /// Dissect one packet and hand the events it completes to `sink`.
    pub fn push_packet(&mut self, pkt: &RawPacket<'_>, sink: &mut dyn Sink) -> io::Result<()> {
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
        let notes = self.notes.drain(..).map(Event::Diagnostic);
        self.events.extend(notes);
        match decoded {
            Ok(Some(seg)) => {
                let Pipeline {
                    flows,
                    events,
                    summary,
                    ..
                } = self;
                let mut streamed = Streamed::new(summary, sink);
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
        self.events.push(Event::Diagnostic(Diagnostic {
            conn: ConnId(0),
            stream: None,
            dir: None,
            packet: Some(packet),
            rule: &base::rules::PACKET_SKIPPED,
            message: format!("{reason} (first of its kind; counted in the summary)"),
        }));
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
        self.events.push(Event::Diagnostic(Diagnostic {
            conn: ConnId(0),
            stream: None,
            dir: None,
            packet: Some(first),
            rule: &base::rules::PACKET_CUT_SHORT,
            message,
        }));
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
            self.events.push(capture_diagnostic(
                &base::rules::TLS_KEYLOG_MALFORMED,
                message,
            ));
        }
        if bad.len() > SHOWN {
            let message = format!("{} more malformed key log lines skipped", bad.len() - SHOWN);
            self.events.push(capture_diagnostic(
                &base::rules::TLS_KEYLOG_MALFORMED,
                message,
            ));
        }
    }

    fn drain(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        self.report_malformed_keys();
        emit(&mut self.events, &mut self.summary, sink)
    }

    /// End of input: close every connection and emit the capture summary.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> io::Result<CaptureSummary> {
        self.decoder.finish(&mut self.notes);
        let notes = self.notes.drain(..).map(Event::Diagnostic);
        self.events.extend(notes);
        let Pipeline {
            flows,
            events,
            summary,
            last_packet,
            ..
        } = self;
        let mut streamed = Streamed::new(summary, sink);
        flows.finish(*last_packet, events, &mut |e| streamed.take(e));
        streamed.result?;
        self.report_cut_short();
        self.drain(sink)?;
        self.summary.tcp_connections = self.flows.connections_seen();
        let summary = self.summary.clone();
        sink.event(&Event::CaptureEnd(summary.clone()))?;
        sink.finish()?;
        Ok(summary)
    }
}

/// Hand `events` to `sink` in order, counting the connections shown.
fn emit(
    events: &mut Vec<Event>,
    summary: &mut CaptureSummary,
    sink: &mut dyn Sink,
) -> io::Result<()> {
    for e in events.drain(..) {
        if let Event::Connection(c) = &e {
            summary.count_connection(c);
        }
        sink.event(&e)?;
    }
    Ok(())
}

/// The events a packet completes, streamed to the sink while it is processed (the flow table
/// spills them every `tcp::flow::SPILL_AT`); after an output error the rest are dropped and
/// the error is returned once the packet is done.
struct Streamed<'a> {
    summary: &'a mut CaptureSummary,
    sink: &'a mut dyn Sink,
    result: io::Result<()>,
}

impl<'a> Streamed<'a> {
    fn new(summary: &'a mut CaptureSummary, sink: &'a mut dyn Sink) -> Streamed<'a> {
        Streamed {
            summary,
            sink,
            result: Ok(()),
        }
    }

    fn take(&mut self, events: &mut Vec<Event>) {
        if self.result.is_ok() {
            self.result = emit(events, self.summary, self.sink);
        }
        events.clear();
    }
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

/// Where a run may stop before the input ends, and which packets it reads.
#[derive(Default)]
pub struct RunLimits {
    /// Stop after this many packets (counted after the BPF filter).
    pub max_packets: Option<u64>,
    /// Only packets this filter accepts are dissected.
    pub filter: Option<capture::bpf::FileFilter>,
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
    let keys = Arc::new(KeyStore::new(keys, cfg.live));
    let mut pipeline = Pipeline::with_keys(cfg, FlowTableLimits::default(), keys);
    let mut out_err = None;
    let mut packets = 0u64;
    let mut started = false;
    let read = loop {
        let mut on = |p: &RawPacket<'_>| {
            // Times count from the capture's first packet, whatever the filters leave out.
            if !started {
                started = true;
                sink.capture_start(p.ts);
            }
            if let Some(f) = limits.filter.as_mut() {
                if !f.matches(p.link, p.data) {
                    return;
                }
            }
            packets += 1;
            if out_err.is_none() {
                if let Err(e) = pipeline.push_packet(p, sink) {
                    out_err = Some(e);
                }
            }
        };
        let next = source.next_packet(&mut on);
        if let Some(secrets) = source.take_secrets() {
            pipeline.add_secrets(&secrets);
        }
        match next {
            Ok(true)
                if out_err.is_none()
                    && sink.wants_more()
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
    let summary = pipeline.finish(sink).map_err(RunError::Output)?;
    read.map_err(RunError::Capture)?;
    Ok(summary)
}
