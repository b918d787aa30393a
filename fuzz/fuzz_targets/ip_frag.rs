//! (j) IP fragment reassembly: `net::frag::Reassembler` (the Linux rules: runs, duplicates,
//! overlaps, lengths, timeouts, limits) over fragments the fuzzer makes.
//!
//! Input: `[mode][rest]`. Mode bit 0 picks the form of the rest:
//!
//! * free (bit 0 clear): fragments `[flags][offset u16 BE][seconds u8][len u8][len bytes]`
//!   (flags: bit 0 IPv6, bit 1 More Fragments, bits 2-3 which of four datagram ids, bit 4 a
//!   clock tick instead of a fragment); the offset is in 8-byte units as on the wire. Mode
//!   bit 1 uses tiny limits (4 datagrams, 2 KiB, 16 fragments) so they are hit.
//!   Oracles: the limits hold (datagrams; bytes, past the limit by at most one fragment's
//!   growth); a completed datagram is a well-formed IP packet (IPv4: total length, fragment
//!   fields cleared, header checksum; IPv6: payload length, next header) whose every payload
//!   byte is the byte some fragment of that datagram carried at that place; nothing is held
//!   after `finish`.
//! * exact cover (bit 0 set): `[len u16][cuts u8][cuts bytes][order bytes…]`: a payload of
//!   1..=4000 bytes cut at multiples of 8 (the first piece at least 24 bytes, so an IPv6 first
//!   fragment holds a TCP header), sent in the order the bytes shuffle, some pieces twice in a
//!   row (mode bit 2: IPv6). Oracle: exactly one datagram completes, with the last fragment
//!   sent, byte for byte the payload; no diagnostic; nothing held after.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::base::{PacketRef, Timestamp};
use wsdissect::net::frag::{FragKey, FragLimits, Fragment, Layout, Reassembler};

const V4_HEADER: [u8; 20] = [
    0x45, 0, 0, 0, 0x12, 0x34, 0x20, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
];

fn v6_header() -> [u8; 40] {
    let mut h = [0u8; 40];
    h[0] = 0x60;
    h[6] = 44;
    h[23] = 1;
    h[39] = 2;
    h
}

fn key(v6: bool, id: u32) -> FragKey {
    if v6 {
        FragKey {
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            id,
            proto: None,
        }
    } else {
        FragKey {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            id,
            proto: Some(6),
        }
    }
}

fn fragment<'a>(v6: bool, id: u32, offset: u32, more: bool, header: &'a [u8], data: &'a [u8]) -> Fragment<'a> {
    Fragment {
        key: key(v6, id),
        offset,
        more,
        header,
        layout: if v6 {
            Layout::V6 { next_header_at: 6, next_header: 6 }
        } else {
            Layout::V4
        },
        data,
    }
}

