//! STOMP 1.0–1.2 frames (stomp.github.io/stomp-specification-1.2.html): a command line,
//! header lines, a blank line, a body up to NUL (or `content-length` bytes then NUL), then
//! optional EOLs. A message of EOLs alone is a heart-beat. A WebSocket message holds one or
//! more whole frames; a frame continued into the next message is not joined (no peer here
//! splits frames; see docs/decoders/stomp.md).
//!
//! Answers: a `RECEIPT` (or `ERROR`) answers the client frame whose `receipt` header its
//! `receipt-id` names; a `MESSAGE` answers the `SUBSCRIBE` its `subscription` names; an
//! `ACK`/`NACK` answers the `MESSAGE` whose `ack` (1.2) or `message-id` (1.0, 1.1) it names.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::pending::{Pending, Question};
use super::text::{cut, quoted, ID_CHARS};
use super::types::{Answer, AppMessage, Decode, Decoded, Finding, Protocol, Unit};
use crate::base::rules;
use crate::base::Direction;

/// Client commands (§ Client Frames), then server commands (§ Server Frames).
const COMMANDS: [&str; 15] = [
    "CONNECT",
    "STOMP",
    "SEND",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "ACK",
    "NACK",
    "BEGIN",
    "COMMIT",
    "ABORT",
    "DISCONNECT",
    "CONNECTED",
    "MESSAGE",
    "RECEIPT",
    "ERROR",
];

/// The first message of a session is a client's `CONNECT` or `STOMP` frame with the
/// `accept-version` header that 1.1 and 1.2 require (a 1.0 session is named by its
/// subprotocol `v10.stomp` or by `--decode stomp`).
pub fn recognises(msg: &AppMessage<'_>) -> bool {
    if msg.dir != Direction::ClientToServer {
        return false;
    }
    let b = msg.bytes;
    let rest = ["CONNECT\n", "CONNECT\r\n", "STOMP\n", "STOMP\r\n"]
        .iter()
        .find_map(|c| b.strip_prefix(c.as_bytes()));
    let Some(rest) = rest else { return false };
    let head_end = find_blank_line(rest).unwrap_or(rest.len());
    rest[..head_end]
        .split(|&c| c == b'\n')
        .any(|line| line.starts_with(b"accept-version:"))
}

fn find_blank_line(b: &[u8]) -> Option<usize> {
    b.windows(2)
        .position(|w| w == b"\n\n")
        .or_else(|| b.windows(4).position(|w| w == b"\r\n\r\n"))
}

/// Which header escapes apply (§ Value Encoding): none in 1.0, `\n \c \\` from 1.1, `\r` too
/// in 1.2. `CONNECT` and `CONNECTED` frames are never escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    V1_0,
    V1_1,
    V1_2,
}

impl Version {
    fn from_header(v: &str) -> Option<Version> {
        match v.trim() {
            "1.0" => Some(Version::V1_0),
            "1.1" => Some(Version::V1_1),
            "1.2" => Some(Version::V1_2),
            _ => None,
        }
    }
}

/// One parsed frame. Headers keep their order; the first of a repeated header counts (§ Repeated
/// Header Entries).
#[derive(Debug)]
struct Frame<'a> {
    command: &'a str,
    headers: Vec<(String, String)>,
    /// `None` when the body was not read (a message cut short).
    body: Option<&'a [u8]>,
}

