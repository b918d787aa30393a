//! `--diagram`: the RFC 6455 §5.2 frame box, bit offsets 0–31 across the top, filled in with
//! one frame's values. Each field sits at its real bit position, so a frame with a 64-bit
//! extended length or a masking key shows the words they take; the payload closes the box
//! with its length and first bytes. 65 columns wide, like the RFC's own drawing.

use super::escape::{escape_bytes, hex_spaced};
use super::fit::display_width;
use crate::ws::frame::{FrameHeader, LengthForm};
use crate::ws::mask::apply_mask;

/// Bits per row, as in the RFC.
const WORD: usize = 32;
/// Payload bytes shown in hex (and as text) on the payload row.
const SHOWN: usize = 12;

/// One field, or the part of one that falls in a row: its width in bits, its name (one line
/// per entry) and its value for this frame.
struct Cell {
    bits: usize,
    label: Vec<String>,
    value: Vec<String>,
}

impl Cell {
    fn new(bits: usize, label: &[&str], value: &[String]) -> Self {
        Cell {
            bits,
            label: label.iter().map(|s| s.to_string()).collect(),
            value: value.to_vec(),
        }
    }

    /// A 1-bit field: its name written downwards (`F I N`), its bit below.
    fn bit(name: &str, set: bool) -> Self {
        Cell {
            bits: 1,
            label: name.chars().map(String::from).collect(),
            value: vec![u8::from(set).to_string()],
        }
    }

    fn width(&self) -> usize {
        self.bits * 2 - 1
    }
}

/// `text` centred in `w` columns (one more space on the left when it cannot be exact, as the
/// RFC's ` opcode`), cut with `…` if it does not fit.
fn centred(text: &str, w: usize) -> String {
    let text = fit_to(text, w);
    let tw = display_width(&text);
    let left = (w - tw).div_ceil(2);
    format!("{}{text}{}", " ".repeat(left), " ".repeat(w - tw - left))
}

/// `text` cut to `w` columns, ending in `…` when cut.
fn fit_to(text: &str, w: usize) -> String {
    if display_width(text) <= w {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        let mut next = out.clone();
        next.push(c);
        if display_width(&next) + 1 > w {
            break;
        }
        out = next;
    }
    out.push('…');
    out
}

/// The two header lines: tens over every tenth bit, then the bit offsets 0-9 repeating.
fn offsets() -> [String; 2] {
    let mut tens = String::from(" ");
    let mut units = String::from(" ");
    for i in 0..WORD {
        tens.push(if i % 10 == 0 {
            char::from(b'0' + (i / 10) as u8)
        } else {
            ' '
        });
        units.push(char::from(b'0' + (i % 10) as u8));
        if i + 1 < WORD {
            tens.push(' ');
            units.push(' ');
        }
    }
    [tens.trim_end().to_string(), units]
}

/// Where cells start and end within a row, as bit offsets.
fn boundaries(row: &[Cell]) -> Vec<usize> {
    let mut at = vec![0];
    for c in row {
        at.push(at.last().unwrap() + c.bits);
    }
    at
}

/// A rule `+-+---+`: `+` at every boundary of either row (the one above, the one below),
/// `-` elsewhere.
fn rule(a: &[usize], b: &[usize]) -> String {
    let ends = a.last().max(b.last()).copied().unwrap_or(0);
    let mut s = String::new();
    for bit in 0..=ends {
        s.push(if a.contains(&bit) || b.contains(&bit) {
            '+'
        } else {
            '-'
        });
        if bit < ends {
            s.push('-');
        }
    }
    s
}

