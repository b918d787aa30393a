//! Lines that fit the terminal: display width (colour escapes take none, wide characters two),
//! payload previews cut to a number of columns with a count of what they leave out, and long
//! lines wrapped at spaces onto indented continuation lines.

use std::io::{self, Write};

use unicode_width::UnicodeWidthChar;

use super::digits::{
    decimal_digits, decimal_word, hex_pair, hex_word, push_decimal, push_word, DIGIT_PAIRS,
};
use super::escape::{push_byte_escape, push_escaped};
use super::style::Style;
use super::words::{
    count_marked, printable_word_escapes, push_escaped_word, word_of, HIGH_BITS, LOW_BITS,
};
use crate::base::Direction;

/// What follows a preview that was cut: `…(+N bytes)`, `…(+1 byte)`.
pub fn elided_note(more: u64) -> String {
    let unit = if more == 1 { "byte" } else { "bytes" };
    format!("…(+{more} {unit})")
}

/// The columns a line takes on a terminal: SGR colour sequences (`ESC [ … m`) take none.
pub fn display_width(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut w = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // Most of a line: printable ASCII, a column a byte.
            0x20..=0x7e => {
                w += 1;
                i += 1;
            }
            // Our own colour sequences only: ESC [ parameters m.
            0x1b => {
                i += 1;
                while i < bytes.len() && !bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                i += 1;
            }
            // Other C0 controls and DEL take no column.
            0..=0x7f => i += 1,
            _ => match s[i..].chars().next() {
                Some(c) => {
                    w += c.width().unwrap_or(0);
                    i += c.len_utf8();
                }
                None => break,
            },
        }
    }
    w
}

/// A line being built in place, with the columns it takes counted as each piece is added, so
/// it is never measured again. A view keeps one and clears it for each line: the buffer is
/// reused, and the line is written with one `write_all`.
///
/// The text is kept as bytes, not a `String`: escaped printable ASCII goes in without a
/// second UTF-8 check, and short pieces go in as fixed-size stores instead of a `memcpy`
/// call each. It stays UTF-8 all the same: only `&str`s, and bytes this module has checked to
/// be printable ASCII (or writes itself: digits, spaces, hex), are appended.
#[derive(Default)]
pub struct Line {
    text: Vec<u8>,
    width: usize,
    /// The bytes of lines already ended (see [`Line::end_line`]) at the start of `text`: the
    /// line being built and its width are what follows.
    done: usize,
    /// Where the general preview path (escapes, wide characters, hex) writes, to be appended:
    /// it is written in terms of `String`.
    scratch: String,
}

/// A place in a [`Line`] to cut it back to.
#[derive(Clone, Copy)]
pub struct Mark {
    len: usize,
    width: usize,
}

/// A buffer grown past this by a huge line is let go once the line is written.
const KEEP_CAPACITY: usize = 1 << 20;

/// The most spaces [`Line::spaces`] appends with one fixed-size store (then cut back): a
/// field's padding is rarely wider.
const SLACK: usize = 32;

impl Line {
    #[inline]
    pub fn clear(&mut self) {
        if self.text.capacity() > KEEP_CAPACITY {
            self.text = Vec::new();
        }
        if self.scratch.capacity() > KEEP_CAPACITY {
            self.scratch = String::new();
        }
        self.text.clear();
        self.width = 0;
        self.done = 0;
    }

    /// Ends the line: a newline, and a new line begins after it in the same buffer, written
    /// with it (a frame's head and its preview under it: one write, not two).
    #[inline]
    pub fn end_line(&mut self) {
        self.text.push(b'\n');
        self.done = self.text.len();
        self.width = 0;
    }

    /// The lines already ended, each with its newline.
    pub fn ended(&self) -> &[u8] {
        &self.text[..self.done]
    }

