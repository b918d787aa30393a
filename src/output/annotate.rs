//! The teaching view (`--explain`): every frame laid out bit by bit, with what each field
//! means, why it has its value, and the RFC section that governs it. Masked payloads are shown
//! masked, with the key repeated under them and the XOR result below, so it can be checked by eye.

use std::io::{self, Write};

use super::escape::{escape_bytes, escape_text, hex_spaced, quoted_bytes};
use super::style::Style;
use super::text::{diagnostic_line, elide};
use super::Sink;
use crate::base::{Diagnostic, Direction};
use crate::event::{Event, Frame, Message};

use crate::ws::close::close_code_name;
use crate::ws::frame::LengthForm;
use crate::ws::mask::apply_mask;
use crate::ws::opcode::OpCode;

pub struct AnnotateOptions {
    /// Payload bytes shown before eliding the middle (`usize::MAX`: everything kept).
    pub payload_bytes: usize,
    pub style: Style,
}

pub struct AnnotateSink<W: Write> {
    out: W,
    opts: AnnotateOptions,
}

impl<W: Write> AnnotateSink<W> {
    pub fn new(out: W, opts: AnnotateOptions) -> Self {
        AnnotateSink { out, opts }
    }
}

fn bits(byte: u8) -> String {
    let s = format!("{byte:08b}");
    format!("{} {}", &s[..4], &s[4..])
}

/// `1... ....`-style notation: only the bits in `mask` are shown.
fn bit_group(byte: u8, mask: u8) -> String {
    let mut s = String::new();
    for i in (0..8).rev() {
        if i == 3 {
            s.push(' ');
        }
        s.push(if mask >> i & 1 == 0 {
            '.'
        } else if byte >> i & 1 == 1 {
            '1'
        } else {
            '0'
        });
    }
    s
}

fn opcode_meaning(op: OpCode) -> &'static str {
    match op {
        OpCode::Continuation => "continuation: the next fragment of the message in progress",
        OpCode::Text => "text frame: the message is UTF-8 text",
        OpCode::Binary => "binary frame: the message is arbitrary bytes",
        OpCode::Close => "close frame: starts or answers the closing handshake",
        OpCode::Ping => "ping: the peer must answer with a pong carrying the same payload",
        OpCode::Pong => "pong: the answer to a ping (or an unsolicited heartbeat)",
        OpCode::Reserved(b) if b & 8 != 0 => "reserved control opcode: not defined by RFC 6455",
        OpCode::Reserved(_) => "reserved data opcode: not defined by RFC 6455",
    }
}

