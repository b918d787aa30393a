//! The subcommands and small modes of the binary: `explain`, `accept`, `completions`, `man`,
//! `--list-interfaces`.

use std::fmt;
use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::CommandFactory;

use wsdissect::base::Direction;
use wsdissect::conversation::{dissect_raw_frames, DissectConfig};
use wsdissect::http::{check_key, compute_accept, KeyShape};
use wsdissect::output::annotate::{AnnotateOptions, AnnotateSink};
use wsdissect::output::escape::hex_spaced;
use wsdissect::output::style::{ColorChoice, Style};
use wsdissect::output::Sink;
use wsdissect::ws::decoder::Incomplete;
use wsdissect::ws::frame::{decode_frame_header, HeaderDecode};

use crate::cli::{Args, Color, Command, Side};

/// Run a subcommand.
pub fn run(command: Command, color: Color) -> ExitCode {
    match command {
        Command::Explain { hex, from } => explain(&hex, from, color.into()),
        Command::Accept { key } => accept(&key),
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
    }
}

/// Shell completions, generated from the clap definitions (docs/completions keeps a copy).
fn completions(shell: clap_complete::Shell) -> ExitCode {
    clap_complete::generate(shell, &mut Args::command(), "wsdissect", &mut io::stdout());
    ExitCode::SUCCESS
}

/// The man page (roff), generated from the clap definitions (docs/man keeps a copy).
fn man() -> ExitCode {
    match clap_mangen::Man::new(Args::command()).render(&mut io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::fail(e),
    }
}

/// Why `explain` has no bytes to explain.
#[derive(Debug)]
enum HexError {
    Stdin(io::Error),
    NotHex(char),
    OddDigits(usize),
    Empty,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::Stdin(e) => write!(f, "cannot read standard input: {e}"),
            HexError::NotHex(c) => write!(f, "not a hex digit: {c:?}"),
            HexError::OddDigits(n) => write!(
                f,
                "odd number of hex digits ({n}): each byte is two digits"
            ),
            HexError::Empty => f.write_str(
                "no bytes to explain (give hex, e.g. `wsdissect explain 81 85 37 fa 21 3d 7f 9f 4d 51 58`)",
            ),
        }
    }
}

/// Hex digits from arguments or text: spaces, commas, colons and `0x` prefixes are ignored.
fn parse_hex(parts: &[String]) -> Result<Vec<u8>, HexError> {
    let joined: String = parts.join(" ");
    let mut digits = String::new();
    for token in joined.split(|c: char| c.is_whitespace() || c == ',' || c == ':') {
        let t = token
            .strip_prefix("0x")
            .or_else(|| token.strip_prefix("0X"))
            .unwrap_or(token);
        digits.push_str(t);
    }
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(HexError::NotHex(bad));
    }
    if digits.len() % 2 == 1 {
        return Err(HexError::OddDigits(digits.len()));
    }
    Ok((0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("checked hex"))
        .collect())
}

/// The bytes to explain: from the arguments, or standard input when there are none.
fn explain_input(hex: &[String]) -> Result<Vec<u8>, HexError> {
    let bytes = if hex.is_empty() {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .map_err(HexError::Stdin)?;
        parse_hex(&[s])?
    } else {
        parse_hex(hex)?
    };
    if bytes.is_empty() {
        return Err(HexError::Empty);
    }
    Ok(bytes)
}

/// Who sent the bytes: `--from`, else the first frame's MASK bit (clients mask, §5.1).
fn sender(from: Option<Side>, bytes: &[u8]) -> Direction {
    match from {
        Some(Side::Client) => Direction::ClientToServer,
        Some(Side::Server) => Direction::ServerToClient,
        None if bytes.len() > 1 && bytes[1] & 0x80 != 0 => Direction::ClientToServer,
        None => Direction::ServerToClient,
    }
}

fn explain(hex: &[String], from: Option<Side>, color: ColorChoice) -> ExitCode {
    let bytes = match explain_input(hex) {
        Ok(b) => b,
        Err(e) => return crate::fail(e),
    };
    let dir = sender(from, &bytes);
    let stdout = io::stdout();
    let style = color.resolve(stdout.is_terminal());
    let written = write_explanation(&mut stdout.lock(), &bytes, dir, from.is_none(), style);
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => crate::fail(e),
    }
}

