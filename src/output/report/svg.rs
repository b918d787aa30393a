//! The page's pictures, as inline SVG built here: the client ↔ server sequence diagram of a
//! session and its two plots. Every label passes through [`html`]; captured text is escaped
//! for the terminal before that by the caller.

use std::fmt::Write as _;

use super::labels::{frame_id, frame_label, html, message_label, request_line, seconds_label};
use super::{Point, Report, Row, Session, MAX_FRAMES_PER_PAGE};
use crate::base::{Direction, Severity};
use crate::output::escape::escape_line;

/// The diagram's geometry: time labels, then the client's lifeline, then the server's.
const TIME_X: f64 = 96.0;
const BADGE_X: f64 = 122.0;
const CLIENT_X: f64 = 170.0;
const SERVER_X: f64 = 640.0;
const WIDTH: f64 = 720.0;
/// Vertical space per line, and how far an arrow falls from sender to receiver (time passes).
const ROW: f64 = 34.0;
const FALL: f64 = 8.0;
const TOP: f64 = 58.0;

/// Characters of a label that fit between the lifelines (11.5 px monospace, about 7 px each).
const LABEL_CHARS: usize = 64;

/// `label` cut to [`LABEL_CHARS`], ending in `…` when cut.
fn fit(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_string();
    }
    let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

/// One arrow or note of the diagram, before layout.
struct Line {
    t: f64,
    kind: LineKind,
}

