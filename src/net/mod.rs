//! Link, IP and TCP decoding: a captured packet in, a TCP `Segment` or the reason it is not one
//! out. Link headers etherparse does not know (Linux SLL2, BSD NULL/LOOP) are read here; the
//! rest (Ethernet, VLAN/QinQ, SLL, IPv4, IPv6 and its extension headers, TCP) is etherparse.

mod facts;
mod link;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::base::LinkType;

pub use facts::{Checksum, WireFacts};

/// A TCP segment, borrowing its payload from the captured packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub ack_flag: bool,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    /// The captured payload bytes.
    pub payload: &'a [u8],
    /// Payload length on the wire; more than `payload.len()` when the snap length cut the packet.
    pub orig_payload_len: usize,
    /// Checksums, TTL, urgent pointer and Fast Open cookie: what decides whether the receiver
    /// accepted the segment.
    pub facts: WireFacts,
}

/// Why a packet is not a TCP segment we can use. Counted per reason, never fatal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    UnsupportedLinkType(u32),
    TruncatedLinkHeader,
    NotIp(NotIp),
    BadIpHeader(IpHeaderError),
    IpFragment,
    NotTcp(u8),
    /// The header is cut or invalid (etherparse's reason), or absent.
    TruncatedTcpHeader(Option<etherparse::err::packet::SliceError>),
}

/// What a packet carries instead of IP.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NotIp {
    Arp,
    /// Another EtherType (an Ethernet frame), or none known (another link header).
    EtherType(Option<u16>),
    /// A BSD loopback address family other than IPv4 and IPv6.
    AddressFamily(u32),
}

impl fmt::Display for NotIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotIp::Arp => f.write_str("ARP"),
            NotIp::EtherType(Some(t)) => write!(f, "ether type 0x{t:04x}"),
            NotIp::EtherType(None) => f.write_str("ether type unknown"),
            NotIp::AddressFamily(af) => write!(f, "address family {af}"),
        }
    }
}

/// Why etherparse could not read the IP header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IpHeaderError {
    /// Found while slicing a link-layer frame.
    InFrame(etherparse::err::packet::SliceError),
    /// The packet starts with the IP header (raw IP and loopback link types).
    AtStart(etherparse::err::ip::LaxHeaderSliceError),
}

impl fmt::Display for IpHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpHeaderError::InFrame(e) => e.fmt(f),
            IpHeaderError::AtStart(e) => e.fmt(f),
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::UnsupportedLinkType(t) => write!(f, "unsupported link type {t}"),
            SkipReason::TruncatedLinkHeader => f.write_str("link-layer header truncated"),
            SkipReason::NotIp(what) => write!(f, "not IP ({what})"),
            SkipReason::BadIpHeader(e) => write!(f, "bad IP header: {e}"),
            SkipReason::IpFragment => f.write_str("IP fragment (fragments are not reassembled)"),
            SkipReason::NotTcp(p) => write!(f, "not TCP (IP protocol {p})"),
            SkipReason::TruncatedTcpHeader(Some(e)) => {
                write!(f, "TCP header truncated or invalid: {e}")
            }
            SkipReason::TruncatedTcpHeader(None) => {
                f.write_str("TCP header truncated or invalid: missing")
            }
        }
    }
}

/// What the IP header says, with where it starts in the captured packet.
struct Ip {
    src: IpAddr,
    dst: IpAddr,
    start: usize,
    /// The length the header declares for the whole IP packet.
    declared_len: usize,
    fragmented: bool,
    proto: u8,
}

fn ip_of(sliced: &LaxSlicedPacket<'_>, data: &[u8]) -> Result<Ip, SkipReason> {
    match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            Ok(Ip {
                src: h.source_addr().into(),
                dst: h.destination_addr().into(),
                start: offset_in(data, h.slice()),
                declared_len: usize::from(h.total_len()),
                fragmented: v4.is_payload_fragmented(),
                proto: v4.payload().ip_number.0,
            })
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            Ok(Ip {
                src: h.source_addr().into(),
                dst: h.destination_addr().into(),
                start: offset_in(data, h.slice()),
                declared_len: 40 + usize::from(h.payload_length()),
                fragmented: v6.is_payload_fragmented(),
                proto: v6.payload().ip_number.0,
            })
        }
        Some(LaxNetSlice::Arp(_)) => Err(SkipReason::NotIp(NotIp::Arp)),
        None => Err(match &sliced.stop_err {
            Some((e, _)) => SkipReason::BadIpHeader(IpHeaderError::InFrame(e.clone())),
            None => SkipReason::NotIp(NotIp::EtherType(ether_type_of(sliced))),
        }),
    }
}

/// Decode one captured packet.
pub fn decode_packet(link: LinkType, data: &[u8]) -> Result<Segment<'_>, SkipReason> {
    let sliced = match link::network_layer(link, data)? {
        link::Network::Ethernet(frame) => {
            LaxSlicedPacket::from_ethernet(frame).map_err(|_| SkipReason::TruncatedLinkHeader)?
        }
        link::Network::EtherType(t, rest) => {
            LaxSlicedPacket::from_ether_type(etherparse::EtherType(t), rest)
        }
        link::Network::Ip(rest) => LaxSlicedPacket::from_ip(rest)
            .map_err(|e| SkipReason::BadIpHeader(IpHeaderError::AtStart(e)))?,
    };
    let Ip {
        src: src_ip,
        dst: dst_ip,
        start: ip_start,
        declared_len: declared_ip_len,
        fragmented,
        proto,
    } = ip_of(&sliced, data)?;
    if fragmented {
        return Err(SkipReason::IpFragment);
    }
    let tcp = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp,
        Some(_) => return Err(SkipReason::NotTcp(proto)),
        None if proto != 6 => return Err(SkipReason::NotTcp(proto)),
        None => {
            let why = sliced.stop_err.as_ref().map(|(e, _)| e.clone());
            return Err(SkipReason::TruncatedTcpHeader(why));
        }
    };
    let payload = tcp.payload();
    // Bytes the IP header promises but the capture does not hold (snap length). A zero IPv4
    // total length (segmentation offload) makes etherparse fall back to the slice: nothing missing.
    let missing = (ip_start + declared_ip_len).saturating_sub(data.len());
    let missing = if declared_ip_len == 0 { 0 } else { missing };
    Ok(Segment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        ack_flag: tcp.ack(),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload,
        orig_payload_len: payload.len() + missing,
        facts: facts::wire_facts(&sliced, tcp, missing == 0),
    })
}

fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

fn ether_type_of(p: &LaxSlicedPacket<'_>) -> Option<u16> {
    match &p.link {
        Some(etherparse::LinkSlice::Ethernet2(e)) => Some(e.ether_type().0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    #[test]
    fn ethernet_ipv4_tcp() {
        let pkt = tcp_packet_v4(b"hello");
        let seg = decode_packet(LinkType::ETHERNET, &pkt).unwrap();
        assert_eq!(seg.src, "127.0.0.1:1234".parse().unwrap());
        assert_eq!(seg.dst, "127.0.0.2:80".parse().unwrap());
        assert_eq!(seg.seq, 1000);
        assert_eq!(seg.payload, b"hello");
        assert_eq!(seg.orig_payload_len, 5);
    }

    fn tcp_packet_v4(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64)
            .tcp(1234, 80, 1000, 65535)
            .ack(5)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    #[test]
    fn snaplen_cut_is_counted_as_missing() {
        let pkt = tcp_packet_v4(&[7u8; 100]);
        let cut = &pkt[..pkt.len() - 60];
        let seg = decode_packet(LinkType::ETHERNET, cut).unwrap();
        assert_eq!(seg.payload.len(), 40);
        assert_eq!(seg.orig_payload_len, 100);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut pkt = tcp_packet_v4(b"");
        pkt.extend_from_slice(&[0; 6]);
        assert_eq!(
            decode_packet(LinkType::ETHERNET, &pkt).unwrap().payload,
            b""
        );
    }

    #[test]
    fn vlan_qinq_ipv6() {
        // Ethernet, 802.1ad outer tag, 802.1Q inner tag, then IPv6.
        let mut pkt = vec![
            2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14,
            0x86, 0xdd,
        ];
        PacketBuilder::ipv6([0; 16], [1; 16], 64)
            .tcp(5555, 9443, 1, 100)
            .write(&mut pkt, b"x")
            .unwrap();
        let seg = decode_packet(LinkType::ETHERNET, &pkt).unwrap();
        assert_eq!(seg.dst.port(), 9443);
        assert!(seg.dst.is_ipv6());
    }

    #[test]
    fn raw_ip_and_loopback_headers() {
        let pkt = tcp_packet_v4(b"abc");
        let ip = &pkt[14..];
        assert_eq!(decode_packet(LinkType::RAW, ip).unwrap().payload, b"abc");
        let mut null = 2u32.to_ne_bytes().to_vec();
        null.extend_from_slice(ip);
        assert_eq!(
            decode_packet(LinkType::NULL, &null).unwrap().payload,
            b"abc"
        );
        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend_from_slice(ip);
        assert_eq!(decode_packet(LinkType::LOOP, &lo).unwrap().payload, b"abc");
    }

    #[test]
    fn linux_sll_and_sll2() {
        let pkt = tcp_packet_v4(b"abc");
        let ip = &pkt[14..];
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(ip);
        assert_eq!(
            decode_packet(LinkType::LINUX_SLL, &sll).unwrap().payload,
            b"abc"
        );
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend_from_slice(ip);
        assert_eq!(
            decode_packet(LinkType::LINUX_SLL2, &sll2).unwrap().payload,
            b"abc"
        );
    }

    #[test]
    fn garbage_is_a_reason_not_a_panic() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37) as u8).collect();
            for lt in [
                LinkType::ETHERNET,
                LinkType::RAW,
                LinkType::NULL,
                LinkType::LINUX_SLL,
                LinkType::LINUX_SLL2,
                LinkType(999),
            ] {
                let _ = decode_packet(lt, &junk);
            }
        }
        assert_eq!(
            decode_packet(LinkType(999), b"x"),
            Err(SkipReason::UnsupportedLinkType(999))
        );
    }

    #[test]
    fn skip_reasons_are_values_that_print_the_same_words() {
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        let r = decode_packet(LinkType::ETHERNET, &arp).unwrap_err();
        assert_eq!(r, SkipReason::NotIp(NotIp::Arp));
        assert_eq!(r.to_string(), "not IP (ARP)");
        let mut lldp = arp.clone();
        lldp[12..14].copy_from_slice(&[0x88, 0xcc]);
        let r = decode_packet(LinkType::ETHERNET, &lldp).unwrap_err();
        assert_eq!(r.to_string(), "not IP (ether type 0x88cc)");
        let mut null = 99u32.to_le_bytes().to_vec();
        null.extend_from_slice(&[0; 20]);
        let r = decode_packet(LinkType::NULL, &null).unwrap_err();
        assert_eq!(r, SkipReason::NotIp(NotIp::AddressFamily(99)));
        let r = decode_packet(LinkType::RAW, &[0x45, 0, 0, 20]).unwrap_err();
        assert!(
            matches!(r, SkipReason::BadIpHeader(IpHeaderError::AtStart(_))),
            "{r:?}"
        );
        assert!(r.to_string().starts_with("bad IP header: "));
    }
}
