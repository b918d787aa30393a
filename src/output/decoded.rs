//! What the views say about a decoded message (docs/decoders.md): one line per application
//! packet, and keep-alives counted per session instead of repeated.

use std::collections::BTreeMap;

use unicode_width::UnicodeWidthChar;

use super::escape::escape_line;
use crate::base::{ConnId, StreamId};
use crate::decode::{Decoded, Protocol, Unit};
use crate::event::Message;

/// `mqtt PUBLISH a/b qos 1 id 7 "hi"  ↩ c2s #4 1.250 ms`: the protocol, the packet's kind,
/// its summary, and which message it answers and how fast. Escaped.
pub fn unit_line(protocol: Protocol, unit: &Unit) -> String {
    let (what, answer) = unit_parts(protocol, unit);
    what + &answer
}

/// [`unit_line`] within `cols` columns: the summary is cut, never the answer after it.
pub fn unit_line_within(protocol: Protocol, unit: &Unit, cols: usize) -> String {
    let (what, answer) = unit_parts(protocol, unit);
    let room = cols.saturating_sub(super::fit::display_width(&answer));
    cut_to_width(&what, room) + &answer
}

/// The packet (`mqtt PUBLISH a/b …`) and what it answers (`  ↩ c2s #4 1.250 ms`, or "").
fn unit_parts(protocol: Protocol, unit: &Unit) -> (String, String) {
    let mut what = format!("{protocol} {}", unit.kind);
    if !unit.summary.is_empty() {
        what.push(' ');
        what.push_str(&unit.summary);
    }
    let answer = unit.answers.as_ref().map_or(String::new(), |a| {
        let ms = a.rtt_ns as f64 / 1e6;
        format!("  ↩ {} #{} {ms:.3} ms", a.dir.as_str(), a.message)
    });
    (escape_line(&what), answer)
}

