//! One direction of an HTTP/2 connection cut into frames, incrementally. DATA payloads are
//! passed through as they arrive (a WebSocket message can be megabytes), padding removed; every
//! other frame is held whole (they are small) up to a limit. After a hole that hits framing, or
//! on a connection whose start was not captured, frame boundaries are hunted for.

use super::frame::{FrameHeader, FrameType, DEFAULT_MAX_FRAME_SIZE, HEADER_LEN, PREFACE};

/// Largest non-DATA frame held whole; a larger one is skipped (a HEADERS frame up to the
/// largest SETTINGS_MAX_FRAME_SIZE a peer would grant in practice).
pub const MAX_HELD_FRAME: u32 = 1 << 20;
/// Bytes looked through at most for a frame boundary before the oldest are given up.
const HUNT_WINDOW: usize = 64 << 10;
/// Frame headers in a row that must chain for a boundary to be believed.
const CHAIN: usize = 3;

/// What the reader found, in stream order.
#[derive(Debug, PartialEq)]
pub enum Item<'a> {
    /// The client's connection preface.
    Preface,
    /// The bytes where the preface should be are something else.
    BadPreface,
    /// A frame header; a DATA frame's payload follows as `Data` pieces, then `DataEnd`.
    Header(FrameHeader),
    /// A piece of the current DATA frame's payload, padding removed; `frame_len` is the
    /// frame's whole payload length.
    Data {
        stream: u32,
        frame_len: u32,
        bytes: &'a [u8],
    },
    /// Payload bytes of the current DATA frame lost in a hole in the capture.
    DataLost {
        stream: u32,
        len: u64,
    },
    DataEnd(FrameHeader),
    /// A whole frame other than DATA.
    Frame(FrameHeader, &'a [u8]),
    /// A frame over [`MAX_HELD_FRAME`] (or with a malformed pad length) was skipped.
    Skipped(FrameHeader),
    /// A hole hit frame framing: what follows is hunted for a frame boundary.
    Lost {
        len: u64,
    },
    /// A frame boundary was found after `skipped` bytes that could not be framed.
    Resync {
        skipped: u64,
    },
}

/// Where the items of a direction go.
pub trait FrameSink {
    fn item(&mut self, item: Item<'_>);
}

#[derive(Debug)]
enum State {
    /// The client's preface, `have` bytes of it matched so far.
    Preface {
        have: usize,
    },
    /// A frame header, in `buf` when split across chunks.
    Header,
    /// A padded DATA frame: its first byte is the pad length.
    PadLength(FrameHeader),
    Data {
        header: FrameHeader,
        data_left: u32,
        pad_left: u32,
    },
    /// A non-DATA frame's payload, gathered in `buf`.
    Payload(FrameHeader),
    Skip {
        header: FrameHeader,
        left: u32,
    },
    /// Looking for a frame boundary in `buf`; `skipped` bytes given up so far, and the
    /// offsets of `buf` before `checked` known not to start a chain.
    Hunt {
        skipped: u64,
        checked: usize,
    },
}

#[derive(Debug)]
pub struct FrameReader {
    state: State,
    buf: Vec<u8>,
    /// Largest frame believed while hunting: what the receiver allowed (RFC 9113 §4.2). A
    /// candidate's chain is waited for until it is decided, so this also bounds the wait.
    max_frame: u32,
}

impl FrameReader {
    /// A reader of the client's side of a connection that starts with the preface.
    pub fn client() -> FrameReader {
        FrameReader::with_state(State::Preface { have: 0 })
    }

    /// A reader of the server's side, or of a client side whose preface is already consumed.
    pub fn frames() -> FrameReader {
        FrameReader::with_state(State::Header)
    }

    /// A reader of a stream picked up at an unknown point: it hunts for frame boundaries.
    pub fn hunting() -> FrameReader {
        FrameReader::with_state(State::Hunt {
            skipped: 0,
            checked: 0,
        })
    }

    fn with_state(state: State) -> FrameReader {
        FrameReader {
            state,
            buf: Vec::new(),
            max_frame: DEFAULT_MAX_FRAME_SIZE,
        }
    }

    /// The receiver of this direction allows frames up to `size` (SETTINGS_MAX_FRAME_SIZE):
    /// a hunt believes headers up to that length (up to what is held at most).
    pub fn allow_frame_size(&mut self, size: u32) {
        self.max_frame = self.max_frame.max(size.min(MAX_HELD_FRAME));
    }

    /// The next bytes of this direction.
    pub fn feed(&mut self, mut input: &[u8], sink: &mut dyn FrameSink) {
        while !input.is_empty() {
            let used = self.step(input, sink);
            input = &input[used..];
        }
    }

