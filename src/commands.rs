//! The subcommands and small modes of the binary: `explain`, `report`, `accept`, `completions`, `man`,
//! `--list-interfaces`.

use std::fmt;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;

use wsdissect::base::Direction;
use wsdissect::base::{ConnId, Diagnostic};
use wsdissect::capture::merge;
use wsdissect::conversation::{dissect_raw_frames, DissectConfig};
use wsdissect::event::Event;
use wsdissect::event::Handshake;
use wsdissect::http::{
    check_key, compute_accept, parse_extensions, read_pasted, KeyShape, LineEnds, PastedHandshake,
    WEBSOCKET_GUID,
};
use wsdissect::output::annotate::{AnnotateOptions, AnnotateSink};
use wsdissect::output::escape::hex_spaced;
use wsdissect::output::fit::{output_width, wrap};
use wsdissect::output::handshake::{Halves, Parts};
use wsdissect::output::report::{ReportOptions, ReportSink};
use wsdissect::output::style::{ColorChoice, Style};
use wsdissect::output::Sink;
use wsdissect::ws::decoder::Incomplete;
use wsdissect::ws::deflate::DeflateParams;
use wsdissect::ws::frame::{decode_frame_header, HeaderDecode};
use wsdissect::{RunError, RunLimits};

use crate::cli::{Args, Color, Command, Side};

/// Run a subcommand.
pub fn run(command: Command, color: Color) -> ExitCode {
    match command {
        Command::Explain {
            hex, http: true, ..
        } => explain_http(&hex, color.into()),
        Command::Explain {
            hex,
            from,
            deflate,
            diagram,
            max_payload,
            full_payload,
            no_notes,
            http: false,
        } => {
            let drawing = Drawing {
                diagram,
                notes: !no_notes,
                payload_bytes: if full_payload {
                    usize::MAX
                } else {
                    max_payload
                },
                color: color.into(),
            };
            explain(&hex, from, deflate.as_deref(), drawing)
        }
        Command::Report {
            capture,
            output,
            max_frames,
            tls_keylog,
            ws_port,
            threads,
        } => report(
            &capture,
            &output,
            ReportRun {
                max_frames,
                tls_keylog,
                ws_ports: ws_port,
                threads: wsdissect::threads::resolve(threads, false),
            },
        ),
        Command::Accept { key } => accept(&key),
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
    }
}

/// What `report` reads besides the captures.
struct ReportRun {
    max_frames: u64,
    tls_keylog: Option<PathBuf>,
    ws_ports: Vec<u16>,
    threads: wsdissect::threads::Threads,
}

/// `wsdissect report`: dissect the captures into the HTML page, then write it (`-`: standard
/// output). The page is written whole at the end, so a run that fails leaves no half page; a
/// capture that breaks off part-way still gets its page (exit 1, as for the other views).
fn report(captures: &[PathBuf], output: &Path, run: ReportRun) -> ExitCode {
    let (mut source, notes) = match merge::open(captures) {
        Ok(opened) => opened,
        Err(e) => return crate::fail(e),
    };
    for note in notes {
        eprintln!("wsdissect: {note}");
    }
    let options = ReportOptions {
        captures: captures.iter().map(|p| p.display().to_string()).collect(),
        max_frames: usize::try_from(run.max_frames).unwrap_or(usize::MAX),
    };
    let cfg = DissectConfig {
        tls_keylog: run.tls_keylog,
        ws_ports: run.ws_ports,
        ..DissectConfig::default()
    };
    let mut sink = ReportSink::new(Vec::new(), options);
    let limits = RunLimits {
        threads: run.threads,
        ..RunLimits::default()
    };
    let result = wsdissect::dissect_with(source.as_mut(), cfg, limits, &mut sink);
    let page_made = match &result {
        Ok(_) => true,
        Err(RunError::Capture(e)) => e.is_partial(),
        Err(RunError::Output(_)) => false,
    };
    if page_made {
        let page = sink.into_inner();
        let written = if output == Path::new("-") {
            let mut out = io::stdout().lock();
            out.write_all(&page).and_then(|()| out.flush())
        } else {
            std::fs::write(output, &page)
        };
        match written {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) => return crate::fail(format!("cannot write {}: {e}", output.display())),
            Ok(()) if output != Path::new("-") => {
                eprintln!(
                    "wsdissect: wrote {} ({} KiB)",
                    output.display(),
                    page.len().div_ceil(1024)
                );
            }
            Ok(()) => {}
        }
    }
    crate::exit_code(result)
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
                // A required option (`report -o FILE`) is not in brackets.
                Some(long) if arg.is_required_set() => usage.push_str(&format!(
                    " \\fB\\-\\-{}\\fR \\fI{}\\fR",
                    roff(long),
                    roff(&value)
                )),
                Some(long) => usage.push_str(&format!(
                    " [\\fB\\-\\-{}\\fR \\fI{}\\fR]",
                    roff(long),
                    roff(&value)
                )),
                None if arg.is_required_set() => usage.push_str(&format!(
                    " \\fI{}\\fR{}",
                    roff(&value),
                    if many { "..." } else { "" }
                )),
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
    /// Something unparseable, with where it is: line and column (1-based, in characters) of
    /// the input (the arguments joined by spaces, or standard input) and a few characters of it.
    At {
        line: usize,
        column: usize,
        near: String,
        what: String,
    },
    Empty,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::Stdin(e) => write!(f, "cannot read standard input: {e}"),
            HexError::At {
                line,
                column,
                near,
                what,
            } => write!(f, "{what}, at line {line}, column {column}: {near:?}"),
            HexError::Empty => f.write_str(
                "no bytes to explain (give hex, e.g. `wsdissect explain 81 85 37 fa 21 3d 7f 9f 4d 51 58`)",
            ),
        }
    }
}

