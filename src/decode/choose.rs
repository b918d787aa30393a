//! Which decoder a session gets: named by `--decode`, the subprotocol or the request target,
//! or recognised from the first messages.

use super::types::{AppMessage, Decode, Decoded, Finding, Protocol};
use super::{graphql, jsonrpc, mqtt, socketio, stomp};

/// How a session's decoder is to be chosen.
#[derive(Clone, Debug, Default)]
pub struct Hint<'a> {
    /// `--decode` named this protocol for the session's port.
    pub forced: Option<Protocol>,
    /// The negotiated `Sec-WebSocket-Protocol`.
    pub subprotocol: Option<&'a str>,
    /// The request target (HTTP/1.1) or `:path` (HTTP/2).
    pub target: Option<&'a str>,
}

/// A session's application decoder: chosen, or still recognising from the first messages.
#[derive(Debug)]
pub enum AppDecoder {
    /// Nothing told which protocol: each message is shown to every recogniser, up to
    /// [`SNIFF_MESSAGES`] messages.
    Recognising {
        seen: u8,
    },
    Chosen(Box<dyn Decode>),
    /// Not recognised in time: messages stay raw.
    GaveUp,
}

/// Messages a session shows the recognisers before it gives up.
pub const SNIFF_MESSAGES: u8 = 4;

impl AppDecoder {
    /// The decoder the hints name, or one that recognises.
    pub fn new(hint: &Hint<'_>) -> AppDecoder {
        let named = hint
            .forced
            .or_else(|| hint.subprotocol.and_then(Protocol::from_subprotocol))
            .or_else(|| hint.target.and_then(Protocol::from_target));
        match named {
            Some(p) => AppDecoder::Chosen(decoder_for(p)),
            None => AppDecoder::Recognising { seen: 0 },
        }
    }

    /// Decode a message, or recognise its protocol from it.
    pub fn decode(&mut self, msg: &AppMessage<'_>, found: &mut Vec<Finding>) -> Option<Decoded> {
        match self {
            AppDecoder::Chosen(d) => d.decode(msg, found),
            AppDecoder::Recognising { seen } => {
                *seen += 1;
                let give_up = *seen >= SNIFF_MESSAGES;
                match recognise(msg) {
                    Some(p) => {
                        let mut d = decoder_for(p);
                        let decoded = d.decode(msg, found);
                        *self = AppDecoder::Chosen(d);
                        decoded
                    }
                    None if give_up => {
                        *self = AppDecoder::GaveUp;
                        None
                    }
                    None => None,
                }
            }
            AppDecoder::GaveUp => None,
        }
    }

    /// No recogniser took the session's first messages: it stays raw.
    pub fn gave_up(&self) -> bool {
        matches!(self, AppDecoder::GaveUp)
    }

    /// The protocol chosen, if any.
    pub fn protocol(&self) -> Option<Protocol> {
        match self {
            AppDecoder::Chosen(d) => Some(d.protocol()),
            _ => None,
        }
    }
}

/// A fresh decoder for `p`.
fn decoder_for(p: Protocol) -> Box<dyn Decode> {
    match p {
        Protocol::SocketIo => Box::new(socketio::Decoder::default()),
        Protocol::Mqtt => Box::new(mqtt::Decoder::default()),
        Protocol::Stomp => Box::new(stomp::Decoder::default()),
        Protocol::GraphqlTransportWs | Protocol::GraphqlWs => Box::new(graphql::Decoder::new(p)),
        Protocol::JsonRpc => Box::new(jsonrpc::Decoder::default()),
    }
}

/// The protocol a first message shows beyond doubt, if any: each protocol's recogniser looks
/// for what only its opening packets look like (Engine.IO's open packet `0{"sid":…`, an MQTT
/// CONNECT, a STOMP CONNECT frame, a graphql-ws `connection_init`, a JSON-RPC 2.0 object).
/// The recognisers are tried from the most specific (a binary MQTT CONNECT, Engine.IO's open
/// packet) to the most general (any JSON-RPC 2.0 object).
fn recognise(msg: &AppMessage<'_>) -> Option<Protocol> {
    if mqtt::recognises(msg) {
        Some(Protocol::Mqtt)
    } else if socketio::recognises(msg) {
        Some(Protocol::SocketIo)
    } else if stomp::recognises(msg) {
        Some(Protocol::Stomp)
    } else if let Some(p) = graphql::recognises(msg) {
        Some(p)
    } else if jsonrpc::recognises(msg) {
        Some(Protocol::JsonRpc)
    } else {
        None
    }
}
