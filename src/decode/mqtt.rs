//! MQTT 3.1.1 and 5.0 over WebSocket (MQTT 5.0 §6, 3.1.1 §6): binary messages carry a byte
//! stream of control packets, so one message may hold several packets and one packet may span
//! messages. Each direction keeps the start of an unfinished packet (at most [`MAX_CARRY`]
//! bytes) and its v5 topic aliases; the session keeps its version (from CONNECT) and the
//! questions waiting for their answer (at most [`MAX_PENDING`]).
//!
//! `packet` reads one whole packet, `wire` the data representation, `names` the numbers.

mod names;
mod packet;
mod wire;

use std::collections::{HashMap, VecDeque};

use self::names::PacketType;
use self::packet::{Packet, Version};
use self::wire::{fixed_header, FixedHeader, Malformed};
use super::types::{
    Answer, AppMessage, Decode, Decoded, Finding, Protocol, Unit, MAX_CARRY, MAX_PENDING,
};
use crate::base::rules;
use crate::base::{Direction, Timestamp};

/// The first message of a session is this protocol's opening packet: a client's binary
/// message that starts with a CONNECT naming `MQTT` (3.1.1, 5.0) or `MQIsdp` (3.1).
pub fn recognises(msg: &AppMessage<'_>) -> bool {
    if msg.text || msg.dir != Direction::ClientToServer {
        return false;
    }
    let Ok(Some(h)) = fixed_header(msg.bytes) else {
        return false;
    };
    let name = msg.bytes.get(h.header_len..h.header_len + 8);
    h.first == 0x10
        && matches!(name, Some(n) if n.starts_with(b"\x00\x04MQTT") || n == b"\x00\x06MQIsdp")
}

#[derive(Debug, Default)]
pub struct Decoder {
    /// From the CONNECT, or inferred when the capture has none.
    version: Option<Version>,
    /// The version was inferred, not read from a CONNECT (said once in a finding).
    inferred: bool,
    streams: [Stream; 2],
    pending: Pending,
}

/// One direction's byte stream of packets across messages.
#[derive(Debug, Default)]
struct Stream {
    /// The start of a packet the next message continues.
    carry: Vec<u8>,
    /// The message (in this direction) the carried packet started in.
    carry_from: u64,
    /// Bytes of a packet too long to carry that the next messages still hold.
    skip: u64,
    /// v5 topic aliases this direction's sender set (§3.3.2.3.4), and their bytes.
    aliases: HashMap<u16, String>,
    alias_bytes: usize,
}

impl Decode for Decoder {
    fn protocol(&self) -> Protocol {
        Protocol::Mqtt
    }

    fn decode(&mut self, msg: &AppMessage<'_>, found: &mut Vec<Finding>) -> Option<Decoded> {
        if msg.text {
            found.push((
                &rules::MQTT_TEXT_MESSAGE,
                format!(
                    "a text message of {} bytes: MQTT packets must be sent in binary messages",
                    msg.bytes.len()
                ),
            ));
            return None;
        }
        let stream = &mut self.streams[msg.dir.index()];
        if !msg.whole {
            // Where the missing bytes were is unknown, so whatever was carried or skipped is
            // unknown too: start over at the next message.
            stream.carry = Vec::new();
            stream.skip = 0;
            return None;
        }
        let mut units = Vec::new();
        let ok = self.read_message(msg, &mut units, found);
        if !ok && units.is_empty() {
            return None;
        }
        Some(Decoded {
            protocol: Protocol::Mqtt,
            units,
        })
    }
}

/// A whole packet cut from the stream, and the message it started in when an earlier one.
struct Cut<'a> {
    bytes: &'a [u8],
    from: Option<u64>,
}

