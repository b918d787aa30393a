//! The packet decoder's fast path (`net/fast.rs`) against the general path (etherparse):
//! wherever the fast path decodes a packet, the general path must give the same segment,
//! field for field (addresses, flags, payload, checksums, TTL, urgent pointer, Fast Open).
//!
//! Input: `[link][packet…]`: bit 0 of the first byte picks Ethernet or raw IP.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::base::LinkType;
use wsdissect::net::{decode_packet_general, fast_segment};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, packet)) = data.split_first() else {
        return;
    };
    let link = if mode & 1 == 0 {
        LinkType::ETHERNET
    } else {
        LinkType::RAW
    };
    if let Some(fast) = fast_segment(link, packet) {
        assert_eq!(Ok(fast), decode_packet_general(link, packet));
    }
});
