//! One TLS connection, both sides: the records, the hellos, the keys from the key log, and the
//! decrypted application bytes handed up through [`TlsReport`]. Knows nothing of what the
//! plaintext carries. Sides are the flow's (0: the endpoint seen first) until the ClientHello
//! says which one is the client.

use crate::base::rules::{self, Rule};
use crate::base::PacketRef;

use super::crypt::{next_traffic_secret, BadRecord, RecordKeys, Suite};
use super::hello::{self, ClientHello, MessageReader, ServerHello};
use super::keylog::{ClientRandom, Secrets};
use super::record::{self, plausible_header, Record, RecordReader, HEADER_LEN};

pub type Side = usize;

/// Where secrets come from (a key log file, a pcapng's secrets blocks).
pub trait KeySource {
    /// The secrets of the connection with this client random, if they are `enough` for what
    /// the caller is about to do (a key log gets a connection's lines one at a time).
    fn secrets(&self, random: &ClientRandom, enough: &dyn Fn(&Secrets) -> bool) -> Option<Secrets>;
    /// More secrets may still arrive (a live capture whose key log the browser appends to).
    fn may_learn_more(&self) -> bool {
        false
    }
}

/// Where a TLS connection's results go.
pub trait TlsReport {
    /// The next decrypted application bytes of `side`.
    fn plaintext(&mut self, side: Side, bytes: &[u8], packet: PacketRef);
    /// About `len` application bytes of `side` are lost (records that could not be read).
    fn lost(&mut self, side: Side, len: u64, packet: PacketRef);
    fn finding(&mut self, side: Option<Side>, packet: PacketRef, rule: &'static Rule, msg: String);
    /// What is known of the connection changed.
    fn info(&mut self, info: &TlsInfo);
    /// The ClientHello came from `client`.
    fn client_hello(&mut self, client: Side);
    /// A whole record was read (for the teaching view: where TLS ends and what it carried).
    fn record(&mut self, _side: Side, _seen: RecordSeen, _packet: PacketRef) {}
}

/// One record as read: its outer type and length, and, once opened, what it carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordSeen {
    /// Stream offset of the record's header.
    pub offset: u64,
    /// The record header's content type and body length.
    pub content_type: u8,
    pub len: usize,
    /// Protected records: the content type inside and the plaintext length, when it opened.
    pub inner: Option<(u8, usize)>,
    /// The record was protected (encrypted).
    pub protected: bool,
}

/// What the handshake said, and whether the connection could be decrypted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// The version agreed (0x0303 TLS 1.2, 0x0304 TLS 1.3); 0 before the ServerHello.
    pub version: u16,
    pub suite: u16,
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    pub alpn: Option<String>,
    /// The key log had this connection's secrets and its records authenticate.
    pub decrypted: bool,
    /// The session was resumed: a TLS 1.3 pre-shared key, or a TLS 1.2 session id (or ticket,
    /// RFC 5077 §3.4) the server echoed.
    pub resumed: bool,
}

impl TlsInfo {
    pub fn version_name(&self) -> String {
        hello::version_name(self.version)
    }
    pub fn suite_name(&self) -> String {
        hello::suite_name(self.suite)
    }
}

/// How one side's records are protected.
#[derive(Debug)]
enum Protection {
    /// Before keys: plaintext handshake records.
    Plain,
    /// TLS 1.3 handshake traffic keys, until this side's Finished.
    Handshake(RecordKeys),
    /// Application traffic keys (TLS 1.3), or the keys after ChangeCipherSpec (TLS 1.2).
    Traffic(RecordKeys),
    /// Encrypted, and nothing more can be read on this side.
    Stopped,
    /// The key log has no secrets yet but may get them (a live capture): records are held.
    Waiting,
    /// TLS 1.3 after this side's Finished, live, before the key log has its application
    /// traffic secret (written a moment after the handshake secrets): its records are held.
    AwaitTraffic {
        held: Vec<([u8; HEADER_LEN], Vec<u8>, u64)>,
        held_bytes: usize,
    },
}

/// A live capture met a connection before its secrets were in the key log: its records are
/// held (bounded) and the key log is asked again at each one.
#[derive(Debug)]
struct Waiting {
    client: Side,
    suite: Suite,
    server_random: [u8; 32],
    etm: bool,
    /// Records of both sides in arrival order: side, header, body, stream offset.
    held: Vec<(Side, [u8; HEADER_LEN], Vec<u8>, u64)>,
    held_bytes: usize,
}