impl Frame<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a frame could not be read.
#[derive(Debug, PartialEq)]
enum Stop {
    /// The bytes end before the frame does.
    Incomplete(&'static str),
    /// What is wrong, at which byte of the message.
    Malformed(String),
}

/// A line from `pos` to the next LF (a CR before it is dropped), and where the next line starts.
fn line(b: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let nl = b[pos..].iter().position(|&c| c == b'\n')? + pos;
    let end = if nl > pos && b[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((&b[pos..end], nl + 1))
}

/// Parse the command and headers of the frame at `pos`; returns the frame without body and
/// where the body starts.
fn parse_head(b: &[u8], pos: usize, version: Version) -> Result<(Frame<'_>, usize), Stop> {
    let (cmd, mut at) = line(b, pos).ok_or(Stop::Incomplete("the command line"))?;
    let command = std::str::from_utf8(cmd)
        .ok()
        .and_then(|c| COMMANDS.iter().find(|k| **k == c))
        .ok_or_else(|| {
            Stop::Malformed(format!(
                "unknown command {:?} at byte {pos}",
                String::from_utf8_lossy(&cmd[..cmd.len().min(32)])
            ))
        })?;
    let escaped = version >= Version::V1_1 && *command != "CONNECT" && *command != "CONNECTED";
    let mut headers = Vec::new();
    loop {
        let start = at;
        let (l, next) = line(b, at).ok_or(Stop::Incomplete("the headers"))?;
        at = next;
        if l.is_empty() {
            break;
        }
        headers.push(parse_header(l, start, escaped.then_some(version))?);
    }
    let frame = Frame {
        command,
        headers,
        body: None,
    };
    Ok((frame, at))
}

/// One `name:value` line at byte `at`, unescaped when `escapes` names a version.
fn parse_header(l: &[u8], at: usize, escapes: Option<Version>) -> Result<(String, String), Stop> {
    let colon = l
        .iter()
        .position(|&c| c == b':')
        .ok_or_else(|| Stop::Malformed(format!("header line at byte {at} has no colon")))?;
    let text = |part: &[u8], off: usize| -> Result<String, Stop> {
        let s = std::str::from_utf8(part).map_err(|e| {
            Stop::Malformed(format!(
                "header at byte {at} is not UTF-8 (byte {})",
                at + off + e.valid_up_to()
            ))
        })?;
        match escapes {
            Some(v) => unescape(s, v).map_err(|(i, esc)| {
                Stop::Malformed(format!(
                    "undefined escape {esc:?} at byte {} in header {:?}",
                    at + off + i,
                    String::from_utf8_lossy(&l[..colon])
                ))
            }),
            None => Ok(s.to_string()),
        }
    };
    Ok((text(&l[..colon], 0)?, text(&l[colon + 1..], colon + 1)?))
}

/// Undo § Value Encoding; an undefined escape is an error with its offset and text.
fn unescape(s: &str, v: Version) -> Result<String, (usize, String)> {
    if !s.contains('\\') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next().map(|(_, e)| e) {
            Some('n') => out.push('\n'),
            Some('c') => out.push(':'),
            Some('\\') => out.push('\\'),
            Some('r') if v == Version::V1_2 => out.push('\r'),
            Some(e) => return Err((i, format!("\\{e}"))),
            None => return Err((i, "\\".to_string())),
        }
    }
    Ok(out)
}

/// Parse the whole frame at `pos`: head, body and the EOLs after its NUL. Returns the frame
/// and where the next one starts.
fn parse_frame(b: &[u8], pos: usize, version: Version) -> Result<(Frame<'_>, usize), Stop> {
    let (mut frame, body_at) = parse_head(b, pos, version)?;
    let nul = match frame.header("content-length") {
        Some(cl) => {
            let len: usize = cl.trim().parse().map_err(|_| {
                Stop::Malformed(format!(
                    "content-length {:?} of the {} frame at byte {pos} is not a length",
                    cl, frame.command
                ))
            })?;
            let nul = body_at
                .checked_add(len)
                .filter(|&n| n < b.len())
                .ok_or(Stop::Incomplete("the content-length body"))?;
            if b[nul] != 0 {
                return Err(Stop::Malformed(format!(
                    "byte {nul} after the content-length {len} body is not NUL"
                )));
            }
            nul
        }
        None => {
            body_at
                + b[body_at..]
                    .iter()
                    .position(|&c| c == 0)
                    .ok_or(Stop::Incomplete("the NUL that ends the frame"))?
        }
    };
    frame.body = Some(&b[body_at..nul]);
    Ok((frame, skip_eols(b, nul + 1)))
}

fn skip_eols(b: &[u8], mut at: usize) -> usize {
    loop {
        match b.get(at..) {
            Some([b'\n', ..]) => at += 1,
            Some([b'\r', b'\n', ..]) => at += 2,
            _ => return at,
        }
    }
}

/// A STOMP session's decoder: the version the server chose, and the questions waiting.
#[derive(Debug)]
pub struct Decoder {
    version: Version,
    /// Client frames that asked for a receipt, by `receipt`.
    receipts: Pending<String, Option<String>>,
    /// Subscriptions by `id`, with their destination.
    subscriptions: Pending<String, Option<String>>,
    /// MESSAGEs waiting for an ACK/NACK, by `ack` (1.2) or `message-id`, with the destination.
    acks: Pending<String, Option<String>>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            version: Version::V1_2,
            receipts: Pending::default(),
            subscriptions: Pending::default(),
            acks: Pending::default(),
        }
    }
}

