//! (d) The whole pipeline over pcap files whose global header and record framing are always
//! valid: the fuzzer mutates the packets (link, IP, TCP headers, HTTP, WebSocket bytes), the
//! number of records, timestamps and original lengths. Seeded from samples/*.pcap (see
//! fuzz/README.md and `fuzz/make-seeds.py`). Input: `[link selector] [flags] [records...]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect_fuzz::{chunk_from, pcap_from_records, run_capture};

fuzz_target!(|data: &[u8]| {
    let Some((pcap, flags)) = pcap_from_records(data) else {
        return;
    };
    run_capture(pcap, chunk_from(flags), flags);
});