/// An error at byte index `at` of `text`.
fn error_at(text: &str, at: usize, what: impl Into<String>) -> HexError {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let near: String = text[at..]
        .chars()
        .take_while(|c| *c != '\n')
        .take(16)
        .collect();
    HexError::At {
        line,
        column,
        near,
        what: what.into(),
    }
}

/// Bytes of the input, and who sent them when the input says so (`c:` / `s:`).
#[derive(Debug, PartialEq)]
struct Part {
    side: Option<Direction>,
    bytes: Vec<u8>,
}

/// What the pasted bytes were written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PasteFormat {
    /// `81 05 48`, `810548`, `81:05:48`, `0x81, 0x05`.
    Hex,
    /// `\x81\x05`.
    Escapes,
    /// `{0x81, 0x05}`, `unsigned char x[] = {…};`.
    CArray,
    /// `b'\x81\x05Hello'`.
    Python,
    /// Wireshark's "Copy as Hex Dump": `0000   81 05 48 …   ..H`.
    Wireshark,
    /// `xxd`: `00000000: 8105 4865  ..He`.
    Xxd,
    /// `hexdump -C`: `00000000  81 05 48  |..H|`.
    Hexdump,
}

impl PasteFormat {
    /// How the explanation's first line names it; plain hex goes unsaid.
    fn name(self) -> Option<&'static str> {
        match self {
            PasteFormat::Hex => None,
            PasteFormat::Escapes => Some("\\x escapes"),
            PasteFormat::CArray => Some("a C array"),
            PasteFormat::Python => Some("a Python bytes literal"),
            PasteFormat::Wireshark => Some("a Wireshark hex dump"),
            PasteFormat::Xxd => Some("an xxd dump"),
            PasteFormat::Hexdump => Some("a hexdump -C dump"),
        }
    }
}

/// The input's bytes, in parts by sender mark, and the format they were read from.
#[derive(Debug, PartialEq)]
struct Pasted {
    format: PasteFormat,
    parts: Vec<Part>,
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

/// A side mark starting at byte `i` of `text` (which must start a word): the side and the
/// mark's length.
fn mark_at(text: &str, i: usize) -> Option<(Direction, usize)> {
    if i > 0 && !text[..i].ends_with(|c: char| c.is_whitespace() || c == ';' || c == ')') {
        return None;
    }
    let rest = &text[i..];
    for (name, side) in [
        ("client:", Direction::ClientToServer),
        ("server:", Direction::ServerToClient),
        ("c:", Direction::ClientToServer),
        ("s:", Direction::ServerToClient),
    ] {
        if rest
            .get(..name.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(name))
        {
            return Some((side, name.len()));
        }
    }
    None
}

/// Words of `text` split at whitespace, with their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_whitespace()
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

/// Parts under construction: a new one starts at each side mark.
struct Builder {
    parts: Vec<Part>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            parts: vec![Part {
                side: None,
                bytes: Vec::new(),
            }],
        }
    }
    fn mark(&mut self, side: Direction) {
        self.parts.push(Part {
            side: Some(side),
            bytes: Vec::new(),
        });
    }
    fn push(&mut self, b: u8) {
        self.parts.last_mut().expect("never empty").bytes.push(b);
    }
    fn len(&self) -> usize {
        self.parts.last().expect("never empty").bytes.len()
    }
    fn finish(self, format: PasteFormat) -> Pasted {
        Pasted {
            format,
            parts: self
                .parts
                .into_iter()
                .filter(|p| !p.bytes.is_empty())
                .collect(),
        }
    }
}

/// The bytes in pasted text: plain hex, `\x` escapes, a C array, a Python bytes literal,
/// or a Wireshark / xxd / `hexdump -C` dump, told apart by their look. `c:` or `s:` starts
/// bytes sent by the client or the server.
fn parse_hex(parts: &[String]) -> Result<Pasted, HexError> {
    let text = parts.join(" ");
    if let Some(format) = dump_format(&text) {
        parse_dump(&text, format)
    } else if looks_like_python(&text) {
        parse_python(&text)
    } else if text.contains('{') {
        parse_c_array(&text)
    } else {
        parse_plain(&text)
    }
}

/// Plain hex: spaces, commas, colons and semicolons are ignored, bare digits pair up across
/// them (`8105 48`), and `0x81` / `\x81` are one byte each.
fn parse_plain(text: &str) -> Result<Pasted, HexError> {
    let mut out = Builder::new();
    let mut format = PasteFormat::Hex;
    // A bare digit waiting for its pair, and where it was.
    let mut half: Option<(u8, usize)> = None;
    let unpaired = |at: usize| {
        error_at(
            text,
            at,
            "odd number of hex digits: this one has no pair (each byte is two digits)",
        )
    };
    for (at, word) in words(text) {
        let (mut at, mut word) = (at, word);
        if let Some((side, rest)) = side_mark(word) {
            if let Some((_, p)) = half.take() {
                return Err(unpaired(p));
            }
            out.mark(side);
            at += word.len() - rest.len();
            word = rest;
        }
        let mut i = 0;
        let bytes = word.as_bytes();
        while i < bytes.len() {
            let here = at + i;
            let c = bytes[i];
            if matches!(c, b',' | b':' | b';') {
                i += 1;
                continue;
            }
            let prefixed = (c == b'0' && matches!(bytes.get(i + 1), Some(b'x' | b'X')))
                || (c == b'\\' && bytes.get(i + 1) == Some(&b'x'));
            if prefixed {
                if let Some((_, p)) = half.take() {
                    return Err(unpaired(p));
                }
                let n = bytes[i + 2..]
                    .iter()
                    .take(2)
                    .take_while(|b| b.is_ascii_hexdigit())
                    .count();
                let escape = c == b'\\';
                if n == 0 || (escape && n < 2) {
                    return Err(error_at(
                        text,
                        here,
                        format!(
                            "{} must be followed by two hex digits",
                            if escape { "\\x" } else { "0x" }
                        ),
                    ));
                }
                if escape {
                    format = PasteFormat::Escapes;
                }
                let digits = &word[i + 2..i + 2 + n];
                out.push(u8::from_str_radix(digits, 16).expect("checked hex"));
                i += 2 + n;
                if !escape && bytes.get(i).is_some_and(|b| b.is_ascii_hexdigit()) {
                    return Err(error_at(
                        text,
                        here,
                        "a 0x number longer than one byte: write 0x81, 0x05",
                    ));
                }
                continue;
            }
            let Some(d) = (c as char).to_digit(16) else {
                let bad = word[i..].chars().next().expect("in the word");
                return Err(error_at(text, here, format!("not a hex digit: {bad:?}")));
            };
            match half.take() {
                Some((h, _)) => out.push(h << 4 | d as u8),
                None => half = Some((d as u8, here)),
            }
            i += 1;
        }
    }
    if let Some((_, p)) = half {
        return Err(unpaired(p));
    }
    Ok(out.finish(format))
}

