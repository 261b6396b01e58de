//! Parsers for the few bytes of HTTP reqtrace looks at: request lines (with the Host header),
//! status lines, and access-log lines. They take untrusted bytes from a traced server's
//! sockets: bounded, allocation-light, and never panic on any input.

/// The start of one request found in a socket read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestStart {
    pub method: String,
    /// The request target as sent (origin form `/a?b`, or absolute form).
    pub target: Vec<u8>,
    /// The Host header's value, when it was within the bytes read.
    pub host: Option<Vec<u8>>,
    /// The request line ends with LF alone, not CRLF: accepted here (and by nginx), refused
    /// by Apache (HttpProtocolOptions Strict, its default) with a 400.
    pub bare_lf: bool,
}

/// Why a request is malformed, in words (the JSON `malformed` field, the report's headline).
pub const BARE_LF: &str = "the request line ends with LF alone, not CRLF";
pub const NOT_HTTP: &str = "not an HTTP/1.x request line";
pub const TOO_LONG: &str =
    "the request line is longer than 8 KiB (Apache's and nginx's limit); its target is cut";

/// A client's attempt at a request that is not a valid request line: its method and target
/// as far as they can be told (what was sent, not decoded) and why it is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub method: Option<String>,
    pub target: Option<Vec<u8>>,
    pub why: String,
}

/// Longest method token accepted (the registered ones are ≤ 17 bytes).
const MAX_METHOD: usize = 32;
/// Most requests parsed from one read (pipelining).
const MAX_PIPELINED: usize = 16;

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parse `METHOD SP TARGET SP HTTP/x.y CRLF` at the start of `buf`; returns the request and
/// where its line ends (after CRLF or LF). None unless it is clearly a request line.
fn request_line(buf: &[u8]) -> Option<(String, Vec<u8>, usize)> {
    let eol = buf.iter().position(|&b| b == b'\n')?;
    let line = buf[..eol].strip_suffix(b"\r").unwrap_or(&buf[..eol]);
    let sp1 = line.iter().position(|&b| b == b' ')?;
    let method = &line[..sp1];
    if method.is_empty() || method.len() > MAX_METHOD || !method.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let rest = &line[sp1 + 1..];
    let sp2 = rest.iter().rposition(|&b| b == b' ')?;
    let target = &rest[..sp2];
    let version = &rest[sp2 + 1..];
    if target.is_empty()
        || target.iter().any(|&b| b <= b' ' || b == 0x7f)
        || !version.starts_with(b"HTTP/1.")
        || version.len() != 8
    {
        return None;
    }
    Some((
        String::from_utf8_lossy(method).into_owned(),
        target.to_vec(),
        eol + 1,
    ))
}

/// Content-Length as a client sent it: a number, or something unusable (too big, negative,
/// garbage), after which nothing more in the buffer can be trusted to be a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    None,
    Bytes(u64),
    Invalid,
}

/// Headers from `buf` (just after the request line) up to the blank line: the Host value,
/// the Content-Length, and the offset after the blank line if it was within `buf`.
fn headers(buf: &[u8]) -> (Option<Vec<u8>>, Length, Option<usize>) {
    let mut host = None;
    let mut length = Length::None;
    let mut pos = 0;
    while pos < buf.len() {
        let Some(eol) = buf[pos..].iter().position(|&b| b == b'\n') else {
            return (host, length, None);
        };
        let line = &buf[pos..pos + eol];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += eol + 1;
        if line.is_empty() {
            return (host, length, Some(pos));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"host") && host.is_none() {
            host = Some(value.to_vec());
        } else if name.eq_ignore_ascii_case(b"content-length") {
            length = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse().ok())
                .map_or(Length::Invalid, Length::Bytes);
        }
    }
    (host, length, None)
}

/// Every request that starts in `buf`, in order: one for a plain read, several when a client
/// pipelines. A body announced by Content-Length is skipped; when it runs past `buf` (or the
/// headers do), parsing stops there.
pub fn parse_requests(buf: &[u8]) -> Vec<RequestStart> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() && out.len() < MAX_PIPELINED {
        let Some((method, target, line_len)) = request_line(&buf[pos..]) else {
            break;
        };
        let (host, length, end) = headers(&buf[pos + line_len..]);
        out.push(RequestStart {
            method,
            target,
            host,
            bare_lf: pos + line_len < 2 || buf[pos + line_len - 2] != b'\r',
        });
        let Some(end) = end else { break };
        let next = pos + line_len + end;
        match length {
            Length::Bytes(n) => match usize::try_from(n).ok().and_then(|n| next.checked_add(n)) {
                Some(p) if p <= buf.len() => pos = p,
                _ => break,
            },
            Length::None => pos = next,
            Length::Invalid => break,
        }
    }
    out
}

