//! HTTP/2 frames (RFC 9113 §4, §6): the 9-byte header, and the payloads of the frames a
//! WebSocket dissector needs to read (SETTINGS, RST_STREAM, GOAWAY, HEADERS, PUSH_PROMISE,
//! WINDOW_UPDATE). Pure functions over bytes; every length is checked.

use std::fmt;

/// Every frame starts with this many bytes (RFC 9113 §4.1).
pub const HEADER_LEN: usize = 9;
/// What a client sends first on an HTTP/2 connection (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Largest frame payload until SETTINGS_MAX_FRAME_SIZE says otherwise (RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 1 << 14;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameType(pub u8);

impl FrameType {
    pub const DATA: FrameType = FrameType(0);
    pub const HEADERS: FrameType = FrameType(1);
    pub const PRIORITY: FrameType = FrameType(2);
    pub const RST_STREAM: FrameType = FrameType(3);
    pub const SETTINGS: FrameType = FrameType(4);
    pub const PUSH_PROMISE: FrameType = FrameType(5);
    pub const PING: FrameType = FrameType(6);
    pub const GOAWAY: FrameType = FrameType(7);
    pub const WINDOW_UPDATE: FrameType = FrameType(8);
    pub const CONTINUATION: FrameType = FrameType(9);

    pub fn name(self) -> &'static str {
        const NAMES: [&str; 10] = [
            "DATA",
            "HEADERS",
            "PRIORITY",
            "RST_STREAM",
            "SETTINGS",
            "PUSH_PROMISE",
            "PING",
            "GOAWAY",
            "WINDOW_UPDATE",
            "CONTINUATION",
        ];
        NAMES.get(self.0 as usize).copied().unwrap_or("UNKNOWN")
    }

    /// One of the ten types RFC 9113 defines (others are extensions, ignored by receivers).
    pub fn is_known(self) -> bool {
        self.0 <= 9
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.is_known() {
            true => f.write_str(self.name()),
            false => write!(f, "UNKNOWN(0x{:02x})", self.0),
        }
    }
}

/// Flag bits (RFC 9113 §6); their meaning depends on the frame type.
pub mod flags {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// The 9-byte frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub len: u32,
    pub kind: FrameType,
    pub flags: u8,
    /// Stream identifier (31 bits); 0 is the connection.
    pub stream: u32,
    /// The reserved bit before the stream id (must be 0, ignored by receivers).
    pub reserved: bool,
}

impl FrameHeader {
    pub fn parse(b: &[u8; HEADER_LEN]) -> FrameHeader {
        let sid = u32::from_be_bytes([b[5], b[6], b[7], b[8]]);
        FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: FrameType(b[3]),
            flags: b[4],
            stream: sid & 0x7fff_ffff,
            reserved: sid & 0x8000_0000 != 0,
        }
    }

    fn has(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    /// The sender will send nothing more on this stream.
    pub fn end_stream(&self) -> bool {
        matches!(self.kind, FrameType::DATA | FrameType::HEADERS) && self.has(flags::END_STREAM)
    }

    /// The header block ends with this frame.
    pub fn end_headers(&self) -> bool {
        matches!(
            self.kind,
            FrameType::HEADERS | FrameType::PUSH_PROMISE | FrameType::CONTINUATION
        ) && self.has(flags::END_HEADERS)
    }

    /// The payload starts with a pad length and ends with that much padding.
    pub fn padded(&self) -> bool {
        matches!(
            self.kind,
            FrameType::DATA | FrameType::HEADERS | FrameType::PUSH_PROMISE
        ) && self.has(flags::PADDED)
    }

    /// The names of the flags set, as this frame type defines them.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let defined: &[(u8, &str)] = match self.kind {
            FrameType::DATA => &[(flags::END_STREAM, "END_STREAM"), (flags::PADDED, "PADDED")],
            FrameType::HEADERS => &[
                (flags::END_STREAM, "END_STREAM"),
                (flags::END_HEADERS, "END_HEADERS"),
                (flags::PADDED, "PADDED"),
                (flags::PRIORITY, "PRIORITY"),
            ],
            FrameType::PUSH_PROMISE => &[
                (flags::END_HEADERS, "END_HEADERS"),
                (flags::PADDED, "PADDED"),
            ],
            FrameType::CONTINUATION => &[(flags::END_HEADERS, "END_HEADERS")],
            FrameType::SETTINGS | FrameType::PING => &[(flags::ACK, "ACK")],
            _ => &[],
        };
        defined
            .iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, name)| *name)
            .collect()
    }

    /// Could this be a frame header? Used to find frame boundaries when the start of the
    /// connection or a piece of it is missing: a known type, a length a peer would send, and a
    /// stream id where the type allows one.
    pub fn plausible(&self, max_len: u32) -> bool {
        let on_connection = matches!(
            self.kind,
            FrameType::SETTINGS | FrameType::PING | FrameType::GOAWAY
        );
        let on_stream = matches!(
            self.kind,
            FrameType::DATA
                | FrameType::HEADERS
                | FrameType::PRIORITY
                | FrameType::RST_STREAM
                | FrameType::PUSH_PROMISE
                | FrameType::CONTINUATION
        );
        let fixed_len = match self.kind {
            FrameType::PRIORITY => Some(5),
            FrameType::RST_STREAM | FrameType::WINDOW_UPDATE => Some(4),
            FrameType::PING => Some(8),
            _ => None,
        };
        self.kind.is_known()
            && !self.reserved
            && self.len <= max_len
            && fixed_len.is_none_or(|n| self.len == n)
            && !(on_connection && self.stream != 0)
            && !(on_stream && self.stream == 0)
            && !(self.kind == FrameType::SETTINGS && self.len % 6 != 0)
    }
}

