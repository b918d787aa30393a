//! Link, IP and TCP decoding: a captured packet in, a TCP `Segment` or the reason it is not one
//! out. Link headers etherparse does not know (Linux SLL2, BSD NULL/LOOP, netANALYZER), any
//! depth of VLAN tags and a trailing FCS are read here; the rest (Ethernet, SLL, IPv4, IPv6
//! and its extension headers, TCP) is etherparse. IP fragments are reassembled by [`Decoder`]
//! (see `frag`); [`decode_packet`] alone skips them.

mod facts;
mod fast;
pub mod frag;
mod link;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::base::{Diagnostic, LinkType, PacketRef};
use frag::{FragKey, FragLimits, Fragment, Layout, Reassembler};

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
    /// A fragment [`decode_packet`] does not reassemble ([`Decoder`] does, unless its IPv6
    /// Fragment header cannot be found or a reassembled datagram is a fragment again).
    IpFragment,
    /// A fragment cut short by the snap length: its bytes cannot be reassembled.
    IpFragmentCut,
    /// The Ethernet FCS does not match the frame: the receiving NIC drops such a frame.
    BadFcs,
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
            SkipReason::IpFragment => f.write_str("IP fragment that could not be reassembled"),
            SkipReason::IpFragmentCut => {
                f.write_str("IP fragment cut short by the snap length (not reassembled)")
            }
            SkipReason::BadFcs => {
                f.write_str("Ethernet FCS does not match (a receiving NIC drops the frame)")
            }
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
struct Ip<'a> {
    src: IpAddr,
    dst: IpAddr,
    start: usize,
    /// The length the header declares for the whole IP packet.
    declared_len: usize,
    proto: u8,
    /// Set when the payload is one fragment of a bigger datagram.
    fragment: Option<Fragment<'a>>,
}

/// IP protocol numbers: TCP, and the IPv6 extension headers that may come between a Fragment
/// header and TCP (routing, destination options, authentication).
const TCP: u8 = 6;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_BEFORE_TCP: [u8; 4] = [TCP, 43, 60, 51];

fn ip_of<'a>(
    sliced: &LaxSlicedPacket<'a>,
    data: &'a [u8],
    ether_type: Option<u16>,
) -> Result<Ip<'a>, SkipReason> {
    match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let start = offset_in(data, h.slice());
            // Borrowed from `data`: etherparse lends the header only as long as `sliced`.
            let header = &data[start..start + h.slice().len()];
            let payload = v4.payload();
            let src: IpAddr = h.source_addr().into();
            let dst: IpAddr = h.destination_addr().into();
            let proto = payload.ip_number.0;
            let fragment = v4.is_payload_fragmented().then(|| Fragment {
                key: FragKey {
                    src,
                    dst,
                    id: u32::from(h.identification()),
                    proto: Some(proto),
                },
                offset: u32::from(h.fragments_offset().byte_offset()),
                more: h.more_fragments(),
                header,
                layout: Layout::V4,
                data: payload.payload,
            });
            Ok(Ip {
                src,
                dst,
                start,
                declared_len: usize::from(h.total_len()),
                proto,
                fragment,
            })
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let start = offset_in(data, h.slice());
            let declared_len = 40 + usize::from(h.payload_length());
            let src: IpAddr = h.source_addr().into();
            let dst: IpAddr = h.destination_addr().into();
            let fragment = if v6.is_payload_fragmented() {
                let packet = &data[start..(start + declared_len).min(data.len())];
                Some(ipv6_fragment(packet, src, dst).ok_or(SkipReason::IpFragment)?)
            } else {
                None
            };
            let proto = match &fragment {
                Some(Fragment {
                    layout: Layout::V6 { next_header, .. },
                    ..
                }) => *next_header,
                _ => v6.payload().ip_number.0,
            };
            Ok(Ip {
                src,
                dst,
                start,
                declared_len,
                proto,
                fragment,
            })
        }
        Some(LaxNetSlice::Arp(_)) => Err(SkipReason::NotIp(NotIp::Arp)),
        None => Err(match &sliced.stop_err {
            Some((e, _)) => SkipReason::BadIpHeader(IpHeaderError::InFrame(e.clone())),
            None => SkipReason::NotIp(NotIp::EtherType(ether_type)),
        }),
    }
}