enum LineKind {
    /// An arrow; `link` is the frame's anchor when it is a frame.
    Arrow {
        dir: Direction,
        label: String,
        class: String,
        link: Option<String>,
        packet: u64,
        badge: Option<Severity>,
    },
    /// A line of text across the lifelines (a message, a count of frames left out, the end).
    Note { text: String, class: &'static str },
}

/// The lines of a session, in capture order: handshake, frames and messages, then what was left
/// out and how it ended.
fn lines(r: &Report, s: &Session) -> Vec<Line> {
    let mut out = Vec::new();
    if let Some(h) = &s.handshake {
        out.push(arrow_line(
            r.seconds(h.request_packet.ts),
            Direction::ClientToServer,
            request_line(h),
            "hs".into(),
            h.request_packet.number,
        ));
        out.push(arrow_line(
            r.seconds(h.response_packet.ts),
            Direction::ServerToClient,
            escape_line(&format!("{} {}", h.status, h.reason)),
            "hs".into(),
            h.response_packet.number,
        ));
    }
    for row in &s.rows {
        match row {
            Row::Frame(i) => {
                let k = &s.frames.items[*i];
                let f = &k.frame;
                let badge = k
                    .diagnostics
                    .iter()
                    .map(|d| s.diagnostics.items[*d].diagnostic.rule.severity)
                    .min_by_key(|sev| severity_rank(*sev));
                out.push(Line {
                    t: r.seconds(f.last_packet.ts),
                    kind: LineKind::Arrow {
                        dir: f.dir,
                        label: frame_label(f, k.part_of),
                        class: format!("fr op-{}", f.header.opcode.name()),
                        link: Some(frame_id(f)),
                        packet: f.first_packet.number,
                        badge,
                    },
                });
            }
            Row::Gap(g) => out.push(Line {
                t: r.seconds(g.packet.ts),
                kind: LineKind::Note {
                    text: format!(
                        "{} {} bytes missing from the capture (stream offset {})",
                        g.dir.arrow(),
                        g.len,
                        g.stream_offset
                    ),
                    class: "gap",
                },
            }),
            Row::Message(i) => {
                let m = &s.messages.items[*i];
                out.push(Line {
                    t: r.seconds(m.last_packet.ts),
                    kind: LineKind::Note {
                        text: message_label(m),
                        class: "msg",
                    },
                });
            }
        }
    }
    let t_end = out.last().map_or(0.0, |l| l.t);
    if s.frames.left_out > 0 {
        out.push(Line {
            t: t_end,
            kind: LineKind::Note {
                text: format!(
                    "… {} more frames not drawn (at most {} per session, {MAX_FRAMES_PER_PAGE} per page)",
                    s.frames.left_out, r.options.max_frames
                ),
                class: "cut",
            },
        });
    }
    out
}

fn arrow_line(t: f64, dir: Direction, label: String, class: String, packet: u64) -> Line {
    Line {
        t,
        kind: LineKind::Arrow {
            dir,
            label,
            class,
            link: None,
            packet,
            badge: None,
        },
    }
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// The sequence diagram of a session: time runs down, one line per frame or message.
pub fn sequence(out: &mut String, r: &Report, s: &Session, client: &str, server: &str) {
    let lines = lines(r, s);
    let height = TOP + ROW * lines.len().max(1) as f64 + 16.0;
    let _ = write!(
        out,
        r#"<svg class="seq" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" aria-label="sequence diagram: click a frame for its bytes">"#
    );
    lifelines(out, height, client, server);
    for (i, line) in lines.iter().enumerate() {
        let y = TOP + ROW * i as f64 + 20.0;
        draw_line(out, line, y);
    }
    out.push_str("</svg>");
}

/// The two endpoints, their names above and a dashed line down the diagram each.
fn lifelines(out: &mut String, height: f64, client: &str, server: &str) {
    for (x, who, addr) in [(CLIENT_X, "client", client), (SERVER_X, "server", server)] {
        let _ = write!(
            out,
            r#"<rect class="who" x="{}" y="4" width="140" height="38" rx="5"/><text class="who" x="{x}" y="20" text-anchor="middle">{who}</text><text class="addr" x="{x}" y="35" text-anchor="middle">{}</text><line class="life" x1="{x}" y1="42" x2="{x}" y2="{height}"/>"#,
            x - 70.0,
            html(addr)
        );
    }
}

fn draw_line(out: &mut String, line: &Line, y: f64) {
    let _ = write!(
        out,
        r#"<text class="time" x="{TIME_X}" y="{}" text-anchor="end">{}</text>"#,
        y + 4.0,
        seconds_label(line.t)
    );
    match &line.kind {
        LineKind::Note { text, class } => {
            let _ = write!(
                out,
                r#"<text class="{class}" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                (CLIENT_X + SERVER_X) / 2.0,
                y + 4.0,
                html(&fit(text))
            );
        }
        LineKind::Arrow {
            dir,
            label,
            class,
            link,
            packet,
            badge,
        } => {
            if let Some(id) = link {
                let _ = write!(
                    out,
                    r##"<a href="#{id}" class="{class}" data-frame="{id}"><title>{} (packet {packet}): click for its bytes</title>"##,
                    html(label)
                );
            } else {
                let _ = write!(out, r#"<g class="{class}">"#);
            }
            arrow(out, *dir, y, label, *packet);
            if let Some(sev) = badge {
                let _ = write!(
                    out,
                    r#"<circle class="badge {0}" cx="{BADGE_X}" cy="{y}" r="7"/><text class="badge-t" x="{BADGE_X}" y="{1}" text-anchor="middle">!</text>"#,
                    severity_class(*sev),
                    y + 4.0
                );
            }
            out.push_str(if link.is_some() { "</a>" } else { "</g>" });
        }
    }
}

/// A sloped arrow from the sender's lifeline to the receiver's, its label above, the packet
/// number beside the server's lifeline, and a wide transparent band to click.
fn arrow(out: &mut String, dir: Direction, y: f64, label: &str, packet: u64) {
    let (x1, x2) = match dir {
        Direction::ClientToServer => (CLIENT_X, SERVER_X),
        Direction::ServerToClient => (SERVER_X, CLIENT_X),
    };
    let y2 = y + FALL;
    let head = if x2 > x1 { -9.0 } else { 9.0 };
    let _ = write!(
        out,
        r#"<rect class="hit" x="{CLIENT_X}" y="{}" width="{}" height="{ROW}"/><line x1="{x1}" y1="{y}" x2="{}" y2="{}"/><polygon points="{x2},{y2} {},{} {},{}"/>"#,
        y - ROW / 2.0 - 2.0,
        SERVER_X - CLIENT_X,
        x2 + head * 0.6,
        y2 - 0.5,
        x2 + head,
        y2 - 4.5,
        x2 + head,
        y2 + 3.5
    );
    let _ = write!(
        out,
        r#"<text class="lbl" x="{}" y="{}" text-anchor="middle">{}</text><text class="pkt" x="{}" y="{}">#{packet}</text>"#,
        (CLIENT_X + SERVER_X) / 2.0,
        y - 5.0,
        html(&fit(label)),
        SERVER_X + 8.0,
        y + 8.0
    );
}

/// Plot geometry.
const PW: f64 = 560.0;
const PH: f64 = 200.0;
const PL: f64 = 64.0;
const PR: f64 = 16.0;
const PT: f64 = 44.0;
const PB: f64 = 36.0;

/// How a plot's vertical axis maps values.
#[derive(Clone, Copy)]
enum Scale {
    /// log10(1 + v): byte counts from 0 to megabytes on one axis.
    LogBytes,
    Linear,
}

impl Scale {
    fn map(self, v: f64) -> f64 {
        match self {
            Scale::LogBytes => (1.0 + v.max(0.0)).log10(),
            Scale::Linear => v,
        }
    }
}

/// Round tick steps: 1, 2 or 5 times a power of ten, about `n` ticks over `span`.
fn nice_step(span: f64, n: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / n;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    }
}

fn bytes_tick(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{} GB", v / 1e9),
        v if v >= 1e6 => format!("{} MB", v / 1e6),
        v if v >= 1e3 => format!("{} kB", v / 1e3),
        v => format!("{v} B"),
    }
}

fn number_tick(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A scatter plot of `points` over time, one colour per direction, with axes and a legend.
fn scatter(out: &mut String, title: &str, unit: &str, points: &[Point], scale: Scale) {
    let t0 = points.iter().map(|p| p.t).fold(f64::INFINITY, f64::min);
    let t1 = points.iter().map(|p| p.t).fold(f64::NEG_INFINITY, f64::max);
    let (t0, t1) = if t1 - t0 > 0.0 {
        (t0, t1)
    } else {
        // One instant: a second around it, not before the capture began.
        let from = (t0 - 0.5).max(0.0);
        (from, from + 1.0)
    };
    let vmax = points.iter().map(|p| p.value).fold(0.0, f64::max);
    let (yticks, ymax): (Vec<(f64, String)>, f64) = match scale {
        Scale::LogBytes => {
            let mut ticks = vec![(0.0, "0 B".to_string())];
            // 1 B would sit on top of 0 B (log10 2 ≈ 0.3): decades start at 10 B.
            let mut v = 10.0;
            while v <= vmax.max(1.0) * 10.0 && ticks.len() < 12 {
                ticks.push((v, bytes_tick(v)));
                v *= 10.0;
            }
            let top = ticks.last().map_or(1.0, |t| t.0);
            (ticks, scale.map(top))
        }
        Scale::Linear => {
            let step = nice_step(vmax.max(f64::MIN_POSITIVE), 4.0);
            let top = (vmax / step).ceil().max(1.0) * step;
            let ticks = (0..=((top / step).round() as usize))
                .map(|i| {
                    (
                        i as f64 * step,
                        format!("{} {unit}", number_tick(i as f64 * step)),
                    )
                })
                .collect();
            (ticks, top)
        }
    };
    let x = |t: f64| PL + (t - t0) / (t1 - t0) * (PW - PL - PR);
    let y = |v: f64| PH - PB - scale.map(v) / ymax.max(f64::MIN_POSITIVE) * (PH - PT - PB);
    let _ = write!(
        out,
        r#"<svg class="plot" width="{PW}" height="{PH}" viewBox="0 0 {PW} {PH}" role="img" aria-label="{0}"><text class="ptitle" x="{PL}" y="16">{0}</text>"#,
        html(title)
    );
    for (v, label) in &yticks {
        let yy = y(*v);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{PL}" y1="{yy}" x2="{}" y2="{yy}"/><text class="tick" x="{}" y="{}" text-anchor="end">{}</text>"#,
            PW - PR,
            PL - 6.0,
            yy + 4.0,
            html(label)
        );
    }
    let step = nice_step(t1 - t0, 5.0);
    let mut t = (t0 / step).ceil() * step;
    while t <= t1 + step * 1e-9 {
        let xx = x(t);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{xx}" y1="{PT}" x2="{xx}" y2="{}"/><text class="tick" x="{xx}" y="{}" text-anchor="middle">{} s</text>"#,
            PH - PB,
            PH - PB + 16.0,
            number_tick(t)
        );
        t += step;
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{PL}" y1="{0}" x2="{1}" y2="{0}"/><line class="axis" x1="{PL}" y1="{PT}" x2="{PL}" y2="{0}"/><text class="tick" x="{1}" y="{2}" text-anchor="end">time since the capture began</text>"#,
        PH - PB,
        PW - PR,
        PH - 4.0
    );
    for p in points {
        let _ = write!(
            out,
            r#"<circle class="pt {}" cx="{:.1}" cy="{:.1}" r="3"/>"#,
            p.dir.as_str(),
            x(p.t),
            y(p.value)
        );
    }
    let _ = write!(
        out,
        r#"<circle class="pt c2s" cx="{0}" cy="30" r="4"/><text class="tick" x="{1}" y="34">sent by the client</text><circle class="pt s2c" cx="{2}" cy="30" r="4"/><text class="tick" x="{3}" y="34">sent by the server</text></svg>"#,
        PL + 4.0,
        PL + 12.0,
        PL + 134.0,
        PL + 142.0
    );
}

/// Message sizes over time, per direction (log scale: a session mixes bytes and megabytes).
pub fn size_plot(out: &mut String, s: &Session) {
    if s.sizes.items.is_empty() {
        out.push_str(r#"<p class="none">No message in this session.</p>"#);
        return;
    }
    scatter(
        out,
        "Message sizes (payload bytes, log scale)",
        "B",
        &s.sizes.items,
        Scale::LogBytes,
    );
}

/// Ping → pong round-trip times, at each pong, by the direction of the pong.
pub fn rtt_plot(out: &mut String, s: &Session) {
    if s.rtts.items.is_empty() {
        out.push_str(r#"<p class="none">No ping answered by a pong in this session.</p>"#);
        return;
    }
    scatter(
        out,
        "Ping → pong round-trip time (ms), at each pong",
        "ms",
        &s.rtts.items,
        Scale::Linear,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_steps_are_round() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(0.003, 5.0), 0.0005);
        assert_eq!(nice_step(0.0, 5.0), 1.0);
        assert_eq!(number_tick(0.25), "0.25");
        assert_eq!(number_tick(3.0), "3");
        assert_eq!(bytes_tick(1000.0), "1 kB");
    }
}
