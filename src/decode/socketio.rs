//! Socket.IO (protocol v5, socket.io 3.x/4.x) over Engine.IO v4, on the WebSocket transport.
//!
//! Each WebSocket message is one Engine.IO packet: a text message starts with the packet type
//! (`0` open … `6` noop), a binary message is the data of a `message` packet. A `message`
//! packet carries a Socket.IO packet, `<type>[<attachments>-][<nsp>,][<ack id>][<JSON>]`
//! (socket.io-parser's `decodeString`). A `BINARY_EVENT` or `BINARY_ACK` announces N
//! attachments that are the next N binary messages of the same direction.
//!
//! State kept per session, all bounded: the emits waiting for their ack (at most
//! [`MAX_PENDING`], oldest forgotten), the pings waiting for their pong (the same bound), and,
//! per direction, the binary packet whose attachments are still arriving (their sizes only).

use std::collections::{HashMap, VecDeque};

use serde_json::{json, Map, Value};

use super::types::{Answer, AppMessage, Decode, Decoded, Finding, Protocol, Unit, MAX_PENDING};
use crate::base::rules::{self, Rule};
use crate::base::{Direction, Timestamp};

/// Characters of a summary's arguments preview before it is cut.
const ARGS_PREVIEW: usize = 40;

/// The first message of a session is Engine.IO's open packet (`0{"sid":…`, from the server),
/// or the upgrade probe `2probe` of a session that began with HTTP long-polling.
pub fn recognises(msg: &AppMessage<'_>) -> bool {
    if !msg.text {
        return false;
    }
    if msg.bytes == b"2probe" {
        return true;
    }
    msg.bytes.starts_with(b"0{")
        && msg.whole
        && matches!(parse_open(&msg.bytes[1..]), Ok(open) if open.contains_key("sid"))
}

/// The Engine.IO packet types (Engine.IO protocol v4, "Packet encoding").
const ENGINE_TYPES: [&str; 7] = [
    "open", "close", "ping", "pong", "message", "upgrade", "noop",
];

/// The Socket.IO packet types (Socket.IO protocol v5, "Packet types").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SioType {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

impl SioType {
    fn from_digit(b: u8) -> Option<SioType> {
        Some(match b {
            b'0' => SioType::Connect,
            b'1' => SioType::Disconnect,
            b'2' => SioType::Event,
            b'3' => SioType::Ack,
            b'4' => SioType::ConnectError,
            b'5' => SioType::BinaryEvent,
            b'6' => SioType::BinaryAck,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            SioType::Connect => "CONNECT",
            SioType::Disconnect => "DISCONNECT",
            SioType::Event => "EVENT",
            SioType::Ack => "ACK",
            SioType::ConnectError => "CONNECT_ERROR",
            SioType::BinaryEvent => "BINARY_EVENT",
            SioType::BinaryAck => "BINARY_ACK",
        }
    }

    fn is_binary(self) -> bool {
        matches!(self, SioType::BinaryEvent | SioType::BinaryAck)
    }

    fn is_event(self) -> bool {
        matches!(self, SioType::Event | SioType::BinaryEvent)
    }

    fn is_ack(self) -> bool {
        matches!(self, SioType::Ack | SioType::BinaryAck)
    }
}

/// The head of a Socket.IO packet, before its JSON payload.
#[derive(Debug, PartialEq)]
struct Head<'a> {
    kind: SioType,
    attachments: Option<u64>,
    nsp: &'a str,
    id: Option<u64>,
    /// Where the JSON payload starts in the packet (its length when there is none).
    payload_at: usize,
}

/// Why a packet is not valid: what is wrong, and at which byte of the message.
type Malformed = String;