    /// `len` bytes of this direction are missing from the capture.
    pub fn gap(&mut self, len: u64, sink: &mut dyn FrameSink) {
        match &mut self.state {
            State::Data {
                header,
                data_left,
                pad_left,
            } if len <= u64::from(*data_left) + u64::from(*pad_left) => {
                let lost = len.min(u64::from(*data_left));
                *data_left -= lost as u32;
                *pad_left -= (len - lost) as u32;
                let header = *header;
                if lost > 0 {
                    sink.item(Item::DataLost {
                        stream: header.stream,
                        len: lost,
                    });
                }
                self.finish_data_if_done(sink);
            }
            State::Skip { left, .. } if len < u64::from(*left) => *left -= len as u32,
            State::Hunt { skipped, checked } => {
                // Bytes before the hole cannot chain with bytes after it.
                *skipped += self.buf.len() as u64 + len;
                *checked = 0;
                self.buf.clear();
            }
            _ => {
                sink.item(Item::Lost { len });
                self.buf.clear();
                self.state = State::Hunt {
                    skipped: 0,
                    checked: 0,
                };
            }
        }
    }

    /// The connection ended: a hunt that was waiting for more bytes decides with what it has.
    pub fn end(&mut self, sink: &mut dyn FrameSink) {
        let State::Hunt { skipped, checked } = self.state else {
            return;
        };
        if let Ok(at) = find_chain(&self.buf, checked, self.max_frame, true) {
            let window = std::mem::take(&mut self.buf);
            sink.item(Item::Resync {
                skipped: skipped + at as u64,
            });
            self.state = State::Header;
            self.feed(&window[at..], sink);
        }
    }

    /// Read from the start of `input`; returns how many bytes were used (at least one).
    fn step(&mut self, input: &[u8], sink: &mut dyn FrameSink) -> usize {
        match self.state {
            State::Preface { have } => self.preface(have, input, sink),
            State::Header => self.header(input, sink),
            State::PadLength(header) => {
                let pad = u32::from(input[0]);
                match (header.len - 1).checked_sub(pad) {
                    Some(data_left) => {
                        self.state = State::Data {
                            header,
                            data_left,
                            pad_left: pad,
                        };
                        self.finish_data_if_done(sink);
                    }
                    None => self.skip(header, header.len - 1, sink),
                }
                1
            }
            State::Data { .. } => self.data(input, sink),
            State::Payload(header) => {
                let want = header.len as usize - self.buf.len();
                let n = want.min(input.len());
                self.buf.extend_from_slice(&input[..n]);
                if self.buf.len() == header.len as usize {
                    sink.item(Item::Frame(header, &self.buf));
                    self.buf.clear();
                    self.state = State::Header;
                }
                n
            }
            State::Skip { header, left } => {
                let n = (left as usize).min(input.len());
                self.state = match left as usize - n {
                    0 => State::Header,
                    left => State::Skip {
                        header,
                        left: left as u32,
                    },
                };
                n
            }
            State::Hunt { skipped, checked } => self.hunt(skipped, checked, input, sink),
        }
    }

    fn preface(&mut self, have: usize, input: &[u8], sink: &mut dyn FrameSink) -> usize {
        let n = (PREFACE.len() - have).min(input.len());
        if input[..n] != PREFACE[have..have + n] {
            sink.item(Item::BadPreface);
            return self.hunt(have as u64, 0, input, sink);
        }
        self.state = match have + n {
            24 => {
                sink.item(Item::Preface);
                State::Header
            }
            have => State::Preface { have },
        };
        n
    }

    fn header(&mut self, input: &[u8], sink: &mut dyn FrameSink) -> usize {
        let (bytes, used) = if self.buf.is_empty() && input.len() >= HEADER_LEN {
            let mut b = [0; HEADER_LEN];
            b.copy_from_slice(&input[..HEADER_LEN]);
            (b, HEADER_LEN)
        } else {
            let n = (HEADER_LEN - self.buf.len()).min(input.len());
            self.buf.extend_from_slice(&input[..n]);
            if self.buf.len() < HEADER_LEN {
                return n;
            }
            let mut b = [0; HEADER_LEN];
            b.copy_from_slice(&self.buf);
            self.buf.clear();
            (b, n)
        };
        self.start_frame(FrameHeader::parse(&bytes), sink);
        used
    }

    fn start_frame(&mut self, header: FrameHeader, sink: &mut dyn FrameSink) {
        sink.item(Item::Header(header));
        self.state = match header.kind {
            FrameType::DATA if header.padded() && header.len > 0 => State::PadLength(header),
            FrameType::DATA if header.padded() => return self.skip(header, 0, sink),
            FrameType::DATA => State::Data {
                header,
                data_left: header.len,
                pad_left: 0,
            },
            _ if header.len > MAX_HELD_FRAME => return self.skip(header, header.len, sink),
            _ if header.len == 0 => {
                sink.item(Item::Frame(header, &[]));
                State::Header
            }
            _ => State::Payload(header),
        };
        self.finish_data_if_done(sink);
    }

