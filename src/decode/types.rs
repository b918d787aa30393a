//! The types between a session and its application decoder.

use std::fmt;

use crate::base::rules::Rule;
use crate::base::{Direction, Timestamp};

/// A rule broken by a message, and what exactly broke it.
pub type Finding = (&'static Rule, String);

/// The application protocols wsdissect decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// Socket.IO v4/v5 over Engine.IO v4.
    SocketIo,
    /// MQTT 3.1.1 and 5.0.
    Mqtt,
    /// STOMP 1.0–1.2.
    Stomp,
    /// `graphql-transport-ws` (the `graphql-ws` npm package).
    GraphqlTransportWs,
    /// `graphql-ws`, the older subscriptions-transport-ws protocol.
    GraphqlWs,
    /// JSON-RPC 2.0.
    JsonRpc,
}

impl Protocol {
    pub const ALL: [Protocol; 6] = [
        Protocol::SocketIo,
        Protocol::Mqtt,
        Protocol::Stomp,
        Protocol::GraphqlTransportWs,
        Protocol::GraphqlWs,
        Protocol::JsonRpc,
    ];

    /// The name used in output, NDJSON and `--decode`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::SocketIo => "socket.io",
            Protocol::Mqtt => "mqtt",
            Protocol::Stomp => "stomp",
            Protocol::GraphqlTransportWs => "graphql-transport-ws",
            Protocol::GraphqlWs => "graphql-ws",
            Protocol::JsonRpc => "json-rpc",
        }
    }

    /// A `--decode` name: the output name, or a common alias.
    pub fn from_name(name: &str) -> Option<Protocol> {
        let name = name.to_ascii_lowercase();
        let alias = match name.as_str() {
            "socketio" | "engine.io" | "engineio" => Some(Protocol::SocketIo),
            "jsonrpc" => Some(Protocol::JsonRpc),
            _ => None,
        };
        alias.or_else(|| Protocol::ALL.into_iter().find(|p| p.as_str() == name))
    }

    /// The protocol a negotiated `Sec-WebSocket-Protocol` value names (IANA's WebSocket
    /// Subprotocol Name Registry, and the names the libraries send).
    pub fn from_subprotocol(sub: &str) -> Option<Protocol> {
        let sub = sub.trim().to_ascii_lowercase();
        match sub.as_str() {
            "mqtt" | "mqttv3.1" | "mqttv3.1.1" | "mqttv5" => Some(Protocol::Mqtt),
            "v10.stomp" | "v11.stomp" | "v12.stomp" | "stomp" => Some(Protocol::Stomp),
            "graphql-transport-ws" => Some(Protocol::GraphqlTransportWs),
            "graphql-ws" => Some(Protocol::GraphqlWs),
            "jsonrpc" | "json-rpc" | "jsonrpc-2.0" | "jsonrpc2.0" => Some(Protocol::JsonRpc),
            _ => None,
        }
    }

    /// The protocol a request target names: Socket.IO clients connect to
    /// `/socket.io/?EIO=4&transport=websocket` (the path can be changed, the query cannot).
    pub fn from_target(target: &str) -> Option<Protocol> {
        let query = target.split_once('?')?.1;
        let mut eio = false;
        let mut websocket = false;
        for pair in query.split('&') {
            eio |= pair.starts_with("EIO=");
            websocket |= pair == "transport=websocket";
        }
        (eio && websocket).then_some(Protocol::SocketIo)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole message, as a decoder sees it.
#[derive(Clone, Copy, Debug)]
pub struct AppMessage<'a> {
    pub dir: Direction,
    /// The message's 1-based number in its direction.
    pub index: u64,
    /// A text message (else binary).
    pub text: bool,
    /// The payload (inflated, unmasked).
    pub bytes: &'a [u8],
    /// The payload is all there: not cut at the keep limit, no hole, inflated in full, valid
    /// UTF-8 if text. A decoder reads only the bytes it has when this is false, and drops any
    /// state the missing bytes would have changed (a packet continued across messages).
    pub whole: bool,
    /// When the message's last frame was captured.
    pub ts: Timestamp,
}