/// A payload that does not have the shape its frame type requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

/// HTTP/2 error codes (RFC 9113 §7), as carried by RST_STREAM and GOAWAY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    pub fn name(self) -> Option<&'static str> {
        const NAMES: [&str; 14] = [
            "NO_ERROR",
            "PROTOCOL_ERROR",
            "INTERNAL_ERROR",
            "FLOW_CONTROL_ERROR",
            "SETTINGS_TIMEOUT",
            "STREAM_CLOSED",
            "FRAME_SIZE_ERROR",
            "REFUSED_STREAM",
            "CANCEL",
            "COMPRESSION_ERROR",
            "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY",
            "HTTP_1_1_REQUIRED",
        ];
        NAMES.get(self.0 as usize).copied()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:x}", self.0),
        }
    }
}

/// One SETTINGS parameter (RFC 9113 §6.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub id: u16,
    pub value: u32,
}

impl Setting {
    pub const HEADER_TABLE_SIZE: u16 = 1;
    pub const MAX_FRAME_SIZE: u16 = 5;
    /// RFC 8441 §3: the server allows the extended CONNECT (value 1).
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 8;

    pub fn name(&self) -> Option<&'static str> {
        Some(match self.id {
            1 => "HEADER_TABLE_SIZE",
            2 => "ENABLE_PUSH",
            3 => "MAX_CONCURRENT_STREAMS",
            4 => "INITIAL_WINDOW_SIZE",
            5 => "MAX_FRAME_SIZE",
            6 => "MAX_HEADER_LIST_SIZE",
            8 => "ENABLE_CONNECT_PROTOCOL",
            9 => "NO_RFC7540_PRIORITIES",
            _ => return None,
        })
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}={}", self.value),
            None => write!(f, "0x{:x}={}", self.id, self.value),
        }
    }
}

pub fn parse_settings(payload: &[u8]) -> Result<Vec<Setting>, Malformed> {
    if payload.len() % 6 != 0 {
        let msg = format!(
            "SETTINGS payload of {} bytes is not a multiple of 6",
            payload.len()
        );
        return Err(Malformed(msg));
    }
    Ok(payload
        .chunks_exact(6)
        .map(|c| Setting {
            id: u16::from_be_bytes([c[0], c[1]]),
            value: u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
        })
        .collect())
}

/// The payload without its padding (DATA, HEADERS, PUSH_PROMISE with PADDED set).
pub fn unpadded<'a>(header: &FrameHeader, payload: &'a [u8]) -> Result<&'a [u8], Malformed> {
    if !header.padded() {
        return Ok(payload);
    }
    let Some((&pad, rest)) = payload.split_first() else {
        return Err(Malformed(format!(
            "padded {} frame without a pad length",
            header.kind
        )));
    };
    rest.len()
        .checked_sub(pad as usize)
        .map(|n| &rest[..n])
        .ok_or_else(|| {
            let msg = format!(
                "{pad} bytes of padding in a {}-byte {} payload",
                payload.len(),
                header.kind
            );
            Malformed(msg)
        })
}

/// The field block fragment a HEADERS frame carries: padding and priority fields removed.
pub fn headers_fragment<'a>(
    header: &FrameHeader,
    payload: &'a [u8],
) -> Result<&'a [u8], Malformed> {
    let rest = unpadded(header, payload)?;
    if header.kind != FrameType::HEADERS || !header.has(flags::PRIORITY) {
        return Ok(rest);
    }
    rest.get(5..)
        .ok_or_else(|| Malformed("HEADERS with PRIORITY shorter than its 5 priority bytes".into()))
}

fn u32_at(payload: &[u8], at: usize) -> Option<u32> {
    let b = payload.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

pub fn rst_stream_code(payload: &[u8]) -> Result<ErrorCode, Malformed> {
    match payload.len() {
        4 => Ok(ErrorCode(u32_at(payload, 0).unwrap_or_default())),
        n => Err(Malformed(format!("RST_STREAM payload of {n} bytes, not 4"))),
    }
}

/// GOAWAY (RFC 9113 §6.8): streams above `last_stream` were not and will not be processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAway {
    pub last_stream: u32,
    pub code: ErrorCode,
    pub debug: Vec<u8>,
}

