//! RFC 6455 on bytes: frame headers (nom), masking, opcodes, close codes, UTF-8, the rules, and
//! the per-direction stream decoder. No I/O, no clock: bytes and capture timestamps in, values out.

pub mod close;
pub mod deflate;
pub mod frame;
pub mod mask;
pub mod opcode;
pub mod resync;
pub mod stream;
pub mod utf8;