    /// The text of the line being built (checked to be UTF-8, as it always is: see [`Line`]).
    pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
        let text = String::from_utf8_lossy(&self.text[self.done..]);
        debug_assert_eq!(self.width, display_width(&text), "{text:?}");
        text
    }

    /// The text as it is written: the lines already ended, and the one being built.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        debug_assert!(std::str::from_utf8(&self.text).is_ok());
        &self.text
    }

    /// The line as a `String`.
    pub fn into_string(self) -> String {
        String::from_utf8(self.text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// The columns the line takes on a terminal (as [`display_width`] would count them).
    #[inline]
    pub fn width(&self) -> usize {
        self.width
    }

    /// Printable ASCII: a column a byte.
    #[inline]
    pub fn ascii(&mut self, s: &str) {
        debug_assert!(s.bytes().all(|b| (0x20..0x7f).contains(&b)), "{s:?}");
        self.text.extend_from_slice(s.as_bytes());
        self.width += s.len();
    }

    /// Any text, measured.
    pub fn text(&mut self, s: &str) {
        self.text.extend_from_slice(s.as_bytes());
        self.width += display_width(s);
    }

    /// `n` spaces: one fixed-size store and a cut when there are few (the usual padding).
    #[inline]
    pub fn spaces(&mut self, n: usize) {
        let at = self.text.len();
        if n <= SLACK {
            self.text.extend_from_slice(&[b' '; SLACK]);
            self.text.truncate(at + n);
        } else {
            self.text.resize(at + n, b' ');
        }
        self.width += n;
    }

    /// Spaces from column `from` to at least `cols` columns after it, like a field written
    /// with `{:<cols}` that started at `from`.
    #[inline]
    pub fn pad(&mut self, from: usize, cols: usize) {
        self.spaces((from + cols).saturating_sub(self.width));
    }

    /// [`Line::pad`] and the space after the field, in one piece.
    #[inline]
    pub fn end_field(&mut self, from: usize, cols: usize) {
        self.spaces((from + cols).saturating_sub(self.width) + 1);
    }

    /// A number in decimal, written in place two digits at a time.
    #[inline]
    pub fn number(&mut self, n: u64) {
        self.width += push_decimal(&mut self.text, n);
    }

    /// `secs.micros`, the microseconds as six digits (`0.013558`), right-aligned in `cols`
    /// columns: the time column of a frame's line.
    pub fn seconds(&mut self, secs: u64, micros: u32, cols: usize) {
        debug_assert!(micros < 1_000_000);
        // The point and six digits, two at a time, as one word.
        let pair = |n: u32| u64::from(u16::from_le_bytes(DIGIT_PAIRS[(n % 100) as usize]));
        let fraction = u64::from(b'.')
            | pair(micros / 10_000) << 8
            | pair(micros / 100) << 24
            | pair(micros) << 40;
        if secs < 10 {
            // The usual time, `0.013558`: the digit and the fraction as one word.
            self.spaces(cols.saturating_sub(8));
            let word = (u64::from(b'0') + secs) | fraction << 8;
            self.text.extend_from_slice(&word.to_le_bytes());
            self.width += 8;
            return;
        }
        if secs < 100_000_000 {
            let (word, digits) = decimal_word(secs);
            self.spaces(cols.saturating_sub(digits + 7));
            push_word(&mut self.text, word, digits);
            self.width += digits;
        } else {
            self.spaces(cols.saturating_sub(decimal_digits(secs) + 7));
            self.number(secs);
        }
        push_word(&mut self.text, fraction, 7);
        self.width += 7;
    }

    /// Bytes in lower-case hex, two columns each.
    pub fn hex(&mut self, b: &[u8]) {
        if let Ok(key) = <[u8; 4]>::try_from(b) {
            // A mask key (every masked frame has one): its eight digits stored as one word.
            push_word(&mut self.text, hex_word(key), 8);
        } else {
            for &byte in b {
                self.text.extend_from_slice(&hex_pair(byte));
            }
        }
        self.width += 2 * b.len();
    }

    /// Text in a colour (when colour is on): escapes take no column.
    pub fn direction(&mut self, style: Style, dir: Direction, s: &str) {
        let mut painted = String::new();
        style.push_direction(&mut painted, dir, s);
        self.text.extend_from_slice(painted.as_bytes());
        self.width += display_width(s);
    }

    /// Another line's text.
    #[inline]
    pub fn append(&mut self, other: &Line) {
        debug_assert_eq!(other.done, 0);
        // Most tails are empty: no call to copy nothing.
        if other.text.is_empty() {
            return;
        }
        self.text.extend_from_slice(&other.text);
        self.width += other.width;
    }

    /// A payload preview cut to `cols` columns (see [`fit_preview`]); whether all of it fit.
    /// Most texts are cut in their printable ASCII start, which has a path of its own.
    pub fn preview(
        &mut self,
        kept: &[u8],
        total: u64,
        as_text: bool,
        limit: usize,
        cols: usize,
    ) -> bool {
        let shown = &kept[..limit.min(kept.len())];
        if as_text {
            if let Some((width, fits)) = push_ascii_preview(&mut self.text, shown, total, cols) {
                self.width += width;
                return fits;
            }
        }
        self.scratch.clear();
        let (width, fits) = push_preview_by_units(&mut self.scratch, shown, total, as_text, cols);
        self.text.extend_from_slice(self.scratch.as_bytes());
        self.width += width;
        fits
    }

    /// The line (after the lines already ended) and a newline written with one call (a call
    /// a line, not two); the line is left as it was.
    pub fn write_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        debug_assert_eq!(self.width, display_width(&self.as_str()));
        self.text.push(b'\n');
        let written = out.write_all(&self.text);
        self.text.pop();
        written
    }

    #[inline]
    pub fn mark(&self) -> Mark {
        Mark {
            len: self.text.len(),
            width: self.width,
        }
    }

    /// Back to what the line was at `mark`.
    pub fn truncate(&mut self, mark: Mark) {
        self.text.truncate(mark.len);
        self.width = mark.width;
    }

    /// Without its trailing spaces (a padded field's, a few at most).
    pub fn trim_end(&mut self) {
        while self.text.last() == Some(&b' ') {
            self.text.pop();
            self.width -= 1;
        }
    }
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
    fit_preview(kept, total, as_text, limit, cols).0
}

/// [`preview_within`], and whether the whole preview of `limit` bytes fit (nothing was left
/// out for want of columns).
pub fn fit_preview(
    kept: &[u8],
    total: u64,
    as_text: bool,
    limit: usize,
    cols: usize,
) -> (String, bool) {
    let mut line = Line::default();
    let fits = line.preview(kept, total, as_text, limit, cols);
    (line.into_string(), fits)
}

