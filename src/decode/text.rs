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

/// Whether JSON text could have a member named `key` (given with its quotes, `"type"`) at
/// all, found without parsing it: a name is the quoted key itself unless it is written with
/// escapes (`"\u0074ype"`), and escapes need a backslash. A message that cannot have the key
/// is not parsed: the recognisers parse only the first messages, but each parse of a message
/// of a few hundred bytes cost about 10,000 instructions (on many-small.pcap, whose 777
/// connections each had theirs parsed, skipping them saved 2.4 % of the text view's).
pub fn may_have_key(json: &[u8], key: &[u8]) -> bool {
    json.contains(&b'\\') || json.windows(key.len()).any(|w| w == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_looked_for_as_written_or_wherever_escapes_could_hide_it() {
        let key = b"\"type\"";
        assert!(may_have_key(br#"{"type":"x"}"#, key));
        assert!(may_have_key(br#"{"a":"type"}"#, key));
        assert!(!may_have_key(br#"{"types":"x","typ":1}"#, key));
        assert!(!may_have_key(br#"{"a":1}"#, key));
        assert!(!may_have_key(b"", key));
        assert!(may_have_key(br#"{"\u0074ype":"x"}"#, key));
        assert!(may_have_key(br#"{"a":"\n"}"#, key));
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        assert_eq!(quoted("hi"), "\"hi\"");
        let long = "é".repeat(30);
        assert_eq!(quoted(&long), format!("\"{}…\"", "é".repeat(24)));
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(quoted(r#"{"n": "a\b"}"#), r#""{\"n\": \"a\\b\"}""#);
    }
}
