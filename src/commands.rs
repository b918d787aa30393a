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
