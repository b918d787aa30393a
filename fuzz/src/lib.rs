//! Shared pieces of the wsdissect fuzz targets: turning fuzzer bytes into a capture, running the
//! whole pipeline, and the oracles every run is checked against (beyond "no panic"):
//!
//! * text output never contains a raw ESC or BEL byte (payloads reach the terminal escaped);
//! * every JSON output line parses and carries "type" and "conn".

use std::io::{self, Read};
use std::path::PathBuf;

use wsdissect::base::PacketRef;
use wsdissect::capture::file::FileSource;
use wsdissect::conversation::DissectConfig;
use wsdissect::event::Event;
use wsdissect::output::json::JsonSink;
use wsdissect::output::text::{TextOptions, TextSink};
use wsdissect::output::{Collect, Sink};
use wsdissect::ws::record::InflateFailure;

/// A reader that hands out at most `chunk` bytes per call, to exercise the capture reader's
/// refill paths the way a pipe does.
pub struct Chunky {
    data: Vec<u8>,
    at: usize,
    chunk: usize,
}

impl Chunky {
    pub fn new(data: Vec<u8>, chunk: usize) -> Chunky {
        Chunky {
            data,
            at: 0,
            chunk: chunk.max(1),
        }
    }
}

impl Read for Chunky {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Dissection settings picked by one fuzzer byte.
pub fn config_from(b: u8) -> (DissectConfig, usize) {
    let cfg = match b & 3 {
        0 => DissectConfig::default(),
        1 => DissectConfig {
            frame_keep: 4096,
            message_keep: 64 << 20, // --full-payload
            ..DissectConfig::default()
        },
        2 => DissectConfig {
            frame_keep: 0,
            message_keep: 0,
            ..DissectConfig::default()
        },
        _ => DissectConfig {
            frame_keep: 7,
            message_keep: 13,
            ..DissectConfig::default()
        },
    };
    let preview = match (b >> 2) & 3 {
        0 => 64,
        1 => usize::MAX,
        2 => 0,
        _ => 5,
    };
    (cfg, preview)
}

/// Read `capture` as a capture file (through a reader that returns `chunk` bytes at a time),
/// dissect it, and render the events as text and as JSON, checking both.
pub fn run_capture(capture: Vec<u8>, chunk: usize, cfg_byte: u8) {
    run_capture_with_keys(capture, chunk, cfg_byte, None);
}

/// [`run_capture`] with a TLS key log: written to a file of this process (the pipeline reads
/// `DissectConfig::tls_keylog` from a path) and given as `--tls-keylog`.
pub fn run_capture_with_keys(capture: Vec<u8>, chunk: usize, cfg_byte: u8, keylog: Option<&[u8]>) {
    let (mut cfg, preview) = config_from(cfg_byte);
    if let Some(text) = keylog {
        let path =
            std::env::temp_dir().join(format!("wsdissect-fuzz-keylog-{}", std::process::id()));
        let mut text = text.to_vec();
        text.push(b'\n'); // the key file reader takes whole lines only
        std::fs::write(&path, &text).expect("write the key log");
        cfg.tls_keylog = Some(path);
    }
    let open = |capture: Vec<u8>| {
        let reader = Box::new(Chunky::new(capture, chunk));
        FileSource::from_reader(PathBuf::from("fuzz-input"), reader).ok()
    };
    let Some(mut source) = open(capture.clone()) else {
        return;
    };
    let mut events = Collect::default();
    // A capture error part-way is an expected outcome; the events before it are still checked.
    let one = wsdissect::dissect(&mut source, cfg.clone(), &mut events);
    let json = check_outputs(&events, preview);
    // -j 2 gives the same events, and the same JSON rendered on the workers.
    let two = |sink: &mut dyn Sink| {
        let mut source = open(capture.clone()).expect("opened once already");
        let limits = wsdissect::RunLimits {
            threads: wsdissect::threads::Threads::Asked(2),
            ..wsdissect::RunLimits::default()
        };
        wsdissect::dissect_with(&mut source, cfg.clone(), limits, sink)
    };
    let mut threaded = Collect::default();
    let two_events = two(&mut threaded);
    assert_eq!(one.is_ok(), two_events.is_ok(), "-j 2 ended otherwise");
    assert!(events.0 == threaded.0, "-j 2 reported other events");
    let mut threaded_json = Vec::new();
    let _ = two(&mut JsonSink::new(&mut threaded_json, false));
    assert!(json == threaded_json, "-j 2 wrote other JSON");
}

/// Render every event through both sinks and apply the output oracles; returns the JSON.
pub fn check_outputs(events: &Collect, preview: usize) -> Vec<u8> {
    let mut text = Vec::new();
    {
        let mut sink = TextSink::new(
            &mut text,
            TextOptions {
                preview,
                flush_each: false,
                ..TextOptions::default()
            },
        );
        for e in &events.0 {
            sink.event(e).expect("text sink writes to memory");
        }
        sink.finish().expect("text sink flush");
    }
    if let Some(i) = text.iter().position(|&b| b == 0x1b || b == 0x07) {
        let from = i.saturating_sub(80);
        panic!(
            "raw control byte 0x{:02x} in text output: {:?}",
            text[i],
            String::from_utf8_lossy(&text[from..(i + 80).min(text.len())])
        );
    }
    let mut json = Vec::new();
    {
        let mut sink = JsonSink::new(&mut json, false);
        for e in &events.0 {
            sink.event(e).expect("json sink writes to memory");
        }
        sink.finish().expect("json sink flush");
    }
    for line in json.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_else(|e| {
            panic!(
                "JSON line does not parse ({e}): {}",
                String::from_utf8_lossy(line)
            )
        });
        assert!(
            v.get("type").is_some() && v.get("conn").is_some(),
            "JSON line without type/conn: {v}"
        );
    }
    json
}

