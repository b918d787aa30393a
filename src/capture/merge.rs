//! Several capture files read as one: `wsdissect a.pcap b.pcap`, or a directory of the files
//! `tcpdump -C` or `-G` rotated into. The packets are merged by timestamp (a k-way merge; equal
//! timestamps keep the order of the files), so a TCP connection that continues from one file
//! into the next is one connection, and packets are numbered across the merged capture.

use std::cmp::Ordering;
use std::path::PathBuf;

use super::file::FileSource;
use super::{CaptureError, PacketSource, RawPacket};
use crate::base::{LinkType, Timestamp};

/// The files named on the command line, with each directory replaced by the capture files in
/// it (hidden files left out), in natural name order (`cap2` before `cap10`).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<(PathBuf, bool)>, CaptureError> {
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() != "-" && path.is_dir() {
            let open_err = |source| CaptureError::Open {
                input: path.clone(),
                source,
            };
            let mut found = Vec::new();
            for entry in std::fs::read_dir(path).map_err(open_err)? {
                let entry = entry.map_err(open_err)?;
                let hidden = entry.file_name().to_string_lossy().starts_with('.');
                if !hidden && entry.path().is_file() {
                    found.push(entry.path());
                }
            }
            if found.is_empty() {
                return Err(open_err(std::io::Error::other(
                    "a directory with no capture files in it",
                )));
            }
            found.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
            files.extend(found.into_iter().map(|f| (f, true)));
        } else {
            files.push((path.clone(), false));
        }
    }
    Ok(files)
}

/// Compare names with their digit runs as numbers: `cap2` < `cap10`.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then(x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len()).then(a.cmp(b))
}

/// Open every capture `paths` names (directories expanded, see [`expand`]): one file is read
/// as it is, several are merged. A file found in a directory that is not a capture is left
/// out, with a note saying so; named on the command line, it is an error.
pub fn open(paths: &[PathBuf]) -> Result<(Box<dyn PacketSource>, Vec<String>), CaptureError> {
    let mut notes = Vec::new();
    let mut sources = Vec::new();
    for (path, in_dir) in expand(paths)? {
        match FileSource::open(&path) {
            Ok(s) => sources.push(s),
            Err(e @ (CaptureError::NotACapture { .. } | CaptureError::Empty { .. })) if in_dir => {
                notes.push(format!("{e}; left out"));
            }
            Err(e) => return Err(e),
        }
    }
    if sources.len() == 1 {
        return Ok((Box::new(sources.pop().expect("one source")), notes));
    }
    if sources.is_empty() {
        let input = paths.first().cloned().unwrap_or_default();
        return Err(CaptureError::Open {
            input,
            source: std::io::Error::other("no capture files in it"),
        });
    }
    Ok((Box::new(MergeSource::new(sources)), notes))
}

/// The next packet of one file, copied out of its reader so the others can be read meanwhile.
struct Head {
    ts: Timestamp,
    link: LinkType,
    data: Vec<u8>,
    orig_len: u32,
}

struct Input {
    source: FileSource,
    head: Option<Head>,
    /// The buffer of the packet last delivered, for the next one.
    spare: Vec<u8>,
    done: bool,
}

/// Packets of several files in timestamp order.
pub struct MergeSource {
    inputs: Vec<Input>,
    packets: u64,
    secrets: Option<Vec<u8>>,
    /// The first file to fail; reported once every other file has been read.
    error: Option<CaptureError>,
}

impl MergeSource {
    pub fn new(sources: Vec<FileSource>) -> MergeSource {
        MergeSource {
            inputs: sources
                .into_iter()
                .map(|source| Input {
                    source,
                    head: None,
                    spare: Vec::new(),
                    done: false,
                })
                .collect(),
            packets: 0,
            secrets: None,
            error: None,
        }
    }

    /// Read file `i` up to its next packet (or its end). A file that fails ends there; its
    /// error waits until the other files are done.
    fn fill(&mut self, i: usize) {
        let input = &mut self.inputs[i];
        while !input.done && input.head.is_none() {
            let mut buf = std::mem::take(&mut input.spare);
            let mut got = None;
            let next = input.source.next_packet(&mut |p: &RawPacket<'_>| {
                buf.clear();
                buf.extend_from_slice(p.data);
                got = Some((p.ts, p.link, p.orig_len));
            });
            if let Some(s) = input.source.take_secrets() {
                self.secrets.get_or_insert_with(Vec::new).extend(s);
            }
            match got {
                Some((ts, link, orig_len)) => {
                    input.head = Some(Head {
                        ts,
                        link,
                        data: buf,
                        orig_len,
                    })
                }
                None => input.spare = buf,
            }
            match next {
                Ok(true) => {}
                Ok(false) => input.done = true,
                Err(e) => {
                    input.done = true;
                    self.error.get_or_insert(e);
                }
            }
        }
    }
}

impl PacketSource for MergeSource {
    fn next_packet(&mut self, on: &mut dyn FnMut(&RawPacket<'_>)) -> Result<bool, CaptureError> {
        for i in 0..self.inputs.len() {
            self.fill(i);
        }
        // The earliest head; on equal timestamps the first file's.
        let mut first: Option<usize> = None;
        for (i, input) in self.inputs.iter().enumerate() {
            if let Some(h) = &input.head {
                if first.is_none_or(|f| h.ts < self.inputs[f].head.as_ref().expect("head").ts) {
                    first = Some(i);
                }
            }
        }
        let Some(i) = first else {
            return match self.error.take() {
                Some(e) => Err(e),
                None => Ok(false),
            };
        };
        let head = self.inputs[i].head.take().expect("head");
        self.packets += 1;
        on(&RawPacket {
            number: self.packets,
            ts: head.ts,
            link: head.link,
            data: &head.data,
            orig_len: head.orig_len,
        });
        self.inputs[i].spare = head.data;
        Ok(true)
    }

    fn take_secrets(&mut self) -> Option<Vec<u8>> {
        self.secrets.take()
    }
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use std::cmp::Ordering;

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("cap2", "cap10"), Ordering::Less);
        assert_eq!(natural_cmp("cap", "cap1"), Ordering::Less);
        assert_eq!(natural_cmp("cap010", "cap9"), Ordering::Greater);
        assert_eq!(natural_cmp("a_00001_2024", "a_00002_2023"), Ordering::Less);
        assert_eq!(natural_cmp("b", "a"), Ordering::Greater);
    }
}
