//! (g) One TLS connection, both sides: `tls::session::TlsConnection` fed arbitrary bytes
//! (seeded with real connections from samples/tls and their key logs, see `make-seeds.py`),
//! chopped into chunks, some chunks turned into capture gaps, with a `KeySource` that returns
//! the secrets of the input's key log text.
//!
//! Input: `[mode] [c0..c7] [key log len hi] [key log len lo] [key log text]
//! [segments: [side << 15 | len, u16 BE] [len bytes]]...` — the segments are the two sides'
//! TCP payloads in capture order. mode: bits 0-1 the fine chunk size (1, 3, 64, 1000 bytes;
//! 3 instead of 1 over 8 KiB), bit 2 a key source that also answers unknown randoms with
//! secrets made from the key log text, bit 3 a run with gaps (pieces between the cuts whose cut
//! byte is odd become gaps; 0xff adds 2³² bytes to the gap), bit 4 non-zero start offsets, bit
//! 5 the sides swapped. The cut bytes are fractions of the total payload.
//!
//! Oracles, besides no panic / hang / RSS blow-up:
//! * plaintext is reported only after an info that says `decrypted`;
//! * per side, the plaintext offsets (plaintext and lost bytes reported so far) only grow and
//!   never pass the ciphertext bytes fed and lost so far;
//! * nothing is reported lost without gaps;
//! * without gaps, the segments fed whole, coalesced per side, split at the cuts and chopped in
//!   fine chunks (the bytes of both sides always in capture order, so TLS records span chunks
//!   at record-agnostic points) report the same plaintext per side, the same findings, the
//!   same final info and client side;
//! * with gaps, every plaintext record of a side is part of that side's plaintext in the
//!   whole-segment run, when that run read the side to its end (no decryption failure or
//!   unreadable record on it, and the side's bytes are whole records, so none was still
//!   waiting for bytes at the end).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::base::rules::Rule;
use wsdissect::base::{PacketRef, Timestamp};
use wsdissect::tls::keylog::{ClientRandom, KeyLog, Secrets};
use wsdissect::tls::session::{KeySource, Side, TlsConnection, TlsInfo, TlsReport};

const PACKET: PacketRef = PacketRef {
    number: 1,
    ts: Timestamp(1_000),
};

struct Keys {
    log: KeyLog,
    /// Answer any random with these (mode bit 2).
    fallback: Option<Secrets>,
}

impl KeySource for Keys {
    fn secrets(&self, random: &ClientRandom, enough: &dyn Fn(&Secrets) -> bool) -> Option<Secrets> {
        self.log
            .get(random)
            .cloned()
            .or_else(|| self.fallback.clone())
            .filter(|s| enough(s))
    }
}

/// Secrets made from bytes: every field, 48 bytes for the master secret, 32 or 48 for TLS 1.3.
fn made_secrets(text: &[u8]) -> Secrets {
    let mut bytes = text.iter().copied().chain(std::iter::repeat(0x42));
    let mut take = |n: usize| Some((&mut bytes).take(n).collect::<Vec<u8>>());
    let n = if text.len() % 2 == 1 { 48 } else { 32 };
    Secrets {
        master: take(48),
        client_handshake: take(n),
        server_handshake: take(n),
        client_traffic: take(n),
        server_traffic: take(n),
        client_early: take(n),
    }
}