/// Bytes of records held while waiting for a connection's secrets.
const MAX_HELD: usize = 1 << 20;

#[derive(Debug)]
struct SideState {
    protection: Protection,
    /// TLS 1.3: the current application traffic secret, for KeyUpdate.
    traffic_secret: Option<Vec<u8>>,
    /// TLS 1.2: keys derived at the ServerHello, used from this side's ChangeCipherSpec on.
    next_keys: Option<RecordKeys>,
    /// Plaintext handshake bytes (they may span records).
    messages: MessageReader,
    /// Bytes were lost: records are looked for from here (the offset of the first record
    /// not read), trying sequence numbers ahead.
    lost_since: Option<u64>,
}

impl SideState {
    fn new() -> SideState {
        SideState {
            protection: Protection::Plain,
            traffic_secret: None,
            next_keys: None,
            messages: MessageReader::default(),
            lost_since: None,
        }
    }
}

/// Records looked at after a loss before giving up on a side; and sequence numbers tried ahead.
const MAX_RESYNC_BYTES: usize = 1 << 20;
const RESYNC_SEQUENCE_TRIES: u64 = 256;

#[derive(Debug)]
pub struct TlsConnection {
    client: Option<Side>,
    readers: [RecordReader; 2],
    sides: [SideState; 2],
    hello: Option<ClientHello>,
    suite: Option<Suite>,
    tls13: bool,
    secrets: Option<Secrets>,
    info: TlsInfo,
    waiting: Option<Waiting>,
}

impl Default for TlsConnection {
    fn default() -> Self {
        TlsConnection::new()
    }
}

/// Does this look like the start of a TLS connection (a handshake record holding a
/// ClientHello)? Decided on the first bytes only, on any port.
pub fn looks_like_client_hello(bytes: &[u8]) -> bool {
    bytes.len() >= 6
        && bytes[0] == record::HANDSHAKE
        && plausible_header(&bytes[..HEADER_LEN])
        && bytes[5] == hello::CLIENT_HELLO
}

impl TlsConnection {
    pub fn new() -> TlsConnection {
        TlsConnection {
            client: None,
            readers: [RecordReader::new(0), RecordReader::new(0)],
            sides: [SideState::new(), SideState::new()],
            hello: None,
            suite: None,
            tls13: false,
            secrets: None,
            info: TlsInfo::default(),
            waiting: None,
        }
    }

    /// The connection ended: if its secrets never came, say so now.
    pub fn end(&mut self, packet: PacketRef, out: &mut dyn TlsReport) {
        if self.waiting.take().is_some() {
            let random = self.hello.as_ref().map(|h| h.random).unwrap_or_default();
            out.info(&self.info);
            out.finding(None, packet, &rules::TLS_NO_KEY, no_key_message(&random));
        }
    }

    pub fn info(&self) -> &TlsInfo {
        &self.info
    }

    /// The next bytes of `side`, at stream offset `offset`.
    pub fn feed(
        &mut self,
        side: Side,
        offset: u64,
        bytes: &[u8],
        packet: PacketRef,
        keys: &dyn KeySource,
        out: &mut dyn TlsReport,
    ) {
        if self.readers[side].pending().is_empty() && self.readers[side].next_offset() != offset {
            // The first bytes of this side (its stream may not start at 0).
            self.readers[side].restart_at(offset);
        }
        self.readers[side].push(bytes);
        if self.sides[side].lost_since.is_some() {
            self.resync(side, packet, out);
            if self.sides[side].lost_since.is_some() {
                // Nothing authenticates yet: what is held is no record start (the rest of a
                // record whose start was lost, say), so it is not read as one.
                return;
            }
        }
        while let Some(rec) = self.readers[side].next_record() {
            let mut cx = RecordCx {
                sides: &mut self.sides,
                sh: Shared {
                    client: &mut self.client,
                    hello: &mut self.hello,
                    suite: &mut self.suite,
                    tls13: &mut self.tls13,
                    secrets: &mut self.secrets,
                    info: &mut self.info,
                    waiting: &mut self.waiting,
                },
                side,
                packet,
                keys,
                out: &mut *out,
            };
            cx.record(rec);
        }
        if let Some(record::Broken::BadHeader { offset }) = self.readers[side].broken() {
            if !matches!(self.sides[side].protection, Protection::Stopped) {
                self.sides[side].protection = Protection::Stopped;
                let msg = format!("bytes at stream offset {offset} are not a TLS record; this side is not read further");
                out.finding(Some(side), packet, &rules::TLS_RECORDS_LOST, msg);
            }
        }
    }

