//! What a packet says about whether its receiver accepted it: checksums, TTL, urgent pointer
//! and TCP Fast Open cookie. Decoding never drops a packet for these; the flow table weighs
//! them against what is usual for the flow (see `tcp::flow`).

use etherparse::{LaxNetSlice, LaxSlicedPacket, TcpSlice};

/// How a checksum compares with the bytes it covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Checksum {
    /// Correct: the receiver's check passes.
    Good,
    /// Left for the network card to fill in (checksum offload on the capturing host): the
    /// field holds only the pseudo-header sum, as Linux leaves it. The packet on the wire is
    /// fine.
    Offloaded,
    /// Wrong: a receiver that checks drops the packet (RFC 9293 §3.1, RFC 791 §3.1).
    Bad,
    /// Not known: the packet was cut by the snap length, or the protocol has none (IPv6).
    #[default]
    Unknown,
}

/// Facts about one captured TCP segment beyond its sequence space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireFacts {
    /// IPv4 TTL or IPv6 hop limit as captured.
    pub ttl: u8,
    /// IPv4 header checksum (`Unknown` for IPv6, which has none).
    pub ip_checksum: Checksum,
    pub tcp_checksum: Checksum,
    /// The urgent pointer, when URG is set (RFC 9293 §3.8.5).
    pub urgent_pointer: Option<u16>,
    /// The SYN carries a TCP Fast Open cookie (RFC 7413 §4.1.1), not just a cookie request.
    pub tfo_cookie: bool,
}

impl WireFacts {
    /// A checksum says the receiver dropped this packet.
    pub fn checksum_bad(&self) -> bool {
        self.ip_checksum == Checksum::Bad || self.tcp_checksum == Checksum::Bad
    }
}

/// The IP header a TCP segment came in, as captured: what its facts and checksum need.
#[derive(Clone, Copy)]
pub enum IpHeader<'a> {
    V4(&'a [u8]),
    V6(&'a [u8]),
}

impl<'a> IpHeader<'a> {
    /// The IP header etherparse found, if any.
    pub fn of(sliced: &'a LaxSlicedPacket<'a>) -> Option<IpHeader<'a>> {
        match &sliced.net {
            Some(LaxNetSlice::Ipv4(v4)) => Some(IpHeader::V4(v4.header().slice())),
            Some(LaxNetSlice::Ipv6(v6)) => Some(IpHeader::V6(v6.header().slice())),
            _ => None,
        }
    }
}

/// The facts of a decoded TCP segment. `complete` is false when the snap length cut the
/// packet, so the TCP checksum cannot be checked.
pub fn wire_facts(ip: Option<IpHeader<'_>>, tcp: &TcpSlice<'_>, complete: bool) -> WireFacts {
    let tcp_len = 6 + tcp.slice().len() as u32;
    let (ttl, ip_checksum, pseudo) = match ip {
        // The header's fixed fields: TTL at 8, addresses at 12..20 (IPv4); hop limit at 7,
        // addresses at 8..40 (IPv6). Both callers checked the header's length.
        Some(IpHeader::V4(h)) => {
            let mut pseudo = Sum::default();
            pseudo.add(&h[12..20]);
            pseudo.add_u32(tcp_len);
            (h[8], ipv4_header_checksum(h), pseudo)
        }
        Some(IpHeader::V6(h)) => {
            let mut pseudo = Sum::default();
            pseudo.add(&h[8..40]);
            pseudo.add_u32(tcp_len);
            (h[7], Checksum::Unknown, pseudo)
        }
        None => (0, Checksum::Unknown, Sum::default()),
    };
    let tcp_checksum = if complete {
        tcp_checksum(pseudo, tcp)
    } else {
        Checksum::Unknown
    };
    WireFacts {
        ttl,
        ip_checksum,
        tcp_checksum,
        urgent_pointer: tcp.urg().then(|| tcp.urgent_pointer()),
        tfo_cookie: tcp.syn() && has_tfo_cookie(tcp.options()),
    }
}

fn ipv4_header_checksum(header: &[u8]) -> Checksum {
    let mut s = Sum::default();
    s.add(header);
    if s.folded() == 0xffff {
        Checksum::Good
    } else {
        Checksum::Bad
    }
}

fn tcp_checksum(pseudo: Sum, tcp: &TcpSlice<'_>) -> Checksum {
    let mut all = pseudo;
    all.add(tcp.slice());
    if all.folded() == 0xffff {
        return Checksum::Good;
    }
    // Linux with offload (CHECKSUM_PARTIAL) stores the folded pseudo-header sum, not its
    // complement, and lets the card finish the job.
    if tcp.checksum() == pseudo.folded() {
        Checksum::Offloaded
    } else {
        Checksum::Bad
    }
}

/// Does this option list carry a Fast Open cookie? Kind 34 (RFC 7413) or the experimental
/// kind 254 with magic 0xF989 (RFC 6994), longer than a bare cookie request.
fn has_tfo_cookie(mut opts: &[u8]) -> bool {
    while let Some((&kind, rest)) = opts.split_first() {
        match kind {
            0 => return false,
            1 => {
                opts = rest;
                continue;
            }
            _ => {}
        }
        let Some(&len) = rest.first() else {
            return false;
        };
        let len = usize::from(len);
        if len < 2 || len > opts.len() {
            return false;
        }
        let body = &opts[2..len];
        if (kind == 34 && !body.is_empty())
            || (kind == 254 && body.len() > 2 && body[..2] == [0xf9, 0x89])
        {
            return true;
        }
        opts = &opts[len..];
    }
    false
}