/// What the bytes of a socket read in which `parse_requests` found no request say, when they
/// are plain text (a client's malformed request, answered 400 or 414): `None` for bytes that
/// are not text (TLS, another protocol). `cut`: the read went on past `buf` (a request line
/// longer than what is kept of a read).
pub fn malformed_request(buf: &[u8], cut: bool) -> Option<Malformed> {
    let first = *buf.first()?;
    if !(first.is_ascii_graphic() || first == b' ') {
        return None;
    }
    let line = match buf.iter().position(|&b| b == b'\n') {
        Some(eol) => &buf[..eol],
        None => buf,
    };
    let bare = line.strip_suffix(b"\r").unwrap_or(line);
    // `METHOD SP rest`: the method and, up to the last ` HTTP/`, the target.
    let sp = bare.iter().take(MAX_METHOD + 1).position(|&b| b == b' ');
    let method = sp.filter(|&e| e > 0 && bare[..e].iter().all(|&b| is_tchar(b)));
    let target = method.map(|e| {
        let rest = &bare[e + 1..];
        let end = rest
            .windows(6)
            .rposition(|w| w == b" HTTP/")
            .unwrap_or(rest.len());
        rest[..end].to_vec()
    });
    let why = if let Some(c) = bare.iter().find(|&&b| b < b' ' || b == 0x7f) {
        format!("a control character ({c:#04x}) in the request line")
    } else if cut && !buf.contains(&b'\n') && method.is_some() {
        TOO_LONG.to_string()
    } else {
        NOT_HTTP.to_string()
    };
    Some(Malformed {
        method: method.map(|e| String::from_utf8_lossy(&bare[..e]).into_owned()),
        target: target.filter(|t| !t.is_empty()),
        why,
    })
}

/// Whether `buf` may be the first part of a request line that a later read completes (a
/// client that writes `GET ` and the rest separately): a method token, maybe a space and the
/// start of a target, no line end yet, and short.
pub fn could_be_request_prefix(buf: &[u8]) -> bool {
    if buf.is_empty() || buf.len() > 8192 || buf.contains(&b'\n') {
        return false;
    }
    let method_end = buf.iter().position(|&b| b == b' ').unwrap_or(buf.len());
    method_end <= MAX_METHOD
        && buf[..method_end].iter().all(|&b| is_tchar(b))
        && buf[method_end..]
            .iter()
            .all(|&b| b >= b' ' && b != 0x7f || b == b'\r')
}

/// The status code of a response starting with `HTTP/1.x NNN`.
pub fn parse_status(buf: &[u8]) -> Option<u16> {
    let rest = buf.strip_prefix(b"HTTP/1.")?;
    if rest.len() < 6 || !rest[0].is_ascii_digit() || rest[1] != b' ' {
        return None;
    }
    let code = &rest[2..5];
    if !code.iter().all(u8::is_ascii_digit)
        || rest
            .get(5)
            .is_some_and(|&b| b != b' ' && b != b'\r' && b != b'\n')
    {
        return None;
    }
    let n = (code[0] - b'0') as u16 * 100 + (code[1] - b'0') as u16 * 10 + (code[2] - b'0') as u16;
    (100..=599).contains(&n).then_some(n)
}