/// Read a Socket.IO packet's head as socket.io-parser does. `at` is the packet's offset in the
/// message, for the byte positions in a finding.
fn parse_head(p: &str, at: usize) -> Result<Head<'_>, Malformed> {
    let bytes = p.as_bytes();
    let Some(&t) = bytes.first() else {
        return Err(format!(
            "byte {at}: a message packet without a Socket.IO packet"
        ));
    };
    let kind = SioType::from_digit(t).ok_or_else(|| {
        format!(
            "byte {at}: {} is not a Socket.IO packet type (0-6)",
            show_byte(t)
        )
    })?;
    let mut i = 1;
    let mut attachments = None;
    if kind.is_binary() {
        let digits = count_digits(&bytes[i..]);
        let n = p[i..i + digits].parse::<u64>().ok().filter(|&n| n >= 1);
        match (n, bytes.get(i + digits)) {
            (Some(n), Some(b'-')) => attachments = Some(n),
            _ => {
                return Err(format!(
                    "byte {}: {} must be followed by its attachment count (1 or more) and '-'",
                    at + i,
                    kind.name()
                ))
            }
        }
        i += digits + 1;
    }
    let mut nsp = "/";
    if bytes.get(i) == Some(&b'/') {
        let end = p[i..].find(',').map_or(p.len(), |e| i + e);
        nsp = &p[i..end];
        i = (end + 1).min(p.len());
    }
    let mut id = None;
    let digits = count_digits(&bytes[i..]);
    if digits > 0 {
        id = Some(
            p[i..i + digits]
                .parse::<u64>()
                .map_err(|_| format!("byte {}: ack id of {digits} digits is too large", at + i))?,
        );
        i += digits;
    }
    Ok(Head {
        kind,
        attachments,
        nsp,
        id,
        payload_at: i,
    })
}

fn count_digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// A byte for a finding: the character when printable ASCII, else its hex value.
fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("0x{b:02x}")
    }
}

/// The JSON payload, or where it stops being JSON. `at` is its offset in the message.
fn parse_json(text: &str, at: usize) -> Result<Value, Malformed> {
    serde_json::from_str(text).map_err(|e| {
        if e.line() == 1 {
            format!(
                "byte {}: the JSON payload is invalid ({e})",
                at + e.column().saturating_sub(1)
            )
        } else {
            format!("the JSON payload starting at byte {at} is invalid ({e})")
        }
    })
}

/// Engine.IO's open packet payload: a JSON object.
fn parse_open(json: &[u8]) -> Result<Map<String, Value>, Malformed> {
    let text = std::str::from_utf8(json).map_err(|_| "open packet: not UTF-8".to_string())?;
    match parse_json(text, 1)? {
        Value::Object(m) => Ok(m),
        _ => Err("byte 1: the open packet's payload is not a JSON object".into()),
    }
}

/// An emit waiting for its ack: the namespace and id in the emitter's direction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct AckKey {
    dir: Direction,
    nsp: String,
    id: u64,
}

#[derive(Clone, Debug)]
struct Question {
    message: u64,
    ts: Timestamp,
    /// The event emitted, for the ack's key and summary.
    event: Option<String>,
    /// Insertion order, to forget the oldest first.
    seq: u64,
}

/// Emits waiting for their acks, oldest forgotten past [`MAX_PENDING`].
#[derive(Debug, Default)]
struct Pending {
    waiting: HashMap<AckKey, Question>,
    order: VecDeque<(u64, AckKey)>,
    next_seq: u64,
}

impl Pending {
    fn ask(&mut self, key: AckKey, mut q: Question) {
        q.seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back((q.seq, key.clone()));
        self.waiting.insert(key, q);
        while self.waiting.len() > MAX_PENDING || self.order.len() > 2 * MAX_PENDING {
            let Some((seq, key)) = self.order.pop_front() else {
                break;
            };
            // a key asked again has a newer seq: its older entry in `order` is stale
            if self.waiting.get(&key).is_some_and(|q| q.seq == seq) {
                self.waiting.remove(&key);
            }
        }
    }

    fn answer(&mut self, key: &AckKey) -> Option<Question> {
        self.waiting.remove(key)
    }
}

/// A ping waiting for its pong.
#[derive(Clone, Debug)]
struct Ping {
    message: u64,
    ts: Timestamp,
    data: String,
}

/// A binary packet whose attachments are arriving: the next `count` binary messages of its
/// direction.
#[derive(Clone, Debug)]
struct Reassembly {
    kind: SioType,
    nsp: String,
    id: Option<u64>,
    event: Option<String>,
    message: u64,
    count: u64,
    /// Sizes of the attachments arrived so far (at most [`MAX_PENDING`] remembered).
    sizes: Vec<u64>,
    arrived: u64,
}