/// Whether the whole preview of `limit` of the `kept` bytes might fit in `cols` columns: false
/// when it takes more at least, cheaper to say than trying to fit it. In text, the quotes
/// and a column or more for each ASCII byte (other characters may take none); in hex, 3
/// columns a byte but the first; then the count of what is left out.
#[inline]
pub fn preview_may_fit(kept: &[u8], total: u64, as_text: bool, limit: usize, cols: usize) -> bool {
    let shown = &kept[..kept.len().min(limit)];
    let note = match total.saturating_sub(shown.len() as u64) {
        0 => 0,
        more => 1 + note_width(more),
    };
    let Some(room) = cols.checked_sub(note) else {
        return false;
    };
    match as_text {
        true => room.checked_sub(2).is_some_and(|room| {
            shown.iter().filter(|b| b.is_ascii()).take(room + 1).count() <= room
        }),
        false => (3 * shown.len()).saturating_sub(1) <= room,
    }
}

/// The columns a byte takes in a quoted preview when it is printable ASCII: one, or two for
/// the quote and the backslash (escaped). 0 for any other byte.
static ASCII_COLUMNS: [u8; 256] = {
    let mut columns = [0; 256];
    let mut b = b' ';
    while b <= b'~' {
        columns[b as usize] = 1;
        b += 1;
    }
    columns[b'"' as usize] = 2;
    columns[b'\\' as usize] = 2;
    columns
};

fn ascii_columns(b: u8) -> usize {
    usize::from(ASCII_COLUMNS[usize::from(b)])
}

/// [`Line::preview`] of a text whose cut, or whole, lies in its printable ASCII start (JSON
/// and most other text), appended to `out`: the columns it took and whether the whole preview
/// fit. Measured and escaped in one pass, eight bytes a step; the count is worked out only
/// where the text is cut. `None`, with nothing appended, when another kind of byte comes
/// first.
fn push_ascii_preview(
    out: &mut Vec<u8>,
    shown: &[u8],
    total: u64,
    cols: usize,
) -> Option<(usize, bool)> {
    // A rest counted shorter than the bytes shown (a broken length) could make a longer cut
    // narrower than a shorter one, which the search below does not expect.
    if total < shown.len() as u64 {
        return None;
    }
    // The printable ASCII start that fits with the quotes and the shortest count there can
    // be, the whole preview's.
    let room = cols.saturating_sub(2 + note_columns(total - shown.len() as u64));
    let start = out.len();
    out.push(b'"');
    let (mut end, mut width) = push_ascii_start(out, shown, room);
    match shown.get(end) {
        // All of it fits (or there is nothing to cut).
        None => {}
        // The next byte does not fit even with that count: the preview is cut before it.
        Some(&b) if ascii_columns(b) > 0 => {
            let written = width;
            (end, width) = ascii_cut(shown, total, cols, end, width);
            // The escaped text is as long as it is wide: cut back to where the cut is, or,
            // when not even the first byte fit, that byte written all the same.
            if width < written {
                out.truncate(start + 1 + width);
            } else if width > written {
                push_ascii_start(out, &shown[..end], usize::MAX);
            }
        }
        // Other bytes take any number of columns (an accent none): the general path.
        Some(_) => {
            out.truncate(start);
            return None;
        }
    }
    out.push(b'"');
    let width = 2 + width + push_note_bytes(out, total - end as u64);
    Some((width, end == shown.len() && width <= cols))
}

/// Where a text preview is cut, when its first `end` bytes, printable ASCII of `width`
/// columns, are known to be all that could fit: the longest start that fits with the count
/// of what it leaves out, at least a byte, and its columns. A byte less narrows the text by a
/// column or two and widens the count by a column at most, so the first start that fits,
/// from the longest down, is the one.
fn ascii_cut(
    shown: &[u8],
    total: u64,
    cols: usize,
    mut end: usize,
    mut width: usize,
) -> (usize, usize) {
    let mut note = note_columns(total - end as u64);
    while end > 1 && 2 + width + note > cols {
        end -= 1;
        width -= ascii_columns(shown[end]);
        // The count widens only when the rest reaches a power of ten (or two bytes).
        note = note_columns(total - end as u64);
    }
    if end == 0 {
        // Not even the first byte fits: it is shown all the same.
        return (1, ascii_columns(shown[0]));
    }
    (end, width)
}

