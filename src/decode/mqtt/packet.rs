//! One whole MQTT control packet read into a [`Unit`] (MQTT 3.1.1 §3, 5.0 §3): every packet
//! type of both versions, v5 properties by name, the password as its length only.

use serde_json::{json, Map, Value};

use super::names::{self, PacketType, PropertyType};
use super::wire::{fixed_header, Malformed, Reader, Result};
use crate::decode::types::Unit;

/// The protocol version a session speaks, from its CONNECT's protocol level (§3.1.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Level 3, protocol name `MQIsdp`: decoded like 3.1.1.
    V31,
    V311,
    V5,
}

impl Version {
    pub fn from_level(level: u8) -> Option<Version> {
        match level {
            3 => Some(Version::V31),
            4 => Some(Version::V311),
            5 => Some(Version::V5),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V31 => "3.1",
            Version::V311 => "3.1.1",
            Version::V5 => "5.0",
        }
    }

    fn v5(self) -> bool {
        self == Version::V5
    }
}

/// A packet read, with what the session's state needs beside its unit.
#[derive(Debug)]
pub struct Packet {
    pub kind: PacketType,
    /// The Packet Identifier (§2.2.1), when the packet has one.
    pub id: Option<u16>,
    /// PUBLISH: its QoS (whether and how it is answered).
    pub qos: u8,
    /// CONNECT: the version it asks for.
    pub version: Option<Version>,
    /// PUBLISH: the topic as sent (empty when a topic alias stands for it) and the alias.
    pub topic: Option<String>,
    pub topic_alias: Option<u16>,
    pub unit: Unit,
}

impl Packet {
    fn new(kind: PacketType, unit: Unit) -> Packet {
        Packet {
            kind,
            id: None,
            qos: 0,
            version: None,
            topic: None,
            topic_alias: None,
            unit,
        }
    }
}

/// Bytes of a payload shown in fields (as text, or hex when not UTF-8) and characters in the
/// summary.
const PAYLOAD_PREVIEW: usize = 64;
const SUMMARY_PREVIEW: usize = 24;

/// Read one whole packet (`bytes` is exactly the packet) spoken in `version`.
pub fn parse(bytes: &[u8], version: Version) -> Result<Packet> {
    let header = fixed_header(bytes)?.ok_or_else(|| Malformed::new(0, "no fixed header"))?;
    let nibble = header.first >> 4;
    let flags = header.first & 0x0F;
    let kind = PacketType::from_nibble(nibble)
        .filter(|k| *k != PacketType::Auth || version.v5())
        .ok_or_else(|| Malformed::new(0, format!("packet type {nibble} is reserved (§2.1.2)")))?;
    if let Some(want) = kind.required_flags() {
        if flags != want {
            return Err(Malformed::new(
                0,
                format!(
                    "{} flags are {flags:04b}, must be {want:04b} (§2.1.3)",
                    kind.name()
                ),
            ));
        }
    }
    let mut r = Reader::new(bytes, header.header_len);
    let mut p = match kind {
        PacketType::Connect => connect(&mut r)?,
        PacketType::Connack => connack(&mut r, version)?,
        PacketType::Publish => publish(&mut r, flags, version)?,
        PacketType::Puback | PacketType::Pubrec | PacketType::Pubrel | PacketType::Pubcomp => {
            ack(&mut r, kind, version)?
        }
        PacketType::Subscribe => subscribe(&mut r, version)?,
        PacketType::Suback => suback(&mut r, version)?,
        PacketType::Unsubscribe => unsubscribe(&mut r, version)?,
        PacketType::Unsuback => unsuback(&mut r, version)?,
        PacketType::Pingreq | PacketType::Pingresp => {
            let mut u = Unit::new(kind.name(), "");
            u.heartbeat = true;
            Packet::new(kind, u)
        }
        PacketType::Disconnect | PacketType::Auth => reason_only(&mut r, kind, version)?,
    };
    if !r.is_empty() {
        return Err(Malformed::new(
            r.pos(),
            format!("{} bytes after the {}'s last field", r.left(), kind.name()),
        ));
    }
    p.unit
        .fields
        .insert("remaining_length".into(), header.remaining.into());
    Ok(p)
}