impl<W: Write> AnnotateSink<W> {
    fn frame(&mut self, f: &Frame) -> io::Result<()> {
        let st = self.opts.style;
        let h = &f.header;
        let hb = &f.header_bytes[..h.header_len as usize];
        let who = match f.dir {
            Direction::ClientToServer => "client → server",
            Direction::ServerToClient => "server → client",
        };
        let packets = if f.first_packet.number == f.last_packet.number {
            format!("packet #{}", f.first_packet.number)
        } else {
            format!(
                "packets #{}–#{}",
                f.first_packet.number, f.last_packet.number
            )
        };
        let end = f.stream_offset + u64::from(h.header_len) + h.payload_len;
        writeln!(
            self.out,
            "{}",
            st.heading(&format!(
                "── conn {} frame {} {} ({who}), {packets}, stream bytes {}–{}",
                f.conn,
                f.index,
                f.dir.as_str(),
                f.stream_offset,
                end.saturating_sub(1)
            ))
        )?;
        writeln!(
            self.out,
            "   header    {}        {} bytes (RFC 6455 §5.2)",
            st.hex(&hex_spaced(hb)),
            h.header_len
        )?;
        let b0 = hb[0];
        writeln!(self.out, "   byte 0    0x{b0:02x} = {}", bits(b0))?;
        let line = |out: &mut W, group: String, field: String, meaning: &str| {
            writeln!(out, "             {group}  {field:<16} {meaning}")
        };
        line(
            &mut self.out,
            bit_group(b0, 0x80),
            format!("FIN    = {}", u8::from(h.fin)),
            if h.fin {
                "final frame of its message (§5.2)"
            } else {
                "more fragments of this message follow (§5.4)"
            },
        )?;
        for (bit, name, set) in [
            (0x40u8, "RSV1", h.rsv1),
            (0x20, "RSV2", h.rsv2),
            (0x10, "RSV3", h.rsv3),
        ] {
            let meaning = match (name, set) {
                (_, false) => "reserved: 0 unless an extension defines it (§5.2)",
                ("RSV1", true) => {
                    "set: permessage-deflate marks a compressed message (RFC 7692 §6)"
                }
                (_, true) => "set: only a negotiated extension may set it (§5.2)",
            };
            line(
                &mut self.out,
                bit_group(b0, bit),
                format!("{name}   = {}", u8::from(set)),
                meaning,
            )?;
        }
        line(
            &mut self.out,
            bit_group(b0, 0x0f),
            format!("opcode = 0x{:X}", h.opcode.bits()),
            &format!("{} (§5.2, §11.8)", opcode_meaning(h.opcode)),
        )?;
        let b1 = hb[1];
        writeln!(self.out, "   byte 1    0x{b1:02x} = {}", bits(b1))?;
        let mask_meaning = match (f.dir, h.masked) {
            (Direction::ClientToServer, true) => {
                "payload masked: client→server frames must be masked (§5.1, §5.3)"
            }
            (Direction::ClientToServer, false) => {
                "NOT masked: a client must mask every frame (§5.1)"
            }
            (Direction::ServerToClient, false) => {
                "payload not masked: server→client frames never are (§5.1)"
            }
            (Direction::ServerToClient, true) => "masked: a server must not mask its frames (§5.1)",
        };
        line(
            &mut self.out,
            bit_group(b1, 0x80),
            format!("MASK   = {}", u8::from(h.masked)),
            mask_meaning,
        )?;
        let len_meaning = match h.length_form {
            LengthForm::Short => "0-125: this is the payload length itself (§5.2)".to_string(),
            LengthForm::Extended16 => {
                "126: the real length is in the next 2 bytes (§5.2)".to_string()
            }
            LengthForm::Extended64 => {
                "127: the real length is in the next 8 bytes (§5.2)".to_string()
            }
        };
        line(
            &mut self.out,
            bit_group(b1, 0x7f),
            format!("length = {}", h.len7),
            &len_meaning,
        )?;
        let mut at = 2usize;
        match h.length_form {
            LengthForm::Short => {}
            LengthForm::Extended16 => {
                writeln!(
                    self.out,
                    "   bytes 2-3 {}            extended length = {} (16-bit, network byte order)",
                    hex_spaced(&hb[2..4]),
                    h.payload_len
                )?;
                at = 4;
            }
            LengthForm::Extended64 => {
                writeln!(
                    self.out,
                    "   bytes 2-9 {}  extended length = {} (64-bit, network byte order)",
                    hex_spaced(&hb[2..10]),
                    h.payload_len
                )?;
                at = 10;
            }
        }
        if let Some(key) = h.mask_key {
            writeln!(self.out, "   bytes {}-{} {}      masking key: payload byte i is XORed with key[i mod 4] (§5.3)", at, at + 3, hex_spaced(&key))?;
        }
        self.payload(f)?;
        if let Some(c) = &f.close {
            match c.code {
                Some(code) => writeln!(
                    self.out,
                    "   close     status code {code} = {} (§7.4); reason {}",
                    close_code_name(code),
                    if c.reason.is_empty() { "(none)".to_string() } else { format!("\"{}\"", escape_text(&c.reason)) }
                )?,
                None => writeln!(self.out, "   close     no status code (empty payload; the peer sees 1005 No Status Rcvd, §7.1.5)")?,
            }
        }
        if let Some(rtt) = f.rtt_ns {
            writeln!(
                self.out,
                "   pong      answers the ping with the same payload: round trip {:.3} ms (§5.5.3)",
                rtt as f64 / 1e6
            )?;
        }
        if f.lost > 0 {
            writeln!(
                self.out,
                "   {}",
                st.warn(&format!(
                    "{} payload bytes are missing from the capture",
                    f.lost
                ))
            )?;
        }
        Ok(())
    }

