//! The tables' columns, each next to the function that fills it from an event, so a column
//! and its value cannot drift apart. Names follow the NDJSON fields (docs/json.md); nested
//! objects are flattened with a prefix (`tls_sni`, `c2s_frames`), lists are JSON text.

use std::io;

use serde_json::json;

use super::table::{nullable, required, Cell, Column, Kind, Table};
use crate::base::{Diagnostic, PacketRef};
use crate::event::{ConnectionEnd, ConnectionInfo, Frame, Handshake, Message};
use crate::output::escape::hex;
use crate::output::json;
use crate::ws::close::close_code_name;

use Kind::{Bool, Bytes, Float, Int, Json, Text, Timestamp};

const CONN: Column = required(
    "conn",
    Int,
    "conn",
    "connection id, from 1 in order of first packet",
);
const STREAM: Column = nullable(
    "stream",
    Int,
    "stream",
    "HTTP/2 stream of the session (RFC 8441); null over HTTP/1.1",
);
const DIR: Column = required("dir", Text, "dir", "`c2s` or `s2c`");

pub const CONNECTIONS: &[Column] = &[
    CONN,
    required("client", Text, "connection.client", "client address:port (`[v6]:port`)"),
    required("server", Text, "connection.server", "server address:port"),
    required("packet", Int, "connection.packet", "packet where the connection was recognised"),
    required("ts", Timestamp, "connection.ts", "its capture time"),
    required("inferred", Bool, "connection.inferred", "recognised without its whole handshake"),
    nullable("http2", Text, "connection.http2", "how HTTP/2 started (`prior-knowledge`, `upgrade`, `alpn`, `inferred`); null for HTTP/1.1"),
    nullable("tls_version", Text, "connection.tls.version", "TLS version agreed; null without TLS (all `tls_` columns)"),
    nullable("tls_cipher", Text, "connection.tls.cipher", "cipher suite, IANA name"),
    nullable("tls_sni", Text, "connection.tls.sni", "server name indication"),
    nullable("tls_alpn", Text, "connection.tls.alpn", "ALPN protocol chosen"),
    nullable("tls_alpn_offered", Json, "connection.tls.alpn_offered", "ALPN protocols offered, a JSON array"),
    nullable("tls_decrypted", Bool, "connection.tls.decrypted", "decrypted with the key log"),
    nullable("tls_resumed", Bool, "connection.tls.resumed", "session resumed"),
    nullable("end_reason", Text, "connection_end.reason", "`fin`, `rst`, `capture-end`, `idle`, `reused`; null when the run stopped first (`-c`), as for all `end_`, `c2s_`, `s2c_` columns"),
    nullable("end_packet", Int, "connection_end.packet", "packet that ended it"),
    nullable("end_ts", Timestamp, "connection_end.ts", "its capture time"),
    nullable("c2s_frames", Int, "connection_end.c2s.frames", "frames client to server"),
    nullable("c2s_messages", Int, "connection_end.c2s.messages", "messages client to server"),
    nullable("c2s_payload_bytes", Int, "connection_end.c2s.payload_bytes", "payload bytes client to server"),
    nullable("s2c_frames", Int, "connection_end.s2c.frames", "frames server to client"),
    nullable("s2c_messages", Int, "connection_end.s2c.messages", "messages server to client"),
    nullable("s2c_payload_bytes", Int, "connection_end.s2c.payload_bytes", "payload bytes server to client"),
    nullable("diagnostics", Int, "connection_end.diagnostics", "diagnostics on the connection"),
];

/// A connection's row: its `connection` record, and its `connection_end` when there was one.
pub fn connection_row(
    t: &mut Table,
    c: &ConnectionInfo,
    end: Option<&ConnectionEnd>,
) -> io::Result<()> {
    let (client, server) = (c.client.to_string(), c.server.to_string());
    let tls = c.tls.as_ref();
    let tls_version = tls.map(|t| t.version_name());
    let tls_cipher = tls.map(|t| t.suite_name());
    let alpn_offered = tls.map(|t| json!(t.alpn_offered).to_string());
    let stat = |dir: usize, pick: fn(&crate::event::DirStats) -> u64| {
        Cell::opt_int(end.map(|e| pick(&e.stats[dir])))
    };
    t.push(&[
        Cell::Int(c.conn.0),
        Cell::str(&client),
        Cell::str(&server),
        Cell::Int(c.first_packet.number),
        Cell::Timestamp(c.first_packet.ts.0),
        Cell::Bool(c.inferred),
        Cell::opt_str(c.http2.map(|h| h.as_str())),
        Cell::opt_str(tls_version.as_deref()),
        Cell::opt_str(tls_cipher.as_deref()),
        Cell::opt_str(tls.and_then(|t| t.sni.as_deref())),
        Cell::opt_str(tls.and_then(|t| t.alpn.as_deref())),
        Cell::opt_str(alpn_offered.as_deref()),
        Cell::opt_bool(tls.map(|t| t.decrypted)),
        Cell::opt_bool(tls.map(|t| t.resumed)),
        Cell::opt_str(end.map(|e| e.reason.as_str())),
        Cell::opt_int(end.map(|e| e.packet.number)),
        end.map_or(Cell::Null, |e| Cell::Timestamp(e.packet.ts.0)),
        stat(0, |s| s.frames),
        stat(0, |s| s.messages),
        stat(0, |s| s.payload_bytes),
        stat(1, |s| s.frames),
        stat(1, |s| s.messages),
        stat(1, |s| s.payload_bytes),
        Cell::opt_int(end.map(|e| e.diagnostics)),
    ])
}