#[derive(Debug, Default)]
pub struct Decoder {
    acks: Pending,
    /// Pings sent in each direction (by index), waiting for the other side's pong.
    pings: [VecDeque<Ping>; 2],
    /// Per direction: the binary packet whose attachments are still to come.
    binary: [Option<Reassembly>; 2],
}

impl Decode for Decoder {
    fn protocol(&self) -> Protocol {
        Protocol::SocketIo
    }

    fn decode(&mut self, msg: &AppMessage<'_>, found: &mut Vec<Finding>) -> Option<Decoded> {
        let unit = if msg.text {
            self.text(msg, found)
        } else {
            self.binary(msg, found)
        };
        unit.map(|u| Decoded {
            protocol: Protocol::SocketIo,
            units: vec![u],
        })
    }
}

fn malformed(found: &mut Vec<Finding>, what: String) {
    found.push((&rules::SOCKETIO_MALFORMED, what));
}

fn finding(found: &mut Vec<Finding>, rule: &'static Rule, what: String) {
    found.push((rule, what));
}

impl Decoder {
    /// A text message: one Engine.IO packet.
    fn text(&mut self, msg: &AppMessage<'_>, found: &mut Vec<Finding>) -> Option<Unit> {
        // A cut message may end inside a UTF-8 sequence: read its valid prefix.
        let text = match std::str::from_utf8(msg.bytes) {
            Ok(t) => t,
            Err(e) if !msg.whole => std::str::from_utf8(&msg.bytes[..e.valid_up_to()]).ok()?,
            Err(e) => {
                malformed(found, format!("byte {}: not UTF-8", e.valid_up_to()));
                return None;
            }
        };
        let Some(&t) = text.as_bytes().first() else {
            if msg.whole {
                malformed(found, "an empty message: no Engine.IO packet type".into());
            }
            return None;
        };
        let data = &text[1..];
        match t {
            b'0' => self.open(data, msg, found),
            b'1' | b'5' | b'6' => Some(engine_unit(ENGINE_TYPES[usize::from(t - b'0')], data)),
            b'2' => Some(self.ping(data, msg)),
            b'3' => Some(self.pong(data, msg)),
            b'4' => self.message(data, msg, found),
            other => {
                if msg.whole {
                    malformed(
                        found,
                        format!(
                            "byte 0: {} is not an Engine.IO packet type (0-6)",
                            show_byte(other)
                        ),
                    );
                }
                None
            }
        }
    }

    /// Engine.IO `open`: the handshake's JSON (sid, upgrades, pingInterval, pingTimeout,
    /// maxPayload).
    fn open(&mut self, data: &str, msg: &AppMessage<'_>, found: &mut Vec<Finding>) -> Option<Unit> {
        if !msg.whole {
            return None;
        }
        let open = match parse_open(data.as_bytes()) {
            Ok(o) => o,
            Err(e) => {
                malformed(found, e);
                return None;
            }
        };
        let mut fields = Map::new();
        for (name, value) in &open {
            fields.insert(snake_case(name), value.clone());
        }
        let mut summary = String::new();
        if let Some(sid) = open.get("sid").and_then(Value::as_str) {
            summary.push_str(&format!("sid {sid}"));
        }
        let num = |k: &str| open.get(k).and_then(Value::as_u64);
        if let (Some(i), Some(t)) = (num("pingInterval"), num("pingTimeout")) {
            summary.push_str(&format!(" ping {i}/{t} ms"));
        }
        if let Some(m) = num("maxPayload") {
            summary.push_str(&format!(" max {m} B"));
        }
        let mut unit = Unit::new("open", summary.trim_start());
        unit.fields = fields;
        Some(unit)
    }

    fn ping(&mut self, data: &str, msg: &AppMessage<'_>) -> Unit {
        let waiting = &mut self.pings[msg.dir.index()];
        if waiting.len() >= MAX_PENDING {
            waiting.pop_front();
        }
        waiting.push_back(Ping {
            message: msg.index,
            ts: msg.ts,
            data: data.to_string(),
        });
        heartbeat_unit("ping", data)
    }