    /// `len` bytes of `side` at `offset` are missing from the capture.
    pub fn gap(
        &mut self,
        side: Side,
        offset: u64,
        len: u64,
        packet: PacketRef,
        out: &mut dyn TlsReport,
    ) {
        let st = &mut self.sides[side];
        let first_unread = self.readers[side].next_offset().min(offset);
        self.readers[side].restart_at(offset + len);
        match st.protection {
            Protection::Stopped | Protection::Waiting | Protection::AwaitTraffic { .. } => {}
            Protection::Plain => {
                st.protection = Protection::Stopped;
                let msg = format!(
                    "{len} bytes of the TLS handshake are missing: this side cannot be decrypted"
                );
                out.finding(Some(side), packet, &rules::TLS_RECORDS_LOST, msg);
            }
            Protection::Handshake(_) | Protection::Traffic(_) => {
                st.lost_since.get_or_insert(first_unread);
            }
        }
    }

    /// After a loss: look through the bytes held for a record that authenticates under a
    /// sequence number a little ahead, report what was lost, and read on from there.
    fn resync(&mut self, side: Side, packet: PacketRef, out: &mut dyn TlsReport) {
        let Some(since) = self.sides[side].lost_since else {
            return;
        };
        let overhead = self.record_overhead();
        let reader = &mut self.readers[side];
        let st = &mut self.sides[side];
        let keys = match &mut st.protection {
            Protection::Handshake(k) | Protection::Traffic(k) => k,
            _ => {
                st.lost_since = None;
                return;
            }
        };
        let pending = reader.pending().to_vec();
        let base = reader.next_offset();
        for at in 0..pending.len().saturating_sub(HEADER_LEN) {
            let h = &pending[at..];
            if !plausible_header(h) || h[0] != record::APPLICATION_DATA {
                continue;
            }
            let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
            let Some(body) = h.get(HEADER_LEN..HEADER_LEN + len) else {
                // A plausible record still arriving: wait for it before looking further.
                reader.restart_at(base + at as u64);
                reader.push(h);
                return;
            };
            let header: [u8; HEADER_LEN] = h[..HEADER_LEN].try_into().unwrap_or_default();
            let mut body = body.to_vec();
            if let Some((skipped, _)) =
                keys.open_after_loss(&header, &mut body, RESYNC_SEQUENCE_TRIES)
            {
                // Undo: the record is read again below, in order, with its sequence number.
                keys.seq -= 1;
                let start = base + at as u64;
                let span = start.saturating_sub(since);
                let lost = span.saturating_sub(skipped * overhead);
                st.lost_since = None;
                let records = if skipped == 1 { "record" } else { "records" };
                let msg = format!("{skipped} TLS {records} ({span} bytes from stream offset {since}) lost; decryption goes on at stream offset {start}");
                out.finding(Some(side), packet, &rules::TLS_RECORDS_LOST, msg);
                out.lost(side, lost, packet);
                reader.restart_at(start);
                reader.push(h);
                return;
            }
        }
        let keep = pending.len().min(HEADER_LEN + record::MAX_BODY);
        if base + pending.len() as u64 - since > MAX_RESYNC_BYTES as u64 {
            st.protection = Protection::Stopped;
            st.lost_since = None;
            let msg = format!("no record authenticates in the {MAX_RESYNC_BYTES} bytes after a loss at stream offset {since}: this side is not read further");
            out.finding(Some(side), packet, &rules::TLS_RECORDS_LOST, msg);
            return;
        }
        // Keep the tail that may hold the start of the next record.
        let from = pending.len() - keep;
        reader.restart_at(base + from as u64);
        reader.push(&pending[from..]);
    }

    /// Bytes a record adds to its plaintext, its header included.
    fn record_overhead(&self) -> u64 {
        HEADER_LEN as u64 + self.suite.map_or(0, Suite::record_overhead)
    }
}

/// The connection's state other than the per-side parts, borrowed for one record.
struct Shared<'a> {
    client: &'a mut Option<Side>,
    hello: &'a mut Option<ClientHello>,
    suite: &'a mut Option<Suite>,
    tls13: &'a mut bool,
    secrets: &'a mut Option<Secrets>,
    info: &'a mut TlsInfo,
    waiting: &'a mut Option<Waiting>,
}

/// One record's work: which side sent it, when, and where results go.
struct RecordCx<'a, 'b> {
    sides: &'a mut [SideState; 2],
    sh: Shared<'a>,
    side: Side,
    packet: PacketRef,
    keys: &'a dyn KeySource,
    out: &'b mut dyn TlsReport,
}