    fn skip(&mut self, header: FrameHeader, left: u32, sink: &mut dyn FrameSink) {
        sink.item(Item::Skipped(header));
        self.state = match left {
            0 => State::Header,
            left => State::Skip { header, left },
        };
    }

    fn data(&mut self, input: &[u8], sink: &mut dyn FrameSink) -> usize {
        let State::Data {
            header,
            data_left,
            pad_left,
        } = &mut self.state
        else {
            return 0;
        };
        let n = (*data_left as usize).min(input.len());
        if n > 0 {
            *data_left -= n as u32;
            sink.item(Item::Data {
                stream: header.stream,
                frame_len: header.len,
                bytes: &input[..n],
            });
            self.finish_data_if_done(sink);
            return n;
        }
        let p = (*pad_left as usize).min(input.len());
        *pad_left -= p as u32;
        self.finish_data_if_done(sink);
        p
    }

    fn finish_data_if_done(&mut self, sink: &mut dyn FrameSink) {
        if let State::Data {
            header,
            data_left: 0,
            pad_left: 0,
        } = self.state
        {
            sink.item(Item::DataEnd(header));
            self.state = State::Header;
        }
    }

    /// Look for a frame boundary: [`CHAIN`] plausible headers in a row, or whole frames that
    /// fill the first piece given to the hunt (senders write whole frames per segment, and a
    /// hunt starts where a segment does). Bytes before the boundary are given up.
    fn hunt(
        &mut self,
        skipped: u64,
        checked: usize,
        input: &[u8],
        sink: &mut dyn FrameSink,
    ) -> usize {
        let first_piece = self.buf.is_empty();
        let room = HUNT_WINDOW.saturating_sub(self.buf.len()).max(1);
        let n = room.min(input.len());
        self.buf.extend_from_slice(&input[..n]);
        let full = self.buf.len() >= HUNT_WINDOW;
        let found = match first_piece && fills_exactly(&self.buf, self.max_frame) {
            true => Ok(0),
            false => find_chain(&self.buf, checked, self.max_frame, full),
        };
        match found {
            Ok(at) => {
                let window = std::mem::take(&mut self.buf);
                sink.item(Item::Resync {
                    skipped: skipped + at as u64,
                });
                self.state = State::Header;
                self.feed(&window[at..], sink);
            }
            Err(resume) => {
                // Keep the tail that may still hold the start of a header chain.
                let drop = match full {
                    true => self.buf.len() - HUNT_WINDOW / 2,
                    false => 0,
                };
                self.buf.drain(..drop);
                self.state = State::Hunt {
                    skipped: skipped + drop as u64,
                    checked: resume.saturating_sub(drop),
                };
            }
        }
        n
    }
}

/// Frame headers chain in `bytes`, or whole frames fill it: an HTTP/2 connection picked up
/// mid-way (decided on its first segment alone).
pub fn looks_like_frames(bytes: &[u8]) -> bool {
    let max = DEFAULT_MAX_FRAME_SIZE;
    fills_exactly(bytes, max) || find_chain(bytes, 0, max, true).is_ok()
}

/// What the bytes from a candidate offset say about a chain of frame headers starting there.
enum Chain {
    Yes,
    No,
    /// The chain runs past the bytes so far.
    Undecided,
}

/// The first offset of `window`, from `from`, where headers chain; or, when there is none yet,
/// the offset to look again from. An offset still undecided is waited for rather than passed
/// over (unless the window is `full`), so the boundary found does not depend on how the bytes
/// were cut into pieces.
fn find_chain(window: &[u8], from: usize, max_frame: u32, full: bool) -> Result<usize, usize> {
    for at in from..window.len() {
        match chain_at(&window[at..], max_frame) {
            Chain::Yes => return Ok(at),
            Chain::Undecided if !full => return Err(at),
            Chain::No | Chain::Undecided => {}
        }
    }
    Err(window.len())
}

/// Whether `bytes` start with [`CHAIN`] plausible frame headers, each where the previous frame
/// ends.
fn chain_at(bytes: &[u8], max_frame: u32) -> Chain {
    let mut at = 0;
    for _ in 0..CHAIN {
        if bytes.len() < at + HEADER_LEN {
            return Chain::Undecided;
        }
        match plausible_header(bytes, at, max_frame) {
            Some(header) => at += HEADER_LEN + header.len as usize,
            None => return Chain::No,
        }
    }
    Chain::Yes
}

/// `bytes` are one or more plausible frames, the last ending exactly at the end.
fn fills_exactly(bytes: &[u8], max_frame: u32) -> bool {
    let mut at = 0;
    while at < bytes.len() {
        let Some(header) = plausible_header(bytes, at, max_frame) else {
            return false;
        };
        at += HEADER_LEN + header.len as usize;
    }
    at == bytes.len() && at > 0
}

fn plausible_header(bytes: &[u8], at: usize, max_frame: u32) -> Option<FrameHeader> {
    let h = bytes.get(at..at + HEADER_LEN)?;
    let mut b = [0; HEADER_LEN];
    b.copy_from_slice(h);
    Some(FrameHeader::parse(&b)).filter(|h| h.plausible(max_frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Seen(Vec<String>);

    impl FrameSink for Seen {
        fn item(&mut self, item: Item<'_>) {
            self.0.push(match item {
                Item::Header(h) => format!("{} {}", h.kind, h.stream),
                Item::Data { stream, bytes, .. } => format!("data {stream} {bytes:?}"),
                Item::Frame(h, p) => format!("frame {} {p:?}", h.kind),
                other => format!("{other:?}"),
            });
        }
    }

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() as u32).to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn stream() -> Vec<u8> {
        let mut s = PREFACE.to_vec();
        s.extend(frame(4, 0, 0, &[0, 8, 0, 0, 0, 1]));
        s.extend(frame(0, 0x9, 1, &[2, b'h', b'i', 0, 0]));
        s.extend(frame(8, 0, 1, &[0, 0, 1, 0]));
        s
    }

    fn read_all(chunks: &[&[u8]], reader: &mut FrameReader) -> Vec<String> {
        let mut seen = Seen::default();
        for c in chunks {
            reader.feed(c, &mut seen);
        }
        seen.0
    }

    #[test]
    fn frames_and_padded_data_in_any_split() {
        let s = stream();
        let whole = read_all(&[&s], &mut FrameReader::client());
        assert_eq!(
            whole,
            [
                "Preface",
                "SETTINGS 0",
                "frame SETTINGS [0, 8, 0, 0, 0, 1]",
                "DATA 1",
                "data 1 [104, 105]",
                "DataEnd(FrameHeader { len: 5, kind: FrameType(0), flags: 9, stream: 1, reserved: false })",
                "WINDOW_UPDATE 1",
                "frame WINDOW_UPDATE [0, 0, 1, 0]"
            ]
        );
        for cut in 1..s.len() {
            let got = read_all(&[&s[..cut], &s[cut..]], &mut FrameReader::client());
            let joined = |v: &[String]| {
                v.iter()
                    .filter(|l| !l.starts_with("data"))
                    .cloned()
                    .collect::<Vec<_>>()
            };
            assert_eq!(joined(&got), joined(&whole), "cut at {cut}");
        }
    }

    #[test]
    fn a_hole_inside_data_loses_only_data() {
        let s = stream();
        let mut r = FrameReader::client();
        let mut seen = Seen::default();
        let data_start = 24 + 15 + 9 + 1;
        r.feed(&s[..data_start], &mut seen);
        r.gap(1, &mut seen);
        r.feed(&s[data_start + 1..], &mut seen);
        assert!(
            seen.0
                .contains(&"DataLost { stream: 1, len: 1 }".to_string()),
            "{:?}",
            seen.0
        );
        assert!(seen.0.contains(&"data 1 [105]".to_string()));
        assert!(seen.0.last().unwrap().starts_with("frame WINDOW_UPDATE"));
    }

    #[test]
    fn a_hole_in_a_header_hunts_for_the_next_chain() {
        let mut s = stream();
        for i in 0..3 {
            s.extend(frame(6, 0, 0, &[i; 8]));
        }
        let mut r = FrameReader::client();
        let mut seen = Seen::default();
        r.feed(&s[..30], &mut seen);
        r.gap(20, &mut seen);
        r.feed(&s[50..], &mut seen);
        // An earlier offset's chain would run past the bytes: the hunt waits for more, and
        // decides when the connection ends.
        assert!(
            !seen.0.iter().any(|l| l.starts_with("Resync")),
            "{:?}",
            seen.0
        );
        r.end(&mut seen);
        assert!(
            seen.0.contains(&"Lost { len: 20 }".to_string()),
            "{:?}",
            seen.0
        );
        let resync = seen.0.iter().position(|l| l.starts_with("Resync")).unwrap();
        assert_eq!(seen.0[resync + 1], "WINDOW_UPDATE 1", "{:?}", seen.0);
    }

    #[test]
    fn garbage_never_panics_and_stays_bounded() {
        let mut r = FrameReader::hunting();
        let noise: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let mut seen = Seen::default();
        r.feed(&noise, &mut seen);
        assert!(r.buf.len() <= HUNT_WINDOW);
        let mut r = FrameReader::frames();
        r.feed(&[0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 1], &mut seen);
        assert!(seen.0.iter().any(|l| l.starts_with("Skipped")));
    }
}
