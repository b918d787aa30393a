//! JSON-RPC 2.0 (jsonrpc.org/specification): requests, notifications, responses and batches,
//! responses matched to their requests by id.
//!
//! Over WebSocket both ends may call each other, so a response is matched to a request with
//! its id sent the other way first, then to one sent the same way. An id is compared as JSON
//! (`1` and `"1"` differ, §4).

use serde_json::{json, Map, Value};

use super::pending::{Pending, Question};
use super::text::{cut, json_preview, may_have_key, ID_CHARS};
use super::types::{AppMessage, Decode, Decoded, Finding, Protocol, Unit};
use crate::base::rules;
use crate::base::Direction;

/// The first message is a text JSON object, or a non-empty array of objects, each with
/// `"jsonrpc": "2.0"`.
pub fn recognises(msg: &AppMessage<'_>) -> bool {
    if !msg.text || !msg.whole {
        return false;
    }
    let first = msg.bytes.iter().find(|b| !b.is_ascii_whitespace());
    if !matches!(first, Some(b'{' | b'[')) || !may_have_key(msg.bytes, b"\"jsonrpc\"") {
        return false;
    }
    match serde_json::from_slice::<Value>(msg.bytes) {
        Ok(Value::Object(o)) => is_v2(&o),
        Ok(Value::Array(a)) => !a.is_empty() && a.iter().all(|e| e.as_object().is_some_and(is_v2)),
        _ => false,
    }
}

fn is_v2(o: &Map<String, Value>) -> bool {
    o.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
}

/// The name §5.1 gives an error code, or the range it falls in.
pub fn error_name(code: i64) -> &'static str {
    match code {
        -32700 => "parse error",
        -32600 => "invalid request",
        -32601 => "method not found",
        -32602 => "invalid params",
        -32603 => "internal error",
        -32099..=-32000 => "server error",
        -32768..=-32000 => "reserved",
        _ => "application error",
    }
}

/// One element of a message, checked against §4 and §5.
#[derive(Debug)]
enum Element<'a> {
    Request {
        method: &'a str,
        params: Option<&'a Value>,
        id: &'a Value,
    },
    Notification {
        method: &'a str,
        params: Option<&'a Value>,
    },
    Result {
        id: &'a Value,
        result: &'a Value,
    },
    Error {
        id: &'a Value,
        code: i64,
        message: &'a str,
        data: Option<&'a Value>,
    },
}