fn connect(r: &mut Reader<'_>) -> Result<Packet> {
    let name_at = r.pos();
    let name = r.utf8("protocol name")?;
    let level = r.u8("protocol level")?;
    let version = match (name, Version::from_level(level)) {
        ("MQTT", Some(v @ (Version::V311 | Version::V5))) | ("MQIsdp", Some(v @ Version::V31)) => v,
        _ => {
            return Err(Malformed::new(
                name_at,
                format!("protocol {name:?} level {level} is neither MQTT 3.1, 3.1.1 nor 5.0"),
            ))
        }
    };
    let flags_at = r.pos();
    let flags = r.u8("connect flags")?;
    if flags & 1 != 0 {
        return Err(Malformed::new(
            flags_at,
            "the reserved connect flag is 1 (§3.1.2.3)",
        ));
    }
    let will = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 3;
    if will_qos == 3 || (!will && (will_qos != 0 || flags & 0x20 != 0)) {
        return Err(Malformed::new(
            flags_at,
            format!(
                "will flags {flags:08b}: will QoS 3, or will QoS/retain without a will (§3.1.2.6)"
            ),
        ));
    }
    let keep_alive = r.u16("keep alive")?;
    let mut f = Map::new();
    f.insert("protocol_name".into(), name.into());
    f.insert("protocol_level".into(), level.into());
    f.insert("version".into(), version.as_str().into());
    let clean = if version.v5() {
        "clean_start"
    } else {
        "clean_session"
    };
    f.insert(clean.into(), (flags & 0x02 != 0).into());
    f.insert("keep_alive".into(), keep_alive.into());
    if version.v5() {
        properties_into(r, &mut f)?;
    }
    let client_id = r.utf8("client identifier")?;
    f.insert("client_id".into(), client_id.into());
    let mut summary = format!("{client_id:?} v{} keepalive {keep_alive}", version.as_str());
    if flags & 0x02 != 0 {
        summary.push_str(" clean");
    }
    if will {
        let mut w = Map::new();
        if version.v5() {
            properties_into(r, &mut w)?;
        }
        let topic = r.utf8("will topic")?;
        let payload = r.binary("will payload")?;
        w.insert("topic".into(), topic.into());
        w.insert("qos".into(), will_qos.into());
        w.insert("retain".into(), (flags & 0x20 != 0).into());
        payload_into(payload, &mut w);
        f.insert("will".into(), Value::Object(w));
        summary.push_str(&format!(" will {topic}"));
    }
    if flags & 0x80 != 0 {
        let user = r.utf8("user name")?;
        f.insert("username".into(), user.into());
        summary.push_str(&format!(" user {user:?}"));
    }
    if flags & 0x40 != 0 {
        // The password's value is never shown: only that there is one, and its length.
        let password = r.binary("password")?;
        f.insert("password_length".into(), password.len().into());
    }
    let mut u = Unit::new("CONNECT", summary);
    u.key = Some(client_id.to_string());
    u.fields = f;
    let mut p = Packet::new(PacketType::Connect, u);
    p.version = Some(version);
    Ok(p)
}

fn connack(r: &mut Reader<'_>, version: Version) -> Result<Packet> {
    let at = r.pos();
    let ack_flags = r.u8("connect acknowledge flags")?;
    if ack_flags & 0xFE != 0 {
        return Err(Malformed::new(
            at,
            "reserved connect acknowledge flags are set (§3.2.2.1)",
        ));
    }
    let code = r.u8("connect reason code")?;
    let mut f = Map::new();
    f.insert("session_present".into(), (ack_flags & 1 != 0).into());
    let name = if version.v5() {
        f.insert("reason_code".into(), code.into());
        names::reason(PacketType::Connack, code)
    } else {
        f.insert("return_code".into(), code.into());
        names::connack_return(code)
    };
    f.insert("reason".into(), name.as_ref().into());
    if version.v5() {
        properties_into(r, &mut f)?;
    }
    let mut summary = name.into_owned();
    if ack_flags & 1 != 0 {
        summary.push_str(", session present");
    }
    let mut u = Unit::new("CONNACK", summary);
    u.fields = f;
    Ok(Packet::new(PacketType::Connack, u))
}