/// The Fragment header of an IPv6 packet (RFC 8200 §4.5), found after the extension headers
/// that precede it (hop-by-hop, routing, destination options, authentication), as the kernel
/// meets them in turn. etherparse would go on parsing the fragment's data as headers.
fn ipv6_fragment(packet: &[u8], src: IpAddr, dst: IpAddr) -> Option<Fragment<'_>> {
    let mut next_header_at = 6;
    let mut at = 40;
    loop {
        let next = *packet.get(next_header_at)?;
        let len = match next {
            IPV6_FRAGMENT => break,
            0 | 43 | 60 => (usize::from(*packet.get(at + 1)?) + 1) * 8,
            51 => (usize::from(*packet.get(at + 1)?) + 2) * 4,
            _ => return None,
        };
        next_header_at = at;
        at += len;
    }
    let fh = packet.get(at..at + 8)?;
    let offset_and_flags = u16::from_be_bytes([fh[2], fh[3]]);
    Some(Fragment {
        key: FragKey {
            src,
            dst,
            id: u32::from_be_bytes([fh[4], fh[5], fh[6], fh[7]]),
            proto: None,
        },
        offset: u32::from(offset_and_flags & !7),
        more: offset_and_flags & 1 == 1,
        header: &packet[..at],
        layout: Layout::V6 {
            next_header_at,
            next_header: fh[0],
        },
        data: &packet[at + 8..],
    })
}

/// A packet taken apart: a TCP segment, or a fragment of a datagram that may carry one.
enum Parsed<'a> {
    Segment(Segment<'a>),
    Fragment(Fragment<'a>),
}

/// Decode one captured packet. Fragments are skipped: [`Decoder`] reassembles them.
pub fn decode_packet(link: LinkType, data: &[u8]) -> Result<Segment<'_>, SkipReason> {
    match parse(link, data, 0)? {
        Parsed::Segment(seg) => Ok(seg),
        Parsed::Fragment(_) => Err(SkipReason::IpFragment),
    }
}

/// Decodes packets in capture order, reassembling IP fragments on the way.
pub struct Decoder {
    frags: Reassembler,
    /// The last datagram reassembled, which the segment it carries borrows.
    datagram: Vec<u8>,
}

impl Decoder {
    pub fn new(limits: FragLimits) -> Decoder {
        Decoder {
            frags: Reassembler::new(limits),
            datagram: Vec::new(),
        }
    }

    /// Decode one packet (`orig_len` is its length on the wire). `Ok(None)`: a fragment was
    /// taken in, or dropped with a diagnostic in `notes`, and no datagram completed.
    pub fn decode<'a>(
        &'a mut self,
        link: LinkType,
        data: &'a [u8],
        orig_len: u32,
        packet: PacketRef,
        notes: &mut Vec<Diagnostic>,
    ) -> Result<Option<Segment<'a>>, SkipReason> {
        self.frags.tick(packet.ts, notes);
        let cut = (orig_len as usize).saturating_sub(data.len());
        let frag = match parse(link, data, cut)? {
            Parsed::Segment(seg) => return Ok(Some(seg)),
            Parsed::Fragment(frag) => frag,
        };
        let Some(datagram) = self.frags.push(&frag, packet, notes) else {
            return Ok(None);
        };
        self.datagram = datagram;
        decode_packet(LinkType::RAW, &self.datagram).map(Some)
    }

    /// End of the capture: the datagrams still incomplete are reported.
    pub fn finish(&mut self, notes: &mut Vec<Diagnostic>) {
        self.frags.finish(notes);
    }
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new(FragLimits::default())
    }
}

/// Take a packet apart; `cut` is how many bytes the snap length removed from its end.
fn parse(link: LinkType, data: &[u8], cut: usize) -> Result<Parsed<'_>, SkipReason> {
    let network = link::network_layer(link, data, cut)?;
    if let Some(seg) = fast_path(&network) {
        return Ok(Parsed::Segment(seg));
    }
    parse_general(data, network)
}

/// The usual packet, decoded without etherparse's general slicing (see `fast`).
fn fast_path<'a>(network: &link::Network<'a>) -> Option<Segment<'a>> {
    match *network {
        link::Network::EtherType {
            ether_type,
            payload,
            ..
        } => fast::segment(Some(ether_type), payload),
        link::Network::Ip(ip) => fast::segment(None, ip),
    }
}

