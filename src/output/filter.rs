//! Filters shared by every view: connection ids, direction, opcodes, endpoint address or
//! port, and a limit on messages. A filtered-out connection drops all its events.

use std::collections::HashMap;
use std::io;

use super::Sink;
use crate::base::{ConnId, Direction};
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
}

pub struct FilterSink<S: Sink> {
    inner: S,
    filter: EventFilter,
    conn_ok: HashMap<ConnId, bool>,
    /// Connections whose addresses did not match `--host`, held until their handshake's Host
    /// header decides.
    held: HashMap<ConnId, Event>,
    messages: u64,
}

impl<S: Sink> FilterSink<S> {
    pub fn new(inner: S, filter: EventFilter) -> Self {
        FilterSink {
            inner,
            filter,
            conn_ok: HashMap::new(),
            held: HashMap::new(),
            messages: 0,
        }
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
        if conn.0 != 0 && !self.conn_ok.get(&conn).copied().unwrap_or(true) {
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
        true
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
        if !self.wants_more() && !matches!(event, Event::CaptureEnd(_)) {
            return Ok(());
        }
        if let Event::Handshake(h) = event {
            if let Some(held) = self.held.remove(&h.conn) {
                if self.host_header_matches(h.host.as_deref()) {
                    self.conn_ok.insert(h.conn, true);
                    if self.filter.packets.is_empty() {
                        self.inner.event(&held)?;
                    }
                }
            }
        }
        if let Event::ConnectionEnd(e) = event {
            self.held.remove(&e.conn);
        }
        if self.passes(event) {
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
