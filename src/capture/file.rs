//! pcap (micro- and nanosecond) and pcapng files, from a path or standard input.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::SecretsType;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{Block, PcapBlockOwned, PcapError};

use super::{CaptureError, PacketSource, RawPacket};
use crate::base::LinkType;
use crate::base::Timestamp;

/// Start with room for any normal packet (snap length 262144) and grow for bigger records.
const INITIAL_BUFFER: usize = 1 << 20;
/// A record bigger than this is taken as corruption, not allocated.
const MAX_RECORD: usize = 64 << 20;

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    units_per_sec: u64,
    offset_secs: i64,
}

/// A pcapng interface as declared. One whose `if_tsresol` is impossible is kept (its number
/// still counts) and is only an error when a packet uses it: a file whose packets are all on
/// other interfaces reads fine, as in Wireshark.
#[derive(Clone, Copy, Debug)]
enum Declared {
    Usable(Interface),
    BadResolution { tsresol: u8 },
}

/// pcapng `if_tsresol` (section 4.2): 10^-n seconds, or 2^-n with the top bit set; the
/// default (option absent) is 6. pcap-parser 0.17 rejects every power-of-two value, so it is
/// decoded here.
fn units_per_second(tsresol: u8) -> Option<u64> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}

pub struct FileSource {
    input: PathBuf,
    reader: Box<dyn PcapReaderIterator + Send>,
    capacity: usize,
    blocks: Blocks,
}

/// What the blocks read so far say about the ones to come: the pcap header's link type and
/// resolution, the pcapng section's interfaces, and the packet count and last timestamp.
#[derive(Default)]
struct Blocks {
    legacy: Option<Interface>,
    interfaces: Vec<Declared>,
    packets: u64,
    last_ts: Timestamp,
    /// TLS key log text from Decryption Secrets Blocks, not yet taken.
    secrets: Option<Vec<u8>>,
}

impl FileSource {
    /// Open a capture file; `-` reads standard input.
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        let input = path.to_path_buf();
        let read: Box<dyn Read + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin())
        } else {
            let file = File::open(path).map_err(|source| CaptureError::Open {
                input: input.clone(),
                source,
            })?;
            if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                return Err(CaptureError::Open {
                    input,
                    source: std::io::Error::other("is a directory"),
                });
            }
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        FileSource::from_reader(input, read)
    }

    pub fn from_reader(
        input: PathBuf,
        read: Box<dyn Read + Send>,
    ) -> Result<FileSource, CaptureError> {
        let reader = match pcap_parser::create_reader(INITIAL_BUFFER, read) {
            Ok(r) => r,
            Err(PcapError::Eof) => return Err(CaptureError::Empty { input }),
            Err(PcapError::ReadError) => {
                return Err(CaptureError::Read {
                    input,
                    detail: "cannot read".into(),
                })
            }
            Err(_) => return Err(CaptureError::NotACapture { input }),
        };
        Ok(FileSource {
            input,
            reader,
            capacity: INITIAL_BUFFER,
            blocks: Blocks::default(),
        })
    }

    fn corrupt(&self, detail: impl Into<String>) -> CaptureError {
        CaptureError::Corrupt {
            input: self.input.clone(),
            after_packets: self.blocks.packets,
            offset: self.reader.consumed() as u64,
            detail: detail.into(),
        }
    }

    fn truncated(&self) -> CaptureError {
        CaptureError::Truncated {
            input: self.input.clone(),
            after_packets: self.blocks.packets,
            offset: self.reader.consumed() as u64,
        }
    }

    fn read_error(&self) -> CaptureError {
        CaptureError::Read {
            input: self.input.clone(),
            detail: "cannot read".into(),
        }
    }

    /// Read more of the file into the buffer (the next block is cut at its end).
    fn refill(&mut self) -> Result<(), CaptureError> {
        if self.reader.refill().is_err() {
            return Err(self.read_error());
        }
        Ok(())
    }

    /// Make room for a block bigger than the buffer, up to `MAX_RECORD`, and fill it.
    fn grow(&mut self) -> Result<(), CaptureError> {
        if self.capacity >= MAX_RECORD {
            return Err(self.corrupt(format!("a record is larger than {} MiB", MAX_RECORD >> 20)));
        }
        self.capacity *= 4;
        if !self.reader.grow(self.capacity) {
            return Err(self.corrupt("cannot grow the read buffer"));
        }
        self.refill()
    }
}

impl Interface {
    fn timestamp(&self, raw: u64) -> Timestamp {
        let units = u128::from(self.units_per_sec.max(1));
        let nanos = u128::from(raw) * 1_000_000_000 / units;
        let offset = i128::from(self.offset_secs) * 1_000_000_000;
        Timestamp((nanos as i128 + offset).clamp(0, u64::MAX as i128) as u64)
    }
}