#[derive(Default)]
struct Rec {
    /// Plaintext per side, and each report of it (offset in the plaintext stream, length).
    plain: [Vec<u8>; 2],
    pieces: [Vec<(u64, usize)>; 2],
    /// Plaintext and lost bytes reported so far per side: the plaintext stream offset.
    offset: [u64; 2],
    lost: [u64; 2],
    findings: Vec<(Option<Side>, &'static str, String)>,
    info: Option<TlsInfo>,
    said_decrypted: bool,
    client: Vec<Side>,
    /// Ciphertext bytes fed and lost so far per side (set before each call).
    cipher: [u64; 2],
}

impl Rec {
    fn check_offset(&self, side: Side) {
        assert!(
            self.offset[side] <= self.cipher[side],
            "side {side}: plaintext offset {} passes the ciphertext offset {}",
            self.offset[side],
            self.cipher[side]
        );
    }
}

impl TlsReport for Rec {
    fn plaintext(&mut self, side: Side, bytes: &[u8], _packet: PacketRef) {
        assert!(
            self.said_decrypted,
            "side {side}: plaintext before an info saying decrypted ({:?})",
            self.info
        );
        self.pieces[side].push((self.offset[side], bytes.len()));
        self.plain[side].extend_from_slice(bytes);
        self.offset[side] += bytes.len() as u64;
        self.check_offset(side);
    }
    fn lost(&mut self, side: Side, len: u64, _packet: PacketRef) {
        self.lost[side] += len;
        self.offset[side] = self.offset[side].checked_add(len).expect("offset overflow");
        self.check_offset(side);
    }
    fn finding(
        &mut self,
        side: Option<Side>,
        _packet: PacketRef,
        rule: &'static Rule,
        msg: String,
    ) {
        self.findings.push((side, rule.name, msg));
    }
    fn info(&mut self, info: &TlsInfo) {
        self.said_decrypted |= info.decrypted;
        self.info = Some(info.clone());
    }
    fn client_hello(&mut self, client: Side) {
        self.client.push(client);
    }
}

#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    Bytes(Side, &'a [u8]),
    Gap(Side, u64),
}

