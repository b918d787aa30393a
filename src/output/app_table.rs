//! The summary view's tables for decoded application protocols (docs/decoders.md): per
//! protocol, the most frequent keys (events, topics, destinations, methods) by direction, and
//! how fast each kind of answer came (acks, PUBACKs, RPC responses).
//!
//! Bounded: at most [`MAX_KEYS`] distinct keys and [`MAX_KINDS`] answer kinds are told apart
//! per protocol; the rest are counted together.

use std::collections::{BTreeMap, HashMap};

use comfy_table::{CellAlignment, Table};

use super::escape::escape_line;
use super::samples::Samples;
use crate::decode::{cut, Decoded, Protocol};
use crate::event::Message;

/// Distinct keys told apart per protocol; later new keys count as "(other keys)".
pub const MAX_KEYS: usize = 10_000;
/// Distinct answer kinds told apart per protocol.
pub const MAX_KINDS: usize = 64;
/// Characters of a key kept and shown; longer keys are told apart by their start only.
pub const KEY_CHARS: usize = 64;

/// Keys listed per protocol, the most frequent first.
pub const TOP_KEYS: usize = 10;

/// What the decoded messages of one protocol added up to.
#[derive(Default)]
pub struct AppStats {
    messages: u64,
    units: u64,
    heartbeats: u64,
    /// Units per key, per direction.
    keys: HashMap<String, [u64; 2]>,
    other_keys: [u64; 2],
    /// Answer times by the kind of the answering unit (`ACK`, `PUBACK`, `response`).
    answers: BTreeMap<String, Samples>,
}

/// Every protocol's [`AppStats`].
#[derive(Default)]
pub struct AppTables {
    protocols: BTreeMap<Protocol, AppStats>,
}

impl AppTables {
    pub fn message(&mut self, m: &Message) {
        if let Some(d) = &m.decoded {
            self.add(m, d);
        }
    }

    fn add(&mut self, m: &Message, d: &Decoded) {
        let s = self.protocols.entry(d.protocol).or_default();
        s.messages += 1;
        for u in &d.units {
            s.units += 1;
            s.heartbeats += u64::from(u.heartbeat);
            if let Some(key) = &u.key {
                s.count_key(key, m.dir.index());
            }
            if let Some(a) = &u.answers {
                s.count_answer(&u.kind, a.rtt_ns);
            }
        }
    }

    /// A heading, a key table and an answer table per protocol seen; `table` makes an empty
    /// table in the view's style.
    pub fn render(&mut self, table: &dyn Fn() -> Table) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (p, s) in self.protocols.iter_mut() {
            out.push((format!("Decoded {p}"), s.render(table)));
        }
        out
    }
}

impl AppStats {
    fn count_key(&mut self, key: &str, dir: usize) {
        // A key may be a megabyte (a topic, a method): the table shows and keeps its start.
        let key = &cut(key, KEY_CHARS);
        if let Some(c) = self.keys.get_mut(key.as_str()) {
            c[dir] += 1;
        } else if self.keys.len() < MAX_KEYS {
            let mut c = [0; 2];
            c[dir] = 1;
            self.keys.insert(key.to_string(), c);
        } else {
            self.other_keys[dir] += 1;
        }
    }

    fn count_answer(&mut self, kind: &str, rtt_ns: u64) {
        if !self.answers.contains_key(kind) && self.answers.len() >= MAX_KINDS {
            return;
        }
        self.answers
            .entry(kind.to_string())
            .or_default()
            .add(rtt_ns);
    }

    fn render(&mut self, table: &dyn Fn() -> Table) -> String {
        let mut text = format!(
            "{} messages decoded, {} packets, {} keep-alives\n",
            self.messages, self.units, self.heartbeats
        );
        if !self.keys.is_empty() {
            text.push_str(&format!("{}\n", self.key_table(table())));
        }
        if !self.answers.is_empty() {
            text.push_str(&format!("{}\n", self.answer_table(table())));
        }
        text
    }

    /// The most frequent keys, ties by name so the table is the same every run.
    fn key_table(&self, mut t: Table) -> Table {
        t.set_header(vec!["key", "c2s →", "s2c ←", "total"]);
        let mut keys: Vec<_> = self.keys.iter().collect();
        keys.sort_by(|(a, ca), (b, cb)| (cb[0] + cb[1]).cmp(&(ca[0] + ca[1])).then(a.cmp(b)));
        for (key, c) in keys.iter().take(TOP_KEYS) {
            t.add_row(count_row(escape_line(key), **c));
        }
        let rest = keys
            .iter()
            .skip(TOP_KEYS)
            .fold(self.other_keys, |acc, (_, c)| {
                [acc[0] + c[0], acc[1] + c[1]]
            });
        let more = keys.len().saturating_sub(TOP_KEYS);
        if rest != [0, 0] {
            let plus = if self.other_keys == [0, 0] { "" } else { "+" };
            let noun = if more == 1 && plus.is_empty() {
                "key"
            } else {
                "keys"
            };
            let label = format!("({more}{plus} more {noun})");
            t.add_row(count_row(label, rest));
        }
        numbers_right(&mut t);
        t
    }

    fn answer_table(&mut self, mut t: Table) -> Table {
        t.set_header(vec![
            "answer", "count", "min ms", "p50", "p90", "p99", "max",
        ]);
        let ms = |ns: u64| format!("{:.3}", ns as f64 / 1e6);
        for (kind, s) in self.answers.iter_mut() {
            let mut row = vec![escape_line(kind), s.count.to_string(), ms(s.min)];
            for p in [50, 90, 99] {
                row.push(ms(s.percentile(p)));
            }
            row.push(ms(s.max));
            t.add_row(row);
        }
        numbers_right(&mut t);
        t
    }
}

fn count_row(label: String, c: [u64; 2]) -> Vec<String> {
    vec![
        label,
        c[0].to_string(),
        c[1].to_string(),
        (c[0] + c[1]).to_string(),
    ]
}

/// Every column but the first (the label) holds numbers.
fn numbers_right(t: &mut Table) {
    for c in t.column_iter_mut().skip(1) {
        c.set_cell_alignment(CellAlignment::Right);
    }
}