/// Whether the text holds a Python bytes literal (`b'…'`, `b"…"`, `rb'…'`).
fn looks_like_python(text: &str) -> bool {
    literal_prefix(text, 0).is_some()
        || text.char_indices().any(|(i, c)| {
            (c.is_whitespace() || "(+=:,".contains(c))
                && literal_prefix(text, i + c.len_utf8()).is_some()
        })
}

/// A bytes-literal prefix at byte `i` (`b`, `B`, `rb`, `br`…) followed by a quote: whether it
/// is raw, and the prefix's length.
fn literal_prefix(text: &str, i: usize) -> Option<(bool, usize)> {
    let rest = text.get(i..)?.as_bytes();
    let lower = |k: usize| rest.get(k).map(u8::to_ascii_lowercase);
    let quote = |k: usize| matches!(rest.get(k), Some(b'\'' | b'"'));
    match (lower(0), lower(1)) {
        (Some(b'b'), _) if quote(1) => Some((false, 1)),
        (Some(b'b'), Some(b'r')) | (Some(b'r'), Some(b'b')) if quote(2) => Some((true, 2)),
        _ => None,
    }
}

/// Python bytes literals, possibly several (`b'…' b'…'`, in parentheses or joined by `+`):
/// ASCII characters are their own bytes, with Python's escapes (`\xNN`, `\n`, `\\`, octal…).
fn parse_python(text: &str) -> Result<Pasted, HexError> {
    let mut out = Builder::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() || matches!(c, b'(' | b')' | b'+' | b',') {
            i += 1;
            continue;
        }
        if c == b'\\' && matches!(b.get(i + 1), Some(b'\n' | b'\r')) {
            i += 1;
            continue;
        }
        if let Some((side, n)) = mark_at(text, i) {
            out.mark(side);
            i += n;
            continue;
        }
        let Some((raw, n)) = literal_prefix(text, i) else {
            // An assignment before the literal: `data = b'…'`.
            let ident = text[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(text.len() - i);
            let after = text[i + ident..].trim_start();
            if ident > 0 && after.starts_with('=') && !after.starts_with("==") {
                i = text.len() - after.len() + 1;
                continue;
            }
            return Err(error_at(
                text,
                i,
                "expected a Python bytes literal such as b'\\x81\\x05Hello'",
            ));
        };
        let start = i;
        i += n;
        let q = b[i];
        let triple = b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q);
        i += if triple { 3 } else { 1 };
        loop {
            let Some(&c) = b.get(i) else {
                return Err(error_at(text, start, "this bytes literal is never closed"));
            };
            if c == q && (!triple || (b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q))) {
                i += if triple { 3 } else { 1 };
                break;
            }
            if !c.is_ascii() {
                let ch = text[i..].chars().next().expect("in the text");
                return Err(error_at(
                    text,
                    i,
                    format!("{ch:?} is not ASCII: bytes literals hold only ASCII characters (write \\xNN)"),
                ));
            }
            if c == b'\n' && !triple {
                return Err(error_at(
                    text,
                    start,
                    "this bytes literal is never closed on its line",
                ));
            }
            if c != b'\\' || raw {
                out.push(c);
                i += 1;
                continue;
            }
            let Some(&e) = b.get(i + 1) else {
                return Err(error_at(text, start, "this bytes literal is never closed"));
            };
            let simple = match e {
                b'\\' => Some(b'\\'),
                b'\'' => Some(b'\''),
                b'"' => Some(b'"'),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'a' => Some(0x07),
                b'b' => Some(0x08),
                b'f' => Some(0x0c),
                b'v' => Some(0x0b),
                _ => None,
            };
            if let Some(v) = simple {
                out.push(v);
                i += 2;
            } else if e == b'\n' {
                i += 2;
            } else if e == b'x' {
                let digits = text
                    .get(i + 2..i + 4)
                    .filter(|d| d.bytes().all(|c| c.is_ascii_hexdigit()));
                let Some(d) = digits else {
                    return Err(error_at(text, i, "\\x must be followed by two hex digits"));
                };
                out.push(u8::from_str_radix(d, 16).expect("checked hex"));
                i += 4;
            } else if (b'0'..=b'7').contains(&e) {
                let n = b[i + 1..]
                    .iter()
                    .take(3)
                    .take_while(|c| (b'0'..=b'7').contains(c))
                    .count();
                let v = u16::from_str_radix(&text[i + 1..i + 1 + n], 8).expect("checked octal");
                let Ok(v) = u8::try_from(v) else {
                    return Err(error_at(text, i, "octal escape above \\377"));
                };
                out.push(v);
                i += 1 + n;
            } else {
                // Python keeps an unknown escape as it is, backslash included.
                out.push(b'\\');
                i += 1;
            }
        }
    }
    Ok(out.finish(PasteFormat::Python))
}