fn run(steps: &[Step<'_>], starts: [u64; 2], keys: &Keys) -> (Rec, TlsConnection) {
    let mut conn = TlsConnection::new();
    let mut rec = Rec::default();
    let mut at = starts;
    for step in steps {
        match *step {
            Step::Bytes(side, bytes) => {
                rec.cipher[side] += bytes.len() as u64;
                conn.feed(side, at[side], bytes, PACKET, keys, &mut rec);
                at[side] += bytes.len() as u64;
            }
            Step::Gap(side, len) => {
                rec.cipher[side] += len;
                conn.gap(side, at[side], len, PACKET, &mut rec);
                at[side] += len;
            }
        }
    }
    assert_eq!(
        conn.info(),
        rec.info.as_ref().unwrap_or(&TlsInfo::default())
    );
    (rec, conn)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 11 {
        return;
    }
    let mode = data[0];
    let cuts: [u8; 8] = data[1..9].try_into().expect("8 bytes");
    let klen = usize::from(u16::from_be_bytes([data[9], data[10]]));
    let rest = &data[11..];
    let (keylog, mut rest) = rest.split_at(klen.min(rest.len()));
    let swap = usize::from(mode & 0x20 != 0);
    let mut segments: Vec<(Side, &[u8])> = Vec::new();
    while rest.len() >= 2 {
        let h = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(h & 0x7fff).min(rest.len() - 2);
        segments.push((usize::from(h >> 15) ^ swap, &rest[2..2 + len]));
        rest = &rest[2 + len..];
    }
    let total: usize = segments.iter().map(|s| s.1.len()).sum();
    let keys = Keys {
        log: KeyLog::parse(keylog).0,
        fallback: (mode & 4 != 0).then(|| made_secrets(keylog)),
    };
    let starts = if mode & 0x10 != 0 {
        [1000, (1 << 33) + 5]
    } else {
        [0, 0]
    };

    // The cut positions, in the bytes of all segments in order.
    let mut at: Vec<usize> = cuts.iter().map(|&c| total * usize::from(c) / 256).collect();
    at.sort_unstable();
    // Split the segments at global positions; `piece` numbers the part between cuts.
    let split = |points: &[usize]| -> Vec<(Side, &[u8], usize)> {
        let mut out = Vec::new();
        let mut pos = 0;
        for &(side, bytes) in &segments {
            let mut from = 0;
            for (i, &p) in points.iter().enumerate() {
                if p > pos + from && p < pos + bytes.len() {
                    out.push((side, &bytes[from..p - pos], i));
                    from = p - pos;
                }
            }
            let piece = points.iter().filter(|&&p| p <= pos + from).count();
            out.push((side, &bytes[from..], piece));
            pos += bytes.len();
        }
        out
    };

    // A: whole segments.
    let whole: Vec<Step> = segments.iter().map(|&(s, b)| Step::Bytes(s, b)).collect();
    let (a, _) = run(&whole, starts, &keys);
    assert_eq!(a.lost, [0, 0], "lost bytes without gaps");
    if std::env::var_os("WSD_FUZZ_DEBUG").is_some() {
        eprintln!(
            "plaintext {} / {} bytes, info {:?}, findings {:?}",
            a.plain[0].len(),
            a.plain[1].len(),
            a.info,
            a.findings
        );
    }

    // B: coalesced per side (same capture order), C: split at the cuts, D: fine chunks.
    let mut merged: Vec<(Side, Vec<u8>)> = Vec::new();
    for &(s, b) in &segments {
        match merged.last_mut() {
            Some((ls, lb)) if *ls == s => lb.extend_from_slice(b),
            _ => merged.push((s, b.to_vec())),
        }
    }
    let coalesced: Vec<Step> = merged.iter().map(|(s, b)| Step::Bytes(*s, b)).collect();
    let at_cuts: Vec<Step> = split(&at)
        .into_iter()
        .map(|(s, b, _)| Step::Bytes(s, b))
        .collect();
    let fine_len = match mode & 3 {
        0 if total <= 8192 => 1,
        0 | 1 => 3,
        2 => 64,
        _ => 1000,
    };
    let fine: Vec<Step> = segments
        .iter()
        .flat_map(|&(s, b)| b.chunks(fine_len).map(move |c| Step::Bytes(s, c)))
        .collect();
    for (name, steps) in [
        ("coalesced", &coalesced),
        ("split at the cuts", &at_cuts),
        ("fine chunks", &fine),
    ] {
        let (r, _) = run(steps, starts, &keys);
        for side in 0..2 {
            assert!(
                r.plain[side] == a.plain[side],
                "{name}: side {side}'s plaintext differs ({} vs {} bytes whole)",
                r.plain[side].len(),
                a.plain[side].len()
            );
        }
        assert_eq!(r.findings, a.findings, "{name}: findings");
        assert_eq!(r.info, a.info, "{name}: info");
        assert_eq!(r.client, a.client, "{name}: client side");
        assert_eq!(r.lost, [0, 0], "{name}: lost bytes without gaps");
    }

    // G: pieces between the cuts whose cut byte is odd become gaps.
    if mode & 8 != 0 {
        let steps: Vec<Step> = split(&at)
            .into_iter()
            .map(
                |(s, b, piece)| match piece.checked_sub(1).map(|i| cuts[i]) {
                    Some(0xff) => Step::Gap(s, b.len() as u64 + (1 << 32)),
                    Some(c) if c % 2 == 1 => Step::Gap(s, b.len() as u64),
                    _ => Step::Bytes(s, b),
                },
            )
            .collect();
        let (g, _) = run(&steps, starts, &keys);
        for side in 0..2 {
            let stopped = a.findings.iter().any(|(s, rule, _)| {
                *s == Some(side) && matches!(*rule, "tls-decrypt-failed" | "tls-records-lost")
            });
            // The whole run read the side to its end: no failure, and its bytes are whole
            // records (else a record whose length was damaged may still be waiting for bytes
            // that the run with gaps skipped, and that run rightly reads records after it).
            let stream: Vec<u8> = segments
                .iter()
                .filter(|s| s.0 == side)
                .flat_map(|s| s.1.iter().copied())
                .collect();
            let mut at = 0;
            while at + 5 <= stream.len() {
                at += 5 + usize::from(u16::from_be_bytes([stream[at + 3], stream[at + 4]]));
            }
            if stopped || at != stream.len() {
                continue;
            }
            let mut from = 0;
            for &(off, len) in &g.pieces[side] {
                let piece = &g.plain[side][from..from + len];
                from += len;
                assert!(
                    len == 0 || a.plain[side].windows(len).any(|w| w == piece),
                    "with gaps: side {side}'s plaintext at {off} ({len} bytes) is not in the whole run's"
                );
            }
        }
    }
});
