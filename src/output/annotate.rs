//! The teaching view (`--explain`): every frame laid out bit by bit, with what each field
//! means, why it has its value, and the RFC section that governs it. Masked payloads are shown
//! masked, with the key repeated under them and the XOR result below, so it can be checked by eye.

use std::collections::HashMap;
use std::io::{self, Write};

use super::decoded::unit_line;
use super::diagram::frame_diagram;
use super::escape::{hex_spaced, quoted_bytes};
use super::fit::{display_width, wrap as wrap_line, wrap_quoted, wrap_words};
use super::handshake::{write_taught, Halves};
use super::style::Style;
use super::text::{diagnostic_line, elide, holes_note, write_context_wrapped};
use super::Sink;
use crate::base::{ConnId, Diagnostic, Direction, StreamId};
use crate::event::{Event, Frame, Message};

use crate::ws::close::close_code_name;
use crate::ws::frame::{FrameHeader, LengthForm};
use crate::ws::mask::apply_mask;
use crate::ws::opcode::OpCode;
use crate::ws::record::Rsv1Meaning;

pub struct AnnotateOptions {
    /// Payload bytes shown before eliding the middle (`usize::MAX`: everything kept).
    pub payload_bytes: usize,
    pub style: Style,
    /// `--diagram`: start each frame with the RFC 6455 §5.2 box filled in with its values.
    pub diagram: bool,
    /// Columns every line keeps within (`usize::MAX`: no limit).
    pub width: usize,
}

pub struct AnnotateSink<W: Write> {
    out: W,
    opts: AnnotateOptions,
    /// Per session (a connection, or an HTTP/2 stream of one): the notes already shown, and
    /// each direction's open message.
    sessions: HashMap<(ConnId, Option<StreamId>), SessionState>,
    /// Which halves of a handshake are taught (`--packet`, `explain --http`).
    halves: Halves,
    /// The notes against common misconceptions are shown (`--no-notes` leaves them out).
    notes: bool,
}

impl<W: Write> AnnotateSink<W> {
    pub fn new(out: W, opts: AnnotateOptions) -> Self {
        AnnotateSink {
            out,
            opts,
            sessions: HashMap::new(),
            halves: Halves::default(),
            notes: true,
        }
    }

    /// Show the notes against common misconceptions, or not (`--no-notes`).
    pub fn notes(mut self, shown: bool) -> Self {
        self.notes = shown;
        self
    }

    /// Teach only these halves of each handshake (every half by default).
    pub fn handshake_halves(mut self, halves: Halves) -> Self {
        self.halves = halves;
        self
    }
}

/// A note against a common misconception, shown once per session where it first applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Note {
    MaskingIsNotEncryption,
    OnlyClientsMask,
    LengthMarkers,
    ControlFrames,
}

impl Note {
    const ALL: [Note; 4] = [
        Note::MaskingIsNotEncryption,
        Note::OnlyClientsMask,
        Note::LengthMarkers,
        Note::ControlFrames,
    ];

    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// Whether the note applies to this frame.
    fn applies(self, f: &Frame) -> bool {
        match self {
            Note::MaskingIsNotEncryption => f.header.masked,
            // Every frame shows who masks: a masked client frame or an unmasked server frame
            // by following the rule, the others by breaking it.
            Note::OnlyClientsMask => true,
            Note::LengthMarkers => f.header.len7 >= 126,
            Note::ControlFrames => f.header.opcode.is_control(),
        }
    }

    /// The note's lines, each within 80 columns once indented by `note_lines`.
    fn text(self) -> &'static [&'static str] {
        match self {
            Note::MaskingIsNotEncryption => &[
                "masking is not encryption: the key travels in the frame, so",
                "anyone on the path can unmask it. Masking exists so that a script",
                "cannot choose the bytes on the wire and poison an intermediary's",
                "cache with a forged HTTP response (§10.3).",
            ],
            Note::OnlyClientsMask => &[
                "only clients mask: a client masks every frame it sends, and a",
                "server must not mask any (§5.1). Either side closes the",
                "connection on a frame masked the wrong way.",
            ],
            Note::LengthMarkers => &[
                "126 and 127 are markers, not lengths: 126 says a 16-bit length",
                "follows, 127 a 64-bit one (§5.2). A payload of 126 bytes is",
                "written 126 + 00 7e; the shortest form must be used.",
            ],
            Note::ControlFrames => &[
                "control frames (close, ping, pong) cannot be fragmented: FIN is",
                "always 1 and the payload at most 125 bytes (§5.5). They may come",
                "between the fragments of a message (§5.4).",
            ],
        }
    }
}