impl Blocks {
    /// Take in one block: headers and interface descriptions update the state, a packet goes
    /// to `on` (`Ok(true)`). `Err` says why the block cannot be right.
    fn take(
        &mut self,
        block: PcapBlockOwned<'_>,
        on: &mut dyn FnMut(&RawPacket<'_>),
    ) -> Result<bool, String> {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                let units = if h.is_nanosecond_precision() {
                    1_000_000_000
                } else {
                    1_000_000
                };
                self.legacy = Some(Interface {
                    link: LinkType(h.network.0 as u32),
                    units_per_sec: units,
                    offset_secs: 0,
                });
            }
            PcapBlockOwned::Legacy(b) => {
                let iface = self.legacy.ok_or("packet before the file header")?;
                let raw = u64::from(b.ts_sec) * iface.units_per_sec + u64::from(b.ts_usec);
                let data = &b.data[..(b.caplen as usize).min(b.data.len())];
                self.deliver(on, iface.link, Some(iface.timestamp(raw)), data, b.origlen);
                return Ok(true);
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => self.interfaces.clear(),
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                let declared = match units_per_second(idb.if_tsresol) {
                    Some(units_per_sec) => Declared::Usable(Interface {
                        link: with_if_fcslen(LinkType(idb.linktype.0 as u32), &idb.options),
                        units_per_sec,
                        offset_secs: idb.ts_offset(),
                    }),
                    None => Declared::BadResolution {
                        tsresol: idb.if_tsresol,
                    },
                };
                self.interfaces.push(declared);
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let iface = self.interface(epb.if_id as usize)?;
                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = Some(iface.timestamp(raw));
                self.deliver(on, iface.link, ts, epb.packet_data(), epb.origlen);
                return Ok(true);
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                if self.interfaces.is_empty() {
                    return Err("packet before any interface".into());
                }
                let iface = self.interface(0)?;
                self.deliver(on, iface.link, None, spb.packet_data(), spb.origlen);
                return Ok(true);
            }
            PcapBlockOwned::NG(Block::DecryptionSecrets(dsb))
                if dsb.secrets_type == SecretsType::TlsKeyLog =>
            {
                let data = &dsb.data[..(dsb.secrets_len as usize).min(dsb.data.len())];
                let held = self.secrets.get_or_insert_with(Vec::new);
                held.extend_from_slice(data);
                if !held.ends_with(b"\n") {
                    held.push(b'\n');
                }
            }
            PcapBlockOwned::NG(_) => {}
        }
        Ok(false)
    }

    /// The interface a packet block names, when its timestamps can be read.
    fn interface(&self, id: usize) -> Result<Interface, String> {
        match self.interfaces.get(id) {
            Some(Declared::Usable(iface)) => Ok(*iface),
            Some(Declared::BadResolution { tsresol }) => Err(format!(
                "a packet is on interface {id}, which declares an impossible timestamp resolution (if_tsresol 0x{tsresol:02x})"
            )),
            None => Err(format!("packet on undeclared interface {id}")),
        }
    }

    /// Number a packet and hand it on. A simple packet block has no timestamp (`None`): it
    /// gets the last one seen.
    fn deliver(
        &mut self,
        on: &mut dyn FnMut(&RawPacket<'_>),
        link: LinkType,
        ts: Option<Timestamp>,
        data: &[u8],
        orig_len: u32,
    ) {
        self.packets += 1;
        if let Some(ts) = ts {
            self.last_ts = ts;
        }
        on(&RawPacket {
            number: self.packets,
            ts: self.last_ts,
            link,
            data,
            orig_len,
        });
    }
}

/// A pcapng interface's `if_fcslen` (option 13), carried in its link type as a pcap header
/// would carry it. The spec says bits, some writers mean bytes: 16/32 are bits, 2/4 bytes.
fn with_if_fcslen(link: LinkType, options: &[pcap_parser::PcapNGOption<'_>]) -> LinkType {
    const IF_FCSLEN: u16 = 13;
    let value = options
        .iter()
        .find(|o| o.code.0 == IF_FCSLEN)
        .and_then(|o| o.value().first().copied());
    match value {
        Some(bits @ (16 | 32)) => link.with_fcs(usize::from(bits / 8)),
        Some(bytes @ (2 | 4)) => link.with_fcs(usize::from(bytes)),
        _ => link,
    }
}

impl PacketSource for FileSource {
    fn take_secrets(&mut self) -> Option<Vec<u8>> {
        self.blocks.secrets.take()
    }

    /// The pcap reader loop: read blocks until one is a packet, refilling or growing the
    /// buffer when a block does not fit yet.
    fn next_packet(&mut self, on: &mut dyn FnMut(&RawPacket<'_>)) -> Result<bool, CaptureError> {
        loop {
            match self.reader.next() {
                Ok((used, block)) => {
                    let delivered = self.blocks.take(block, on);
                    let delivered = delivered.map_err(|detail| self.corrupt(detail))?;
                    // No shift here: `consume` moves the unread half of the buffer whenever
                    // the read position passes the middle (half of every byte read, copied
                    // once more); `refill` shifts only the few bytes of a block cut at the end.
                    self.reader.consume_noshift(used);
                    // Secrets are handed over before the packets they decrypt.
                    if delivered || self.blocks.secrets.is_some() {
                        return Ok(true);
                    }
                }
                Err(PcapError::Eof) => return Ok(false),
                Err(PcapError::Incomplete(_)) => self.refill()?,
                Err(PcapError::BufferTooSmall) => self.grow()?,
                Err(PcapError::UnexpectedEof) => return Err(self.truncated()),
                Err(PcapError::ReadError) => return Err(self.read_error()),
                Err(PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind)) => {
                    // Not `{e}`: pcap-parser's text for this holds the whole unread buffer.
                    return Err(self.corrupt(format!("a block does not parse ({kind:?})")));
                }
                Err(PcapError::HeaderNotRecognized) => {
                    return Err(self.corrupt("a block of unknown format"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::units_per_second;

    #[test]
    fn timestamp_resolutions() {
        assert_eq!(units_per_second(6), Some(1_000_000));
        assert_eq!(units_per_second(9), Some(1_000_000_000));
        assert_eq!(units_per_second(0x80 | 30), Some(1 << 30));
        assert_eq!(units_per_second(20), None);
        assert_eq!(units_per_second(0x80 | 64), None);
    }
}
