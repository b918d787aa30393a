//! IP fragment reassembly, done the way the Linux kernel does it, so the datagrams that come
//! out are the ones a Linux endpoint would have received (net/ipv4/inet_fragment.c,
//! net/ipv4/ip_fragment.c, net/ipv6/reassembly.c). Pure: fragments and capture timestamps in,
//! whole IP packets and diagnostics out.
//!
//! What Linux does, and so what this does:
//! - A datagram is named by (source, destination, identification, protocol) for IPv4 (RFC 791)
//!   and (source, destination, identification) for IPv6 (RFC 8200 §4.5).
//! - A fragment that overlaps another one drops the whole datagram: RFC 5722 for IPv6, and
//!   IPv4 too since Linux 4.19 (2018, "ip: discard IPv4 datagrams with overlapping segments").
//!   A fragment that lies wholly inside a run of fragments already held is a duplicate: it is
//!   ignored and the first copy kept (`inet_frag_queue_insert`, `IPFRAG_DUP`). Runs are built
//!   as the kernel builds them: a fragment that starts exactly where the highest one ends
//!   extends that run; any other fragment starts a run of its own.
//! - A last fragment (MF = 0) that ends before bytes already held, or a second last fragment
//!   that ends elsewhere, or a middle fragment past a known end, or an empty fragment drops
//!   the datagram. IPv4 trims a middle fragment to a multiple of 8 bytes; IPv6 drops such a
//!   fragment (a Parameter Problem in the kernel), and drops a fragment that ends past 65,535.
//! - The reassembly timer starts with a datagram's first fragment: 30 s for IPv4
//!   (`ipfrag_time`), 60 s for IPv6 (`ip6frag_time`). Time is capture time.
//! - Memory is bounded like the kernel's `ipfrag_high_thresh` (4 MiB): above it, fragments are
//!   dropped until datagrams complete or time out.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::facts::internet_checksum;
use crate::base::{rules, ConnId, Diagnostic, PacketRef, Rule, Timestamp};

/// Which datagram a fragment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// The IPv4 protocol; IPv6 does not name datagrams by it.
    pub proto: Option<u8>,
}

impl FragKey {
    fn is_v6(&self) -> bool {
        self.src.is_ipv6()
    }

    fn version(&self) -> &'static str {
        if self.is_v6() {
            "IPv6"
        } else {
            "IPv4"
        }
    }
}

/// How to rebuild a whole IP packet from the first fragment's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `header` is the IPv4 header (with its options).
    V4,
    /// `header` is the IPv6 header and the extension headers before the Fragment header; the
    /// byte at `next_header_at` named the Fragment header and must name `next_header` instead.
    V6 {
        next_header_at: usize,
        next_header: u8,
    },
}

/// One fragment, borrowed from the captured packet.
#[derive(Clone, Debug)]
pub struct Fragment<'a> {
    pub key: FragKey,
    /// Where its data goes in the datagram's payload, in bytes.
    pub offset: u32,
    /// The More Fragments flag.
    pub more: bool,
    pub header: &'a [u8],
    pub layout: Layout,
    pub data: &'a [u8],
}

/// The bounds of reassembly: what is in progress at once, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct FragLimits {
    /// Datagrams being reassembled at once.
    pub max_datagrams: usize,
    /// Bytes held for them (data, first headers, and a fixed cost per fragment run).
    pub max_bytes: usize,
    /// Fragments held for one datagram. Fragments other than the last hold at least 8 bytes
    /// and cannot overlap, so 8192 is what a 65,535-byte datagram can need; the bound makes it
    /// explicit.
    pub max_fragments: usize,
    /// How long after its first fragment a datagram may take to complete, in capture time.
    pub timeout_v4: Duration,
    pub timeout_v6: Duration,
}

impl Default for FragLimits {
    fn default() -> FragLimits {
        FragLimits {
            // The kernel bounds memory only; a count keeps the queue table small as well.
            max_datagrams: 1024,
            // Linux's net.ipv4.ipfrag_high_thresh and net.ipv6.ip6frag_high_thresh.
            max_bytes: 4 << 20,
            max_fragments: 8192,
            // net.ipv4.ipfrag_time and net.ipv6.ip6frag_time.
            timeout_v4: Duration::from_secs(30),
            timeout_v6: Duration::from_secs(60),
        }
    }
}

