//! What the messages carry: application protocols on top of WebSocket (Socket.IO, MQTT,
//! STOMP, graphql-ws, JSON-RPC).
//!
//! A decoder reads whole messages only, never frames, so it works the same over HTTP/1.1, TLS
//! and HTTP/2. Each is a pure function of a message and its own per-session state (ids waiting
//! for an answer, a packet continued into the next message). It sits below `ws` in the import
//! order because it knows nothing of WebSocket: bytes, a text flag, a direction and a time.
//!
//! A session's decoder is chosen by the negotiated subprotocol, by the request target
//! (`/socket.io/?EIO=4…`), by `--decode PROTO[:PORT]`, or recognised from the first messages
//! when none of those tells. A message a decoder cannot read is shown raw, with a diagnostic.

mod choose;
mod graphql;
mod jsonrpc;
mod mqtt;
mod pending;
mod socketio;
mod stomp;
mod text;
mod types;

pub use choose::{AppDecoder, Hint, SNIFF_MESSAGES};
pub use text::cut;
pub use types::{
    Answer, AppMessage, Decode, Decoded, Finding, Protocol, Unit, MAX_CARRY, MAX_PENDING,
};