/// `line` cut to `cols` display columns, ending in `…` when cut.
pub fn cut_to_width(line: &str, cols: usize) -> String {
    if super::fit::display_width(line) <= cols {
        return line.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in line.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > cols {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// Keep-alive kinds shown once per session; a decoder naming more is not believed.
const MAX_SHOWN_KINDS: usize = 8;

/// The keep-alives of each session seen so far, for the line at its end.
#[derive(Debug, Default)]
pub struct Heartbeats {
    sessions: BTreeMap<(ConnId, Option<StreamId>), Tally>,
}

/// One session's keep-alives.
#[derive(Debug, Default)]
struct Tally {
    protocol: Option<Protocol>,
    /// The kinds already shown once (`ping`, `pong`): a handful per protocol.
    shown: Vec<String>,
    count: u64,
    answered: u64,
    rtt_total_ns: u64,
    rtt_max_ns: u64,
}

impl Heartbeats {
    /// Count `unit` if it is a keep-alive. True when it is the session's first of its kind,
    /// which the views show in full (later ones are only counted).
    pub fn count(&mut self, m: &Message, d: &Decoded, unit: &Unit) -> bool {
        if !unit.heartbeat {
            return false;
        }
        let t = self.sessions.entry((m.conn, m.stream)).or_default();
        t.protocol = Some(d.protocol);
        t.count += 1;
        if let Some(a) = &unit.answers {
            t.answered += 1;
            t.rtt_total_ns += a.rtt_ns;
            t.rtt_max_ns = t.rtt_max_ns.max(a.rtt_ns);
        }
        if t.shown.contains(&unit.kind) || t.shown.len() >= MAX_SHOWN_KINDS {
            return false;
        }
        t.shown.push(unit.kind.clone());
        true
    }

    /// The summary lines of every session not yet ended (the capture stopped first).
    pub fn take_all(&mut self) -> Vec<String> {
        std::mem::take(&mut self.sessions)
            .into_iter()
            .map(|((conn, stream), t)| format!("conn {conn}: {}", t.describe(stream)))
            .collect()
    }

    /// The summary lines of the sessions of `conn` (of its stream `stream` only, when given),
    /// forgetting them: `socket.io keep-alives: 14 (7 answered, rtt avg 0.310 ms, max 1.020 ms)`.
    pub fn take(&mut self, conn: ConnId, stream: Option<Option<StreamId>>) -> Vec<String> {
        // Only this connection's sessions are looked at (they sort together: `None` first),
        // so a connection's end costs nothing for the thousands still open.
        let keys: Vec<_> = (self.sessions.range((conn, None)..))
            .map(|(k, _)| *k)
            .take_while(|(c, _)| *c == conn)
            .filter(|(_, s)| stream.is_none_or(|want| want == *s))
            .collect();
        let mut lines = Vec::new();
        for key in keys {
            if let Some(t) = self.sessions.remove(&key) {
                lines.push(t.describe(key.1));
            }
        }
        lines
    }
}

impl Tally {
    fn describe(&self, stream: Option<StreamId>) -> String {
        let protocol = self.protocol.map_or("", Protocol::as_str);
        let on = stream.map_or(String::new(), |s| format!(" (stream {s})"));
        let mut line = format!("{protocol} keep-alives{on}: {}", self.count);
        if self.answered > 0 {
            let avg = self.rtt_total_ns as f64 / self.answered as f64 / 1e6;
            let max = self.rtt_max_ns as f64 / 1e6;
            line.push_str(&format!(
                " ({} answered, rtt avg {avg:.3} ms, max {max:.3} ms)",
                self.answered
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Direction;
    use crate::decode::Answer;

    fn unit(kind: &str, summary: &str) -> Unit {
        Unit::new(kind, summary)
    }

    #[test]
    fn a_unit_line_names_protocol_kind_and_answer() {
        let mut u = unit("PUBACK", "id 7");
        u.answers = Some(Answer {
            id: "7".into(),
            dir: Direction::ClientToServer,
            message: 4,
            rtt_ns: 1_250_000,
        });
        assert_eq!(
            unit_line(Protocol::Mqtt, &u),
            "mqtt PUBACK id 7  ↩ c2s #4 1.250 ms"
        );
    }

    #[test]
    fn a_unit_line_is_escaped() {
        let u = unit("EVENT", "\"x\u{1b}[31m\" [\"\u{202e}\"]");
        let line = unit_line(Protocol::SocketIo, &u);
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{202e}'),
            "{line}"
        );
    }

    #[test]
    fn a_cut_line_keeps_its_answer() {
        let mut u = unit("ACK", &"x".repeat(100));
        u.answers = Some(Answer {
            id: "1".into(),
            dir: Direction::ServerToClient,
            message: 12,
            rtt_ns: 5_000,
        });
        let line = unit_line_within(Protocol::SocketIo, &u, 50);
        assert!(line.ends_with("xx…  ↩ s2c #12 0.005 ms"), "{line}");
        assert_eq!(super::super::fit::display_width(&line), 50);
    }

    #[test]
    fn an_end_takes_only_its_own_sessions() {
        let mut h = Heartbeats::default();
        for key in [
            (ConnId(1), None),
            (ConnId(2), Some(StreamId(1))),
            (ConnId(2), Some(StreamId(3))),
            (ConnId(3), None),
        ] {
            h.sessions.insert(key, Tally::default());
        }
        let stream_3 = h.take(ConnId(2), Some(Some(StreamId(3))));
        assert_eq!(stream_3.len(), 1);
        assert!(stream_3[0].contains("(stream 3)"), "{stream_3:?}");
        assert_eq!(h.take(ConnId(2), None).len(), 1);
        assert_eq!(h.take(ConnId(1), None).len(), 1);
        assert_eq!(h.sessions.len(), 1);
    }

    #[test]
    fn cutting_keeps_within_the_columns() {
        assert_eq!(cut_to_width("abcdef", 10), "abcdef");
        assert_eq!(cut_to_width("abcdef", 4), "abc…");
        // Wide characters take two columns.
        let cut = cut_to_width("日本語のテキスト", 7);
        assert!(super::super::fit::display_width(&cut) <= 7, "{cut}");
    }
}
