//! (c) The whole pipeline over arbitrary bytes taken as a capture file (pcap or pcapng):
//! `FileSource::from_reader` → `wsdissect::dissect` → `Collect`, then both output sinks.
//! Input: `[flags] [capture bytes...]`; flags pick the dissect config and the read chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect_fuzz::{chunk_from, run_capture};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, capture)) = data.split_first() else {
        return;
    };
    run_capture(capture.to_vec(), chunk_from(flags), flags);
});