impl Decoder {
    /// Read the packets `msg` ends; false when a malformed one stopped the reading.
    fn read_message(
        &mut self,
        msg: &AppMessage<'_>,
        units: &mut Vec<Unit>,
        found: &mut Vec<Finding>,
    ) -> bool {
        let d = msg.dir.index();
        let mut input = msg.bytes;
        let skipped = self.streams[d].skip.min(input.len() as u64);
        self.streams[d].skip -= skipped;
        input = &input[skipped as usize..];
        if skipped > 0 {
            // Said in every message it covers: a length that lies must not hide later
            // messages silently.
            let left = self.streams[d].skip;
            let summary = format!(
                "{skipped} bytes of a packet too long to read skipped ({left} more to skip)"
            );
            let mut u = Unit::new("skipped", summary);
            u.fields.insert("skipped".into(), skipped.into());
            u.fields.insert("left".into(), left.into());
            units.push(u);
        }
        if !self.streams[d].carry.is_empty() {
            match self.continue_carried(msg, &mut input, found) {
                Err(e) => return self.malformed(msg.dir, e, None, found),
                // Still unfinished (then `input` is empty), or too long and skipped (then
                // what is left of `input` starts the next packet).
                Ok(None) => {}
                Ok(Some(carried)) => {
                    let from = self.streams[d].carry_from;
                    let cut = Cut {
                        bytes: &carried,
                        from: Some(from),
                    };
                    if let Err(e) = self.read_packet(cut, msg, units, found) {
                        return self.malformed(msg.dir, e, Some(from), found);
                    }
                }
            }
        }
        while !input.is_empty() {
            let header = match fixed_header(input) {
                Err(e) => return self.malformed(msg.dir, e, None, found),
                Ok(h) => h,
            };
            match header {
                Some(h) if h.total() <= input.len() => {
                    let cut = Cut {
                        bytes: &input[..h.total()],
                        from: None,
                    };
                    input = &input[h.total()..];
                    if let Err(e) = self.read_packet(cut, msg, units, found) {
                        return self.malformed(msg.dir, e, None, found);
                    }
                }
                _ => {
                    self.start_carry(msg, header, input, found);
                    break;
                }
            }
        }
        true
    }

    /// Add `input`'s bytes to the carried packet: the packet when it is now whole, None when
    /// it goes on in a later message (or was too long to carry).
    fn continue_carried(
        &mut self,
        msg: &AppMessage<'_>,
        input: &mut &[u8],
        found: &mut Vec<Finding>,
    ) -> Result<Option<Vec<u8>>, Malformed> {
        let s = &mut self.streams[msg.dir.index()];
        // The fixed header may itself be cut: take its bytes one by one (at most five).
        let header = loop {
            match fixed_header(&s.carry) {
                Err(e) => {
                    s.carry = Vec::new();
                    return Err(e);
                }
                Ok(Some(h)) => break h,
                Ok(None) if input.is_empty() => return Ok(None),
                Ok(None) => {
                    s.carry.push(input[0]);
                    *input = &input[1..];
                }
            }
        };
        if header.total() > MAX_CARRY {
            let have = s.carry.len() as u64;
            s.carry = Vec::new();
            let from = s.carry_from;
            self.too_long(msg, header, have, from, input, found);
            return Ok(None);
        }
        let want = header.total() - s.carry.len();
        let take = want.min(input.len());
        s.carry.extend_from_slice(&input[..take]);
        *input = &input[take..];
        if s.carry.len() < header.total() {
            return Ok(None);
        }
        Ok(Some(std::mem::take(&mut s.carry)))
    }

    /// `input` holds the start of a packet the message does not end: carry it, or skip it by
    /// its length when it is too long to carry.
    fn start_carry(
        &mut self,
        msg: &AppMessage<'_>,
        header: Option<FixedHeader>,
        input: &[u8],
        found: &mut Vec<Finding>,
    ) {
        match header {
            Some(h) if h.total() > MAX_CARRY => {
                let mut rest: &[u8] = &[];
                self.too_long(msg, h, input.len() as u64, msg.index, &mut rest, found);
            }
            _ => {
                let s = &mut self.streams[msg.dir.index()];
                s.carry = input.to_vec();
                s.carry_from = msg.index;
            }
        }
    }

