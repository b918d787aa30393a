//! The leaves every layer shares: who and when (connection, stream, direction, packet,
//! timestamp), the link type a packet was captured with, and the rule registry with the
//! `Diagnostic` that reports a broken rule. Imports nothing from the crate.

pub mod recycle;
pub mod rules;

use std::fmt;

pub use rules::{Diagnostic, Rule, Severity};

/// Connection id: numbered from 1 in the order of each TCP connection's first packet, counting
/// every TCP connection (so `conn - 1` is usually Wireshark's `tcp.stream`). 0 means the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Capture timestamp in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

/// Which packet of the capture (1-based, like Wireshark's frame numbers) and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PacketRef {
    pub number: u64,
    pub ts: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c2s",
            Direction::ServerToClient => "s2c",
        }
    }
    /// Who sends in this direction: "client" or "server".
    pub fn sender(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client",
            Direction::ServerToClient => "server",
        }
    }
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToServer => "→",
            Direction::ServerToClient => "←",
        }
    }
    pub fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }
    pub fn from_index(i: usize) -> Direction {
        if i == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    }
}

/// An HTTP/2 stream id (RFC 9113 §5.1.1): names one WebSocket session among the many an HTTP/2
/// connection can carry (RFC 8441). HTTP/1.1 sessions have none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(pub u32);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A pcap/pcapng link type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in the capturing host's byte order (macOS `lo0`).
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP; 12 and 14 are the values some BSDs used before 101 was assigned.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// `tcpdump -i any -y LINUX_SLL`.
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    /// `tcpdump -i any` since libpcap 1.10.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// Ethernet frames with their FCS, each behind a 4-byte netANALYZER header.
    pub const NETANALYZER: LinkType = LinkType(240);
    /// The same with each frame's preamble and start frame delimiter.
    pub const NETANALYZER_TRANSPARENT: LinkType = LinkType(241);

    /// Set in a pcap header's link type field when bits 28-31 give the FCS length (libpcap's
    /// `LT_FCS_DATALINK_EXT`): pcap-savefile(5).
    const FCS_PRESENT: u32 = 0x0400_0000;

    /// The link-layer header type alone, without the FCS length a pcap header may carry in
    /// its upper bits.
    pub fn base(self) -> LinkType {
        LinkType(self.0 & 0xffff)
    }

    /// How many bytes of Frame Check Sequence end each packet, when the capture says so: the
    /// pcap header's FCS bits (in 16-bit words), a pcapng `if_fcslen` (see
    /// [`LinkType::with_fcs`]), or a link type that always carries one (netANALYZER).
    pub fn fcs_len(self) -> Option<usize> {
        if self.base() == LinkType::NETANALYZER || self.base() == LinkType::NETANALYZER_TRANSPARENT
        {
            return Some(4);
        }
        let words = (self.0 >> 28) as usize;
        (self.0 & LinkType::FCS_PRESENT != 0 && words > 0).then_some(words * 2)
    }

    /// This link type with `bytes` of FCS at the end of each packet, written as libpcap writes
    /// it in a pcap header (a whole number of 16-bit words, up to 30 bytes).
    pub fn with_fcs(self, bytes: usize) -> LinkType {
        let words = (bytes / 2).min(15) as u32;
        if words == 0 {
            return self.base();
        }
        LinkType(self.base().0 | LinkType::FCS_PRESENT | (words << 28))
    }

    pub fn name(self) -> String {
        let always = [LinkType::NETANALYZER, LinkType::NETANALYZER_TRANSPARENT];
        if let (Some(n), false) = (self.fcs_len(), always.contains(&self.base())) {
            return format!("{} with {n}-byte FCS", self.base().name());
        }
        match self.0 {
            0 => "NULL".into(),
            1 => "ETHERNET".into(),
            12 | 14 | 101 => "RAW".into(),
            108 => "LOOP".into(),
            113 => "LINUX_SLL".into(),
            228 => "IPV4".into(),
            229 => "IPV6".into(),
            240 => "NETANALYZER".into(),
            241 => "NETANALYZER_TRANSPARENT".into(),
            276 => "LINUX_SLL2".into(),
            n => format!("LINKTYPE {n}"),
        }
    }
}