/// From an access-log line in Apache's common/combined format
/// (`… "GET /home HTTP/1.1" 404 236`): the method, target and status.
pub fn parse_access_log(buf: &[u8]) -> Option<(String, Vec<u8>, u16)> {
    let open = buf.iter().position(|&b| b == b'"')?;
    let after = &buf[open + 1..];
    let close = after.iter().position(|&b| b == b'"')?;
    let mut req = after[..close].to_vec();
    req.extend_from_slice(b"\n");
    let (method, target, _) = request_line(&req)?;
    let tail = after[close + 1..].trim_ascii_start();
    let code = tail.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(code).ok()?.parse().ok()?;
    Some((method, target, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_request_with_host() {
        let r = parse_requests(
            b"GET /home HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].method, "GET");
        assert_eq!(r[0].target, b"/home");
        assert_eq!(r[0].host.as_deref(), Some(&b"127.0.0.1:8080"[..]));
    }

    #[test]
    fn pipelined_requests_and_bodies() {
        let r = parse_requests(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /c HTTP/1.0\n\n",
        );
        let targets: Vec<&[u8]> = r.iter().map(|x| x.target.as_slice()).collect();
        assert_eq!(targets, [&b"/a"[..], b"/b", b"/c"]);
        // A lying Content-Length stops parsing rather than reading past the buffer.
        let r = parse_requests(
            b"POST /b HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
        );
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn a_request_split_across_reads_still_gives_its_line() {
        let r = parse_requests(b"GET /home HTTP/1.1\r\nHo");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].host, None);
        assert!(parse_requests(b"GET /home HT").is_empty());
    }

    #[test]
    fn garbage_is_not_a_request() {
        for junk in [
            &b""[..],
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"GET  HTTP/1.1\r\n",
            b"G\x00T / HTTP/1.1\r\n",
            b"GET / HTTP/2.0\r\n",
            b"GET /a b HTTP/1.1\r\n",
            b"HTTP/1.1 200 OK\r\n",
        ] {
            assert!(parse_requests(junk).is_empty(), "{junk:?}");
        }
    }

    #[test]
    fn malformed_requests_say_why_and_what_was_sent() {
        let m = malformed_request(b"GET /a\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n", false).unwrap();
        assert_eq!(m.method.as_deref(), Some("GET"));
        assert_eq!(m.target.as_deref(), Some(&b"/a\x1b[31m"[..]));
        assert_eq!(m.why, "a control character (0x1b) in the request line");
        let m = malformed_request(b"GET /a\rb HTTP/1.1\r\n\r\n", false).unwrap();
        assert_eq!(m.target.as_deref(), Some(&b"/a\rb"[..]));
        assert!(m.why.contains("0x0d"), "{}", m.why);
        let m = malformed_request(b"GARBAGE\r\n\r\n", false).unwrap();
        assert_eq!((m.method, m.target, m.why.as_str()), (None, None, NOT_HTTP));
        let m = malformed_request(b"GET / HTTP/2.0\r\n", false).unwrap();
        assert_eq!(m.why, NOT_HTTP);
        let m = malformed_request(b"GET /xxxxxxxx", true).unwrap();
        assert_eq!(
            (m.target.as_deref(), m.why.as_str()),
            (Some(&b"/xxxxxxxx"[..]), TOO_LONG)
        );
        // Not text: TLS, binary.
        assert_eq!(malformed_request(b"\x16\x03\x01\x02\x00", false), None);
        assert_eq!(malformed_request(b"", false), None);
        // A line with LF alone parses, marked.
        let r = parse_requests(b"GET /a HTTP/1.1\nHost: x\n\nGET /b HTTP/1.1\r\n\r\n");
        assert_eq!(
            r.iter().map(|r| r.bare_lf).collect::<Vec<_>>(),
            [true, false]
        );
    }

    #[test]
    fn request_prefixes() {
        assert!(could_be_request_prefix(b"GET "));
        assert!(could_be_request_prefix(b"GE"));
        assert!(could_be_request_prefix(b"GET /hello.html HTTP/1."));
        assert!(!could_be_request_prefix(b"GET / HTTP/1.1\r\n"));
        assert!(!could_be_request_prefix(b"\x16\x03\x01"));
        assert!(!could_be_request_prefix(b""));
        assert!(!could_be_request_prefix(b"GET /\x00"));
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 404 Not Found\r\n"), Some(404));
        assert_eq!(parse_status(b"HTTP/1.0 200\r\n"), Some(200));
        assert_eq!(parse_status(b"HTTP/1.1 2000 OK"), None);
        assert_eq!(parse_status(b"HTTP/1.1 099 X"), None);
        assert_eq!(parse_status(b"<html>"), None);
        assert_eq!(parse_status(b"HTTP/1.1 4"), None);
    }

    #[test]
    fn access_log_lines() {
        let l = b"127.0.0.1 - - [26/Nov/2026:00:59:25 +0000] \"GET /home HTTP/1.1\" 404 236\n";
        assert_eq!(
            parse_access_log(l),
            Some(("GET".into(), b"/home".to_vec(), 404))
        );
        assert_eq!(parse_access_log(b"[error] \"oops\" 12"), None);
    }

    #[test]
    fn never_panics_on_any_prefix() {
        let l =
            b"POST /x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 301 M\r\n";
        for i in 0..=l.len() {
            for j in i..=l.len() {
                let _ = parse_requests(&l[i..j]);
                let _ = parse_status(&l[i..j]);
                let _ = parse_access_log(&l[i..j]);
                let _ = malformed_request(&l[i..j], true);
            }
        }
    }
}