fn ipv4_checksum_ok(h: &[u8]) -> bool {
    let mut sum: u32 = h.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

/// The payload of a completed packet, after checking its header.
fn payload_of(v6: bool, packet: &[u8]) -> &[u8] {
    if v6 {
        assert_eq!(usize::from(u16::from_be_bytes([packet[4], packet[5]])), packet.len() - 40);
        assert_eq!(packet[6], 6, "next header restored");
        &packet[40..]
    } else {
        assert_eq!(usize::from(u16::from_be_bytes([packet[2], packet[3]])), packet.len());
        assert_eq!(packet[6] & 0x3f, 0, "MF and offset cleared");
        assert_eq!(packet[7], 0);
        assert!(ipv4_checksum_ok(&packet[..20]), "header checksum");
        &packet[20..]
    }
}

fn free(data: &[u8], tiny: bool) {
    let limits = if tiny {
        FragLimits { max_datagrams: 4, max_bytes: 2048, max_fragments: 16, ..FragLimits::default() }
    } else {
        FragLimits::default()
    };
    let mut r = Reassembler::new(limits);
    let v6h = v6_header();
    let mut notes = Vec::new();
    let mut secs = 0u64;
    // Every fragment sent per datagram: (offset, bytes).
    let mut sent: Vec<((bool, u32), Vec<(u32, Vec<u8>)>)> = Vec::new();
    let mut rest = data;
    let mut number = 0;
    while rest.len() >= 5 {
        let (flags, off, dt, len) = (rest[0], u16::from_be_bytes([rest[1], rest[2]]), rest[3], rest[4]);
        rest = &rest[5..];
        let take = usize::from(len).min(rest.len());
        let (bytes, tail) = rest.split_at(take);
        rest = tail;
        secs += u64::from(dt);
        number += 1;
        let at = PacketRef { number, ts: Timestamp(secs * 1_000_000_000) };
        if flags & 0x10 != 0 {
            r.tick(at.ts, &mut notes);
            continue;
        }
        let (v6, more, id) = (flags & 1 == 1, flags & 2 == 2, u32::from((flags >> 2) & 3));
        let offset = u32::from(off & 0x1fff) * 8;
        let header: &[u8] = if v6 { &v6h } else { &V4_HEADER };
        let f = fragment(v6, id, offset, more, header, bytes);
        match sent.iter_mut().find(|(k, _)| *k == (v6, id)) {
            Some((_, list)) => list.push((offset, bytes.to_vec())),
            None => sent.push(((v6, id), vec![(offset, bytes.to_vec())])),
        }
        if let Some(packet) = r.push(&f, at, &mut notes) {
            let payload = payload_of(v6, &packet);
            let list = &sent.iter().find(|(k, _)| *k == (v6, id)).unwrap().1;
            for (i, b) in payload.iter().enumerate() {
                let i = i as u32;
                let carried = list.iter().any(|(o, d)| {
                    i >= *o && ((i - o) as usize) < d.len() && d[(i - o) as usize] == *b
                });
                assert!(carried, "byte {i} of a datagram was in no fragment");
            }
        }
        assert!(r.in_progress() <= limits.max_datagrams);
        assert!(r.bytes_held() <= limits.max_bytes + 65_536 + 64, "{} bytes held", r.bytes_held());
    }
    r.finish(&mut notes);
    assert_eq!((r.in_progress(), r.bytes_held()), (0, 0));
}

fn exact_cover(data: &[u8], v6: bool) {
    if data.len() < 3 {
        return;
    }
    let len = usize::from(u16::from_be_bytes([data[0], data[1]])) % 4000 + if v6 { 20 } else { 1 };
    let ncuts = usize::from(data[2]).min(data.len() - 3);
    let cut_bytes = &data[3..3 + ncuts];
    let order_bytes = &data[3 + ncuts..];
    let mut cuts: Vec<usize> = cut_bytes
        .iter()
        .enumerate()
        .map(|(i, &b)| 24 + (usize::from(b) + 256 * i) * 8)
        .filter(|&c| c < len)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut payload: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
    if len > 12 {
        payload[12] = 0x50; // a 20-byte TCP header, for the IPv6 first-fragment rule
    }
    let mut bounds = vec![0];
    bounds.extend(&cuts);
    bounds.push(len);
    let pieces: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    // Fisher-Yates with the input's bytes; a byte's top bit sends that piece twice.
    let mut order: Vec<(usize, bool)> = (0..pieces.len()).map(|i| (i, false)).collect();
    for i in (1..order.len()).rev() {
        let b = order_bytes.get(i).copied().unwrap_or(0);
        order.swap(i, usize::from(b & 0x7f) % (i + 1));
        order[i].1 = b & 0x80 != 0;
    }
    let v6h = v6_header();
    let header: &[u8] = if v6 { &v6h } else { &V4_HEADER };
    let mut r = Reassembler::new(FragLimits::default());
    let mut notes = Vec::new();
    let mut done = None;
    let last = order.len() - 1;
    for (n, &(i, twice)) in order.iter().enumerate() {
        let (s, e) = pieces[i];
        let f = fragment(v6, 7, s as u32, e < len, header, &payload[s..e]);
        let sends = if twice && n != last { 2 } else { 1 };
        for _ in 0..sends {
            let at = PacketRef { number: n as u64 + 1, ts: Timestamp(n as u64) };
            if let Some(p) = r.push(&f, at, &mut notes) {
                assert!(done.is_none(), "completed twice");
                assert_eq!(n, last, "completed before its last fragment");
                done = Some(p);
            }
        }
    }
    assert!(notes.is_empty(), "{notes:?}");
    let packet = done.expect("the datagram completes");
    assert_eq!(payload_of(v6, &packet), &payload[..]);
    assert_eq!((r.in_progress(), r.bytes_held()), (0, 0));
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        free(rest, mode & 2 != 0);
    } else {
        exact_cover(rest, mode & 4 != 0);
    }
});