impl Decode for Decoder {
    fn protocol(&self) -> Protocol {
        Protocol::Stomp
    }

    fn decode(&mut self, msg: &AppMessage<'_>, found: &mut Vec<Finding>) -> Option<Decoded> {
        let b = msg.bytes;
        if !b.is_empty() && skip_eols(b, 0) == b.len() {
            return Some(self.decoded(vec![heartbeat(b)]));
        }
        if !msg.whole {
            return self.decode_cut(msg);
        }
        let mut units = Vec::new();
        let mut pos = 0;
        while pos < b.len() {
            match parse_frame(b, pos, self.version) {
                Ok((frame, next)) => {
                    units.push(self.unit(msg, &frame));
                    pos = next;
                }
                Err(stop) => {
                    found.push((&rules::STOMP_MALFORMED, describe(stop, pos)));
                    return None;
                }
            }
        }
        if units.is_empty() {
            found.push((
                &rules::STOMP_MALFORMED,
                "an empty message is neither a frame nor a heart-beat (an EOL)".to_string(),
            ));
            return None;
        }
        Some(self.decoded(units))
    }
}

fn describe(stop: Stop, pos: usize) -> String {
    match stop {
        Stop::Malformed(what) => what,
        Stop::Incomplete(what) => {
            format!("the message ends inside the frame at byte {pos}, before {what}")
        }
    }
}

fn heartbeat(b: &[u8]) -> Unit {
    let eols = b.iter().filter(|&&c| c == b'\n').count();
    let mut u = Unit::new("HEARTBEAT", format!("{eols} EOL"));
    u.heartbeat = true;
    u.fields.insert("eols".into(), json!(eols));
    u
}

impl Decoder {
    fn decoded(&self, units: Vec<Unit>) -> Decoded {
        Decoded {
            protocol: Protocol::Stomp,
            units,
        }
    }

    /// A message cut short: the first frame's command and headers when they are all there
    /// (the body is not read: missing bytes could hide its NUL).
    fn decode_cut(&mut self, msg: &AppMessage<'_>) -> Option<Decoded> {
        let (frame, _) = parse_head(msg.bytes, 0, self.version).ok()?;
        let mut unit = self.unit(msg, &frame);
        unit.fields.insert("cut".into(), Value::Bool(true));
        Some(self.decoded(vec![unit]))
    }

    /// The unit of a frame, matching it to the question it answers and keeping the questions
    /// it asks.
    fn unit(&mut self, msg: &AppMessage<'_>, f: &Frame<'_>) -> Unit {
        let mut unit = Unit::new(f.command, summary(f));
        unit.fields = fields(f);
        unit.key = f.header("destination").map(str::to_string);
        let (answer, about) = self.matched(msg, f).unwrap_or_default();
        unit.answers = answer;
        if unit.key.is_none() {
            unit.key = about;
        }
        unit
    }