impl RecordCx<'_, '_> {
    fn finding(&mut self, rule: &'static Rule, msg: String) {
        self.out.finding(Some(self.side), self.packet, rule, msg);
    }

    fn record(&mut self, rec: Record<'_>) {
        match self.sides[self.side].protection {
            Protection::Plain => return self.plain_record(rec),
            Protection::Waiting => return self.held_record(rec),
            Protection::AwaitTraffic { .. } => return self.await_traffic(rec),
            _ => {}
        }
        let st = &mut self.sides[self.side];
        let (Protection::Handshake(keys) | Protection::Traffic(keys)) = &mut st.protection else {
            return;
        };
        if rec.content_type() == record::CHANGE_CIPHER_SPEC {
            // TLS 1.3 middlebox compatibility (RFC 8446 §5): not protected, ignored.
            return;
        }
        let len = rec.body.len();
        match keys.open(&rec.header, rec.body) {
            Ok(opened) => {
                let seen = RecordSeen {
                    offset: rec.offset,
                    content_type: rec.header[0],
                    len,
                    inner: Some((opened.content_type, opened.end - opened.start)),
                    protected: true,
                };
                self.out.record(self.side, seen, self.packet);
                let plain = &rec.body[opened.start..opened.end];
                self.decrypted(opened.content_type, plain);
            }
            Err(BadRecord) => {
                let seq = keys.seq;
                st.protection = Protection::Stopped;
                self.sh.info.decrypted = false;
                self.out.info(self.sh.info);
                let msg = format!(
                    "record {seq} (stream offset {}) does not authenticate with the key log's secret: wrong key? This side is not decrypted further",
                    rec.offset
                );
                self.finding(&rules::TLS_DECRYPT_FAILED, msg);
            }
        }
    }

    /// A record before this side's keys: the hellos, ChangeCipherSpec, alerts.
    fn plain_record(&mut self, rec: Record<'_>) {
        let seen = RecordSeen {
            offset: rec.offset,
            content_type: rec.content_type(),
            len: rec.body.len(),
            inner: None,
            protected: false,
        };
        self.out.record(self.side, seen, self.packet);
        match rec.content_type() {
            record::HANDSHAKE => {
                self.sides[self.side].messages.push(rec.body);
                self.handshake_messages();
            }
            // A TLS 1.3 client sends a compatibility ChangeCipherSpec before its second
            // ClientHello after a HelloRetryRequest: only a negotiated TLS 1.2 connection
            // switches keys here.
            record::CHANGE_CIPHER_SPEC if self.sh.suite.is_some() && !*self.sh.tls13 => {
                // TLS 1.2: this side's records are protected from here on.
                let st = &mut self.sides[self.side];
                st.protection = match st.next_keys.take() {
                    Some(k) => Protection::Traffic(k),
                    None => Protection::Stopped,
                };
            }
            record::CHANGE_CIPHER_SPEC => {}
            record::ALERT => self.alert(rec.body),
            _ => {
                // Reported once: the first early data record of a ClientHello that offered it.
                let offered = self
                    .sh
                    .hello
                    .as_mut()
                    .is_some_and(|h| std::mem::take(&mut h.early_data));
                if offered && *self.sh.client == Some(self.side) && self.sh.suite.is_none() {
                    let msg = "0-RTT early data: not decrypted".to_string();
                    self.finding(&rules::TLS_RECORDS_LOST, msg);
                }
            }
        }
    }

    /// A record opened: hand application data up; read handshake messages and alerts.
    fn decrypted(&mut self, content_type: u8, plain: &[u8]) {
        match content_type {
            record::APPLICATION_DATA => self.out.plaintext(self.side, plain, self.packet),
            record::HANDSHAKE => {
                self.sides[self.side].messages.push(plain);
                self.handshake_messages();
            }
            record::ALERT => self.alert(plain),
            _ => {}
        }
    }

    fn alert(&mut self, body: &[u8]) {
        let [level, description, ..] = *body else {
            return;
        };
        let (rule, what) = match (level, description) {
            (_, 0) => (&rules::TLS_CLOSE_NOTIFY, "close_notify".to_string()),
            (2, d) => (&rules::TLS_ALERT, format!("fatal alert {}", alert_name(d))),
            (_, d) => (
                &rules::TLS_ALERT,
                format!("warning alert {}", alert_name(d)),
            ),
        };
        self.finding(rule, what);
    }