pub const HANDSHAKES: &[Column] = &[
    CONN,
    STREAM,
    required(
        "status",
        Int,
        "handshake.status",
        "HTTP status (101 accepted; any 2xx over HTTP/2)",
    ),
    required("reason", Text, "handshake.reason", "reason phrase"),
    nullable(
        "subprotocol",
        Text,
        "handshake.subprotocol",
        "subprotocol the server selected",
    ),
    required(
        "extensions",
        Json,
        "handshake.extensions",
        "extensions accepted, a JSON array of strings",
    ),
    required(
        "accept_valid",
        Bool,
        "handshake.accept_valid",
        "Sec-WebSocket-Accept is right (over HTTP/2: the session opened)",
    ),
    required("method", Text, "handshake.method", "request method"),
    required(
        "target",
        Text,
        "handshake.target",
        "request target (`:path` over HTTP/2)",
    ),
    nullable("host", Text, "handshake.host", "Host (`:authority`)"),
    nullable("origin", Text, "handshake.origin", "Origin"),
    nullable("user_agent", Text, "handshake.user_agent", "User-Agent"),
    nullable("key", Text, "handshake.key", "Sec-WebSocket-Key"),
    nullable(
        "version",
        Text,
        "handshake.version",
        "Sec-WebSocket-Version",
    ),
    nullable(
        "accept",
        Text,
        "handshake.accept",
        "Sec-WebSocket-Accept as sent",
    ),
    nullable(
        "expected_accept",
        Text,
        "handshake.expected_accept",
        "Sec-WebSocket-Accept as it should be",
    ),
    required(
        "offered_protocols",
        Json,
        "handshake.offered_protocols",
        "subprotocols offered, a JSON array",
    ),
    required(
        "offered_extensions",
        Json,
        "handshake.offered_extensions",
        "extensions offered, a JSON array",
    ),
    required(
        "request_packet",
        Int,
        "handshake.request_packet",
        "packet that completed the request",
    ),
    required("packet", Int, "handshake.packet", "packet of the response"),
    required("ts", Timestamp, "handshake.ts", "its capture time"),
    nullable(
        "http2_protocol",
        Text,
        "handshake.http2.protocol",
        "extended CONNECT `:protocol`; null over HTTP/1.1 (all `http2_` columns)",
    ),
    nullable("http2_scheme", Text, "handshake.http2.scheme", "`:scheme`"),
    nullable(
        "http2_connect_enabled",
        Bool,
        "handshake.http2.connect_enabled",
        "the server had sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1",
    ),
];

pub fn handshake_row(t: &mut Table, h: &Handshake) -> io::Result<()> {
    let strings = |v: Vec<String>| json!(v).to_string();
    let extensions = strings(h.extensions.iter().map(|e| e.to_string()).collect());
    let offered_protocols = strings(h.offered_protocols.clone());
    let offered_extensions = strings(h.offered_extensions.iter().map(|e| e.to_string()).collect());
    let connect = h.http2.as_ref();
    t.push(&[
        Cell::Int(h.conn.0),
        Cell::opt_int(h.stream.map(|s| u64::from(s.0))),
        Cell::Int(u64::from(h.status)),
        Cell::str(&h.reason),
        Cell::opt_str(h.subprotocol.as_deref()),
        Cell::str(&extensions),
        Cell::Bool(h.accept_valid()),
        Cell::str(&h.method),
        Cell::str(&h.target),
        Cell::opt_str(h.host.as_deref()),
        Cell::opt_str(h.origin.as_deref()),
        Cell::opt_str(h.user_agent.as_deref()),
        Cell::opt_str(h.key.as_deref()),
        Cell::opt_str(h.version.as_deref()),
        Cell::opt_str(h.accept.as_deref()),
        Cell::opt_str(h.expected_accept.as_deref()),
        Cell::str(&offered_protocols),
        Cell::str(&offered_extensions),
        Cell::Int(h.request_packet.number),
        Cell::Int(h.response_packet.number),
        Cell::Timestamp(h.response_packet.ts.0),
        Cell::opt_str(connect.and_then(|c| c.protocol.as_deref())),
        Cell::opt_str(connect.and_then(|c| c.scheme.as_deref())),
        Cell::opt_bool(connect.map(|c| c.connect_enabled)),
    ])
}