    /// A pong answers the oldest ping of the other direction with the same data (`probe` for
    /// the upgrade probe, nothing for a heartbeat).
    fn pong(&mut self, data: &str, msg: &AppMessage<'_>) -> Unit {
        let mut unit = heartbeat_unit("pong", data);
        let waiting = &mut self.pings[other(msg.dir).index()];
        if let Some(at) = waiting.iter().position(|p| p.data == data) {
            // pings before it went unanswered: drop them, so the queue stays short
            if let Some(ping) = waiting.drain(..=at).next_back() {
                unit.answers = Some(Answer {
                    id: ping.data,
                    dir: other(msg.dir),
                    message: ping.message,
                    rtt_ns: msg.ts.0.saturating_sub(ping.ts.0),
                });
            }
        }
        unit
    }
}

fn other(dir: Direction) -> Direction {
    match dir {
        Direction::ClientToServer => Direction::ServerToClient,
        Direction::ServerToClient => Direction::ClientToServer,
    }
}

/// `pingInterval` → `ping_interval`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// An Engine.IO packet other than open, ping, pong or message: close, upgrade, noop.
fn engine_unit(kind: &str, data: &str) -> Unit {
    let mut unit = Unit::new(kind, data);
    if !data.is_empty() {
        unit.fields.insert("data".into(), json!(data));
    }
    unit
}

/// A ping or pong: a heartbeat, unless it is the upgrade probe (`2probe` / `3probe`).
fn heartbeat_unit(kind: &str, data: &str) -> Unit {
    let probe = data == "probe";
    let mut unit = engine_unit(kind, data);
    if probe {
        unit.summary = "probe (upgrade check)".into();
        unit.fields.insert("probe".into(), json!(true));
    }
    unit.heartbeat = !probe;
    unit
}

impl Decoder {
    /// Engine.IO `message`: a Socket.IO packet.
    fn message(
        &mut self,
        data: &str,
        msg: &AppMessage<'_>,
        found: &mut Vec<Finding>,
    ) -> Option<Unit> {
        let dir = msg.dir.index();
        if let Some(r) = self.binary[dir].take() {
            finding(
                found,
                &rules::SOCKETIO_ATTACHMENT_MISSING,
                format!(
                    "{} of message {} announced {} attachments; {} arrived before this packet",
                    r.kind.name(),
                    r.message,
                    r.count,
                    r.arrived
                ),
            );
        }
        let head = match parse_head(data, 1) {
            Ok(h) => h,
            Err(e) => {
                if msg.whole {
                    malformed(found, e);
                }
                return None;
            }
        };
        let payload = if msg.whole {
            match payload(&head, &data[head.payload_at..], 1 + head.payload_at) {
                Ok(p) => p,
                Err(e) => {
                    malformed(found, e);
                    return None;
                }
            }
        } else {
            None
        };
        let mut unit = self.socketio_unit(&head, payload.as_ref(), msg);
        if !msg.whole {
            unit.fields.insert("cut".into(), json!(true));
            unit.summary.push_str(" (cut)");
        }
        if let Some(count) = head.attachments {
            self.binary[dir] = Some(Reassembly {
                kind: head.kind,
                nsp: head.nsp.to_string(),
                id: head.id,
                event: payload.as_ref().and_then(event_name),
                message: msg.index,
                count,
                sizes: Vec::new(),
                arrived: 0,
            });
        }
        Some(unit)
    }