#[cfg(test)]
impl AppMessage<'_> {
    /// A whole text message of the decoders' tests: `dir`'s message `index`, at `ms`.
    pub fn text_at(dir: Direction, index: u64, ms: u64, bytes: &[u8]) -> AppMessage<'_> {
        AppMessage {
            dir,
            index,
            text: true,
            bytes,
            whole: true,
            ts: Timestamp(ms * 1_000_000),
        }
    }
}

/// What a message carried, in its application protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub protocol: Protocol,
    /// The protocol's packets in the message, in order: most hold one; MQTT may hold several,
    /// or none when the message holds only the start of a packet.
    pub units: Vec<Unit>,
}

/// One application packet (an event, a PUBLISH, a STOMP frame, a request).
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// The packet type, as the protocol names it: `EVENT`, `PUBLISH`, `SEND`, `subscribe`,
    /// `request`.
    pub kind: String,
    /// One line for the views, without the protocol or the kind (`/chat "chat message"
    /// ["hi"] id 3`). Not escaped: the views escape it.
    pub summary: String,
    /// The decoded fields for NDJSON (names in snake_case; docs/decoders.md lists them).
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// What the table groups by: an event name, a topic, a destination, a method.
    pub key: Option<String>,
    /// This packet answers an earlier one (an ack, a PUBACK, an RPC response, a `next`).
    pub answers: Option<Answer>,
    /// A keep-alive (Engine.IO ping/pong, MQTT PINGREQ/PINGRESP, a STOMP heart-beat): the
    /// views summarise these instead of repeating them.
    pub heartbeat: bool,
}

impl Unit {
    pub fn new(kind: impl Into<String>, summary: impl Into<String>) -> Unit {
        Unit {
            kind: kind.into(),
            summary: summary.into(),
            fields: serde_json::Map::new(),
            key: None,
            answers: None,
            heartbeat: false,
        }
    }
}

/// The earlier packet a packet answers, and how long the answer took.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The id that matched them, as the protocol writes it (`3`, `"abc"`).
    pub id: String,
    /// The direction and message number of the packet answered.
    pub dir: Direction,
    pub message: u64,
    /// From the question's message to this one, in nanoseconds.
    pub rtt_ns: u64,
}

/// One protocol's decoder for one WebSocket session: both directions, and the state that
/// matches answers to questions. Memory it keeps must be bounded (at most
/// [`MAX_PENDING`] questions waiting, a packet carried over at most [`MAX_CARRY`] bytes).
pub trait Decode: fmt::Debug + Send {
    fn protocol(&self) -> Protocol;
    /// Decode one message. `None`: the message is not this protocol's (shown raw), with what
    /// was wrong in `found`.
    fn decode(&mut self, msg: &AppMessage<'_>, found: &mut Vec<Finding>) -> Option<Decoded>;
}

/// Questions a decoder keeps waiting for their answer; past it the oldest is forgotten.
pub const MAX_PENDING: usize = 1024;
/// Bytes of an unfinished packet a decoder carries into the next message.
pub const MAX_CARRY: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subprotocols_name_their_protocol() {
        assert_eq!(Protocol::from_subprotocol("mqtt"), Some(Protocol::Mqtt));
        assert_eq!(
            Protocol::from_subprotocol("v12.stomp"),
            Some(Protocol::Stomp)
        );
        assert_eq!(
            Protocol::from_subprotocol("graphql-transport-ws"),
            Some(Protocol::GraphqlTransportWs)
        );
        assert_eq!(Protocol::from_subprotocol("chat"), None);
    }

    #[test]
    fn a_socket_io_target_names_socket_io() {
        let t = "/socket.io/?EIO=4&transport=websocket";
        assert_eq!(Protocol::from_target(t), Some(Protocol::SocketIo));
        assert_eq!(Protocol::from_target("/ws?EIO=4"), None);
        assert_eq!(Protocol::from_target("/chat"), None);
    }

    #[test]
    fn every_name_reads_back() {
        for p in Protocol::ALL {
            assert_eq!(Protocol::from_name(p.as_str()), Some(p));
        }
        assert_eq!(Protocol::from_name("socketio"), Some(Protocol::SocketIo));
    }
}
