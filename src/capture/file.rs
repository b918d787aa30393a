//! pcap (micro- and nanosecond) and pcapng files, from a path or standard input.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

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
    legacy: Option<Interface>,
    interfaces: Vec<Interface>,
    packets: u64,
    last_ts: Timestamp,
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
            legacy: None,
            interfaces: Vec::new(),
            packets: 0,
            last_ts: Timestamp(0),
        })
    }

    fn timestamp(iface: &Interface, raw: u64) -> Timestamp {
        let units = u128::from(iface.units_per_sec.max(1));
        let nanos = u128::from(raw) * 1_000_000_000 / units;
        let offset = i128::from(iface.offset_secs) * 1_000_000_000;
        Timestamp((nanos as i128 + offset).clamp(0, u64::MAX as i128) as u64)
    }

    fn corrupt(&self, detail: impl Into<String>) -> CaptureError {
        CaptureError::Corrupt {
            input: self.input.clone(),
            after_packets: self.packets,
            offset: self.reader.consumed() as u64,
            detail: detail.into(),
        }
    }
}

impl PacketSource for FileSource {
    fn next_packet(&mut self, on: &mut dyn FnMut(&RawPacket<'_>)) -> Result<bool, CaptureError> {
        loop {
            let step: Result<(usize, bool), String> = match self.reader.next() {
                Ok((used, block)) => 'block: {
                    let mut delivered = false;
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
                            let Some(iface) = self.legacy else {
                                break 'block Err("packet before the file header".into());
                            };
                            let raw =
                                u64::from(b.ts_sec) * iface.units_per_sec + u64::from(b.ts_usec);
                            let data = &b.data[..(b.caplen as usize).min(b.data.len())];
                            self.packets += 1;
                            self.last_ts = Self::timestamp(&iface, raw);
                            on(&RawPacket {
                                number: self.packets,
                                ts: self.last_ts,
                                link: iface.link,
                                data,
                                orig_len: b.origlen,
                            });
                            delivered = true;
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => self.interfaces.clear(),
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            self.interfaces.push(Interface {
                                link: LinkType(idb.linktype.0 as u32),
                                units_per_sec: match units_per_second(idb.if_tsresol) {
                                    Some(u) => u,
                                    None => break 'block Err(format!("interface {} declares an impossible timestamp resolution (if_tsresol 0x{:02x})", self.interfaces.len(), idb.if_tsresol)),
                                },
                                offset_secs: idb.ts_offset(),
                            });
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let Some(&iface) = self.interfaces.get(epb.if_id as usize) else {
                                break 'block Err(format!(
                                    "packet on undeclared interface {}",
                                    epb.if_id
                                ));
                            };
                            let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                            self.packets += 1;
                            self.last_ts = Self::timestamp(&iface, raw);
                            on(&RawPacket {
                                number: self.packets,
                                ts: self.last_ts,
                                link: iface.link,
                                data: epb.packet_data(),
                                orig_len: epb.origlen,
                            });
                            delivered = true;
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            let Some(&iface) = self.interfaces.first() else {
                                break 'block Err("packet before any interface".into());
                            };
                            self.packets += 1;
                            on(&RawPacket {
                                number: self.packets,
                                ts: self.last_ts,
                                link: iface.link,
                                data: spb.packet_data(),
                                orig_len: spb.origlen,
                            });
                            delivered = true;
                        }
                        PcapBlockOwned::NG(_) => {}
                    }
                    Ok((used, delivered))
                }
                Err(PcapError::Eof) => return Ok(false),
                Err(PcapError::Incomplete(_)) => {
                    self.reader.refill().map_err(|_| CaptureError::Read {
                        input: self.input.clone(),
                        detail: "cannot read".into(),
                    })?;
                    continue;
                }
                Err(PcapError::BufferTooSmall) => {
                    if self.capacity >= MAX_RECORD {
                        return Err(self
                            .corrupt(format!("a record is larger than {} MiB", MAX_RECORD >> 20)));
                    }
                    self.capacity *= 4;
                    if !self.reader.grow(self.capacity) {
                        return Err(self.corrupt("cannot grow the read buffer"));
                    }
                    self.reader.refill().map_err(|_| CaptureError::Read {
                        input: self.input.clone(),
                        detail: "cannot read".into(),
                    })?;
                    continue;
                }
                Err(PcapError::UnexpectedEof) => {
                    return Err(CaptureError::Truncated {
                        input: self.input.clone(),
                        after_packets: self.packets,
                        offset: self.reader.consumed() as u64,
                    })
                }
                Err(PcapError::ReadError) => {
                    return Err(CaptureError::Read {
                        input: self.input.clone(),
                        detail: "cannot read".into(),
                    })
                }
                Err(e) => {
                    let detail = format!("{e}");
                    return Err(self.corrupt(detail));
                }
            };
            let (used, delivered) = step.map_err(|detail| self.corrupt(detail))?;
            self.reader.consume(used);
            if delivered {
                return Ok(true);
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
