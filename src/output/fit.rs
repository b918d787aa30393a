//! Lines that fit the terminal: display width (colour escapes take none, wide characters two),
//! payload previews cut to a number of columns with a count of what they leave out, and long
//! lines wrapped at spaces onto indented continuation lines.

use unicode_width::UnicodeWidthChar;

use super::escape::escape_bytes;

/// What follows a preview that was cut: `…(+N bytes)`.
pub fn elided_note(more: u64) -> String {
    format!("…(+{more} bytes)")
}

/// The columns a line takes on a terminal: SGR colour sequences (`ESC [ … m`) take none.
pub fn display_width(s: &str) -> usize {
    let mut w = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // Our own colour sequences only: ESC [ parameters m.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        w += c.width().unwrap_or(0);
    }
    w
}

/// The width a view keeps its lines within: `COLUMNS` when set, else the terminal's width when
/// standard output is one, else 80.
pub fn output_width(tty: bool) -> usize {
    if let Some(w) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0)
    {
        return w;
    }
    if tty {
        if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
            if w > 0 {
                return usize::from(w);
            }
        }
    }
    80
}

/// A payload preview within `cols` columns: quoted, escaped text or spaced hex of at most
/// `limit` of the kept bytes, then `…(+N bytes)` for the rest of the `total` when it is cut.
/// A preview needs a few columns; it never shows fewer bytes than one.
pub fn preview_within(kept: &[u8], total: u64, as_text: bool, limit: usize, cols: usize) -> String {
    // Each unit: the bytes it stands for and how it is shown.
    let units: Vec<(usize, String)> = if as_text {
        let shown = &kept[..limit.min(kept.len())];
        let mut units = Vec::new();
        for chunk in shown.utf8_chunks() {
            for c in chunk.valid().chars() {
                let mut buf = [0; 4];
                units.push((
                    c.len_utf8(),
                    escape_bytes(c.encode_utf8(&mut buf).as_bytes()),
                ));
            }
            for b in chunk.invalid() {
                units.push((1, escape_bytes(&[*b])));
            }
        }
        units
    } else {
        kept.iter()
            .take(limit)
            .enumerate()
            .map(|(i, b)| (1, format!("{}{b:02x}", if i > 0 { " " } else { "" })))
            .collect()
    };
    let quotes = if as_text { 2 } else { 0 };
    let mut body = String::new();
    let mut width = quotes;
    let mut bytes = 0usize;
    for (i, (n, s)) in units.iter().enumerate() {
        let w = display_width(s);
        let after = bytes + n;
        let left = total.saturating_sub(after as u64);
        // Room for this unit, and for the count of what still follows it.
        let note = if left > 0 {
            1 + display_width(&elided_note(left))
        } else {
            0
        };
        if width + w + note > cols && i > 0 {
            break;
        }
        body.push_str(s);
        width += w;
        bytes = after;
    }
    let more = total.saturating_sub(bytes as u64);
    let body = if as_text { format!("\"{body}\"") } else { body };
    if more > 0 {
        format!("{body} {}", elided_note(more))
    } else {
        body
    }
}

/// `line` within `width` columns, each continuation line indented by `indent` spaces: broken
/// after a `;` where it can be (between clauses), else at spaces. A word longer than a line is
/// cut where the line ends.
pub fn wrap(line: &str, width: usize, indent: usize) -> Vec<String> {
    if display_width(line) <= width {
        return vec![line.to_string()];
    }
    let indent = indent.min(width / 2);
    if !line.contains("; ") {
        return wrap_words(line, width, indent);
    }
    let clauses: Vec<&str> = line.split("; ").collect();
    let mut lines = Vec::new();
    let mut cur = String::new();
    for (i, clause) in clauses.iter().enumerate() {
        let semi = if i + 1 < clauses.len() { ";" } else { "" };
        if i == 0 {
            cur = format!("{clause}{semi}");
        } else if display_width(&cur) + 1 + display_width(clause) + semi.len() <= width {
            cur.push_str(&format!(" {clause}{semi}"));
        } else {
            lines.extend(wrap_words(&cur, width, indent));
            cur = format!("{:indent$}{clause}{semi}", "");
        }
    }
    lines.extend(wrap_words(&cur, width, indent));
    lines
}