/// A C (or Java, C#…) array: `{0x81, 0x05, 72, 'e'}`, with an optional declaration before
/// it (`unsigned char frame[] = {…};`). Numbers are read as C reads them: `0x81` is hex,
/// `129` decimal, and `-127` a signed byte.
fn parse_c_array(text: &str) -> Result<Pasted, HexError> {
    let mut out = Builder::new();
    let b = text.as_bytes();
    let mut i = 0;
    let mut open: Option<usize> = None;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() || c == b';' || (open.is_some() && c == b',') {
            i += 1;
            continue;
        }
        if open.is_none() {
            if let Some((side, n)) = mark_at(text, i) {
                out.mark(side);
                i += n;
            } else if c == b'{' {
                open = Some(i);
                i += 1;
            } else {
                // A declaration: everything up to `=`, then the `{`.
                let decl = text[i..].find(['=', '{', '}', ';']).map(|k| i + k);
                match decl {
                    Some(eq) if b[eq] == b'=' && text[eq + 1..].trim_start().starts_with('{') => {
                        i = eq + 1;
                    }
                    _ => {
                        return Err(error_at(
                            text,
                            i,
                            "expected a C array such as {0x81, 0x05} (or a declaration ending in `= {`)",
                        ))
                    }
                }
            }
            continue;
        }
        if c == b'}' {
            open = None;
            i += 1;
            continue;
        }
        if c == b'{' {
            return Err(error_at(
                text,
                i,
                "nested braces: give one flat array of bytes",
            ));
        }
        if c == b'\'' {
            // A character literal: 'H', '\x81', '\n', '\\', '\''.
            let end = text[i + 1..]
                .char_indices()
                .find(|&(k, ch)| {
                    ch == '\''
                        && (k == 0
                            || !text[i + 1..i + 1 + k].ends_with('\\')
                            || text[i + 1..i + 1 + k].ends_with("\\\\"))
                })
                .map(|(k, _)| i + 1 + k);
            let inner = end.map(|e| &text[i + 1..e]);
            let v = match inner {
                Some(s) if s.len() == 1 && s.is_ascii() => Some(s.as_bytes()[0]),
                Some("\\n") => Some(b'\n'),
                Some("\\r") => Some(b'\r'),
                Some("\\t") => Some(b'\t'),
                Some("\\0") => Some(0),
                Some("\\\\") => Some(b'\\'),
                Some("\\'") => Some(b'\''),
                Some("\\\"") => Some(b'"'),
                Some(s) if s.len() == 4 && s.starts_with("\\x") => {
                    u8::from_str_radix(&s[2..], 16).ok()
                }
                _ => None,
            };
            let Some(v) = v else {
                return Err(error_at(
                    text,
                    i,
                    "a character literal that is not one byte",
                ));
            };
            out.push(v);
            i = end.expect("parsed") + 1;
            continue;
        }
        let len = text[i..]
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-' || ch == '+'))
            .unwrap_or(text.len() - i);
        let token = &text[i..i + len];
        if token.is_empty() {
            let ch = text[i..].chars().next().expect("in the text");
            return Err(error_at(text, i, format!("unexpected {ch:?} in a C array")));
        }
        let number = token.trim_end_matches(['u', 'U', 'l', 'L']);
        let value = if let Some(h) = number
            .strip_prefix("0x")
            .or_else(|| number.strip_prefix("0X"))
        {
            i64::from_str_radix(h, 16).ok()
        } else if let Some(bits) = number
            .strip_prefix("0b")
            .or_else(|| number.strip_prefix("0B"))
        {
            i64::from_str_radix(bits, 2).ok()
        } else {
            number.parse::<i64>().ok()
        };
        let byte = match value {
            Some(v @ 0..=255) => v as u8,
            Some(v @ -128..=-1) => v as i8 as u8,
            Some(_) => return Err(error_at(text, i, format!("{token} does not fit in a byte"))),
            None => {
                return Err(error_at(
                    text,
                    i,
                    format!("not a number: {token:?} (C reads 0x81 as hex, 129 as decimal)"),
                ))
            }
        };
        out.push(byte);
        i += len;
    }
    if let Some(o) = open {
        return Err(error_at(text, o, "this { is never closed"));
    }
    Ok(out.finish(PasteFormat::CArray))
}

/// A dump line's offset column: the offset, and where the rest of the line starts. xxd writes
/// `00000000:`, Wireshark `0000` and three spaces, `hexdump -C` `00000000` and two.
fn dump_offset(line: &str) -> Option<(u64, bool, &str)> {
    let digits = line
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(line.len());
    if !(4..=16).contains(&digits) {
        return None;
    }
    let offset = u64::from_str_radix(&line[..digits], 16).ok()?;
    let rest = &line[digits..];
    if let Some(r) = rest.strip_prefix(':') {
        // xxd puts a space after the colon; `8105:4865` is plain hex.
        return (r.is_empty() || r.starts_with(' ')).then_some((offset, true, r));
    }
    (rest.is_empty() || rest.starts_with("  ")).then_some((offset, false, rest))
}

/// The line without a leading side mark, and the mark.
fn strip_line_mark(line: &str) -> (Option<Direction>, &str) {
    let t = line.trim_start();
    match t.split_whitespace().next().and_then(side_mark) {
        Some((side, _)) => {
            let at = t.find(':').expect("a mark has a colon");
            (Some(side), t[at + 1..].trim_start())
        }
        None => (None, t),
    }
}

/// Which dump the text is, if every line is a dump line (side marks aside) and one has bytes.
fn dump_format(text: &str) -> Option<PasteFormat> {
    let mut format = None;
    for line in text.lines() {
        let (_, line) = strip_line_mark(line);
        if line.trim().is_empty() || line.trim() == "*" {
            continue;
        }
        let (_, colon, rest) = dump_offset(line)?;
        if rest.trim().is_empty() {
            continue;
        }
        let this = if colon {
            PasteFormat::Xxd
        } else if rest.trim_end().ends_with('|') {
            PasteFormat::Hexdump
        } else {
            PasteFormat::Wireshark
        };
        format.get_or_insert(this);
    }
    format
}