/// The largest datagram: IPv4 total length, IPv6 payload length (RFC 791, RFC 8200 §4.5).
const MAX_DATAGRAM: usize = 65_535;
/// What a run costs besides its bytes (a map entry), so 8-byte fragments count for more.
const RUN_COST: usize = 32;

/// The reassembly state of every datagram in progress.
#[derive(Debug)]
pub struct Reassembler {
    limits: FragLimits,
    queues: BTreeMap<FragKey, Queue>,
    /// Bytes charged to `queues`, against `limits.max_bytes`.
    bytes: usize,
    /// The earliest time a queue times out, so most packets cost one comparison.
    next_expiry: Option<Timestamp>,
    /// Fragments are being refused for the limits; reported once per episode.
    refusing: bool,
}

/// One datagram in progress (the kernel's `inet_frag_queue`).
#[derive(Debug)]
struct Queue {
    first: PacketRef,
    /// The header of the fragment at offset 0, once it came.
    header: Option<(Vec<u8>, Layout)>,
    /// The payload, by offset; as long as the highest fragment's end.
    data: Vec<u8>,
    /// Fragment runs: start → end. They never overlap.
    runs: BTreeMap<u32, u32>,
    /// Where the last fragment (MF = 0) ends, once it came.
    end: Option<u32>,
    /// Bytes held (the kernel's `meat`).
    held: u32,
    fragments: usize,
}

impl Queue {
    fn new(first: PacketRef) -> Queue {
        Queue {
            first,
            header: None,
            data: Vec::new(),
            runs: BTreeMap::new(),
            end: None,
            held: 0,
            fragments: 0,
        }
    }

    fn cost(&self) -> usize {
        self.data.len() + self.header.as_ref().map_or(0, |h| h.0.len()) + RUN_COST * self.runs.len()
    }

    fn highest_end(&self) -> u32 {
        self.data.len() as u32
    }

    fn is_complete(&self) -> bool {
        self.header.is_some() && self.end == Some(self.held)
    }
}

/// Where a fragment goes among the runs held (`inet_frag_queue_insert`).
#[derive(Debug, PartialEq, Eq)]
enum Placement {
    /// Right after the highest fragment: that run grows.
    ExtendLast,
    /// A run of its own.
    NewRun,
    /// Wholly inside a run already held: ignored, the first copy wins.
    Duplicate,
    Overlap,
}

fn place(runs: &BTreeMap<u32, u32>, highest_end: u32, start: u32, end: u32) -> Placement {
    let Some((_, &last_end)) = runs.last_key_value() else {
        return Placement::NewRun;
    };
    debug_assert_eq!(last_end, highest_end);
    if highest_end < end {
        return match start.cmp(&highest_end) {
            std::cmp::Ordering::Less => Placement::Overlap,
            std::cmp::Ordering::Equal => Placement::ExtendLast,
            std::cmp::Ordering::Greater => Placement::NewRun,
        };
    }
    // Runs never overlap, so only the last run starting before `end` can meet the fragment.
    match runs.range(..end).next_back() {
        Some((_, &run_end)) if run_end <= start => Placement::NewRun,
        None => Placement::NewRun,
        Some((&run_start, &run_end)) if run_start <= start && end <= run_end => {
            Placement::Duplicate
        }
        Some(_) => Placement::Overlap,
    }
}

