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

/// What a `Sec-WebSocket-Key` is made of (RFC 6455 §4.1: base64 of 16 random bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyShape {
    Valid,
    /// Base64, but of this many bytes.
    WrongLength(usize),
    NotBase64,
}

/// Check a key as sent (surrounding whitespace is not part of the value).
pub fn check_key(key: &str) -> KeyShape {
    match base64::engine::general_purpose::STANDARD.decode(key.trim()) {
        Ok(b) if b.len() == 16 => KeyShape::Valid,
        Ok(b) => KeyShape::WrongLength(b.len()),
        Err(_) => KeyShape::NotBase64,
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

    #[test]
    fn key_shapes() {
        assert_eq!(check_key(" dGhlIHNhbXBsZSBub25jZQ== "), KeyShape::Valid);
        assert_eq!(check_key("aGVsbG8="), KeyShape::WrongLength(5));
        assert_eq!(check_key("not base64!"), KeyShape::NotBase64);
    }
}
