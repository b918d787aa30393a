//! Link-layer headers, by pcap LINKTYPE (https://www.tcpdump.org/linktypes.html): where the
//! network layer starts, after any number of VLAN tags and before any trailing FCS.

use super::{NotIp, SkipReason};
use crate::base::LinkType;

/// Where the network layer starts, and how to recognise it.
pub enum Network<'a> {
    EtherType {
        ether_type: u16,
        payload: &'a [u8],
        /// The type was read from an Ethernet header, so a skipped packet can name it.
        named: bool,
    },
    Ip(&'a [u8]),
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q customer tag, 802.1ad service tag (QinQ), and the pre-standard QinQ type that
/// etherparse and Wireshark also take as a tag.
const VLAN_TAGS: [u16; 3] = [0x8100, 0x88a8, 0x9100];
const ETHERNET_HEADER: usize = 14;
/// netANALYZER's own header before the Ethernet frame (Wireshark packet-netanalyzer.c);
/// LINKTYPE_NETANALYZER_TRANSPARENT (241) has the preamble and SFD between them.
const NETANALYZER_HEADER: usize = 4;

/// `cut` is how many bytes the snap length removed from the end of the packet: a trailing
/// FCS is stripped only as far as it was captured.
pub fn network_layer(link: LinkType, data: &[u8], cut: usize) -> Result<Network<'_>, SkipReason> {
    let need = |n: usize| {
        if data.len() < n {
            Err(SkipReason::TruncatedLinkHeader)
        } else {
            Ok(())
        }
    };
    match link.base().0 {
        1 => ethernet(without_fcs(link, data, cut)?),
        240 => {
            need(NETANALYZER_HEADER)?;
            netanalyzer_frame(&data[..NETANALYZER_HEADER])?;
            ethernet(without_fcs(link, &data[NETANALYZER_HEADER..], cut)?)
        }
        241 => {
            need(NETANALYZER_HEADER)?;
            netanalyzer_frame(&data[..NETANALYZER_HEADER])?;
            let frame = after_preamble(&data[NETANALYZER_HEADER..])?;
            ethernet(without_fcs(link, frame, cut)?)
        }
        12 | 14 | 101 | 228 | 229 => Ok(Network::Ip(data)),
        0 | 108 => {
            need(4)?;
            let raw = [data[0], data[1], data[2], data[3]];
            // NULL is host byte order of the *capturing* machine: accept either.
            let family = if link.base().0 == 108 {
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
                2 => Ok(unnamed(ETHERTYPE_IPV4, &data[4..])),
                10 | 24 | 28 | 30 => Ok(unnamed(ETHERTYPE_IPV6, &data[4..])),
                other => Err(SkipReason::NotIp(NotIp::AddressFamily(other))),
            }
        }
        113 => {
            need(16)?;
            let proto = u16::from_be_bytes([data[14], data[15]]);
            skip_vlan_tags(proto, &data[16..], false)
        }
        276 => {
            need(20)?;
            let proto = u16::from_be_bytes([data[0], data[1]]);
            skip_vlan_tags(proto, &data[20..], false)
        }
        other => Err(SkipReason::UnsupportedLinkType(other)),
    }
}

fn unnamed(ether_type: u16, payload: &[u8]) -> Network<'_> {
    Network::EtherType {
        ether_type,
        payload,
        named: false,
    }
}

/// A netANALYZER header (32 bits, little-endian) that announces an Ethernet frame: not a GPIO
/// event (bit 8), and header version 1, or 2 with type 0 (bits 10-13 and 28-31). The low byte
/// flags receive errors; the FCS check finds the frames that matter.
fn netanalyzer_frame(header: &[u8]) -> Result<(), SkipReason> {
    let h = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let gpio = h & 0x100 != 0;
    let version = (h >> 10) & 0xf;
    let kind = h >> 28;
    if gpio || !(version == 1 || (version == 2 && kind == 0)) {
        return Err(SkipReason::NotIp(NotIp::EtherType(None)));
    }
    Ok(())
}