/// Why a datagram or a fragment was dropped.
enum Discard {
    Overlap,
    TooBig,
    Invalid(&'static str),
    Limit(&'static str),
}

impl Reassembler {
    pub fn new(limits: FragLimits) -> Reassembler {
        Reassembler {
            limits,
            queues: BTreeMap::new(),
            bytes: 0,
            next_expiry: None,
            refusing: false,
        }
    }

    /// Datagrams in progress.
    pub fn in_progress(&self) -> usize {
        self.queues.len()
    }

    /// Bytes held for them.
    pub fn bytes_held(&self) -> usize {
        self.bytes
    }

    fn timeout(&self, key: &FragKey) -> Duration {
        if key.is_v6() {
            self.limits.timeout_v6
        } else {
            self.limits.timeout_v4
        }
    }

    fn expiry(&self, key: &FragKey, first: PacketRef) -> Timestamp {
        let timeout = u64::try_from(self.timeout(key).as_nanos()).unwrap_or(u64::MAX);
        Timestamp(first.ts.0.saturating_add(timeout))
    }

    /// Time has come to `now`: drop the datagrams whose timer ran out. Call it for every
    /// packet, fragment or not, so a timeout is reported where it happens.
    pub fn tick(&mut self, now: Timestamp, notes: &mut Vec<Diagnostic>) {
        if self.next_expiry.is_none_or(|t| now <= t) {
            return;
        }
        let expired: Vec<FragKey> = self
            .queues
            .iter()
            .filter(|(k, q)| now > self.expiry(k, q.first))
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            if let Some(q) = self.remove(&key) {
                let secs = self.timeout(&key).as_secs();
                let why = format!("incomplete {secs} s after its first fragment: dropped");
                notes.push(self.incomplete_note(&key, &q, why));
            }
        }
        self.next_expiry = self
            .queues
            .iter()
            .map(|(k, q)| self.expiry(k, q.first))
            .min();
    }

    /// End of the capture: every datagram still in progress is reported.
    pub fn finish(&mut self, notes: &mut Vec<Diagnostic>) {
        for (key, q) in std::mem::take(&mut self.queues) {
            let why = "still incomplete when the capture ended".to_string();
            notes.push(self.incomplete_note(&key, &q, why));
        }
        self.bytes = 0;
        self.next_expiry = None;
    }

    fn incomplete_note(&self, key: &FragKey, q: &Queue, why: String) -> Diagnostic {
        let of = q.end.map_or("?".to_string(), |e| e.to_string());
        let missing = if q.header.is_none() {
            ", the first fragment missing"
        } else {
            ""
        };
        note(
            &rules::IP_FRAG_TIMEOUT,
            q.first,
            format!(
                "{} datagram {} {why} ({}, {} of {of} bytes{missing})",
                key.version(),
                describe(key),
                plural(q.fragments, "fragment"),
                q.held,
            ),
        )
    }

    /// Take in one fragment; the whole IP packet when it completes its datagram.
    pub fn push(
        &mut self,
        frag: &Fragment<'_>,
        packet: PacketRef,
        notes: &mut Vec<Diagnostic>,
    ) -> Option<Vec<u8>> {
        self.tick(packet.ts, notes);
        match self.add(frag, packet) {
            Ok(done) => {
                self.refusing = false;
                done
            }
            Err(why) => {
                if let Some(n) = self.drop_note(frag, packet, why) {
                    notes.push(n);
                }
                None
            }
        }
    }

    fn add(&mut self, frag: &Fragment<'_>, packet: PacketRef) -> Result<Option<Vec<u8>>, Discard> {
        let key = frag.key;
        let (start, end, data) = self.bounds(frag)?;
        if self.bytes >= self.limits.max_bytes {
            return Err(Discard::Limit("bytes"));
        }
        if !self.queues.contains_key(&key) {
            if self.queues.len() >= self.limits.max_datagrams {
                return Err(Discard::Limit("datagrams"));
            }
            self.queues.insert(key, Queue::new(packet));
            let expiry = self.expiry(&key, packet);
            self.next_expiry = Some(self.next_expiry.map_or(expiry, |t| t.min(expiry)));
        }
        let result = self.insert(&key, frag, start, end, data);
        if result.is_err() {
            self.remove(&key);
        }
        result?;
        if !self.queues[&key].is_complete() {
            return Ok(None);
        }
        let q = self.remove(&key).expect("the queue was just used");
        rebuild(q).map(Some)
    }

    /// Where the fragment's data goes, after the checks that drop the fragment alone.
    fn bounds<'a>(&self, frag: &Fragment<'a>) -> Result<(u32, u32, &'a [u8]), Discard> {
        let start = frag.offset as usize;
        let mut len = frag.data.len();
        let v6 = frag.key.is_v6();
        if start + len > MAX_DATAGRAM {
            return Err(Discard::TooBig);
        }
        if v6 && start == 0 && !holds_tcp_header(frag) {
            return Err(Discard::Invalid(
                "is the first and does not hold the whole TCP header (RFC 8200 §4.5)",
            ));
        }
        if frag.more && (start + len) % 8 != 0 {
            if v6 {
                return Err(Discard::Invalid(
                    "is not a multiple of 8 bytes and not the last (RFC 8200 §4.5)",
                ));
            }
            // ip_frag_queue: "Check if the fragment is rounded to 8 bytes", and trim it.
            len -= (start + len) % 8;
        }
        Ok((start as u32, (start + len) as u32, &frag.data[..len]))
    }

