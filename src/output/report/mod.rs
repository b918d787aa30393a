//! `wsdissect report`: one self-contained HTML page to look at a capture: per WebSocket session
//! a client ↔ server sequence diagram, each frame's header bytes, §5.2 box and unmasking step,
//! message-size and ping-RTT plots, and the diagnostics linked to their frames.
//!
//! The sink gathers what the page needs from the events, within bounds (the `MAX_*` constants
//! and [`ReportOptions::max_frames`]), and writes the page at `finish`. It owns layout only:
//! what a bit means comes from `ws`, the §5.2 box from [`super::diagram`]. Everything taken
//! from the capture is escaped for the terminal and then for HTML ([`page::html`]).

mod labels;
mod page;
mod svg;

use std::io::{self, Write};

use super::Sink;
use crate::base::{ConnId, Diagnostic, Direction, Rule, Severity, StreamId, Timestamp};
use crate::event::{
    CaptureSummary, CloseInfo, ConnectionInfo, DirStats, Event, Frame, Gap, Handshake, Message,
};
use crate::ws::opcode::OpCode;

/// Frames (and, separately, multi-frame or compressed messages) drawn per session by default.
pub const DEFAULT_MAX_FRAMES: usize = 100;
/// Connections drawn; later ones are only counted (each connection adds its diagram and details).
pub const MAX_CONNECTIONS: usize = 50;
/// WebSocket sessions drawn per connection (HTTP/2 carries many on one connection).
pub const MAX_SESSIONS_PER_CONNECTION: usize = 20;
/// Frames drawn on the whole page (each has a detail block of a few kilobytes): with the
/// limits above alone, 50 connections of 20 sessions could draw 100,000 frames.
pub const MAX_FRAMES_PER_PAGE: usize = 2000;
/// Diagnostics listed per session or connection, and for the capture as a whole.
pub const MAX_DIAGNOSTICS: usize = 100;
/// Points per plot (message sizes, ping round trips) of one session.
pub const MAX_POINTS: usize = 2000;
/// Payload bytes kept per frame: enough for the previews and the unmasking step.
pub const PAYLOAD_KEPT: usize = 64;

/// What the page shows besides the events.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The capture files, as named on the command line (the page's title).
    pub captures: Vec<String>,
    /// Frames drawn per session; later frames are counted and left out.
    pub max_frames: usize,
}

/// A frame kept for the page, with the diagnostics it caused.
struct KeptFrame {
    frame: Frame,
    /// The message it carries part of: a continuation frame's payload is text or binary, and
    /// compressed or not, as its message's first frame said.
    part_of: MessagePart,
    /// Indices into the session's diagnostics.
    diagnostics: Vec<usize>,
}

/// A diagnostic kept for the page, and the frame it is about, if that frame was kept.
struct KeptDiagnostic {
    diagnostic: Diagnostic,
    /// Index into the session's frames.
    frame: Option<usize>,
    /// The page-wide number: its anchor.
    id: usize,
}

/// What a frame's payload is part of (for continuation frames: what the first frame said).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessagePart {
    pub opcode: OpCode,
    pub compressed: bool,
}

/// One line of the sequence diagram, in capture order.
enum Row {
    Frame(usize),
    /// Index into the session's messages.
    Message(usize),
    /// Bytes of a direction missing from the capture.
    Gap(Gap),
}

/// Items kept up to a limit, and how many more there were.
struct Bounded<T> {
    items: Vec<T>,
    left_out: u64,
    limit: usize,
}

impl<T> Bounded<T> {
    fn new(limit: usize) -> Self {
        Bounded {
            items: Vec::new(),
            left_out: 0,
            limit,
        }
    }
    /// Keep `item` if there is room; returns its index when kept.
    fn push(&mut self, item: T) -> Option<usize> {
        if self.items.len() < self.limit {
            self.items.push(item);
            Some(self.items.len() - 1)
        } else {
            self.left_out += 1;
            None
        }
    }
}

/// A point of a plot: seconds since the capture started, and a value.
#[derive(Clone, Copy, Debug)]
struct Point {
    t: f64,
    dir: Direction,
    value: f64,
}

/// How a session or connection ended.
struct End {
    what: String,
    stats: [DirStats; 2],
    close: [Option<CloseInfo>; 2],
}

