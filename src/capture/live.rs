//! Live capture from an interface through libpcap (the `pcap` crate), in immediate mode so
//! each packet is dissected as soon as it crosses the wire.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::savefile::PcapWriter;
use super::{CaptureError, PacketSource, RawPacket};
use crate::base::LinkType;
use crate::base::Timestamp;

/// Whole packets: larger than any MTU and than loopback's 64 KiB segments.
pub const DEFAULT_SNAPLEN: i32 = 262_144;
/// How often a blocked read wakes up to look at the stop flag and the deadline.
const POLL: Duration = Duration::from_millis(100);

pub struct LiveOptions {
    pub interface: String,
    /// BPF filter; the default keeps TCP only.
    pub filter: String,
    pub snaplen: i32,
    pub promiscuous: bool,
    /// Kernel capture buffer, in MiB.
    pub buffer_mib: i32,
    /// Also write every captured packet here (pcap).
    pub write: Option<PathBuf>,
    pub duration: Option<Duration>,
}

/// libpcap's counters at the end of a live capture, and the packets wsdissect was handed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets libpcap handed to wsdissect.
    pub captured: u64,
    /// The kernel's count of packets that passed the filter (`ps_recv`). On Linux it counts
    /// dropped packets too, and on loopback each packet twice: the kernel sees it leave and
    /// arrive, and libpcap keeps only the arrival.
    pub received: u32,
    pub dropped_by_kernel: u32,
    pub dropped_by_interface: u32,
    /// The capture is on a loopback interface.
    pub loopback: bool,
}

impl std::fmt::Display for LiveStats {
    /// One line, as tcpdump ends: what was captured and lost, and why the kernel's count of
    /// packets received may differ from the packets captured.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} packets captured, {} dropped by kernel, {} dropped by interface",
            self.captured, self.dropped_by_kernel, self.dropped_by_interface
        )?;
        let received = u64::from(self.received);
        if received == self.captured {
            return Ok(());
        }
        write!(f, "; the kernel's filter passed {received}")?;
        if self.loopback && received >= self.captured {
            f.write_str(" (on loopback it sees each packet twice, leaving and arriving, and libpcap keeps one)")
        } else {
            f.write_str(" (its count includes packets dropped, and any still queued when the capture stopped)")
        }
    }
}

/// Where a live capture listens, for the line tcpdump prints when it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listening {
    pub interface: String,
    /// libpcap's name and description of the link type, e.g. `EN10MB` and `Ethernet`.
    pub link_name: String,
    pub link_description: String,
    pub snaplen: i32,
}

impl std::fmt::Display for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "listening on {}, link-type {}",
            self.interface, self.link_name
        )?;
        if !self.link_description.is_empty() {
            write!(f, " ({})", self.link_description)?;
        }
        write!(f, ", snapshot length {} bytes", self.snaplen)
    }
}

pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    savefile: Option<(PcapWriter, PathBuf)>,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    packets: u64,
    interface: String,
    loopback: bool,
    listening: Listening,
}

/// Every interface libpcap can open, with its description and addresses.
pub fn list_interfaces() -> Result<Vec<(String, String)>, CaptureError> {
    let devices = pcap::Device::list().map_err(|e| CaptureError::Live {
        detail: format!("cannot list interfaces: {e}"),
    })?;
    Ok(devices
        .into_iter()
        .map(|d| {
            let addrs: Vec<String> = d.addresses.iter().map(|a| a.addr.to_string()).collect();
            let mut desc = d.desc.unwrap_or_default();
            if !addrs.is_empty() {
                if !desc.is_empty() {
                    desc.push_str("; ");
                }
                desc.push_str(&addrs.join(", "));
            }
            (d.name, desc)
        })
        .collect())
}

/// `-w FILE` failed: the capture stops there, with this error (exit 2).
fn cannot_write(path: &Path, e: &std::io::Error) -> CaptureError {
    CaptureError::Live {
        detail: format!("-w {}: cannot write: {e}", path.display()),
    }
}

fn permission_hint(detail: &str) -> Option<String> {
    let d = detail.to_ascii_lowercase();
    (d.contains("permission") || d.contains("not permitted")).then(|| {
        format!(
            "{detail}: capturing needs the CAP_NET_RAW and CAP_NET_ADMIN capabilities. Run as root, or grant them once, as root \
             (or with sudo): setcap cap_net_raw,cap_net_admin=eip {}",
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "wsdissect".into())
        )
    })
}

