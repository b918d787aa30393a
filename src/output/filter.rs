//! Filters shared by every view: connection ids, direction, opcodes, endpoint address or
//! port, diagnostics' severity, and a limit on messages. A filtered-out connection drops all
//! its events. The filter also remembers what it saw, so a filter that matched nothing can
//! say what there was instead ([`FilterSink::unmatched`]).

use std::collections::HashMap;
use std::io;

use super::Sink;
use crate::base::{ConnId, Direction, Severity};
use crate::event::Event;
use crate::ws::opcode::OpCode;

#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub conns: Vec<u64>,
    /// Only the sessions on these HTTP/2 streams (none: every session).
    pub streams: Vec<u32>,
    pub dir: Option<Direction>,
    /// Only frames and messages with these opcodes (none: every opcode).
    pub opcodes: Vec<OpCode>,
    /// IP addresses, or `ip:port`, of either endpoint.
    pub hosts: Vec<String>,
    pub ports: Vec<u16>,
    /// Only frames and messages carried (in part) by these packets, and diagnostics at them.
    pub packets: Vec<u64>,
    /// Stop after this many messages have been shown.
    pub max_messages: Option<u64>,
    /// Only diagnostics of this severity or higher.
    pub min_severity: Option<Severity>,
    /// Only diagnostics, each connection's line before its first one (the triage view).
    pub diagnostics_only: bool,
}

/// A filter value that matched nothing, and what the capture had instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unmatched {
    /// `--conn` ids that no connection had, and the ids of the connections shown.
    Conns { wanted: Vec<u64>, seen: Vec<u64> },
    /// `--port` values that no connection had, and the ports of the connections shown.
    Ports { wanted: Vec<u16>, seen: Vec<u16> },
    /// `--packet` numbers past the end of the capture, which had this many packets.
    Packets { wanted: Vec<u64>, last: u64 },
}

impl std::fmt::Display for Unmatched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn list<T: ToString>(v: &[T]) -> String {
            v.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
        }
        fn plural<T>(v: &[T]) -> &'static str {
            if v.len() == 1 {
                ""
            } else {
                "s"
            }
        }
        match self {
            Unmatched::Conns { wanted, seen } => {
                write!(f, "no connection{} {}", plural(wanted), list(wanted))?;
                match seen.as_slice() {
                    [] => write!(f, " (no WebSocket connections in this capture)"),
                    [one] => write!(f, " (the only connection is {one})"),
                    _ if seen.windows(2).all(|w| w[1] == w[0] + 1) => {
                        write!(f, " (connections are {}–{})", seen[0], seen[seen.len() - 1])
                    }
                    _ => write!(f, " (connections are {})", list(seen)),
                }
            }
            Unmatched::Ports { wanted, seen } => {
                write!(
                    f,
                    "no connection on port{} {}",
                    plural(wanted),
                    list(wanted)
                )?;
                match seen.as_slice() {
                    [] => write!(f, " (no WebSocket connections in this capture)"),
                    _ => write!(f, " (ports seen: {})", list(seen)),
                }
            }
            Unmatched::Packets { wanted, last } => write!(
                f,
                "no packet{} {} (the capture has {last} packet{})",
                plural(wanted),
                list(wanted),
                if *last == 1 { "" } else { "s" }
            ),
        }
    }
}

pub struct FilterSink<S: Sink> {
    inner: S,
    filter: EventFilter,
    conn_ok: HashMap<ConnId, bool>,
    /// Connections whose addresses did not match `--host`, held until their handshake's Host
    /// header decides.
    held: HashMap<ConnId, Event>,
    /// With `diagnostics_only`: connection lines not shown yet, waiting for a diagnostic.
    quiet: HashMap<ConnId, Event>,
    messages: u64,
    /// Ids and ports of every connection line that reached the filter, and the packet count.
    seen_conns: Vec<u64>,
    seen_ports: Vec<u16>,
    packets: Option<u64>,
    /// No filter is set (decided once: the filter never changes): every event goes straight
    /// to the view, and there is nothing to remember for [`FilterSink::unmatched`].
    passes_everything: bool,
}

