//! RFC 6455 on bytes: frame headers (nom), masking, opcodes, close codes, UTF-8, the rules, and
//! the per-direction stream decoder. No I/O, no clock: bytes and capture timestamps in, values out.

pub mod close;
pub mod decoder;
pub mod deflate;
pub mod frame;
pub mod mask;
pub mod message;
pub mod opcode;
pub mod record;
pub mod resync;
pub mod rules;
pub mod session;
pub mod utf8;
