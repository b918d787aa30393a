//! Message-level differential test against tshark: every data message tshark shows (unmasked,
//! reassembled, inflated) against what the senders logged (samples/*.expected.json), and the same
//! for wsdissect. wsdissect must agree with the senders everywhere; tshark's disagreements must
//! be exactly the documented list `TSHARK_DISAGREEMENTS` (docs/tshark.md explains each one), so
//! a tshark upgrade that fixes or changes one of them makes this test fail and asks for a look.
//!
//! Needs tshark, so the tests are `#[ignore]`d: scripts/test.sh runs them with `--ignored` when
//! tshark is there and otherwise reports them as skipped (a failure under `CI=true`).
//!
//! Besides the committed samples it runs tshark on three variants made at test time:
//! py-reorder.pcap with tshark's default TCP preferences, node-fragments.pcap cut in the middle of
//! a frame, and a small hand-made capture (interleaved fragmented messages in both directions,
//! and a message ended by an empty final fragment), whose truth is the frames written into it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{
    dissect_bytes, dissect_full, filter_pcap, repo, samples_with_expectations, sha256_hex,
};
use wsdissect::event::Event;

/// How tshark shows a message differently from what its sender logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// An empty message compressed to the single byte `00` (RFC 7692 §7.2.3.6): tshark inflates
    /// it to nothing, then shows the compressed byte as the payload (1 byte instead of 0).
    EmptyCompressedShownAsRawByte,
    /// A compressed message sent in several frames: tshark reassembles the fragments but does not
    /// inflate the result; it shows the deflate bytes.
    CompressedFragmentsNotInflated,
    /// tshark's expert info "Decompression failed" instead of a payload.
    DecompressionFailed,
    /// A masked payload over 256 KiB: tshark unmasks (and shows) only the first 262144 bytes.
    UnmaskedOnly256KiB,
    /// A fragmented message whose final frame is empty: tshark never completes it.
    EmptyFinalFragmentIgnored,
    /// The next fragmented message after such an unfinished one: tshark prepends the earlier
    /// fragments to it.
    JoinedWithEarlierFragments,
    /// Right bytes, wrong message type (the opcode of the other direction's fragmented message).
    WrongOpcode,
    /// tshark shows a message at this place, with other bytes (mis-parsed stream).
    Garbled,
    /// tshark shows no message for this one.
    Missing,
    /// tshark shows this many data messages the sender never sent (dir row, no message index).
    Extra(usize),
}

/// (capture or variant, connection index in expected.json, direction, message index within that
/// direction (0-based, as in expected.json), kind). Row for `Extra`: no message index.
type Row = (&'static str, usize, &'static str, Option<usize>, Kind);

const REORDER_DEFAULT: &str = "py-reorder.pcap (tshark default prefs)";
const CUT: &str = "node-fragments.pcap (cut: packets 29.., -d tcp.port==8080,websocket)";
const HAND_MADE: &str = "hand-made: interleaved fragments, empty final fragment";

