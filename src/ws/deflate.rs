//! permessage-deflate (RFC 7692): negotiated parameters, and inflating one direction's
//! compressed messages, incrementally and with a bound on the inflated size.
//!
//! Backend: flate2 on zlib-rs. flate2's default pure-Rust backend (miniz_oxide) failed on the
//! RFC 7692 §7.2.3.1 example when a message is inflated without a final block
//! (rust-lang/flate2-rs#389, Frommi/miniz_oxide#143) — exactly what permessage-deflate does. The
//! test `rfc7692_7_2_3_1_shared_window` pins the case.

use std::collections::VecDeque;

use std::io::{Read, Write};

use flate2::{Compression, Decompress, FlushDecompress, Status};

use crate::http::Extension;

/// The 4 bytes a sender strips from the end of each compressed message (RFC 7692 §7.2.1).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Negotiated permessage-deflate parameters (RFC 7692 §7.1), from the server's response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeflateParams {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: Option<u8>,
    pub client_max_window_bits: Option<u8>,
}

impl DeflateParams {
    /// Read the parameters of an accepted `permessage-deflate` extension.
    pub fn from_extension(ext: &Extension) -> DeflateParams {
        let bits = |name: &str| ext.param(name).flatten().and_then(|v| v.parse::<u8>().ok());
        DeflateParams {
            server_no_context_takeover: ext.param("server_no_context_takeover").is_some(),
            client_no_context_takeover: ext.param("client_no_context_takeover").is_some(),
            server_max_window_bits: bits("server_max_window_bits"),
            client_max_window_bits: bits("client_max_window_bits"),
        }
    }
}

/// Why inflation stopped for a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InflateError {
    /// The compressed bytes are not valid DEFLATE (or the window is unknown).
    Corrupt(String),
    /// The message inflated past the limit (a deflate bomb, or just too big to keep).
    Limit(u64),
}

/// The most compressed bytes of one message kept to find zlib's reason for a failure again
/// (see [`Replay`]); a message that fails further in is reported with a general reason.
const MAX_REPLAY_INPUT: usize = 256 << 10;
/// The DEFLATE window (RFC 1951 §2: distances reach back at most 32 KiB).
const WINDOW: usize = 32 << 10;
/// An output buffer smaller than zlib's `INFLATE_FAST_MIN_LEFT` (258): zlib-rs never takes its
/// fast path, whose errors lose their reason, with less room than that.
const SLOW_PATH_OUT: usize = 257;

/// What it takes to inflate the current message again and learn why it failed. zlib-rs 0.6.8
/// (the newest flate2 1.1 takes) loses the reason of an error found on its fast path: its
/// message is overwritten with "repeated call with bad state". The fast path is twice as fast
/// (a 32 MiB message: 57 ms against 117 ms here), so it stays; when it hides a reason, the
/// message's compressed bytes are inflated again from the window the message started with,
/// on the slow path only, which names it ("invalid distance too far back").
#[derive(Debug, Default)]
struct Replay {
    /// The window at the start of the current message (empty without context takeover). A
    /// ring, so that moving on to the next message costs that message's size, not the window's.
    window: VecDeque<u8>,
    /// The last output of the current message since it started or the stream was reset
    /// (context takeover only): the next message's window. Holds up to two windows' worth.
    tail: Vec<u8>,
    /// The stream was reset inside the current message (a final block): the next window is
    /// the tail alone.
    reset_inside: bool,
    /// The current message's compressed bytes, up to `MAX_REPLAY_INPUT`.
    input: Vec<u8>,
    input_overflow: bool,
    /// Output bytes of the current message (context takeover only).
    output_len: u64,
    /// The message ended (`Some(keep_window)`); the tail joins the window when the next one
    /// starts, so until then the last message can be inflated again (see
    /// [`Inflater::compact`]).
    ended: Option<bool>,
}

/// Buffers of the replay grown past this by a large message are let go when it ends.
const REPLAY_KEEP: usize = 64 << 10;

impl Replay {
    fn record_input(&mut self, data: &[u8]) {
        if self.input.len() + data.len() > MAX_REPLAY_INPUT {
            self.input_overflow = true;
            self.input = Vec::new();
        } else if !self.input_overflow {
            self.input.extend_from_slice(data);
        }
    }

