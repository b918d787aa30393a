//! permessage-deflate (RFC 7692): negotiated parameters, and inflating one direction's
//! compressed messages, incrementally and with a bound on the inflated size.
//!
//! Backend: flate2 on zlib-rs. flate2's default pure-Rust backend (miniz_oxide) failed on the
//! RFC 7692 §7.2.3.1 example when a message is inflated without a final block
//! (rust-lang/flate2-rs#389, Frommi/miniz_oxide#143) — exactly what permessage-deflate does. The
//! test `rfc7692_7_2_3_1_shared_window` pins the case.

use std::collections::VecDeque;

use flate2::{Decompress, FlushDecompress, Status};

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
}

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
        self.tail.extend_from_slice(data);
        if self.tail.len() > 2 * WINDOW {
            self.tail.drain(..self.tail.len() - WINDOW);
        }
    }

    /// The message ended: its tail becomes the window the next message starts with.
    fn next_message(&mut self, keep_window: bool) {
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
        self.tail.clear();
        self.reset_inside = false;
        self.input.clear();
        self.input_overflow = false;
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

/// One direction's decompressor.
#[derive(Debug)]
pub struct Inflater {
    state: Decompress,
    /// Reset the window after each message (`*_no_context_takeover`).
    reset_per_message: bool,
    /// The sliding window is unknown (a message was lost, or inflation failed earlier) and
    /// takeover is on: later messages cannot be inflated correctly.
    context_lost: bool,
    out_buf: Vec<u8>,
    produced: u64,
    failed: Option<InflateError>,
    replay: Replay,
}

impl Inflater {
    pub fn new(reset_per_message: bool) -> Inflater {
        Inflater {
            // Raw DEFLATE (no zlib header). The largest window inflates any smaller one.
            state: Decompress::new(false),
            reset_per_message,
            context_lost: false,
            out_buf: vec![0; 32 * 1024],
            produced: 0,
            failed: None,
            replay: Replay::default(),
        }
    }

    /// The message being inflated was abandoned part-way (a new message began): forget it.
    /// Without context takeover the next message starts afresh; with it the window now holds
    /// half a message, so it is unknown.
    pub fn abandon_message(&mut self) {
        self.failed = None;
        self.produced = 0;
        self.replay.forget_message();
        if self.reset_per_message {
            self.state.reset(false);
        } else {
            self.context_lost = true;
        }
    }

    /// Forget the window and any failure: the next message starts a fresh stream.
    pub fn reset(&mut self) {
        self.state.reset(false);
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
        if self.failed.is_none() {
            self.replay.record_input(input);
        }
        while self.failed.is_none() && !input.is_empty() {
            let before_in = self.state.total_in();
            let before_out = self.state.total_out();
            let status = self
                .state
                .decompress(input, &mut self.out_buf, FlushDecompress::Sync);
            let used = (self.state.total_in() - before_in) as usize;
            let made = (self.state.total_out() - before_out) as usize;
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
                    self.state.reset(false);
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
            self.state.reset(false);
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
