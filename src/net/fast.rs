//! The usual packet decoded without etherparse's general slicing: a whole IPv4 datagram that
//! is not a fragment, or an IPv6 packet whose next header is TCP, carrying a TCP header that
//! fits. etherparse's `LaxSlicedPacket` cost about 900 instructions a packet (it builds and
//! copies a large description of every layer); this reads the few fixed fields the pipeline
//! needs. Everything else (fragments, extension headers, a cut or zero length, a bad header)
//! goes the general way, which gives the same [`Segment`]: the tests below and the fuzz target
//! `net_fast_path` compare the two on every input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::TcpSlice;

use super::facts::IpHeader;
use super::{segment_of, Segment, TCP};

const IPV4: u16 = 0x0800;
const IPV6: u16 = 0x86dd;

/// `ip` holds the IP packet (`ether_type` says which, when a link header named it). None when
/// the packet is not the usual kind: then the general path decodes it.
pub fn segment(ether_type: Option<u16>, ip: &[u8]) -> Option<Segment<'_>> {
    let version = ip.first()? >> 4;
    match (ether_type, version) {
        (Some(IPV4) | None, 4) => ipv4(ip),
        (Some(IPV6) | None, 6) => ipv6(ip),
        _ => None,
    }
}

fn ipv4(ip: &[u8]) -> Option<Segment<'_>> {
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let flags_offset = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
    let fragment = flags_offset & 0x3fff != 0; // more fragments, or an offset
    if header_len < 20 || total_len < header_len || total_len > ip.len() || fragment {
        return None;
    }
    if ip[9] != TCP {
        return None;
    }
    let header = &ip[..header_len];
    let src = Ipv4Addr::from([ip[12], ip[13], ip[14], ip[15]]);
    let dst = Ipv4Addr::from([ip[16], ip[17], ip[18], ip[19]]);
    let tcp = &ip[header_len..total_len];
    tcp_segment(src.into(), dst.into(), IpHeader::V4(header), tcp)
}

fn ipv6(ip: &[u8]) -> Option<Segment<'_>> {
    let header = ip.get(..40)?;
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    // Zero: a jumbogram, or a length the capturing host left out; the general path decides.
    if payload_len == 0 || 40 + payload_len > ip.len() || header[6] != TCP {
        return None;
    }
    let src: [u8; 16] = header[8..24].try_into().ok()?;
    let dst: [u8; 16] = header[24..40].try_into().ok()?;
    let tcp = &ip[40..40 + payload_len];
    tcp_segment(
        Ipv6Addr::from(src).into(),
        Ipv6Addr::from(dst).into(),
        IpHeader::V6(header),
        tcp,
    )
}

/// The segment in `tcp` (the whole IP payload), when its header fits.
fn tcp_segment<'a>(
    src: IpAddr,
    dst: IpAddr,
    ip: IpHeader<'a>,
    tcp: &'a [u8],
) -> Option<Segment<'a>> {
    let tcp = TcpSlice::from_slice(tcp).ok()?;
    Some(segment_of(src, dst, Some(ip), &tcp, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::LinkType;
    use crate::net::decode_packet_general;
    use etherparse::PacketBuilder;

    /// The fast path, where it answers, gives what the general path gives.
    fn assert_same(link: LinkType, pkt: &[u8]) -> bool {
        let general = decode_packet_general(link, pkt);
        match crate::net::fast_segment(link, pkt) {
            Some(fast) => {
                assert_eq!(Ok(fast), general);
                true
            }
            None => false,
        }
    }

    fn v4(payload: &[u8]) -> Vec<u8> {
        crate::net::tests::tcp_packet_v4(payload)
    }

    fn v6(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([1; 16], [2; 16], 9)
            .tcp(1234, 80, 1000, 65535)
            .syn()
            .write(&mut out, payload)
            .unwrap();
        out
    }

    #[test]
    fn the_usual_packets_take_the_fast_path_and_agree() {
        assert!(assert_same(LinkType::ETHERNET, &v4(b"hello")));
        assert!(assert_same(LinkType::ETHERNET, &v6(b"hello")));
        assert!(assert_same(LinkType::ETHERNET, &v4(b"")));
        assert!(assert_same(LinkType::RAW, &v4(b"hi")[14..]));
        assert!(assert_same(LinkType::RAW, &v6(b"hi")[14..]));
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut pkt = v4(b"ab");
        pkt.extend_from_slice(&[0; 10]);
        assert!(assert_same(LinkType::ETHERNET, &pkt));
    }

    #[test]
    fn bad_checksums_agree() {
        let mut pkt = v4(b"hello");
        let last = pkt.len() - 1;
        pkt[last] ^= 1;
        pkt[14 + 8] = 1; // TTL, under the IP header checksum
        assert!(assert_same(LinkType::ETHERNET, &pkt));
    }

    #[test]
    fn unusual_packets_go_the_general_way() {
        let full = v4(b"hello");
        let cut = &full[..full.len() - 2];
        assert!(
            !assert_same(LinkType::ETHERNET, cut),
            "cut by the snap length"
        );
        let mut frag = v4(b"hello");
        frag[14 + 6] = 0x20; // more fragments
        assert!(!assert_same(LinkType::ETHERNET, &frag));
        let mut zero_len = v4(b"hello");
        zero_len[14 + 2..14 + 4].copy_from_slice(&[0, 0]); // segmentation offload
        assert!(!assert_same(LinkType::ETHERNET, &zero_len));
        let mut udp = v4(b"hello");
        udp[14 + 9] = 17;
        assert!(!assert_same(LinkType::ETHERNET, &udp));
        let mut short_tcp = v4(b"hello");
        short_tcp[14 + 20 + 12] = 0x40; // data offset 4 words
        assert!(!assert_same(LinkType::ETHERNET, &short_tcp));
        let mut long_tcp = v4(b"");
        long_tcp[14 + 20 + 12] = 0xf0; // 60-byte header in 20 bytes
        assert!(!assert_same(LinkType::ETHERNET, &long_tcp));
        let mut v4_in_v6 = v4(b"hello");
        v4_in_v6[12..14].copy_from_slice(&IPV6.to_be_bytes());
        assert!(!assert_same(LinkType::ETHERNET, &v4_in_v6));
    }

    #[test]
    fn every_prefix_and_every_flipped_byte_agree() {
        for pkt in [v4(b"hello"), v6(b"hello")] {
            // Only the whole packet is whole: every shorter prefix goes the general way.
            let fast_prefixes = (0..=pkt.len())
                .filter(|&end| assert_same(LinkType::ETHERNET, &pkt[..end]))
                .count();
            assert_eq!(fast_prefixes, 1);
            let mut fast_flips = 0;
            for at in 0..pkt.len() {
                for bit in 0..8 {
                    let mut p = pkt.clone();
                    p[at] ^= 1 << bit;
                    fast_flips += usize::from(assert_same(LinkType::ETHERNET, &p));
                }
            }
            // Flips in addresses, ports, flags, checksums and payload keep the fast path:
            // the comparison is not empty.
            assert!(fast_flips > pkt.len() * 4, "{fast_flips}");
        }
    }
}
