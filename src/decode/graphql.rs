//! `graphql-transport-ws` (the graphql-ws npm package) and the older `graphql-ws` (subscriptions-transport-ws).
//!
//! Not written yet: recognises nothing and decodes nothing, so messages stay raw.

use super::types::{AppMessage, Decode, Decoded, Finding, Protocol};

/// The first message of a session is this protocol's opening packet.
pub fn recognises(_msg: &AppMessage<'_>) -> Option<Protocol> {
    None
}

#[derive(Debug)]
pub struct Decoder {
    protocol: Protocol,
}

impl Decoder {
    pub fn new(protocol: Protocol) -> Decoder {
        Decoder { protocol }
    }
}

impl Decode for Decoder {
    fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn decode(&mut self, _msg: &AppMessage<'_>, _found: &mut Vec<Finding>) -> Option<Decoded> {
        None
    }
}
