//! Message bodies (RFC 9112 §6): how each one's end is known, and skipping one as its bytes
//! stream by. Bodies are never kept; knowing where they end is what lets a connection be
//! followed past exchanges that come before the upgrade (keep-alive, a refused upgrade and its
//! retry).

use super::{Request, Response};

/// Longest chunk-size line (with extensions) or trailer line believed.
const MAX_CHUNK_LINE: u64 = 4096;

/// How the end of a body is known (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLen {
    Empty,
    Fixed(u64),
    Chunked,
    /// The body runs to the end of the connection, or its framing cannot be read: nothing after
    /// it on this connection can be found.
    UntilClose,
}

/// Framing from `Transfer-Encoding` and `Content-Length`, or None when the head gives neither.
fn framing(headers: &super::Headers) -> Option<BodyLen> {
    let codings = headers.list("Transfer-Encoding");
    if let Some(last) = codings.last() {
        // Chunked must be the final coding; any other leaves the end to the connection's close.
        return Some(if last.eq_ignore_ascii_case("chunked") {
            BodyLen::Chunked
        } else {
            BodyLen::UntilClose
        });
    }
    let mut lengths = headers.values("Content-Length").flat_map(|v| v.split(','));
    let first = lengths.next()?.trim();
    let same = lengths.all(|v| v.trim() == first);
    let n = first
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| first.parse::<u64>().ok())
        .flatten();
    Some(match n {
        Some(0) if same => BodyLen::Empty,
        Some(n) if same => BodyLen::Fixed(n),
        _ => BodyLen::UntilClose,
    })
}

/// A request without framing has no body (RFC 9112 §6.3 item 7).
pub fn request_body(req: &Request) -> BodyLen {
    framing(&req.headers).unwrap_or(BodyLen::Empty)
}

/// The body of a response to a `method` request (RFC 9112 §6.3 items 1-2, 8).
pub fn response_body(method: &str, resp: &Response) -> BodyLen {
    let status = resp.status;
    if method.eq_ignore_ascii_case("HEAD") || status < 200 || status == 204 || status == 304 {
        return BodyLen::Empty;
    }
    if method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status) {
        return BodyLen::UntilClose;
    }
    framing(&resp.headers).unwrap_or(BodyLen::UntilClose)
}

/// Where a body being skipped has got to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Bytes of a fixed-length body or of a chunk's data still to come.
    Data { left: u64, chunked: bool },
    /// Reading a chunk-size line: the size so far, its digits, and the line's length.
    Size {
        size: u64,
        digits: u8,
        len: u64,
        ext: bool,
    },
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines, then an empty line. `len` is the current line's.
    Trailer { len: u64 },
}

/// Skips one body as it streams by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodySkip(State);

/// What a call to [`BodySkip::skip`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// Every byte given belongs to the body, which goes on.
    More,
    /// The body ended after this many of the bytes given.
    Done(usize),
    /// The chunked framing is broken at this many bytes into those given: where the body
    /// ends cannot be known.
    Invalid(usize),
}

impl BodySkip {
    /// A skipper for a body of known end; None for an empty body or one that runs to the close.
    pub fn new(len: BodyLen) -> Option<BodySkip> {
        match len {
            BodyLen::Fixed(n) if n > 0 => Some(BodySkip(State::Data {
                left: n,
                chunked: false,
            })),
            BodyLen::Chunked => Some(BodySkip(State::Size {
                size: 0,
                digits: 0,
                len: 0,
                ext: false,
            })),
            _ => None,
        }
    }

    pub fn skip(&mut self, bytes: &[u8]) -> Skipped {
        let mut at = 0;
        while at < bytes.len() {
            match self.0 {
                State::Data { left, chunked } => {
                    let n = left.min((bytes.len() - at) as u64);
                    at += n as usize;
                    self.0 = match (left - n, chunked) {
                        (0, false) => return Skipped::Done(at),
                        (0, true) => State::DataEnd,
                        (left, _) => State::Data { left, chunked },
                    };
                }
                state => {
                    match step(state, bytes[at]) {
                        Step::Next(next) => self.0 = next,
                        Step::End => return Skipped::Done(at + 1),
                        Step::Broken => return Skipped::Invalid(at),
                    }
                    at += 1;
                }
            }
        }
        Skipped::More
    }
}

enum Step {
    Next(State),
    End,
    Broken,
}