    /// The unit of a Socket.IO packet whose head and (valid) payload are read; matches acks.
    fn socketio_unit(
        &mut self,
        head: &Head<'_>,
        payload: Option<&Value>,
        msg: &AppMessage<'_>,
    ) -> Unit {
        let mut fields = Map::new();
        fields.insert("nsp".into(), json!(head.nsp));
        if let Some(id) = head.id {
            fields.insert("id".into(), json!(id));
        }
        if let Some(n) = head.attachments {
            fields.insert("attachments".into(), json!(n));
        }
        let nsp = if head.nsp == "/" {
            String::new()
        } else {
            format!("{} ", head.nsp)
        };
        let id = head.id.map(|i| format!(" id {i}")).unwrap_or_default();
        let mut key = None;
        let mut answers = None;
        let summary = match head.kind {
            SioType::Connect | SioType::Disconnect | SioType::ConnectError => {
                key = Some(head.nsp.to_string());
                connect_fields(head.kind, msg.dir, payload, &mut fields);
                format!("{}{}", head.nsp, connect_summary(head.kind, &fields))
            }
            t if t.is_event() => {
                let event = payload.and_then(event_name);
                let args = payload.map(|p| rest(p, 1)).unwrap_or_default();
                if let Some(e) = &event {
                    fields.insert("event".into(), payload.map_or(json!(e), |p| p[0].clone()));
                    key = Some(format!("{nsp}{e}"));
                }
                fields.insert("args".into(), Value::Array(args.clone()));
                if let Some(i) = head.id {
                    let question = Question {
                        message: msg.index,
                        ts: msg.ts,
                        event: event.clone(),
                        seq: 0,
                    };
                    self.acks.ask(ack_key(msg.dir, head.nsp, i), question);
                }
                let name = event.map(|e| format!("{e:?} ")).unwrap_or_default();
                format!("{nsp}{name}{}{id}", preview(&args))
                    .trim_end()
                    .into()
            }
            _ => {
                let args = payload.map(|p| rest(p, 0)).unwrap_or_default();
                let question = head
                    .id
                    .and_then(|i| self.acks.answer(&ack_key(other(msg.dir), head.nsp, i)));
                let mut name = String::new();
                if let Some(q) = question {
                    if let Some(e) = &q.event {
                        fields.insert("event".into(), json!(e));
                        key = Some(format!("{nsp}{e}"));
                        name = format!(" {e:?}");
                    }
                    answers = Some(Answer {
                        id: head.id.map(|i| i.to_string()).unwrap_or_default(),
                        dir: other(msg.dir),
                        message: q.message,
                        rtt_ns: msg.ts.0.saturating_sub(q.ts.0),
                    });
                }
                fields.insert("args".into(), Value::Array(args.clone()));
                format!("{nsp}{}{name} {}", id.trim_start(), preview(&args))
                    .trim()
                    .into()
            }
        };
        let mut unit = Unit::new(head.kind.name(), summary);
        unit.fields = fields;
        unit.key = key;
        unit.answers = answers;
        unit
    }

    /// A binary message: the next attachment of the binary packet its direction announced.
    fn binary(&mut self, msg: &AppMessage<'_>, found: &mut Vec<Finding>) -> Option<Unit> {
        let slot = &mut self.binary[msg.dir.index()];
        let Some(r) = slot.as_mut() else {
            malformed(
                found,
                format!(
                    "a binary message ({} bytes) that no BINARY_EVENT or BINARY_ACK announced as an attachment",
                    msg.bytes.len()
                ),
            );
            return None;
        };
        let size = msg.bytes.len() as u64;
        let index = r.arrived;
        r.arrived += 1;
        if r.sizes.len() < MAX_PENDING {
            r.sizes.push(size);
        }
        let mut fields = Map::new();
        fields.insert("packet".into(), json!(r.kind.name()));
        fields.insert("nsp".into(), json!(r.nsp));
        if let Some(e) = &r.event {
            fields.insert("event".into(), json!(e));
        }
        if let Some(id) = r.id {
            fields.insert("id".into(), json!(id));
        }
        fields.insert("index".into(), json!(index));
        fields.insert("count".into(), json!(r.count));
        fields.insert("size".into(), json!(size));
        let of = match (&r.event, r.id) {
            (Some(e), _) => format!("{e:?}"),
            (None, Some(id)) => format!("ack id {id}"),
            (None, None) => r.kind.name().to_string(),
        };
        let mut summary = format!("{}/{} of {of} {size} B", index + 1, r.count);
        if !msg.whole {
            fields.insert("cut".into(), json!(true));
            summary.push_str(" (cut)");
        }
        if r.arrived >= r.count {
            fields.insert("sizes".into(), json!(r.sizes));
            summary.push_str(", all arrived");
            *slot = None;
        }
        let mut unit = Unit::new("attachment", summary);
        unit.fields = fields;
        Some(unit)
    }
}

fn ack_key(dir: Direction, nsp: &str, id: u64) -> AckKey {
    AckKey {
        dir,
        nsp: nsp.to_string(),
        id,
    }
}