/// What the fast path makes of a packet (None: it leaves the packet to the general path).
/// For the tests and the fuzz target that compare the two paths.
#[doc(hidden)]
pub fn fast_segment(link: LinkType, data: &[u8]) -> Option<Segment<'_>> {
    fast_path(&link::network_layer(link, data, 0).ok()?)
}

/// [`decode_packet`] without the fast path. For the tests and the fuzz target that compare
/// the two paths.
#[doc(hidden)]
pub fn decode_packet_general(link: LinkType, data: &[u8]) -> Result<Segment<'_>, SkipReason> {
    match parse_general(data, link::network_layer(link, data, 0)?)? {
        Parsed::Segment(seg) => Ok(seg),
        Parsed::Fragment(_) => Err(SkipReason::IpFragment),
    }
}

/// Take a packet apart with etherparse: any packet the fast path leaves.
fn parse_general<'a>(data: &'a [u8], network: link::Network<'a>) -> Result<Parsed<'a>, SkipReason> {
    let (sliced, ether_type) = match network {
        link::Network::EtherType {
            ether_type,
            payload,
            named,
        } => (
            LaxSlicedPacket::from_ether_type(etherparse::EtherType(ether_type), payload),
            named.then_some(ether_type),
        ),
        link::Network::Ip(rest) => (
            LaxSlicedPacket::from_ip(rest)
                .map_err(|e| SkipReason::BadIpHeader(IpHeaderError::AtStart(e)))?,
            None,
        ),
    };
    let ip = ip_of(&sliced, data, ether_type)?;
    if let Some(frag) = ip.fragment {
        return fragment_to_keep(frag, ip.proto, ip.start + ip.declared_len <= data.len());
    }
    let tcp = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp,
        Some(_) => return Err(SkipReason::NotTcp(ip.proto)),
        None if ip.proto != TCP => return Err(SkipReason::NotTcp(ip.proto)),
        None => {
            let why = sliced.stop_err.as_ref().map(|(e, _)| e.clone());
            return Err(SkipReason::TruncatedTcpHeader(why));
        }
    };
    // Bytes the IP header promises but the capture does not hold (snap length). A zero IPv4
    // total length (segmentation offload) makes etherparse fall back to the slice: nothing missing.
    let missing = (ip.start + ip.declared_len).saturating_sub(data.len());
    let missing = if ip.declared_len == 0 { 0 } else { missing };
    let header = facts::IpHeader::of(&sliced);
    Ok(Parsed::Segment(segment_of(
        ip.src, ip.dst, header, tcp, missing,
    )))
}

/// The segment a TCP header and its payload make; `missing`: bytes the IP header promises
/// beyond those captured (then the checksum cannot be checked).
fn segment_of<'a>(
    src: IpAddr,
    dst: IpAddr,
    ip: Option<facts::IpHeader<'_>>,
    tcp: &etherparse::TcpSlice<'a>,
    missing: usize,
) -> Segment<'a> {
    let payload = tcp.payload();
    Segment {
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        ack_flag: tcp.ack(),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload,
        orig_payload_len: payload.len() + missing,
        facts: facts::wire_facts(ip, tcp, missing == 0),
    }
}