    /// A packet of `h.total()` bytes, of which `have` were seen, is longer than can be carried:
    /// say so and skip the rest of it by its length, in this message (`input`) and the next.
    fn too_long(
        &mut self,
        msg: &AppMessage<'_>,
        h: FixedHeader,
        have: u64,
        from: u64,
        input: &mut &[u8],
        found: &mut Vec<Finding>,
    ) {
        let kind = PacketType::from_nibble(h.first >> 4).map_or("reserved", PacketType::name);
        found.push((
            &rules::MQTT_PACKET_TOO_LONG,
            format!(
                "a {kind} of {} bytes (from message {from}) is longer than the {MAX_CARRY} bytes carried across messages; skipped by its length",
                h.total()
            ),
        ));
        let mut left = h.total() as u64 - have;
        let here = left.min(input.len() as u64);
        left -= here;
        *input = &input[here as usize..];
        self.streams[msg.dir.index()].skip = left;
    }

    /// A malformed packet: one finding; the rest of the message is shown raw and nothing is
    /// carried into the next.
    fn malformed(
        &mut self,
        dir: Direction,
        e: Malformed,
        from: Option<u64>,
        found: &mut Vec<Finding>,
    ) -> bool {
        let started = from.map_or(String::new(), |m| {
            format!(" (a packet begun in message {m})")
        });
        found.push((
            &rules::MQTT_MALFORMED,
            format!("byte {} of a packet{started}: {}", e.at, e.what),
        ));
        self.streams[dir.index()].carry = Vec::new();
        false
    }

    /// Read one whole packet into a unit: the version, aliases and answers it touches.
    fn read_packet(
        &mut self,
        cut: Cut<'_>,
        msg: &AppMessage<'_>,
        units: &mut Vec<Unit>,
        found: &mut Vec<Finding>,
    ) -> Result<(), Malformed> {
        let version = self.version_for(cut.bytes, msg.dir, found);
        let mut p = packet::parse(cut.bytes, version)?;
        if let Some(v) = p.version {
            self.version = Some(v);
            self.inferred = false;
        }
        if self.inferred {
            p.unit
                .fields
                .insert("version".into(), version.as_str().into());
            p.unit.fields.insert("version_inferred".into(), true.into());
        }
        if let Some(from) = cut.from {
            p.unit
                .fields
                .insert("started_in_message".into(), from.into());
        }
        if p.kind == PacketType::Publish {
            self.resolve_alias(&mut p, msg.dir, found);
        }
        self.match_answer(&mut p, msg);
        units.push(p.unit);
        Ok(())
    }

    /// The version to read a packet in: the CONNECT's, else inferred from the packets (a 5.0
    /// CONNACK, PUBACK…, SUBACK or UNSUBACK is longer than its 3.1.1 form; only 5.0 has AUTH
    /// and a DISCONNECT with a body).
    fn version_for(&mut self, b: &[u8], dir: Direction, found: &mut Vec<Finding>) -> Version {
        if let (Some(v), false) = (self.version, self.inferred) {
            return v;
        }
        if b.first().map(|f| f >> 4) == Some(1) {
            return Version::V311; // a CONNECT says its own version
        }
        let shows_v5 = match fixed_header(b) {
            Ok(Some(h)) => match (h.first >> 4, h.remaining) {
                (2, n) => n > 2,
                (4..=7, n) => n > 2,
                (11, n) => n > 2,
                (14, n) => n > 0,
                (15, _) => true,
                _ => false,
            },
            _ => false,
        };
        let had = self.version;
        let v = if shows_v5 || had == Some(Version::V5) {
            Version::V5
        } else {
            Version::V311
        };
        if had != Some(v) {
            let why = if shows_v5 {
                format!("a {} longer than its 3.1.1 form shows 5.0", kind_name(b))
            } else {
                "decoded as 3.1.1 until a packet shows 5.0".to_string()
            };
            found.push((
                &rules::MQTT_VERSION_INFERRED,
                format!("no CONNECT seen ({} first): {why}", dir.sender()),
            ));
        }
        self.version = Some(v);
        self.inferred = true;
        v
    }

