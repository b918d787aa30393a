//! Request and response heads (RFC 9112 §2-§5), read as real peers read them. A head that
//! httparse refuses is read again the way Node's `http` server or Python `websockets` read it
//! (empty lines before the request, extra spaces in the request line, control bytes in the
//! target, any number of header lines): the passive observer shows what the endpoint accepted,
//! and each liberty taken is kept as a [`Leniency`] for the layer above to report.

use super::{Head, Headers, Request, Response};
use crate::base::rules::{self, Rule};

/// Longest request or response head buffered (leading empty lines included). It also bounds the
/// number of header lines: at 3 bytes a line at least (`a:` and LF), about 21,800.
pub const MAX_HEAD_LEN: usize = 64 * 1024;
/// Header lines read without allocating; a head with more is read again with room for all.
pub const MAX_HEADERS: usize = 128;

/// Something a head breaks that real peers accept. The head is still read; each is reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leniency {
    /// This many empty lines came before the request line. RFC 9112 §2.2: a server SHOULD
    /// ignore at least one; Node ignores any number.
    LeadingEmptyLines(usize),
    /// More than [`MAX_HEADERS`] header lines (Node reads up to 2000 by default).
    ManyHeaders(usize),
    /// The request target holds bytes below 0x21 or 0x7F, which RFC 3986 does not allow;
    /// Python `websockets` passes them through.
    TargetControlBytes,
    /// More than one space between the parts of the request line (RFC 9112 §3 asks for one;
    /// Node accepts more).
    RequestLineSpaces,
}

impl Leniency {
    /// The rule that names it.
    pub fn rule(&self) -> &'static Rule {
        match self {
            Leniency::LeadingEmptyLines(_) => &rules::HTTP_LEADING_EMPTY_LINE,
            Leniency::ManyHeaders(_) => &rules::HTTP_MANY_HEADERS,
            Leniency::TargetControlBytes => &rules::HTTP_TARGET_CONTROL_BYTES,
            Leniency::RequestLineSpaces => &rules::HTTP_REQUEST_LINE_SPACES,
        }
    }

    /// One sentence saying what was accepted.
    pub fn describe(&self) -> String {
        match self {
            Leniency::LeadingEmptyLines(n) => {
                format!("{n} empty line(s) before the request line, skipped as servers do")
            }
            Leniency::ManyHeaders(n) => {
                format!("{n} header lines, more than the usual limit of {MAX_HEADERS}")
            }
            Leniency::TargetControlBytes => {
                "the request target holds control bytes (shown escaped)".to_string()
            }
            Leniency::RequestLineSpaces => {
                "more than one space between the parts of the request line".to_string()
            }
        }
    }
}

/// Does `buf[from..]` hold the blank line that ends a head (`\n\r\n` or `\n\n`)? The search
/// starts 3 bytes early so a terminator split across chunks is found; callers use it to parse
/// a growing head only when it may be complete, which keeps a head sent one byte per segment
/// linear.
pub fn blank_line_in(buf: &[u8], from: usize) -> bool {
    let from = from.saturating_sub(3).min(buf.len());
    let tail = &buf[from..];
    tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n")
}