/// Read one object; `Err` says what breaks §4/§5.
fn element(v: &Value) -> Result<Element<'_>, String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("{} is not an object", kind_of(v)))?;
    match o.get("jsonrpc") {
        Some(Value::String(s)) if s == "2.0" => {}
        Some(other) => return Err(format!("\"jsonrpc\" is {other}, not \"2.0\"")),
        None => return Err("no \"jsonrpc\": \"2.0\" member".into()),
    }
    let id = o.get("id");
    if let Some(id) = id {
        if !matches!(id, Value::String(_) | Value::Number(_) | Value::Null) {
            return Err(format!(
                "\"id\" is {}, not a string, number or null",
                kind_of(id)
            ));
        }
    }
    if let Some(method) = o.get("method") {
        let method = method
            .as_str()
            .ok_or_else(|| format!("\"method\" is {}, not a string", kind_of(method)))?;
        let params = o.get("params");
        if let Some(p) = params {
            if !p.is_array() && !p.is_object() {
                return Err(format!(
                    "\"params\" of {method:?} is {}, not an array or object",
                    kind_of(p)
                ));
            }
        }
        return Ok(match id {
            Some(id) => Element::Request { method, params, id },
            None => Element::Notification { method, params },
        });
    }
    let id = id.ok_or("neither \"method\" nor \"id\": not a request or response")?;
    match (o.get("result"), o.get("error")) {
        (Some(_), Some(_)) => Err("a response with both \"result\" and \"error\"".into()),
        (None, None) => Err("a response with neither \"result\" nor \"error\"".into()),
        (Some(result), None) => Ok(Element::Result { id, result }),
        (None, Some(e)) => {
            let code = e
                .get("code")
                .and_then(Value::as_i64)
                .ok_or("\"error\" has no integer \"code\"")?;
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .ok_or("\"error\" has no string \"message\"")?;
            Ok(Element::Error {
                id,
                code,
                message,
                data: e.get("data"),
            })
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A request waiting for its response: keyed by the direction it went and its id as JSON.
type RequestKey = (Direction, String);

#[derive(Debug, Default)]
pub struct Decoder {
    /// Requests by (direction, id), with their method.
    requests: Pending<RequestKey, String>,
}

impl Decode for Decoder {
    fn protocol(&self) -> Protocol {
        Protocol::JsonRpc
    }

    fn decode(&mut self, msg: &AppMessage<'_>, found: &mut Vec<Finding>) -> Option<Decoded> {
        if !msg.whole {
            // JSON cut short cannot be parsed soundly; the cut is reported already.
            return None;
        }
        let value: Value = match serde_json::from_slice(msg.bytes) {
            Ok(v) => v,
            Err(e) => {
                found.push((&rules::JSONRPC_MALFORMED, json_error(msg.bytes, &e)));
                return None;
            }
        };
        let (items, batch) = match &value {
            Value::Array(a) if a.is_empty() => {
                found.push((
                    &rules::JSONRPC_MALFORMED,
                    "an empty batch (§6 requires at least one element)".into(),
                ));
                return None;
            }
            Value::Array(a) => (a.as_slice(), true),
            v => (std::slice::from_ref(v), false),
        };
        let mut elements = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match element(item) {
                Ok(e) => elements.push(e),
                Err(why) => {
                    let at = if batch {
                        format!("batch element {i}: ")
                    } else {
                        String::new()
                    };
                    found.push((&rules::JSONRPC_MALFORMED, format!("{at}{why}")));
                    return None;
                }
            }
        }
        let units = elements
            .into_iter()
            .map(|e| {
                let mut u = self.unit(msg, e);
                if batch {
                    u.fields.insert("batch".into(), Value::Bool(true));
                }
                u
            })
            .collect();
        Some(Decoded {
            protocol: Protocol::JsonRpc,
            units,
        })
    }
}

/// serde_json's reason, with the byte offset of its line and column.
fn json_error(bytes: &[u8], e: &serde_json::Error) -> String {
    let line_start: usize = bytes
        .split(|&b| b == b'\n')
        .take(e.line().saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    let at = line_start + e.column().saturating_sub(1);
    format!("not JSON at byte {at}: {e}")
}

impl Decoder {
    fn unit(&mut self, msg: &AppMessage<'_>, e: Element<'_>) -> Unit {
        match e {
            Element::Request { method, params, id } => {
                let id_text = id.to_string();
                self.requests.insert(
                    (msg.dir, id_text.clone()),
                    Question::asked_by(msg, cut(method, ID_CHARS)),
                );
                let mut u = Unit::new(
                    "request",
                    join(&[
                        &format!("id {}", cut(&id_text, ID_CHARS)),
                        &cut(method, ID_CHARS),
                        &preview(params),
                    ]),
                );
                u.fields = call_fields(method, params);
                u.fields.insert("id".into(), id.clone());
                u.key = Some(method.to_string());
                u
            }
            Element::Notification { method, params } => {
                let mut u = Unit::new(
                    "notification",
                    join(&[&cut(method, ID_CHARS), &preview(params)]),
                );
                u.fields = call_fields(method, params);
                u.key = Some(method.to_string());
                u
            }
            Element::Result { id, result } => {
                let mut u = Unit::new(
                    "response",
                    format!(
                        "id {} {}",
                        cut(&id.to_string(), ID_CHARS),
                        json_preview(result)
                    ),
                );
                u.fields.insert("id".into(), id.clone());
                u.fields.insert("result".into(), result.clone());
                self.answer(msg, id, &mut u);
                u
            }
            Element::Error {
                id,
                code,
                message,
                data,
            } => {
                let name = error_name(code);
                let shown = cut(&id.to_string(), ID_CHARS);
                let summary = format!("id {shown} {code} {name}: {}", cut(message, 32));
                let mut u = Unit::new("error", summary);
                u.fields.insert("id".into(), id.clone());
                u.fields.insert("code".into(), json!(code));
                u.fields.insert("code_name".into(), json!(name));
                u.fields.insert("message".into(), json!(message));
                if let Some(d) = data {
                    u.fields.insert("data".into(), d.clone());
                }
                self.answer(msg, id, &mut u);
                u
            }
        }
    }

    /// Match a response to its request: sent the other way first, else the same way.
    fn answer(&mut self, msg: &AppMessage<'_>, id: &Value, u: &mut Unit) {
        let id_text = id.to_string();
        let other = match msg.dir {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        };
        let q = self
            .requests
            .remove(&(other, id_text.clone()))
            .or_else(|| self.requests.remove(&(msg.dir, id_text.clone())));
        if let Some(q) = q {
            u.answers = Some(q.answered_by(msg, &id_text));
            u.key = Some(q.about);
        }
    }
}

fn call_fields(method: &str, params: Option<&Value>) -> Map<String, Value> {
    let mut f = Map::new();
    f.insert("method".into(), json!(method));
    if let Some(p) = params {
        f.insert("params".into(), p.clone());
    }
    f
}

fn preview(params: Option<&Value>) -> String {
    params.map(json_preview).unwrap_or_default()
}

fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const C2S: Direction = Direction::ClientToServer;
    const S2C: Direction = Direction::ServerToClient;

    fn msg(dir: Direction, index: u64, ms: u64, bytes: &[u8]) -> AppMessage<'_> {
        AppMessage::text_at(dir, index, ms, bytes)
    }

    fn units(d: &mut Decoder, m: &AppMessage<'_>) -> Vec<Unit> {
        let mut found = Vec::new();
        let out = d.decode(m, &mut found);
        assert!(found.is_empty(), "{found:?}");
        out.expect("decoded").units
    }

    fn one(d: &mut Decoder, m: &AppMessage<'_>) -> Unit {
        let mut u = units(d, m);
        assert_eq!(u.len(), 1);
        u.remove(0)
    }

    fn malformed(bytes: &[u8]) -> String {
        let mut found = Vec::new();
        let out = Decoder::default().decode(&msg(C2S, 1, 0, bytes), &mut found);
        assert!(out.is_none());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0.name, "jsonrpc-malformed");
        found[0].1.clone()
    }

    #[test]
    fn json_rpc_2_objects_and_batches_are_recognised() {
        assert!(recognises(&msg(
            C2S,
            1,
            0,
            br#"{"jsonrpc":"2.0","method":"a","id":1}"#
        )));
        assert!(recognises(&msg(
            C2S,
            1,
            0,
            br#" [{"jsonrpc":"2.0","method":"a"}]"#
        )));
        assert!(!recognises(&msg(
            C2S,
            1,
            0,
            br#"{"jsonrpc":"1.0","method":"a"}"#
        )));
        assert!(!recognises(&msg(C2S, 1, 0, br#"[]"#)));
        assert!(!recognises(&msg(
            C2S,
            1,
            0,
            br#"{"type":"connection_init"}"#
        )));
        assert!(!recognises(&msg(C2S, 1, 0, b"42[\"x\"]")));
        // The member's name written with escapes is the same name (RFC 8259 §7): still parsed.
        assert!(recognises(&msg(
            C2S,
            1,
            0,
            br#"{"\u006asonrpc":"2.0","method":"a","id":1}"#
        )));
        // "jsonrpc" only inside a value: parsed, and not taken.
        assert!(!recognises(&msg(
            C2S,
            1,
            0,
            br#"{"method":"\"jsonrpc\"","id":1}"#
        )));
    }

    #[test]
    fn a_request_and_its_response() {
        let mut d = Decoder::default();
        let r = one(
            &mut d,
            &msg(
                C2S,
                1,
                10,
                br#"{"jsonrpc":"2.0","id":1,"method":"sum","params":[1,2]}"#,
            ),
        );
        assert_eq!(
            (r.kind.as_str(), r.summary.as_str()),
            ("request", "id 1 sum [1,2]")
        );
        assert_eq!(r.key.as_deref(), Some("sum"));
        assert_eq!(r.fields["params"], json!([1, 2]));
        assert_eq!(r.fields["id"], json!(1));
        let a = one(
            &mut d,
            &msg(S2C, 1, 13, br#"{"jsonrpc":"2.0","id":1,"result":3}"#),
        );
        assert_eq!(
            (a.kind.as_str(), a.summary.as_str()),
            ("response", "id 1 3")
        );
        assert_eq!(a.key.as_deref(), Some("sum"));
        let ans = a.answers.unwrap();
        assert_eq!(
            (ans.id.as_str(), ans.dir, ans.message, ans.rtt_ns),
            ("1", C2S, 1, 3_000_000)
        );
    }

    #[test]
    fn a_notification_has_no_id() {
        let u = one(
            &mut Decoder::default(),
            &msg(
                S2C,
                1,
                0,
                br#"{"jsonrpc":"2.0","method":"tick","params":{"n":1}}"#,
            ),
        );
        assert_eq!(
            (u.kind.as_str(), u.summary.as_str()),
            ("notification", "tick {\"n\":1}")
        );
        assert!(u.fields.get("id").is_none());
    }

    #[test]
    fn errors_are_named_from_the_spec() {
        let mut d = Decoder::default();
        one(
            &mut d,
            &msg(C2S, 1, 0, br#"{"jsonrpc":"2.0","id":"x","method":"nope"}"#),
        );
        let e = one(&mut d, &msg(S2C, 1, 1, br#"{"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"Method not found"}}"#));
        assert_eq!(e.kind, "error");
        assert_eq!(
            e.summary,
            "id \"x\" -32601 method not found: Method not found"
        );
        assert_eq!(e.fields["code_name"], "method not found");
        assert_eq!(e.answers.unwrap().id, "\"x\"");
        for (code, name) in [
            (-32700, "parse error"),
            (-32600, "invalid request"),
            (-32602, "invalid params"),
            (-32603, "internal error"),
            (-32050, "server error"),
            (-32500, "reserved"),
            (1001, "application error"),
        ] {
            assert_eq!(error_name(code), name);
        }
    }

    #[test]
    fn a_batch_is_one_unit_per_element_and_answers_each() {
        let mut d = Decoder::default();
        let req = units(&mut d, &msg(C2S, 1, 0, br#"[{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":100},{"jsonrpc":"2.0","method":"log"}]"#));
        assert_eq!(req.len(), 2);
        assert_eq!(req[0].fields["batch"], true);
        let res = units(
            &mut d,
            &msg(S2C, 1, 5, br#"[{"jsonrpc":"2.0","id":100,"result":3}]"#),
        );
        assert_eq!(res[0].answers.as_ref().unwrap().message, 1);
        assert_eq!(res[0].key.as_deref(), Some("sum"));
    }

    #[test]
    fn both_ends_may_ask_with_the_same_id() {
        let mut d = Decoder::default();
        one(
            &mut d,
            &msg(C2S, 1, 0, br#"{"jsonrpc":"2.0","id":1,"method":"start"}"#),
        );
        one(
            &mut d,
            &msg(S2C, 1, 1, br#"{"jsonrpc":"2.0","id":1,"method":"confirm"}"#),
        );
        // The client's answer goes c2s: it answers the server's request, not its own.
        let a = one(
            &mut d,
            &msg(C2S, 2, 2, br#"{"jsonrpc":"2.0","id":1,"result":true}"#),
        );
        assert_eq!(
            (a.answers.unwrap().dir, a.key.as_deref()),
            (S2C, Some("confirm"))
        );
        let b = one(
            &mut d,
            &msg(S2C, 2, 3, br#"{"jsonrpc":"2.0","id":1,"result":"ok"}"#),
        );
        assert_eq!(
            (b.answers.unwrap().dir, b.key.as_deref()),
            (C2S, Some("start"))
        );
        // A response with no request seen (or 1 vs "1") answers nothing.
        let c = one(
            &mut d,
            &msg(S2C, 3, 3, br#"{"jsonrpc":"2.0","id":"1","result":"ok"}"#),
        );
        assert!(c.answers.is_none());
    }

    #[test]
    fn invalid_messages_say_what_is_wrong() {
        assert!(malformed(b"{\"jsonrpc\":\"2.0\",").starts_with("not JSON at byte 1"));
        assert!(malformed(br#"{"method":"a"}"#).contains("no \"jsonrpc\""));
        assert!(malformed(br#"{"jsonrpc":"1.0","method":"a"}"#).contains("not \"2.0\""));
        assert!(malformed(br#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#).contains("both"));
        assert!(malformed(br#"{"jsonrpc":"2.0","id":1}"#).contains("neither \"result\""));
        assert!(malformed(br#"{"jsonrpc":"2.0"}"#).contains("neither \"method\""));
        assert!(malformed(br#"{"jsonrpc":"2.0","method":7}"#).contains("\"method\" is a number"));
        assert!(malformed(br#"{"jsonrpc":"2.0","method":"a","params":3}"#)
            .contains("not an array or object"));
        assert!(
            malformed(br#"{"jsonrpc":"2.0","method":"a","id":[1]}"#).contains("\"id\" is an array")
        );
        assert!(
            malformed(br#"{"jsonrpc":"2.0","id":1,"error":{"message":"x"}}"#)
                .contains("integer \"code\"")
        );
        assert!(malformed(br#"{"jsonrpc":"2.0","id":1,"error":{"code":1}}"#)
            .contains("string \"message\""));
        assert!(malformed(b"[]").contains("empty batch"));
        assert!(malformed(br#"[{"jsonrpc":"2.0","method":"a"},3]"#)
            .contains("batch element 1: a number is not an object"));
    }

    #[test]
    fn a_cut_message_is_left_raw_without_a_finding() {
        let mut m = msg(C2S, 1, 0, br#"{"jsonrpc":"2.0","id":1,"meth"#);
        m.whole = false;
        let mut found = Vec::new();
        assert!(Decoder::default().decode(&m, &mut found).is_none());
        assert!(found.is_empty());
    }

    #[test]
    fn requests_waiting_are_bounded() {
        let mut d = Decoder::default();
        for i in 0..crate::decode::MAX_PENDING + 5 {
            let b = format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"m"}}"#);
            one(&mut d, &msg(C2S, 1, 0, b.as_bytes()));
        }
        assert_eq!(d.requests.len(), crate::decode::MAX_PENDING);
        let a = one(
            &mut d,
            &msg(S2C, 1, 0, br#"{"jsonrpc":"2.0","id":0,"result":1}"#),
        );
        assert!(a.answers.is_none());
    }
}