/// The frame after its preamble (0x55 bytes; 7 normally, netANALYZER flags other lengths) and
/// start frame delimiter (0xd5), as netANALYZER's transparent mode records them.
fn after_preamble(raw: &[u8]) -> Result<&[u8], SkipReason> {
    let preamble = raw.iter().take_while(|&&b| b == 0x55).count();
    match raw.get(preamble) {
        Some(0xd5) => Ok(&raw[preamble + 1..]),
        _ => Err(SkipReason::TruncatedLinkHeader),
    }
}

/// An Ethernet II frame (without its FCS).
fn ethernet(frame: &[u8]) -> Result<Network<'_>, SkipReason> {
    if frame.len() < ETHERNET_HEADER {
        return Err(SkipReason::TruncatedLinkHeader);
    }
    let ether_type = u16::from_be_bytes([frame[12], frame[13]]);
    skip_vlan_tags(ether_type, &frame[ETHERNET_HEADER..], true)
}

/// Every VLAN tag, however many are stacked (etherparse stops after three): each is two bytes
/// of tag control information and the next EtherType.
fn skip_vlan_tags(
    mut ether_type: u16,
    mut payload: &[u8],
    named: bool,
) -> Result<Network<'_>, SkipReason> {
    while VLAN_TAGS.contains(&ether_type) {
        let [_, _, hi, lo, ..] = *payload else {
            return Err(SkipReason::TruncatedLinkHeader);
        };
        ether_type = u16::from_be_bytes([hi, lo]);
        payload = &payload[4..];
    }
    Ok(Network::EtherType {
        ether_type,
        payload,
        named,
    })
}

/// The frame without the FCS the link type says it ends with, checked when whole.
fn without_fcs(link: LinkType, frame: &[u8], cut: usize) -> Result<&[u8], SkipReason> {
    let Some(fcs_len) = link.fcs_len() else {
        return Ok(frame);
    };
    let captured_fcs = fcs_len.saturating_sub(cut).min(frame.len());
    let (body, fcs) = frame.split_at(frame.len() - captured_fcs);
    if fcs.len() == 4 && fcs_len == 4 && crc32(body).to_le_bytes() != fcs {
        return Err(SkipReason::BadFcs);
    }
    Ok(body)
}

/// The Ethernet FCS: CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), sent least
/// significant byte first.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The CRC-32/ISO-HDLC check value of "123456789".
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn fcs_length_from_the_link_type() {
        assert_eq!(LinkType::ETHERNET.fcs_len(), None);
        // libpcap's LT_FCS_DATALINK_EXT(2) | DLT_EN10MB: a 4-byte FCS.
        let with = LinkType(0x2400_0001);
        assert_eq!(with.fcs_len(), Some(4));
        assert_eq!(with.base(), LinkType::ETHERNET);
        assert_eq!(LinkType::ETHERNET.with_fcs(4), with);
        assert_eq!(LinkType::ETHERNET.with_fcs(0), LinkType::ETHERNET);
        assert_eq!(with.name(), "ETHERNET with 4-byte FCS");
        // The length bits without the "present" bit mean nothing.
        assert_eq!(LinkType(0x2000_0001).fcs_len(), None);
        assert_eq!(LinkType::NETANALYZER.fcs_len(), Some(4));
    }

    #[test]
    fn a_cut_fcs_is_stripped_as_far_as_it_was_captured() {
        let link = LinkType::ETHERNET.with_fcs(4);
        let mut frame = vec![7u8; 20];
        let fcs = crc32(&frame).to_le_bytes();
        frame.extend_from_slice(&fcs);
        assert_eq!(without_fcs(link, &frame, 0).unwrap().len(), 20);
        assert_eq!(without_fcs(link, &frame[..22], 2).unwrap().len(), 20);
        assert_eq!(without_fcs(link, &frame[..18], 6).unwrap().len(), 18);
        frame[0] ^= 1;
        assert_eq!(without_fcs(link, &frame, 0), Err(SkipReason::BadFcs));
    }
}
