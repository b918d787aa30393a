//! The subcommands and small modes of the binary: `explain`, `accept`, `completions`, `man`,
//! `--list-interfaces`.

use std::fmt;
use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::CommandFactory;

use wsdissect::base::Direction;
use wsdissect::conversation::{dissect_raw_frames, DissectConfig};
use wsdissect::event::Event;
use wsdissect::http::{check_key, compute_accept, parse_extensions, KeyShape};
use wsdissect::output::annotate::{AnnotateOptions, AnnotateSink};
use wsdissect::output::escape::hex_spaced;
use wsdissect::output::style::{ColorChoice, Style};
use wsdissect::output::Sink;
use wsdissect::ws::decoder::Incomplete;
use wsdissect::ws::deflate::DeflateParams;
use wsdissect::ws::frame::{decode_frame_header, HeaderDecode};

use crate::cli::{Args, Color, Command, Side};

/// Run a subcommand.
pub fn run(command: Command, color: Color) -> ExitCode {
    match command {
        Command::Explain {
            hex,
            from,
            deflate,
            diagram,
        } => explain(&hex, from, deflate.as_deref(), diagram, color.into()),
        Command::Accept { key } => accept(&key),
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
    }
}

/// Write `bytes` to standard output: a reader that closes the pipe early (`| head`) is a
/// normal end, as for the capture views.
fn print(bytes: &[u8]) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => crate::fail(format!("cannot write output: {e}")),
    }
}

/// Shell completions, generated from the clap definitions (docs/completions keeps a copy).
fn completions(shell: clap_complete::Shell) -> ExitCode {
    print(completion_script(shell).as_bytes())
}

/// The completion script for `shell`; `-i`/`--interface` completes the interfaces there are
/// (bash: the ones `wsdissect -D` lists; zsh and fish: their own interface lists).
pub fn completion_script(shell: clap_complete::Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "wsdissect", &mut script);
    let script = String::from_utf8(script).expect("clap_complete writes UTF-8");
    let (from, to) = match shell {
        clap_complete::Shell::Bash => (
            "                --interface)\n                    COMPREPLY=($(compgen -f \"${cur}\"))\n                    return 0\n                    ;;\n                -i)\n                    COMPREPLY=($(compgen -f \"${cur}\"))",
            "                --interface|-i)\n                    COMPREPLY=($(compgen -W \"$(\"${1}\" -D 2>/dev/null | sed -e 's/^[0-9]*\\. //' -e 's/ .*//')\" -- \"${cur}\"))",
        ),
        clap_complete::Shell::Zsh => (
            "interface instead of reading a file]:IFACE:_default",
            "interface instead of reading a file]:IFACE:_net_interfaces",
        ),
        clap_complete::Shell::Fish => (
            "-s i -l interface -d 'Capture live from this interface instead of reading a file' -r",
            "-s i -l interface -d 'Capture live from this interface instead of reading a file' -r -f -a \"(__fish_print_interfaces)\"",
        ),
        _ => return script,
    };
    debug_assert!(script.contains(from), "the {shell} script changed shape");
    script.replace(from, to)
}

/// The man page (roff), generated from the clap definitions (docs/man keeps a copy).
fn man() -> ExitCode {
    match man_page() {
        Ok(page) => print(&page),
        Err(e) => crate::fail(e),
    }
}

