//! Helpers for the decoder tests over samples/apps/ (STOMP, GraphQL over WebSocket,
//! JSON-RPC): the messages of each WebSocket connection with what was decoded, the findings,
//! and the senders' JSON-lines logs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use wsdissect::base::Direction;
use wsdissect::decode::{Decoded, Unit};
use wsdissect::event::Event;
use wsdissect::ws::record::Message;

use crate::common::{dissect_full, repo};

pub fn app_sample(path: &str) -> PathBuf {
    repo().join("samples/apps").join(path)
}

/// One WebSocket connection's messages, per direction in order, and its diagnostics' rules.
#[derive(Default)]
pub struct Conn {
    pub subprotocol: Option<String>,
    pub c2s: Vec<Message>,
    pub s2c: Vec<Message>,
    pub rules: Vec<(&'static str, String)>,
}

impl Conn {
    pub fn dir(&self, dir: Direction) -> &[Message] {
        match dir {
            Direction::ClientToServer => &self.c2s,
            Direction::ServerToClient => &self.s2c,
        }
    }

    /// No diagnostic of `rule` on this connection.
    pub fn assert_no_rule(&self, rule: &str) {
        assert!(
            self.rules.iter().all(|(r, _)| *r != rule),
            "{:?}",
            self.rules
        );
    }

    /// Its messages in the order a sender's log lists them: each direction's next in turn.
    pub fn in_order(&self) -> InOrder<'_> {
        InOrder {
            conn: self,
            taken: [0, 0],
        }
    }
}

/// A connection's messages taken in order, per direction (see [`Conn::in_order`]).
pub struct InOrder<'a> {
    conn: &'a Conn,
    taken: [usize; 2],
}

impl<'a> InOrder<'a> {
    /// The next message of `dir`, and its number in that direction (from 1).
    pub fn next(&mut self, dir: Direction) -> (u64, &'a Message) {
        let taken = &mut self.taken[dir.index()];
        *taken += 1;
        (*taken as u64, &self.conn.dir(dir)[*taken - 1])
    }

    /// Every message was taken: none that the log does not list (`what` names the run).
    pub fn assert_all_taken(&self, what: &str) {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            assert_eq!(
                self.conn.dir(dir).len(),
                self.taken[dir.index()],
                "{what}: no message unlogged ({})",
                dir.as_str()
            );
        }
    }
}

/// The direction a log line's sender wrote in: its `side` is `client` or the server.
pub fn sent_by(line: &serde_json::Value) -> Direction {
    match line["side"].as_str() {
        Some("client") => Direction::ClientToServer,
        _ => Direction::ServerToClient,
    }
}

/// The connections of a capture, in order of their first packet.
pub fn connections(path: &str) -> Vec<Conn> {
    let mut by_conn: BTreeMap<u64, Conn> = BTreeMap::new();
    for e in dissect_full(&app_sample(path)) {
        match e {
            Event::Handshake(h) => {
                by_conn.entry(h.conn.0).or_default().subprotocol = h.exchange.subprotocol;
            }
            Event::Message(m) => {
                let c = by_conn.entry(m.conn.0).or_default();
                match m.dir {
                    Direction::ClientToServer => c.c2s.push(m),
                    Direction::ServerToClient => c.s2c.push(m),
                }
            }
            Event::Diagnostic(d) => {
                let c = by_conn.entry(d.conn.0).or_default();
                c.rules.push((d.rule.name, d.message));
            }
            _ => {}
        }
    }
    by_conn.into_values().collect()
}

/// What the decoder made of a message; panics naming the message when nothing.
pub fn decoded(m: &Message) -> &Decoded {
    m.decoded.as_deref().unwrap_or_else(|| {
        panic!(
            "{} message {} not decoded: {:?}",
            m.dir.as_str(),
            m.index,
            String::from_utf8_lossy(&m.payload.bytes)
        )
    })
}

/// A JSON-lines log.
pub fn log_lines(path: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(app_sample(path))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Answers come back within a second on loopback, never before their question.
pub fn assert_plausible_rtt(u: &Unit) {
    let a = u.answers.as_ref().expect("an answer");
    assert!(a.rtt_ns < 1_000_000_000, "{u:?}");
}
