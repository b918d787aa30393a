//! Terminal-safe text: nothing a payload contains may move the cursor, change colours, retitle
//! the terminal or reorder the line. Control characters (C0, DEL, C1), and bidirectional
//! overrides are shown as escapes.

use std::fmt::Write;

use super::digits::hex_pair;

/// Characters past C0 and DEL that a terminal may act on: C1 controls (0x9b is CSI on some
/// terminals), bidi marks, embeddings, overrides and isolates (they reorder a line), and the
/// line and paragraph separators. Every view escapes them, JSON included.
pub fn is_terminal_hazard(c: char) -> bool {
    matches!(
        c,
        '\u{80}'..='\u{9f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}'
    )
}

/// `\xNN`, for a control character or a byte that is not UTF-8.
pub fn push_byte_escape(out: &mut String, byte: u8) {
    let _ = write!(out, "\\x{byte:02x}");
}

/// Escape `s` for one line of terminal output, quoting-safe for `"…"`.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        // Printable ASCII other than the quote and the backslash passes as it is, a run at a time.
        let plain = rest
            .bytes()
            .position(|b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\')
            .unwrap_or(rest.len());
        out.push_str(&rest[..plain]);
        rest = &rest[plain..];
        if let Some(c) = rest.chars().next() {
            push_escaped(&mut out, c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Escape prose for one line of terminal output: like [`escape_text`], but quotes and
/// backslashes are left as they are. For sentences that quote values themselves (diagnostic
/// messages build theirs with `{:?}`), which escaping again would double.
pub fn escape_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' => out.push(c),
            c => push_escaped(&mut out, c),
        }
    }
    out
}

/// One character as [`escape_text`] writes it (the character a plain run stopped at: a quote,
/// a backslash, a control or non-ASCII).
pub fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\\' => out.push_str("\\\\"),
        '"' => out.push_str("\\\""),
        // C0 controls and DEL are single bytes.
        c if (c as u32) < 0x20 || c == '\u{7f}' => push_byte_escape(out, c as u8),
        c if is_terminal_hazard(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Bytes as `"…"`: escaped text, invalid UTF-8 as `\xNN`.
pub fn quoted_bytes(b: &[u8]) -> String {
    format!("\"{}\"", escape_bytes(b))
}

/// Escape bytes that may not be UTF-8: invalid bytes as `\xNN`.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        out.push_str(&escape_text(chunk.valid()));
        for &byte in chunk.invalid() {
            push_byte_escape(&mut out, byte);
        }
    }
    out
}

/// Lower-case hex, space separated.
pub fn hex_spaced(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() * 3);
    for (i, byte) in b.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

pub fn hex(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() * 2);
    push_hex(&mut out, b);
    out
}

/// [`hex`] appended to `out`.
pub fn push_hex(out: &mut String, b: &[u8]) {
    for &byte in b {
        out.extend(hex_pair(byte).map(char::from));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The character-at-a-time definition the fast path must agree with.
    fn escape_text_slowly(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            push_escaped(&mut out, c);
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn runs_of_plain_ascii_escape_like_single_characters(s in "\\PC*|[ -~\\x00-\\x1f\"\\\\\\u{80}-\\u{9f}\\u{202e}é]*") {
            proptest::prop_assert_eq!(escape_text(&s), escape_text_slowly(&s));
        }
    }

    #[test]
    fn escapes_cannot_reach_the_terminal() {
        let hostile = "\x1b]0;pwned\x07\x1b[2J\u{9b}31m\u{202e}abc\r\n";
        let safe = escape_text(hostile);
        assert!(
            !safe
                .chars()
                .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "{safe}"
        );
        assert_eq!(
            safe,
            "\\x1b]0;pwned\\x07\\x1b[2J\\u{9b}31m\\u{202e}abc\\r\\n"
        );
    }

    #[test]
    fn prose_keeps_its_own_quotes_but_not_controls() {
        let msg = format!("Sec-WebSocket-Version is {:?}", "8");
        assert_eq!(escape_line(&msg), "Sec-WebSocket-Version is \"8\"");
        let hostile = format!("version is {:?}", "8\u{202e}\x1b[2J");
        let safe = escape_line(&hostile);
        assert!(
            !safe.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{safe}"
        );
        assert_eq!(escape_line("a\x1b[2J\u{202e}b\n"), "a\\x1b[2J\\u{202e}b\\n");
    }

    #[test]
    fn invalid_utf8_is_shown_as_bytes() {
        assert_eq!(escape_bytes(b"ok\xff\x1b"), "ok\\xff\\x1b");
        assert_eq!(escape_text("héllo ☃"), "héllo ☃");
    }
}