    fn record_output(&mut self, data: &[u8]) {
        self.output_len += data.len() as u64;
        self.tail.extend_from_slice(data);
        if self.tail.len() > 2 * WINDOW {
            self.tail.drain(..self.tail.len() - WINDOW);
        }
    }

    /// The message ended: its tail becomes the window the next message starts with, once it
    /// starts.
    fn next_message(&mut self, keep_window: bool) {
        self.ended = Some(keep_window);
    }

    /// A message starts (or the last one is forgotten): the window moves on past the one that
    /// ended, if one did.
    fn settle(&mut self) {
        let Some(keep_window) = self.ended.take() else {
            return;
        };
        if !keep_window || self.reset_inside {
            self.window.clear();
        }
        if keep_window {
            self.window.extend(&self.tail);
            let excess = self.window.len().saturating_sub(WINDOW);
            self.window.drain(..excess);
        }
        self.forget_message();
    }

    fn forget_message(&mut self) {
        clear_or_let_go(&mut self.tail);
        self.reset_inside = false;
        clear_or_let_go(&mut self.input);
        self.input_overflow = false;
        self.output_len = 0;
    }

    /// The window the next message starts with: the last `WINDOW` bytes of the window and
    /// the tail of the message that ended.
    fn next_window(&self) -> Vec<u8> {
        let (a, b) = self.window.as_slices();
        let all = [a, b, &self.tail[..]];
        let len: usize = all.iter().map(|s| s.len()).sum();
        let mut skip = len.saturating_sub(WINDOW);
        let mut window = Vec::with_capacity(len - skip);
        for s in all {
            let from = skip.min(s.len());
            window.extend_from_slice(&s[from..]);
            skip -= from;
        }
        window
    }

    /// Does a fresh decompressor, given the window the last message started with and that
    /// message's compressed bytes (with the sync tail), give the same output, and end at a
    /// block boundary (it then takes an empty final block, `03 00`, and ends)? Then the window
    /// alone stands for the decompressor that inflated it: a sender that ended a message
    /// inside a block (RFC 7692 §7.2.1 says it must not) fails the test.
    fn inflates_again_to_a_boundary(&mut self) -> bool {
        if self.input_overflow || self.reset_inside || self.ended != Some(true) {
            return false;
        }
        let mut twin = Decompress::new(false);
        if !self.window.is_empty() && twin.set_dictionary(self.window.make_contiguous()).is_err() {
            return false;
        }
        let mut out = vec![0u8; WINDOW];
        let mut tail = Vec::new();
        let mut input = &self.input[..];
        while !input.is_empty() {
            let (before_in, before_out) = (twin.total_in(), twin.total_out());
            let status = twin.decompress(input, &mut out, FlushDecompress::Sync);
            let used = (twin.total_in() - before_in) as usize;
            let made = (twin.total_out() - before_out) as usize;
            input = &input[used..];
            tail.extend_from_slice(&out[..made]);
            if tail.len() > 2 * WINDOW {
                tail.drain(..tail.len() - WINDOW);
            }
            match status {
                Ok(Status::Ok | Status::BufError) if used > 0 || made > 0 => {}
                _ => return false,
            }
        }
        let same = twin.total_out() == self.output_len && {
            let k = tail.len().min(self.tail.len());
            tail[tail.len() - k..] == self.tail[self.tail.len() - k..]
        };
        let before_out = twin.total_out();
        let end = twin.decompress(&[0x03, 0x00], &mut out, FlushDecompress::Sync);
        same && matches!(end, Ok(Status::StreamEnd)) && twin.total_out() == before_out
    }

    /// zlib's reason for the current message's failure, found on the slow path; `None` when
    /// the bytes were too many to keep, or they inflate after all.
    fn reason(&mut self) -> Option<String> {
        if self.input_overflow {
            return None;
        }
        let mut state = Decompress::new(false);
        if !self.window.is_empty() {
            state.set_dictionary(self.window.make_contiguous()).ok()?;
        }
        let mut out = [0u8; SLOW_PATH_OUT];
        let mut input = &self.input[..];
        loop {
            let (before_in, before_out) = (state.total_in(), state.total_out());
            let status = state.decompress(input, &mut out, FlushDecompress::Sync);
            let used = (state.total_in() - before_in) as usize;
            let made = state.total_out() - before_out;
            input = &input[used..];
            match status {
                Err(e) => return Some(e.to_string()),
                Ok(Status::StreamEnd) => state.reset(false),
                Ok(_) if used == 0 && made == 0 => return None,
                Ok(_) => {}
            }
        }
    }
}

