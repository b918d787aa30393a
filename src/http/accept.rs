//! `Sec-WebSocket-Accept` (RFC 6455 §4.2.2 item 5.4, §1.3).

use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID every server appends to the client's key (RFC 6455 §1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Each step of the computation, so it can be shown as well as checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptSteps {
    pub concatenated: String,
    pub sha1: [u8; 20],
    pub accept: String,
}

/// base64(SHA-1(key + GUID)). The key is used as sent (trimmed of surrounding whitespace, which
/// is not part of a header value), not decoded.
pub fn compute_accept(key: &str) -> AcceptSteps {
    let concatenated = format!("{}{}", key.trim(), WEBSOCKET_GUID);
    let sha1: [u8; 20] = Sha1::digest(concatenated.as_bytes()).into();
    let accept = base64::engine::general_purpose::STANDARD.encode(sha1);
    AcceptSteps {
        concatenated,
        sha1,
        accept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_section_1_3_example() {
        let steps = compute_accept("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(steps.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            steps.concatenated,
            "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        );
        assert_eq!(steps.sha1[0], 0xb3);
    }
}