/// Only fragments that may carry TCP are reassembled, and only whole ones.
fn fragment_to_keep(frag: Fragment<'_>, proto: u8, whole: bool) -> Result<Parsed<'_>, SkipReason> {
    let may_be_tcp = match frag.layout {
        Layout::V4 => proto == TCP,
        Layout::V6 { .. } => IPV6_BEFORE_TCP.contains(&proto),
    };
    if !may_be_tcp {
        return Err(SkipReason::NotTcp(proto));
    }
    if !whole {
        return Err(SkipReason::IpFragmentCut);
    }
    Ok(Parsed::Fragment(frag))
}

fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
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

    /// An Ethernet/IPv4/TCP packet carrying `payload` (also for `fast`'s tests).
    pub(super) fn tcp_packet_v4(payload: &[u8]) -> Vec<u8> {
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

    /// The IPv4 packet of `tcp_packet_v4` cut into fragments of `size` bytes (a multiple of 8).
    fn ipv4_fragments(payload: &[u8], size: usize) -> Vec<Vec<u8>> {
        let pkt = tcp_packet_v4(payload);
        let (eth, ip) = pkt.split_at(14);
        let (header, data) = ip.split_at(20);
        data.chunks(size)
            .enumerate()
            .map(|(i, chunk)| {
                let mut h = header.to_vec();
                let more = (i + 1) * size < data.len();
                let field = ((i * size / 8) as u16) | if more { 0x2000 } else { 0 };
                h[2..4].copy_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
                h[6..8].copy_from_slice(&field.to_be_bytes());
                [eth, &h, chunk].concat()
            })
            .collect()
    }

    fn at(number: u64) -> PacketRef {
        PacketRef {
            number,
            ts: crate::base::Timestamp(number * 1_000_000),
        }
    }

    #[test]
    fn ipv4_fragments_give_the_whole_segment_in_any_order() {
        let payload: Vec<u8> = (0..100u8).collect();
        let frags = ipv4_fragments(&payload, 32);
        assert_eq!(frags.len(), 4);
        assert_eq!(
            decode_packet(LinkType::ETHERNET, &frags[0]),
            Err(SkipReason::IpFragment)
        );
        for order in [[0, 1, 2, 3], [3, 1, 0, 2]] {
            let mut d = Decoder::default();
            let mut notes = Vec::new();
            for (n, &i) in order.iter().enumerate() {
                let f = &frags[i];
                let out = d.decode(
                    LinkType::ETHERNET,
                    f,
                    f.len() as u32,
                    at(n as u64),
                    &mut notes,
                );
                if n < 3 {
                    assert_eq!(out, Ok(None));
                } else {
                    let seg = out.unwrap().unwrap();
                    assert_eq!(seg.payload, &payload[..]);
                    assert_eq!(seg.dst, "127.0.0.2:80".parse().unwrap());
                }
            }
            assert!(notes.is_empty(), "{notes:?}");
        }
    }

    #[test]
    fn ipv6_fragments_after_an_extension_header_reassemble() {
        let mut pkt = Vec::new();
        PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .tcp(5555, 9443, 1, 100)
            .write(&mut pkt, &[9u8; 60])
            .unwrap();
        let (ip, l4) = pkt.split_at(40);
        // IPv6 header → hop-by-hop (8 bytes of padding options) → Fragment → TCP.
        let fragment = |offset: usize, more: bool, data: &[u8]| {
            let mut h = ip.to_vec();
            h[6] = 0;
            h[4..6].copy_from_slice(&((8 + 8 + data.len()) as u16).to_be_bytes());
            let hop_by_hop = [44, 0, 1, 4, 0, 0, 0, 0];
            let field = (offset as u16) | u16::from(more);
            let mut frag = vec![6, 0];
            frag.extend_from_slice(&field.to_be_bytes());
            frag.extend_from_slice(&0xdead_beefu32.to_be_bytes());
            [&h[..], &hop_by_hop, &frag, data].concat()
        };
        let first = fragment(0, true, &l4[..48]);
        let second = fragment(48, false, &l4[48..]);
        let mut d = Decoder::default();
        let mut notes = Vec::new();
        let len = |p: &Vec<u8>| p.len() as u32;
        assert_eq!(
            d.decode(LinkType::RAW, &second, len(&second), at(1), &mut notes),
            Ok(None)
        );
        let seg = d
            .decode(LinkType::RAW, &first, len(&first), at(2), &mut notes)
            .unwrap()
            .unwrap();
        assert_eq!(seg.payload, &[9u8; 60]);
        assert_eq!(seg.dst.port(), 9443);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn an_ipv6_atomic_fragment_is_a_whole_packet() {
        // Offset 0 and M = 0 (RFC 6946): not fragmented at all, as Linux takes it.
        let mut pkt = Vec::new();
        PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .tcp(5555, 9443, 1, 100)
            .write(&mut pkt, b"atomic")
            .unwrap();
        let (ip, l4) = pkt.split_at(40);
        let mut h = ip.to_vec();
        h[6] = 44;
        h[4..6].copy_from_slice(&((8 + l4.len()) as u16).to_be_bytes());
        let frag = [6, 0, 0, 0, 0, 0, 0, 9];
        let atomic = [&h[..], &frag, l4].concat();
        let mut d = Decoder::default();
        let mut notes = Vec::new();
        let seg = d
            .decode(
                LinkType::RAW,
                &atomic,
                atomic.len() as u32,
                at(1),
                &mut notes,
            )
            .unwrap()
            .unwrap();
        assert_eq!(seg.payload, b"atomic");
        assert!(notes.is_empty());
    }

    #[test]
    fn fragments_of_other_protocols_and_cut_ones_are_skipped() {
        let frags = ipv4_fragments(&[1; 64], 32);
        let mut udp = frags[0].clone();
        udp[14 + 9] = 17;
        let mut d = Decoder::default();
        let mut notes = Vec::new();
        let r = d.decode(
            LinkType::ETHERNET,
            &udp,
            udp.len() as u32,
            at(1),
            &mut notes,
        );
        assert_eq!(r, Err(SkipReason::NotTcp(17)));
        let cut = &frags[0][..40];
        let r = d.decode(
            LinkType::ETHERNET,
            cut,
            frags[0].len() as u32,
            at(2),
            &mut notes,
        );
        assert_eq!(r, Err(SkipReason::IpFragmentCut));
    }

    #[test]
    fn any_number_of_vlan_tags() {
        for tags in [0, 1, 3, 4, 5, 12] {
            let pkt = tcp_packet_v4(b"tagged");
            let mut tagged = pkt[..12].to_vec();
            for i in 0..tags {
                let tpid: u16 = if i == 0 { 0x88a8 } else { 0x8100 };
                tagged.extend_from_slice(&tpid.to_be_bytes());
                tagged.extend_from_slice(&(100 + i as u16).to_be_bytes());
            }
            tagged.extend_from_slice(&pkt[12..]);
            let seg = decode_packet(LinkType::ETHERNET, &tagged).unwrap();
            assert_eq!(seg.payload, b"tagged", "{tags} tags");
        }
        // A tag cut short, and a stack of tags over ARP.
        let mut cut = vec![0u8; 12];
        cut.extend_from_slice(&[0x81, 0x00, 0, 1]);
        assert_eq!(
            decode_packet(LinkType::ETHERNET, &cut),
            Err(SkipReason::TruncatedLinkHeader)
        );
        let mut arp = vec![0u8; 12];
        for _ in 0..5 {
            arp.extend_from_slice(&[0x81, 0x00, 0, 1]);
        }
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert_eq!(
            decode_packet(LinkType::ETHERNET, &arp),
            Err(SkipReason::NotIp(NotIp::Arp))
        );
    }

    #[test]
    fn ethernet_fcs_is_stripped_and_checked() {
        let mut pkt = tcp_packet_v4(b"");
        // A zero IPv4 total length (offload) takes the rest of the frame as the packet, so the
        // FCS would become payload if it were not stripped.
        pkt[16..18].fill(0);
        pkt.extend_from_slice(b"data");
        let fcs = link_crc(&pkt);
        let mut framed = pkt.clone();
        framed.extend_from_slice(&fcs);
        let with_fcs = LinkType::ETHERNET.with_fcs(4);
        assert_eq!(decode_packet(with_fcs, &framed).unwrap().payload, b"data");
        // netANALYZER header: version 1, no error, the frame's length.
        let header = (1u32 << 10) | ((framed.len() as u32) << 16);
        let mut na = header.to_le_bytes().to_vec();
        na.extend_from_slice(&framed);
        assert_eq!(
            decode_packet(LinkType::NETANALYZER, &na).unwrap().payload,
            b"data"
        );
        // Transparent mode: the header says so (bit 9), then preamble and SFD.
        let mut tr = (header | 0x200).to_le_bytes().to_vec();
        tr.extend_from_slice(&[0x55; 7]);
        tr.push(0xd5);
        tr.extend_from_slice(&framed);
        let transparent = LinkType::NETANALYZER_TRANSPARENT;
        assert_eq!(decode_packet(transparent, &tr).unwrap().payload, b"data");
        na[1] |= 1; // a GPIO event, not a frame
        assert!(decode_packet(LinkType::NETANALYZER, &na).is_err());
        framed[20] ^= 0xff;
        assert_eq!(decode_packet(with_fcs, &framed), Err(SkipReason::BadFcs));
    }

    fn link_crc(frame: &[u8]) -> [u8; 4] {
        // A bitwise CRC-32, independent of the table in link.rs.
        let mut c = !0u32;
        for &b in frame {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        (!c).to_le_bytes()
    }
}