/// Empty `v`, letting its allocation go when a large message grew it.
fn clear_or_let_go(v: &mut Vec<u8>) {
    if v.capacity() > REPLAY_KEEP {
        *v = Vec::new();
    } else {
        v.clear();
    }
}

/// The window, deflated at the fastest level: a text window of 32 KiB takes a few KiB.
fn pack(window: &[u8]) -> Option<Box<[u8]>> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(window).ok()?;
    Some(enc.finish().ok()?.into_boxed_slice())
}

/// The window again from [`pack`]'s bytes.
fn unpack(packed: &[u8]) -> Option<Vec<u8>> {
    let mut window = Vec::with_capacity(WINDOW);
    let dec = flate2::read::DeflateDecoder::new(packed);
    dec.take(WINDOW as u64 + 1).read_to_end(&mut window).ok()?;
    (window.len() <= WINDOW).then_some(window)
}

/// One direction's decompressor.
///
/// An idle one is compacted ([`Inflater::compact`]): zlib's state (about 40 KiB with its
/// window), the output buffer and the replay go, and with context takeover the window is kept
/// deflated; the next message's first bytes make the decompressor again with that window as
/// its preset dictionary.
#[derive(Debug)]
pub struct Inflater {
    /// None while compacted.
    state: Option<Decompress>,
    /// Reset the window after each message (`*_no_context_takeover`).
    reset_per_message: bool,
    /// The sliding window is unknown (a message was lost, or inflation failed earlier) and
    /// takeover is on: later messages cannot be inflated correctly.
    context_lost: bool,
    out_buf: Vec<u8>,
    produced: u64,
    failed: Option<InflateError>,
    replay: Replay,
    /// Compacted with context takeover: the window, deflated ([`pack`]).
    packed: Option<Box<[u8]>>,
}

/// The output buffer handed to zlib.
const OUT_BUF: usize = 32 * 1024;

impl Inflater {
    /// A decompressor for a new stream. It starts compacted: nothing is allocated until the
    /// first compressed byte.
    pub fn new(reset_per_message: bool) -> Inflater {
        Inflater {
            state: None,
            reset_per_message,
            context_lost: false,
            out_buf: Vec::new(),
            produced: 0,
            failed: None,
            replay: Replay::default(),
            packed: None,
        }
    }

    /// Make the decompressor again if it was compacted: a fresh one, with the kept window as
    /// its preset dictionary.
    fn live(&mut self) -> &mut Decompress {
        if self.state.is_none() {
            // Raw DEFLATE (no zlib header). The largest window inflates any smaller one.
            let mut state = Decompress::new(false);
            if let Some(packed) = self.packed.take() {
                let window = unpack(&packed);
                let set = window
                    .as_ref()
                    .is_some_and(|w| state.set_dictionary(w).is_ok());
                if !set {
                    self.context_lost = !self.reset_per_message;
                }
                self.replay.window = window.unwrap_or_default().into();
            }
            self.out_buf = vec![0; OUT_BUF];
            self.state = Some(state);
        }
        self.state.get_or_insert_with(|| Decompress::new(false))
    }

    /// Between messages (the direction is idle): let go of zlib's state and the buffers, and
    /// keep only what the next message needs, which is nothing without context takeover, else
    /// the window, deflated. Only when that is exact: not inside a message, not after a
    /// failure, and with takeover only when the last message inflates again from its starting
    /// window to the same output and a block boundary
    /// ([`Replay::inflates_again_to_a_boundary`]), so the restored decompressor gives exactly
    /// the bytes this one would.
    pub fn compact(&mut self) {
        let Some(state) = &self.state else {
            return;
        };
        // Fresh, or made again from a kept window and not fed since: that window is all.
        let untouched = state.total_in() == 0 && self.replay.ended.is_none();
        let between = self.replay.ended.is_some() || untouched;
        if !between || self.context_lost || self.failed.is_some() || self.produced != 0 {
            return;
        }
        if self.reset_per_message || (untouched && self.replay.window.is_empty()) {
            self.packed = None;
        } else if untouched {
            let Some(packed) = pack(self.replay.window.make_contiguous()) else {
                return;
            };
            self.packed = Some(packed);
        } else if self.replay.inflates_again_to_a_boundary() {
            let Some(packed) = pack(&self.replay.next_window()) else {
                return;
            };
            self.packed = Some(packed);
        } else {
            return;
        }
        self.state = None;
        self.out_buf = Vec::new();
        self.replay = Replay::default();
    }

