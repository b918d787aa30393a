//! The summary view (`--format table`): nothing while the capture is read, then at the end a
//! table per connection (endpoints, handshake, duration, traffic and closes per direction,
//! diagnostics), frames per opcode, message-size percentiles and ping round-trip times.
//!
//! Only counts and sizes are kept, never payloads: per connection a few counters, and one
//! `u64` per message and per pong.

use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::{presets, CellAlignment, ColumnConstraint, ContentArrangement, Table};

use super::app_table::AppTables;
use super::escape::{escape_bytes, escape_text};
use super::samples::Samples;
use super::style::Style;
use super::text::summary_counts;
use super::Sink;
use crate::base::rules::Severity;
use crate::base::{ConnId, Direction, StreamId, Timestamp};
use crate::event::{CaptureSummary, CloseInfo, Event, StreamEndReason};
use crate::ws::close::close_code_name;
use crate::ws::opcode::OpCode;

pub struct TableOptions {
    /// Table width in columns; `None` lets comfy-table measure the terminal.
    pub width: Option<u16>,
    pub style: Style,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            width: Some(100),
            style: Style::default(),
        }
    }
}

#[derive(Default)]
struct DirCounts {
    frames: u64,
    messages: u64,
    payload_bytes: u64,
    close: Option<CloseInfo>,
}

#[derive(Default)]
struct ConnStats {
    client: Option<String>,
    server: Option<String>,
    inferred: bool,
    /// "GET /path → 101", when the handshake was seen.
    handshake: Option<String>,
    subprotocol: Option<String>,
    extensions: Vec<String>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    end_reason: Option<&'static str>,
    dirs: [DirCounts; 2],
    /// Diagnostics by severity: errors, warnings, info.
    diags: [u64; 3],
    /// Ping round-trip times, nanoseconds.
    rtts: Samples,
}

impl ConnStats {
    fn seen(&mut self, ts: Timestamp) {
        if self.first.is_none_or(|f| ts < f) {
            self.first = Some(ts);
        }
        if self.last.is_none_or(|l| ts > l) {
            self.last = Some(ts);
        }
    }
}

/// A session's row: `3`, or `3 stream 5` for stream 5 of connection 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RowId(ConnId, Option<StreamId>);