/// The Internet checksum of `bytes` (RFC 1071): what goes in a header's checksum field (and
/// 0 over a header whose field is right).
pub(super) fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum = Sum::default();
    sum.add(bytes);
    !sum.folded()
}

/// The Internet checksum's one's-complement sum (RFC 1071), over 16-bit big-endian words.
#[derive(Clone, Copy, Debug, Default)]
struct Sum(u64);

impl Sum {
    /// Summed 4 bytes at a time in the machine's byte order: no byte swap per word, and the
    /// loop vectorises (the checksum covers every payload byte). One's-complement sums commute
    /// with swapping bytes (RFC 1071 §2(B)), and a 32-bit word sums like its two 16-bit halves
    /// (2^16 = 1 modulo 0xffff), so the folded native sum, turned big-endian, is the big-endian
    /// sum. Folding keeps zero and non-zero apart, so the result is exact, not just congruent.
    fn add(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(4);
        let mut native = 0u64;
        for w in &mut words {
            native += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
        }
        self.0 += u64::from(u16::from_be(Sum(native).folded()));
        let rest = words.remainder();
        let mut pairs = rest.chunks_exact(2);
        for w in &mut pairs {
            self.0 += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = pairs.remainder() {
            self.0 += u64::from(*last) << 8;
        }
    }

    fn add_u32(&mut self, v: u32) {
        self.0 += u64::from(v >> 16) + u64::from(v & 0xffff);
    }

    fn folded(self) -> u16 {
        let mut s = self.0;
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn packet(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .tcp(40000, 8765, 1000, 65535)
            .ack(5)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn facts(pkt: &[u8]) -> WireFacts {
        let sliced = LaxSlicedPacket::from_ip(pkt).unwrap();
        let Some(etherparse::TransportSlice::Tcp(tcp)) = &sliced.transport else {
            panic!("not tcp")
        };
        wire_facts(IpHeader::of(&sliced), tcp, true)
    }

    #[test]
    fn good_bad_and_offloaded_checksums() {
        let mut pkt = packet(b"hello");
        let f = facts(&pkt);
        assert_eq!(
            (f.ip_checksum, f.tcp_checksum, f.ttl),
            (Checksum::Good, Checksum::Good, 64)
        );
        let last = pkt.len() - 1;
        pkt[last] ^= 1;
        assert_eq!(facts(&pkt).tcp_checksum, Checksum::Bad);
        pkt[8] = 3; // TTL: the IP header checksum no longer matches
        assert_eq!(facts(&pkt).ip_checksum, Checksum::Bad);
        assert!(facts(&pkt).checksum_bad());
    }

    #[test]
    fn offloaded_checksum_as_linux_captures_it_on_loopback() {
        // Frame 1 of samples/py-nano.pcap holds 0xfe30, the folded pseudo-header sum.
        let mut pkt = packet(b"");
        let mut pseudo = Sum::default();
        pseudo.add(&pkt[12..20]);
        pseudo.add_u32(6 + (pkt.len() - 20) as u32);
        pkt[36..38].copy_from_slice(&pseudo.folded().to_be_bytes());
        assert_eq!(facts(&pkt).tcp_checksum, Checksum::Offloaded);
    }

    #[test]
    fn word_sums_agree_with_the_16_bit_definition() {
        let patterns: [fn(usize) -> u8; 3] = [|i| (i * 89 + 7) as u8, |_| 0xff, |_| 0];
        for (len, pattern) in (0..300).flat_map(|n| patterns.map(|p| (n, p))) {
            let data: Vec<u8> = (0..len).map(pattern).collect();
            let mut fast = Sum::default();
            fast.add(&data);
            let mut slow = 0u64;
            for (i, b) in data.iter().enumerate() {
                slow += u64::from(*b) << if i % 2 == 0 { 8 } else { 0 };
            }
            assert_eq!(fast.folded(), Sum(slow).folded(), "{len}");
        }
        // The largest IP packet, every byte 0xff: the most carries there can be.
        let mut fast = Sum::default();
        fast.add(&[0xff; 65_535]);
        let slow = 65_535 / 2 * 0xffff + (0xff << 8);
        assert_eq!(fast.folded(), Sum(slow).folded());
    }

    #[test]
    fn tfo_cookie_is_not_a_cookie_request() {
        assert!(!has_tfo_cookie(&[34, 2]));
        assert!(has_tfo_cookie(&[1, 1, 34, 10, 1, 2, 3, 4, 5, 6, 7, 8]));
        assert!(has_tfo_cookie(&[
            254, 12, 0xf9, 0x89, 1, 2, 3, 4, 5, 6, 7, 8
        ]));
        assert!(!has_tfo_cookie(&[254, 4, 0xf9, 0x89]));
        assert!(!has_tfo_cookie(&[2, 4, 5, 0xb4, 0, 34, 10]));
        assert!(!has_tfo_cookie(&[34, 40, 1]));
    }
}