    fn handshake_messages(&mut self) {
        while let Some((t, msg)) = self.sides[self.side].messages.next_message() {
            match t {
                hello::CLIENT_HELLO => self.client_hello(&msg),
                hello::SERVER_HELLO => self.server_hello(&msg),
                hello::ENCRYPTED_EXTENSIONS => {
                    self.sh.info.alpn = hello::encrypted_extensions_alpn(&msg);
                    self.out.info(self.sh.info);
                }
                hello::FINISHED if *self.sh.tls13 => self.finished(),
                hello::KEY_UPDATE => self.key_update(),
                _ => {}
            }
        }
    }

    fn client_hello(&mut self, msg: &[u8]) {
        let Some(ch) = hello::parse_client_hello(msg) else {
            return;
        };
        *self.sh.client = Some(self.side);
        self.out.client_hello(self.side);
        self.sh.info.sni = ch.sni.clone();
        self.sh.info.alpn_offered = ch.alpn.clone();
        *self.sh.hello = Some(ch);
        self.out.info(self.sh.info);
    }

    fn server_hello(&mut self, msg: &[u8]) {
        let Some(sh) = hello::parse_server_hello(msg) else {
            return;
        };
        if sh.retry {
            // HelloRetryRequest: a second ClientHello (same random) and ServerHello follow.
            return;
        }
        let offered_id = self.sh.hello.as_ref().map(|c| c.session_id.as_slice());
        let info = &mut *self.sh.info;
        info.version = sh.version;
        info.suite = sh.suite;
        info.resumed = if sh.version == hello::TLS13 {
            sh.psk
        } else {
            !sh.session_id.is_empty() && offered_id == Some(sh.session_id.as_slice())
        };
        if sh.alpn.is_some() {
            info.alpn = sh.alpn.clone();
        }
        let Some(client) = *self.sh.client else {
            self.out.info(self.sh.info);
            return;
        };
        match Suite::from_id(sh.suite) {
            Some(suite) => self.negotiated(client, suite, &sh),
            None => {
                let msg = format!(
                    "cipher suite {} ({}) is not one wsdissect can decrypt",
                    hello::suite_name(sh.suite),
                    hello::version_name(sh.version)
                );
                self.stop_both();
                self.out.info(self.sh.info);
                self.out
                    .finding(None, self.packet, &rules::TLS_UNSUPPORTED_CIPHER, msg);
            }
        }
    }

    /// The suite is known: find the secrets and set each side's keys.
    fn negotiated(&mut self, client: Side, suite: Suite, sh: &ServerHello) {
        *self.sh.suite = Some(suite);
        *self.sh.tls13 = sh.version == hello::TLS13;
        let Some(random) = self.sh.hello.as_ref().map(|ch| ch.random) else {
            return;
        };
        match self.keys.secrets(&random, &|s| has_secrets(s, suite)) {
            Some(secrets) => {
                self.install_keys(client, suite, secrets, &sh.random, sh.encrypt_then_mac)
            }
            None if self.keys.may_learn_more() => {
                for s in self.sides.iter_mut() {
                    s.protection = Protection::Waiting;
                }
                *self.sh.waiting = Some(Waiting {
                    client,
                    suite,
                    server_random: sh.random,
                    etm: sh.encrypt_then_mac,
                    held: Vec::new(),
                    held_bytes: 0,
                });
                self.out.info(self.sh.info);
            }
            None => {
                self.stop_both();
                self.out.info(self.sh.info);
                let msg = no_key_message(&random);
                self.out.finding(None, self.packet, &rules::TLS_NO_KEY, msg);
            }
        }
    }

    /// The secrets are known: each side's keys (TLS 1.3 handshake keys now; TLS 1.2 keys
    /// from its ChangeCipherSpec on).
    fn install_keys(
        &mut self,
        client: Side,
        suite: Suite,
        secrets: Secrets,
        server_random: &[u8; 32],
        etm: bool,
    ) {
        let server = 1 - client;
        self.sh.info.decrypted = true;
        if suite.tls13 {
            let hs = |s: &Option<Vec<u8>>| s.as_deref().and_then(|s| RecordKeys::tls13(suite, s));
            self.sides[client].protection = opt_protection(hs(&secrets.client_handshake), true);
            self.sides[server].protection = opt_protection(hs(&secrets.server_handshake), true);
        } else if let (Some(master), Some(ch)) = (&secrets.master, self.sh.hello.as_ref()) {
            for s in self.sides.iter_mut() {
                s.protection = Protection::Plain;
            }
            if let Some([c, s]) = RecordKeys::tls12(suite, master, &ch.random, server_random, etm) {
                self.sides[client].next_keys = Some(c);
                self.sides[server].next_keys = Some(s);
            }
        }
        *self.sh.secrets = Some(secrets);
        self.out.info(self.sh.info);
    }