/// What the bytes are read as, every frame in the teaching view, and why they end mid-frame
/// if they do.
fn write_explanation(
    out: &mut dyn Write,
    bytes: &[u8],
    dir: Direction,
    guessed: bool,
    style: Style,
) -> io::Result<()> {
    let cfg = DissectConfig {
        frame_keep: 1 << 20,
        message_keep: 1 << 20,
        ..DissectConfig::default()
    };
    let raw = dissect_raw_frames(bytes, dir, cfg);
    let who = if dir == Direction::ClientToServer {
        "a client (masked frames expected)"
    } else {
        "a server (unmasked frames expected)"
    };
    writeln!(
        out,
        "{} bytes, read as sent by {who}{}",
        bytes.len(),
        if guessed {
            "; --from client|server to choose"
        } else {
            ""
        }
    )?;
    let mut sink = AnnotateSink::new(
        &mut *out,
        AnnotateOptions {
            payload_bytes: usize::MAX,
            style,
        },
    );
    for e in &raw.events {
        sink.event(e)?;
    }
    if let Some(inc) = raw.incomplete {
        writeln!(out, "\n{}", describe_incomplete(&inc))?;
    }
    Ok(())
}

/// Why the bytes end mid-frame, and exactly how many more are needed.
fn describe_incomplete(inc: &Incomplete) -> String {
    match *inc {
        Incomplete::Header { stream_offset, have, need, bytes } => {
            let got = &bytes[..have];
            let why = if have < 2 {
                "the first 2 header bytes hold FIN, RSV, opcode, MASK and the 7-bit length".to_string()
            } else {
                let b1 = got[1];
                let ext = match b1 & 0x7f {
                    126 => "2 bytes of 16-bit length",
                    127 => "8 bytes of 64-bit length",
                    _ => "no extended length",
                };
                let mask = if b1 & 0x80 != 0 { " and 4 bytes of masking key" } else { "" };
                format!("length field {} means {ext}{mask}", b1 & 0x7f)
            };
            debug_assert!(matches!(decode_frame_header(got), HeaderDecode::NeedMore(_)));
            format!("incomplete frame at byte {stream_offset}: header has {have} byte(s) ({}); {need} more needed: {why}", hex_spaced(got))
        }
        Incomplete::Payload { stream_offset, have, need, header } => format!(
            "incomplete frame at byte {stream_offset}: {} header says {} payload bytes, {have} present: {need} more needed",
            header.opcode, header.payload_len
        ),
    }
}

fn accept(key: &str) -> ExitCode {
    let steps = compute_accept(key);
    let mut out = io::stdout().lock();
    let key_note = match check_key(key) {
        KeyShape::Valid => "base64 of 16 bytes, as RFC 6455 §4.1 requires".to_string(),
        KeyShape::WrongLength(n) => format!("decodes to {n} bytes: RFC 6455 §4.1 requires 16"),
        KeyShape::NotBase64 => {
            "not valid base64: RFC 6455 §4.1 requires base64 of 16 random bytes".to_string()
        }
    };
    let text = format!(
        "Sec-WebSocket-Key     {key}   ({key_note})\n\
         1. append the GUID    {}\n\
         2. SHA-1 of that      {}\n\
         3. base64 of the hash {}\n\
         Sec-WebSocket-Accept: {}   (RFC 6455 §4.2.2, step 5.4)\n",
        steps.concatenated,
        hex_spaced(&steps.sha1),
        steps.accept,
        steps.accept,
        key = key.trim()
    );
    match out.write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::SUCCESS,
    }
}

pub fn list_interfaces() -> ExitCode {
    match wsdissect::capture::live::list_interfaces() {
        Ok(list) => {
            for (i, (name, desc)) in list.iter().enumerate() {
                println!(
                    "{}. {name}{}",
                    i + 1,
                    if desc.is_empty() {
                        String::new()
                    } else {
                        format!(" ({desc})")
                    }
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => crate::fail(e),
    }
}