    /// Keep what `f` asks; find what it answers (or the subscription it ends) and the
    /// question's destination.
    fn matched(
        &mut self,
        msg: &AppMessage<'_>,
        f: &Frame<'_>,
    ) -> Option<(Option<Answer>, Option<String>)> {
        let h = |n: &str| f.header(n).map(str::to_string);
        // Kept while a question waits: cut, so a thousand waiting cannot hold megabytes each.
        let dest = h("destination").map(|d| super::text::cut(&d, super::text::ID_CHARS));
        if msg.dir == Direction::ClientToServer {
            if let Some(r) = h("receipt") {
                self.receipts
                    .insert(r, Question::asked_by(msg, dest.clone()));
            }
        }
        let answer = |p: &Question<Option<String>>, id: &str| {
            Some((Some(p.answered_by(msg, id)), p.about.clone()))
        };
        match (msg.dir, f.command) {
            (Direction::ClientToServer, "SUBSCRIBE") => {
                if let Some(id) = h("id").or_else(|| dest.clone()) {
                    self.subscriptions.insert(id, Question::asked_by(msg, dest));
                }
                None
            }
            (Direction::ClientToServer, "UNSUBSCRIBE") => {
                let id = h("id").or(dest)?;
                // The client ends its own subscription: not an answer, but its destination.
                let q = self.subscriptions.remove(&id)?;
                Some((None, q.about))
            }
            (Direction::ClientToServer, "ACK" | "NACK") => {
                let id = h("id").or_else(|| h("message-id"))?;
                let q = self.acks.remove(&id)?;
                answer(&q, &id)
            }
            (Direction::ClientToServer, "DISCONNECT") => {
                self.version = Version::V1_2;
                None
            }
            (Direction::ServerToClient, "CONNECTED") => {
                if let Some(v) = h("version").as_deref().and_then(Version::from_header) {
                    self.version = v;
                } else {
                    // § CONNECTED: a server without `version` speaks 1.0.
                    self.version = Version::V1_0;
                }
                None
            }
            (Direction::ServerToClient, "MESSAGE") => {
                if let Some(id) = h("ack").or_else(|| h("message-id")) {
                    self.acks.insert(id, Question::asked_by(msg, dest.clone()));
                }
                let sub = h("subscription").or(dest)?;
                let q = self.subscriptions.get(&sub)?;
                answer(q, &sub)
            }
            (Direction::ServerToClient, "RECEIPT" | "ERROR") => {
                let id = h("receipt-id")?;
                let q = self.receipts.remove(&id)?;
                answer(&q, &id)
            }
            _ => None,
        }
    }
}

/// The headers a reader needs first, by command.
fn summary(f: &Frame<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut add = |label: &str, name: &str| {
        if let Some(v) = f.header(name) {
            let v = cut(v, ID_CHARS);
            parts.push(if label.is_empty() {
                v
            } else {
                format!("{label} {v}")
            });
        }
    };
    match f.command {
        "CONNECT" | "STOMP" => {
            add("", "host");
            add("accept-version", "accept-version");
            add("heart-beat", "heart-beat");
            add("login", "login");
        }
        "CONNECTED" => {
            add("version", "version");
            add("heart-beat", "heart-beat");
            add("server", "server");
        }
        "SEND" => {
            add("", "destination");
            add("transaction", "transaction");
        }
        "SUBSCRIBE" => {
            add("", "destination");
            add("id", "id");
            add("ack", "ack");
        }
        "UNSUBSCRIBE" => add("id", "id"),
        "ACK" | "NACK" => {
            add("id", "id");
            add("message-id", "message-id");
            add("transaction", "transaction");
        }
        "BEGIN" | "COMMIT" | "ABORT" => add("transaction", "transaction"),
        "MESSAGE" => {
            add("", "destination");
            add("sub", "subscription");
        }
        "RECEIPT" => add("receipt-id", "receipt-id"),
        "ERROR" => {
            add("", "message");
            add("receipt-id", "receipt-id");
        }
        _ => {}
    }
    if f.command != "MESSAGE" {
        // A MESSAGE may carry the SEND's receipt header along (RabbitMQ does): not a request.
        add("receipt", "receipt");
    }
    if let Some(body) = f.body.filter(|b| !b.is_empty()) {
        let preview = match std::str::from_utf8(body) {
            Ok(s) => quoted(s.trim_end()),
            Err(_) => format!("{} bytes", body.len()),
        };
        // The body right after the destination (or the ERROR's message): what a reader wants.
        parts.insert(parts.len().min(1), preview);
    }
    parts.join(" ")
}