    /// Compacted ([`Inflater::compact`]): what is kept, if anything (for tests).
    pub fn packed_len(&self) -> Option<usize> {
        self.state
            .is_none()
            .then(|| self.packed.as_ref().map_or(0, |p| p.len()))
    }

    /// The message being inflated was abandoned part-way (a new message began): forget it.
    /// Without context takeover the next message starts afresh; with it the window now holds
    /// half a message, so it is unknown.
    pub fn abandon_message(&mut self) {
        self.failed = None;
        self.produced = 0;
        self.replay.settle();
        self.replay.forget_message();
        if self.reset_per_message {
            self.live().reset(false);
        } else {
            self.context_lost = true;
        }
    }

    /// Forget the window and any failure: the next message starts a fresh stream.
    pub fn reset(&mut self) {
        self.state = None;
        self.packed = None;
        self.out_buf = Vec::new();
        self.replay = Replay::default();
        self.context_lost = false;
        self.failed = None;
        self.produced = 0;
    }

    /// The window is unknown; inflation of later messages is not to be trusted.
    pub fn context_lost(&self) -> bool {
        self.context_lost
    }

    /// Mark the window as unknown (capture gap inside a compressed message).
    pub fn lose_context(&mut self) {
        if !self.reset_per_message {
            self.context_lost = true;
        }
    }

    /// Inflate the next compressed bytes of the current message, handing output to `out`.
    /// Stops (and remembers why) at the first error or when `limit` output bytes were produced.
    pub fn feed(&mut self, mut input: &[u8], limit: u64, out: &mut dyn FnMut(&[u8])) {
        self.live();
        self.replay.settle();
        if self.failed.is_none() {
            self.replay.record_input(input);
        }
        while self.failed.is_none() && !input.is_empty() {
            let Some(state) = self.state.as_mut() else {
                return; // made by `live` above
            };
            let before_in = state.total_in();
            let before_out = state.total_out();
            let status = state.decompress(input, &mut self.out_buf, FlushDecompress::Sync);
            let used = (state.total_in() - before_in) as usize;
            let made = (state.total_out() - before_out) as usize;
            input = &input[used..];
            if made > 0 {
                if !self.reset_per_message {
                    self.replay.record_output(&self.out_buf[..made]);
                }
                let allowed = limit.saturating_sub(self.produced).min(made as u64) as usize;
                out(&self.out_buf[..allowed]);
                self.produced += made as u64;
                if self.produced > limit {
                    self.failed = Some(InflateError::Limit(limit));
                    self.context_lost = !self.reset_per_message;
                    return;
                }
            }
            match status {
                Err(e) => {
                    let why = corrupt_reason(&e).unwrap_or_else(|| {
                        (self.replay.reason()).unwrap_or_else(|| GENERAL_REASON.to_string())
                    });
                    self.failed = Some(InflateError::Corrupt(why));
                    self.context_lost = !self.reset_per_message;
                }
                // A final block ends the stream: RFC 7692 senders must not do this with takeover
                // on, but some do; later messages then start a new stream.
                Ok(Status::StreamEnd) => {
                    self.live().reset(false);
                    self.replay.tail.clear();
                    self.replay.reset_inside = true;
                    if !input.is_empty() && used == 0 {
                        continue;
                    }
                }
                Ok(_) if used == 0 && made == 0 => return,
                Ok(_) => {}
            }
        }
    }

