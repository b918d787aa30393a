//! Short previews for unit summaries.

/// Characters of a payload a summary quotes.
pub const PREVIEW_CHARS: usize = 24;

/// Characters of an id, name or destination a summary shows (a UUID is 36).
pub const ID_CHARS: usize = 40;

/// `s` in double quotes, cut to [`PREVIEW_CHARS`] characters with `…`, its quotes and
/// backslashes escaped so the quoted text reads unambiguously (control characters are left to
/// the views, which escape them).
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(PREVIEW_CHARS * 4) + 4);
    out.push('"');
    push_quotable(&mut out, &cut(s, PREVIEW_CHARS));
    out.push('"');
    out
}

/// `s` with `"` and `\` escaped, for inside double quotes.
pub fn push_quotable(out: &mut String, s: &str) {
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// `s` cut to `n` characters, with `…` when cut.
pub fn cut(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// A JSON value in one line, cut to [`PREVIEW_CHARS`] characters.
pub fn json_preview(v: &serde_json::Value) -> String {
    cut(&v.to_string(), PREVIEW_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        assert_eq!(quoted("hi"), "\"hi\"");
        let long = "é".repeat(30);
        assert_eq!(quoted(&long), format!("\"{}…\"", "é".repeat(24)));
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(quoted(r#"{"n": "a\b"}"#), r#""{\"n\": \"a\\b\"}""#);
    }
}