    /// The checks that drop the whole datagram, then the fragment stored
    /// (`ip_frag_queue` / `ip6_frag_queue`, then `inet_frag_queue_insert`).
    fn insert(
        &mut self,
        key: &FragKey,
        frag: &Fragment<'_>,
        start: u32,
        end: u32,
        data: &[u8],
    ) -> Result<(), Discard> {
        let q = self.queues.get_mut(key).expect("queue exists");
        if !frag.more {
            if end < q.highest_end() || q.end.is_some_and(|e| e != end) {
                return Err(Discard::Invalid(
                    "is a last fragment that disagrees with the datagram's length",
                ));
            }
            q.end = Some(end);
        } else if end > q.highest_end() && q.end.is_some() {
            return Err(Discard::Invalid(
                "reaches past the datagram's last fragment",
            ));
        }
        if end == start {
            return Err(Discard::Invalid("is empty"));
        }
        let placement = place(&q.runs, q.highest_end(), start, end);
        match placement {
            Placement::Overlap => return Err(Discard::Overlap),
            Placement::Duplicate => return Ok(()),
            Placement::ExtendLast | Placement::NewRun => {}
        }
        if q.fragments >= self.limits.max_fragments {
            return Err(Discard::Limit("fragments of one datagram"));
        }
        let before = q.cost();
        if placement == Placement::ExtendLast {
            let last = q.runs.last_entry();
            *last.expect("a last run").into_mut() = end;
        } else {
            q.runs.insert(start, end);
        }
        if q.data.len() < end as usize {
            q.data.resize(end as usize, 0);
        }
        q.data[start as usize..end as usize].copy_from_slice(data);
        if start == 0 {
            q.header = Some((frag.header.to_vec(), frag.layout));
        }
        q.held += end - start;
        q.fragments += 1;
        let grown = q.cost() - before;
        self.bytes += grown;
        Ok(())
    }

    fn remove(&mut self, key: &FragKey) -> Option<Queue> {
        let q = self.queues.remove(key)?;
        self.bytes -= q.cost();
        Some(q)
    }