fn publish(r: &mut Reader<'_>, flags: u8, version: Version) -> Result<Packet> {
    let qos = (flags >> 1) & 3;
    if qos == 3 {
        return Err(Malformed::new(0, "PUBLISH with QoS 3 (§3.3.1.2)"));
    }
    let dup = flags & 0x08 != 0;
    let retain = flags & 0x01 != 0;
    let topic = r.utf8("topic name")?;
    let mut f = Map::new();
    f.insert("topic".into(), topic.into());
    f.insert("qos".into(), qos.into());
    f.insert("dup".into(), dup.into());
    f.insert("retain".into(), retain.into());
    let mut id = None;
    if qos > 0 {
        let at = r.pos();
        let pid = r.u16("packet identifier")?;
        if pid == 0 {
            return Err(Malformed::new(at, "packet identifier 0 (§2.2.1)"));
        }
        f.insert("packet_id".into(), pid.into());
        id = Some(pid);
    }
    let mut topic_alias = None;
    if version.v5() {
        properties_into(r, &mut f)?;
        topic_alias = f
            .get("properties")
            .and_then(|p| p.get("topic_alias"))
            .and_then(Value::as_u64)
            .and_then(|a| u16::try_from(a).ok());
    }
    let payload = r.rest();
    payload_into(payload, &mut f);
    let mut u = Unit::new("PUBLISH", "");
    u.fields = f;
    u.key = (!topic.is_empty()).then(|| topic.to_string());
    let mut p = Packet::new(PacketType::Publish, u);
    p.id = id;
    p.qos = qos;
    p.topic = Some(topic.to_string());
    p.topic_alias = topic_alias;
    p.unit.summary = publish_summary(topic, &p, payload);
    Ok(p)
}

/// `a/b qos 1 id 7 retain "payload"`: what a reader needs of a PUBLISH.
pub fn publish_summary(topic: &str, p: &Packet, payload: &[u8]) -> String {
    let f = &p.unit.fields;
    let mut s = if topic.is_empty() {
        "(no topic)".to_string()
    } else {
        topic.to_string()
    };
    if let Some(a) = p.topic_alias {
        s.push_str(&format!(" (alias {a})"));
    }
    s.push_str(&format!(" qos {}", p.qos));
    if let Some(id) = p.id {
        s.push_str(&format!(" id {id}"));
    }
    if f.get("dup") == Some(&Value::Bool(true)) {
        s.push_str(" dup");
    }
    if f.get("retain") == Some(&Value::Bool(true)) {
        s.push_str(" retain");
    }
    s.push(' ');
    s.push_str(&payload_summary(payload));
    s
}

/// A payload in a summary: its start quoted when it is text, else its size.
fn payload_summary(payload: &[u8]) -> String {
    match text_prefix(payload, SUMMARY_PREVIEW * 4) {
        Some(text) => {
            let mut chars = text.chars();
            let shown: String = chars.by_ref().take(SUMMARY_PREVIEW).collect();
            let more = chars.next().is_some() || text.len() < payload.len();
            format!("\"{shown}{}\"", if more { "…" } else { "" })
        }
        None => format!("<{} bytes>", payload.len()),
    }
}