/// Empty lines (CRLF or bare LF) at the start of `buf`: how many, and how many bytes.
fn leading_empty_lines(buf: &[u8]) -> (usize, usize) {
    let (mut lines, mut at) = (0, 0);
    loop {
        if buf[at..].starts_with(b"\r\n") {
            at += 2;
        } else if buf[at..].starts_with(b"\n") {
            at += 1;
        } else {
            return (lines, at);
        }
        lines += 1;
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn collect_headers(raw: &[httparse::Header<'_>]) -> Headers {
    Headers(
        raw.iter()
            .map(|h| (h.name.to_string(), lossy(h.value).trim().to_string()))
            .collect(),
    )
}

/// Room for every header line a head at the start of `buf` can hold: one per line feed in
/// its first [`MAX_HEAD_LEN`] bytes (what follows a head, such as frames, is not counted).
fn header_room<'b>(buf: &[u8]) -> Vec<httparse::Header<'b>> {
    let head = &buf[..buf.len().min(MAX_HEAD_LEN)];
    let lines = head.iter().filter(|&&b| b == b'\n').count();
    vec![httparse::EMPTY_HEADER; lines + 1]
}

/// A partial head: more bytes may complete it, unless it is already too long.
fn partial<T>(len: usize, what: &str) -> Head<T> {
    if len < MAX_HEAD_LEN {
        Head::Incomplete
    } else {
        Head::Invalid(format!("{what} head longer than {MAX_HEAD_LEN} bytes"))
    }
}

pub fn parse_request(buf: &[u8]) -> Head<Request> {
    let (empty_lines, skip) = leading_empty_lines(buf);
    let mut head = match strict_request(&buf[skip..]) {
        Head::Invalid(why) => match lax_request(&buf[skip..]) {
            Head::Invalid(_) => Head::Invalid(why),
            other => other,
        },
        other => other,
    };
    match &mut head {
        Head::Complete(req, used) => {
            *used += skip;
            if empty_lines > 0 {
                req.leniencies
                    .insert(0, Leniency::LeadingEmptyLines(empty_lines));
            }
        }
        Head::Incomplete => return partial(buf.len(), "request"),
        Head::Invalid(_) => {}
    }
    head
}

/// httparse's reading, with room for more than [`MAX_HEADERS`] lines when there are more.
fn strict_request(buf: &[u8]) -> Head<Request> {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut raw);
    let mut many: Vec<httparse::Header<'_>>;
    let parsed = match req.parse(buf) {
        Err(httparse::Error::TooManyHeaders) => {
            many = header_room(buf);
            req = httparse::Request::new(&mut many);
            req.parse(buf)
        }
        other => other,
    };
    match parsed {
        Ok(httparse::Status::Complete(n)) => {
            let count = req.headers.len();
            let request = Request {
                method: req.method.unwrap_or_default().to_string(),
                target: req.path.unwrap_or_default().to_string(),
                version: req.version.unwrap_or(1),
                headers: collect_headers(req.headers),
                leniencies: many_headers(count),
            };
            Head::Complete(request, n)
        }
        Ok(httparse::Status::Partial) => Head::Incomplete,
        Err(e) => Head::Invalid(e.to_string()),
    }
}

fn many_headers(count: usize) -> Vec<Leniency> {
    if count > MAX_HEADERS {
        vec![Leniency::ManyHeaders(count)]
    } else {
        Vec::new()
    }
}

/// The request line as Node and `websockets` read it: `method SP+ target SP+ HTTP/1.x`, the
/// target being any bytes but space, CR and LF. The header lines are httparse's.
fn lax_request(buf: &[u8]) -> Head<Request> {
    let Some(eol) = buf.iter().position(|&b| b == b'\n') else {
        return Head::Incomplete;
    };
    let line = buf[..eol].strip_suffix(b"\r").unwrap_or(&buf[..eol]);
    let Some(parts) = RequestLine::split(line) else {
        return Head::Invalid("invalid request line".into());
    };
    let rest = &buf[eol + 1..];
    let mut room = header_room(rest);
    match httparse::parse_headers(rest, &mut room) {
        Ok(httparse::Status::Complete((n, headers))) => {
            let mut leniencies = parts.leniencies();
            leniencies.extend(many_headers(headers.len()));
            let request = Request {
                method: lossy(parts.method),
                target: lossy(parts.target),
                version: parts.version,
                headers: collect_headers(headers),
                leniencies,
            };
            Head::Complete(request, eol + 1 + n)
        }
        Ok(httparse::Status::Partial) => Head::Incomplete,
        Err(e) => Head::Invalid(e.to_string()),
    }
}

/// The three parts of a request line, and how loosely they were separated.
struct RequestLine<'a> {
    method: &'a [u8],
    target: &'a [u8],
    version: u8,
    extra_spaces: bool,
}

impl<'a> RequestLine<'a> {
    fn split(line: &'a [u8]) -> Option<RequestLine<'a>> {
        let word = |s: &'a [u8]| -> (&'a [u8], &'a [u8]) {
            let end = s.iter().position(|&b| b == b' ').unwrap_or(s.len());
            (&s[..end], &s[end..])
        };
        let spaces = |s: &'a [u8]| -> (usize, &'a [u8]) {
            let n = s.iter().take_while(|&&b| b == b' ').count();
            (n, &s[n..])
        };
        let (method, rest) = word(line);
        let (gap1, rest) = spaces(rest);
        let (target, rest) = word(rest);
        let (gap2, version) = spaces(rest);
        let version = match version {
            b"HTTP/1.1" => 1,
            b"HTTP/1.0" => 0,
            _ => return None,
        };
        let method_ok = !method.is_empty() && method.iter().all(|&b| is_tchar(b));
        if !method_ok || target.is_empty() || gap1 == 0 || gap2 == 0 || target.contains(&b'\r') {
            return None;
        }
        Some(RequestLine {
            method,
            target,
            version,
            extra_spaces: gap1 > 1 || gap2 > 1,
        })
    }

    fn leniencies(&self) -> Vec<Leniency> {
        let mut out = Vec::new();
        if self.extra_spaces {
            out.push(Leniency::RequestLineSpaces);
        }
        if self.target.iter().any(|&b| b < 0x21 || b == 0x7f) {
            out.push(Leniency::TargetControlBytes);
        }
        out
    }
}