/// One frame of a message in progress: the packet it ended in, and its payload length.
#[derive(Clone, Copy, Debug)]
struct Fragment {
    packet: u64,
    frame: u64,
    len: u64,
}

#[derive(Default)]
struct SessionState {
    /// Bits of the `Note`s already shown.
    notes_shown: u8,
    /// Each direction's open message (client → server, server → client): its opcode and
    /// the frames so far.
    open: [Option<(OpCode, Vec<Fragment>)>; 2],
}

fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    }
}

/// tshark's fragment list, `#8(13) #9(14) #13(20)`: the packet each frame ended in and its
/// payload length. When frames share a packet (`explain`, or several frames in one segment),
/// the packet numbers would not tell them apart, so frame numbers are listed instead.
fn fragment_list(frags: &[Fragment]) -> (String, Vec<String>) {
    let distinct = frags.windows(2).all(|w| w[0].packet != w[1].packet);
    if distinct {
        (
            "packet(payload bytes)".to_string(),
            frags
                .iter()
                .map(|f| format!("#{}({})", f.packet, f.len))
                .collect(),
        )
    } else {
        (
            "frame(payload bytes)".to_string(),
            frags
                .iter()
                .map(|f| format!("{}({})", f.frame, f.len))
                .collect(),
        )
    }
}

/// Words after a 13-column label, wrapped to fit `width` columns.
fn wrap(label: &str, words: &[String], width: usize) -> Vec<String> {
    wrap_words(&format!("   {label:<9} {}", words.join(" ")), width, LABEL)
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

/// Payload bytes per row: 16 as in a hex dump when the width has room for them and their
/// text, fewer (a multiple of 4, so each row starts at key byte 0) on a narrower terminal.
fn row_bytes(width: usize) -> usize {
    match width {
        88.. => 16,
        72..=87 => 12,
        56..=71 => 8,
        _ => 4,
    }
}

/// Where the text of a payload row goes when it does not fit after the hex: under the hex.
const ROW_TEXT: usize = 21;

/// The longest prefix of `s` of at most `max` bytes that ends between two characters.
fn char_floor(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

fn opcode_meaning(op: OpCode) -> &'static str {
    match op {
        OpCode::Continuation => "continuation of the open message (§5.4)",
        OpCode::Text => "text: the message is UTF-8 text (§5.6)",
        OpCode::Binary => "binary: the message is any bytes (§5.6)",
        OpCode::Close => "close: begins or answers closing (§5.5.1)",
        OpCode::Ping => "ping: to be answered with a pong (§5.5.2)",
        OpCode::Pong => "pong: a reply to a ping (§5.5.3)",
        OpCode::Reserved(b) if b & 8 != 0 => "reserved control opcode: undefined (§5.2)",
        OpCode::Reserved(_) => "reserved data opcode: undefined (§5.2)",
    }
}

/// What a set RSV1 means on this frame, given what the handshake negotiated.
fn rsv1_meaning(f: &Frame) -> &'static str {
    let first_of_message = matches!(f.header.opcode, OpCode::Text | OpCode::Binary);
    match f.rsv1_meaning {
        Rsv1Meaning::Undefined => {
            "set, but no extension was negotiated to define it: it must be 0 (§5.2)"
        }
        Rsv1Meaning::Deflate if first_of_message => {
            "compressed (deflate negotiated, RFC 7692)"
        }
        Rsv1Meaning::AssumedDeflate if first_of_message => {
            "set: taken as a compressed message (permessage-deflate assumed: the handshake was not seen; RFC 7692 §6)"
        }
        _ => "set, but permessage-deflate allows it only on the first frame of a text or binary message (RFC 7692 §6.1)",
    }
}