    fn drop_note(
        &mut self,
        frag: &Fragment<'_>,
        packet: PacketRef,
        why: Discard,
    ) -> Option<Diagnostic> {
        let what = format!(
            "{} fragment of {} (bytes {}..{})",
            frag.key.version(),
            describe(&frag.key),
            frag.offset,
            frag.offset as usize + frag.data.len()
        );
        let (rule, message) = match why {
            Discard::Overlap => (
                &rules::IP_FRAG_OVERLAP,
                format!(
                    "{what} overlaps an earlier fragment: the datagram is dropped, as Linux does"
                ),
            ),
            Discard::TooBig => (
                &rules::IP_FRAG_TOO_BIG,
                format!("{what} reaches past {MAX_DATAGRAM} bytes: dropped"),
            ),
            Discard::Invalid(reason) => (
                &rules::IP_FRAG_INVALID,
                format!("{what} {reason}: dropped, as Linux does"),
            ),
            Discard::Limit(which) => {
                if std::mem::replace(&mut self.refusing, true) {
                    return None;
                }
                (
                    &rules::IP_FRAG_LIMIT,
                    format!(
                        "{what} dropped: the limit of {which} in reassembly was reached \
                         ({} datagrams, {} bytes held); fragments are dropped until some \
                         complete or time out",
                        self.queues.len(),
                        self.bytes
                    ),
                )
            }
        };
        Some(note(rule, packet, message))
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Linux drops an IPv6 first fragment that does not hold every header through the
/// upper-layer one (`ipv6frag_thdr_truncated`, RFC 8200 §4.5); for TCP, its whole header with
/// options. Other next headers (extension headers after the Fragment header) are not checked.
fn holds_tcp_header(frag: &Fragment<'_>) -> bool {
    const TCP: u8 = 6;
    match frag.layout {
        Layout::V6 {
            next_header: TCP, ..
        } => frag
            .data
            .get(12)
            .is_some_and(|&b| frag.data.len() >= usize::from(b >> 4).max(5) * 4),
        _ => true,
    }
}

fn describe(key: &FragKey) -> String {
    format!("{} → {} id 0x{:x}", key.src, key.dst, key.id)
}

fn note(rule: &'static Rule, packet: PacketRef, message: String) -> Diagnostic {
    Diagnostic {
        conn: ConnId(0),
        stream: None,
        dir: None,
        packet: Some(packet),
        rule,
        message,
    }
}

/// The whole IP packet of a complete datagram: the first fragment's header, its lengths set
/// and its fragment fields cleared, then the payload.
fn rebuild(q: Queue) -> Result<Vec<u8>, Discard> {
    let (mut packet, layout) = q.header.expect("a complete datagram has its first header");
    let header_len = packet.len();
    match layout {
        Layout::V4 => {
            // ip_frag_reasm: "Oversized IP packet" when the header and payload pass 65,535.
            let total = header_len + q.data.len();
            if total > MAX_DATAGRAM || header_len < 20 {
                return Err(Discard::TooBig);
            }
            packet[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            packet[6] &= 0x40; // keep DF; clear MF and the offset
            packet[7] = 0;
            packet[10..12].fill(0);
            let sum = internet_checksum(&packet);
            packet[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        Layout::V6 {
            next_header_at,
            next_header,
        } => {
            let payload = header_len.saturating_sub(40) + q.data.len();
            if payload > MAX_DATAGRAM || header_len < 40 || next_header_at >= header_len {
                return Err(Discard::TooBig);
            }
            packet[4..6].copy_from_slice(&(payload as u16).to_be_bytes());
            packet[next_header_at] = next_header;
        }
    }
    packet.extend_from_slice(&q.data);
    Ok(packet)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4_HEADER: [u8; 20] = [
        0x45, 0, 0, 0, 0x12, 0x34, 0x60, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];

    fn key4() -> FragKey {
        FragKey {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            id: 0x1234,
            proto: Some(6),
        }
    }

    fn key6() -> FragKey {
        FragKey {
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            id: 7,
            proto: None,
        }
    }

    fn v6_header() -> Vec<u8> {
        let mut h = vec![0u8; 40];
        h[0] = 0x60;
        h[6] = 44;
        h
    }

    fn frag<'a>(key: FragKey, offset: u32, more: bool, data: &'a [u8]) -> Fragment<'a> {
        let (header, layout): (&'static [u8], Layout) = if key.is_v6() {
            (
                Box::leak(v6_header().into_boxed_slice()),
                Layout::V6 {
                    next_header_at: 6,
                    next_header: 6,
                },
            )
        } else {
            (&V4_HEADER, Layout::V4)
        };
        Fragment {
            key,
            offset,
            more,
            header,
            layout,
            data,
        }
    }

    fn at(number: u64, secs: u64) -> PacketRef {
        PacketRef {
            number,
            ts: Timestamp(secs * 1_000_000_000),
        }
    }

    /// A fragment: offset, More Fragments, data.
    type Part = (u32, bool, Vec<u8>);

    /// The payload 0, 1, 2 … of `len` bytes, cut into fragments of `size` bytes.
    fn pieces(len: usize, size: usize) -> (Vec<u8>, Vec<Part>) {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let parts = payload
            .chunks(size)
            .enumerate()
            .map(|(i, c)| ((i * size) as u32, (i + 1) * size < len, c.to_vec()))
            .collect();
        (payload, parts)
    }

    fn run(
        r: &mut Reassembler,
        key: FragKey,
        parts: &[Part],
        order: &[usize],
    ) -> (Option<Vec<u8>>, Vec<Diagnostic>) {
        let mut notes = Vec::new();
        let mut out = None;
        for (n, &i) in order.iter().enumerate() {
            let (off, more, data) = &parts[i];
            if let Some(p) = r.push(
                &frag(key, *off, *more, data),
                at(n as u64 + 1, 1),
                &mut notes,
            ) {
                assert!(out.is_none(), "completed twice");
                out = Some(p);
            }
        }
        (out, notes)
    }

    #[test]
    fn in_order_ipv4_rebuilds_the_packet() {
        let mut r = Reassembler::new(FragLimits::default());
        let (payload, parts) = pieces(100, 32);
        let (out, notes) = run(&mut r, key4(), &parts, &[0, 1, 2, 3]);
        let p = out.unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(&p[20..], &payload[..]);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 120);
        assert_eq!(p[6] & 0x3f, 0, "MF and offset cleared");
        assert_eq!(p[6] & 0x40, 0x40, "DF kept");
        assert_eq!(internet_checksum(&p[..20]), 0, "the checksum verifies");
        assert_eq!(r.in_progress(), 0);
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn any_order_gives_the_same_datagram() {
        let (payload, parts) = pieces(200, 48);
        for order in [[4, 3, 2, 1, 0], [2, 0, 4, 1, 3], [0, 4, 1, 3, 2]] {
            let mut r = Reassembler::new(FragLimits::default());
            let (out, notes) = run(&mut r, key6(), &parts, &order);
            let p = out.unwrap_or_else(|| panic!("{order:?}: {notes:?}"));
            assert_eq!(&p[40..], &payload[..]);
            assert_eq!(u16::from_be_bytes([p[4], p[5]]), 200);
            assert_eq!(p[6], 6, "next header patched to the fragment header's");
            assert!(notes.is_empty());
        }
    }

    #[test]
    fn identical_duplicates_are_ignored() {
        let mut r = Reassembler::new(FragLimits::default());
        let (payload, parts) = pieces(64, 16);
        let (out, notes) = run(&mut r, key4(), &parts, &[0, 0, 1, 2, 1, 3]);
        assert_eq!(&out.unwrap()[20..], &payload[..]);
        assert!(notes.is_empty());
    }

    #[test]
    fn a_fragment_inside_a_run_is_a_duplicate_and_the_first_copy_wins() {
        // [0,16) then [16,32) make one run; [8,24) lies inside it: IPFRAG_DUP in Linux.
        let mut r = Reassembler::new(FragLimits::default());
        let mut notes = Vec::new();
        let key = key4();
        assert!(r
            .push(&frag(key, 0, true, &[1; 16]), at(1, 1), &mut notes)
            .is_none());
        assert!(r
            .push(&frag(key, 16, true, &[2; 16]), at(2, 1), &mut notes)
            .is_none());
        assert!(r
            .push(&frag(key, 8, true, &[9; 16]), at(3, 1), &mut notes)
            .is_none());
        let p = r
            .push(&frag(key, 32, false, &[3; 4]), at(4, 1), &mut notes)
            .unwrap();
        assert!(notes.is_empty());
        let mut want = vec![1; 16];
        want.extend([2; 16]);
        want.extend([3; 4]);
        assert_eq!(&p[20..], &want[..]);
    }

    #[test]
    fn runs_depend_on_arrival_order_as_in_linux() {
        // [16,32) then [0,16): two runs (the second was not appended at the end), so [8,24)
        // straddles them: an overlap, and the datagram is dropped.
        let mut r = Reassembler::new(FragLimits::default());
        let mut notes = Vec::new();
        let key = key4();
        r.push(&frag(key, 16, true, &[2; 16]), at(1, 1), &mut notes);
        r.push(&frag(key, 0, true, &[1; 16]), at(2, 1), &mut notes);
        r.push(&frag(key, 8, true, &[9; 16]), at(3, 1), &mut notes);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].rule.name, "ip-frag-overlap");
        assert_eq!(r.in_progress(), 0);
        // What comes after starts a new datagram that lacks the dropped fragments.
        assert!(r
            .push(&frag(key, 32, false, &[3; 4]), at(4, 1), &mut notes)
            .is_none());
        assert_eq!(r.in_progress(), 1);
    }

    #[test]
    fn partial_overlaps_drop_the_datagram_both_versions() {
        for key in [key4(), key6()] {
            let mut r = Reassembler::new(FragLimits::default());
            let mut notes = Vec::new();
            r.push(&frag(key, 0, true, &[1; 24]), at(1, 1), &mut notes);
            r.push(&frag(key, 16, false, &[2; 24]), at(2, 1), &mut notes);
            assert_eq!(notes.len(), 1, "{key:?}");
            assert_eq!(notes[0].rule.name, "ip-frag-overlap");
            assert!(
                notes[0].message.contains("overlaps"),
                "{}",
                notes[0].message
            );
            assert_eq!(r.in_progress(), 0);
            assert_eq!(r.bytes_held(), 0);
        }
    }

    #[test]
    fn timeouts_follow_capture_time_from_the_first_fragment() {
        for (key, secs) in [(key4(), 30), (key6(), 60)] {
            let mut r = Reassembler::new(FragLimits::default());
            let mut notes = Vec::new();
            r.push(&frag(key, 0, true, &[1; 24]), at(1, 100), &mut notes);
            r.tick(Timestamp((100 + secs) * 1_000_000_000), &mut notes);
            assert!(notes.is_empty(), "not yet at exactly {secs} s");
            r.tick(Timestamp((100 + secs + 1) * 1_000_000_000), &mut notes);
            assert_eq!(notes.len(), 1);
            assert_eq!(notes[0].rule.name, "ip-frag-timeout");
            assert!(
                notes[0].message.contains(&format!("{secs} s")),
                "{}",
                notes[0].message
            );
            // The last fragment, too late, is the start of another datagram.
            let late = at(3, 100 + secs + 2);
            assert!(r
                .push(&frag(key, 16, false, &[2; 4]), late, &mut notes)
                .is_none());
            assert_eq!(r.in_progress(), 1);
            r.finish(&mut notes);
            assert_eq!(notes.len(), 2);
            assert!(
                notes[1].message.contains("capture ended"),
                "{}",
                notes[1].message
            );
            assert!(notes[1].message.contains("first fragment missing"));
        }
    }

    #[test]
    fn inconsistent_lengths_and_empty_fragments_are_invalid() {
        let key = key4();
        let cases: [&[(u32, bool, usize)]; 4] = [
            // a last fragment ending before bytes already held
            &[(32, true, 16), (0, false, 8)],
            // two last fragments that end in different places
            &[(16, true, 8), (24, false, 8), (32, false, 8)],
            // a middle fragment past the known end
            &[(8, false, 8), (16, true, 16)],
            // an empty fragment
            &[(8, true, 0)],
        ];
        for case in cases {
            let mut r = Reassembler::new(FragLimits::default());
            let mut notes = Vec::new();
            for &(off, more, len) in case {
                let data = vec![0; len];
                r.push(&frag(key, off, more, &data), at(1, 1), &mut notes);
            }
            assert_eq!(notes.len(), 1, "{case:?}: {notes:?}");
            assert_eq!(notes[0].rule.name, "ip-frag-invalid", "{case:?}");
            assert_eq!(r.in_progress(), 0, "{case:?}");
        }
    }

    #[test]
    fn ipv4_trims_a_middle_fragment_and_ipv6_drops_it() {
        let mut r = Reassembler::new(FragLimits::default());
        let mut notes = Vec::new();
        // 20 bytes with MF: Linux keeps 16.
        r.push(&frag(key4(), 0, true, &[1; 20]), at(1, 1), &mut notes);
        let p = r
            .push(&frag(key4(), 16, false, &[2; 4]), at(2, 1), &mut notes)
            .unwrap();
        assert_eq!(p.len(), 20 + 20);
        assert!(notes.is_empty());
        r.push(&frag(key6(), 0, true, &[1; 20]), at(3, 1), &mut notes);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].rule.name, "ip-frag-invalid");
        assert_eq!(r.in_progress(), 0, "the fragment alone is dropped");
    }

    #[test]
    fn an_ipv6_first_fragment_must_hold_the_tcp_header() {
        let mut r = Reassembler::new(FragLimits::default());
        let mut notes = Vec::new();
        // 16 bytes, data offset 8 (32-byte header): cut short.
        let mut short = [0u8; 16];
        short[12] = 8 << 4;
        r.push(&frag(key6(), 0, true, &short), at(1, 1), &mut notes);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].rule.name, "ip-frag-invalid");
        assert!(
            notes[0].message.contains("TCP header"),
            "{}",
            notes[0].message
        );
        assert_eq!(r.in_progress(), 0);
        // IPv4 has no such rule.
        r.push(&frag(key4(), 0, true, &short), at(2, 1), &mut notes);
        assert_eq!((notes.len(), r.in_progress()), (1, 1));
    }

    #[test]
    fn past_65535_bytes_is_too_big() {
        let mut r = Reassembler::new(FragLimits::default());
        let mut notes = Vec::new();
        r.push(&frag(key6(), 65528, false, &[0; 16]), at(1, 1), &mut notes);
        assert_eq!(notes[0].rule.name, "ip-frag-too-big");
        // IPv4: header + payload past 65,535 once complete (ip_frag_reasm).
        let big = vec![0u8; 65_512];
        r.push(&frag(key4(), 0, true, &big), at(2, 1), &mut notes);
        assert!(r
            .push(&frag(key4(), 65_512, false, &[0; 10]), at(3, 1), &mut notes)
            .is_none());
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(notes[1].rule.name, "ip-frag-too-big");
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn limits_hold_and_are_reported_once_per_episode() {
        let limits = FragLimits {
            max_datagrams: 3,
            max_bytes: 1000,
            ..FragLimits::default()
        };
        let mut r = Reassembler::new(limits);
        let mut notes = Vec::new();
        for id in 0..10 {
            let key = FragKey { id, ..key4() };
            r.push(&frag(key, 0, true, &[0; 8]), at(1, 1), &mut notes);
        }
        assert_eq!(r.in_progress(), 3);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].rule.name, "ip-frag-limit");
        // Bytes: one datagram grows until 1000 bytes are held; then nothing more is taken.
        let key = FragKey { id: 0, ..key4() };
        for i in 1..400u32 {
            r.push(&frag(key, i * 8, true, &[0; 8]), at(2, 1), &mut notes);
        }
        assert!(r.bytes_held() < 1000 + 8 + RUN_COST, "{}", r.bytes_held());
        assert_eq!(notes.len(), 2, "a new episode: {notes:?}");
        assert!(
            notes[1].message.contains("limit of bytes"),
            "{}",
            notes[1].message
        );
    }

    #[test]
    fn fragments_per_datagram_are_bounded() {
        let limits = FragLimits {
            max_fragments: 4,
            ..FragLimits::default()
        };
        let mut r = Reassembler::new(limits);
        let mut notes = Vec::new();
        // Every other 8-byte slot: each fragment a run of its own.
        for i in 0..6u32 {
            r.push(&frag(key4(), i * 16, true, &[0; 8]), at(1, 1), &mut notes);
        }
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].rule.name, "ip-frag-limit");
    }

    #[test]
    fn keys_keep_datagrams_apart() {
        let mut r = Reassembler::new(FragLimits::default());
        let mut notes = Vec::new();
        let other = FragKey {
            proto: Some(17),
            ..key4()
        };
        r.push(&frag(key4(), 0, true, &[1; 8]), at(1, 1), &mut notes);
        r.push(&frag(other, 0, true, &[2; 8]), at(2, 1), &mut notes);
        let p = r
            .push(&frag(key4(), 8, false, &[1; 8]), at(3, 1), &mut notes)
            .unwrap();
        assert_eq!(&p[20..], &[1; 16]);
        assert_eq!(r.in_progress(), 1);
    }
}
