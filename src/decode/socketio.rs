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
//! The strings they keep (namespace, event name, ping data) are cut at [`KEEP`] bytes.

use std::collections::{HashMap, VecDeque};

use serde_json::{json, Map, Value};

use super::text::cut;
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
        // serde's message ends with its own line and column: say the byte of the message
        let full = e.to_string();
        let what = full.rsplit_once(" at line ").map_or(full.as_str(), |(w, _)| w);
        if e.line() == 1 {
            let byte = at + e.column().saturating_sub(1);
            format!("byte {byte}: the JSON payload is invalid ({what})")
        } else {
            let (line, column) = (e.line(), e.column());
            format!("the JSON payload from byte {at} is invalid at its line {line} column {column} ({what})")
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
    /// Its data (`probe`, or nothing), as [`kept`], and its length.
    data: String,
    len: usize,
}

/// Bytes of a string (namespace, event name, ping data) the decoder keeps across messages, so
/// that [`MAX_PENDING`] questions waiting hold well under a megabyte.
const KEEP: usize = 256;

/// `s`, or its first [`KEEP`] bytes (to a character boundary) and `…`.
fn kept(s: &str) -> String {
    if s.len() <= KEEP {
        return s.to_string();
    }
    let mut end = KEEP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
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
        // the packet type is one ASCII digit, so the data starts at byte 1 (a first byte
        // outside 0-6 is reported before anything is sliced)
        let data = text.get(1..).unwrap_or_default();
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
            summary.push_str(&format!("sid {}", bare(sid)));
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
            data: kept(data),
            len: data.len(),
        });
        heartbeat_unit("ping", data)
    }

    /// A pong answers the oldest ping of the other direction with the same data (`probe` for
    /// the upgrade probe, nothing for a heartbeat).
    fn pong(&mut self, data: &str, msg: &AppMessage<'_>) -> Unit {
        let mut unit = heartbeat_unit("pong", data);
        let waiting = &mut self.pings[other(msg.dir).index()];
        let data_kept = kept(data);
        if let Some(at) = waiting
            .iter()
            .position(|p| p.len == data.len() && p.data == data_kept)
        {
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
    let mut unit = Unit::new(kind, bare(data));
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
                nsp: kept(head.nsp),
                id: head.id,
                // an event's name, or for an ack the name of the event it answers
                event: unit.fields.get("event").map(|e| match e {
                    Value::String(s) => kept(s),
                    other => kept(&other.to_string()),
                }),
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
            format!("{} ", bare(head.nsp))
        };
        let id = head.id.map(|i| format!(" id {i}")).unwrap_or_default();
        let mut key = None;
        let mut answers = None;
        let summary = match head.kind {
            SioType::Connect | SioType::Disconnect | SioType::ConnectError => {
                key = Some(head.nsp.to_string());
                connect_fields(head.kind, msg.dir, payload, &mut fields);
                format!("{}{}", bare(head.nsp), connect_summary(head.kind, &fields))
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
                        event: event.as_deref().map(kept),
                        seq: 0,
                    };
                    self.acks.ask(ack_key(msg.dir, head.nsp, i), question);
                }
                let name = event
                    .map(|e| format!("{:?} ", cut(&e, ARGS_PREVIEW)))
                    .unwrap_or_default();
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
                        name = format!(" {:?}", cut(e, ARGS_PREVIEW));
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
            (Some(e), _) => format!("{:?}", cut(e, ARGS_PREVIEW)),
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
        nsp: kept(nsp),
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
        t if t.is_event() && RESERVED_EVENTS.contains(&value[0].as_str().unwrap_or("")) => {
            Err(format!("byte {at}: {} is a reserved event name", value[0]))
        }
        t if t.is_ack() && !value.is_array() => wrong("an array"),
        _ => Ok(Some(value)),
    }
}

/// Names socket.io-parser refuses as event names: they mean something else to its sockets.
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

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
            (Some(sid), _) => format!(" sid {}", bare(sid)),
            (None, Some(auth)) => format!(" auth {}", preview_value(auth)),
            (None, None) => String::new(),
        },
        SioType::ConnectError => s("message")
            .map(|m| format!(" {:?}", cut(m, ARGS_PREVIEW)))
            .unwrap_or_default(),
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
    cut(&out, ARGS_PREVIEW)
}

fn preview_value(v: &Value) -> String {
    let mut out = String::new();
    render(v, &mut out);
    cut(&out, ARGS_PREVIEW)
}