/// The printable ASCII start of `bytes` that fits in `room` columns, appended to `out` as a
/// quoted preview shows it (quotes and backslashes escaped, two columns each): the bytes taken
/// and their columns, which are also the bytes appended. Eight bytes a step while a whole word
/// is printable and fits, then a byte a step (the edge, or the first other byte, is in that
/// word). Written in place in `out`, grown first by as much as the text could take.
fn push_ascii_start(out: &mut Vec<u8>, bytes: &[u8], room: usize) -> (usize, usize) {
    let start = out.len();
    // The escaped text is as long as it is wide: at most `room`, and two bytes a byte. Then
    // room for a word stored whole past that (16 bytes escaped, stored 8 at a time), cut off
    // below. Most previews fit in a fixed-size store, which needs no call to `memset`.
    const USUAL: usize = 128;
    let most = room.min(2 * bytes.len()) + 24;
    if most <= USUAL {
        out.extend_from_slice(&[0; USUAL]);
    } else {
        out.resize(start + most, 0);
    }
    let dst = &mut out[start..];
    let (mut taken, mut width) = (0, 0);
    for word in bytes.chunks_exact(8) {
        let word = word_of(word);
        let Some(escapes) = printable_word_escapes(word) else {
            break;
        };
        let end = push_escaped_word(dst, width, word, escapes);
        if end > room {
            // The edge is in this word: the bytes of it that fit, the rest cut off below.
            let (n, w) = word_start_within(escapes, room - width);
            (taken, width) = (taken + n, width + w);
            out.truncate(start + width);
            return (taken, width);
        }
        (taken, width) = (taken + 8, end);
    }
    for &b in &bytes[taken..] {
        let w = ascii_columns(b);
        if w == 0 || width + w > room {
            break;
        }
        // A backslash, kept when the byte is escaped and else written over by the byte.
        dst[width] = b'\\';
        dst[width + w - 1] = b;
        (taken, width) = (taken + 1, width + w);
    }
    out.truncate(start + width);
    (taken, width)
}

/// How many of a printable word's bytes fit in `room` columns (fewer than the word takes), and
/// their columns, from which bytes are escaped. Each byte's columns (1, or 2 escaped) summed
/// up the word by one multiplication: byte `i` then holds the columns of bytes `0..=i` (at most
/// 16, so no sum carries into the next byte).
#[inline]
fn word_start_within(escapes: u64, room: usize) -> (usize, usize) {
    debug_assert!(room < 16);
    let starts = ((escapes >> 7) + LOW_BITS).wrapping_mul(LOW_BITS);
    // The top bit of each start wider than `room`: subtracting `room + 1` from the start with
    // its top bit set leaves that bit only then, and never borrows from the next byte.
    let wider = ((starts | HIGH_BITS) - LOW_BITS * (room as u64 + 1)) & HIGH_BITS;
    let n = 8 - count_marked(wider);
    // The columns of the first `n` bytes: byte `n - 1` of the starts (none for no byte).
    let columns = (starts << 8).checked_shr(8 * n as u32).unwrap_or(0) & 0xff;
    (n, columns as usize)
}

/// [`push_preview`] a unit at a time, without a string per unit.
fn push_preview_by_units(
    out: &mut String,
    shown: &[u8],
    total: u64,
    as_text: bool,
    cols: usize,
) -> (usize, bool) {
    let start = out.len();
    out.reserve(shown.len().min(cols) + 24);
    if as_text {
        out.push('"');
    }
    let mut width = if as_text { 2 } else { 0 };
    let mut at = 0usize;
    // The text's valid UTF-8 part, checked once: runs of plain ASCII are sliced from it.
    let valid = match std::str::from_utf8(shown) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&shown[..e.valid_up_to()]).unwrap_or_default(),
    };
    while at < shown.len() {
        if as_text {
            // A run of printable ASCII goes in at once, as much as fits with the count of
            // what follows its first byte (the count only narrows as the run goes on).
            let left = total.saturating_sub(at as u64 + 1);
            let note = note_columns(left);
            let (n, w) = push_ascii_run(out, shown, valid, at, cols.saturating_sub(width + note));
            width += w;
            at += n;
            if at == shown.len() {
                break;
            }
        }
        let before = out.len();
        let (n, w) = match shown[at] {
            // Most of a text: printable ASCII, a quote or a backslash escaped.
            b @ (b'"' | b'\\') if as_text => {
                out.push('\\');
                out.push(char::from(b));
                (1, 2)
            }
            b @ (b' '..=b'~') if as_text => {
                out.push(char::from(b));
                (1, 1)
            }
            _ => {
                let (unit, n) = Unit::at(shown, at, as_text);
                (n, unit.push(out, at > 0))
            }
        };
        // Room for this unit, and for the count of what still follows it (the widest count,
        // of 20 digits, is 31 columns: far from the edge it need not be worked out).
        let note = match total.saturating_sub((at + n) as u64) {
            0 => 0,
            _ if width + w + 31 <= cols => 0,
            left => note_columns(left),
        };
        if width + w + note > cols && at > 0 {
            out.truncate(before);
            // The count of a long rest can be wider than the rest itself: all of it may fit.
            // (Most rests are seen not to fit without measuring them.)
            let final_note = note_columns(total.saturating_sub(shown.len() as u64));
            let room = cols.saturating_sub(width + final_note);
            if at_least_columns(&shown[at..], as_text, room + 1) <= room
                && width + rest_width(shown, at, as_text, total) <= cols
            {
                out.truncate(start);
                return (push_whole_preview(out, shown, total, as_text), true);
            }
            break;
        }
        width += w;
        at += n;
    }
    if as_text {
        out.push('"');
    }
    width += push_note(out, total.saturating_sub(at as u64));
    // Every unit, within the columns (the first unit is shown even when it does not fit).
    let fits = at == shown.len() && width <= cols;
    (width, fits)
}