    /// End of the message: inflate the stripped sync tail, then reset if takeover is off.
    /// Returns the reason inflation failed for this message, if it did.
    pub fn finish_message(
        &mut self,
        limit: u64,
        out: &mut dyn FnMut(&[u8]),
    ) -> Option<InflateError> {
        self.feed(&SYNC_TAIL, limit, out);
        let failed = self.failed.take();
        self.produced = 0;
        self.replay.next_message(!self.reset_per_message);
        if self.reset_per_message {
            self.live().reset(false);
            self.context_lost = false;
        } else if failed.is_some() {
            self.context_lost = true;
        }
        failed
    }
}

/// Said when zlib's reason cannot be found again (the message was longer than the replay keeps).
const GENERAL_REASON: &str = "deflate decompression error: invalid compressed data";

/// What zlib-rs says is wrong with the compressed bytes, or `None` when it hid the reason.
/// zlib-rs 0.6.8 loses the reason of an error found on its fast path (taken when a call has
/// enough input and output room): its message is overwritten with "repeated call with bad
/// state". This inflater never calls again after a failure, so that text only ever stands for
/// a reason zlib-rs hid; [`Replay`] finds it.
fn corrupt_reason(e: &flate2::DecompressError) -> Option<String> {
    let why = e.to_string();
    (!why.ends_with("repeated call with bad state")).then_some(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_messages(inf: &mut Inflater, msgs: &[&[u8]]) -> Vec<Result<Vec<u8>, InflateError>> {
        msgs.iter()
            .map(|m| {
                let mut got = Vec::new();
                // Byte at a time: the worst case for chunking.
                for b in m.iter() {
                    inf.feed(std::slice::from_ref(b), 1 << 20, &mut |o| {
                        got.extend_from_slice(o)
                    });
                }
                match inf.finish_message(1 << 20, &mut |o| got.extend_from_slice(o)) {
                    None => Ok(got),
                    Some(e) => Err(e),
                }
            })
            .collect()
    }

    #[test]
    fn rfc7692_7_2_3_1_shared_window() {
        // "Hello" twice; the second message refers back into the first one's window.
        let mut inf = Inflater::new(false);
        let out = inflate_messages(
            &mut inf,
            &[
                &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
                &[0xf2, 0x00, 0x11, 0x00, 0x00],
            ],
        );
        assert_eq!(out, vec![Ok(b"Hello".to_vec()), Ok(b"Hello".to_vec())]);
    }

    #[test]
    fn rfc7692_7_2_3_2_no_compression_block_and_7_2_3_3_two_blocks() {
        let mut inf = Inflater::new(true);
        let out = inflate_messages(
            &mut inf,
            &[
                &[
                    0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
                ],
                &[
                    0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
                ],
            ],
        );
        assert_eq!(out, vec![Ok(b"Hello".to_vec()), Ok(b"Hello".to_vec())]);
    }

    #[test]
    fn rfc7692_7_2_3_4_bfinal_set() {
        let mut inf = Inflater::new(false);
        let out = inflate_messages(
            &mut inf,
            &[&[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]],
        );
        assert_eq!(out, vec![Ok(b"Hello".to_vec())]);
    }

    #[test]
    fn empty_compressed_message_is_one_zero_byte() {
        let mut inf = Inflater::new(false);
        assert_eq!(inflate_messages(&mut inf, &[&[0x00]]), vec![Ok(vec![])]);
    }

    #[test]
    fn bomb_stops_at_the_limit() {
        use flate2::{write::DeflateEncoder, Compression};
        use std::io::Write;
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::best());
        enc.write_all(&vec![0u8; 8 << 20]).unwrap();
        let mut bomb = enc.finish().unwrap();
        assert!(bomb.len() < 100_000);
        bomb.truncate(bomb.len());
        let mut inf = Inflater::new(true);
        let mut total = 0usize;
        inf.feed(&bomb, 1 << 20, &mut |o| total += o.len());
        assert_eq!(
            inf.finish_message(1 << 20, &mut |o| total += o.len()),
            Some(InflateError::Limit(1 << 20))
        );
        assert_eq!(total, 1 << 20);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut inf = Inflater::new(false);
        let out = inflate_messages(&mut inf, &[&[0xff, 0xff, 0xff, 0xff, 0x12]]);
        assert!(matches!(out[0], Err(InflateError::Corrupt(_))));
        assert!(inf.context_lost());
    }

    /// Found by the ws_session fuzz target: fed in one call, these bytes failed with zlib-rs's
    /// "repeated call with bad state" (its fast path hides the reason); a few bytes at a time,
    /// with "invalid distance too far back".
    #[test]
    fn a_hidden_zlib_reason_is_not_reported_as_a_repeated_call() {
        let bytes = [
            0x3b, 0x03, 0x64, 0x62, 0x3f, 0x02, 0x1a, 0x91, 0x93, 0x22, 0x56, 0xec, 0x9c, 0x01,
            0xfd, 0x82, 0xf2, 0x64,
        ];
        let mut whole = Inflater::new(false);
        let mut out = Vec::new();
        whole.feed(&bytes, 1 << 20, &mut |o| out.extend_from_slice(o));
        let Some(InflateError::Corrupt(why)) = whole.finish_message(1 << 20, &mut |_| {}) else {
            panic!("expected a corrupt-data error");
        };
        assert_eq!(
            why,
            "deflate decompression error: invalid distance too far back"
        );
        let mut chunked = Inflater::new(false);
        let mut out2 = Vec::new();
        for c in bytes.chunks(4) {
            chunked.feed(c, 1 << 20, &mut |o| out2.extend_from_slice(o));
        }
        assert_eq!(
            chunked.finish_message(1 << 20, &mut |_| {}),
            Some(InflateError::Corrupt(why))
        );
        assert_eq!(out, out2);
    }

    /// The same bytes as one permessage-deflate message without context takeover, as the
    /// capture samples/hostile/failures/deflate-too-far-back.pcap carries them.
    #[test]
    fn zlibs_reason_without_context_takeover() {
        let bytes = [
            0x3b, 0x03, 0x64, 0x62, 0x3f, 0x02, 0x1a, 0x91, 0x93, 0x22, 0x56, 0xec, 0x9c, 0x01,
            0xfd, 0x82, 0xf2, 0x64,
        ];
        let mut inf = Inflater::new(true);
        inf.feed(&bytes, 1 << 20, &mut |_| {});
        assert_eq!(
            inf.finish_message(1 << 20, &mut |_| {}),
            Some(InflateError::Corrupt(
                "deflate decompression error: invalid distance too far back".into()
            ))
        );
    }

    /// With context takeover the replay starts from the window the message started with: a
    /// second message that copies from the first replays cleanly with it, and fails "too far
    /// back" without it (so a reason found again is the one the real window gives).
    #[test]
    fn the_replay_starts_from_the_messages_window() {
        use flate2::{Compress, Compression, FlushCompress};
        let mut c = Compress::new(Compression::default(), false);
        let mut messages = Vec::new();
        for text in [
            &b"the quick brown fox jumps over the lazy dog. "[..],
            b"the lazy dog. the quick brown fox.",
        ] {
            let mut out = Vec::with_capacity(256);
            c.compress_vec(text, &mut out, FlushCompress::Sync).unwrap();
            assert!(out.ends_with(&SYNC_TAIL));
            out.truncate(out.len() - 4);
            messages.push(out);
        }
        let mut inf = Inflater::new(false);
        let mut got = Vec::new();
        for m in &messages[..1] {
            inf.feed(m, 1 << 20, &mut |o| got.extend_from_slice(o));
            assert_eq!(inf.finish_message(1 << 20, &mut |_| {}), None);
        }
        inf.feed(&messages[1], 1 << 20, &mut |_| {});
        assert_eq!(inf.replay.reason(), None, "the window makes it valid");
        let mut without = Replay::default();
        without.record_input(&messages[1]);
        assert_eq!(
            without.reason().as_deref(),
            Some("deflate decompression error: invalid distance too far back")
        );
    }

    /// Messages as a sender with context takeover makes them: each ends with a sync flush,
    /// whose 4-byte tail is stripped (RFC 7692 §7.2.1).
    fn takeover_messages(texts: &[Vec<u8>]) -> Vec<Vec<u8>> {
        use flate2::{Compress, FlushCompress};
        let mut c = Compress::new(Compression::default(), false);
        texts
            .iter()
            .map(|text| {
                let mut out = Vec::with_capacity(text.len() + 1024);
                c.compress_vec(text, &mut out, FlushCompress::Sync).unwrap();
                assert!(out.ends_with(&SYNC_TAIL));
                out.truncate(out.len() - 4);
                out
            })
            .collect()
    }

    /// Text that refers back to earlier messages, `n` messages, one larger than the window.
    fn conversation(n: usize) -> Vec<Vec<u8>> {
        let words = [
            "alpha ",
            "bravo ",
            "charlie ",
            "delta ",
            "{\"seq\":",
            "42, ",
            "echo\n",
        ];
        let mut x = 7u32;
        (0..n)
            .map(|i| {
                let len = if i == n / 2 {
                    40 << 10
                } else {
                    10 + (i * 397) % 3000
                };
                let mut t = Vec::with_capacity(len);
                while t.len() < len {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    t.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
                    if x % 5 == 0 {
                        t.push((x >> 8) as u8);
                    }
                }
                t.truncate(len);
                t
            })
            .collect()
    }

    /// One message, `chunk` bytes at a time.
    fn inflate_one(inf: &mut Inflater, m: &[u8], chunk: usize) -> Result<Vec<u8>, InflateError> {
        let mut got = Vec::new();
        for c in m.chunks(chunk) {
            inf.feed(c, 1 << 20, &mut |o| got.extend_from_slice(o));
        }
        match inf.finish_message(1 << 20, &mut |o| got.extend_from_slice(o)) {
            None => Ok(got),
            Some(e) => Err(e),
        }
    }

    #[test]
    fn a_compacted_inflater_gives_the_same_bytes() {
        let texts = conversation(60);
        let messages = takeover_messages(&texts);
        let mut plain = Inflater::new(false);
        let mut compacted = Inflater::new(false);
        for (i, (m, text)) in messages.iter().zip(&texts).enumerate() {
            let a = inflate_one(&mut plain, m, m.len().max(1));
            let b = inflate_one(&mut compacted, m, i % 7 + 1);
            assert_eq!(a.as_ref(), Ok(text), "message {i}");
            assert_eq!(a, b, "message {i}");
            compacted.compact();
            let packed = compacted.packed_len().expect("compacted");
            // The window (up to 32 KiB of this text, with a byte in five random) takes a few
            // KiB deflated.
            assert!(packed <= 12 << 10, "message {i}: {packed} bytes kept");
            if i % 3 == 0 {
                compacted.compact(); // again, before any byte: the same window is kept
            }
        }
    }

    #[test]
    fn without_takeover_a_compacted_inflater_keeps_nothing() {
        let texts = conversation(6);
        let mut c = Vec::new();
        for t in &texts {
            c.push(takeover_messages(std::slice::from_ref(t)).remove(0));
        }
        let mut inf = Inflater::new(true);
        for (m, t) in c.iter().zip(&texts) {
            assert_eq!(inflate_one(&mut inf, m, 5).as_ref(), Ok(t));
            inf.compact();
            assert_eq!(inf.packed_len(), Some(0));
        }
    }

    /// A sender that ends a message inside a block (RFC 7692 says it must not): the window
    /// alone cannot stand for the decompressor, so it is not compacted, and the bytes are
    /// those of an inflater never compacted.
    #[test]
    fn a_message_ending_inside_a_block_is_not_compacted() {
        use flate2::{Compress, FlushCompress};
        let text = b"inside a block, inside a block, inside a block: no flush here ".repeat(40);
        let mut c = Compress::new(Compression::default(), false);
        let mut whole = Vec::with_capacity(4096);
        c.compress_vec(&text, &mut whole, FlushCompress::Sync)
            .unwrap();
        let cut = whole.len() / 2;
        let messages = [&whole[..cut], &whole[cut..whole.len() - 4], &whole[..0]];
        let mut plain = Inflater::new(false);
        let mut compacted = Inflater::new(false);
        for (i, m) in messages.iter().enumerate() {
            let a = inflate_one(&mut plain, m, 3);
            let b = inflate_one(&mut compacted, m, 3);
            assert_eq!(a, b, "message {i}");
            compacted.compact();
            if i == 0 {
                assert_eq!(
                    compacted.packed_len(),
                    None,
                    "message {i} ended inside a block"
                );
            }
        }
    }

    #[test]
    fn params_from_extension() {
        let ext = &crate::http::parse_extensions(
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        )[0];
        let p = DeflateParams::from_extension(ext);
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        assert_eq!(p.client_max_window_bits, Some(10));
    }
}