/// A name shown bare (a namespace, a sid, a packet's data): cut to [`ARGS_PREVIEW`] characters, with control
/// characters escaped as in a Rust string, so the summary stays one line.
fn bare(s: &str) -> String {
    // escape only what a summary can show: the first characters
    let head: String = s
        .chars()
        .take(ARGS_PREVIEW + 1)
        .map(|c| match c.is_control() {
            true => c.escape_debug().to_string(),
            false => c.to_string(),
        })
        .collect();
    cut(&head, ARGS_PREVIEW)
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

#[cfg(test)]
mod tests {
    use super::*;

    const C2S: Direction = Direction::ClientToServer;
    const S2C: Direction = Direction::ServerToClient;

    /// A session under test: messages numbered per direction, 1 ms apart.
    #[derive(Default)]
    struct Session {
        d: Decoder,
        count: [u64; 2],
        now: u64,
    }

    impl Session {
        fn send(
            &mut self,
            dir: Direction,
            text: bool,
            bytes: &[u8],
            whole: bool,
        ) -> (Option<Unit>, Vec<Finding>) {
            self.count[dir.index()] += 1;
            self.now += 1_000_000;
            let msg = AppMessage {
                dir,
                index: self.count[dir.index()],
                text,
                bytes,
                whole,
                ts: Timestamp(self.now),
            };
            let mut found = Vec::new();
            let decoded = self.d.decode(&msg, &mut found);
            if let Some(d) = &decoded {
                assert_eq!(d.units.len(), 1);
            }
            (decoded.map(|d| d.units[0].clone()), found)
        }

        /// A whole text message that decodes without a finding.
        fn text(&mut self, dir: Direction, s: &str) -> Unit {
            let (u, found) = self.send(dir, true, s.as_bytes(), true);
            assert!(found.is_empty(), "{s}: {found:?}");
            u.unwrap_or_else(|| panic!("{s} not decoded"))
        }

        fn bin(&mut self, dir: Direction, bytes: &[u8]) -> Unit {
            let (u, found) = self.send(dir, false, bytes, true);
            assert!(found.is_empty(), "{found:?}");
            u.unwrap()
        }

        /// A whole text message that is malformed: its finding's text.
        fn bad(&mut self, dir: Direction, bytes: &[u8]) -> String {
            let (u, found) = self.send(dir, true, bytes, true);
            assert_eq!(u, None, "{}", String::from_utf8_lossy(bytes));
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].0.name, "socketio-malformed");
            found[0].1.clone()
        }
    }

    fn msg(text: &str) -> AppMessage<'_> {
        AppMessage {
            dir: S2C,
            index: 1,
            text: true,
            bytes: text.as_bytes(),
            whole: true,
            ts: Timestamp(0),
        }
    }

    const OPEN: &str = r#"0{"sid":"Sz9Lkvu9k0R8fgOLAAAA","upgrades":[],"pingInterval":300,"pingTimeout":2000,"maxPayload":1000000}"#;

    #[test]
    fn recognises_the_open_packet_and_the_probe() {
        assert!(recognises(&msg(OPEN)));
        assert!(recognises(&msg("2probe")));
        for not in [
            "0{}",
            "0{\"sid\":",
            "0[1]",
            "42[\"a\"]",
            "{\"sid\":\"x\"}",
            "",
        ] {
            assert!(!recognises(&msg(not)), "{not}");
        }
        let binary = AppMessage {
            text: false,
            ..msg(OPEN)
        };
        assert!(!recognises(&binary));
    }

    #[test]
    fn the_open_packet_gives_its_handshake() {
        let u = Session::default().text(S2C, OPEN);
        assert_eq!(u.kind, "open");
        assert_eq!(
            u.summary,
            "sid Sz9Lkvu9k0R8fgOLAAAA ping 300/2000 ms max 1000000 B"
        );
        assert_eq!(u.fields["sid"], "Sz9Lkvu9k0R8fgOLAAAA");
        assert_eq!(u.fields["upgrades"], json!([]));
        assert_eq!(u.fields["ping_interval"], 300);
        assert_eq!(u.fields["ping_timeout"], 2000);
        assert_eq!(u.fields["max_payload"], 1000000);
        assert!(!u.heartbeat);
    }

    #[test]
    fn a_pong_answers_the_other_sides_ping() {
        let mut s = Session::default();
        let ping = s.text(S2C, "2");
        assert_eq!((ping.kind.as_str(), ping.heartbeat), ("ping", true));
        assert_eq!(ping.answers, None);
        let pong = s.text(C2S, "3");
        assert!(pong.heartbeat);
        let a = pong.answers.unwrap();
        assert_eq!((a.dir, a.message, a.rtt_ns), (S2C, 1, 1_000_000));
        // a pong nobody pinged answers nothing
        assert_eq!(s.text(C2S, "3").answers, None);
        // Engine.IO v3: the client pings
        s.text(C2S, "2");
        assert_eq!(s.text(S2C, "3").answers.unwrap().dir, C2S);
    }

    #[test]
    fn the_upgrade_probe_is_not_a_heartbeat() {
        let mut s = Session::default();
        let ping = s.text(C2S, "2probe");
        assert_eq!(ping.kind, "ping");
        assert!(!ping.heartbeat);
        assert_eq!(ping.fields["probe"], true);
        assert_eq!(ping.fields["data"], "probe");
        let pong = s.text(S2C, "3probe");
        assert!(!pong.heartbeat);
        assert_eq!(pong.answers.unwrap().id, "probe");
        assert_eq!(s.text(C2S, "5").kind, "upgrade");
    }

    #[test]
    fn close_upgrade_and_noop() {
        let mut s = Session::default();
        for (text, kind) in [("1", "close"), ("5", "upgrade"), ("6", "noop")] {
            let u = s.text(C2S, text);
            assert_eq!((u.kind.as_str(), u.summary.as_str()), (kind, ""));
            assert!(u.fields.is_empty() && !u.heartbeat);
        }
    }

    #[test]
    fn connect_disconnect_and_connect_error() {
        let mut s = Session::default();
        let u = s.text(C2S, "40");
        assert_eq!((u.kind.as_str(), u.summary.as_str()), ("CONNECT", "/"));
        assert_eq!(u.key.as_deref(), Some("/"));
        let u = s.text(C2S, r#"40/admin,{"token":"secret"}"#);
        assert_eq!(u.summary, r#"/admin auth {"token":"secret"}"#);
        assert_eq!(u.fields["auth"], json!({"token": "secret"}));
        assert_eq!(u.fields["nsp"], "/admin");
        let u = s.text(S2C, r#"40/admin,{"sid":"qogj","pid":"p1"}"#);
        assert_eq!(u.summary, "/admin sid qogj");
        assert_eq!(
            (&u.fields["sid"], &u.fields["pid"]),
            (&json!("qogj"), &json!("p1"))
        );
        let u = s.text(
            S2C,
            r#"44/admin,{"message":"not authorised","data":{"code":7}}"#,
        );
        assert_eq!(u.kind, "CONNECT_ERROR");
        assert_eq!(u.summary, r#"/admin "not authorised""#);
        assert_eq!(u.fields["data"], json!({"code": 7}));
        // socket.io 3 and older servers send the message as a JSON string
        let u = s.text(S2C, r#"44/admin,"not authorised""#);
        assert_eq!(u.fields["message"], "not authorised");
        let u = s.text(C2S, "41/admin,");
        assert_eq!(
            (u.kind.as_str(), u.summary.as_str()),
            ("DISCONNECT", "/admin")
        );
        assert_eq!(s.text(S2C, "41").summary, "/");
    }

    #[test]
    fn events_with_namespace_arguments_and_ack_id() {
        let mut s = Session::default();
        let u = s.text(C2S, r#"42/chat,3["chat message","hi"]"#);
        assert_eq!(u.kind, "EVENT");
        assert_eq!(u.summary, r#"/chat "chat message" ["hi"] id 3"#);
        assert_eq!(u.key.as_deref(), Some("/chat chat message"));
        assert_eq!(u.fields["nsp"], "/chat");
        assert_eq!(u.fields["id"], 3);
        assert_eq!(u.fields["event"], "chat message");
        assert_eq!(u.fields["args"], json!(["hi"]));
        let u = s.text(S2C, r#"42["go"]"#);
        assert_eq!(
            (u.summary.as_str(), u.key.as_deref()),
            (r#""go" []"#, Some("go"))
        );
        assert!(!u.fields.contains_key("id"));
        // socket.io allows a number as the event name
        let u = s.text(S2C, "42[7,true]");
        assert_eq!(
            (u.fields["event"].clone(), u.key.as_deref()),
            (json!(7), Some("7"))
        );
    }

    #[test]
    fn an_ack_answers_the_emit_of_the_other_side_in_its_namespace() {
        let mut s = Session::default();
        s.text(C2S, r#"420["add",2,3]"#);
        s.text(C2S, r#"42/admin,0["stats"]"#);
        let u = s.text(S2C, "430[5]");
        assert_eq!(u.kind, "ACK");
        assert_eq!(u.summary, r#"id 0 "add" [5]"#);
        assert_eq!(u.key.as_deref(), Some("add"));
        assert_eq!(u.fields["event"], "add");
        assert_eq!(u.fields["args"], json!([5]));
        let a = u.answers.unwrap();
        assert_eq!(
            (a.id.as_str(), a.dir, a.message, a.rtt_ns),
            ("0", C2S, 1, 2_000_000)
        );
        // answered once; the same id in /admin is another emit
        assert_eq!(s.text(S2C, "430[5]").answers, None);
        let u = s.text(S2C, r#"43/admin,0[{"users":1}]"#);
        assert_eq!(u.answers.unwrap().message, 2);
        assert_eq!(u.key.as_deref(), Some("/admin stats"));
        // an ack from the emitter's own side answers nothing
        s.text(S2C, r#"421["question"]"#);
        assert_eq!(s.text(S2C, r#"431["yes"]"#).answers, None);
        assert!(s.text(C2S, r#"431["yes"]"#).answers.is_some());
    }

    #[test]
    fn binary_attachments_join_their_event() {
        let mut s = Session::default();
        let u = s.text(
            S2C,
            r#"452-["files",{"count":2},{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        );
        assert_eq!(u.kind, "BINARY_EVENT");
        assert_eq!(u.fields["attachments"], 2);
        assert_eq!(u.summary, r#""files" [{"count":2},<binary 0>,<binary 1>]"#);
        // a heartbeat between the packet and its attachments is allowed
        s.text(S2C, "2");
        let a = s.bin(S2C, &[1; 5]);
        assert_eq!(a.kind, "attachment");
        assert_eq!(a.summary, r#"1/2 of "files" 5 B"#);
        assert_eq!(a.fields["index"], 0);
        assert_eq!(a.fields["count"], 2);
        assert_eq!(a.fields["size"], 5);
        assert_eq!(a.fields["event"], "files");
        assert_eq!(a.fields["packet"], "BINARY_EVENT");
        assert!(!a.fields.contains_key("sizes"));
        let a = s.bin(S2C, &[2; 2000]);
        assert_eq!(a.summary, r#"2/2 of "files" 2000 B, all arrived"#);
        assert_eq!(a.fields["sizes"], json!([5, 2000]));
        // all arrived: a further binary message belongs to nothing
        let (u, found) = s.send(S2C, false, b"x", true);
        assert_eq!(u, None);
        assert!(
            found[0]
                .1
                .contains("no BINARY_EVENT or BINARY_ACK announced"),
            "{found:?}"
        );
    }

    #[test]
    fn a_binary_ack_answers_and_its_attachment_follows() {
        let mut s = Session::default();
        s.text(C2S, r#"422["download","b.bin"]"#);
        // the other direction's binary messages are not this packet's attachments
        let u = s.text(S2C, r#"461-2[{"_placeholder":true,"num":0}]"#);
        assert_eq!(u.kind, "BINARY_ACK");
        assert_eq!(u.summary, r#"id 2 "download" [<binary 0>]"#);
        assert_eq!(u.answers.unwrap().message, 1);
        let (none, found) = s.send(C2S, false, b"abc", true);
        assert!(none.is_none() && found.len() == 1);
        let a = s.bin(S2C, &[0; 300]);
        assert_eq!(a.summary, r#"1/1 of "download" 300 B, all arrived"#);
        assert_eq!(a.fields["id"], 2);
        assert_eq!(a.fields["packet"], "BINARY_ACK");
    }

    #[test]
    fn a_packet_before_all_attachments_arrived_is_reported() {
        let mut s = Session::default();
        s.text(
            C2S,
            r#"452-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        );
        s.bin(C2S, b"one");
        let (u, found) = s.send(C2S, true, br#"42["next"]"#, true);
        assert_eq!(u.unwrap().kind, "EVENT");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.name, "socketio-attachment-missing");
        assert_eq!(
            found[0].1,
            "BINARY_EVENT of message 1 announced 2 attachments; 1 arrived before this packet"
        );
        // the reassembly is dropped
        assert_eq!(s.send(C2S, false, b"two", true).0, None);
    }

    #[test]
    fn malformed_messages_say_what_is_wrong_and_where() {
        let mut s = Session::default();
        let cases: [(&[u8], &str); 15] = [
            (b"", "an empty message: no Engine.IO packet type"),
            (b"7", "byte 0: '7' is not an Engine.IO packet type (0-6)"),
            (b"\x01", "byte 0: 0x01 is not an Engine.IO packet type (0-6)"),
            (b"4", "byte 1: a message packet without a Socket.IO packet"),
            (b"49", "byte 1: '9' is not a Socket.IO packet type (0-6)"),
            (b"45[\"a\"]", "byte 2: BINARY_EVENT must be followed by its attachment count (1 or more) and '-'"),
            (b"450-[\"a\"]", "byte 2: BINARY_EVENT must be followed by its attachment count (1 or more) and '-'"),
            (b"42[\"a\",]", "byte 7: the JSON payload is invalid (trailing comma)"),
            (b"42{\"a\":1}", "byte 2: the payload of EVENT must be an array starting with the event name (a string or a number)"),
            (b"42[\"connect\"]", "byte 2: \"connect\" is a reserved event name"),
            (b"43{}", "byte 2: the payload of ACK must be an array"),
            (b"40[1]", "byte 2: the payload of CONNECT must be a JSON object"),
            (b"41{}", "byte 2: the payload of DISCONNECT must be absent"),
            (b"4299999999999999999999[\"a\"]", "byte 2: ack id of 20 digits is too large"),
            (b"0[]", "byte 1: the open packet's payload is not a JSON object"),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                s.bad(C2S, bytes),
                want,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(s.bad(C2S, b"42[\"\xff\"]"), "byte 4: not UTF-8");
        assert_eq!(
            s.bad(C2S, "岍".as_bytes()),
            "byte 0: 0xe5 is not an Engine.IO packet type (0-6)"
        );
        assert!(s
            .bad(C2S, b"44[1]")
            .contains("CONNECT_ERROR must be a JSON object or string"));
    }

    #[test]
    fn a_cut_message_gives_its_head_and_no_finding() {
        let mut s = Session::default();
        let (u, found) = s.send(C2S, true, br#"42/chat,7["chat mes"#, false);
        let u = u.unwrap();
        assert!(found.is_empty());
        assert_eq!(u.kind, "EVENT");
        assert_eq!(u.fields["id"], 7);
        assert_eq!(u.fields["cut"], true);
        assert!(u.summary.ends_with("(cut)"), "{}", u.summary);
        // its ack is still matched
        assert!(s.text(S2C, "43/chat,7[]").answers.is_some());
        // a cut inside a UTF-8 sequence, or an open packet cut short: nothing said
        let (u, found) = s.send(C2S, true, b"42[\"\xc3", false);
        assert!(u.is_some() && found.is_empty());
        let (u, found) = s.send(S2C, true, br#"0{"sid":"ab"#, false);
        assert!(u.is_none() && found.is_empty());
        let (u, found) = s.send(S2C, true, b"", false);
        assert!(u.is_none() && found.is_empty());
        // a cut attachment still counts
        s.text(S2C, r#"451-["f",{"_placeholder":true,"num":0}]"#);
        let (a, _) = s.send(S2C, false, &[0; 10], false);
        assert_eq!(a.unwrap().fields["cut"], true);
    }

    #[test]
    fn at_most_max_pending_emits_wait_for_their_ack() {
        let mut s = Session::default();
        let extra = 6;
        for id in 0..MAX_PENDING + extra {
            s.text(C2S, &format!("42{id}[\"e\"]"));
        }
        assert_eq!(s.d.acks.waiting.len(), MAX_PENDING);
        assert!(s.d.acks.order.len() <= 2 * MAX_PENDING);
        // the oldest were forgotten, the newest still wait
        assert_eq!(s.text(S2C, "430[]").answers, None);
        assert!(s.text(S2C, &format!("43{extra}[]")).answers.is_some());
        // the same id asked again and again keeps the bookkeeping bounded
        for _ in 0..5 * MAX_PENDING {
            s.text(C2S, "421[\"again\"]");
        }
        assert!(s.d.acks.order.len() <= 2 * MAX_PENDING);
        assert_eq!(
            s.text(S2C, "431[]").answers.unwrap().message,
            (6 * MAX_PENDING + extra) as u64
        );
    }

    #[test]
    fn at_most_max_pending_pings_wait_for_their_pong() {
        let mut s = Session::default();
        for _ in 0..MAX_PENDING + 10 {
            s.text(S2C, "2");
        }
        assert_eq!(s.d.pings[S2C.index()].len(), MAX_PENDING);
        // a pong answers the oldest ping still waiting; those before it are dropped
        assert_eq!(s.text(C2S, "3").answers.unwrap().message, 11);
        assert_eq!(s.d.pings[S2C.index()].len(), MAX_PENDING - 1);
    }

    #[test]
    fn attachment_sizes_kept_are_bounded() {
        let mut s = Session::default();
        s.text(C2S, r#"4599999-["many"]"#);
        for _ in 0..MAX_PENDING + 5 {
            s.bin(C2S, b"x");
        }
        let r = s.d.binary[C2S.index()].as_ref().unwrap();
        assert_eq!(
            (r.sizes.len(), r.arrived),
            (MAX_PENDING, (MAX_PENDING + 5) as u64)
        );
    }

    #[test]
    fn long_names_are_cut_in_the_summary() {
        let long = "n".repeat(10_000);
        let mut s = Session::default();
        for text in [
            format!(r#"42/{long},1["{long}",1]"#),
            format!(r#"43/{long},1[1]"#),
            format!(r#"44/{long},{{"message":"{long}"}}"#),
            format!(r#"40/{long},{{"sid":"{long}"}}"#),
            format!("1{long}"),
            format!(r#"0{{"sid":"{long}"}}"#),
            format!(r#"451-/{long},["{long}",{{"_placeholder":true,"num":0}}]"#),
        ] {
            let u = s.text(S2C, &text);
            assert!(u.summary.chars().count() < 140, "{}", u.summary);
        }
        assert!(s.bin(S2C, b"x").summary.chars().count() < 80);
    }

    #[test]
    fn long_arguments_are_cut_in_the_summary() {
        let long = "x".repeat(10_000);
        let mut s = Session::default();
        let u = s.text(
            C2S,
            &format!(r#"42["say","{long}",{{"deep":[[[["{long}"]]]]}}]"#),
        );
        assert!(u.summary.chars().count() < 60, "{}", u.summary);
        assert!(u.summary.ends_with('…'));
        assert_eq!(u.fields["args"][0].as_str().unwrap().len(), 10_000);
    }

    #[test]
    fn strings_kept_while_waiting_are_cut() {
        let mut s = Session::default();
        let nsp = format!("/{}", "é".repeat(200_000));
        s.text(C2S, &format!(r#"42{nsp},1["{}"]"#, "e".repeat(100_000)));
        s.text(S2C, &format!("2{}", "p".repeat(100_000)));
        let q = s.d.acks.waiting.values().next().unwrap();
        assert!(q.event.as_ref().unwrap().len() <= KEEP + 3);
        assert!(s.d.acks.waiting.keys().next().unwrap().nsp.len() <= KEEP + 3);
        assert!(s.d.pings[S2C.index()][0].data.len() <= KEEP + 3);
        // they still match: the same namespace and id, the same ping data
        assert!(s.text(S2C, &format!("43{nsp},1[]")).answers.is_some());
        assert!(s
            .text(C2S, &format!("3{}", "p".repeat(100_000)))
            .answers
            .is_some());
    }
    #[test]
    fn a_summary_is_one_line_whatever_the_names_hold() {
        let mut s = Session::default();
        for text in [
            "1\nclose",
            "6\u{1b}[31m",
            "40/a\nb,{\"sid\":\"x\\ny\"}",
            "42/a\u{7},[\"e\\nv\",\"\\u001b\"]",
            "0{\"sid\":\"a\\u000ab\"}",
        ] {
            let u = s.text(S2C, text);
            assert!(!u.summary.chars().any(char::is_control), "{:?}", u.summary);
        }
        // escaped, still short
        for text in [
            format!("1{}", "\u{13}".repeat(1000)),
            format!("40/{},", "\n".repeat(1000)),
        ] {
            let u = s.text(S2C, &text);
            assert!(u.summary.chars().count() <= 60, "{:?}", u.summary);
        }
    }
}