    fn payload(&mut self, f: &Frame) -> io::Result<()> {
        let st = self.opts.style;
        let h = &f.header;
        if h.payload_len == 0 {
            return writeln!(self.out, "   payload   (empty)");
        }
        let (data, more) = elide(&f.payload.bytes, f.payload.len, self.opts.payload_bytes);
        writeln!(
            self.out,
            "   payload   {} bytes{}",
            h.payload_len,
            if h.masked { ", masked on the wire" } else { "" }
        )?;
        if h.rsv1 && !h.opcode.is_control() {
            writeln!(self.out, "             DEFLATE-compressed (RFC 7692 §7.2.1): the message below is this, inflated")?;
        }
        for chunk_start in (0..data.len()).step_by(16) {
            let chunk = &data[chunk_start..(chunk_start + 16).min(data.len())];
            if let Some(key) = h.mask_key {
                let mut wire = chunk.to_vec();
                apply_mask(&mut wire, key, chunk_start as u64);
                let key_row: Vec<u8> = (0..chunk.len())
                    .map(|i| key[(chunk_start + i) % 4])
                    .collect();
                writeln!(
                    self.out,
                    "   +{chunk_start:<6}    masked {}",
                    st.hex(&hex_spaced(&wire))
                )?;
                writeln!(
                    self.out,
                    "            ⊕ key    {}",
                    st.dim(&hex_spaced(&key_row))
                )?;
                writeln!(
                    self.out,
                    "            = data   {}  {}",
                    hex_spaced(chunk),
                    st.text(&quoted_bytes(chunk))
                )?;
            } else {
                writeln!(
                    self.out,
                    "   +{chunk_start:<6}    data   {}  {}",
                    st.hex(&hex_spaced(chunk)),
                    st.text(&quoted_bytes(chunk))
                )?;
            }
        }
        if more > 0 {
            let from = data.len();
            writeln!(self.out, "   +{from:<6}  … {more} more bytes not shown (--full-payload shows all kept bytes)")?;
        }
        if h.opcode == OpCode::Text
            && h.fin
            && !h.rsv1
            && std::str::from_utf8(&f.payload.bytes).is_ok()
            && !f.payload.truncated()
        {
            writeln!(
                self.out,
                "   text      \"{}\"",
                st.text(&escape_bytes(&f.payload.bytes))
            )?;
        }
        Ok(())
    }

    fn message(&mut self, m: &Message) -> io::Result<()> {
        let st = self.opts.style;
        let mut how = format!(
            "{} fragment{}",
            m.fragments,
            if m.fragments == 1 { "" } else { "s" }
        );
        if m.compressed {
            how.push_str(&format!(", {} bytes compressed on the wire → {} inflated (permessage-deflate, RFC 7692 §7.2.2)", m.wire_len, m.payload.len));
        }
        writeln!(
            self.out,
            "{}",
            st.heading(&format!(
                "══ conn {} message {} {}: {} {} bytes ({how})",
                m.conn,
                m.index,
                m.dir.as_str(),
                m.opcode.name(),
                m.payload.len
            ))
        )?;
        let (shown, more) = elide(
            &m.payload.bytes,
            m.payload.len,
            self.opts.payload_bytes.saturating_mul(4),
        );
        let shown = shown.len();
        match m.text() {
            Some(t) => {
                let cut = t
                    .char_indices()
                    .map(|(i, _)| i)
                    .take_while(|&i| i <= shown)
                    .last()
                    .unwrap_or(0);
                let cut = if shown >= t.len() { t.len() } else { cut };
                writeln!(
                    self.out,
                    "   text      \"{}\"",
                    st.text(&escape_text(&t[..cut]))
                )?;
            }
            None => {
                for chunk_start in (0..shown).step_by(16) {
                    let chunk = &m.payload.bytes[chunk_start..(chunk_start + 16).min(shown)];
                    writeln!(
                        self.out,
                        "   +{chunk_start:<6}  {}  {}",
                        st.hex(&hex_spaced(chunk)),
                        quoted_bytes(chunk)
                    )?;
                }
            }
        }
        if more > 0 {
            writeln!(self.out, "   … {more} more bytes")?;
        }
        if let Some(e) = &m.inflate_error {
            writeln!(
                self.out,
                "   {}",
                st.warn(&format!("inflation stopped: {e}"))
            )?;
        }
        Ok(())
    }

    fn diagnostic(&mut self, d: &Diagnostic) -> io::Result<()> {
        writeln!(self.out, "   {}", diagnostic_line(self.opts.style, d, ""))
    }
}

impl<W: Write> Sink for AnnotateSink<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Frame(f) => {
                writeln!(self.out)?;
                self.frame(f)?
            }
            Event::Message(m) => {
                writeln!(self.out)?;
                self.message(m)?
            }
            // The conversation emits a frame's diagnostics right after it: they land under it.
            Event::Diagnostic(d) => self.diagnostic(d)?,
            other => {
                super::text::write_context_line(&mut self.out, other, self.opts.style, &mut |_| {
                    None
                })?
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