impl<S: Sink> FilterSink<S> {
    pub fn new(inner: S, filter: EventFilter) -> Self {
        FilterSink {
            inner,
            passes_everything: passes_everything(&filter),
            filter,
            conn_ok: HashMap::new(),
            held: HashMap::new(),
            quiet: HashMap::new(),
            messages: 0,
            seen_conns: Vec::new(),
            seen_ports: Vec::new(),
            packets: None,
        }
    }

    /// The `--conn`, `--port` and `--packet` values that matched nothing, with what the
    /// capture had instead; meaningful once the run has ended (after `CaptureEnd`).
    pub fn unmatched(&self) -> Vec<Unmatched> {
        let f = &self.filter;
        let mut out = Vec::new();
        let wanted: Vec<u64> = dedup(f.conns.iter().filter(|c| !self.seen_conns.contains(c)));
        if !wanted.is_empty() {
            let mut seen = self.seen_conns.clone();
            seen.sort_unstable();
            out.push(Unmatched::Conns { wanted, seen });
        }
        let wanted: Vec<u16> = dedup(f.ports.iter().filter(|p| !self.seen_ports.contains(p)));
        if !wanted.is_empty() {
            let mut seen = self.seen_ports.clone();
            seen.sort_unstable();
            seen.dedup();
            out.push(Unmatched::Ports { wanted, seen });
        }
        if let Some(last) = self.packets {
            let wanted: Vec<u64> = dedup(f.packets.iter().filter(|&&p| p == 0 || p > last));
            if !wanted.is_empty() {
                out.push(Unmatched::Packets { wanted, last });
            }
        }
        out
    }

    /// Id and port filters, and whether an address matches `--host`.
    fn connection_matches(&self, e: &crate::event::ConnectionInfo) -> (bool, bool) {
        let f = &self.filter;
        let ids_ports = (f.conns.is_empty() || f.conns.contains(&e.conn.0))
            && (f.ports.is_empty()
                || f.ports.contains(&e.client.port())
                || f.ports.contains(&e.server.port()));
        let address = f.hosts.is_empty()
            || f.hosts.iter().any(|h| {
                [e.client, e.server].iter().any(|a| {
                    a.ip().to_string() == h.trim_matches(['[', ']']) || a.to_string() == *h
                })
            });
        (ids_ports, address)
    }

    /// Whether some connections may be left out (by id, port or address).
    fn filters_connections(&self) -> bool {
        let f = &self.filter;
        !(f.conns.is_empty() && f.ports.is_empty() && f.hosts.is_empty())
    }

    /// Does the handshake's Host header (without its port) name one of the `--host` values?
    fn host_header_matches(&self, host: Option<&str>) -> bool {
        let Some(host) = host else { return false };
        // "name:port", "[v6]:port", "[v6]" or "name"; a bare IPv6 address keeps its colons.
        let name = match host.rsplit_once(':') {
            Some((name, port))
                if port.chars().all(|c| c.is_ascii_digit())
                    && (!name.contains(':') || name.ends_with(']')) =>
            {
                name
            }
            _ => host,
        };
        self.filter.hosts.iter().any(|h| {
            h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(name.trim_matches(['[', ']']))
        })
    }