/// The columns `bytes` take in a preview at least, counted up to `most`: a column or more for
/// each byte in hex and for each ASCII byte of text (other characters may take none, as a
/// combining accent does).
fn at_least_columns(bytes: &[u8], as_text: bool, most: usize) -> usize {
    match as_text {
        true => bytes.iter().filter(|b| b.is_ascii()).take(most).count(),
        false => bytes.len().min(most),
    }
}

/// The columns the units of `shown` from `at` take, with the count after them.
fn rest_width(shown: &[u8], mut at: usize, as_text: bool, total: u64) -> usize {
    let mut scratch = String::new();
    let mut w = 0;
    while at < shown.len() {
        let (unit, n) = Unit::at(shown, at, as_text);
        scratch.clear();
        w += unit.push(&mut scratch, at > 0);
        at += n;
    }
    let more = total.saturating_sub(shown.len() as u64);
    w + if more > 0 { 1 + note_width(more) } else { 0 }
}

/// The preview of all of `shown`, however wide, appended to `out`; returns its columns.
/// (Only the general path gets here: the ASCII path declines the same preview however wide.)
fn push_whole_preview(out: &mut String, shown: &[u8], total: u64, as_text: bool) -> usize {
    push_preview_by_units(out, shown, total, as_text, usize::MAX).0
}

/// Printable ASCII from `bytes[at]` on, as a preview shows it (quotes and backslashes
/// escaped), within `cols` columns, appended to `out`: the bytes taken and their columns.
/// `valid` is the valid UTF-8 start of `bytes`, which plain stretches are copied from.
fn push_ascii_run(
    out: &mut String,
    bytes: &[u8],
    valid: &str,
    at: usize,
    cols: usize,
) -> (usize, usize) {
    if at >= valid.len() {
        return (0, 0); // past an invalid byte: unit by unit
    }
    let (mut end, mut width, mut plain_from) = (at, 0, at);
    while end < valid.len() {
        let w = match bytes[end] {
            b'"' | b'\\' => 2,
            b' '..=b'~' => 1,
            _ => break,
        };
        if width + w > cols {
            break;
        }
        if w == 2 {
            out.push_str(&valid[plain_from..end]);
            out.push('\\');
            plain_from = end;
        }
        width += w;
        end += 1;
    }
    out.push_str(&valid[plain_from..end]);
    (end - at, width)
}

/// ` ` and [`elided_note`]`(more)` appended to `out` when `more` bytes are left out; returns
/// the columns that takes.
fn push_note(out: &mut String, more: u64) -> usize {
    if more == 0 {
        return 0;
    }
    out.push_str(" …(+");
    out.push_str(itoa::Buffer::new().format(more));
    out.push_str(if more == 1 { " byte)" } else { " bytes)" });
    1 + note_width(more)
}

/// [`push_note`] appended to bytes: the digits written in place, each piece a fixed-size
/// store.
fn push_note_bytes(out: &mut Vec<u8>, more: u64) -> usize {
    if more == 0 {
        return 0;
    }
    out.extend_from_slice(" …(+".as_bytes());
    let digits = push_decimal(out, more);
    if more == 1 {
        out.extend_from_slice(b" byte)");
        1 + 3 + digits + 6
    } else {
        out.extend_from_slice(b" bytes)");
        1 + 3 + digits + 7
    }
}

/// The columns [`push_note`] takes: none when nothing is left out.
fn note_columns(more: u64) -> usize {
    match more {
        0 => 0,
        more => 1 + note_width(more),
    }
}

/// The columns of [`elided_note`]`(more)`: `…(+`, the digits, ` bytes)` (` byte)` for one).
fn note_width(more: u64) -> usize {
    let digits = decimal_digits(more);
    3 + digits + if more == 1 { 6 } else { 7 }
}

/// One unit of a preview: a character or an invalid byte of text, or a byte in hex. A line
/// broken between units never splits an escape.
#[derive(Clone, Copy)]
enum Unit {
    Char(char),
    Invalid(u8),
    Hex(u8),
}

impl Unit {
    /// The unit at `at` in `bytes`, and the bytes it stands for. As text, a character, or
    /// an invalid byte on its own (as `escape_bytes` writes them: each byte of an invalid
    /// sequence is escaped, and a continuation byte never starts a character).
    fn at(bytes: &[u8], at: usize, as_text: bool) -> (Unit, usize) {
        let b = bytes[at];
        if !as_text {
            return (Unit::Hex(b), 1);
        }
        if b < 0x80 {
            return (Unit::Char(char::from(b)), 1);
        }
        let end = (at + 4).min(bytes.len());
        let valid = match std::str::from_utf8(&bytes[at..end]) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&bytes[at..at + e.valid_up_to()]).unwrap_or_default(),
        };
        match valid.chars().next() {
            Some(c) => (Unit::Char(c), c.len_utf8()),
            None => (Unit::Invalid(b), 1),
        }
    }

    /// Appends the unit as it is shown (a hex byte after the first with its space); returns
    /// the columns it takes.
    fn push(self, out: &mut String, not_first: bool) -> usize {
        let before = out.len();
        match self {
            // Most of a text: printable ASCII that needs no escape.
            Unit::Char(c @ (' '..='~')) if c != '"' && c != '\\' => {
                out.push(c);
                1
            }
            Unit::Char(c) => {
                push_escaped(out, c);
                // An escape is ASCII; a character left as it is takes its own width.
                let pushed = out.len() - before;
                if pushed == c.len_utf8() && !c.is_ascii() {
                    c.width().unwrap_or(0)
                } else {
                    pushed
                }
            }
            Unit::Invalid(b) => {
                push_byte_escape(out, b);
                out.len() - before
            }
            Unit::Hex(b) => {
                if not_first {
                    out.push(' ');
                }
                out.extend(hex_pair(b).map(char::from));
                out.len() - before
            }
        }
    }
}

