//! Colour, decided once: on for a terminal unless `NO_COLOR` is set or `TERM` is `dumb`, or as
//! forced by `--color`. Colour is only ever added around text already made terminal-safe.

use crate::base::rules::Severity;

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

impl Style {
    fn paint(self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn heading(self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn hex(self, s: &str) -> String {
        self.paint("36", s)
    }
    pub fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn text(self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn warn(self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn c2s(self, s: &str) -> String {
        self.paint("34", s)
    }
    pub fn s2c(self, s: &str) -> String {
        self.paint("35", s)
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