/// `headers` (first of each name), `repeated_headers` (later ones), and the body.
fn fields(f: &Frame<'_>) -> Map<String, Value> {
    let mut headers = Map::new();
    let mut repeated = Vec::new();
    for (n, v) in &f.headers {
        if headers.contains_key(n) {
            repeated.push(json!([n, v]));
        } else {
            headers.insert(n.clone(), Value::String(v.clone()));
        }
    }
    let mut out = Map::new();
    out.insert("headers".into(), Value::Object(headers));
    if !repeated.is_empty() {
        out.insert("repeated_headers".into(), Value::Array(repeated));
    }
    if let Some(body) = f.body {
        out.insert("body_length".into(), json!(body.len()));
        match std::str::from_utf8(body) {
            Ok(s) => out.insert("body".into(), Value::String(s.to_string())),
            Err(_) => out.insert(
                "body_base64".into(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            ),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const C2S: Direction = Direction::ClientToServer;
    const S2C: Direction = Direction::ServerToClient;

    fn msg(dir: Direction, index: u64, ms: u64, bytes: &[u8]) -> AppMessage<'_> {
        AppMessage::text_at(dir, index, ms, bytes)
    }

    fn run(d: &mut Decoder, m: &AppMessage<'_>) -> (Option<Decoded>, Vec<Finding>) {
        let mut found = Vec::new();
        let out = d.decode(m, &mut found);
        (out, found)
    }

    fn one(d: &mut Decoder, m: &AppMessage<'_>) -> Unit {
        let (out, found) = run(d, m);
        assert!(found.is_empty(), "{found:?}");
        let mut units = out.expect("decoded").units;
        assert_eq!(units.len(), 1);
        units.remove(0)
    }

    fn malformed(d: &mut Decoder, bytes: &[u8]) -> String {
        let (out, found) = run(d, &msg(C2S, 1, 0, bytes));
        assert!(out.is_none());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0.name, "stomp-malformed");
        found[0].1.clone()
    }

    #[test]
    fn a_connect_with_accept_version_is_recognised() {
        let m = msg(
            C2S,
            1,
            0,
            b"CONNECT\naccept-version:1.2,1.1,1.0\nhost:/\n\n\0",
        );
        assert!(recognises(&m));
        let crlf = msg(C2S, 1, 0, b"STOMP\r\naccept-version:1.2\r\n\r\n\0");
        assert!(recognises(&crlf));
        assert!(!recognises(&msg(C2S, 1, 0, b"CONNECT\nhost:/\n\n\0")));
        assert!(!recognises(&msg(
            S2C,
            1,
            0,
            b"CONNECT\naccept-version:1.2\n\n\0"
        )));
        assert!(!recognises(&msg(C2S, 1, 0, b"{\"accept-version\":1}")));
    }

    #[test]
    fn every_client_and_server_command_decodes() {
        let mut d = Decoder::default();
        for (dir, frame, kind) in [
            (
                C2S,
                &b"CONNECT\naccept-version:1.2\nhost:/\nheart-beat:10000,10000\n\n\0"[..],
                "CONNECT",
            ),
            (C2S, b"STOMP\naccept-version:1.2\nhost:/\n\n\0", "STOMP"),
            (
                S2C,
                b"CONNECTED\nversion:1.2\nheart-beat:0,0\nserver:x/1\n\n\0",
                "CONNECTED",
            ),
            (C2S, b"SEND\ndestination:/queue/a\n\nhi\0", "SEND"),
            (
                C2S,
                b"SUBSCRIBE\nid:0\ndestination:/queue/a\nack:client\n\n\0",
                "SUBSCRIBE",
            ),
            (C2S, b"UNSUBSCRIBE\nid:0\n\n\0", "UNSUBSCRIBE"),
            (C2S, b"ACK\nid:12\n\n\0", "ACK"),
            (C2S, b"NACK\nid:13\n\n\0", "NACK"),
            (C2S, b"BEGIN\ntransaction:t\n\n\0", "BEGIN"),
            (C2S, b"COMMIT\ntransaction:t\n\n\0", "COMMIT"),
            (C2S, b"ABORT\ntransaction:t\n\n\0", "ABORT"),
            (C2S, b"DISCONNECT\nreceipt:77\n\n\0", "DISCONNECT"),
            (
                S2C,
                b"MESSAGE\nsubscription:0\nmessage-id:5\ndestination:/queue/a\n\nhey\0",
                "MESSAGE",
            ),
            (S2C, b"RECEIPT\nreceipt-id:77\n\n\0", "RECEIPT"),
            (S2C, b"ERROR\nmessage:bad\n\ndetails\0", "ERROR"),
        ] {
            let u = one(&mut d, &msg(dir, 1, 0, frame));
            assert_eq!(u.kind, kind);
            assert!(!u.heartbeat);
        }
    }

    #[test]
    fn send_fields_summary_and_key() {
        let mut d = Decoder::default();
        let u = one(
            &mut d,
            &msg(
                C2S,
                3,
                0,
                b"SEND\ndestination:/queue/a\nreceipt:r1\ncontent-type:text/plain\n\nhello\0\n",
            ),
        );
        assert_eq!(u.key.as_deref(), Some("/queue/a"));
        assert_eq!(u.summary, "/queue/a \"hello\" receipt r1");
        assert_eq!(u.fields["headers"]["content-type"], "text/plain");
        assert_eq!(u.fields["body"], "hello");
        assert_eq!(u.fields["body_length"], 5);
    }

    #[test]
    fn header_escapes_are_decoded_in_1_2() {
        let mut d = Decoder::default();
        let u = one(
            &mut d,
            &msg(
                C2S,
                1,
                0,
                b"SEND\ndestination:/q\nx-a:a\\cb\\nc\\\\d\\re\n\n\0",
            ),
        );
        assert_eq!(u.fields["headers"]["x-a"], "a:b\nc\\d\re");
    }

    #[test]
    fn an_undefined_escape_is_a_finding() {
        let why = malformed(
            &mut Decoder::default(),
            b"SEND\ndestination:/q\nx-a:a\\tb\n\n\0",
        );
        assert!(why.contains("undefined escape \"\\\\t\""), "{why}");
        assert!(why.contains("byte 25"), "{why}");
    }

    #[test]
    fn connect_headers_and_1_0_sessions_are_not_unescaped() {
        let mut d = Decoder::default();
        let u = one(&mut d, &msg(C2S, 1, 0, b"CONNECT\nlogin:a\\tb\n\n\0"));
        assert_eq!(u.fields["headers"]["login"], "a\\tb");
        one(&mut d, &msg(S2C, 1, 0, b"CONNECTED\nversion:1.0\n\n\0"));
        let u = one(&mut d, &msg(C2S, 2, 0, b"SEND\ndestination:/q\\t\n\n\0"));
        assert_eq!(u.key.as_deref(), Some("/q\\t"));
        // 1.1 knows \n but not \r.
        let mut d = Decoder::default();
        one(&mut d, &msg(S2C, 1, 0, b"CONNECTED\nversion:1.1\n\n\0"));
        assert!(malformed(&mut d, b"SEND\ndestination:/q\\r\n\n\0").contains("\\\\r"));
    }

    #[test]
    fn content_length_lets_a_body_hold_nul() {
        let mut d = Decoder::default();
        let u = one(
            &mut d,
            &msg(
                C2S,
                1,
                0,
                b"SEND\ndestination:/q\ncontent-length:3\n\na\0b\0\n\n",
            ),
        );
        assert_eq!(u.fields["body_length"], 3);
        assert_eq!(u.fields["body"], "a\u{0}b");
    }

    #[test]
    fn a_binary_body_is_base64() {
        let mut d = Decoder::default();
        let u = one(
            &mut d,
            &msg(
                C2S,
                1,
                0,
                b"SEND\ndestination:/q\ncontent-length:2\n\n\xff\xfe\0",
            ),
        );
        assert_eq!(u.fields["body_base64"], "//4=");
        assert!(u.summary.ends_with("2 bytes"));
    }

    #[test]
    fn several_frames_in_one_message() {
        let mut d = Decoder::default();
        let (out, found) = run(
            &mut d,
            &msg(
                S2C,
                1,
                0,
                b"RECEIPT\nreceipt-id:1\n\n\0\r\nMESSAGE\ndestination:/q\nsubscription:s\n\nx\0",
            ),
        );
        assert!(found.is_empty());
        let kinds: Vec<_> = out.unwrap().units.into_iter().map(|u| u.kind).collect();
        assert_eq!(kinds, ["RECEIPT", "MESSAGE"]);
    }

    #[test]
    fn a_lone_eol_is_a_heartbeat() {
        let mut d = Decoder::default();
        for b in [&b"\n"[..], b"\r\n", b"\n\n"] {
            let u = one(&mut d, &msg(C2S, 1, 0, b));
            assert!(u.heartbeat);
            assert_eq!(u.kind, "HEARTBEAT");
        }
    }

    #[test]
    fn malformed_frames_say_where() {
        let mut d = Decoder::default();
        assert!(malformed(&mut d, b"HELLO\n\n\0").contains("unknown command \"HELLO\" at byte 0"));
        assert!(malformed(&mut d, b"SEND\ndestination\n\n\0").contains("byte 5 has no colon"));
        assert!(malformed(&mut d, b"SEND\ndestination:/q\n\nbody").contains("before the NUL"));
        assert!(malformed(&mut d, b"SEND\ndestination:/q").contains("before the headers"));
        assert!(malformed(&mut d, b"SEND\ncontent-length:x\n\n\0").contains("not a length"));
        assert!(malformed(&mut d, b"SEND\ncontent-length:1\n\nab\0").contains("byte 24"));
        assert!(
            malformed(&mut d, b"SEND\ncontent-length:99\n\nab\0").contains("content-length body")
        );
        assert!(malformed(&mut d, b"SEND\nx:\xff\n\n\0").contains("not UTF-8 (byte 7)"));
        assert!(malformed(&mut d, b"").contains("empty message"));
        assert!(malformed(&mut d, b"SEND\n\n\0garbage").contains("at byte 7"));
    }

    #[test]
    fn receipts_subscriptions_and_acks_are_answered() {
        let mut d = Decoder::default();
        one(
            &mut d,
            &msg(
                C2S,
                1,
                10,
                b"SUBSCRIBE\nid:sub-0\ndestination:/queue/a\nack:client\nreceipt:r0\n\n\0",
            ),
        );
        let r = one(&mut d, &msg(S2C, 1, 12, b"RECEIPT\nreceipt-id:r0\n\n\0"));
        let a = r.answers.unwrap();
        assert_eq!(
            (a.id.as_str(), a.dir, a.message, a.rtt_ns),
            ("r0", C2S, 1, 2_000_000)
        );
        assert_eq!(r.key.as_deref(), Some("/queue/a"));
        let m = one(
            &mut d,
            &msg(
                S2C,
                2,
                15,
                b"MESSAGE\nsubscription:sub-0\nmessage-id:m1\nack:a1\ndestination:/queue/a\n\nx\0",
            ),
        );
        assert_eq!(m.answers.unwrap().id, "sub-0");
        let ack = one(&mut d, &msg(C2S, 2, 16, b"ACK\nid:a1\n\n\0"));
        let a = ack.answers.unwrap();
        assert_eq!((a.dir, a.message, a.rtt_ns), (S2C, 2, 1_000_000));
        assert_eq!(ack.key.as_deref(), Some("/queue/a"));
        // A second MESSAGE still answers the subscription; after UNSUBSCRIBE none does.
        let m2 = one(
            &mut d,
            &msg(
                S2C,
                3,
                17,
                b"MESSAGE\nsubscription:sub-0\nmessage-id:m2\ndestination:/queue/a\n\ny\0",
            ),
        );
        assert!(m2.answers.is_some());
        let un = one(&mut d, &msg(C2S, 3, 18, b"UNSUBSCRIBE\nid:sub-0\n\n\0"));
        assert_eq!(un.key.as_deref(), Some("/queue/a"));
        assert!(
            un.answers.is_none(),
            "a client's own UNSUBSCRIBE answers nothing"
        );
        let m3 = one(
            &mut d,
            &msg(
                S2C,
                4,
                19,
                b"MESSAGE\nsubscription:sub-0\nmessage-id:m3\ndestination:/queue/a\n\ny\0",
            ),
        );
        assert!(m3.answers.is_none());
        // An ERROR with receipt-id answers the frame that asked.
        one(
            &mut d,
            &msg(C2S, 4, 20, b"SEND\ndestination:/bad\nreceipt:r9\n\n\0"),
        );
        let e = one(
            &mut d,
            &msg(S2C, 5, 21, b"ERROR\nmessage:no\nreceipt-id:r9\n\n\0"),
        );
        assert_eq!(e.answers.unwrap().message, 4);
        assert_eq!(e.key.as_deref(), Some("/bad"));
    }

    #[test]
    fn a_cut_message_shows_its_head_only() {
        let mut d = Decoder::default();
        let mut m = msg(C2S, 1, 0, b"SEND\ndestination:/q\n\nlong bo");
        m.whole = false;
        let (out, found) = run(&mut d, &m);
        assert!(found.is_empty());
        let u = &out.unwrap().units[0];
        assert_eq!(u.fields["cut"], true);
        assert!(u.fields.get("body").is_none());
        m.bytes = b"SEND\ndestin";
        let (out, found) = run(&mut d, &m);
        assert!(out.is_none() && found.is_empty());
    }

    #[test]
    fn questions_are_bounded() {
        let mut d = Decoder::default();
        for i in 0..(crate::decode::MAX_PENDING + 10) {
            let f = format!("SEND\ndestination:/q\nreceipt:{i}\n\n\0");
            one(&mut d, &msg(C2S, i as u64, 0, f.as_bytes()));
            let f = format!("SUBSCRIBE\ndestination:/q\nid:{i}\n\n\0");
            one(&mut d, &msg(C2S, i as u64, 0, f.as_bytes()));
        }
        assert_eq!(d.receipts.len(), crate::decode::MAX_PENDING);
        assert_eq!(d.subscriptions.len(), crate::decode::MAX_PENDING);
        let r = one(&mut d, &msg(S2C, 1, 0, b"RECEIPT\nreceipt-id:0\n\n\0"));
        assert!(r.answers.is_none(), "the oldest was forgotten");
    }
}