/// A token character (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub fn parse_response(buf: &[u8]) -> Head<Response> {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut raw);
    let mut many: Vec<httparse::Header<'_>>;
    let parsed = match resp.parse(buf) {
        Err(httparse::Error::TooManyHeaders) => {
            many = header_room(buf);
            resp = httparse::Response::new(&mut many);
            resp.parse(buf)
        }
        other => other,
    };
    match parsed {
        Ok(httparse::Status::Complete(n)) => {
            let count = resp.headers.len();
            let response = Response {
                status: resp.code.unwrap_or_default(),
                reason: resp.reason.unwrap_or_default().to_string(),
                version: resp.version.unwrap_or(1),
                headers: collect_headers(resp.headers),
                leniencies: many_headers(count),
            };
            Head::Complete(response, n)
        }
        Ok(httparse::Status::Partial) => partial(buf.len(), "response"),
        Err(e) => Head::Invalid(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(buf: &[u8]) -> (Request, usize) {
        match parse_request(buf) {
            Head::Complete(r, n) => (r, n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_leading_crlf_is_skipped_and_reported() {
        let head = b"\r\n\nGET /chat HTTP/1.1\r\nHost: x\r\n\r\n";
        let (req, used) = request(head);
        assert_eq!(used, head.len());
        assert_eq!(req.target, "/chat");
        assert_eq!(req.leniencies, vec![Leniency::LeadingEmptyLines(2)]);
    }

    #[test]
    fn more_than_128_headers_are_all_read() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..300 {
            head.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        head.extend_from_slice(b"Upgrade: websocket\r\n\r\n");
        let (req, _) = request(&head);
        assert_eq!(req.headers.0.len(), 301);
        assert_eq!(req.headers.get("upgrade").as_deref(), Some("websocket"));
        assert_eq!(req.leniencies, vec![Leniency::ManyHeaders(301)]);
        let resp = [b"HTTP/1.1 101 OK\r\n".as_slice(), &head[16..]].concat();
        let Head::Complete(r, _) = parse_response(&resp) else {
            panic!()
        };
        assert_eq!(r.leniencies, vec![Leniency::ManyHeaders(301)]);
    }

    #[test]
    fn control_bytes_in_the_target_and_double_spaces_are_read_as_servers_do() {
        let (req, _) = request(b"GET /a\x01b\tc HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(req.target, "/a\u{1}b\tc");
        assert_eq!(req.leniencies, vec![Leniency::TargetControlBytes]);
        let (req, _) = request(b"GET  /chat   HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!((req.method.as_str(), req.target.as_str()), ("GET", "/chat"));
        assert_eq!(req.leniencies, vec![Leniency::RequestLineSpaces]);
    }

    #[test]
    fn a_lax_head_is_incomplete_until_its_blank_line() {
        let head = b"\r\nGET  /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n";
        for i in 0..head.len() {
            assert_eq!(parse_request(&head[..i]), Head::Incomplete, "cut at {i}");
        }
    }

    #[test]
    fn what_no_server_reads_stays_invalid() {
        for bad in [
            &b"GET /a HTTP/2.0\r\n\r\n"[..],
            b"GET /a b HTTP/1.1\r\n\r\n",
            b"G(T /a HTTP/1.1\r\n\r\n",
            b"GET HTTP/1.1\r\n\r\n",
            b"GET /a\rb HTTP/1.1\r\n\r\n",
        ] {
            assert!(matches!(parse_request(bad), Head::Invalid(_)), "{bad:?}");
        }
    }

    #[test]
    fn the_blank_line_is_found_across_chunks() {
        assert!(blank_line_in(b"GET / HTTP/1.1\r\n\r\n", 17));
        assert!(blank_line_in(b"a\n\n", 3));
        assert!(!blank_line_in(b"GET / HTTP/1.1\r\nHost: x\r\n", 0));
    }
}