    fn passes(&mut self, event: &Event) -> bool {
        let conn = match event {
            Event::Connection(c) => {
                self.seen_conns.push(c.conn.0);
                self.seen_ports.extend([c.client.port(), c.server.port()]);
                let (ids_ports, address) = self.connection_matches(c);
                if ids_ports && !address {
                    // Maybe the Host header names it: decide at the handshake.
                    self.held.insert(c.conn, event.clone());
                    self.conn_ok.insert(c.conn, false);
                    return false;
                }
                self.conn_ok.insert(c.conn, ids_ports && address);
                // `--packet` shows only what the packets carry.
                return ids_ports && address && self.filter.packets.is_empty();
            }
            Event::Handshake(h) => h.conn,
            Event::Frame(f) => f.conn,
            Event::Message(m) => m.conn,
            Event::Gap(g) => g.conn,
            Event::TlsRecord(r) => r.conn,
            Event::Http2Frame(r) => r.conn,
            Event::Http2Request(r) => r.conn,
            Event::StreamEnd(e) => e.conn,
            Event::ConnectionEnd(e) => e.conn,
            Event::Diagnostic(d) => d.conn,
            Event::CaptureEnd(_) => return true,
        };
        // Without a connection filter every connection passes: no lookup per event.
        if conn.0 != 0
            && self.filters_connections()
            && !self.conn_ok.get(&conn).copied().unwrap_or(true)
        {
            return false;
        }
        if !self.filter.packets.is_empty() {
            let within = |first: u64, last: u64| {
                self.filter
                    .packets
                    .iter()
                    .any(|p| (first..=last).contains(p))
            };
            let shown = match event {
                Event::Frame(f) => within(f.first_packet.number, f.last_packet.number),
                Event::Message(m) => within(m.first_packet.number, m.last_packet.number),
                Event::TlsRecord(r) => within(r.packet.number, r.packet.number),
                Event::Http2Frame(r) => within(r.packet.number, r.packet.number),
                // The request's packet or the response's: each half can be asked for.
                Event::Handshake(h) => [h.request_packet, h.response_packet]
                    .iter()
                    .any(|p| within(p.number, p.number)),
                Event::Diagnostic(d) => d
                    .packet
                    .is_some_and(|p| self.filter.packets.contains(&p.number)),
                _ => false,
            };
            if !shown {
                return false;
            }
        }
        if !self.stream_passes(event) {
            return false;
        }
        let dir = match event {
            Event::Frame(f) => Some(f.dir),
            Event::Message(m) => Some(m.dir),
            Event::Gap(g) => Some(g.dir),
            Event::TlsRecord(r) => Some(r.dir),
            Event::Http2Frame(r) => Some(r.dir),
            Event::Diagnostic(d) => d.dir,
            _ => None,
        };
        if let (Some(want), Some(have)) = (self.filter.dir, dir) {
            if want != have {
                return false;
            }
        }
        let opcode = match event {
            Event::Frame(f) => Some(f.header.opcode),
            Event::Message(m) => Some(m.opcode),
            _ => None,
        };
        if let Some(op) = opcode {
            if !self.filter.opcodes.is_empty() && !self.filter.opcodes.contains(&op) {
                return false;
            }
        }
        if let Event::Diagnostic(d) = event {
            if self
                .filter
                .min_severity
                .is_some_and(|m| d.rule.severity < m)
            {
                return false;
            }
        }
        true
    }

    /// `--diagnostics`: of what passed the other filters, only diagnostics (and the summary),
    /// each connection's line held back until its first diagnostic.
    fn triage(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Connection(c) => {
                self.quiet.insert(c.conn, event.clone());
            }
            Event::Diagnostic(d) => {
                if let Some(line) = self.quiet.remove(&d.conn) {
                    self.inner.event(&line)?;
                }
                self.inner.event(event)?;
            }
            Event::ConnectionEnd(e) => {
                self.quiet.remove(&e.conn);
            }
            Event::CaptureEnd(_) => self.inner.event(event)?,
            _ => {}
        }
        Ok(())
    }
}

