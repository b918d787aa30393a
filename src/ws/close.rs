//! Close codes (RFC 6455 §7.4, IANA "WebSocket Close Code Number Registry").

/// A close frame's payload: a status code and a reason, both optional (§5.5.1).
#[derive(Clone, Debug, PartialEq)]
pub struct CloseInfo {
    /// None when the close frame had an empty payload.
    pub code: Option<u16>,
    /// The reason as text (bytes that are not UTF-8 replaced by U+FFFD).
    pub reason: String,
    /// The reason as sent: views escape it from these, so a byte that is not UTF-8 shows as
    /// `\xNN` instead of hiding in a replacement character.
    pub reason_bytes: Vec<u8>,
    /// Offset of the first invalid UTF-8 byte in the reason, if any.
    pub reason_utf8_error: Option<u64>,
}

/// A close payload: empty, or a 2-byte code and a UTF-8 reason (§5.5.1). A 1-byte payload has
/// no code (the rule it breaks is reported by `rules::close_findings`).
pub fn parse_close(payload: &[u8]) -> CloseInfo {
    let Some((code, reason_bytes)) = payload.split_first_chunk::<2>() else {
        return CloseInfo {
            code: None,
            reason: String::new(),
            reason_bytes: Vec::new(),
            reason_utf8_error: None,
        };
    };
    let reason_utf8_error = std::str::from_utf8(reason_bytes)
        .err()
        .map(|e| e.valid_up_to() as u64);
    CloseInfo {
        code: Some(u16::from_be_bytes(*code)),
        reason: String::from_utf8_lossy(reason_bytes).into_owned(),
        reason_bytes: reason_bytes.to_vec(),
        reason_utf8_error,
    }
}

/// What a close status code means, and whether it may be sent on the wire (§7.4.1, §7.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseCodeClass {
    /// Registered by IANA and allowed in a close frame.
    Registered(&'static str),
    /// Registered, but §7.4.1 says it must not be set in a close frame (1004, 1005, 1006, 1015).
    NotOnWire(&'static str),
    /// 0-999: not used (§7.4.2).
    Invalid,
    /// 1000-2999 without a registration: reserved for the protocol and its extensions.
    UnassignedProtocol,
    /// 3000-3999: registered with IANA by libraries and frameworks.
    Library,
    /// 4000-4999: private use by applications.
    Private,
    /// 5000 and above: outside every range RFC 6455 defines.
    OutOfRange,
}

/// Classify a close code.
pub fn classify_close_code(code: u16) -> CloseCodeClass {
    use CloseCodeClass::*;
    match code {
        1000 => Registered("Normal Closure"),
        1001 => Registered("Going Away"),
        1002 => Registered("Protocol Error"),
        1003 => Registered("Unsupported Data"),
        1004 => NotOnWire("Reserved"),
        1005 => NotOnWire("No Status Rcvd"),
        1006 => NotOnWire("Abnormal Closure"),
        1007 => Registered("Invalid frame payload data"),
        1008 => Registered("Policy Violation"),
        1009 => Registered("Message Too Big"),
        1010 => Registered("Mandatory Ext."),
        1011 => Registered("Internal Error"),
        1012 => Registered("Service Restart"),
        1013 => Registered("Try Again Later"),
        1014 => Registered("Bad Gateway"),
        1015 => NotOnWire("TLS handshake"),
        0..=999 => Invalid,
        1016..=2999 => UnassignedProtocol,
        3000..=3999 => Library,
        4000..=4999 => Private,
        _ => OutOfRange,
    }
}

/// A human name for a close code, e.g. "Normal Closure" or "private use".
pub fn close_code_name(code: u16) -> &'static str {
    match classify_close_code(code) {
        CloseCodeClass::Registered(n) | CloseCodeClass::NotOnWire(n) => n,
        CloseCodeClass::Invalid => "invalid (0-999 unused)",
        CloseCodeClass::UnassignedProtocol => "unassigned (reserved for RFC 6455)",
        CloseCodeClass::Library => "library/framework (3000-3999)",
        CloseCodeClass::Private => "private use (4000-4999)",
        CloseCodeClass::OutOfRange => "out of range",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_classes() {
        assert_eq!(close_code_name(1000), "Normal Closure");
        assert_eq!(close_code_name(1009), "Message Too Big");
        assert_eq!(
            classify_close_code(1005),
            CloseCodeClass::NotOnWire("No Status Rcvd")
        );
        assert_eq!(classify_close_code(999), CloseCodeClass::Invalid);
        assert_eq!(
            classify_close_code(2000),
            CloseCodeClass::UnassignedProtocol
        );
        assert_eq!(classify_close_code(3000), CloseCodeClass::Library);
        assert_eq!(classify_close_code(4999), CloseCodeClass::Private);
        assert_eq!(classify_close_code(5000), CloseCodeClass::OutOfRange);
    }
}