/// Roff text: `-` as a minus (options), `\` escaped, a leading `.` or `'` kept as text.
fn roff(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// The man page: clap_mangen's title, name, synopsis, description and options, then the
/// subcommands in this page (there are no separate pages for them), examples and exit status.
pub fn man_page() -> io::Result<Vec<u8>> {
    let cmd = Args::command()
        .after_long_help(None::<&str>)
        .disable_help_subcommand(true);
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    writeln!(page, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands() {
        let mut usage = format!("\\fBwsdissect {}\\fR", sub.get_name());
        for arg in sub.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let values = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect::<Vec<_>>()
                .join("|");
            let value = arg
                .get_value_names()
                .and_then(|n| n.first())
                .map(|n| n.to_string())
                .unwrap_or_else(|| id.to_uppercase());
            let value = if values.is_empty() { value } else { values };
            let many = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
            match arg.get_long() {
                // A flag (`--diagram`) takes no value.
                Some(long) if !arg.get_action().takes_values() => {
                    usage.push_str(&format!(" [\\fB\\-\\-{}\\fR]", roff(long)))
                }
                Some(long) => usage.push_str(&format!(
                    " [\\fB\\-\\-{}\\fR \\fI{}\\fR]",
                    roff(long),
                    roff(&value)
                )),
                None if arg.is_required_set() => {
                    usage.push_str(&format!(" \\fI{}\\fR", roff(&value)))
                }
                None => usage.push_str(&format!(
                    " [\\fI{}\\fR]{}",
                    roff(&value),
                    if many { "..." } else { "" }
                )),
            }
        }
        writeln!(page, ".TP\n{usage}")?;
        if let Some(about) = sub.get_about() {
            writeln!(page, "{}", roff(&about.to_string()))?;
        }
    }
    writeln!(page, ".SH EXAMPLES")?;
    for (command, what) in crate::cli::EXAMPLES {
        writeln!(page, ".TP\n\\fB{}\\fR\n{}", roff(command), roff(what))?;
    }
    writeln!(
        page,
        ".SH \"EXIT STATUS\"\n{}",
        roff(crate::cli::EXIT_STATUS)
    )?;
    man.render_version_section(&mut page)?;
    // Each clap_mangen section starts with the same two string definitions: keep the first.
    let text = String::from_utf8(page).expect("roff is UTF-8");
    let mut seen = Vec::new();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with(".ie ") || line.starts_with(".el ") {
            if seen.contains(&line) {
                continue;
            }
            seen.push(line);
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out.into_bytes())
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

/// Bytes of the input, and who sent them when the input says so (`c:` / `s:`).
#[derive(Debug, PartialEq)]
struct Part {
    side: Option<Direction>,
    bytes: Vec<u8>,
}

/// A `c:` / `s:` (or `client:` / `server:`) mark at the start of a token: the side, and the
/// rest of the token.
fn side_mark(token: &str) -> Option<(Direction, &str)> {
    let (name, rest) = token.split_once(':')?;
    match name.to_ascii_lowercase().as_str() {
        "c" | "client" => Some((Direction::ClientToServer, rest)),
        "s" | "server" => Some((Direction::ServerToClient, rest)),
        _ => None,
    }
}

/// Hex digits from arguments or text: spaces, commas, colons and `0x` prefixes are ignored;
/// `c:` or `s:` starts bytes sent by the client or the server.
fn parse_hex(parts: &[String]) -> Result<Vec<Part>, HexError> {
    let joined: String = parts.join(" ");
    let mut marked: Vec<(Option<Direction>, String)> = vec![(None, String::new())];
    for word in joined.split_whitespace() {
        let word = match side_mark(word) {
            Some((side, rest)) => {
                marked.push((Some(side), String::new()));
                rest
            }
            None => word,
        };
        let digits = &mut marked.last_mut().expect("never empty").1;
        for token in word.split([',', ':']) {
            let t = token
                .strip_prefix("0x")
                .or_else(|| token.strip_prefix("0X"))
                .unwrap_or(token);
            digits.push_str(t);
        }
    }
    let mut out = Vec::new();
    for (side, digits) in marked {
        if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(HexError::NotHex(bad));
        }
        if digits.len() % 2 == 1 {
            return Err(HexError::OddDigits(digits.len()));
        }
        let bytes: Vec<u8> = (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("checked hex"))
            .collect();
        if !bytes.is_empty() {
            out.push(Part { side, bytes });
        }
    }
    Ok(out)
}

/// The bytes to explain: from the arguments, or standard input when there are none.
fn explain_input(hex: &[String]) -> Result<Vec<Part>, HexError> {
    let parts = if hex.is_empty() {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .map_err(HexError::Stdin)?;
        parse_hex(&[s])?
    } else {
        parse_hex(hex)?
    };
    if parts.is_empty() {
        return Err(HexError::Empty);
    }
    Ok(parts)
}

/// Who sent each piece of the input, and how that was decided.
#[derive(Debug, Default, PartialEq)]
struct Senders {
    pieces: Vec<(Direction, Vec<u8>)>,
    /// Pieces named by a `c:` / `s:` mark.
    marked: usize,
    /// Pieces given a side by `--from`.
    from_flag: usize,
    /// Frames whose sender was taken from their MASK bit.
    inferred: usize,
}

/// A side for every byte: the piece's mark, else `--from`, else each frame's MASK bit
/// (clients mask, servers do not, §5.1).
fn senders(parts: Vec<Part>, from: Option<Side>) -> Senders {
    let from = from.map(|s| match s {
        Side::Client => Direction::ClientToServer,
        Side::Server => Direction::ServerToClient,
    });
    let mut out = Senders::default();
    for part in parts {
        if let Some(side) = part.side {
            out.marked += 1;
            out.pieces.push((side, part.bytes));
            continue;
        }
        if let Some(side) = from {
            out.from_flag += 1;
            out.pieces.push((side, part.bytes));
            continue;
        }
        let mut rest = &part.bytes[..];
        while !rest.is_empty() {
            let len = match decode_frame_header(rest) {
                HeaderDecode::Complete(h) => {
                    (u64::from(h.header_len) + h.payload_len).min(rest.len() as u64) as usize
                }
                HeaderDecode::NeedMore(_) => rest.len(),
            };
            let masked = rest.len() > 1 && rest[1] & 0x80 != 0;
            let side = if masked {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            };
            out.inferred += 1;
            out.pieces.push((side, rest[..len].to_vec()));
            rest = &rest[len..];
        }
    }
    out
}

/// `--deflate[=PARAMS]`: the permessage-deflate parameters a handshake would have agreed.
fn deflate_params(params: &str) -> Result<DeflateParams, String> {
    let ext = parse_extensions(&format!("permessage-deflate; {}", params.replace(',', ";")));
    let ext = ext.into_iter().next().expect("the name is there");
    const KNOWN: [&str; 4] = [
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    ];
    if let Some((name, _)) = ext
        .params
        .iter()
        .find(|(n, _)| !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(n)))
    {
        return Err(format!(
            "--deflate: unknown permessage-deflate parameter {name:?} (RFC 7692 §7.1: {})",
            KNOWN.join(", ")
        ));
    }
    Ok(DeflateParams::from_extension(&ext))
}