impl std::fmt::Display for RowId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(s) => write!(f, "{} stream {s}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

pub struct TableSink<W: Write> {
    out: W,
    opts: TableOptions,
    /// One row per session: a connection, or a stream of an HTTP/2 connection.
    conns: BTreeMap<RowId, ConnStats>,
    /// Frames per opcode (by its 4 bits) per direction, over the whole capture.
    opcodes: BTreeMap<u8, [u64; 2]>,
    /// Message sizes per direction, over the whole capture.
    sizes: [Samples; 2],
    /// Diagnostics about the capture itself (conn 0), by severity.
    capture_diags: [u64; 3],
    summary: Option<CaptureSummary>,
    /// What the decoded application protocols added up to.
    apps: AppTables,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W, opts: TableOptions) -> Self {
        TableSink {
            out,
            opts,
            conns: BTreeMap::new(),
            opcodes: BTreeMap::new(),
            sizes: [Samples::default(), Samples::default()],
            capture_diags: [0; 3],
            summary: None,
            apps: AppTables::default(),
        }
    }

    fn conn(&mut self, id: ConnId) -> &mut ConnStats {
        self.conns.entry(RowId(id, None)).or_default()
    }

    /// The row of a session; a stream's row starts with its connection's endpoints.
    fn session(&mut self, id: ConnId, stream: Option<StreamId>) -> &mut ConnStats {
        if stream.is_some() && !self.conns.contains_key(&RowId(id, stream)) {
            let conn = self.conn(id);
            let row = ConnStats {
                client: conn.client.clone(),
                server: conn.server.clone(),
                inferred: conn.inferred,
                ..ConnStats::default()
            };
            self.conns.insert(RowId(id, stream), row);
        }
        self.conns.entry(RowId(id, stream)).or_default()
    }

    /// An HTTP/2 connection's own row goes once its streams have rows, unless it has
    /// diagnostics of its own.
    fn drop_carrier_rows(&mut self) {
        let carriers: Vec<RowId> = self
            .conns
            .keys()
            .filter(|r| r.1.is_some())
            .map(|r| RowId(r.0, None))
            .collect();
        for r in carriers {
            let idle = |c: &ConnStats| c.handshake.is_none() && c.diags == [0; 3];
            if self.conns.get(&r).is_some_and(idle) {
                self.conns.remove(&r);
            }
        }
    }

    fn table(&self) -> Table {
        new_table(self.opts.width)
    }

    fn heading(&mut self, s: &str) -> io::Result<()> {
        writeln!(self.out, "{}", self.opts.style.heading(s))
    }

    fn connections_table(&mut self) -> io::Result<()> {
        self.heading("Connections")?;
        if self.conns.is_empty() {
            return writeln!(self.out, "no WebSocket connections\n");
        }
        let mut t = self.table();
        t.set_header(vec![
            "conn",
            "client → server",
            "handshake",
            "subprotocol",
            "extensions",
            "duration",
            "diagnostics",
        ]);
        for (id, c) in &self.conns {
            let endpoints = format!(
                "{}\n→ {}",
                c.client.as_deref().unwrap_or("?"),
                c.server.as_deref().unwrap_or("?")
            );
            let handshake = match (&c.handshake, c.inferred) {
                (Some(h), _) => h.clone(),
                (None, true) => "not seen\n(inferred)".to_string(),
                (None, false) => "-".to_string(),
            };
            let ext = if c.extensions.is_empty() {
                "-".to_string()
            } else {
                c.extensions.join(",\n")
            };
            let duration = match (c.first, c.last) {
                (Some(f), Some(l)) => {
                    let d = format!("{:.3} s", l.0.saturating_sub(f.0) as f64 / 1e9);
                    match c.end_reason {
                        Some(r) => format!("{d}\n({r})"),
                        None => d,
                    }
                }
                _ => "-".to_string(),
            };
            let [e, w, i] = c.diags;
            let mut diags: Vec<String> = Vec::new();
            for (n, what) in [(e, "error"), (w, "warning"), (i, "info")] {
                if n > 0 {
                    let plural = if n == 1 || what == "info" { "" } else { "s" };
                    diags.push(format!("{n} {what}{plural}"));
                }
            }
            t.add_row(vec![
                id.to_string(),
                endpoints,
                handshake,
                c.subprotocol.clone().unwrap_or_else(|| "-".into()),
                ext,
                duration,
                if diags.is_empty() {
                    "-".to_string()
                } else {
                    diags.join("\n")
                },
            ]);
        }
        // An address is never split across lines: the endpoints column is as wide as they are.
        if let Some(c) = t.column_mut(1) {
            c.set_constraint(ColumnConstraint::ContentWidth);
        }
        writeln!(self.out, "{t}\n")
    }

    fn traffic_table(&mut self) -> io::Result<()> {
        if self.conns.is_empty() {
            return Ok(());
        }
        self.heading("Traffic per connection and direction")?;
        let mut t = self.table();
        t.set_header(vec![
            "conn",
            "direction",
            "frames",
            "messages",
            "payload bytes",
            "close",
            "close reason",
        ]);
        for (id, c) in &self.conns {
            for (i, d) in c.dirs.iter().enumerate() {
                let dir = Direction::from_index(i);
                let (close, reason) = close_cells(d.close.as_ref());
                t.add_row(vec![
                    if i == 0 {
                        id.to_string()
                    } else {
                        String::new()
                    },
                    format!("{} {}", dir.as_str(), dir.arrow()),
                    d.frames.to_string(),
                    d.messages.to_string(),
                    d.payload_bytes.to_string(),
                    close,
                    reason,
                ]);
            }
        }
        right_align(&mut t, 2..5);
        writeln!(self.out, "{t}\n")
    }

    fn opcode_table(&mut self) -> io::Result<()> {
        self.heading("Frames by opcode")?;
        if self.opcodes.is_empty() {
            return writeln!(self.out, "no frames\n");
        }
        let mut t = self.table();
        t.set_header(vec!["opcode", "c2s →", "s2c ←", "total"]);
        for (bits, [c, s]) in &self.opcodes {
            let op = OpCode::from_bits(*bits);
            let name = if op.is_reserved() {
                format!("reserved 0x{bits:X}")
            } else {
                format!("{} (0x{bits:X})", op.name())
            };
            t.add_row(vec![
                name,
                c.to_string(),
                s.to_string(),
                (c + s).to_string(),
            ]);
        }
        right_align(&mut t, 1..4);
        writeln!(self.out, "{t}\n")
    }

    fn sizes_table(&mut self) -> io::Result<()> {
        self.heading("Message sizes (bytes)")?;
        if self.sizes.iter().all(|s| s.count == 0) {
            return writeln!(self.out, "no messages\n");
        }
        let mut t = self.table();
        t.set_header(vec![
            "direction",
            "messages",
            "min",
            "p50",
            "p90",
            "p99",
            "max",
            "total",
        ]);
        for (i, sizes) in self.sizes.iter_mut().enumerate() {
            let dir = Direction::from_index(i);
            let label = format!("{} {}", dir.as_str(), dir.arrow());
            if sizes.count == 0 {
                t.add_row(vec![
                    label,
                    "0".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "0".into(),
                ]);
                continue;
            }
            let mut row = vec![label, sizes.count.to_string(), sizes.min.to_string()];
            for p in [50, 90, 99] {
                row.push(sizes.percentile(p).to_string());
            }
            row.push(sizes.max.to_string());
            row.push(sizes.total.to_string());
            t.add_row(row);
        }
        right_align(&mut t, 1..8);
        writeln!(self.out, "{t}\n")
    }

    fn rtt_table(&mut self) -> io::Result<()> {
        self.heading("Ping round-trip times (ms)")?;
        if self.conns.values().all(|c| c.rtts.count == 0) {
            return writeln!(self.out, "no ping answered by a pong\n");
        }
        let mut t = self.table();
        t.set_header(vec!["conn", "pongs", "min", "median", "max"]);
        for (id, c) in self.conns.iter_mut() {
            if c.rtts.count == 0 {
                continue;
            }
            let ms = |ns: u64| format!("{:.3}", ns as f64 / 1e6);
            let median = c.rtts.percentile(50);
            t.add_row(vec![
                id.to_string(),
                c.rtts.count.to_string(),
                ms(c.rtts.min),
                ms(median),
                ms(c.rtts.max),
            ]);
        }
        right_align(&mut t, 1..5);
        writeln!(self.out, "{t}\n")
    }
}