pub const FRAMES: &[Column] = &[
    CONN,
    STREAM,
    DIR,
    required(
        "index",
        Int,
        "frame.index",
        "1-based frame number in this direction",
    ),
    required("fin", Bool, "frame.fin", "FIN bit"),
    required("rsv1", Bool, "frame.rsv1", "RSV1 bit"),
    required("rsv2", Bool, "frame.rsv2", "RSV2 bit"),
    required("rsv3", Bool, "frame.rsv3", "RSV3 bit"),
    required("opcode", Int, "frame.opcode", "opcode 0-15 as on the wire"),
    required(
        "opcode_name",
        Text,
        "frame.opcode_name",
        "`text`, `binary`, `close`, `ping`, `pong`, `continuation`, `reserved-…`",
    ),
    required("masked", Bool, "frame.masked", "MASK bit"),
    nullable(
        "mask_key",
        Text,
        "frame.mask_key",
        "masking key, 8 hex digits",
    )
    .bulky(),
    required(
        "payload_len",
        Int,
        "frame.payload_len",
        "payload length as the header declares it",
    ),
    required(
        "header_len",
        Int,
        "frame.header_len",
        "header length, 2 to 14",
    ),
    required(
        "packet",
        Int,
        "frame.packet",
        "packet holding the first header byte",
    ),
    required(
        "last_packet",
        Int,
        "frame.last_packet",
        "packet that completed the frame",
    ),
    required("ts", Timestamp, "frame.ts", "capture time of `last_packet`"),
    required(
        "stream_offset",
        Int,
        "frame.stream_offset",
        "offset of the first header byte in this direction's stream",
    ),
    required(
        "lost",
        Int,
        "frame.lost",
        "payload bytes missing from the capture (0 where NDJSON omits the field)",
    ),
    nullable(
        "close_code",
        Int,
        "frame.close_code",
        "close frames: the code; null otherwise or for an empty close",
    ),
    nullable(
        "close_code_name",
        Text,
        "frame.close_code_name",
        "its IANA name",
    ),
    nullable(
        "close_reason",
        Text,
        "frame.close_reason",
        "close frames: the reason (null on other frames)",
    ),
    nullable(
        "rtt_ms",
        Float,
        "frame.rtt_ms",
        "pongs matched to a ping: milliseconds since it",
    ),
];

pub fn frame_row(t: &mut Table, f: &Frame) -> io::Result<()> {
    let h = &f.header;
    let mask_key = h.mask_key.map(|k| hex(&k));
    let close = f.close.as_ref();
    let code = close.and_then(|c| c.code);
    t.push(&[
        Cell::Int(f.conn.0),
        Cell::opt_int(f.stream.map(|s| u64::from(s.0))),
        Cell::str(f.dir.as_str()),
        Cell::Int(f.index),
        Cell::Bool(h.fin),
        Cell::Bool(h.rsv1),
        Cell::Bool(h.rsv2),
        Cell::Bool(h.rsv3),
        Cell::Int(u64::from(h.opcode.bits())),
        Cell::str(h.opcode.name()),
        Cell::Bool(h.masked),
        Cell::opt_str(mask_key.as_deref()),
        Cell::Int(h.payload_len),
        Cell::Int(u64::from(h.header_len)),
        Cell::Int(f.first_packet.number),
        Cell::Int(f.last_packet.number),
        Cell::Timestamp(f.last_packet.ts.0),
        Cell::Int(f.stream_offset),
        Cell::Int(f.lost),
        Cell::opt_int(code.map(u64::from)),
        Cell::opt_str(code.map(close_code_name)),
        Cell::opt_str(close.map(|c| c.reason.as_str())),
        f.rtt_ns
            .map_or(Cell::Null, |ns| Cell::Float(ns as f64 / 1e6)),
    ])
}