fn explain(
    hex: &[String],
    from: Option<Side>,
    deflate: Option<&str>,
    diagram: bool,
    color: ColorChoice,
) -> ExitCode {
    let parts = match explain_input(hex) {
        Ok(b) => b,
        Err(e) => return crate::fail(e),
    };
    let deflate = match deflate.map(deflate_params).transpose() {
        Ok(d) => d,
        Err(e) => return crate::fail(e),
    };
    let senders = senders(parts, from);
    let stdout = io::stdout();
    let style = color.resolve(stdout.is_terminal());
    let written = write_explanation(&mut stdout.lock(), &senders, deflate, diagram, style);
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => crate::fail(e),
    }
}

/// How the senders were chosen, in a sentence.
fn describe_senders(s: &Senders) -> String {
    let total: usize = s.pieces.iter().map(|(_, b)| b.len()).sum();
    let mut how = Vec::new();
    if s.marked > 0 {
        how.push("the bytes after c: were sent by the client, after s: by the server".to_string());
    }
    if s.from_flag > 0 {
        let sides: Vec<Direction> = s.pieces.iter().map(|(d, _)| *d).collect();
        let who = if s.marked == 0 && sides.iter().all(|d| *d == Direction::ClientToServer) {
            "a client (masked frames expected)"
        } else if s.marked == 0 {
            "a server (unmasked frames expected)"
        } else {
            "the side --from names"
        };
        how.push(format!("read as sent by {who}"));
    }
    if s.inferred > 0 {
        how.push(format!(
            "sender inferred from the MASK bit (clients mask, servers do not, §5.1)\n  so masking is not checked on {}: put c: or s: before a frame, or use --from, to check it",
            if s.inferred == 1 { "this frame".to_string() } else { format!("these {} frames", s.inferred) }
        ));
    }
    format!("{total} bytes, {}", how.join("; "))
}