    /// A v5 PUBLISH with a topic alias: a topic sets it for its direction, an empty topic
    /// uses it (§3.3.2.3.4). The unit's topic and key are the aliased topic.
    fn resolve_alias(&mut self, p: &mut Packet, dir: Direction, found: &mut Vec<Finding>) {
        let Some(alias) = p.topic_alias else { return };
        let s = &mut self.streams[dir.index()];
        let topic = p.topic.clone().unwrap_or_default();
        if !topic.is_empty() {
            // Bounded: the aliases of a direction hold at most MAX_CARRY bytes of topics.
            let old = s.aliases.get(&alias).map_or(0, String::len);
            if s.alias_bytes - old + topic.len() <= MAX_CARRY {
                s.alias_bytes = s.alias_bytes - old + topic.len();
                s.aliases.insert(alias, topic);
            }
            return;
        }
        match s.aliases.get(&alias) {
            Some(t) => {
                let t = t.clone();
                p.unit.fields.insert("topic".into(), t.clone().into());
                p.unit.fields.insert("topic_from_alias".into(), true.into());
                p.unit.summary = p.unit.summary.replacen("(no topic)", &t, 1);
                p.unit.key = Some(t);
            }
            None => found.push((
                &rules::MQTT_TOPIC_ALIAS_UNKNOWN,
                format!(
                    "PUBLISH with an empty topic and topic alias {alias}, which the {} has not set",
                    dir.sender()
                ),
            )),
        }
    }

    /// Remember a question; or, for an answer, find its question and say how long it took.
    fn match_answer(&mut self, p: &mut Packet, msg: &AppMessage<'_>) {
        let id = p.id.unwrap_or(0);
        let answer = match p.kind {
            PacketType::Publish if p.qos == 1 => Some(PacketType::Puback),
            PacketType::Publish if p.qos == 2 => Some(PacketType::Pubrec),
            PacketType::Pubrel => Some(PacketType::Pubcomp),
            PacketType::Subscribe => Some(PacketType::Suback),
            PacketType::Unsubscribe => Some(PacketType::Unsuback),
            PacketType::Connect => Some(PacketType::Connack),
            PacketType::Pingreq => Some(PacketType::Pingresp),
            _ => None,
        };
        let other = Direction::from_index(1 - msg.dir.index());
        if let Some(kind) = answer {
            let q = Question {
                dir: msg.dir,
                message: msg.index,
                ts: msg.ts,
                key: p.unit.key.clone(),
            };
            self.pending.insert((kind, other, id), q);
            return;
        }
        if let Some(q) = self.pending.take(&(p.kind, msg.dir, id)) {
            p.unit.answers = Some(Answer {
                id: p.id.map_or(String::new(), |i| i.to_string()),
                dir: q.dir,
                message: q.message,
                rtt_ns: msg.ts.0.saturating_sub(q.ts.0),
            });
            if p.unit.key.is_none() {
                p.unit.key = q.key;
            }
        }
    }
}

fn kind_name(b: &[u8]) -> &'static str {
    b.first()
        .and_then(|f| PacketType::from_nibble(f >> 4))
        .map_or("packet", PacketType::name)
}

/// A packet waiting for its answer.
#[derive(Debug)]
struct Question {
    dir: Direction,
    message: u64,
    ts: Timestamp,
    key: Option<String>,
}

/// What answers a question: the answer's type, its direction and the packet id (0 for
/// CONNECT and PINGREQ, which have none).
type QuestionKey = (PacketType, Direction, u16);

/// The questions waiting, at most [`MAX_PENDING`]; past it the oldest is forgotten. A map for
/// the look-up and a queue for the age; answered entries leave the queue lazily, and it is
/// compacted when it grows past twice the limit, so every operation is amortised O(1).
#[derive(Debug, Default)]
struct Pending {
    map: HashMap<QuestionKey, (u64, Question)>,
    order: VecDeque<(QuestionKey, u64)>,
    next: u64,
}

impl Pending {
    fn insert(&mut self, key: QuestionKey, q: Question) {
        self.next += 1;
        self.map.insert(key, (self.next, q));
        self.order.push_back((key, self.next));
        while self.map.len() > MAX_PENDING {
            let Some((k, seq)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&k).is_some_and(|(s, _)| *s == seq) {
                self.map.remove(&k);
            }
        }
        if self.order.len() > 2 * MAX_PENDING {
            let map = &self.map;
            self.order
                .retain(|(k, seq)| map.get(k).is_some_and(|(s, _)| s == seq));
        }
    }

    fn take(&mut self, key: &QuestionKey) -> Option<Question> {
        self.map.remove(key).map(|(_, q)| q)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests;
