//! HTTP/2 (RFC 9113) as far as WebSocket over HTTP/2 (RFC 8441) needs it: frames read
//! incrementally per direction, and HPACK field blocks. Knows nothing of connections or
//! WebSocket; `conversation/h2.rs` builds streams and sessions on it.

pub mod frame;
pub mod hpack;
pub mod reader;