/// tshark 4.0.17's disagreements with the senders' logs (and, for the hand-made capture, with the
/// frames written into it), with `-o tcp.reassemble_out_of_order:TRUE` unless the name says
/// otherwise. See docs/tshark.md.
const TSHARK_DISAGREEMENTS: &[Row] = {
    use Kind::*;
    &[
        (
            "chromium-echo.pcapng",
            0,
            "c2s",
            Some(2),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "chromium-echo.pcapng",
            0,
            "s2c",
            Some(2),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "node-deflate.pcap",
            0,
            "c2s",
            Some(6),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "node-deflate.pcap",
            0,
            "c2s",
            Some(7),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "node-deflate.pcap",
            0,
            "c2s",
            Some(11),
            CompressedFragmentsNotInflated,
        ),
        (
            "node-deflate.pcap",
            0,
            "s2c",
            Some(6),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "node-deflate.pcap",
            0,
            "s2c",
            Some(7),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "node-deflate.pcap",
            1,
            "c2s",
            Some(6),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "node-deflate.pcap",
            1,
            "c2s",
            Some(7),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "node-deflate.pcap",
            1,
            "c2s",
            Some(11),
            CompressedFragmentsNotInflated,
        ),
        (
            "node-deflate.pcap",
            1,
            "s2c",
            Some(6),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "node-deflate.pcap",
            1,
            "s2c",
            Some(7),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "node-deflate.pcap",
            2,
            "c2s",
            Some(11),
            CompressedFragmentsNotInflated,
        ),
        (
            "py-deflate.pcap",
            0,
            "c2s",
            Some(2),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "py-deflate.pcap",
            0,
            "s2c",
            Some(2),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "py-deflate.pcap",
            1,
            "c2s",
            Some(2),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "py-deflate.pcap",
            1,
            "s2c",
            Some(2),
            EmptyCompressedShownAsRawByte,
        ),
        ("py-deflate.pcap", 1, "s2c", Some(3), DecompressionFailed),
        ("py-deflate.pcap", 1, "s2c", Some(6), DecompressionFailed),
        ("py-deflate.pcap", 1, "s2c", Some(7), DecompressionFailed),
        ("py-deflate.pcap", 1, "s2c", Some(8), DecompressionFailed),
        (
            "py-deflate.pcap",
            2,
            "c2s",
            Some(2),
            EmptyCompressedShownAsRawByte,
        ),
        (
            "py-deflate.pcap",
            2,
            "s2c",
            Some(2),
            EmptyCompressedShownAsRawByte,
        ),
        ("py-echo.pcap", 0, "c2s", Some(14), UnmaskedOnly256KiB),
        // Variants made at test time.
        (REORDER_DEFAULT, 0, "c2s", Some(9), Missing),
        (REORDER_DEFAULT, 0, "c2s", Some(16), Missing),
        (REORDER_DEFAULT, 0, "c2s", Some(18), Garbled),
        (REORDER_DEFAULT, 0, "c2s", Some(19), Garbled),
        (REORDER_DEFAULT, 0, "c2s", None, Extra(56)),
        (CUT, 0, "c2s", Some(0), Garbled),
        (CUT, 0, "c2s", Some(1), Garbled),
        (CUT, 0, "c2s", None, Extra(22)),
        (HAND_MADE, 0, "c2s", Some(0), WrongOpcode),
        (HAND_MADE, 0, "c2s", Some(1), EmptyFinalFragmentIgnored),
        (HAND_MADE, 0, "c2s", Some(3), JoinedWithEarlierFragments),
    ]
};

/// One data message as tshark shows it.
#[derive(Debug)]
enum Shown {
    Payload {
        opcode: u8,
        bytes: Vec<u8>,
    },
    DecompressionFailed,
    /// A final continuation frame with an empty payload: tshark dissects nothing.
    EmptyFinalIgnored,
    Other(String),
}

#[derive(Debug)]
struct TsMsg {
    packet: u64,
    src: String,
    dst: String,
    shown: Shown,
}

/// A message the sender logged.
#[derive(Debug, Clone)]
struct Want {
    opcode: u8,
    len: u64,
    sha256: String,
    compressed: bool,
    fragments: u64,
}

impl Want {
    fn of(opcode: u8, payload: &[u8]) -> Want {
        Want {
            opcode,
            len: payload.len() as u64,
            sha256: sha256_hex(payload),
            compressed: false,
            fragments: 1,
        }
    }
}

/// A connection's messages per direction, keyed by (client, server).
struct Conn {
    client: String,
    server: String,
    c2s: Vec<Want>,
    s2c: Vec<Want>,
}

impl Conn {
    fn dir(&self, dir: &str) -> &[Want] {
        if dir == "c2s" {
            &self.c2s
        } else {
            &self.s2c
        }
    }
}