/// The packet's JSON payload, checked as socket.io-parser's `isPayloadValid` does. `at` is its
/// offset in the message.
fn payload(head: &Head<'_>, text: &str, at: usize) -> Result<Option<Value>, Malformed> {
    if text.is_empty() {
        return Ok(None);
    }
    let value = parse_json(text, at)?;
    let name = head.kind.name();
    let wrong = |what: &str| Err(format!("byte {at}: the payload of {name} must be {what}"));
    match head.kind {
        SioType::Connect if !value.is_object() => wrong("a JSON object"),
        SioType::Disconnect => wrong("absent"),
        SioType::ConnectError if !(value.is_object() || value.is_string()) => {
            wrong("a JSON object or string")
        }
        t if t.is_event() && event_name(&value).is_none() => {
            wrong("an array starting with the event name (a string or a number)")
        }
        t if t.is_ack() && !value.is_array() => wrong("an array"),
        _ => Ok(Some(value)),
    }
}

/// The event name: the first element of an EVENT's array, a string or a number.
fn event_name(payload: &Value) -> Option<String> {
    match payload.as_array()?.first()? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The elements of an array payload from `from` on.
fn rest(payload: &Value, from: usize) -> Vec<Value> {
    payload
        .as_array()
        .map(|a| a.iter().skip(from).cloned().collect())
        .unwrap_or_default()
}

/// The fields of CONNECT (the client's auth, the server's sid), DISCONNECT and CONNECT_ERROR
/// (its message and data).
fn connect_fields(
    kind: SioType,
    dir: Direction,
    payload: Option<&Value>,
    fields: &mut Map<String, Value>,
) {
    let Some(p) = payload else { return };
    match (kind, dir) {
        (SioType::Connect, Direction::ClientToServer) => {
            fields.insert("auth".into(), p.clone());
        }
        (SioType::ConnectError, _) if p.is_string() => {
            fields.insert("message".into(), p.clone());
        }
        _ => {
            for (name, value) in p.as_object().into_iter().flatten() {
                fields.insert(snake_case(name), value.clone());
            }
        }
    }
}

fn connect_summary(kind: SioType, fields: &Map<String, Value>) -> String {
    let s = |k: &str| fields.get(k).and_then(Value::as_str);
    match kind {
        SioType::Connect => match (s("sid"), fields.get("auth")) {
            (Some(sid), _) => format!(" sid {sid}"),
            (None, Some(auth)) => format!(" auth {}", preview_value(auth)),
            (None, None) => String::new(),
        },
        SioType::ConnectError => s("message").map(|m| format!(" {m:?}")).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Arguments as compact JSON, placeholders shown as `<binary k>`, cut near [`ARGS_PREVIEW`]
/// characters.
fn preview(args: &[Value]) -> String {
    let mut out = String::from("[");
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        render(a, &mut out);
        if out.len() > ARGS_PREVIEW {
            break;
        }
    }
    out.push(']');
    cut(out)
}

fn preview_value(v: &Value) -> String {
    let mut out = String::new();
    render(v, &mut out);
    cut(out)
}

/// Cut a preview to [`ARGS_PREVIEW`] characters, marking the cut with `…`.
fn cut(s: String) -> String {
    match s.char_indices().nth(ARGS_PREVIEW) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s,
    }
}

/// Compact JSON into `out`, stopping once it is longer than a preview shows (so a large
/// argument costs no more than its preview).
fn render(v: &Value, out: &mut String) {
    if out.len() > ARGS_PREVIEW {
        return;
    }
    match v {
        Value::Object(m) if is_placeholder(m) => {
            let k = m.get("num").and_then(Value::as_u64).unwrap_or(0);
            out.push_str(&format!("<binary {k}>"));
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render(x, out);
                if out.len() > ARGS_PREVIEW {
                    return;
                }
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                render(x, out);
                if out.len() > ARGS_PREVIEW {
                    return;
                }
            }
            out.push('}');
        }
        Value::String(s) => {
            let head: String = s.chars().take(ARGS_PREVIEW + 1).collect();
            out.push_str(&Value::String(head).to_string());
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `{"_placeholder":true,"num":k}`: where attachment k goes.
fn is_placeholder(m: &Map<String, Value>) -> bool {
    m.get("_placeholder") == Some(&Value::Bool(true)) && m.get("num").is_some_and(Value::is_u64)
}
