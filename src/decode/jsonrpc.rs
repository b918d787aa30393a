//! JSON-RPC 2.0: requests matched to their responses by id.
//!
//! Not written yet: recognises nothing and decodes nothing, so messages stay raw.

use super::types::{AppMessage, Decode, Decoded, Finding, Protocol};

/// The first message of a session is this protocol's opening packet.
pub fn recognises(_msg: &AppMessage<'_>) -> bool {
    false
}

#[derive(Debug, Default)]
pub struct Decoder {}

impl Decode for Decoder {
    fn protocol(&self) -> Protocol {
        Protocol::JsonRpc
    }

    fn decode(&mut self, _msg: &AppMessage<'_>, _found: &mut Vec<Finding>) -> Option<Decoded> {
        None
    }
}
