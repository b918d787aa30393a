//! `-w FILE`: the packets of a live capture written to a classic pcap file (microsecond
//! timestamps), with every write error returned. libpcap's `pcap_dump` cannot report one (a
//! full disk gave an empty file and exit 0), and the `pcap` crate's savefile panics on a path
//! that is not UTF-8; this writer has neither problem.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::base::LinkType;

/// pcap magic number for microsecond timestamps, written in this machine's byte order.
const MAGIC_MICROSECONDS: u32 = 0xa1b2_c3d4;

/// A pcap file being written.
pub struct PcapWriter {
    out: BufWriter<File>,
}

impl PcapWriter {
    /// Create `path` and write the file header. The header goes to the file at once, so a
    /// file that cannot be written (a full disk, `/dev/full`) fails here, before any capture.
    pub fn create(path: &Path, link: LinkType, snaplen: u32) -> io::Result<PcapWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(&file_header(link, snaplen))?;
        out.flush()?;
        Ok(PcapWriter { out })
    }

    /// One packet record: `data` as captured, `orig_len` its length on the wire.
    pub fn write(
        &mut self,
        ts_sec: u32,
        ts_usec: u32,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&ts_sec.to_ne_bytes());
        header[4..8].copy_from_slice(&ts_usec.to_ne_bytes());
        // A captured packet is never longer than the snapshot length, which fits u32.
        let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        header[8..12].copy_from_slice(&caplen.to_ne_bytes());
        header[12..16].copy_from_slice(&orig_len.to_ne_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(data)
    }

    /// Everything written so far reaches the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The 24-byte pcap file header (version 2.4, no time zone offset).
fn file_header(link: LinkType, snaplen: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&MAGIC_MICROSECONDS.to_ne_bytes());
    h[4..6].copy_from_slice(&2u16.to_ne_bytes());
    h[6..8].copy_from_slice(&4u16.to_ne_bytes());
    h[16..20].copy_from_slice(&snaplen.to_ne_bytes());
    h[20..24].copy_from_slice(&link.0.to_ne_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::file::FileSource;
    use crate::capture::PacketSource;

    #[test]
    fn a_written_file_reads_back() {
        let dir = std::env::temp_dir().join(format!("wsd-savefile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.pcap");
        let mut w = PcapWriter::create(&path, LinkType(1), 262_144).unwrap();
        w.write(1_700_000_000, 250_000, &[0xaa; 60], 1500).unwrap();
        w.write(1_700_000_001, 5, &[0xbb; 14], 14).unwrap();
        w.flush().unwrap();
        drop(w);
        let mut src = FileSource::open(&path).unwrap();
        let mut seen = Vec::new();
        while src
            .next_packet(&mut |p| seen.push((p.ts.0, p.data.to_vec(), p.orig_len, p.link)))
            .unwrap()
        {}
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            seen,
            [
                (1_700_000_000_250_000_000, vec![0xaa; 60], 1500, LinkType(1)),
                (1_700_000_001_000_005_000, vec![0xbb; 14], 14, LinkType(1)),
            ]
        );
    }

    #[test]
    fn a_full_device_fails_at_creation() {
        let Err(e) = PcapWriter::create(Path::new("/dev/full"), LinkType(1), 65535) else {
            panic!("writing to /dev/full succeeded");
        };
        assert_eq!(e.raw_os_error(), Some(28), "{e}"); // ENOSPC
    }
}
