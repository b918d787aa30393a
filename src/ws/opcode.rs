//! The 4-bit frame opcode (RFC 6455 §5.2, §11.8).
//!
//! Reserved values are representable so the parser never rejects them; `rules` flags them.

use std::fmt;

/// A frame opcode as it appeared on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    /// 0x3-0x7 (reserved data) or 0xB-0xF (reserved control).
    Reserved(u8),
}

impl OpCode {
    pub fn from_bits(bits: u8) -> OpCode {
        match bits & 0x0f {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => OpCode::Reserved(other),
        }
    }

    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
            OpCode::Reserved(b) => b,
        }
    }

    /// Control frames have the most significant opcode bit set (§5.5).
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }

    pub fn is_reserved(self) -> bool {
        matches!(self, OpCode::Reserved(_))
    }

    /// Lower-case name as used in output and filters.
    pub fn name(self) -> &'static str {
        match self {
            OpCode::Continuation => "continuation",
            OpCode::Text => "text",
            OpCode::Binary => "binary",
            OpCode::Close => "close",
            OpCode::Ping => "ping",
            OpCode::Pong => "pong",
            OpCode::Reserved(b) if b & 0x8 != 0 => "reserved-control",
            OpCode::Reserved(_) => "reserved-data",
        }
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_round_trips() {
        for b in 0..16u8 {
            assert_eq!(OpCode::from_bits(b).bits(), b);
        }
    }

    #[test]
    fn control_and_reserved_ranges() {
        assert!(OpCode::Close.is_control());
        assert!(!OpCode::Text.is_control());
        assert!(OpCode::from_bits(0xB).is_control());
        assert!(OpCode::from_bits(0x3).is_reserved());
        assert!(!OpCode::from_bits(0x3).is_control());
    }
}