/// Opaque debug data kept from a GOAWAY.
const MAX_GOAWAY_DEBUG: usize = 256;

pub fn parse_goaway(payload: &[u8]) -> Result<GoAway, Malformed> {
    let (Some(last), Some(code)) = (u32_at(payload, 0), u32_at(payload, 4)) else {
        return Err(Malformed(format!(
            "GOAWAY payload of {} bytes, under 8",
            payload.len()
        )));
    };
    let debug = &payload[8..];
    Ok(GoAway {
        last_stream: last & 0x7fff_ffff,
        code: ErrorCode(code),
        debug: debug[..debug.len().min(MAX_GOAWAY_DEBUG)].to_vec(),
    })
}

/// The promised stream of a PUSH_PROMISE, and its field block fragment.
pub fn push_promise(header: &FrameHeader, payload: &[u8]) -> Result<(u32, Vec<u8>), Malformed> {
    let rest = unpadded(header, payload)?;
    let promised = u32_at(rest, 0)
        .ok_or_else(|| Malformed("PUSH_PROMISE shorter than its promised stream id".into()))?;
    Ok((promised & 0x7fff_ffff, rest[4..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: [u8; 9]) -> FrameHeader {
        FrameHeader::parse(&bytes)
    }

    #[test]
    fn header_fields_and_flags() {
        let h = header([0, 0x40, 0x00, 1, 0x25, 0x80, 0, 0, 3]);
        assert_eq!(
            (h.len, h.kind, h.stream, h.reserved),
            (16384, FrameType::HEADERS, 3, true)
        );
        assert_eq!(h.flag_names(), ["END_STREAM", "END_HEADERS", "PRIORITY"]);
        assert!(h.end_stream() && h.end_headers() && !h.padded());
        let settings_ack = header([0, 0, 0, 4, 1, 0, 0, 0, 0]);
        assert_eq!(settings_ack.flag_names(), ["ACK"]);
        assert!(
            !settings_ack.end_stream(),
            "ACK shares the bit but is not END_STREAM"
        );
    }

    #[test]
    fn padding_and_priority_are_removed() {
        let h = header([0, 0, 12, 1, 0x2c, 0, 0, 0, 1]);
        let payload = [2, 0, 0, 0, 0, 16, 0x82, 0x84, 0x87, 0x41, 0, 0];
        assert_eq!(
            headers_fragment(&h, &payload).unwrap(),
            [0x82, 0x84, 0x87, 0x41]
        );
        let too_much = [9, 1, 2];
        assert!(unpadded(&h, &too_much).is_err());
        assert!(unpadded(&h, &[]).is_err());
    }

    #[test]
    fn settings_goaway_and_rst_are_read() {
        let s = parse_settings(&[0, 8, 0, 0, 0, 1, 0, 1, 0, 0, 0x10, 0]).unwrap();
        assert_eq!(s[0].to_string(), "ENABLE_CONNECT_PROTOCOL=1");
        assert_eq!(s[1].to_string(), "HEADER_TABLE_SIZE=4096");
        assert!(parse_settings(&[0; 5]).is_err());
        let g = parse_goaway(&[0x80, 0, 0, 5, 0, 0, 0, 11, b'x']).unwrap();
        assert_eq!(
            (g.last_stream, g.code.to_string(), g.debug),
            (5, "ENHANCE_YOUR_CALM".into(), b"x".to_vec())
        );
        assert!(parse_goaway(&[0; 7]).is_err());
        assert_eq!(
            rst_stream_code(&[0, 0, 0, 8]).unwrap().to_string(),
            "CANCEL"
        );
        assert_eq!(ErrorCode(0x99).to_string(), "0x99");
        assert!(rst_stream_code(&[0; 5]).is_err());
    }

    #[test]
    fn plausibility_follows_the_type_rules() {
        assert!(header([0, 0, 6, 4, 0, 0, 0, 0, 0]).plausible(16384));
        assert!(
            !header([0, 0, 6, 4, 0, 0, 0, 0, 1]).plausible(16384),
            "SETTINGS on a stream"
        );
        assert!(
            !header([0, 0, 9, 0, 0, 0, 0, 0, 0]).plausible(16384),
            "DATA on stream 0"
        );
        assert!(
            !header([0, 0x40, 1, 0, 0, 0, 0, 0, 1]).plausible(16384),
            "over the max size"
        );
        assert!(
            !header([0, 0, 3, 8, 0, 0, 0, 0, 1]).plausible(16384),
            "WINDOW_UPDATE not 4 bytes"
        );
        assert!(
            !header([0, 0, 4, 12, 0, 0, 0, 0, 1]).plausible(16384),
            "unknown type"
        );
    }
}
