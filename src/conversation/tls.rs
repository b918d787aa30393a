//! The TLS layer: a connection that starts with a ClientHello is TLS whatever its port. Its
//! records are decrypted with the key log's secrets and the plaintext of each side goes to the
//! phases above (the HTTP/1.1 upgrade, then WebSocket) exactly as TCP's bytes would, at
//! offsets in the decrypted stream. Without secrets the connection is still shown, with what
//! its handshake said.

use crate::base::rules::Rule;
use crate::base::PacketRef;
use crate::event::{Event, TlsRecord};
use crate::tcp::EndReason;
use crate::tls::session::{RecordSeen, Side, TlsConnection, TlsInfo, TlsReport};
use crate::ws::session::Summary;

use super::{Chunk, Cx, Hole, Layer, Phase};

#[derive(Debug)]
pub struct TlsLayer {
    conn: TlsConnection,
    /// The phase of what the TLS connection carries.
    inner: Phase,
    /// Decrypted bytes handed up so far, per side: the offsets of the plaintext streams.
    plain: [u64; 2],
    /// Records read before the connection was shown (`tls_records` only), shown right after it.
    early_records: Vec<TlsRecord>,
}

/// Records kept until the connection is shown: the handshake and the first requests.
const MAX_EARLY_RECORDS: usize = 64;

impl TlsLayer {
    /// The TLS connection, and where what it reports goes.
    fn split<'a, 'b>(&'a mut self, cx: &'a mut Cx<'b>) -> (&'a mut TlsConnection, Up<'a, 'b>) {
        let TlsLayer {
            conn,
            inner,
            plain,
            early_records,
        } = self;
        let up = Up {
            inner,
            plain,
            early_records,
            cx,
        };
        (conn, up)
    }

    pub fn start() -> Box<TlsLayer> {
        Box::new(TlsLayer {
            conn: TlsConnection::new(),
            inner: Phase::AwaitRequest(Box::default()),
            plain: [0; 2],
            early_records: Vec::new(),
        })
    }
}

/// Plaintext and findings from the TLS connection, to the phases above and the events.
struct Up<'a, 'b> {
    inner: &'a mut Phase,
    plain: &'a mut [u64; 2],
    early_records: &'a mut Vec<TlsRecord>,
    cx: &'a mut Cx<'b>,
}

impl Up<'_, '_> {
    /// The connection was just shown: its records so far go right after its heading.
    fn show_early_records(&mut self) {
        if self.early_records.is_empty() || !self.cx.shared.announced {
            return;
        }
        let conn = self.cx.meta.id;
        let at = self
            .cx
            .out
            .iter()
            .position(|e| matches!(e, Event::Connection(c) if c.conn == conn))
            .map_or(self.cx.out.len(), |i| i + 1);
        let records = std::mem::take(self.early_records)
            .into_iter()
            .map(Event::TlsRecord);
        self.cx.out.splice(at..at, records);
    }
}

impl TlsReport for Up<'_, '_> {
    fn plaintext(&mut self, side: Side, bytes: &[u8], packet: PacketRef) {
        let chunk = Chunk {
            offset: self.plain[side],
            bytes,
            packet,
        };
        self.plain[side] += bytes.len() as u64;
        self.inner.advance(|p| p.data(self.cx, side, chunk));
        self.show_early_records();
    }

    fn lost(&mut self, side: Side, len: u64, packet: PacketRef) {
        let hole = Hole {
            offset: self.plain[side],
            len,
            packet,
        };
        self.plain[side] += len;
        let dir = self.cx.dir_of(side);
        self.cx.gap_event(dir, hole);
        self.inner.advance(|p| p.gap(self.cx, side, hole));
    }

    fn finding(&mut self, side: Option<Side>, packet: PacketRef, rule: &'static Rule, msg: String) {
        // A connection that cannot be decrypted is shown, so its reason is seen; otherwise
        // TLS findings matter only on connections that turned out to carry a WebSocket.
        let undecryptable = !self.cx.shared.tls.as_ref().is_some_and(|t| t.decrypted);
        if undecryptable && !self.cx.shared.announced {
            self.cx.announce(false);
            self.show_early_records();
        }
        if self.cx.shared.announced {
            let dir = side.map(|s| self.cx.dir_of(s));
            self.cx.diag(dir, packet, rule, msg);
        }
    }

    fn info(&mut self, info: &TlsInfo) {
        self.cx.shared.tls = Some(Box::new(info.clone()));
    }

    fn client_hello(&mut self, client: Side) {
        self.cx.shared.client_side.get_or_insert(client);
    }

    fn record(&mut self, side: Side, seen: RecordSeen, packet: PacketRef) {
        if !self.cx.cfg.tls_records {
            return;
        }
        let record = TlsRecord {
            conn: self.cx.meta.id,
            dir: self.cx.dir_of(side),
            packet,
            seen,
        };
        if self.cx.shared.announced {
            self.cx.out.push(Event::TlsRecord(record));
        } else if self.early_records.len() < MAX_EARLY_RECORDS {
            self.early_records.push(record);
        }
    }
}

impl Layer for TlsLayer {
    fn data(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
        let keys = cx.keys;
        let (conn, mut up) = self.split(cx);
        conn.feed(side, chunk.offset, chunk.bytes, chunk.packet, keys, &mut up);
        Phase::Tls(self)
    }

    fn gap(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
        let (conn, mut up) = self.split(cx);
        conn.gap(side, hole.offset, hole.len, hole.packet, &mut up);
        Phase::Tls(self)
    }

    fn end(mut self: Box<Self>, cx: &mut Cx<'_>, packet: PacketRef, reason: EndReason) -> Summary {
        let (conn, mut up) = self.split(cx);
        conn.end(packet, &mut up);
        let TlsLayer { inner, .. } = *self;
        inner.end(cx, packet, reason)
    }
}