pub const MESSAGES: &[Column] = &[
    CONN,
    STREAM,
    DIR,
    required("index", Int, "message.index", "1-based message number in this direction"),
    required("opcode", Int, "message.opcode", "1 text, 2 binary"),
    required("len", Int, "message.len", "full message length in bytes"),
    required("fragments", Int, "message.fragments", "number of frames"),
    nullable("text", Text, "message.text", "the payload of a text message with valid UTF-8 (first `--max-payload` bytes); null otherwise").bulky(),
    nullable("data", Bytes, "message.data_b64", "otherwise the payload's bytes (NDJSON has them in base64); null when `text` is set").bulky(),
    required("truncated", Bool, "message.truncated", "`text`/`data` hold only the first bytes"),
    required("compressed", Bool, "message.compressed", "permessage-deflate compressed (RSV1)"),
    nullable("wire_len", Int, "message.wire_len", "compressed length on the wire; null when not compressed"),
    nullable("inflate_error", Text, "message.inflate_error", "why inflating failed"),
    required("lost", Int, "message.lost", "bytes missing from the capture (0 where NDJSON omits the field)"),
    nullable("holes", Json, "message.holes", "where those bytes were, a JSON array of `{offset,len}`; null when none"),
    nullable("utf8_error_at", Int, "message.utf8_error_at", "text that is not UTF-8: offset of the first bad byte"),
    required("packet", Int, "message.packet", "first packet of the message"),
    required("last_packet", Int, "message.last_packet", "last packet of the message"),
    required("ts", Timestamp, "message.ts", "capture time of `last_packet`"),
    nullable(
        "decoded",
        Json,
        "message.decoded",
        "the application protocol's reading of the message (docs/decoders.md), as JSON text; null when no decoder took the session",
    )
    .bulky(),
];

pub fn message_row(t: &mut Table, m: &Message) -> io::Result<()> {
    let text = m.text();
    let holes = (!m.holes.is_empty()).then(|| {
        let holes: Vec<_> = (m.holes.iter())
            .map(|h| json!({"offset": h.offset, "len": h.len}))
            .collect();
        json!(holes).to_string()
    });
    let inflate_error = m.inflate_error.as_ref().map(|e| e.to_string());
    let decoded = (m.decoded.as_deref()).map(|d| json::decoded(d).to_string());
    t.push(&[
        Cell::Int(m.conn.0),
        Cell::opt_int(m.stream.map(|s| u64::from(s.0))),
        Cell::str(m.dir.as_str()),
        Cell::Int(m.index),
        Cell::Int(u64::from(m.opcode.bits())),
        Cell::Int(m.payload.len),
        Cell::Int(u64::from(m.fragments)),
        Cell::opt_str(text),
        match text {
            Some(_) => Cell::Null,
            None => Cell::Bytes(&m.payload.bytes),
        },
        Cell::Bool(m.payload.truncated()),
        Cell::Bool(m.compressed),
        Cell::opt_int(m.compressed.then_some(m.wire_len)),
        Cell::opt_str(inflate_error.as_deref()),
        Cell::Int(m.lost),
        Cell::opt_str(holes.as_deref()),
        Cell::opt_int(m.utf8_error),
        Cell::Int(m.first_packet.number),
        Cell::Int(m.last_packet.number),
        Cell::Timestamp(m.last_packet.ts.0),
        Cell::opt_str(decoded.as_deref()),
    ])
}

pub const DIAGNOSTICS: &[Column] = &[
    required(
        "conn",
        Int,
        "diagnostic.conn",
        "connection id; 0 for the capture as a whole",
    ),
    STREAM,
    required(
        "severity",
        Text,
        "diagnostic.severity",
        "`info`, `warning`, `error`",
    ),
    required(
        "rule",
        Text,
        "diagnostic.rule",
        "stable rule name (docs/rules.md)",
    ),
    required(
        "section",
        Text,
        "diagnostic.section",
        "where the rule comes from, e.g. `RFC 6455 §5.1`",
    ),
    required(
        "message",
        Text,
        "diagnostic.message",
        "what happened, in words",
    ),
    nullable("dir", Text, "diagnostic.dir", "direction concerned"),
    nullable(
        "packet",
        Int,
        "diagnostic.packet",
        "packet where it was seen",
    ),
    nullable(
        "ts",
        Timestamp,
        "",
        "that packet's capture time (NDJSON has none)",
    ),
];

pub fn diagnostic_row(t: &mut Table, d: &Diagnostic) -> io::Result<()> {
    let packet: Option<&PacketRef> = d.packet.as_ref();
    t.push(&[
        Cell::Int(d.conn.0),
        Cell::opt_int(d.stream.map(|s| u64::from(s.0))),
        Cell::str(d.rule.severity.as_str()),
        Cell::str(d.rule.name),
        Cell::str(d.rule.section),
        Cell::str(&d.message),
        Cell::opt_str(d.dir.map(|x| x.as_str())),
        Cell::opt_int(packet.map(|p| p.number)),
        packet.map_or(Cell::Null, |p| Cell::Timestamp(p.ts.0)),
    ])
}