    /// A record while waiting for the secrets: held; if the key log has them now, every held
    /// record is read in order.
    fn held_record(&mut self, rec: Record<'_>) {
        let Some(w) = self.sh.waiting.as_mut() else {
            return;
        };
        w.held_bytes += rec.body.len();
        w.held
            .push((self.side, rec.header, rec.body.to_vec(), rec.offset));
        let Some(random) = self.sh.hello.as_ref().map(|ch| ch.random) else {
            return;
        };
        let (suite, over) = (w.suite, w.held_bytes > MAX_HELD);
        match self.keys.secrets(&random, &|s| has_secrets(s, suite)) {
            Some(secrets) => {
                let Some(w) = self.sh.waiting.take() else {
                    return;
                };
                self.install_keys(w.client, suite, secrets, &w.server_random, w.etm);
                let side = self.side;
                for (s, header, mut body, offset) in w.held {
                    self.side = s;
                    self.record(Record {
                        header,
                        body: &mut body,
                        offset,
                    });
                }
                self.side = side;
            }
            None if over => {
                *self.sh.waiting = None;
                self.stop_both();
                self.out.info(self.sh.info);
                let msg = no_key_message(&random);
                self.out.finding(None, self.packet, &rules::TLS_NO_KEY, msg);
            }
            None => {}
        }
    }

    fn stop_both(&mut self) {
        for s in self.sides.iter_mut() {
            s.protection = Protection::Stopped;
        }
    }

    /// TLS 1.3: this side's Finished; its application traffic keys follow.
    fn finished(&mut self) {
        let protection = match self.traffic_keys() {
            Some(keys) => Protection::Traffic(keys),
            None if self.keys.may_learn_more() => Protection::AwaitTraffic {
                held: Vec::new(),
                held_bytes: 0,
            },
            None => {
                let msg = "the key log has no application traffic secret for this side".to_string();
                self.finding(&rules::TLS_NO_KEY, msg);
                Protection::Stopped
            }
        };
        self.sides[self.side].protection = protection;
    }

    /// This side's application traffic keys, asking the key log again if the secret was not
    /// in it when the handshake secrets were.
    fn traffic_keys(&mut self) -> Option<RecordKeys> {
        let suite = (*self.sh.suite)?;
        let client = *self.sh.client == Some(self.side);
        let pick = |s: &Secrets| {
            if client {
                s.client_traffic.clone()
            } else {
                s.server_traffic.clone()
            }
        };
        let mut secret = self.sh.secrets.as_ref().and_then(pick);
        if secret.is_none() {
            let random = self.sh.hello.as_ref()?.random;
            let fresh = self.keys.secrets(&random, &|s| pick(s).is_some())?;
            secret = pick(&fresh);
            *self.sh.secrets = Some(fresh);
        }
        let keys = RecordKeys::tls13(suite, secret.as_deref()?)?;
        self.sides[self.side].traffic_secret = secret;
        Some(keys)
    }

    /// A record after this side's Finished, its traffic secret not yet in the key log: held
    /// until it is, then every held record is read in order.
    fn await_traffic(&mut self, rec: Record<'_>) {
        let over = match &mut self.sides[self.side].protection {
            Protection::AwaitTraffic { held, held_bytes } => {
                *held_bytes += rec.body.len();
                held.push((rec.header, rec.body.to_vec(), rec.offset));
                *held_bytes > MAX_HELD
            }
            _ => return,
        };
        let next = match self.traffic_keys() {
            Some(keys) => Protection::Traffic(keys),
            None if over => {
                let msg = "the key log has no application traffic secret for this side".to_string();
                self.finding(&rules::TLS_NO_KEY, msg);
                Protection::Stopped
            }
            None => return,
        };
        let held = match std::mem::replace(&mut self.sides[self.side].protection, next) {
            Protection::AwaitTraffic { held, .. } => held,
            _ => Vec::new(),
        };
        for (header, mut body, offset) in held {
            self.record(Record {
                header,
                body: &mut body,
                offset,
            });
        }
    }