impl<S: Sink> FilterSink<S> {
    /// `--stream`: a session's records pass when they name one of the streams (over HTTP/1.1
    /// they name none); connection-wide records always pass.
    fn stream_passes(&self, event: &Event) -> bool {
        if self.filter.streams.is_empty() {
            return true;
        }
        let stream = match event {
            Event::Handshake(h) => h.stream.map(|s| s.0),
            Event::Frame(f) => f.stream.map(|s| s.0),
            Event::Message(m) => m.stream.map(|s| s.0),
            Event::StreamEnd(e) => Some(e.stream.0),
            Event::Http2Request(r) => Some(r.stream.0),
            Event::Diagnostic(d) => match d.stream {
                Some(s) => Some(s.0),
                None => return true,
            },
            // HTTP/2 frames of the connection itself (stream 0) stay, as context.
            Event::Http2Frame(f) if f.header.stream == 0 => return true,
            Event::Http2Frame(f) => Some(f.header.stream),
            _ => return true,
        };
        stream.is_some_and(|s| self.filter.streams.contains(&s))
    }
}

impl<S: Sink> Sink for FilterSink<S> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if self.passes_everything {
            return self.inner.event(event);
        }
        if !self.wants_more() && !matches!(event, Event::CaptureEnd(_)) {
            return Ok(());
        }
        if let Event::Handshake(h) = event {
            if let Some(held) = self.held.remove(&h.conn) {
                if self.host_header_matches(h.host.as_deref()) {
                    self.conn_ok.insert(h.conn, true);
                    if self.filter.diagnostics_only {
                        self.quiet.insert(h.conn, held);
                    } else if self.filter.packets.is_empty() {
                        self.inner.event(&held)?;
                    }
                }
            }
        }
        if let Event::ConnectionEnd(e) = event {
            self.held.remove(&e.conn);
        }
        if let Event::CaptureEnd(s) = event {
            self.packets = Some(s.packets);
        }
        if self.passes(event) {
            if self.filter.diagnostics_only {
                return self.triage(event);
            }
            if matches!(event, Event::Message(_)) {
                self.messages += 1;
            }
            self.inner.event(event)?;
        }
        Ok(())
    }

    fn capture_start(&mut self, first_packet: crate::base::Timestamp) {
        self.inner.capture_start(first_packet)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }

    fn wants_more(&self) -> bool {
        self.filter.max_messages.is_none_or(|m| self.messages < m)
    }

    /// The view's own renderer when nothing is filtered out (a filter needs every event).
    fn renderer(&self) -> Option<super::Renderer> {
        self.inner.renderer().filter(|_| self.passes_everything)
    }

    fn write_rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_rendered(bytes)
    }

    fn write_rendered_vectored(&mut self, pieces: &[io::IoSlice<'_>]) -> io::Result<()> {
        self.inner.write_rendered_vectored(pieces)
    }
}

/// No filter is set: every event passes as it is.
fn passes_everything(f: &EventFilter) -> bool {
    f.conns.is_empty()
        && f.streams.is_empty()
        && f.dir.is_none()
        && f.opcodes.is_empty()
        && f.hosts.is_empty()
        && f.ports.is_empty()
        && f.packets.is_empty()
        && f.max_messages.is_none()
        && f.min_severity.is_none()
        && !f.diagnostics_only
}

/// The values of `items`, each once, in order.
fn dedup<'a, T: PartialEq + Copy + 'a>(items: impl Iterator<Item = &'a T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for &i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Collect;

    fn sink(hosts: &[&str]) -> FilterSink<Collect> {
        FilterSink::new(
            Collect::default(),
            EventFilter {
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                ..EventFilter::default()
            },
        )
    }

    #[test]
    fn host_header_forms() {
        let s = sink(&["example.com", "::1"]);
        assert!(s.host_header_matches(Some("example.com")));
        assert!(s.host_header_matches(Some("Example.COM:8080")));
        assert!(s.host_header_matches(Some("[::1]:9443")));
        assert!(s.host_header_matches(Some("::1")));
        assert!(!s.host_header_matches(Some("example.org")));
        assert!(!s.host_header_matches(None));
    }
}
