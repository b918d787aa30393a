//! Link-layer headers, by pcap LINKTYPE (https://www.tcpdump.org/linktypes.html).

use super::{NotIp, SkipReason};
use crate::base::LinkType;

/// Where the network layer starts, and how to recognise it.
pub enum Network<'a> {
    Ethernet(&'a [u8]),
    EtherType(u16, &'a [u8]),
    Ip(&'a [u8]),
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

pub fn network_layer(link: LinkType, data: &[u8]) -> Result<Network<'_>, SkipReason> {
    let need = |n: usize| {
        if data.len() < n {
            Err(SkipReason::TruncatedLinkHeader)
        } else {
            Ok(())
        }
    };
    match link.0 {
        1 => Ok(Network::Ethernet(data)),
        12 | 14 | 101 | 228 | 229 => Ok(Network::Ip(data)),
        0 | 108 => {
            need(4)?;
            let raw = [data[0], data[1], data[2], data[3]];
            // NULL is host byte order of the *capturing* machine: accept either.
            let family = if link.0 == 108 {
                u32::from_be_bytes(raw)
            } else {
                u32::from_ne_bytes(raw)
            };
            let family = if family > 0xffff {
                family.swap_bytes()
            } else {
                family
            };
            match family {
                // AF_INET; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
                2 => Ok(Network::EtherType(ETHERTYPE_IPV4, &data[4..])),
                10 | 24 | 28 | 30 => Ok(Network::EtherType(ETHERTYPE_IPV6, &data[4..])),
                other => Err(SkipReason::NotIp(NotIp::AddressFamily(other))),
            }
        }
        113 => {
            need(16)?;
            let proto = u16::from_be_bytes([data[14], data[15]]);
            Ok(Network::EtherType(proto, &data[16..]))
        }
        276 => {
            need(20)?;
            let proto = u16::from_be_bytes([data[0], data[1]]);
            Ok(Network::EtherType(proto, &data[20..]))
        }
        other => Err(SkipReason::UnsupportedLinkType(other)),
    }
}