    /// TLS 1.3 KeyUpdate (RFC 8446 §4.6.3): this side's next records use the next secret.
    fn key_update(&mut self) {
        let Some(suite) = *self.sh.suite else {
            return;
        };
        let st = &mut self.sides[self.side];
        let next = st
            .traffic_secret
            .as_deref()
            .and_then(|s| next_traffic_secret(suite.hash, s));
        st.protection = opt_protection(
            next.as_deref().and_then(|s| RecordKeys::tls13(suite, s)),
            false,
        );
        st.traffic_secret = next;
    }
}

fn opt_protection(keys: Option<RecordKeys>, handshake: bool) -> Protection {
    match (keys, handshake) {
        (Some(k), true) => Protection::Handshake(k),
        (Some(k), false) => Protection::Traffic(k),
        (None, _) => Protection::Stopped,
    }
}

/// The key log holds what this suite's key schedule needs.
fn has_secrets(s: &Secrets, suite: Suite) -> bool {
    if suite.tls13 {
        s.client_handshake.is_some() && s.server_handshake.is_some()
    } else {
        s.master.is_some()
    }
}

fn no_key_message(random: &ClientRandom) -> String {
    format!(
        "encrypted: no key for client random {}; give the key log with --tls-keylog FILE",
        hex(random)
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// RFC 8446 §6 / RFC 5246 §7.2 alert descriptions.
fn alert_name(d: u8) -> String {
    let name = match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return format!("{d}"),
    };
    format!("{name} ({d})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Timestamp;
    use crate::tls::keylog::KeyLog;

    const PACKET: PacketRef = PacketRef {
        number: 1,
        ts: Timestamp(0),
    };

    struct Log(KeyLog);
    impl KeySource for Log {
        fn secrets(
            &self,
            random: &ClientRandom,
            enough: &dyn Fn(&Secrets) -> bool,
        ) -> Option<Secrets> {
            self.0.get(random).filter(|s| enough(s)).cloned()
        }
    }

    #[derive(Default)]
    struct Out {
        plain: [Vec<u8>; 2],
        lost: [u64; 2],
        rules: Vec<&'static str>,
        info: Option<TlsInfo>,
    }
    impl TlsReport for Out {
        fn plaintext(&mut self, side: Side, bytes: &[u8], _: PacketRef) {
            self.plain[side].extend_from_slice(bytes);
        }
        fn lost(&mut self, side: Side, len: u64, _: PacketRef) {
            self.lost[side] += len;
        }
        fn finding(&mut self, _: Option<Side>, _: PacketRef, rule: &'static Rule, _: String) {
            self.rules.push(rule.name);
        }
        fn info(&mut self, info: &TlsInfo) {
            self.info = Some(info.clone());
        }
        fn client_hello(&mut self, _: Side) {}
    }

    /// The first TCP connection of a classic little-endian Ethernet/IPv4 pcap: its payload
    /// segments in capture order (side 0 the SYN sender), in-order ones only.
    fn segments(pcap: &[u8]) -> Vec<(Side, Vec<u8>)> {
        let (mut at, mut out) = (24, Vec::new());
        let (mut client, mut next) = (None::<[u16; 2]>, [None::<u32>; 2]);
        while at + 16 <= pcap.len() {
            let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
            let pkt = &pcap[at + 16..at + 16 + caplen];
            at += 16 + caplen;
            let ip = &pkt[14..];
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            let tcp = &ip[usize::from(ip[0] & 15) * 4..total];
            let ports = [
                u16::from_be_bytes([tcp[0], tcp[1]]),
                u16::from_be_bytes([tcp[2], tcp[3]]),
            ];
            let seq = u32::from_be_bytes(tcp[4..8].try_into().unwrap());
            let flags = tcp[13];
            let side = match client {
                None if flags & 0x12 == 0x02 => {
                    client = Some(ports);
                    0
                }
                Some([c, s]) if ports == [c, s] => 0,
                Some([c, s]) if ports == [s, c] => 1,
                _ => continue,
            };
            if flags & 0x02 != 0 {
                next[side] = Some(seq.wrapping_add(1));
                continue;
            }
            let data = &tcp[usize::from(tcp[12] >> 4) * 4..];
            if data.is_empty() || next[side] != Some(seq) {
                continue;
            }
            next[side] = Some(seq.wrapping_add(data.len() as u32));
            out.push((side, data.to_vec()));
        }
        out
    }

    /// What the ClientHello says is reported at once, not only with the ServerHello (which may
    /// never come); the info reported is always the connection's (found by the
    /// `tls_connection` fuzz target).
    #[test]
    fn the_client_hello_is_reported_without_a_server_hello() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/tls/");
        let segs = segments(&std::fs::read(format!("{dir}py-tls13-aes128.pcap")).unwrap());
        let keys = Log(KeyLog::default());
        let mut conn = TlsConnection::new();
        let mut out = Out::default();
        assert_eq!(segs[0].0, 0);
        conn.feed(0, 0, &segs[0].1, PACKET, &keys, &mut out);
        let info = out.info.expect("an info after the ClientHello");
        assert_eq!(info.sni.as_deref(), Some("wsd.test"));
        assert_eq!(&info, conn.info());
        // A ServerHello without a ClientHello (its side fed first) is reported too.
        let mut conn = TlsConnection::new();
        let mut out = Out::default();
        let server = segs.iter().find(|s| s.0 == 1).unwrap();
        conn.feed(1, 0, &server.1, PACKET, &keys, &mut out);
        assert_eq!(out.info.as_ref(), Some(conn.info()));
        assert_eq!(conn.info().version, hello::TLS13);
    }

    /// A segment lost inside a record, and the next segment holding only the rest of that
    /// record: nothing in it authenticates, so it is kept and decryption goes on at the record
    /// after it (it used to be read as a record header and stop the side).
    #[test]
    fn a_record_tail_alone_after_a_loss_is_skipped_not_read_as_a_record() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/tls/");
        for name in ["py-tls13-aes128", "py-tls12-gcm", "py-tls12-chacha"] {
            let pcap = std::fs::read(format!("{dir}{name}.pcap")).unwrap();
            let keys = Log(KeyLog::parse(&std::fs::read(format!("{dir}{name}.keys")).unwrap()).0);
            let segs = segments(&pcap);
            let client: Vec<u8> = segs
                .iter()
                .filter(|s| s.0 == 0)
                .flat_map(|s| s.1.clone())
                .collect();
            // The client's records: find a big application data record well after the handshake.
            let (mut at, mut victim) = (0, None);
            while at + HEADER_LEN <= client.len() {
                let len = usize::from(u16::from_be_bytes([client[at + 3], client[at + 4]]));
                if client[at] == record::APPLICATION_DATA && len > 4000 && at > 2000 {
                    victim = Some((at, len));
                    break;
                }
                at += HEADER_LEN + len;
            }
            let (rec_at, rec_len) = victim.expect("a big client record");
            let rec_end = rec_at + HEADER_LEN + rec_len;
            // Feed the client's bytes in these pieces (the server's whole, in capture order):
            // up to 100 bytes into the record; lose up to 50 bytes before its end; its last 50
            // bytes alone; the rest.
            let whole = {
                let mut conn = TlsConnection::new();
                let mut out = Out::default();
                let mut off = [0u64; 2];
                for (side, data) in &segs {
                    conn.feed(*side, off[*side], data, PACKET, &keys, &mut out);
                    off[*side] += data.len() as u64;
                }
                out
            };
            let mut conn = TlsConnection::new();
            let mut out = Out::default();
            let mut server_at = 0u64;
            let mut client_fed = 0usize;
            for (side, data) in &segs {
                if *side == 1 {
                    conn.feed(1, server_at, data, PACKET, &keys, &mut out);
                    server_at += data.len() as u64;
                    continue;
                }
                let end = client_fed + data.len();
                for (from, to, lose) in [
                    (0, rec_at + 100, false),
                    (rec_at + 100, rec_end - 50, true),
                    (rec_end - 50, rec_end, false),
                    (rec_end, usize::MAX, false),
                ] {
                    let (a, b) = (from.max(client_fed), to.min(end));
                    if a >= b {
                        continue;
                    }
                    if lose {
                        conn.gap(0, a as u64, (b - a) as u64, PACKET, &mut out);
                    } else {
                        let piece = &data[a - client_fed..b - client_fed];
                        conn.feed(0, a as u64, piece, PACKET, &keys, &mut out);
                    }
                }
                client_fed = end;
            }
            assert_eq!(
                out.rules
                    .iter()
                    .copied()
                    .filter(|r| *r != "tls-close-notify")
                    .collect::<Vec<_>>(),
                ["tls-records-lost"],
                "{name}"
            );
            assert_eq!(out.plain[1], whole.plain[1], "{name}: the server's side");
            let (got, all) = (&out.plain[0], &whole.plain[0]);
            assert!(
                got.len() + rec_len >= all.len() && got.len() < all.len(),
                "{name}: {} of {} bytes",
                got.len(),
                all.len()
            );
            assert!(
                all.ends_with(&got[got.len() - 1000..]),
                "{name}: decryption went on to the end"
            );
            assert!(out.lost[0] > 0, "{name}");
        }
    }
}