/// One WebSocket session: a connection's HTTP/1.1 upgrade, or one HTTP/2 stream.
struct Session {
    stream: Option<StreamId>,
    handshake: Option<Box<Handshake>>,
    frames: Bounded<KeptFrame>,
    /// Multi-frame and compressed messages (a one-frame message is its frame's line).
    messages: Bounded<Message>,
    rows: Vec<Row>,
    diagnostics: Bounded<KeptDiagnostic>,
    sizes: Bounded<Point>,
    rtts: Bounded<Point>,
    end: Option<End>,
    /// Per direction, the message whose FIN has not come yet.
    open: [Option<MessagePart>; 2],
}

impl Session {
    fn new(stream: Option<StreamId>, max_frames: usize) -> Self {
        Session {
            stream,
            handshake: None,
            frames: Bounded::new(max_frames),
            messages: Bounded::new(max_frames),
            rows: Vec::new(),
            diagnostics: Bounded::new(MAX_DIAGNOSTICS),
            sizes: Bounded::new(MAX_POINTS),
            rtts: Bounded::new(MAX_POINTS),
            end: None,
            open: [None; 2],
        }
    }

    /// What `f` carries part of, and the open message of its direction after it.
    fn part_of(&mut self, f: &Frame) -> MessagePart {
        let h = &f.header;
        let open = &mut self.open[f.dir.index()];
        let part = match h.opcode {
            OpCode::Text | OpCode::Binary => MessagePart {
                opcode: h.opcode,
                compressed: f.starts_compressed_message(),
            },
            OpCode::Continuation => open.unwrap_or(MessagePart {
                opcode: OpCode::Continuation,
                compressed: false,
            }),
            other => MessagePart {
                opcode: other,
                compressed: false,
            },
        };
        if !h.opcode.is_control() {
            *open = if h.fin { None } else { Some(part) };
        }
        part
    }

    /// The kept frame a diagnostic at `packet` in `dir` is about: the latest one carried by
    /// that packet (the conversation reports a frame's diagnostics right after it, so only the
    /// last few frames are looked at: a diagnostic costs no scan of the whole session).
    fn frame_at(&self, dir: Option<Direction>, packet: Option<u64>) -> Option<usize> {
        const RECENT: usize = 64;
        let packet = packet?;
        let from = self.frames.items.len().saturating_sub(RECENT);
        let found = self.frames.items[from..].iter().rposition(|k| {
            let f = &k.frame;
            dir.is_none_or(|d| d == f.dir)
                && (f.first_packet.number..=f.last_packet.number).contains(&packet)
        });
        found.map(|i| from + i)
    }
}

/// One TCP connection and the sessions it carried.
struct Connection {
    info: ConnectionInfo,
    sessions: Vec<Session>,
    sessions_left_out: u64,
    /// Diagnostics about the connection rather than one of its sessions.
    diagnostics: Bounded<KeptDiagnostic>,
    end: Option<End>,
    /// Diagnostics about the connection and its sessions, counted when it ended.
    diagnostics_counted: Option<u64>,
}

/// A rule broken in the capture: how often, and the first of its diagnostics the page lists.
struct RuleCount {
    rule: &'static Rule,
    count: u64,
    /// The page-wide id of the first one listed (None if none could be listed).
    first: Option<usize>,
}

/// Everything the page shows, gathered from the events.
struct Report {
    options: ReportOptions,
    start: Option<Timestamp>,
    connections: Vec<Connection>,
    connections_left_out: u64,
    /// Diagnostics about the capture as a whole (connection 0) or a connection not drawn.
    capture_diagnostics: Bounded<KeptDiagnostic>,
    /// Every diagnostic counted by rule, in order of first occurrence.
    by_rule: Vec<RuleCount>,
    summary: Option<CaptureSummary>,
    next_diagnostic: usize,
    /// Frames drawn so far, on every session (at most [`MAX_FRAMES_PER_PAGE`]).
    frames_drawn: usize,
}

/// The HTML report sink: gathers events, writes the page at `finish`.
pub struct ReportSink<W: Write> {
    out: W,
    report: Report,
}

