//! (d) The whole pipeline over pcap files whose global header and record framing are always
//! valid: the fuzzer mutates the packets (link, IP, TCP headers, HTTP, WebSocket bytes), the
//! number of records, timestamps and original lengths. Seeded from samples/*.pcap (see
//! fuzz/README.md and `fuzz/make-seeds.py`). Input: `[link selector] [flags] [records...]`, with
//! `[key log len u16] [key log]` before the records when the selector has bit 0x40 (the run
//! then gets that key log as `--tls-keylog`; the samples/tls seeds carry theirs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect_fuzz::{chunk_from, pcap_from_records, run_capture_with_keys};

fuzz_target!(|data: &[u8]| {
    let Some((pcap, flags, keylog)) = pcap_from_records(data) else {
        return;
    };
    run_capture_with_keys(pcap, chunk_from(flags), flags, keylog);
});