/// A Wireshark, xxd or `hexdump -C` dump: the offset column is checked, the ASCII column
/// skipped. A `c:` or `s:` line (or line start) starts bytes from that side.
fn parse_dump(text: &str, format: PasteFormat) -> Result<Pasted, HexError> {
    let mut out = Builder::new();
    // The first offset of the current block, and the bytes before it in the part.
    let mut block: Option<(u64, usize)> = None;
    let mut last_offset = 0;
    let mut line_start = 0;
    // The bytes of the last line read, and where a `*` after it asks for them again.
    let mut last_line: Vec<u8> = Vec::new();
    let mut repeat: Option<usize> = None;
    for raw_line in text.split('\n') {
        let here = line_start;
        line_start += raw_line.len() + 1;
        let (side, line) = strip_line_mark(raw_line);
        let at = here + (raw_line.len() - line.len());
        if let Some(side) = side {
            out.mark(side);
            block = None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if line == "*" {
            // hexdump's "the line above, repeated until the next offset".
            if last_line.is_empty() || block.is_none() {
                return Err(error_at(
                    text,
                    at,
                    "`*` repeats the line above, but there is none",
                ));
            }
            repeat = Some(at);
            continue;
        }
        let Some((offset, _, rest)) = dump_offset(line) else {
            return Err(error_at(
                text,
                at,
                "not a hex dump line (offset, then hex bytes)",
            ));
        };
        let rest_at = at + (line.len() - rest.len());
        match block {
            Some((first, before)) if offset > last_offset => {
                if let Some(star) = repeat.take() {
                    let missing =
                        offset.saturating_sub(first.saturating_add((out.len() - before) as u64));
                    let n = last_line.len() as u64;
                    if missing % n != 0 || missing > 16 << 20 {
                        return Err(error_at(
                            text,
                            star,
                            format!("`*` cannot repeat a {n}-byte line to fill the {missing} bytes before offset {offset:#x}"),
                        ));
                    }
                    for _ in 0..missing / n {
                        for &b in &last_line {
                            out.push(b);
                        }
                    }
                }
                let read = (out.len() - before) as u64;
                if first.checked_add(read) != Some(offset) {
                    return Err(error_at(
                        text,
                        at,
                        format!(
                            "the offset says {offset:#x}, but {read} bytes were read since offset {first:#x} (is part of the text column read as hex?)"
                        ),
                    ));
                }
            }
            // The first line of a part, or offsets going back: another dump pasted after it.
            _ => block = Some((offset, out.len())),
        }
        if let Some(star) = repeat {
            return Err(error_at(
                text,
                star,
                "`*` needs a larger offset after it, to say how far it repeats",
            ));
        }
        last_offset = offset;
        // Where the hex ends: hexdump -C's `|`, else the gap before the text column (three
        // spaces for Wireshark, two for xxd) or the first word that is not hex.
        let hex = match format {
            PasteFormat::Hexdump => rest.split('|').next().unwrap_or(""),
            _ => rest,
        };
        let gap = if format == PasteFormat::Xxd {
            "  "
        } else {
            "   "
        };
        let mut prev_end = 0;
        let line_first = out.len();
        for (k, w) in words(hex) {
            if prev_end > 0 && hex[prev_end..k].contains(gap) {
                break;
            }
            let pairs_ok = match format {
                PasteFormat::Xxd => w.len() % 2 == 0,
                _ => w.len() == 2,
            };
            if !(pairs_ok && w.bytes().all(|c| c.is_ascii_hexdigit())) {
                if prev_end == 0 && format == PasteFormat::Hexdump {
                    return Err(error_at(text, rest_at + k, "not a hex byte"));
                }
                break;
            }
            for p in (0..w.len()).step_by(2) {
                out.push(u8::from_str_radix(&w[p..p + 2], 16).expect("checked hex"));
            }
            prev_end = k + w.len();
        }
        last_line = out.parts.last().expect("never empty").bytes[line_first..].to_vec();
    }
    if let Some(star) = repeat {
        return Err(error_at(
            text,
            star,
            "`*` needs an offset line after it, to say how far it repeats",
        ));
    }
    Ok(out.finish(format))
}

/// The bytes to explain: from the arguments, or standard input when there are none.
fn explain_input(hex: &[String]) -> Result<Pasted, HexError> {
    let pasted = if hex.is_empty() {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .map_err(HexError::Stdin)?;
        parse_hex(&[s])?
    } else {
        parse_hex(hex)?
    };
    if pasted.parts.is_empty() {
        return Err(HexError::Empty);
    }
    Ok(pasted)
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
    /// What the bytes were pasted as, when not plain hex (`a Python bytes literal`).
    format: Option<&'static str>,
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

/// How `explain` draws its frames: the options the teaching view takes from the command line.
struct Drawing {
    diagram: bool,
    /// The notes against common misconceptions (`--no-notes` leaves them out).
    notes: bool,
    /// Payload bytes drawn per frame (`usize::MAX`: all).
    payload_bytes: usize,
    color: ColorChoice,
}

fn explain(
    hex: &[String],
    from: Option<Side>,
    deflate: Option<&str>,
    drawing: Drawing,
) -> ExitCode {
    let pasted = match explain_input(hex) {
        Ok(b) => b,
        Err(e) => return crate::fail(e),
    };
    let deflate = match deflate.map(deflate_params).transpose() {
        Ok(d) => d,
        Err(e) => return crate::fail(e),
    };
    let mut senders = senders(pasted.parts, from);
    senders.format = pasted.format.name();
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let opts = AnnotateOptions {
        payload_bytes: drawing.payload_bytes,
        style: drawing.color.resolve(tty),
        diagram: drawing.diagram,
        width: output_width(tty),
    };
    let written = write_explanation(&mut stdout.lock(), &senders, deflate, opts, drawing.notes);
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
    match s.format {
        Some(f) => format!("{total} bytes from {f}, {}", how.join("; ")),
        None => format!("{total} bytes, {}", how.join("; ")),
    }
}

/// What the bytes are read as, every frame in the teaching view, and why they end mid-frame
/// if they do.
fn write_explanation(
    out: &mut dyn Write,
    senders: &Senders,
    deflate: Option<DeflateParams>,
    opts: AnnotateOptions,
    notes: bool,
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
    let width = opts.width;
    let say = |out: &mut dyn Write, text: &str| -> io::Result<()> {
        for line in text.lines().flat_map(|l| wrap(l, width, 2)) {
            writeln!(out, "{line}")?;
        }
        Ok(())
    };
    say(out, &describe_senders(senders))?;
    if let Some(n) = negotiated {
        say(out, n)?;
    }
    let mut sink = AnnotateSink::new(&mut *out, opts).notes(notes);
    for e in &raw.events {
        sink.event(e)?;
    }
    for (_, inc) in &raw.incomplete {
        writeln!(out)?;
        say(out, &describe_incomplete(inc))?;
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

/// `explain --http`: a pasted handshake, taught and checked as the capture path does it.
fn explain_http(lines: &[String], color: ColorChoice) -> ExitCode {
    let text = if lines.is_empty() {
        // Header values may hold any byte (obs-text): read them all, as the parser will.
        let mut bytes = Vec::new();
        if let Err(e) = io::stdin().read_to_end(&mut bytes) {
            return crate::fail(HexError::Stdin(e));
        }
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        lines.join("\n")
    };
    let Some(pasted) = read_pasted(&text) else {
        return crate::fail("explain --http: no HTTP request or response given");
    };
    let stdout = io::stdout();
    let style = color.resolve(stdout.is_terminal());
    match write_pasted_handshake(&mut stdout.lock(), &pasted, style) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => crate::fail(e),
    }
}

/// What was pasted, in a line, then the handshake through the teaching view: the same events
/// a capture gives (a handshake, then its diagnostics), on connection 1.
fn write_pasted_handshake(
    out: &mut dyn Write,
    pasted: &PastedHandshake,
    style: Style,
) -> io::Result<()> {
    for line in wrap(&describe_pasted(pasted), 80, 2) {
        writeln!(out, "{line}")?;
    }
    if pasted.has_request && !pasted.upgrade {
        writeln!(
            out,
            "not a WebSocket upgrade: it lacks Upgrade: websocket or Connection: Upgrade\n  \
             (§4.1 items 5-6), so a capture would not follow it as a handshake"
        )?;
    }
    let conn = ConnId(1);
    let mut events = Vec::new();
    if let Some(exchange) = &pasted.exchange {
        events.push(Event::Handshake(Box::new(Handshake {
            conn,
            stream: None,
            exchange: exchange.clone(),
        })));
    }
    for v in &pasted.violations {
        let (dir, packet) = match (v.in_request, &pasted.exchange) {
            (true, Some(h)) => (Direction::ClientToServer, Some(h.request_packet)),
            (false, Some(h)) => (Direction::ServerToClient, Some(h.response_packet)),
            (true, None) => (Direction::ClientToServer, None),
            (false, None) => (Direction::ServerToClient, None),
        };
        events.push(Event::Diagnostic(Diagnostic {
            conn,
            stream: None,
            dir: Some(dir),
            packet,
            rule: v.rule,
            message: v.message.clone(),
        }));
    }
    let parts = Parts {
        request: pasted.has_request,
        response: pasted.has_response,
        request_known: pasted.has_request,
    };
    let mut sink = AnnotateSink::new(
        &mut *out,
        AnnotateOptions {
            payload_bytes: usize::MAX,
            style,
            diagram: false,
            width: output_width(io::stdout().is_terminal()),
        },
    )
    .handshake_halves(Halves::Fixed(parts));
    for e in &events {
        sink.event(e)?;
    }
    Ok(())
}

/// `HTTP request and response, 212 bytes (LF line ends read as CRLF)`.
fn describe_pasted(p: &PastedHandshake) -> String {
    let what = match (p.has_request, p.has_response) {
        (true, true) => "HTTP request and response",
        (true, false) => "HTTP request (no response given)",
        (false, true) => {
            "HTTP response (no request given: the accept and the choices are not checked)"
        }
        (false, false) => "not an HTTP request or response",
    };
    let ends = match p.line_ends {
        LineEnds::Crlf => "",
        LineEnds::Lf => " (LF line ends read as CRLF)",
        LineEnds::Mixed => " (LF line ends among CRLF read as CRLF)",
        LineEnds::Escaped => " (\\r\\n escapes read as line ends)",
    };
    let after = match p.after {
        0 => String::new(),
        n => format!("; the {n} bytes after the response head are its body, not read"),
    };
    format!("{what}, {} bytes{ends}{after}", p.len)
}

fn accept(key: &str) -> ExitCode {
    let steps = compute_accept(key);
    let key_note = match check_key(key) {
        KeyShape::Valid => "base64 of 16 bytes, as RFC 6455 §4.1 requires".to_string(),
        KeyShape::WrongLength(n) => format!("decodes to {n} bytes: RFC 6455 §4.1 requires 16"),
        KeyShape::NotBase64 => {
            "not valid base64: RFC 6455 §4.1 requires base64 of 16 random bytes".to_string()
        }
    };
    let key = key.trim();
    let width = output_width(io::stdout().is_terminal());
    // Labels, then values from column 21: the SHA-1's 20 bytes in hex then end at column 80.
    let row = |label: &str, value: &str| format!("{label:<20} {value}");
    let mut lines = vec![row("Sec-WebSocket-Key", &format!("{key}   ({key_note})"))];
    // Key and GUID on a line each when the two together do not fit, rather than cut inside.
    if 21 + steps.concatenated.len() <= width {
        lines.push(row("1. append the GUID", &steps.concatenated));
    } else {
        lines.push(row("1. append the GUID", key));
        lines.push(row("", &format!("+ {WEBSOCKET_GUID}")));
    }
    lines.push(row("2. SHA-1 of that", &hex_spaced(&steps.sha1)));
    lines.push(row("3. base64 of hash", &steps.accept));
    lines.push(row(
        "Sec-WebSocket-Accept",
        &format!("{}   (RFC 6455 §4.2.2, step 5.4)", steps.accept),
    ));
    // Within the width: a value goes on under its column.
    let mut text = String::new();
    for l in lines.iter().flat_map(|l| wrap(l, width, 21)) {
        text.push_str(&l);
        text.push('\n');
    }
    print(text.as_bytes())
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
            parse_hex(&args).unwrap().parts,
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
            parse_hex(&["c1:05".to_string()]).unwrap().parts,
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

    fn parse(text: &str) -> Pasted {
        parse_hex(&[text.to_string()]).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn bytes_of(text: &str) -> (PasteFormat, Vec<u8>) {
        let p = parse(text);
        assert_eq!(p.parts.len(), 1, "{text:?}: {p:?}");
        (p.format, p.parts.into_iter().next().unwrap().bytes)
    }

    fn error_of(text: &str) -> String {
        match parse_hex(&[text.to_string()]) {
            Ok(p) => panic!("{text:?} parsed as {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    const HELLO: &[u8] = b"\x81\x05Hello";

    #[test]
    fn plain_hex_with_any_separator() {
        for text in [
            "81 05 48 65 6c 6c 6f",
            "810548656c6c6f",
            "81:05:48:65:6C:6C:6F",
            "81,05,48,65,6c,6c,6f",
            "8105 4865 6c6c 6f",
            "0x81 0x05 0x48 0x65 0x6c 0x6c 0x6f",
            "0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f",
        ] {
            assert_eq!(bytes_of(text), (PasteFormat::Hex, HELLO.to_vec()), "{text}");
        }
        assert_eq!(PasteFormat::Hex.name(), None);
    }

    #[test]
    fn backslash_x_escapes() {
        assert_eq!(
            bytes_of(r"\x81\x05\x48\x65\x6c\x6c\x6f"),
            (PasteFormat::Escapes, HELLO.to_vec())
        );
        assert_eq!(
            bytes_of(r"\x81\x05 \x48\x65\x6c\x6c\x6f"),
            (PasteFormat::Escapes, HELLO.to_vec())
        );
        assert!(error_of(r"\x81\x5")
            .contains("\\x must be followed by two hex digits, at line 1, column 5"));
    }

    #[test]
    fn c_arrays_with_braces_and_declarations() {
        for text in [
            "{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}",
            "unsigned char frame[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};",
            "static const uint8_t frame[7] = {\n    0x81, 0x05, 0x48, 0x65,\n    0x6C, 0x6C, 0x6F,\n};\n",
            // C's own meaning: decimal, signed (Java) bytes, character literals.
            "{129, 5, 72, 101, 108, 108, 111}",
            "byte[] f = {-127, 0x05, 'H', 'e', 'l', 'l', 'o'};",
        ] {
            assert_eq!(bytes_of(text), (PasteFormat::CArray, HELLO.to_vec()), "{text}");
        }
        assert_eq!(bytes_of(r"{'\n', '\x81', '\''}").1, [b'\n', 0x81, b'\'']);
        assert!(
            error_of("{0x81, 0x105}").contains("0x105 does not fit in a byte, at line 1, column 8")
        );
        assert!(error_of("{0x81, zz}").contains("not a number: \"zz\""));
        assert!(error_of("{0x81, 0x05").contains("this { is never closed, at line 1, column 1"));
        assert!(error_of("int x {0x81}").contains("expected a C array"));
    }

    #[test]
    fn python_bytes_literals() {
        for text in [
            r"b'\x81\x05Hello'",
            r#"b"\x81\x05Hello""#,
            r"b'\x81\x05' b'Hello'",
            "(b'\\x81\\x05'\n b'Hel'\n b'lo')",
            r"frame = b'\x81' + B'\x05Hello'",
            r"b'\201\5Hello'",
        ] {
            assert_eq!(
                bytes_of(text),
                (PasteFormat::Python, HELLO.to_vec()),
                "{text}"
            );
        }
        assert_eq!(
            bytes_of(r#"b'\n\r\t\\\'\"{"a"}'"#).1,
            b"\n\r\t\\'\"{\"a\"}".to_vec()
        );
        // Raw literals keep their backslashes; unknown escapes keep theirs, as in Python.
        assert_eq!(bytes_of(r"rb'\x81'").1, br"\x81".to_vec());
        assert_eq!(bytes_of(r"b'\q'").1, br"\q".to_vec());
        assert!(error_of(r"b'\x8'")
            .contains("\\x must be followed by two hex digits, at line 1, column 3"));
        assert!(error_of(r"b'\x81").contains("never closed, at line 1, column 1"));
        assert!(error_of("b'é'").contains("not ASCII"));
        assert!(error_of(r"b'\x81' 05").ends_with("\\x05Hello', at line 1, column 9: \"05\""));
    }

    #[test]
    fn wireshark_hex_dump_skips_offsets_and_text() {
        let dump = "0000   81 7e 00 14 48 65 6c 6c 6f 2c 20 57 65 62 53 6f   .~..Hello, WebSo\n\
                    0010   63 6b 65 74 21 21 21 21                           cket!!!!\n";
        let (format, bytes) = bytes_of(dump);
        assert_eq!(format, PasteFormat::Wireshark);
        assert_eq!(bytes, b"\x81\x7e\x00\x14Hello, WebSocket!!!!".to_vec());
        // A short line whose text column looks like hex is still cut at the column.
        assert_eq!(
            bytes_of("0000   ab cd                                             ..ab cd\n").1,
            [0xab, 0xcd]
        );
        // Wireshark 1.x: two spaces after the offset and in the middle.
        let old = "0000  81 05 48 65 6c 6c 6f 20  20 20 20 20 20 20 20 20   ..Hello         \n";
        assert_eq!(bytes_of(old).1.len(), 16);
        assert!(error_of("0000   81 05\n0010   48\n")
            .contains("the offset says 0x10, but 2 bytes were read since offset 0x0"));
    }

    #[test]
    fn xxd_and_hexdump_c() {
        let xxd = "00000000: 817e 0014 4865 6c6c 6f2c 2057 6562 536f  .~..Hello, WebSo\n\
                   00000010: 636b 6574 2121 2121                      cket!!!!\n";
        assert_eq!(
            bytes_of(xxd),
            (
                PasteFormat::Xxd,
                b"\x81\x7e\x00\x14Hello, WebSocket!!!!".to_vec()
            )
        );
        let hd = "00000000  81 7e 00 14 48 65 6c 6c  6f 2c 20 57 65 62 53 6f  |.~..Hello, WebSo|\n\
                  00000010  63 6b 65 74 21 21 21 21                           |cket!!!!|\n\
                  00000018\n";
        assert_eq!(
            bytes_of(hd),
            (
                PasteFormat::Hexdump,
                b"\x81\x7e\x00\x14Hello, WebSocket!!!!".to_vec()
            )
        );
        // `*`: the line above, repeated up to the next offset.
        let zeros = "00000000  81 7e 00 30 00 00 00 00  00 00 00 00 00 00 00 00  |.~.0............|\n\
                     00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
                     *\n\
                     00000030  00 00 00 00                                       |....|\n\
                     00000034\n";
        let (format, bytes) = bytes_of(zeros);
        assert_eq!(format, PasteFormat::Hexdump);
        assert_eq!(bytes.len(), 0x34);
        assert_eq!(&bytes[..4], [0x81, 0x7e, 0x00, 0x30]);
        assert!(bytes[4..].iter().all(|&b| b == 0));
        assert!(error_of(
            "00000000  81 05 48 65 6c 6c 6f 00  00 00 00 00 00 00 00 00  |..Hello........|\n*\n"
        )
        .contains(
            "`*` needs an offset line after it, to say how far it repeats, at line 2, column 1"
        ));
        assert!(error_of("00000000  81 05 48  |...|\n*\n00000004\n")
            .contains("cannot repeat a 3-byte line"));
    }

    #[test]
    fn side_marks_work_in_every_format() {
        let c = Some(Direction::ClientToServer);
        let s = Some(Direction::ServerToClient);
        let want = [part(c, &[0x89, 0x00]), part(s, &[0x8a, 0x00])];
        for (text, format) in [
            ("c: 89 00 s: 8a 00", PasteFormat::Hex),
            (r"c: \x89\x00 s: \x8a\x00", PasteFormat::Escapes),
            (r"c: b'\x89\x00' s: b'\x8a\x00'", PasteFormat::Python),
            (
                "c:b'\\x89\\x00'\nserver: b'\\x8a\\x00'",
                PasteFormat::Python,
            ),
            ("c: {0x89, 0x00}; s: {0x8a, 0x00};", PasteFormat::CArray),
            (
                "c: unsigned char ping[] = {0x89, 0x00};\ns: unsigned char pong[] = {0x8a, 0x00};",
                PasteFormat::CArray,
            ),
            (
                "c:\n0000   89 00   ..\ns:\n0000   8a 00   ..\n",
                PasteFormat::Wireshark,
            ),
            (
                "c: 0000   89 00   ..\ns: 0000   8a 00   ..\n",
                PasteFormat::Wireshark,
            ),
            (
                "c:\n00000000: 8900  ..\ns:\n00000000: 8a00  ..\n",
                PasteFormat::Xxd,
            ),
            (
                "c:\n00000000  89 00  |..|\ns:\n00000000  8a 00  |..|\n",
                PasteFormat::Hexdump,
            ),
        ] {
            let p = parse(text);
            assert_eq!((p.format, &p.parts[..]), (format, &want[..]), "{text}");
        }
    }

    #[test]
    fn colons_in_plain_hex_are_not_an_xxd_offset() {
        assert_eq!(
            bytes_of("8105:4865:6c6c:6f"),
            (PasteFormat::Hex, HELLO.to_vec())
        );
        // Windows line ends in a pasted dump.
        assert_eq!(
            bytes_of("0000   81 05 48 65 6c 6c 6f   ..Hello\r\n").1,
            HELLO.to_vec()
        );
    }

    #[test]
    fn errors_name_the_line_and_column() {
        assert_eq!(
            error_of("81 05\n48 zz"),
            "not a hex digit: 'z', at line 2, column 4: \"zz\""
        );
        assert!(error_of("81 0").contains("odd number of hex digits: this one has no pair (each byte is two digits), at line 1, column 4"));
        assert!(error_of("0x810").contains("longer than one byte"));
        assert!(
            error_of("fffffffffffffffe  81 05  |..|\nffffffffffffffff  81  |.|\n")
                .contains("offset")
        );
    }

    /// Whatever is pasted, the parser answers with bytes or an error, never a panic.
    #[test]
    fn no_input_makes_it_panic() {
        let alphabet: Vec<char> = "0123456789abcdefxXbBrR \n\t\\'\"{}[]=;:,|.*+()-_cs|é€\r"
            .chars()
            .collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for k in 0..(seed % 24) {
                let r = seed.rotate_left(k as u32 * 5);
                text.push(alphabet[(r % alphabet.len() as u64) as usize]);
            }
            let _ = parse_hex(&[text.clone()]);
            for prefix in ["b'", "{", "0000   ", "00000000: ", "c: "] {
                let _ = parse_hex(&[format!("{prefix}{text}")]);
            }
        }
    }
}