impl<W: Write> TableSink<W> {
    /// Per decoded protocol: its keys and answer times (nothing when nothing was decoded).
    fn app_tables(&mut self) -> io::Result<()> {
        let (width, style) = (self.opts.width, self.opts.style);
        let table = move || new_table(width);
        for (heading, body) in self.apps.render(&table) {
            writeln!(self.out, "{}\n{body}", style.heading(&heading))?;
        }
        Ok(())
    }
}

/// An empty table in the view's style, within `width` columns when given.
fn new_table(width: Option<u16>) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = width {
        t.set_width(w);
    }
    t
}

fn right_align(t: &mut Table, cols: std::ops::Range<usize>) {
    for col in cols {
        if let Some(c) = t.column_mut(col) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// The close cells of a direction: code and name, and the quoted, escaped reason.
fn close_cells(c: Option<&CloseInfo>) -> (String, String) {
    match c {
        None => ("-".into(), String::new()),
        Some(CloseInfo { code: None, .. }) => ("(no status code)".into(), String::new()),
        Some(CloseInfo {
            code: Some(code),
            reason_bytes,
            ..
        }) => (
            format!("{code} {}", close_code_name(*code)),
            if reason_bytes.is_empty() {
                String::new()
            } else {
                format!("\"{}\"", escape_bytes(reason_bytes))
            },
        ),
    }
}

fn severity_index(s: Severity) -> usize {
    match s {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}

impl<W: Write> Sink for TableSink<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Connection(c) => {
                let s = self.conn(c.conn);
                s.client = Some(c.client.to_string());
                s.server = Some(c.server.to_string());
                s.inferred = c.inferred;
                s.seen(c.first_packet.ts);
            }
            Event::Handshake(h) => {
                let s = self.session(h.conn, h.stream);
                let mut line = format!(
                    "{} {}\n→ {}",
                    escape_text(&h.method),
                    escape_text(&h.target),
                    h.status
                );
                if !h.accepted() {
                    line.push_str(" (rejected)");
                } else if !h.accept_valid() {
                    line.push_str(" (accept invalid)");
                }
                s.handshake = Some(line);
                s.subprotocol = h.subprotocol.as_deref().map(escape_text);
                s.extensions = h
                    .extensions
                    .iter()
                    .map(|e| escape_text(&e.to_string()).replace("; ", ";\n  "))
                    .collect();
                s.seen(h.response_packet.ts);
            }
            Event::Frame(f) => {
                let i = f.dir.index();
                self.opcodes.entry(f.header.opcode.bits()).or_default()[i] += 1;
                let s = self.session(f.conn, f.stream);
                s.seen(f.last_packet.ts);
                let d = &mut s.dirs[i];
                d.frames += 1;
                d.payload_bytes += f.header.payload_len;
                if d.close.is_none() {
                    d.close = f.close.clone();
                }
                if let Some(rtt) = f.rtt_ns {
                    s.rtts.add(rtt);
                }
            }
            Event::Message(m) => {
                self.sizes[m.dir.index()].add(m.payload.len);
                let s = self.session(m.conn, m.stream);
                s.seen(m.last_packet.ts);
                s.dirs[m.dir.index()].messages += 1;
                self.apps.message(m);
            }
            Event::Gap(_) | Event::TlsRecord(_) | Event::Http2Frame(_) | Event::Http2Request(_) => {
            }
            Event::StreamEnd(e) => {
                let s = self.session(e.conn, Some(e.stream));
                s.seen(e.packet.ts);
                s.end_reason = Some(match e.reason {
                    StreamEndReason::EndStream => "END_STREAM",
                    StreamEndReason::Reset { .. } => "RST_STREAM",
                    StreamEndReason::GoAway { .. } => "GOAWAY",
                    StreamEndReason::Connection(r) => r.as_str(),
                });
                for (d, close) in s.dirs.iter_mut().zip(&e.close) {
                    if d.close.is_none() {
                        d.close = close.clone();
                    }
                }
            }
            Event::ConnectionEnd(e) => {
                let s = self.conn(e.conn);
                s.seen(e.packet.ts);
                s.end_reason = Some(e.reason.as_str());
                for (d, close) in s.dirs.iter_mut().zip(&e.close) {
                    if d.close.is_none() {
                        d.close = close.clone();
                    }
                }
            }
            Event::Diagnostic(d) => {
                let i = severity_index(d.rule.severity);
                if d.conn.0 == 0 {
                    self.capture_diags[i] += 1;
                } else {
                    self.session(d.conn, d.stream).diags[i] += 1;
                }
            }
            Event::CaptureEnd(s) => self.summary = Some(s.clone()),
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.drop_carrier_rows();
        self.connections_table()?;
        self.traffic_table()?;
        self.opcode_table()?;
        self.sizes_table()?;
        self.rtt_table()?;
        self.app_tables()?;
        if let Some(s) = &self.summary {
            writeln!(self.out, "{}", summary_counts(s))?;
            for (reason, n) in &s.skipped {
                writeln!(
                    self.out,
                    "  skipped {n} packets: {}",
                    escape_text(&reason.to_string())
                )?;
            }
        }
        let [e, w, i] = self.capture_diags;
        if e + w + i > 0 {
            writeln!(
                self.out,
                "capture diagnostics: {e} errors, {w} warnings, {i} info"
            )?;
        }
        self.out.flush()
    }
}