/// What the bytes are read as, every frame in the teaching view, and why they end mid-frame
/// if they do.
fn write_explanation(
    out: &mut dyn Write,
    senders: &Senders,
    deflate: Option<DeflateParams>,
    diagram: bool,
    style: Style,
) -> io::Result<()> {
    let cfg = DissectConfig {
        frame_keep: 1 << 20,
        message_keep: 1 << 20,
        ..DissectConfig::default()
    };
    let pieces: Vec<(Direction, &[u8])> = senders
        .pieces
        .iter()
        .map(|(d, b)| (*d, b.as_slice()))
        .collect();
    let negotiated = deflate.is_some().then_some(
        "permessage-deflate negotiated (--deflate): RSV1 on a message's first frame marks it compressed, and it is inflated (RFC 7692)",
    );
    let raw = dissect_raw_frames(&pieces, deflate, cfg);
    let rsv1_seen = raw
        .events
        .iter()
        .any(|e| matches!(e, Event::Frame(f) if f.header.rsv1));
    let negotiated = negotiated.or(rsv1_seen.then_some(
        "no extension negotiated, so RSV1 must be 0 (--deflate reads it as permessage-deflate's compressed-message bit)",
    ));
    writeln!(out, "{}", describe_senders(senders))?;
    if let Some(n) = negotiated {
        writeln!(out, "{n}")?;
    }
    let mut sink = AnnotateSink::new(
        &mut *out,
        AnnotateOptions {
            payload_bytes: usize::MAX,
            style,
            diagram,
        },
    );
    for e in &raw.events {
        sink.event(e)?;
    }
    for (_, inc) in &raw.incomplete {
        writeln!(out, "\n{}", describe_incomplete(inc))?;
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
            let mut text = String::new();
            for (i, (name, desc)) in list.iter().enumerate() {
                text.push_str(&format!("{}. {name}", i + 1));
                if !desc.is_empty() {
                    text.push_str(&format!(" ({desc})"));
                }
                text.push('\n');
            }
            print(text.as_bytes())
        }
        Err(e) => crate::fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(side: Option<Direction>, bytes: &[u8]) -> Part {
        Part {
            side,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn c_and_s_marks_name_the_sender() {
        let args: Vec<String> = ["c:", "89", "00", "S:8a", "80,00:00", "0x00", "00", "c1"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            parse_hex(&args).unwrap(),
            [
                part(Some(Direction::ClientToServer), &[0x89, 0x00]),
                part(
                    Some(Direction::ServerToClient),
                    &[0x8a, 0x80, 0, 0, 0, 0, 0xc1]
                ),
            ]
        );
        // A hex byte that happens to start with c is not a mark.
        assert_eq!(
            parse_hex(&["c1:05".to_string()]).unwrap(),
            [part(None, &[0xc1, 0x05])]
        );
    }

    #[test]
    fn unmarked_frames_take_their_sender_from_the_mask_bit() {
        let rfc = [
            0x89, 0x05, b'H', b'e', b'l', b'l', b'o', 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
            0x9f, 0x4d, 0x51, 0x58,
        ];
        let s = senders(vec![part(None, &rfc)], None);
        assert_eq!(s.inferred, 2);
        let sides: Vec<Direction> = s.pieces.iter().map(|(d, _)| *d).collect();
        assert_eq!(
            sides,
            [Direction::ServerToClient, Direction::ClientToServer]
        );
        assert_eq!(s.pieces[0].1.len(), 7);
        let s = senders(vec![part(None, &rfc)], Some(Side::Client));
        assert_eq!((s.inferred, s.from_flag, s.pieces.len()), (0, 1, 1));
    }
}