/// The first `max` bytes of `b` as text, if they are UTF-8 (a character cut at `max` is
/// dropped) and hold no control characters other than white space.
fn text_prefix(b: &[u8], max: usize) -> Option<&str> {
    let head = &b[..b.len().min(max)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() && head.len() < b.len() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let printable = text
        .chars()
        .all(|c| !c.is_control() || c == '\n' || c == '\r' || c == '\t');
    printable.then_some(text)
}

/// `payload_size` and a preview: `payload_text` when it is text, else `payload_hex`.
fn payload_into(payload: &[u8], f: &mut Map<String, Value>) {
    f.insert("payload_size".into(), payload.len().into());
    match text_prefix(payload, PAYLOAD_PREVIEW) {
        Some(text) => f.insert("payload_text".into(), text.into()),
        None => f.insert(
            "payload_hex".into(),
            hex(&payload[..payload.len().min(PAYLOAD_PREVIEW)]).into(),
        ),
    };
    if payload.len() > PAYLOAD_PREVIEW {
        f.insert("payload_preview_cut".into(), true.into());
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP: a packet id, and in 5.0 a reason code and properties
/// when the remaining length has room for them (§3.4.2.1).
fn ack(r: &mut Reader<'_>, kind: PacketType, version: Version) -> Result<Packet> {
    let id = packet_id(r)?;
    let mut f = Map::new();
    f.insert("packet_id".into(), id.into());
    let mut summary = format!("id {id}");
    if version.v5() && !r.is_empty() {
        let code = r.u8("reason code")?;
        let name = names::reason(kind, code);
        f.insert("reason_code".into(), code.into());
        f.insert("reason".into(), name.as_ref().into());
        if code != 0 {
            summary.push_str(&format!(" {name}"));
        }
        if !r.is_empty() {
            properties_into(r, &mut f)?;
        }
    }
    let mut u = Unit::new(kind.name(), summary);
    u.fields = f;
    let mut p = Packet::new(kind, u);
    p.id = Some(id);
    Ok(p)
}

fn packet_id(r: &mut Reader<'_>) -> Result<u16> {
    let at = r.pos();
    let id = r.u16("packet identifier")?;
    if id == 0 {
        return Err(Malformed::new(at, "packet identifier 0 (§2.2.1)"));
    }
    Ok(id)
}

fn subscribe(r: &mut Reader<'_>, version: Version) -> Result<Packet> {
    let id = packet_id(r)?;
    let mut f = Map::new();
    f.insert("packet_id".into(), id.into());
    if version.v5() {
        properties_into(r, &mut f)?;
    }
    let mut subs = Vec::new();
    let mut shown = Vec::new();
    let mut filters = Vec::new();
    while !r.is_empty() {
        let filter = r.utf8("topic filter")?;
        let at = r.pos();
        let options = r.u8("subscription options")?;
        let reserved = if version.v5() { 0xC0 } else { 0xFC };
        if options & reserved != 0 || options & 3 == 3 || (options >> 4) & 3 == 3 {
            return Err(Malformed::new(
                at,
                format!("subscription options {options:08b} for {filter:?}: reserved bits or QoS 3 (§3.8.3.1)"),
            ));
        }
        let mut s = Map::new();
        s.insert("topic_filter".into(), filter.into());
        s.insert("qos".into(), (options & 3).into());
        if version.v5() {
            s.insert("no_local".into(), (options & 0x04 != 0).into());
            s.insert("retain_as_published".into(), (options & 0x08 != 0).into());
            s.insert("retain_handling".into(), ((options >> 4) & 3).into());
        }
        subs.push(Value::Object(s));
        shown.push(format!("{filter} q{}", options & 3));
        filters.push(filter);
    }
    if subs.is_empty() {
        return Err(Malformed::new(
            r.pos(),
            "SUBSCRIBE without a topic filter (§3.8.3)",
        ));
    }
    f.insert("subscriptions".into(), Value::Array(subs));
    let mut u = Unit::new("SUBSCRIBE", format!("id {id} {}", shown.join(", ")));
    u.key = Some(filters.join(" "));
    u.fields = f;
    let mut p = Packet::new(PacketType::Subscribe, u);
    p.id = Some(id);
    Ok(p)
}

/// SUBACK and UNSUBACK: a packet id, 5.0 properties, and a code per filter (none in a 3.1.1
/// UNSUBACK).
fn codes_ack(r: &mut Reader<'_>, kind: PacketType, version: Version) -> Result<Packet> {
    let id = packet_id(r)?;
    let mut f = Map::new();
    f.insert("packet_id".into(), id.into());
    if version.v5() {
        properties_into(r, &mut f)?;
    }
    let codes = r.rest();
    let names: Vec<String> = codes
        .iter()
        .map(|&c| match (version.v5(), kind) {
            (false, PacketType::Suback) => names::suback_return(c).into_owned(),
            _ => names::reason(kind, c).into_owned(),
        })
        .collect();
    if !codes.is_empty() {
        let field = if version.v5() {
            "reason_codes"
        } else {
            "return_codes"
        };
        f.insert(field.into(), json!(codes));
        f.insert("reasons".into(), json!(names));
    }
    let mut summary = format!("id {id}");
    let short: Vec<String> = codes
        .iter()
        .zip(&names)
        .map(|(&c, n)| match c {
            0..=2 if kind == PacketType::Suback => format!("q{c}"),
            _ => n.clone(),
        })
        .collect();
    if !short.is_empty() {
        summary.push_str(&format!(" {}", short.join(", ")));
    }
    let mut u = Unit::new(kind.name(), summary);
    u.fields = f;
    let mut p = Packet::new(kind, u);
    p.id = Some(id);
    Ok(p)
}

fn suback(r: &mut Reader<'_>, version: Version) -> Result<Packet> {
    let at = r.pos();
    let p = codes_ack(r, PacketType::Suback, version)?;
    let has_codes = p.unit.fields.contains_key("reasons");
    if !has_codes {
        return Err(Malformed::new(at, "SUBACK without a return code (§3.9.3)"));
    }
    Ok(p)
}

fn unsuback(r: &mut Reader<'_>, version: Version) -> Result<Packet> {
    let at = r.pos();
    let p = codes_ack(r, PacketType::Unsuback, version)?;
    if !version.v5() && p.unit.fields.contains_key("reasons") {
        return Err(Malformed::new(
            at + 2,
            "a 3.1.1 UNSUBACK has no payload (§3.11.3)",
        ));
    }
    Ok(p)
}

fn unsubscribe(r: &mut Reader<'_>, version: Version) -> Result<Packet> {
    let id = packet_id(r)?;
    let mut f = Map::new();
    f.insert("packet_id".into(), id.into());
    if version.v5() {
        properties_into(r, &mut f)?;
    }
    let mut filters = Vec::new();
    while !r.is_empty() {
        filters.push(r.utf8("topic filter")?);
    }
    if filters.is_empty() {
        return Err(Malformed::new(
            r.pos(),
            "UNSUBSCRIBE without a topic filter (§3.10.3)",
        ));
    }
    f.insert("topic_filters".into(), json!(filters));
    let mut u = Unit::new("UNSUBSCRIBE", format!("id {id} {}", filters.join(", ")));
    u.key = Some(filters.join(" "));
    u.fields = f;
    let mut p = Packet::new(PacketType::Unsubscribe, u);
    p.id = Some(id);
    Ok(p)
}

/// DISCONNECT and AUTH: nothing in 3.1.1; in 5.0 a reason code (0 when absent) and properties
/// (§3.14.2.1, §3.15.2.1).
fn reason_only(r: &mut Reader<'_>, kind: PacketType, version: Version) -> Result<Packet> {
    let mut f = Map::new();
    let mut summary = String::new();
    if version.v5() {
        let code = if r.is_empty() {
            0
        } else {
            r.u8("reason code")?
        };
        let name = names::reason(kind, code);
        f.insert("reason_code".into(), code.into());
        f.insert("reason".into(), name.as_ref().into());
        summary = name.into_owned();
        if !r.is_empty() {
            properties_into(r, &mut f)?;
        }
        if let Some(m) = f
            .get("properties")
            .and_then(|p| p.get("authentication_method"))
            .and_then(Value::as_str)
        {
            summary.push_str(&format!(" method {m}"));
        }
    }
    let mut u = Unit::new(kind.name(), summary);
    u.fields = f;
    Ok(Packet::new(kind, u))
}

/// Read a 5.0 property list (§2.2.2) into `f["properties"]` (left out when empty): names in
/// snake_case, numbers as numbers, binary data in hex, user properties as `[name, value]`
/// pairs in order, repeatable properties as lists.
fn properties_into(r: &mut Reader<'_>, f: &mut Map<String, Value>) -> Result<()> {
    let len_at = r.pos();
    let len = r.varint("property length")? as usize;
    if len > r.left() {
        return Err(Malformed::new(
            len_at,
            format!(
                "property length {len} runs past the packet ({} bytes left)",
                r.left()
            ),
        ));
    }
    let end = r.pos() + len;
    let mut props = Map::new();
    while r.pos() < end {
        let at = r.pos();
        let id = r.varint("property identifier")?;
        let (name, ty) = names::property(id).ok_or_else(|| {
            Malformed::new(
                at,
                format!("unknown property identifier 0x{id:02X} (§2.2.2.2)"),
            )
        })?;
        let value = match ty {
            PropertyType::Byte => r.u8(name)?.into(),
            PropertyType::U16 => r.u16(name)?.into(),
            PropertyType::U32 => r.u32(name)?.into(),
            PropertyType::VarInt => r.varint(name)?.into(),
            PropertyType::Utf8 => r.utf8(name)?.into(),
            PropertyType::Binary => hex(r.binary(name)?).into(),
            PropertyType::Pair => json!([
                r.utf8("user property name")?,
                r.utf8("user property value")?
            ]),
        };
        if names::repeatable(name) {
            let list = props
                .entry(name)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(l) = list {
                l.push(value);
            }
        } else {
            props.insert(name.into(), value);
        }
    }
    if r.pos() != end {
        return Err(Malformed::new(
            end,
            "a property runs past the property length",
        ));
    }
    if !props.is_empty() {
        f.insert("properties".into(), Value::Object(props));
    }
    Ok(())
}