fn conns_of(expected: &Value) -> Vec<Conn> {
    expected["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let msgs = |dir: &str| -> Vec<Want> {
                c["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["dir"] == dir)
                    .map(|m| Want {
                        opcode: m["opcode"].as_u64().unwrap() as u8,
                        len: m["len"].as_u64().unwrap(),
                        sha256: m["sha256"].as_str().unwrap().to_string(),
                        compressed: m["compressed"].as_bool().unwrap_or(false),
                        fragments: m["fragments"].as_u64().unwrap_or(1),
                    })
                    .collect()
            };
            Conn {
                client: c["client"].as_str().unwrap().to_string(),
                server: c["server"].as_str().unwrap().to_string(),
                c2s: msgs("c2s"),
                s2c: msgs("s2c"),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// tshark's view
// ---------------------------------------------------------------------------------------------

/// A JSON object with its keys in order, repeated keys kept: tshark's `-T json` (without
/// `--no-duplicate-keys`) repeats `websocket`, `data`, ... once per frame in a packet, in tree
/// order, which is what ties a `data` layer to the WebSocket frame it belongs to.
struct Ordered(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = m.next_entry::<String, Value>()? {
                    v.push(entry);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct Packet {
    #[serde(rename = "_source")]
    source: Source,
}

#[derive(Deserialize)]
struct Source {
    layers: Ordered,
}

fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

/// First value under `key` anywhere inside `v` (depth first).
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(o) => o.get(key).or_else(|| o.values().find_map(|x| find(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

/// The bytes of a `-x` `*_raw` field: `[hex, offset, length, bitmask, type]`.
fn raw_bytes(v: &Value) -> Vec<u8> {
    let hex = v[0].as_str().unwrap();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// Fail unless tshark runs (these tests are `#[ignore]`d: they only run when asked for).
pub fn require_tshark() {
    if let Err(e) = Command::new("tshark").arg("-v").output() {
        panic!("cannot run tshark ({e}): apt-get install tshark");
    }
}

/// Every data message tshark shows, in packet order. `opts` go before `-r`.
fn tshark_messages(capture: &Path, opts: &[&str]) -> Vec<TsMsg> {
    let out = Command::new("tshark")
        .arg("-n")
        .args(opts)
        .arg("-r")
        .arg(capture)
        .args(["-Y", "websocket", "-T", "json", "-x"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let packets: Vec<Packet> = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    let mut msgs = Vec::new();
    for p in packets {
        let layers = p.source.layers.0;
        let layer = |name: &str| layers.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let packet = num(layer("frame").unwrap()["frame.number"].as_str().unwrap());
        let tcp = layer("tcp").unwrap();
        let port = |f: &str| tcp[f].as_str().unwrap().to_string();
        let (src, dst) = if let Some(ip) = layer("ip") {
            (
                format!("{}:{}", ip["ip.src"].as_str().unwrap(), port("tcp.srcport")),
                format!("{}:{}", ip["ip.dst"].as_str().unwrap(), port("tcp.dstport")),
            )
        } else {
            let ip = layer("ipv6").unwrap();
            (
                format!(
                    "[{}]:{}",
                    ip["ipv6.src"].as_str().unwrap(),
                    port("tcp.srcport")
                ),
                format!(
                    "[{}]:{}",
                    ip["ipv6.dst"].as_str().unwrap(),
                    port("tcp.dstport")
                ),
            )
        };
        // Each `websocket` layer, with the top-level items that follow it up to the next one.
        let mut frames: Vec<(&Value, Vec<(&str, &Value)>)> = Vec::new();
        for (k, v) in &layers {
            if k == "websocket" {
                frames.push((v, Vec::new()));
            } else if let Some(f) = frames.last_mut() {
                f.1.push((k, v));
            }
        }
        for (ws, after) in frames {
            let (Some(fin), Some(opcode)) = (
                ws["websocket.fin"].as_str(),
                ws["websocket.opcode"].as_str(),
            ) else {
                continue;
            };
            let opcode = num(opcode) as u8;
            if opcode >= 8 || fin != "1" {
                continue; // control frames, and frames that do not end a message
            }
            let len = [
                "websocket.payload_length_ext_64",
                "websocket.payload_length_ext_16",
            ]
            .iter()
            .find_map(|f| ws[*f].as_str())
            .or(ws["websocket.payload_length"].as_str())
            .map(num)
            .unwrap();
            let data = after
                .iter()
                .find(|(k, _)| *k == "data")
                .and_then(|(_, v)| find(v, "data.data_raw"));
            let failed = after.iter().any(|(k, v)| {
                k.contains("Decompression failed")
                    || find(v, "_ws.expert.message")
                        .is_some_and(|m| m.as_str() == Some("Decompression failed"))
            });
            let shown = if let Some(text) = find(ws, "websocket.payload.text_raw") {
                Shown::Payload {
                    opcode: 1,
                    bytes: raw_bytes(text),
                }
            } else if let Some(data) = data {
                Shown::Payload {
                    opcode: 2,
                    bytes: raw_bytes(data),
                }
            } else if failed {
                Shown::DecompressionFailed
            } else if len == 0 && opcode != 0 {
                // An empty unfragmented message: tshark shows its header only.
                Shown::Payload {
                    opcode,
                    bytes: Vec::new(),
                }
            } else if len == 0 {
                Shown::EmptyFinalIgnored
            } else {
                let keys: Vec<&str> = after.iter().map(|(k, _)| *k).collect();
                Shown::Other(format!("opcode {opcode}, followed by {keys:?}"))
            };
            msgs.push(TsMsg {
                packet,
                src: src.clone(),
                dst: dst.clone(),
                shown,
            });
        }
    }
    msgs
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

fn same(w: &Want, g: &TsMsg) -> bool {
    match &g.shown {
        Shown::Payload { opcode, bytes } => {
            *opcode == w.opcode && bytes.len() as u64 == w.len && sha256_hex(bytes) == w.sha256
        }
        _ => false,
    }
}

fn classify(w: &Want, g: &TsMsg) -> Kind {
    let bytes = match &g.shown {
        Shown::DecompressionFailed => return Kind::DecompressionFailed,
        Shown::EmptyFinalIgnored => return Kind::EmptyFinalFragmentIgnored,
        Shown::Other(_) => return Kind::Garbled,
        Shown::Payload { bytes, .. } => bytes,
    };
    let n = bytes.len() as u64;
    if n == w.len && sha256_hex(bytes) == w.sha256 {
        Kind::WrongOpcode
    } else if w.len == 0 && bytes[..] == [0] {
        Kind::EmptyCompressedShownAsRawByte
    } else if w.compressed && w.fragments > 1 {
        Kind::CompressedFragmentsNotInflated
    } else if n == 262_144 && w.len > n {
        Kind::UnmaskedOnly256KiB
    } else if w.len > 0 && n > w.len && sha256_hex(&bytes[(n - w.len) as usize..]) == w.sha256 {
        Kind::JoinedWithEarlierFragments
    } else {
        Kind::Garbled
    }
}

/// tshark's messages of one direction against the sender's: the longest common subsequence of
/// equal messages anchors the two lists; between anchors, messages are paired in order and
/// classified, leftovers are `Missing` (sender's) or `Extra` (tshark's).
fn disagreements(want: &[Want], got: &[&TsMsg]) -> Vec<(Option<usize>, Kind, String)> {
    let (n, m) = (want.len(), got.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if same(&want[i], got[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let mut extra = 0;
    let (mut i, mut j) = (0, 0);
    let mut pending_w = Vec::new();
    let mut pending_g = Vec::new();
    let mut flush = |pw: &mut Vec<usize>, pg: &mut Vec<usize>, extra: &mut usize| {
        for (k, &wi) in pw.iter().enumerate() {
            match pg.get(k) {
                Some(&gj) => out.push((
                    Some(wi),
                    classify(&want[wi], got[gj]),
                    format!("tshark packet {}: {:?}", got[gj].packet, brief(got[gj])),
                )),
                None => out.push((Some(wi), Kind::Missing, String::new())),
            }
        }
        *extra += pg.len().saturating_sub(pw.len());
        pw.clear();
        pg.clear();
    };
    while i < n || j < m {
        if i < n && j < m && same(&want[i], got[j]) && lcs[i][j] == lcs[i + 1][j + 1] + 1 {
            flush(&mut pending_w, &mut pending_g, &mut extra);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            pending_g.push(j);
            j += 1;
        } else {
            pending_w.push(i);
            i += 1;
        }
    }
    flush(&mut pending_w, &mut pending_g, &mut extra);
    if extra > 0 {
        out.push((None, Kind::Extra(extra), String::new()));
    }
    out
}

fn brief(g: &TsMsg) -> String {
    match &g.shown {
        Shown::Payload { opcode, bytes } => format!(
            "opcode {opcode}, {} bytes, starts {:02x?}",
            bytes.len(),
            &bytes[..bytes.len().min(8)]
        ),
        Shown::Other(what) => what.clone(),
        other => format!("{other:?}"),
    }
}

/// Messages (opcode, length, sha256) per (client, server, dir).
type ByDir = BTreeMap<(String, String, &'static str), Vec<(u8, u64, String)>>;

/// wsdissect's messages.
fn ours(events: &[Event]) -> ByDir {
    let mut addrs = BTreeMap::new();
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for e in events {
        match e {
            Event::Connection(c) => {
                addrs.insert(c.conn, (c.client.to_string(), c.server.to_string()));
            }
            Event::Message(m) => {
                let (c, s) = addrs[&m.conn].clone();
                out.entry((c, s, m.dir.as_str())).or_default().push((
                    m.opcode.bits(),
                    m.payload.len,
                    sha256_hex(&m.payload.bytes),
                ));
            }
            _ => {}
        }
    }
    out
}

/// Compare tshark and wsdissect with `conns`; tshark's disagreements go to `rows`, wsdissect's
/// to `failures` (there must be none).
fn compare(
    name: &'static str,
    conns: &[Conn],
    theirs: &[TsMsg],
    events: &[Event],
    rows: &mut Vec<(Row, String)>,
    failures: &mut Vec<String>,
) {
    let ours = ours(events);
    for (ci, c) in conns.iter().enumerate() {
        for dir in ["c2s", "s2c"] {
            let (src, dst) = if dir == "c2s" {
                (&c.client, &c.server)
            } else {
                (&c.server, &c.client)
            };
            let want = c.dir(dir);
            let got: Vec<&TsMsg> = theirs
                .iter()
                .filter(|m| &m.src == src && &m.dst == dst)
                .collect();
            for (idx, kind, detail) in disagreements(want, &got) {
                rows.push(((name, ci, dir, idx, kind), detail));
            }
            let mine = ours
                .get(&(c.client.clone(), c.server.clone(), dir))
                .cloned()
                .unwrap_or_default();
            let want_plain: Vec<(u8, u64, String)> = want
                .iter()
                .map(|w| (w.opcode, w.len, w.sha256.clone()))
                .collect();
            if mine != want_plain {
                failures.push(format!(
                    "wsdissect disagrees with the sender: {name} conn {ci} {dir}: {} messages, \
                     expected {}; first difference at {:?}",
                    mine.len(),
                    want_plain.len(),
                    mine.iter().zip(&want_plain).position(|(a, b)| a != b)
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Variants made at test time
// ---------------------------------------------------------------------------------------------

struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, bytes: &[u8]) -> TempFile {
        let p = std::env::temp_dir().join(format!(
            "wsdissect-tshark-messages-{}-{tag}.pcap",
            std::process::id()
        ));
        std::fs::write(&p, bytes).unwrap();
        TempFile(p)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A classic pcap (Ethernet, microseconds) of one WebSocket connection 10.0.0.1:40000 →
/// 10.0.0.2:80 (handshake with the RFC 6455 §1.3 key), then `frames` in order, each in its own
/// segment (`true` = client), then FINs.
fn hand_made_pcap(frames: &[(bool, Vec<u8>)]) -> Vec<u8> {
    let (c, s) = (([10u8, 0, 0, 1], 40000u16), ([10u8, 0, 0, 2], 80u16));
    let mut out = Vec::new();
    for x in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&x.to_le_bytes());
    }
    let (mut cseq, mut sseq, mut t) = (1000u32, 5000u32, 0u32);
    let mut seg = |out: &mut Vec<u8>, from_client: bool, flags: u8, payload: &[u8]| {
        let ((src, sp), (dst, dp), seq, ack) = if from_client {
            (c, s, cseq, sseq)
        } else {
            (s, c, sseq, cseq)
        };
        let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0];
        p.extend_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sp.to_be_bytes());
        p.extend_from_slice(&dp.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ack.to_be_bytes());
        p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        t += 100;
        for x in [1_700_000_000u32, t, p.len() as u32, p.len() as u32] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&p);
        let used = payload.len() as u32 + u32::from(flags & 0x03 != 0); // SYN/FIN count 1
        if from_client {
            cseq += used;
        } else {
            sseq += used;
        }
    };
    let (syn, ack, psh, fin) = (0x02, 0x10, 0x08, 0x01);
    seg(&mut out, true, syn, b"");
    seg(&mut out, false, syn | ack, b"");
    seg(&mut out, true, ack, b"");
    seg(
        &mut out,
        true,
        psh | ack,
        b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    seg(
        &mut out,
        false,
        psh | ack,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    for (from_client, f) in frames {
        seg(&mut out, *from_client, psh | ack, f);
    }
    seg(&mut out, true, fin | ack, b"");
    seg(&mut out, false, fin | ack, b"");
    seg(&mut out, true, ack, b"");
    out
}

/// A frame with a payload under 126 bytes; client frames are masked.
fn frame(from_client: bool, b0: u8, payload: &[u8]) -> (bool, Vec<u8>) {
    assert!(payload.len() < 126);
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut f = vec![b0, payload.len() as u8 | if from_client { 0x80 } else { 0 }];
    if from_client {
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    (from_client, f)
}

/// The hand-made capture and its truth. Client: text "AAAA"+"BBBB" while the server sends binary
/// 01 02 + 03 04 (fragments interleaved); text "abc"+"def"+"" (empty final fragment, as Python
/// websockets ends a fragmented send); unfragmented text "next"; text "12"+"34". The server
/// echoes the last three unfragmented.
fn hand_made() -> (Vec<u8>, Vec<Conn>) {
    let (cl, sv) = (true, false);
    let (text, binary, cont, fin) = (0x01, 0x02, 0x00, 0x80);
    let frames = [
        frame(cl, text, b"AAAA"),
        frame(sv, binary, &[1, 2]),
        frame(cl, fin | cont, b"BBBB"),
        frame(sv, fin | cont, &[3, 4]),
        frame(cl, text, b"abc"),
        frame(cl, cont, b"def"),
        frame(cl, fin | cont, b""),
        frame(cl, fin | text, b"next"),
        frame(cl, text, b"12"),
        frame(cl, fin | cont, b"34"),
        frame(sv, fin | text, b"abcdef"),
        frame(sv, fin | text, b"next"),
        frame(sv, fin | text, b"1234"),
    ];
    let conn = Conn {
        client: "10.0.0.1:40000".into(),
        server: "10.0.0.2:80".into(),
        c2s: vec![
            Want::of(1, b"AAAABBBB"),
            Want::of(1, b"abcdef"),
            Want::of(1, b"next"),
            Want::of(1, b"1234"),
        ],
        s2c: vec![
            Want::of(2, &[1, 2, 3, 4]),
            Want::of(1, b"abcdef"),
            Want::of(1, b"next"),
            Want::of(1, b"1234"),
        ],
    };
    (hand_made_pcap(&frames), vec![conn])
}

/// node-fragments.pcap from packet 29 on: the client's stream starts in the middle of its
/// 70000-byte frame (packet 28 holds its first 32768 bytes), the server's at a frame start.
/// Truth: the messages (per wsdissect's full dissection, itself equal to expected.json) whose
/// first packet is kept.
fn cut_variant(expected: &Value) -> (Vec<u8>, Vec<Conn>) {
    const FIRST: u64 = 29;
    let path = repo().join("samples/node-fragments.pcap");
    let full = dissect_full(&path);
    let mut conns = conns_of(expected);
    for dir in ["c2s", "s2c"] {
        let starts: Vec<u64> = full
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) if m.dir.as_str() == dir => Some(m.first_packet.number),
                _ => None,
            })
            .collect();
        let list = if dir == "c2s" {
            &mut conns[0].c2s
        } else {
            &mut conns[0].s2c
        };
        assert_eq!(starts.len(), list.len());
        let kept: Vec<Want> = list
            .iter()
            .zip(&starts)
            .filter(|(_, &p)| p >= FIRST)
            .map(|(w, _)| w.clone())
            .collect();
        *list = kept;
    }
    (filter_pcap(&path, |n| n >= FIRST), conns)
}

#[test]
#[ignore = "needs tshark (scripts/test.sh runs it)"]
fn tshark_disagrees_with_the_senders_exactly_where_documented_and_wsdissect_never() {
    require_tshark();
    let ooo = ["-o", "tcp.reassemble_out_of_order:TRUE"];
    let mut rows: Vec<(Row, String)> = Vec::new();
    let mut failures = Vec::new();
    let mut node_fragments = None;
    for (capture, expected) in samples_with_expectations() {
        let name: &'static str = capture
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string()
            .leak();
        let conns = conns_of(&expected);
        let events = dissect_full(&capture);
        compare(
            name,
            &conns,
            &tshark_messages(&capture, &ooo),
            &events,
            &mut rows,
            &mut failures,
        );
        if name == "py-reorder.pcap" {
            compare(
                REORDER_DEFAULT,
                &conns,
                &tshark_messages(&capture, &[]),
                &events,
                &mut rows,
                &mut failures,
            );
        }
        if name == "node-fragments.pcap" {
            node_fragments = Some(expected);
        }
    }

    let (bytes, conns) = cut_variant(&node_fragments.expect("node-fragments sample"));
    let file = TempFile::new("cut", &bytes);
    let theirs = tshark_messages(
        &file.0,
        &[&ooo[..], &["-d", "tcp.port==8080,websocket"]].concat(),
    );
    compare(
        CUT,
        &conns,
        &theirs,
        &dissect_bytes(bytes, vec![]),
        &mut rows,
        &mut failures,
    );

    let (bytes, conns) = hand_made();
    let file = TempFile::new("hand-made", &bytes);
    let theirs = tshark_messages(&file.0, &ooo);
    compare(
        HAND_MADE,
        &conns,
        &theirs,
        &dissect_bytes(bytes, vec![]),
        &mut rows,
        &mut failures,
    );

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let mut got: Vec<Row> = rows.iter().map(|(r, _)| *r).collect();
    let mut want: Vec<Row> = TSHARK_DISAGREEMENTS.to_vec();
    got.sort();
    want.sort();
    if got != want {
        let table: Vec<String> = rows.iter().map(|(r, d)| format!("{r:?} {d}")).collect();
        panic!(
            "tshark's disagreements with the senders changed (update the list and docs/tshark.md):\n{}",
            table.join("\n")
        );
    }
}

/// wss: tshark with the same key log (`-o tls.keylog_file:…`, or the pcapng's own secrets)
/// against the senders, message by message, and wsdissect likewise. Connections whose key the
/// log lacks are left out (neither tool can read them; tls.rs checks how they are shown).
#[test]
#[ignore = "needs tshark (scripts/test.sh runs it)"]
fn with_the_key_log_tshark_and_wsdissect_agree_with_the_senders_on_every_tls_sample() {
    require_tshark();
    let mut rows: Vec<(Row, String)> = Vec::new();
    let mut failures = Vec::new();
    for sample in crate::tls::tls_samples() {
        let (expected, capture, keys) = (&sample.expected, &sample.capture, &sample.keys);
        let name: &'static str = expected["capture"].as_str().unwrap().to_string().leak();
        let keyed: Vec<bool> = expected["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["tls"]["keyed"].as_bool().unwrap_or(true))
            .collect();
        let conns: Vec<Conn> = conns_of(expected)
            .into_iter()
            .zip(&keyed)
            .filter_map(|(c, k)| k.then_some(c))
            .collect();
        let dsb = name.ends_with(".pcapng");
        let keylog_opt = format!("tls.keylog_file:{}", keys.display());
        let opts: Vec<&str> = if dsb { vec![] } else { vec!["-o", &keylog_opt] };
        let events = crate::tls::dissect(capture, (!dsb).then(|| keys.clone()));
        compare(
            name,
            &conns,
            &tshark_messages(capture, &opts),
            &events,
            &mut rows,
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let table: Vec<String> = rows.iter().map(|(r, d)| format!("{r:?} {d}")).collect();
    assert!(
        rows.is_empty(),
        "tshark disagrees with the senders on a TLS sample (document it in docs/tshark.md):\n{}",
        table.join("\n")
    );
}