/// The lines of one row: `|` between cells, each cell's entry `i` centred.
fn cell_lines(row: &[Cell], height: usize, pick: fn(&Cell) -> &Vec<String>) -> Vec<String> {
    (0..height)
        .map(|i| {
            let mut line = String::from("|");
            for c in row {
                let text = pick(c).get(i).map(String::as_str).unwrap_or("");
                line.push_str(&centred(text, c.width()));
                line.push('|');
            }
            line
        })
        .collect()
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The header's fields, at their bit positions (fields that cross a row are already split).
fn header_cells(h: &FrameHeader, hb: &[u8]) -> Vec<Cell> {
    let mut cells = vec![
        Cell::bit("FIN ", h.fin),
        Cell::bit("RSV1", h.rsv1),
        Cell::bit("RSV2", h.rsv2),
        Cell::bit("RSV3", h.rsv3),
        Cell::new(4, &["opcode", "(4)"], &[format!("0x{:X}", h.opcode.bits())]),
        Cell::bit("MASK", h.masked),
        Cell::new(7, &["Payload len", "(7)"], &[h.len7.to_string()]),
    ];
    let key_at = match h.length_form {
        LengthForm::Short => 2,
        LengthForm::Extended16 => {
            cells.push(Cell::new(
                16,
                &["Extended payload length", "(16)"],
                &[format!("{} → {}", hex_spaced(&hb[2..4]), h.payload_len)],
            ));
            4
        }
        LengthForm::Extended64 => {
            cells.push(Cell::new(
                16,
                &["Extended payload length", "(64)"],
                &[hex_spaced(&hb[2..4])],
            ));
            cells.push(Cell::new(
                32,
                &["Extended payload length continued"],
                &[hex_spaced(&hb[4..8])],
            ));
            cells.push(Cell::new(
                16,
                &["... continued"],
                &[format!("{} → {}", hex_spaced(&hb[8..10]), h.payload_len)],
            ));
            10
        }
    };
    if let Some(key) = h.mask_key {
        if key_at % 4 == 0 {
            cells.push(Cell::new(32, &["Masking-key (32)"], &[hex_spaced(&key)]));
        } else {
            cells.push(Cell::new(
                16,
                &["Masking-key (32)"],
                &[hex_spaced(&key[..2])],
            ));
            cells.push(Cell::new(
                16,
                &["Masking-key (continued)"],
                &[hex_spaced(&key[2..])],
            ));
        }
    }
    cells
}

/// The §5.2 box for a frame: its header (`hb`, at least `h.header_len` bytes), the payload
/// bytes kept (`data`, unmasked) and how many payload bytes never arrived (`missing`).
pub fn frame_diagram(h: &FrameHeader, hb: &[u8], data: &[u8], missing: u64) -> Vec<String> {
    let mut cells = header_cells(h, hb);
    let present = (h.payload_len - missing.min(h.payload_len)).min(data.len() as u64) as usize;
    let mut wire = data[..present].to_vec();
    if let Some(key) = h.mask_key {
        apply_mask(&mut wire, key, 0);
    }
    // The rest of the header's last word: where the payload starts.
    let used: usize = cells.iter().map(|c| c.bits).sum();
    if used % WORD != 0 {
        let (label, value) = match (h.payload_len, present) {
            (0, _) => ("(no payload)", String::new()),
            (_, 0) => ("Payload Data", "(not captured)".to_string()),
            _ => ("Payload Data", hex_spaced(&wire[..present.min(2)])),
        };
        cells.push(Cell::new(WORD - used % WORD, &[label], &[value]));
    }
    // Then a full row for the payload: its length, its first bytes and, masked, the data.
    if h.payload_len > 0 {
        let mut about = format!(
            "Payload Data: {} byte{}",
            h.payload_len,
            plural(h.payload_len)
        );
        if h.masked {
            about.push_str(", masked on the wire");
        }
        if missing > 0 {
            about.push_str(&format!(", only {present} present"));
        }
        let shown = &wire[..present.min(SHOWN)];
        let cut = if shown.len() < present || (present as u64) < h.payload_len {
            " …"
        } else {
            ""
        };
        let mut value = Vec::new();
        if !shown.is_empty() {
            value.push(format!("{}{cut}", hex_spaced(shown)));
            let text = fit_to(&escape_bytes(&data[..shown.len()]), WORD * 2 - 16);
            let text = format!("\"{text}\"{}", cut.trim());
            value.push(if h.masked {
                format!("unmasked: {text}")
            } else {
                text
            });
        }
        cells.push(Cell {
            bits: WORD,
            label: vec![about],
            value,
        });
    }

    // Pack the cells into 32-bit rows, then draw.
    let mut rows: Vec<Vec<Cell>> = vec![Vec::new()];
    let mut fill = 0;
    for c in cells {
        if fill == WORD {
            rows.push(Vec::new());
            fill = 0;
        }
        fill += c.bits;
        rows.last_mut().unwrap().push(c);
    }
    let mut lines: Vec<String> = offsets().into();
    let bounds: Vec<Vec<usize>> = rows.iter().map(|r| boundaries(r)).collect();
    lines.push(rule(&bounds[0], &[]));
    for (i, row) in rows.iter().enumerate() {
        let names = row.iter().map(|c| c.label.len()).max().unwrap_or(0);
        let values = row.iter().map(|c| c.value.len()).max().unwrap_or(0);
        lines.extend(cell_lines(row, names, |c| &c.label));
        lines.push(rule(&bounds[i], &[]));
        lines.extend(cell_lines(row, values, |c| &c.value));
        lines.push(rule(&bounds[i], bounds.get(i + 1).map_or(&[][..], |b| b)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::frame::{decode_frame_header, HeaderDecode};

    /// The box for a whole frame given as bytes.
    fn draw(frame: &[u8]) -> String {
        let HeaderDecode::Complete(h) = decode_frame_header(frame) else {
            panic!("incomplete header")
        };
        let mut data = frame[h.header_len as usize..].to_vec();
        if let Some(key) = h.mask_key {
            apply_mask(&mut data, key, 0);
        }
        let missing = h.payload_len - data.len() as u64;
        let lines = frame_diagram(&h, frame, &data, missing);
        for l in &lines {
            assert!(display_width(l) <= 65, "too wide: {l}");
        }
        lines.join("\n") + "\n"
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc_unmasked_hello() {
        assert_eq!(
            draw(&hex("81 05 48 65 6c 6c 6f")),
            r#" 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-------+-+-------------+-------------------------------+
|F|R|R|R| opcode|M| Payload len |          Payload Data         |
|I|S|S|S|  (4)  |A|     (7)     |                               |
|N|V|V|V|       |S|             |                               |
| |1|2|3|       |K|             |                               |
+-+-+-+-+-------+-+-------------+-------------------------------+
|1|0|0|0|  0x1  |0|      5      |             48 65             |
+-+-+-+-+-------+-+-------------+-------------------------------+
|                     Payload Data: 5 bytes                     |
+---------------------------------------------------------------+
|                         48 65 6c 6c 6f                        |
|                            "Hello"                            |
+---------------------------------------------------------------+
"#
        );
    }

    #[test]
    fn rfc_masked_hello() {
        assert_eq!(
            draw(&hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")),
            r#" 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-------+-+-------------+-------------------------------+
|F|R|R|R| opcode|M| Payload len |        Masking-key (32)       |
|I|S|S|S|  (4)  |A|     (7)     |                               |
|N|V|V|V|       |S|             |                               |
| |1|2|3|       |K|             |                               |
+-+-+-+-+-------+-+-------------+-------------------------------+
|1|0|0|0|  0x1  |1|      5      |             37 fa             |
+-+-+-+-+-------+-+-------------+-------------------------------+
|    Masking-key (continued)    |          Payload Data         |
+-------------------------------+-------------------------------+
|             21 3d             |             7f 9f             |
+-------------------------------+-------------------------------+
|           Payload Data: 5 bytes, masked on the wire           |
+---------------------------------------------------------------+
|                         7f 9f 4d 51 58                        |
|                       unmasked: "Hello"                       |
+---------------------------------------------------------------+
"#
        );
    }

    #[test]
    fn rfc_256_bytes_with_a_16_bit_length() {
        assert_eq!(
            draw(&[hex("82 7e 01 00"), vec![0xaa; 256]].concat()),
            r#" 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-------+-+-------------+-------------------------------+
|F|R|R|R| opcode|M| Payload len |    Extended payload length    |
|I|S|S|S|  (4)  |A|     (7)     |              (16)             |
|N|V|V|V|       |S|             |                               |
| |1|2|3|       |K|             |                               |
+-+-+-+-+-------+-+-------------+-------------------------------+
|1|0|0|0|  0x2  |0|     126     |          01 00 → 256          |
+-+-+-+-+-------+-+-------------+-------------------------------+
|                    Payload Data: 256 bytes                    |
+---------------------------------------------------------------+
|             aa aa aa aa aa aa aa aa aa aa aa aa …             |
|      "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"…      |
+---------------------------------------------------------------+
"#
        );
    }

    #[test]
    fn masked_64_kib_with_a_64_bit_length() {
        assert_eq!(
            draw(
                &[
                    hex("82 ff 00 00 00 00 00 01 00 00 01 02 03 04"),
                    vec![0x55; 65536]
                ]
                .concat()
            ),
            r#" 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-------+-+-------------+-------------------------------+
|F|R|R|R| opcode|M| Payload len |    Extended payload length    |
|I|S|S|S|  (4)  |A|     (7)     |              (64)             |
|N|V|V|V|       |S|             |                               |
| |1|2|3|       |K|             |                               |
+-+-+-+-+-------+-+-------------+-------------------------------+
|1|0|0|0|  0x2  |1|     127     |             00 00             |
+-+-+-+-+-------+-+-------------+-------------------------------+
|               Extended payload length continued               |
+---------------------------------------------------------------+
|                          00 00 00 01                          |
+-------------------------------+-------------------------------+
|         ... continued         |        Masking-key (32)       |
+-------------------------------+-------------------------------+
|         00 00 → 65536         |             01 02             |
+-------------------------------+-------------------------------+
|    Masking-key (continued)    |          Payload Data         |
+-------------------------------+-------------------------------+
|             03 04             |             55 55             |
+-------------------------------+-------------------------------+
|         Payload Data: 65536 bytes, masked on the wire         |
+---------------------------------------------------------------+
|             55 55 55 55 55 55 55 55 55 55 55 55 …             |
|                   unmasked: "TWVQTWVQTWVQ"…                   |
+---------------------------------------------------------------+
"#
        );
    }

    #[test]
    fn empty_close_ends_the_box_with_no_payload() {
        assert_eq!(
            draw(&hex("88 00")),
            r#" 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-------+-+-------------+-------------------------------+
|F|R|R|R| opcode|M| Payload len |          (no payload)         |
|I|S|S|S|  (4)  |A|     (7)     |                               |
|N|V|V|V|       |S|             |                               |
| |1|2|3|       |K|             |                               |
+-+-+-+-+-------+-+-------------+-------------------------------+
|1|0|0|0|  0x8  |0|      0      |                               |
+-+-+-+-+-------+-+-------------+-------------------------------+
"#
        );
    }

    #[test]
    fn masked_empty_ping() {
        assert_eq!(
            draw(&hex("89 80 01 02 03 04")),
            r#" 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-------+-+-------------+-------------------------------+
|F|R|R|R| opcode|M| Payload len |        Masking-key (32)       |
|I|S|S|S|  (4)  |A|     (7)     |                               |
|N|V|V|V|       |S|             |                               |
| |1|2|3|       |K|             |                               |
+-+-+-+-+-------+-+-------------+-------------------------------+
|1|0|0|0|  0x9  |1|      0      |             01 02             |
+-+-+-+-+-------+-+-------------+-------------------------------+
|    Masking-key (continued)    |          (no payload)         |
+-------------------------------+-------------------------------+
|             03 04             |                               |
+-------------------------------+-------------------------------+
"#
        );
    }
    #[test]
    fn rfc_64_kib_with_a_64_bit_length() {
        assert_eq!(
            draw(
                &[
                    hex("82 7f 00 00 00 00 00 01 00 00"),
                    b"0123456789".repeat(6554)[..65536].to_vec()
                ]
                .concat()
            ),
            r#" 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-------+-+-------------+-------------------------------+
|F|R|R|R| opcode|M| Payload len |    Extended payload length    |
|I|S|S|S|  (4)  |A|     (7)     |              (64)             |
|N|V|V|V|       |S|             |                               |
| |1|2|3|       |K|             |                               |
+-+-+-+-+-------+-+-------------+-------------------------------+
|1|0|0|0|  0x2  |0|     127     |             00 00             |
+-+-+-+-+-------+-+-------------+-------------------------------+
|               Extended payload length continued               |
+---------------------------------------------------------------+
|                          00 00 00 01                          |
+-------------------------------+-------------------------------+
|         ... continued         |          Payload Data         |
+-------------------------------+-------------------------------+
|         00 00 → 65536         |             30 31             |
+-------------------------------+-------------------------------+
|                   Payload Data: 65536 bytes                   |
+---------------------------------------------------------------+
|             30 31 32 33 34 35 36 37 38 39 30 31 …             |
|                        "012345678901"…                        |
+---------------------------------------------------------------+
"#
        );
    }

    #[test]
    fn a_frame_cut_short_says_what_is_present() {
        assert_eq!(
            draw(&hex("81 85 37 fa 21 3d 7f")),
            r#" 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-------+-+-------------+-------------------------------+
|F|R|R|R| opcode|M| Payload len |        Masking-key (32)       |
|I|S|S|S|  (4)  |A|     (7)     |                               |
|N|V|V|V|       |S|             |                               |
| |1|2|3|       |K|             |                               |
+-+-+-+-+-------+-+-------------+-------------------------------+
|1|0|0|0|  0x1  |1|      5      |             37 fa             |
+-+-+-+-+-------+-+-------------+-------------------------------+
|    Masking-key (continued)    |          Payload Data         |
+-------------------------------+-------------------------------+
|             21 3d             |               7f              |
+-------------------------------+-------------------------------+
|   Payload Data: 5 bytes, masked on the wire, only 1 present   |
+---------------------------------------------------------------+
|                              7f …                             |
|                         unmasked: "H"…                        |
+---------------------------------------------------------------+
"#
        );
    }

    #[test]
    fn payload_text_is_escaped() {
        assert_eq!(
            draw(&hex("81 07 1b 5b 33 31 6d e2 80")),
            r#" 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-------+-+-------------+-------------------------------+
|F|R|R|R| opcode|M| Payload len |          Payload Data         |
|I|S|S|S|  (4)  |A|     (7)     |                               |
|N|V|V|V|       |S|             |                               |
| |1|2|3|       |K|             |                               |
+-+-+-+-+-------+-+-------------+-------------------------------+
|1|0|0|0|  0x1  |0|      7      |             1b 5b             |
+-+-+-+-+-------+-+-------------+-------------------------------+
|                     Payload Data: 7 bytes                     |
+---------------------------------------------------------------+
|                      1b 5b 33 31 6d e2 80                     |
|                       "\x1b[31m\xe2\x80"                      |
+---------------------------------------------------------------+
"#
        );
    }
}