impl LiveSource {
    pub fn open(opts: &LiveOptions, stop: Arc<AtomicBool>) -> Result<LiveSource, CaptureError> {
        let live_err = |detail: String| CaptureError::Live { detail };
        let known = pcap::Device::list().unwrap_or_default();
        let loopback = known
            .iter()
            .any(|d| d.name == opts.interface && d.flags.is_loopback());
        if !known.iter().any(|d| d.name == opts.interface) {
            let names: Vec<String> = known.into_iter().map(|d| d.name).collect();
            return Err(live_err(format!(
                "no interface named {:?}; interfaces: {}",
                opts.interface,
                names.join(", ")
            )));
        }
        let inactive = pcap::Capture::from_device(opts.interface.as_str())
            .map_err(|e| live_err(format!("{}: {e}", opts.interface)))?
            .immediate_mode(true)
            .snaplen(opts.snaplen)
            .promisc(opts.promiscuous)
            .timeout(POLL.as_millis() as i32)
            // Immediate mode uses TPACKET_V2, where each slot holds a whole 64 KiB loopback
            // packet: the buffer size decides how many packets a burst may queue.
            .buffer_size(opts.buffer_mib.saturating_mul(1 << 20));
        let mut cap = inactive.open().map_err(|e| {
            let detail = format!("{}: {e}", opts.interface);
            live_err(permission_hint(&detail).unwrap_or(detail))
        })?;
        cap.filter(&opts.filter, true)
            .map_err(|e| CaptureError::Filter {
                filter: opts.filter.clone(),
                detail: e.to_string(),
            })?;
        let datalink = cap.get_datalink();
        let link = LinkType(datalink.0 as u32);
        let savefile = match &opts.write {
            Some(path) => Some((
                PcapWriter::create(path, link, opts.snaplen as u32)
                    .map_err(|e| cannot_write(path, &e))?,
                path.clone(),
            )),
            None => None,
        };
        let listening = Listening {
            interface: opts.interface.clone(),
            link_name: datalink
                .get_name()
                .unwrap_or_else(|_| format!("{}", datalink.0)),
            link_description: datalink.get_description().unwrap_or_default(),
            snaplen: opts.snaplen,
        };
        // A deadline past what the clock can count (--duration 1e18) is none: run until stopped.
        let deadline = opts.duration.and_then(|d| Instant::now().checked_add(d));
        // libpcap 1.10 on Linux keeps waiting inside pcap_next_ex when its read timeout expires
        // with no packet (the timeout never returns to us), so an idle capture would never see
        // the stop flag or the deadline. A watcher thread breaks the loop instead.
        let breaker = cap.breakloop_handle();
        let flag = stop.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(50));
            if flag.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
                breaker.breakloop();
                return;
            }
        });
        Ok(LiveSource {
            cap,
            link,
            savefile,
            stop,
            deadline,
            packets: 0,
            interface: opts.interface.clone(),
            loopback,
            listening,
        })
    }

    /// Where the capture listens: interface, link type and snapshot length.
    pub fn listening(&self) -> &Listening {
        &self.listening
    }

    /// The end of the capture: what `-w` buffered reaches the file, or the capture fails.
    fn flush_savefile(&mut self) -> Result<(), CaptureError> {
        match self.savefile.as_mut() {
            Some((w, path)) => w.flush().map_err(|e| cannot_write(path, &e)),
            None => Ok(()),
        }
    }
}

impl PacketSource for LiveSource {
    fn stats(&mut self) -> Option<LiveStats> {
        let stats = self
            .cap
            .stats()
            .map(|s| LiveStats {
                captured: self.packets,
                received: s.received,
                dropped_by_kernel: s.dropped,
                dropped_by_interface: s.if_dropped,
                loopback: self.loopback,
            })
            .unwrap_or(LiveStats {
                captured: self.packets,
                loopback: self.loopback,
                ..LiveStats::default()
            });
        Some(stats)
    }

    fn next_packet(&mut self, on: &mut dyn FnMut(&RawPacket<'_>)) -> Result<bool, CaptureError> {
        loop {
            if self.stop.load(Ordering::Relaxed)
                || self.deadline.is_some_and(|d| Instant::now() >= d)
            {
                self.flush_savefile()?;
                return Ok(false);
            }
            match self.cap.next_packet() {
                Ok(p) => {
                    if let Some((w, path)) = self.savefile.as_mut() {
                        // Timestamps and lengths as libpcap gave them (a pcap record's fields
                        // are 32 bits, as libpcap's own savefile writes them).
                        let (sec, usec) = (p.header.ts.tv_sec as u32, p.header.ts.tv_usec as u32);
                        w.write(sec, usec, p.data, p.header.len)
                            .map_err(|e| cannot_write(path, &e))?;
                    }
                    self.packets += 1;
                    let ts = Timestamp(
                        (p.header.ts.tv_sec.max(0) as u64) * 1_000_000_000
                            + (p.header.ts.tv_usec.max(0) as u64) * 1000,
                    );
                    on(&RawPacket {
                        number: self.packets,
                        ts,
                        link: self.link,
                        data: p.data,
                        orig_len: p.header.len,
                    });
                    return Ok(true);
                }
                Err(pcap::Error::TimeoutExpired) => continue,
                Err(pcap::Error::NoMorePackets) => {
                    self.flush_savefile()?;
                    return Ok(false);
                }
                Err(e) => {
                    return Err(CaptureError::Live {
                        detail: format!("{}: {e}", self.interface),
                    })
                }
            }
        }
    }
}
