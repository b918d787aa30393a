//! Colour, decided once: on for a terminal unless `NO_COLOR` is set or `TERM` is `dumb`, or as
//! forced by `--color`. Colour is only ever added around text already made terminal-safe.

use crate::base::rules::Severity;
use crate::base::Direction;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Style {
    pub color: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn resolve(self, is_terminal: bool) -> Style {
        let color = match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true)
            }
        };
        Style { color }
    }
}

/// The SGR parameters of each kind of text.
const HEADING: &str = "1";
const HEX: &str = "36";
const DIM: &str = "2";
const TEXT: &str = "32";
const WARN: &str = "33";
const C2S: &str = "34";
const S2C: &str = "35";

impl Style {
    fn paint(self, code: &str, s: &str) -> String {
        if !self.color {
            return s.to_string();
        }
        // ESC [ code m, the text, ESC [ 0 m
        let mut out = String::with_capacity(code.len() + s.len() + 7);
        self.push_painted(&mut out, code, s);
        out
    }
    /// `s` appended to `out`, between the colour's escapes when colour is on: for lines built
    /// in place.
    fn push_painted(self, out: &mut String, code: &str, s: &str) {
        if self.color {
            out.push_str("\x1b[");
            out.push_str(code);
            out.push('m');
            out.push_str(s);
            out.push_str("\x1b[0m");
        } else {
            out.push_str(s);
        }
    }
    pub fn heading(self, s: &str) -> String {
        self.paint(HEADING, s)
    }
    pub fn hex(self, s: &str) -> String {
        self.paint(HEX, s)
    }
    pub fn dim(self, s: &str) -> String {
        self.paint(DIM, s)
    }
    pub fn text(self, s: &str) -> String {
        self.paint(TEXT, s)
    }
    pub fn warn(self, s: &str) -> String {
        self.paint(WARN, s)
    }
    pub fn c2s(self, s: &str) -> String {
        self.paint(C2S, s)
    }
    pub fn s2c(self, s: &str) -> String {
        self.paint(S2C, s)
    }
    /// [`Style::c2s`] or [`Style::s2c`] appended to `out`.
    pub fn push_direction(self, out: &mut String, dir: Direction, s: &str) {
        let code = match dir {
            Direction::ClientToServer => C2S,
            Direction::ServerToClient => S2C,
        };
        self.push_painted(out, code, s);
    }
    pub fn severity(self, sev: Severity, s: &str) -> String {
        match sev {
            Severity::Error => self.paint("31;1", s),
            Severity::Warning => self.paint("33", s),
            Severity::Info => self.paint("2", s),
        }
    }
    pub fn severity_mark(self, sev: Severity) -> &'static str {
        match sev {
            Severity::Error => "✗",
            Severity::Warning => "!",
            Severity::Info => "·",
        }
    }
}