/// One byte of chunked framing (RFC 9112 §7.1): sizes in hex, extensions ignored, bare LF
/// accepted as line end (as Node and `websockets` do).
fn step(state: State, b: u8) -> Step {
    let line_too_long = |len: u64| len >= MAX_CHUNK_LINE;
    match state {
        State::Size { len, .. } if line_too_long(len) => Step::Broken,
        State::Size {
            size,
            digits,
            len,
            ext,
        } => match (b, ext) {
            (b'\n', _) if digits == 0 => Step::Broken,
            (b'\n', _) if size == 0 => Step::Next(State::Trailer { len: 0 }),
            (b'\n', _) => Step::Next(State::Data {
                left: size,
                chunked: true,
            }),
            (b'\r', _) | (_, true) => Step::Next(State::Size {
                size,
                digits,
                len: len + 1,
                ext,
            }),
            (b';' | b' ' | b'\t', false) => Step::Next(State::Size {
                size,
                digits,
                len: len + 1,
                ext: true,
            }),
            (_, false) => match (b as char).to_digit(16) {
                // 15 hex digits keep the size below 2^60: no overflow, and no real body is near.
                Some(d) if digits < 15 => Step::Next(State::Size {
                    size: size * 16 + u64::from(d),
                    digits: digits + 1,
                    len: len + 1,
                    ext,
                }),
                _ => Step::Broken,
            },
        },
        State::DataEnd => match b {
            b'\r' => Step::Next(State::DataEnd),
            b'\n' => Step::Next(State::Size {
                size: 0,
                digits: 0,
                len: 0,
                ext: false,
            }),
            _ => Step::Broken,
        },
        State::Trailer { len } if line_too_long(len) => Step::Broken,
        State::Trailer { len } => match b {
            b'\r' => Step::Next(State::Trailer { len }),
            b'\n' if len == 0 => Step::End,
            b'\n' => Step::Next(State::Trailer { len: 0 }),
            _ => Step::Next(State::Trailer { len: len + 1 }),
        },
        State::Data { .. } => unreachable!("data is skipped in bulk"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_response, Head};

    fn skip_all(len: BodyLen, bytes: &[u8], split: usize) -> Skipped {
        let mut s = BodySkip::new(len).unwrap();
        match s.skip(&bytes[..split]) {
            Skipped::More => match s.skip(&bytes[split..]) {
                Skipped::Done(n) => Skipped::Done(split + n),
                other => other,
            },
            other => other,
        }
    }

    #[test]
    fn chunked_bodies_end_after_their_trailers_at_any_split() {
        let body = b"5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for split in 0..body.len() {
            assert_eq!(
                skip_all(BodyLen::Chunked, body, split),
                Skipped::Done(body.len() - 4),
                "split at {split}"
            );
        }
        assert_eq!(skip_all(BodyLen::Fixed(3), b"abcdef", 1), Skipped::Done(3));
    }

    #[test]
    fn broken_chunk_framing_is_invalid_not_endless() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"1234567890abcdef0\r\n",
            b"1\r\naXX",
        ] {
            let got = skip_all(BodyLen::Chunked, bad, 0);
            assert!(matches!(got, Skipped::Invalid(_)), "{bad:?}");
        }
        let long = vec![b'a'; 5000];
        let mut s = BodySkip::new(BodyLen::Chunked).unwrap();
        assert_eq!(s.skip(b"1;"), Skipped::More);
        assert_eq!(s.skip(&long), Skipped::Invalid(4094));
    }

    #[test]
    fn response_bodies_follow_rfc_9112_6_3() {
        let resp = |h: &[u8]| match parse_response(h) {
            Head::Complete(r, _) => r,
            other => panic!("{other:?}"),
        };
        let ok = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(response_body("GET", &ok), BodyLen::Fixed(12));
        assert_eq!(response_body("HEAD", &ok), BodyLen::Empty);
        let cont = resp(b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(response_body("POST", &cont), BodyLen::Empty);
        let chunked = resp(
            b"HTTP/1.1 401 No\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
        );
        assert_eq!(response_body("GET", &chunked), BodyLen::Chunked);
        let bare = resp(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(response_body("GET", &bare), BodyLen::UntilClose);
        let twice = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n");
        assert_eq!(response_body("GET", &twice), BodyLen::UntilClose);
    }
}