impl<W: Write> AnnotateSink<W> {
    /// A line within the width; a continuation starts under `prefix`'s end when that leaves a
    /// reasonable line, else 13 columns in (under the labels' values).
    fn put(&mut self, prefix: &str, text: &str) -> io::Result<()> {
        let at = display_width(prefix);
        let indent = if self.opts.width.saturating_sub(at) >= 30 {
            at
        } else {
            LABEL
        };
        for line in wrap_line(&format!("{prefix}{text}"), self.opts.width, indent) {
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    /// `   label     text`: a labelled line, its continuation under the text.
    fn labelled(&mut self, label: &str, text: &str) -> io::Result<()> {
        self.put(&format!("   {label:<9} "), text)
    }

    /// The annotated frame: a heading, the header byte by byte and bit by bit, the payload,
    /// then what the frame means (close status, ping round trip, bytes lost).
    fn frame(&mut self, f: &Frame) -> io::Result<()> {
        let hb = &f.header_bytes[..f.header.header_len as usize];
        self.frame_heading(f)?;
        if self.opts.diagram {
            let lines = frame_diagram(&f.header, &f.header_bytes, &f.payload.bytes, f.missing);
            for line in lines {
                self.put("   ", &line)?;
            }
        }
        let hex = self.opts.style.hex(&hex_spaced(hb));
        self.labelled(
            "header",
            &format!("{hex}  {} bytes (RFC 6455 §5.2)", f.header.header_len),
        )?;
        self.byte0(f, hb[0])?;
        self.byte1(f, hb[1])?;
        self.extended_length_and_key(&f.header, hb)?;
        self.payload(f)?;
        self.frame_notes(f)?;
        self.fragmentation(f)?;
        self.misconception_notes(f)
    }

    /// Tracks the message a data frame belongs to; a frame with FIN=0 says the message is
    /// still open, and a control frame inside an open message says it may come there.
    fn fragmentation(&mut self, f: &Frame) -> io::Result<()> {
        let state = self.sessions.entry((f.conn, f.stream)).or_default();
        let open = &mut state.open[dir_index(f.dir)];
        let h = &f.header;
        let frag = Fragment {
            packet: f.last_packet.number,
            frame: f.index,
            len: h.payload_len,
        };
        let line = match h.opcode {
            op if op.is_control() => open.as_ref().map(|(op, frags)| {
                format!(
                    "between fragments {} and {} of the open {} message",
                    frags.len(),
                    frags.len() + 1,
                    op.name()
                )
            }),
            OpCode::Continuation => match open {
                Some((op, frags)) => {
                    frags.push(frag);
                    Some(format!(
                        "fragment {} of a {} message: {}",
                        frags.len(),
                        op.name(),
                        if h.fin {
                            "FIN=1, the message ends (§5.4)"
                        } else {
                            "waiting for FIN=1 (§5.4)"
                        }
                    ))
                }
                None => None,
            },
            // A reserved data opcode fails the connection (§5.2): no message is open after it.
            OpCode::Reserved(_) => {
                *open = None;
                None
            }
            op => {
                *open = Some((op, vec![frag]));
                (!h.fin).then(|| {
                    format!(
                        "fragment 1 of a {} message: waiting for FIN=1 (§5.4)",
                        op.name()
                    )
                })
            }
        };
        match line {
            Some(line) => self.labelled("message", &line),
            None => Ok(()),
        }
    }

    /// The notes against common misconceptions that apply to this frame and were not yet
    /// shown on its session.
    fn misconception_notes(&mut self, f: &Frame) -> io::Result<()> {
        if !self.notes {
            return Ok(());
        }
        let state = self.sessions.entry((f.conn, f.stream)).or_default();
        let mut due = Vec::new();
        for note in Note::ALL {
            if state.notes_shown & note.bit() == 0 && note.applies(f) {
                state.notes_shown |= note.bit();
                due.push(note);
            }
        }
        let st = self.opts.style;
        for note in due {
            for (i, line) in note.text().iter().enumerate() {
                let label = if i == 0 { "note" } else { "" };
                self.labelled(label, &st.dim(line))?;
            }
        }
        Ok(())
    }

    /// `── conn N [stream S] frame I dir (who), packets, stream bytes first–last`.
    fn frame_heading(&mut self, f: &Frame) -> io::Result<()> {
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
        // A frame cut short ends where its bytes do.
        let end =
            f.stream_offset + u64::from(f.header.header_len) + f.header.payload_len - f.missing;
        let heading = format!(
            "── conn {}{} frame {} {} ({who}), {packets}, {} {}–{}{}",
            f.conn,
            f.stream.map(|s| format!(" stream {s}")).unwrap_or_default(),
            f.index,
            f.dir.as_str(),
            // Over HTTP/2 the offsets count the stream's DATA bytes, not the TCP stream's.
            if f.stream.is_some() {
                "DATA bytes"
            } else {
                "stream bytes"
            },
            f.stream_offset,
            end.saturating_sub(1),
            if f.missing > 0 { ", cut short" } else { "" }
        );
        for line in wrap_line(&heading, self.opts.width, 3) {
            writeln!(self.out, "{}", self.opts.style.heading(&line))?;
        }
        Ok(())
    }

    /// One header field: its bits within the byte, its value, and what the value means.
    fn field(&mut self, group: String, field: String, meaning: &str) -> io::Result<()> {
        self.put(&format!("{:LABEL$}{group}  {field:<12}  ", ""), meaning)
    }

    /// A header byte: its bits (lined up with the fields' bit groups below), then its hex.
    fn byte_line(&mut self, index: usize, byte: u8) -> io::Result<()> {
        self.labelled(
            &format!("byte {index}"),
            &format!("{} = 0x{byte:02x}", bits(byte)),
        )
    }

    /// Byte 0: FIN, RSV1-3 and the opcode. RSV1 is explained by what the handshake negotiated.
    fn byte0(&mut self, f: &Frame, b0: u8) -> io::Result<()> {
        let h = &f.header;
        self.byte_line(0, b0)?;
        self.field(
            bit_group(b0, 0x80),
            format!("FIN    = {}", u8::from(h.fin)),
            if h.fin {
                "final frame of its message (§5.2)"
            } else {
                "more fragments follow (§5.4)"
            },
        )?;
        for (bit, name, set) in [
            (0x40u8, "RSV1", h.rsv1),
            (0x20, "RSV2", h.rsv2),
            (0x10, "RSV3", h.rsv3),
        ] {
            let meaning = match (name, set) {
                (_, false) => "0 unless an extension defines it (§5.2)",
                ("RSV1", true) => rsv1_meaning(f),
                (_, true) => "set: only a negotiated extension may set it (§5.2)",
            };
            self.field(
                bit_group(b0, bit),
                format!("{name}   = {}", u8::from(set)),
                meaning,
            )?;
        }
        self.field(
            bit_group(b0, 0x0f),
            format!("opcode = 0x{:X}", h.opcode.bits()),
            opcode_meaning(h.opcode),
        )
    }

    /// Byte 1: MASK, judged by who sent the frame, and the 7-bit length.
    fn byte1(&mut self, f: &Frame, b1: u8) -> io::Result<()> {
        let h = &f.header;
        self.byte_line(1, b1)?;
        let mask_meaning = match (f.dir, h.masked) {
            (Direction::ClientToServer, true) => "masked: clients must mask (§5.1, §5.3)",
            (Direction::ClientToServer, false) => "NOT masked: a client must mask (§5.1)",
            (Direction::ServerToClient, false) => "not masked: servers never mask (§5.1)",
            (Direction::ServerToClient, true) => "masked: a server must not mask (§5.1)",
        };
        self.field(
            bit_group(b1, 0x80),
            format!("MASK   = {}", u8::from(h.masked)),
            mask_meaning,
        )?;
        let len_meaning = match h.length_form {
            LengthForm::Short => "0-125: the payload length itself (§5.2)",
            LengthForm::Extended16 => "126: the length is in the next 2 bytes (§5.2)",
            LengthForm::Extended64 => "127: the length is in the next 8 bytes (§5.2)",
        };
        self.field(
            bit_group(b1, 0x7f),
            format!("length = {}", h.len7),
            len_meaning,
        )
    }

    /// The extended length (2 or 8 bytes, when the 7-bit length says so) and the masking key.
    fn extended_length_and_key(&mut self, h: &FrameHeader, hb: &[u8]) -> io::Result<()> {
        let (key_at, bits) = match h.length_form {
            LengthForm::Short => (2, 0),
            LengthForm::Extended16 => (4, 16),
            LengthForm::Extended64 => (10, 64),
        };
        if bits > 0 {
            self.put(
                &format!("   bytes 2-{} {}  ", key_at - 1, hex_spaced(&hb[2..key_at])),
                &format!(
                    "extended length = {} ({bits}-bit, network byte order)",
                    h.payload_len
                ),
            )?;
        }
        if let Some(key) = h.mask_key {
            self.put(
                &format!("   bytes {}-{} {}  ", key_at, key_at + 3, hex_spaced(&key)),
                "masking key: byte i is XORed with key[i mod 4] (§5.3)",
            )?;
        }
        Ok(())
    }

    /// After the payload: the close status and reason, a pong's round trip, bytes lost.
    fn frame_notes(&mut self, f: &Frame) -> io::Result<()> {
        if let Some(c) = &f.close {
            let text = match c.code {
                Some(code) => format!(
                    "status code {code} = {} (§7.4); reason {}",
                    close_code_name(code),
                    if c.reason_bytes.is_empty() {
                        "(none)".to_string()
                    } else {
                        quoted_bytes(&c.reason_bytes)
                    }
                ),
                None if f.header.payload_len == 0 => "no status code (empty payload; the peer sees 1005 No Status Rcvd, §7.1.5)".to_string(),
                None => format!("payload of {} byte: too short for the 2-byte status code, and a close payload is either empty or starts with one (§5.5.1)", f.header.payload_len),
            };
            self.labelled("close", &text)?;
        }
        if let Some(rtt) = f.rtt_ns {
            self.labelled(
                "pong",
                &format!(
                    "answers the ping with the same payload: round trip {:.3} ms (§5.5.3)",
                    rtt as f64 / 1e6
                ),
            )?;
        }
        if f.lost > 0 {
            let st = self.opts.style;
            self.put(
                "   ",
                &st.warn(&format!(
                    "{} payload bytes are missing from the capture",
                    f.lost
                )),
            )?;
        }
        Ok(())
    }

    fn payload(&mut self, f: &Frame) -> io::Result<()> {
        let st = self.opts.style;
        let h = &f.header;
        if h.payload_len == 0 {
            return self.labelled("payload", "(empty)");
        }
        // A frame cut short: only the bytes that arrived can be shown.
        let present = f.payload.len - f.missing;
        let (data, more) = elide(&f.payload.bytes, present, self.opts.payload_bytes);
        self.labelled(
            "payload",
            &format!(
                "{} byte{}{}",
                h.payload_len,
                if h.payload_len == 1 { "" } else { "s" },
                if h.masked { ", masked on the wire" } else { "" }
            ),
        )?;
        if f.missing > 0 {
            self.labelled(
                "",
                &st.warn(&format!(
                    "only {present} present: the bytes end {} short of this frame",
                    f.missing
                )),
            )?;
        }
        if f.starts_compressed_message() {
            self.labelled(
                "",
                "DEFLATE-compressed (RFC 7692 §7.2.1): the message below is this, inflated",
            )?;
        }
        let row = row_bytes(self.opts.width);
        for (i, chunk) in data.chunks(row).enumerate() {
            self.payload_row(i * row, chunk, h.mask_key)?;
        }
        if more > 0 {
            let from = data.len();
            self.put(
                &format!("   +{from:<6}    "),
                &format!("… {more} more bytes not shown (--full-payload shows them all)"),
            )?;
        }
        let whole_text = h.opcode == OpCode::Text
            && h.fin
            && !f.starts_compressed_message()
            && f.missing == 0
            && !f.payload.truncated();
        if let Some(text) = whole_text
            .then(|| std::str::from_utf8(&f.payload.bytes).ok())
            .flatten()
        {
            self.quoted_text(text, f.payload.len)?;
        }
        Ok(())
    }

    /// `   text      "…"`: a text payload, escaped, filling lines to the width; past four
    /// times the payload bytes a frame shows, the rest is counted.
    fn quoted_text(&mut self, text: &str, total: u64) -> io::Result<()> {
        let limit = self.opts.payload_bytes.saturating_mul(4);
        let bytes = text.as_bytes();
        let cut = char_floor(text, limit);
        let more = total.saturating_sub(cut as u64);
        let st = self.opts.style;
        for line in wrap_quoted("   text      ", &bytes[..cut], more, self.opts.width, LABEL) {
            writeln!(self.out, "{}", st.text(&line))?;
        }
        Ok(())
    }

    /// One row of payload bytes from offset `at`: unmasked data, or when masked, the bytes on
    /// the wire, the key bytes they were XORed with and the data, so the unmasking can be
    /// checked.
    fn payload_row(&mut self, at: usize, chunk: &[u8], key: Option<[u8; 4]>) -> io::Result<()> {
        let st = self.opts.style;
        let Some(key) = key else {
            return self.hex_and_text(&format!("   +{at:<6}    data   "), chunk);
        };
        let mut wire = chunk.to_vec();
        apply_mask(&mut wire, key, at as u64);
        let key_row: Vec<u8> = (0..chunk.len()).map(|i| key[(at + i) % 4]).collect();
        writeln!(
            self.out,
            "   +{at:<6}    masked {}",
            st.hex(&hex_spaced(&wire))
        )?;
        writeln!(
            self.out,
            "            ⊕ key    {}",
            st.dim(&hex_spaced(&key_row))
        )?;
        self.hex_and_text("            = data   ", chunk)
    }

    /// `prefix`, the bytes in hex and as quoted text; the text goes under the hex when the
    /// line would be too wide.
    fn hex_and_text(&mut self, prefix: &str, bytes: &[u8]) -> io::Result<()> {
        let st = self.opts.style;
        let hex = hex_spaced(bytes);
        let text = quoted_bytes(bytes);
        if display_width(prefix) + hex.len() + 2 + display_width(&text) <= self.opts.width {
            return writeln!(self.out, "{prefix}{}  {}", st.hex(&hex), st.text(&text));
        }
        writeln!(self.out, "{prefix}{}", st.hex(&hex))?;
        for line in wrap_quoted(&" ".repeat(ROW_TEXT), bytes, 0, self.opts.width, ROW_TEXT) {
            writeln!(self.out, "{}", st.text(&line))?;
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
        let heading = format!(
            "══ conn {} message {} {}: {} {} bytes ({how})",
            m.conn,
            m.index,
            m.dir.as_str(),
            m.opcode.name(),
            m.payload.len
        );
        for line in wrap_line(&heading, self.opts.width, 3) {
            writeln!(self.out, "{}", st.heading(&line))?;
        }
        // With holes, the kept bytes end at the first one: what follows is missing, not
        // merely left out, and is said so instead of counted.
        let holes = holes_note(m);
        let total = match holes {
            Some(_) => m.payload.bytes.len() as u64,
            None => m.payload.len,
        };
        match m.text() {
            // A text kept in part may end inside a character: `text()` stops before it.
            Some(t) => self.quoted_text(t, total)?,
            None => self.binary_rows(&m.payload.bytes, total)?,
        }
        if let Some(note) = holes {
            let why = "not in the capture; the bytes above end at the first hole";
            self.put("   ", &st.warn(&format!("{note} ({why})")))?;
        }
        self.fragments_of(m)?;
        if let Some(e) = &m.inflate_error {
            self.put("   ", &st.warn(&format!("inflation stopped: {e}")))?;
        }
        self.decoded(m)
    }

    /// What the message carries in its application protocol (docs/decoders.md), a line per
    /// packet, wrapped under the arrow.
    fn decoded(&mut self, m: &Message) -> io::Result<()> {
        let Some(d) = m.decoded.as_deref() else {
            return Ok(());
        };
        for unit in &d.units {
            let line = format!("   ↳ {}", unit_line(d.protocol, unit));
            for l in wrap_line(&line, self.opts.width, 5) {
                writeln!(self.out, "{}", self.opts.style.text(&l))?;
            }
        }
        Ok(())
    }

    /// A binary message as rows of hex and text, as many bytes as a frame shows.
    fn binary_rows(&mut self, kept: &[u8], total: u64) -> io::Result<()> {
        let (shown, more) = elide(kept, total, self.opts.payload_bytes);
        let row = row_bytes(self.opts.width);
        for (i, chunk) in shown.chunks(row).enumerate() {
            self.hex_and_text(&format!("   +{:<6}    ", i * row), chunk)?;
        }
        if more > 0 {
            self.labelled("", &format!("… {more} more bytes"))?;
        }
        Ok(())
    }

    /// A message of several frames: tshark's list of them, `#8(13) #9(14) #13(20)`.
    fn fragments_of(&mut self, m: &Message) -> io::Result<()> {
        let Some(state) = self.sessions.get_mut(&(m.conn, m.stream)) else {
            return Ok(());
        };
        let Some((_, frags)) = state.open[dir_index(m.dir)].take() else {
            return Ok(());
        };
        if m.fragments < 2 || frags.len() != m.fragments as usize {
            return Ok(());
        }
        let (what, list) = fragment_list(&frags);
        let mut words = vec![frags.len().to_string(), "frames,".to_string(), what + ":"];
        words.extend(list);
        for line in wrap("fragments", &words, self.opts.width) {
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    /// A diagnostic under its frame; a continuation goes under its severity.
    fn diagnostic(&mut self, d: &Diagnostic) -> io::Result<()> {
        let line = format!("   {}", diagnostic_line(self.opts.style, d, ""));
        for l in wrap_line(&line, self.opts.width, 5) {
            writeln!(self.out, "{l}")?;
        }
        Ok(())
    }
}

/// The column where a label's value starts (`   payload   …`).
const LABEL: usize = 13;

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
            Event::Handshake(h) => {
                writeln!(self.out)?;
                let parts = self.halves.of(h);
                write_taught(&mut self.out, h, parts, (self.opts.style, self.opts.width))?
            }
            // The conversation emits a frame's diagnostics right after it: they land under it.
            Event::Diagnostic(d) => self.diagnostic(d)?,
            other => {
                match other {
                    Event::ConnectionEnd(e) => self.sessions.retain(|k, _| k.0 != e.conn),
                    Event::StreamEnd(e) => {
                        self.sessions.remove(&(e.conn, Some(e.stream)));
                    }
                    _ => {}
                }
                write_context_wrapped(
                    &mut self.out,
                    other,
                    self.opts.style,
                    &mut |_| None,
                    // No time column here: a packet line goes on under its direction.
                    (self.opts.width, 10),
                )?
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(packet: u64, frame: u64, len: u64) -> Fragment {
        Fragment { packet, frame, len }
    }

    #[test]
    fn fragment_list_is_tsharks_or_numbers_frames_in_one_packet() {
        let (what, list) = fragment_list(&[frag(8, 1, 13), frag(9, 2, 14), frag(13, 4, 20)]);
        assert_eq!(what, "packet(payload bytes)");
        assert_eq!(list.join(" "), "#8(13) #9(14) #13(20)");
        let (what, list) = fragment_list(&[frag(1, 2, 5), frag(1, 4, 5)]);
        assert_eq!(what, "frame(payload bytes)");
        assert_eq!(list.join(" "), "2(5) 4(5)");
    }

    #[test]
    fn long_fragment_lists_wrap_within_80_columns() {
        let words: Vec<String> = (0..60).map(|i| format!("#{}({})", 1000 + i, i)).collect();
        let lines = wrap("fragments", &words, 80);
        assert!(lines.len() > 1);
        assert!(lines[0].starts_with("   fragments #1000(0) #1001(1)"));
        for line in &lines {
            assert!(line.chars().count() <= 80, "{line}");
        }
        assert!(lines[1].starts_with("             #"), "{}", lines[1]);
        let joined: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
        assert_eq!(joined.len(), 61);
    }

    #[test]
    fn notes_fit_80_columns() {
        for note in Note::ALL {
            for line in note.text() {
                assert!(13 + line.chars().count() <= 80, "{line}");
            }
        }
    }
}
