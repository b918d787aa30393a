//! The TLS layer: a connection that starts with a ClientHello is TLS whatever its port. Its
//! records are decrypted with the key log's secrets and the plaintext of each side goes to the
//! phases above (the HTTP/1.1 upgrade, then WebSocket) exactly as TCP's bytes would, at
//! offsets in the decrypted stream. Without secrets the connection is still shown, with what
//! its handshake said.

use crate::base::rules::Rule;
use crate::base::PacketRef;
use crate::tls::session::{Side, TlsConnection, TlsInfo, TlsReport};
use crate::ws::session::Summary;

use super::{Chunk, Cx, Hole, Layer, Phase};

#[derive(Debug)]
pub struct TlsLayer {
    conn: TlsConnection,
    /// The phase of what the TLS connection carries.
    inner: Phase,
    /// Decrypted bytes handed up so far, per side: the offsets of the plaintext streams.
    plain: [u64; 2],
}

impl TlsLayer {
    pub fn start() -> Box<TlsLayer> {
        Box::new(TlsLayer {
            conn: TlsConnection::new(),
            inner: Phase::AwaitRequest(Box::default()),
            plain: [0; 2],
        })
    }
}

/// Plaintext and findings from the TLS connection, to the phases above and the events.
struct Up<'a, 'b> {
    inner: &'a mut Phase,
    plain: &'a mut [u64; 2],
    cx: &'a mut Cx<'b>,
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
        }
        if self.cx.shared.announced {
            let dir = side.map(|s| self.cx.dir_of(s));
            self.cx.diag(dir, packet, rule, msg);
        }
    }

    fn info(&mut self, info: &TlsInfo) {
        self.cx.shared.tls = Some(info.clone());
    }

    fn client_hello(&mut self, client: Side) {
        self.cx.shared.client_side.get_or_insert(client);
    }
}

impl Layer for TlsLayer {
    fn data(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
        let keys = cx.keys;
        let TlsLayer { conn, inner, plain } = &mut *self;
        let mut up = Up { inner, plain, cx };
        conn.feed(side, chunk.offset, chunk.bytes, chunk.packet, keys, &mut up);
        Phase::Tls(self)
    }

    fn gap(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
        let TlsLayer { conn, inner, plain } = &mut *self;
        let mut up = Up { inner, plain, cx };
        conn.gap(side, hole.offset, hole.len, hole.packet, &mut up);
        Phase::Tls(self)
    }

    fn end(mut self: Box<Self>, cx: &mut Cx<'_>, packet: PacketRef) -> Summary {
        let TlsLayer { conn, inner, plain } = &mut *self;
        conn.end(packet, &mut Up { inner, plain, cx });
        let TlsLayer { inner, .. } = *self;
        inner.end(cx, packet)
    }
}
