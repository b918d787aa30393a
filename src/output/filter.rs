//! Filters shared by every view: connection ids, direction, opcode names, endpoint address or
//! port, and a limit on messages. A filtered-out connection drops all its events.

use std::collections::HashMap;
use std::io;

use super::Sink;
use crate::event::{ConnId, Direction, Event};

#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub conns: Vec<u64>,
    pub dir: Option<Direction>,
    /// Opcode names (`text`, `binary`, `close`, `ping`, `pong`, `continuation`); frames and
    /// messages of other opcodes are hidden.
    pub opcodes: Vec<String>,
    /// IP addresses, or `ip:port`, of either endpoint.
    pub hosts: Vec<String>,
    pub ports: Vec<u16>,
    /// Only frames and messages carried (in part) by these packets, and diagnostics at them.
    pub packets: Vec<u64>,
    /// Stop after this many messages have been shown.
    pub max_messages: Option<u64>,
}

impl EventFilter {
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
            && self.packets.is_empty()
            && self.dir.is_none()
            && self.opcodes.is_empty()
            && self.hosts.is_empty()
            && self.ports.is_empty()
            && self.max_messages.is_none()
    }
}

pub struct FilterSink<S: Sink> {
    inner: S,
    filter: EventFilter,
    conn_ok: HashMap<ConnId, bool>,
    messages: u64,
}

impl<S: Sink> FilterSink<S> {
    pub fn new(inner: S, filter: EventFilter) -> Self {
        FilterSink {
            inner,
            filter,
            conn_ok: HashMap::new(),
            messages: 0,
        }
    }

    fn connection_passes(&self, e: &crate::event::ConnectionInfo) -> bool {
        let f = &self.filter;
        (f.conns.is_empty() || f.conns.contains(&e.conn.0))
            && (f.ports.is_empty()
                || f.ports.contains(&e.client.port())
                || f.ports.contains(&e.server.port()))
            && (f.hosts.is_empty()
                || f.hosts.iter().any(|h| {
                    [e.client, e.server].iter().any(|a| {
                        a.ip().to_string() == h.trim_matches(['[', ']']) || a.to_string() == *h
                    })
                }))
    }

    fn passes(&mut self, event: &Event) -> bool {
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
                Event::Diagnostic(d) => d
                    .packet
                    .is_some_and(|p| self.filter.packets.contains(&p.number)),
                _ => false,
            };
            if !shown {
                return false;
            }
        }
        let conn = match event {
            Event::Connection(c) => {
                let ok = self.connection_passes(c);
                self.conn_ok.insert(c.conn, ok);
                return ok;
            }
            Event::Handshake(h) => h.conn,
            Event::Frame(f) => f.conn,
            Event::Message(m) => m.conn,
            Event::Gap(g) => g.conn,
            Event::ConnectionEnd(e) => e.conn,
            Event::Diagnostic(d) => d.conn,
            Event::CaptureEnd(_) => return true,
        };
        if conn.0 != 0 && !self.conn_ok.get(&conn).copied().unwrap_or(true) {
            return false;
        }
        let dir = match event {
            Event::Frame(f) => Some(f.dir),
            Event::Message(m) => Some(m.dir),
            Event::Gap(g) => Some(g.dir),
            Event::Diagnostic(d) => d.dir,
            _ => None,
        };
        if let (Some(want), Some(have)) = (self.filter.dir, dir) {
            if want != have {
                return false;
            }
        }
        let opcode = match event {
            Event::Frame(f) => Some(f.header.opcode.name()),
            Event::Message(m) => Some(m.opcode.name()),
            _ => None,
        };
        if let Some(op) = opcode {
            if !self.filter.opcodes.is_empty() && !self.filter.opcodes.iter().any(|o| o == op) {
                return false;
            }
        }
        true
    }
}

impl<S: Sink> Sink for FilterSink<S> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if !self.wants_more() && !matches!(event, Event::CaptureEnd(_)) {
            return Ok(());
        }
        if self.passes(event) {
            if matches!(event, Event::Message(_)) {
                self.messages += 1;
            }
            self.inner.event(event)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }

    fn wants_more(&self) -> bool {
        self.filter.max_messages.is_none_or(|m| self.messages < m)
    }
}