/// `line` broken at spaces (see [`wrap`]).
pub fn wrap_words(line: &str, width: usize, indent: usize) -> Vec<String> {
    if display_width(line) <= width {
        return vec![line.to_string()];
    }
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0;
    // Only spaces since the line began: the line's own indentation, kept.
    let mut at_start = true;
    let mut spaces = 0;
    for (i, word) in line.split(' ').enumerate() {
        if i > 0 {
            spaces += 1;
        }
        if word.is_empty() {
            continue;
        }
        let w = display_width(word);
        // The line's own indentation, or the spaces between words that share a line.
        if at_start || cur_w + spaces + w <= width {
            cur.push_str(&" ".repeat(spaces));
            cur_w += spaces;
        } else {
            lines.push(std::mem::take(&mut cur));
            cur.push_str(&" ".repeat(indent));
            cur_w = indent;
        }
        spaces = 0;
        at_start = false;
        if cur_w + w <= width {
            cur.push_str(word);
            cur_w += w;
            continue;
        }
        // Too long for any line: cut it, character by character, colour sequences whole.
        let mut chars = word.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                cur.push(c);
                for c in chars.by_ref() {
                    cur.push(c);
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
                continue;
            }
            let cw = c.width().unwrap_or(0);
            if cur_w + cw > width && cur_w > indent {
                lines.push(std::mem::take(&mut cur));
                cur.push_str(&" ".repeat(indent));
                cur_w = indent;
            }
            cur.push(c);
            cur_w += cw;
        }
    }
    if !cur.trim().is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_skip_colour_and_count_wide_characters() {
        assert_eq!(display_width("\x1b[1;31merror\x1b[0m"), 5);
        assert_eq!(display_width("a😀b"), 4);
    }

    #[test]
    fn previews_fit_their_columns_with_a_count() {
        let bytes: Vec<u8> = (0..100).collect();
        let p = preview_within(&bytes, 100, false, 64, 40);
        assert!(display_width(&p) <= 40, "{p}");
        assert!(p.starts_with("00 01 02"), "{p}");
        let shown = p.split(' ').take_while(|s| s.len() == 2).count();
        assert!(p.ends_with(&format!("…(+{} bytes)", 100 - shown)), "{p}");
        // Everything fits: no count.
        assert_eq!(preview_within(b"mid", 3, true, 64, 40), "\"mid\"");
        // Cut at 64 bytes however wide the line.
        let text = "x".repeat(100);
        let p = preview_within(text.as_bytes(), 100, true, 64, 1000);
        assert_eq!(p, format!("\"{}\" …(+36 bytes)", "x".repeat(64)));
        let p = preview_within(text.as_bytes(), 100, true, 64, 30);
        assert!(display_width(&p) <= 30, "{p}");
        assert!(p.starts_with("\"xxx") && p.contains("…(+"), "{p}");
    }

    #[test]
    fn wrapping_keeps_indentation_and_cuts_long_words() {
        let line = "  conn 1 ended (fin) at #43: c2s 14 frames, 5 messages, 70827 payload bytes; s2c 9 frames";
        let lines = wrap(line, 40, 6);
        assert!(lines.iter().all(|l| display_width(l) <= 40), "{lines:#?}");
        assert!(lines[0].starts_with("  conn 1 ended"));
        assert!(lines[1..]
            .iter()
            .all(|l| l.starts_with("      ") && !l.starts_with("       ")));
        assert_eq!(
            lines.join(" ").split_whitespace().collect::<Vec<_>>(),
            line.split_whitespace().collect::<Vec<_>>()
        );
        let long = format!("  #1 {}", "a".repeat(100));
        let lines = wrap(&long, 30, 4);
        assert!(lines.iter().all(|l| display_width(l) <= 30), "{lines:#?}");
        assert_eq!(lines.concat().matches('a').count(), 100);
    }
}