impl<W: Write> ReportSink<W> {
    /// The page written so far (all of it after `finish`).
    pub fn into_inner(self) -> W {
        self.out
    }

    pub fn new(out: W, options: ReportOptions) -> Self {
        ReportSink {
            out,
            report: Report {
                options,
                start: None,
                connections: Vec::new(),
                connections_left_out: 0,
                capture_diagnostics: Bounded::new(MAX_DIAGNOSTICS),
                by_rule: Vec::new(),
                summary: None,
                next_diagnostic: 0,
                frames_drawn: 0,
            },
        }
    }
}

/// A frame as kept: its payload cut to [`PAYLOAD_KEPT`] bytes (the page shows no more).
fn trimmed_frame(f: &Frame) -> Frame {
    let mut f = f.clone();
    f.payload.bytes.truncate(PAYLOAD_KEPT);
    f
}

fn trimmed_message(m: &Message) -> Message {
    let mut m = m.clone();
    m.payload.bytes.truncate(PAYLOAD_KEPT);
    m
}

impl Report {
    fn seconds(&self, ts: Timestamp) -> f64 {
        let start = self.start.unwrap_or(ts);
        ts.0.saturating_sub(start.0) as f64 / 1e9
    }

    fn connection(&mut self, conn: ConnId) -> Option<&mut Connection> {
        self.connections.iter_mut().find(|c| c.info.conn == conn)
    }

    /// The session of `conn` and `stream`, created when first named (within the bounds).
    fn session(&mut self, conn: ConnId, stream: Option<StreamId>) -> Option<&mut Session> {
        let max_frames = self.options.max_frames;
        let c = self.connection(conn)?;
        if let Some(i) = c.sessions.iter().position(|s| s.stream == stream) {
            return Some(&mut c.sessions[i]);
        }
        if c.sessions.len() >= MAX_SESSIONS_PER_CONNECTION {
            c.sessions_left_out += 1;
            return None;
        }
        c.sessions.push(Session::new(stream, max_frames));
        c.sessions.last_mut()
    }

    fn on_connection(&mut self, info: &ConnectionInfo) {
        if self.start.is_none() {
            self.start = Some(info.first_packet.ts);
        }
        if self.connections.len() >= MAX_CONNECTIONS {
            self.connections_left_out += 1;
            return;
        }
        self.connections.push(Connection {
            info: info.clone(),
            sessions: Vec::new(),
            sessions_left_out: 0,
            diagnostics: Bounded::new(MAX_DIAGNOSTICS),
            end: None,
            diagnostics_counted: None,
        });
    }

    fn on_frame(&mut self, f: &Frame) {
        let t = self.seconds(f.last_packet.ts);
        let page_full = self.frames_drawn >= MAX_FRAMES_PER_PAGE;
        let Some(s) = self.session(f.conn, f.stream) else {
            return;
        };
        if let Some(rtt) = f.rtt_ns {
            s.rtts.push(Point {
                t,
                dir: f.dir,
                value: rtt as f64 / 1e6,
            });
        }
        let part_of = s.part_of(f);
        let kept = KeptFrame {
            frame: trimmed_frame(f),
            part_of,
            diagnostics: Vec::new(),
        };
        if page_full {
            s.frames.left_out += 1;
        } else if let Some(i) = s.frames.push(kept) {
            s.rows.push(Row::Frame(i));
            self.frames_drawn += 1;
        }
    }

    fn on_message(&mut self, m: &Message) {
        let t = self.seconds(m.last_packet.ts);
        let Some(s) = self.session(m.conn, m.stream) else {
            return;
        };
        s.sizes.push(Point {
            t,
            dir: m.dir,
            value: m.payload.len as f64,
        });
        // A one-frame uncompressed message is its frame's line already.
        if m.fragments > 1 || m.compressed {
            // Once frames are left out, so are the messages they make up.
            if s.frames.left_out > 0 {
                s.messages.left_out += 1;
            } else if let Some(i) = s.messages.push(trimmed_message(m)) {
                s.rows.push(Row::Message(i));
            }
        }
    }