/// `prefix` then the quoted, escaped text of `bytes`, filling each line to `width` columns and
/// going on `indent` columns in. Unlike [`wrap`] nothing is dropped at a break, not even a
/// space, so the lines joined give the text back exactly. `more` bytes left out are counted
/// after the closing quote.
pub fn wrap_quoted(
    prefix: &str,
    bytes: &[u8],
    more: u64,
    width: usize,
    indent: usize,
) -> Vec<String> {
    let indent = indent.min(width / 2);
    let mut lines = Vec::new();
    let mut cur = format!("{prefix}\"");
    let mut cur_w = display_width(&cur);
    let mut unit = String::new();
    let mut at = 0;
    while at < bytes.len() {
        let (u, n) = Unit::at(bytes, at, true);
        at += n;
        unit.clear();
        let w = u.push(&mut unit, false);
        if cur_w + w > width && cur_w > indent {
            lines.push(std::mem::replace(&mut cur, " ".repeat(indent)));
            cur_w = indent;
        }
        cur.push_str(&unit);
        cur_w += w;
    }
    let tail = if more > 0 {
        format!("\" {}", elided_note(more))
    } else {
        "\"".to_string()
    };
    if cur_w + display_width(&tail) > width && cur_w > indent {
        // The closing quote stays with the text; the count may go on.
        cur.push('"');
        lines.push(std::mem::replace(&mut cur, " ".repeat(indent)));
        if more > 0 {
            cur.push_str(&elided_note(more));
        }
    } else {
        cur.push_str(&tail);
    }
    if !cur.trim().is_empty() {
        lines.push(cur);
    }
    lines
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
    use crate::output::escape::{escape_bytes, hex_spaced};

    /// The preview as a string per unit would make it, for comparing with the fast path.
    fn preview_by_units(
        kept: &[u8],
        total: u64,
        as_text: bool,
        limit: usize,
        cols: usize,
    ) -> String {
        let shown = &kept[..limit.min(kept.len())];
        let mut best = String::new();
        // The longest prefix (in units) whose line fits, at least one unit.
        let cuts: Vec<usize> = if as_text {
            let mut cuts = Vec::new();
            let mut at = 0;
            for chunk in shown.utf8_chunks() {
                for c in chunk.valid().chars() {
                    at += c.len_utf8();
                    cuts.push(at);
                }
                for _ in chunk.invalid() {
                    at += 1;
                    cuts.push(at);
                }
            }
            cuts
        } else {
            (1..=shown.len()).collect()
        };
        // Nothing to show: the empty preview (and the count).
        let cuts = if cuts.is_empty() { vec![0] } else { cuts };
        // The whole preview when it fits; else the most units that fit with their count.
        let whole = if as_text {
            format!("\"{}\"", escape_bytes(shown))
        } else {
            hex_spaced(shown)
        };
        let more = total.saturating_sub(shown.len() as u64);
        let whole = if more > 0 {
            format!("{whole} {}", elided_note(more))
        } else {
            whole
        };
        if display_width(&whole) <= cols {
            return whole;
        }
        for (i, &n) in cuts.iter().enumerate() {
            let body = if as_text {
                format!("\"{}\"", escape_bytes(&shown[..n]))
            } else {
                hex_spaced(&shown[..n])
            };
            let more = total.saturating_sub(n as u64);
            let line = if more > 0 {
                format!("{body} {}", elided_note(more))
            } else {
                body
            };
            if display_width(&line) > cols && i > 0 {
                break;
            }
            best = line;
        }
        best
    }

    #[test]
    fn previews_match_their_definition() {
        let samples: [&[u8]; 15] = [
            b"plain text, nothing odd",
            br#"{"conn":1,"dir":"s2c","seq":0,"pad":"\\xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#,
            "h\u{e9}llo \u{1f600} w\u{202e}x\u{7f}\"q\\".as_bytes(),
            b"\xff\xfe bytes \x00\x1b[2J",
            "\u{4e2d}\u{6587}\u{5b57}".as_bytes(),
            b"",
            // The ASCII path's edges: its run ends in a multibyte character, an escape, an
            // invalid byte, a control, an ANSI escape, a character of no width.
            "a run of ASCII then \u{e9}\u{4e2d}\u{1f600} and more".as_bytes(),
            br#""\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\""#,
            b"plain ASCII up to an invalid byte \xff here",
            b"plain ASCII then a control \x01 and a tab\t",
            b"red: \x1b[31mred\x1b[0m and \x9b",
            "combining e\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{200b}\u{200d}!"
                .as_bytes(),
            "bidi \u{202e}override\u{202c} and \u{2028} separator".as_bytes(),
            // Cut inside a character at the end (a truncated copy).
            &"cut at the end \u{4e2d}".as_bytes()[..17],
            &[b'x'; 100],
        ];
        for kept in samples {
            let len = kept.len() as u64;
            let totals = [
                len,
                len + 1,
                len + 9,
                len + 10,
                123_456,
                len.saturating_sub(3),
            ];
            for (total, limit) in totals.into_iter().flat_map(|t| [(t, 64), (t, 9)]) {
                for cols in (1..=80).chain([200]) {
                    for as_text in [true, false] {
                        assert_eq!(
                            preview_within(kept, total, as_text, limit, cols),
                            preview_by_units(kept, total, as_text, limit, cols),
                            "{kept:?} {total} {limit} {cols} {as_text}"
                        );
                    }
                }
            }
        }
        // Longer than the ASCII path's stack buffer, whole and cut.
        let long = br#"{"k":"v\\w", "plain": "a run of plain text"} "#.repeat(40);
        let len = long.len() as u64;
        for (total, cols) in [(len, 5000), (len, 700), (len + 5, 333), (len, 80)] {
            assert_eq!(
                preview_within(&long, total, true, 2000, cols),
                preview_by_units(&long, total, true, 2000, cols),
                "{total} {cols}"
            );
        }
        for n in [1, 2, 9, 10, 99, 100, 999, 1000, 12345, u64::MAX] {
            assert_eq!(note_width(n), display_width(&elided_note(n)));
        }
        // One byte left out is singular (a JSON text one byte too long for its preview, as
        // in samples/apps/graphql/graphql-ws.pcap).
        assert_eq!(elided_note(1), "…(+1 byte)");
        assert_eq!(
            preview_within(b"abc", 4, true, 64, 80),
            "\"abc\" …(+1 byte)"
        );
    }

    /// Texts that put a quote, a backslash, a multibyte character, a control, DEL, an invalid
    /// byte or an escape sequence at every place of the first three eight-byte words.
    fn texts_with_a_byte_at_every_place() -> Vec<Vec<u8>> {
        let specials: [&[u8]; 9] = [
            b"\"",
            b"\\",
            "\u{e9}".as_bytes(),
            b"\x01",
            b"\x7f",
            b"\xff",
            b"\n",
            b"\x1b[",
            b"~",
        ];
        let plain = b"abc defghijklmnopqrstuvwxyz0123456789";
        let mut texts = Vec::new();
        for special in specials {
            for at in 0..=24 {
                let mut text = plain[..at].to_vec();
                text.extend_from_slice(special);
                text.extend_from_slice(&plain[at..]);
                texts.push(text);
            }
        }
        texts
    }

    /// The ASCII path of [`Line::preview`] against the general path, unit by unit: the same
    /// bytes, columns and verdict whenever it takes a preview, and nothing appended when it
    /// declines. Every cut of JSON-like texts (quotes and backslashes at the edges of its
    /// eight-byte words), texts with other bytes at every place, rests shorter and longer than
    /// the bytes, and every width from 0 to 132. It counts the previews the ASCII path took,
    /// so that it cannot pass by declining them all.
    #[test]
    fn ascii_previews_match_the_general_path() {
        let mut texts = texts_with_a_byte_at_every_place();
        texts.push(br#"{"conn":1,"dir":"s2c","seq":0,"pad":"\\xx\"y\\"}"#.to_vec());
        texts.push(br#""\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"\"\\"#.to_vec());
        texts.push(b"\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\".to_vec());
        texts.push(br#"{"k":"v\\w", "plain": "a run of plain text"} "#.repeat(3));
        texts.push(Vec::new());
        let (mut cases, mut taken) = (0, 0);
        for (i, text) in texts.iter().enumerate() {
            // Every cut of the texts that are not one of the many variants above.
            let cuts: Vec<usize> = if i >= texts.len() - 5 {
                (0..=text.len()).collect()
            } else {
                vec![text.len(), 9]
            };
            for shown in cuts.into_iter().filter_map(|n| text.get(..n)) {
                let n = shown.len() as u64;
                let totals = [n, n + 1, n + 9, n + 99, 123_456, n.saturating_sub(1)];
                for total in totals {
                    for cols in 0..=132 {
                        let mut general = String::new();
                        let by_units =
                            push_preview_by_units(&mut general, shown, total, true, cols);
                        let mut fast = Vec::new();
                        cases += 1;
                        match push_ascii_preview(&mut fast, shown, total, cols) {
                            Some(done) => {
                                taken += 1;
                                let what =
                                    format!("{:?} {total} {cols}", String::from_utf8_lossy(shown));
                                assert_eq!(String::from_utf8_lossy(&fast), general, "{what}");
                                assert_eq!(done, by_units, "{what}");
                            }
                            None => assert!(fast.is_empty()),
                        }
                    }
                }
            }
        }
        // The variants with a non-ASCII byte early go the general way; most others do not.
        assert!(taken * 2 > cases, "{taken} of {cases}");
    }

    /// The word-at-a-time check against a byte at a time: each byte of a word, at each
    /// place, set to each of the 256 values, among printable, quote and backslash neighbours.
    #[test]
    fn printable_words_are_measured_as_bytes_are() {
        let mut checked = 0;
        for base in [
            *b"abcdefgh",
            *br#"a"b\c"d\"#,
            *b"\\\\\\\\\\\\\\\\",
            *b"        ",
        ] {
            for at in 0..8 {
                for b in 0..=255u8 {
                    let mut word = base;
                    word[at] = b;
                    let by_bytes = word
                        .iter()
                        .map(|&b| ascii_columns(b))
                        .try_fold(0, |sum, w| (w > 0).then_some(sum + w));
                    let by_word =
                        printable_word_escapes(word_of(&word)).map(|e| 8 + count_marked(e));
                    assert_eq!(by_word, by_bytes, "{word:?}");
                    checked += usize::from(by_bytes.is_some());
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    /// The escaping copy against a byte at a time, from every start to every end of texts
    /// with quotes and backslashes at every place of a word, in every room up to the whole.
    #[test]
    fn escaped_ascii_is_copied_as_bytes_are() {
        let sources = [
            br#"ab"cd\ef"gh\\ij""kl\"mn"\op qr"st\uv wx"yz"#.to_vec(),
            br#""""""""""""""""""""""""""#.to_vec(),
            b"plain printable ASCII, no escapes at all ~!".to_vec(),
            b"printable then \x01 a control".to_vec(),
            // Longer than the usual fixed-size room (grown with `resize`).
            br#"{"k":"v\\w", "plain": "a run of plain text"} "#.repeat(2),
        ];
        for source in sources {
            for start in 0..8 {
                for end in start..=source.len() {
                    let text = &source[start..end];
                    for room in (0..=2 * text.len() + 1).chain([usize::MAX]) {
                        let mut expected = b"before".to_vec();
                        let (mut taken, mut width) = (0, 0);
                        for &b in text {
                            let w = ascii_columns(b);
                            if w == 0 || width + w > room {
                                break;
                            }
                            if w == 2 {
                                expected.push(b'\\');
                            }
                            expected.push(b);
                            (taken, width) = (taken + 1, width + w);
                        }
                        let mut out = b"before".to_vec();
                        let what = format!("{:?} {room}", String::from_utf8_lossy(text));
                        assert_eq!(
                            push_ascii_start(&mut out, text, room),
                            (taken, width),
                            "{what}"
                        );
                        assert_eq!(out, expected, "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn numbers_and_times_are_written_as_format_writes_them() {
        let mut numbers: Vec<u64> = vec![0, u64::MAX, u64::MAX - 1];
        for digits in 1..20 {
            let p = 10u64.pow(digits);
            numbers.extend([p - 1, p, p + 1, p / 2 + 7]);
        }
        for n in numbers {
            let mut line = Line::default();
            line.ascii("x");
            line.number(n);
            assert_eq!(line.as_str(), format!("x{n}"));
            assert_eq!(line.width(), 1 + n.to_string().len());
        }
        for (secs, micros) in [
            (0, 0),
            (0, 13_558),
            (7, 999_999),
            (9, 1),
            (10, 999_000),
            (12_345, 100_000),
            (99_999_999, 10),
            (100_000_000, 1_001),
            (u64::MAX, 1),
        ] {
            for cols in [0, 8, 11, 40] {
                let mut line = Line::default();
                line.seconds(secs, micros, cols);
                let expected = format!("{:>cols$}", format!("{secs}.{micros:06}"));
                assert_eq!(line.as_str(), expected);
                assert_eq!(line.width(), expected.len());
            }
        }
        let mut line = Line::default();
        for n in [0, 1, 5, 31, 32, 33, 100] {
            line.clear();
            line.ascii("#");
            line.spaces(n);
            line.hex(&[0x0a, 0x1b, 0xff]);
            line.hex(&[0x00, 0x9c, 0xf1, 0x7e]);
            assert_eq!(line.as_str(), format!("#{}0a1bff009cf17e", " ".repeat(n)));
            assert_eq!(line.width(), 1 + n + 14);
            line.trim_end();
            assert_eq!(line.width(), 1 + n + 14);
        }
        line.clear();
        line.ascii("a b   ");
        line.trim_end();
        assert_eq!((line.as_str().as_ref(), line.width()), ("a b", 3));
    }

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
    fn quoted_text_fills_lines_and_loses_nothing() {
        let text: Vec<u8> = b"a  b\x01c\xff d ".repeat(20);
        let lines = wrap_quoted("   text      ", &text, 0, 30, 13);
        assert!(lines.iter().all(|l| display_width(l) <= 30), "{lines:#?}");
        assert!(lines[0].starts_with("   text      \"a  b"), "{lines:#?}");
        assert!(lines[1..].iter().all(|l| l.starts_with(&" ".repeat(13))));
        let joined: String = lines.iter().map(|l| &l[13..]).collect();
        assert_eq!(joined, format!("\"{}\"", escape_bytes(&text)));
        let cut = wrap_quoted("x ", b"abc", 7, 80, 2);
        assert_eq!(cut, vec!["x \"abc\" …(+7 bytes)".to_string()]);
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