/// Link types the pcap_mutate target may give the capture, picked by one byte.
pub const LINK_TYPES: [u32; 8] = [1, 113, 276, 0, 101, 108, 228, 229];

/// The link type a selector byte picks: bits 0-2 index [`LINK_TYPES`]; bit 4 picks
/// LINKTYPE_NETANALYZER (240, a 4-byte header and an FCS around each Ethernet frame) instead;
/// bit 5 adds libpcap's FCS bits for a 4-byte FCS (`LT_FCS_DATALINK_EXT(2)`), so Ethernet
/// frames end with one.
pub fn link_type(sel: u8) -> u32 {
    let link = if sel & 0x10 != 0 {
        240
    } else {
        LINK_TYPES[(sel & 7) as usize]
    };
    if sel & 0x20 != 0 {
        link | 0x2400_0000
    } else {
        link
    }
}

/// Largest record the pcap_mutate target writes (the usual snap length).
pub const MAX_CAPLEN: usize = 262_144;

/// Build a valid pcap file from fuzzer bytes: `[link selector] [flags] [records...]`, or, when the
/// link selector has bit 0x40, `[link selector] [flags] [key log len u16 BE] [key log] [records...]`
/// (the key log is returned for the run's `--tls-keylog`). The
/// records are classic pcap record headers and data. Each record's caplen is clamped to the bytes
/// that follow it, so the global header and the record framing stay valid whatever the fuzzer
/// does to the bytes inside packets; origlen is kept as mutated. Returns the file, the flags
/// byte (config and chunking for the run) and the key log.
pub fn pcap_from_records(input: &[u8]) -> Option<(Vec<u8>, u8, Option<&[u8]>)> {
    let (&sel, rest) = input.split_first()?;
    let (&flags, mut rest) = rest.split_first()?;
    let mut keylog = None;
    if sel & 0x40 != 0 {
        let [hi, lo, after @ ..] = rest else {
            return None;
        };
        let (text, after) =
            after.split_at(usize::from(u16::from_be_bytes([*hi, *lo])).min(after.len()));
        keylog = Some(text);
        rest = after;
    }
    let link = link_type(sel);
    let nanos = sel & 0x80 != 0;
    let mut out = Vec::with_capacity(input.len() + 24);
    out.extend_from_slice(&(if nanos { 0xa1b2_3c4du32 } else { 0xa1b2_c3d4 }).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(MAX_CAPLEN as u32).to_le_bytes());
    out.extend_from_slice(&link.to_le_bytes());
    while rest.len() >= 16 {
        let (hdr, body) = rest.split_at(16);
        let word = |i: usize| u32::from_le_bytes([hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]]);
        let caplen = (word(8) as usize).min(body.len()).min(MAX_CAPLEN);
        out.extend_from_slice(&hdr[..8]);
        out.extend_from_slice(&(caplen as u32).to_le_bytes());
        out.extend_from_slice(&hdr[12..16]);
        out.extend_from_slice(&body[..caplen]);
        rest = &body[caplen..];
    }
    Some((out, flags, keylog))
}

/// Read chunk size picked from the flags byte: mostly whole reads, sometimes tiny ones.
pub fn chunk_from(flags: u8) -> usize {
    match flags >> 4 {
        0 => 1,
        1 => 3,
        2 => 17,
        3 => 4096,
        _ => usize::MAX,
    }
}

/// An event with what depends on how the bytes were cut cleared, for comparing a run on whole
/// streams with one on pieces: packet numbers and timestamps (they count the pieces), pong
/// round trips (differences of timestamps), and zlib's wording of why compressed bytes are
/// corrupt (it depends on how much input one inflate call saw, as in ws_session).
pub fn normalized(e: &Event) -> String {
    let none = PacketRef::default();
    let mut e = e.clone();
    match &mut e {
        Event::Connection(c) => c.first_packet = none,
        Event::Handshake(h) => {
            h.exchange.request_packet = none;
            h.exchange.response_packet = none;
        }
        Event::Frame(f) => {
            f.first_packet = none;
            f.last_packet = none;
            f.rtt_ns = None;
        }
        Event::Message(m) => {
            m.first_packet = none;
            m.last_packet = none;
            // zlib's reason depends on how much input one inflate call saw (as in ws_session).
            if let Some(InflateFailure::Corrupt(why)) = m.inflate_error.as_mut() {
                why.clear();
            }
        }
        Event::Gap(g) => g.packet = none,
        Event::TlsRecord(r) => r.packet = none,
        Event::Http2Frame(f) => f.packet = none,
        Event::Http2Request(r) => r.packet = none,
        Event::StreamEnd(s) => s.packet = none,
        Event::ConnectionEnd(c) => c.packet = none,
        Event::Diagnostic(d) => {
            d.packet = None;
            if d.rule.name == "deflate-error" {
                d.message.clear();
            }
        }
        Event::CaptureEnd(_) => {}
    }
    format!("{e:?}")
}