    /// A gap is drawn in the connection's HTTP/1.1 session, if it has one (under HTTP/2 a gap
    /// is the connection's, not one stream's), while its frames are still drawn.
    fn on_gap(&mut self, g: &Gap) {
        let Some(c) = self.connection(g.conn) else {
            return;
        };
        if let Some(s) = c.sessions.iter_mut().find(|s| s.stream.is_none()) {
            if s.frames.left_out == 0 {
                s.rows.push(Row::Gap(g.clone()));
            }
        }
    }

    fn on_diagnostic(&mut self, d: &Diagnostic) {
        let id = self.next_diagnostic;
        let stored = self.store_diagnostic(d, id);
        if stored {
            self.next_diagnostic += 1;
        }
        let listed = stored.then_some(id);
        match self.by_rule.iter_mut().find(|r| r.rule.name == d.rule.name) {
            Some(r) => {
                r.count += 1;
                r.first = r.first.or(listed);
            }
            None => self.by_rule.push(RuleCount {
                rule: d.rule,
                count: 1,
                first: listed,
            }),
        }
    }

    /// Keep `d` as diagnostic `id` where it belongs, if there is room; false if it was only
    /// counted.
    fn store_diagnostic(&mut self, d: &Diagnostic, id: usize) -> bool {
        let kept = |frame| KeptDiagnostic {
            diagnostic: d.clone(),
            frame,
            id,
        };
        let packet = d.packet.map(|p| p.number);
        // A diagnostic goes to its session if that has begun (a handshake, a frame), else to its
        // connection: it never opens a session (under HTTP/2, stream None is the connection).
        let session = self
            .connection(d.conn)
            .filter(|_| d.conn.0 != 0)
            .and_then(|c| c.sessions.iter_mut().find(|s| s.stream == d.stream));
        if let Some(s) = session {
            let room = s.diagnostics.items.len() < s.diagnostics.limit;
            let frame = if room {
                s.frame_at(d.dir, packet)
            } else {
                None
            };
            let at = s.diagnostics.push(kept(frame));
            if let (Some(at), Some(f)) = (at, frame) {
                s.frames.items[f].diagnostics.push(at);
            }
            at.is_some()
        } else if let Some(c) = self.connection(d.conn).filter(|_| d.conn.0 != 0) {
            c.diagnostics.push(kept(None)).is_some()
        } else {
            self.capture_diagnostics.push(kept(None)).is_some()
        }
    }

    fn on_event(&mut self, event: &Event) {
        match event {
            Event::Connection(c) => self.on_connection(c),
            Event::Handshake(h) => {
                if let Some(s) = self.session(h.conn, h.stream) {
                    s.handshake = Some(h.clone());
                }
            }
            Event::Frame(f) => self.on_frame(f),
            Event::Message(m) => self.on_message(m),
            Event::Diagnostic(d) => self.on_diagnostic(d),
            Event::StreamEnd(e) => {
                if let Some(s) = self.session(e.conn, Some(e.stream)) {
                    s.end = Some(End {
                        what: e.reason.describe(),
                        stats: e.stats,
                        close: e.close.clone(),
                    });
                }
            }
            Event::ConnectionEnd(e) => {
                if let Some(c) = self.connection(e.conn) {
                    c.diagnostics_counted = Some(e.diagnostics);
                    c.end = Some(End {
                        what: e.reason.as_str().to_string(),
                        stats: e.stats,
                        close: e.close.clone(),
                    });
                }
            }
            Event::CaptureEnd(s) => self.summary = Some(s.clone()),
            Event::Gap(g) => self.on_gap(g),
            Event::TlsRecord(_) | Event::Http2Frame(_) | Event::Http2Request(_) => {}
        }
    }

    /// Diagnostics counted by severity: errors, warnings, notes.
    fn severity_counts(&self) -> [u64; 3] {
        let mut n = [0; 3];
        for RuleCount { rule, count, .. } in &self.by_rule {
            let i = match rule.severity {
                Severity::Error => 0,
                Severity::Warning => 1,
                Severity::Info => 2,
            };
            n[i] += count;
        }
        n
    }
}

impl<W: Write> Sink for ReportSink<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.report.on_event(event);
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        page::write_page(&mut self.out, &self.report)?;
        self.out.flush()
    }

    fn capture_start(&mut self, first_packet: Timestamp) {
        self.report.start = Some(first_packet);
    }
}

#[cfg(test)]
mod tests;
