//! FastCGI, as far as following a request across the hop needs it: record headers, the
//! name-value pairs of PARAMS, and the state of each FastCGI stream and backend leg.
//!
//! A web server (nginx's `fastcgi_pass`, Apache's mod_proxy_fcgi) hands a PHP request to a
//! php-fpm worker over a unix or TCP socket: BEGIN_REQUEST, PARAMS (`SCRIPT_FILENAME`,
//! `REQUEST_URI`, …, then an empty PARAMS record), STDIN; the worker answers STDOUT (with its
//! `Status:` header), STDERR, END_REQUEST. Record header (FastCGI 1.0, section 3.3): version
//! 1, type, request id (2 bytes), content length (2), padding length, reserved. php-fpm reads
//! the 8-byte header and the content in separate reads, and Apache writes them as separate
//! iovecs, so a stream's state says whether the next bytes are a header or content.
//!
//! A leg is one FastCGI request as the worker thread serves it: from BEGIN_REQUEST read to
//! its connection's close or the next BEGIN_REQUEST. Its file calls belong to the web
//! server's request that sent it. That request is found by what both ends say: the worker's
//! `REQUEST_URI` against the request's target, among the web server's requests that wrote a
//! BEGIN_REQUEST and have no leg yet, oldest first; without params, the oldest. Pure.

use std::collections::HashMap;

use crate::event::Bytes;

pub const BEGIN_REQUEST: u8 = 1;
pub const END_REQUEST: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const STDERR: u8 = 7;
/// PARAMS bytes kept per leg: nginx sends ~500, Apache ~800 with its environment; a
/// `SCRIPT_FILENAME` near the end of a large set must still be found.
pub const PARAMS_CAP: usize = 8 * 1024;

/// A record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: u8,
    pub id: u16,
    pub content: usize,
    pub padding: usize,
}

/// The record header at the start of `b`, if it is one: version 1, a known type, reserved 0.
pub fn header(b: &[u8]) -> Option<Header> {
    let h = b.get(..8)?;
    // Version 1, a known type, reserved 0: the capture policy's test, used by every source.
    if !crate::event::capture::looks_like_fastcgi(h) {
        return None;
    }
    Some(Header {
        kind: h[1],
        id: u16::from_be_bytes([h[2], h[3]]),
        content: u16::from_be_bytes([h[4], h[5]]) as usize,
        padding: h[6] as usize,
    })
}

/// The name-value pairs of PARAMS content (section 3.4: each length one byte, or four with
/// the high bit set). Stops at the first pair that goes past the bytes given.
pub fn pairs(mut b: &[u8]) -> Vec<(&[u8], &[u8])> {
    fn len(b: &mut &[u8]) -> Option<usize> {
        let first = *b.first()?;
        if first & 0x80 == 0 {
            *b = &b[1..];
            return Some(first as usize);
        }
        let four = b.get(..4)?;
        let n = u32::from_be_bytes([four[0] & 0x7f, four[1], four[2], four[3]]) as usize;
        *b = &b[4..];
        Some(n)
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let (Some(n), Some(v)) = (len(&mut b), len(&mut b)) else {
            break;
        };
        if b.len() < n + v {
            break;
        }
        out.push((&b[..n], &b[n..n + v]));
        b = &b[n + v..];
    }
    out
}

/// What a leg's PARAMS say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    pub request_uri: Option<Bytes>,
    /// As the web server sent it: Apache prefixes `proxy:fcgi://HOST`, which php-fpm strips.
    pub script_filename: Option<Bytes>,
    pub document_root: Option<Bytes>,
}

impl Params {
    pub fn read(content: &[u8]) -> Params {
        let mut p = Params::default();
        for (n, v) in pairs(content) {
            match n {
                b"REQUEST_URI" => p.request_uri = Some(v.to_vec()),
                b"SCRIPT_FILENAME" => p.script_filename = Some(v.to_vec()),
                b"DOCUMENT_ROOT" => p.document_root = Some(v.to_vec()),
                _ => {}
            }
        }
        p
    }
}

/// Which end of a FastCGI connection a traced process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The web server: it writes BEGIN_REQUEST.
    Client,
    /// The backend (php-fpm): it reads BEGIN_REQUEST.
    Server,
}

/// One FastCGI connection as one traced process sees it (by pid and fd).
#[derive(Debug, Clone)]
pub struct Stream {
    pub end: End,
    /// Content (and padding) bytes still to come of the record being read, and its type.
    need: usize,
    padding: usize,
    kind: u8,
}

/// What a backend's read of its stream said.
#[derive(Debug, Default, PartialEq)]
pub struct Read {
    /// A BEGIN_REQUEST header: a new leg starts.
    pub begin: bool,
    /// PARAMS content bytes (whatever of them the capture kept).
    pub params: Vec<u8>,
    /// The empty PARAMS record that ends them.
    pub params_end: bool,
}

impl Stream {
    pub fn new(end: End) -> Stream {
        Stream {
            end,
            need: 0,
            padding: 0,
            kind: 0,
        }
    }

    /// Walk the records of a read of `len` bytes whose first bytes are `data` (a capture
    /// keeps only the first ones: what it cut is skipped, not parsed).
    pub fn read(&mut self, data: &[u8], len: usize) -> Read {
        let mut out = Read::default();
        let mut at = 0;
        while at < len {
            if self.need > 0 {
                let n = self.need.min(len - at);
                if self.kind == PARAMS && at < data.len() {
                    let end = (at + n).min(data.len());
                    out.params.extend_from_slice(&data[at..end]);
                }
                at += n;
                self.need -= n;
                if self.need == 0 && self.padding > 0 {
                    self.need = self.padding;
                    self.padding = 0;
                    self.kind = 0;
                }
                continue;
            }
            let Some(h) = data.get(at..).and_then(header) else {
                // Bytes the capture did not keep, or not FastCGI: nothing more to tell.
                break;
            };
            at += 8;
            match h.kind {
                BEGIN_REQUEST => out.begin = true,
                PARAMS if h.content == 0 => out.params_end = true,
                _ => {}
            }
            self.kind = h.kind;
            self.need = h.content;
            self.padding = h.padding;
            if self.need == 0 {
                self.need = std::mem::take(&mut self.padding);
            }
        }
        out
    }
}

/// One FastCGI request as a backend worker thread serves it.
#[derive(Debug, Clone)]
pub struct Leg {
    pub pid: i32,
    pub tid: i32,
    pub comm: std::sync::Arc<str>,
    pub fd: i32,
    pub ts: f64,
    pub params: Vec<u8>,
    pub params_done: bool,
    /// The web server's request it belongs to, once found.
    pub link: Option<u64>,
}

impl Leg {
    pub fn uri(&self) -> Option<Bytes> {
        Params::read(&self.params).request_uri
    }
}

/// The FastCGI streams of every traced process, by (pid, fd).
#[derive(Debug, Default)]
pub struct Streams(HashMap<(i32, i32), Stream>);

impl Streams {
    pub fn get_mut(&mut self, key: (i32, i32)) -> Option<&mut Stream> {
        self.0.get_mut(&key)
    }

    pub fn contains(&self, key: (i32, i32)) -> bool {
        self.0.contains_key(&key)
    }

    pub fn open(&mut self, key: (i32, i32), end: End) -> &mut Stream {
        self.0.entry(key).or_insert_with(|| Stream::new(end))
    }

    pub fn close(&mut self, key: (i32, i32)) -> Option<Stream> {
        self.0.remove(&key)
    }

    /// A process is gone: its streams too.
    pub fn exited(&mut self, pid: i32) {
        self.0.retain(|k, _| k.0 != pid);
    }
}

/// Whether a request's target is the URI a leg's params name (`REQUEST_URI` is the
/// original target, query included, for both nginx's `$request_uri` and Apache).
pub fn same_uri(target: &[u8], uri: &[u8]) -> bool {
    let path = |t: &[u8]| -> Vec<u8> {
        t[..t.iter().position(|&b| b == b'?').unwrap_or(t.len())].to_vec()
    };
    target == uri || path(target) == path(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(n: &str, v: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for l in [n.len(), v.len()] {
            if l < 128 {
                out.push(l as u8);
            } else {
                out.extend_from_slice(&((l as u32) | 0x8000_0000).to_be_bytes());
            }
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(v.as_bytes());
        out
    }

    fn record(kind: u8, content: &[u8], padding: u8) -> Vec<u8> {
        let mut r = vec![1, kind, 0, 1];
        r.extend_from_slice(&(content.len() as u16).to_be_bytes());
        r.extend_from_slice(&[padding, 0]);
        r.extend_from_slice(content);
        r.extend(std::iter::repeat_n(0, padding as usize));
        r
    }

    #[test]
    fn headers_and_pairs() {
        assert_eq!(
            header(b"\x01\x04\x00\x01\x01\xe5\x03\x00"),
            Some(Header {
                kind: PARAMS,
                id: 1,
                content: 485,
                padding: 3
            })
        );
        assert_eq!(header(b"GET / HT"), None);
        assert_eq!(header(b"\x16\x03\x01\x02\x00\x01\x00\x00"), None);
        assert_eq!(header(b"\x01\x01\x00"), None);
        let long = "x".repeat(300);
        let mut b = pair("SCRIPT_FILENAME", "/srv/wwww/x.php");
        b.extend(pair("LONG", &long));
        b.extend(pair("REQUEST_URI", "/x.php?a=1"));
        let p = Params::read(&b);
        assert_eq!(p.script_filename.as_deref(), Some(&b"/srv/wwww/x.php"[..]));
        assert_eq!(p.request_uri.as_deref(), Some(&b"/x.php?a=1"[..]));
        // Cut short: what is whole is read, the rest is not made up.
        let cut = Params::read(&b[..b.len() - 3]);
        assert_eq!(cut.request_uri, None);
        assert!(cut.script_filename.is_some());
    }

    #[test]
    fn php_fpm_reads_header_and_content_apart() {
        // As php-fpm reads: header, body, header, params, empty params header, stdin.
        let mut s = Stream::new(End::Server);
        let begin = record(BEGIN_REQUEST, &[0, 1, 0, 0, 0, 0, 0, 0], 0);
        let r = s.read(&begin[..8], 8);
        assert!(r.begin);
        assert_eq!(s.read(&begin[8..], 8), Read::default());
        let params = pair("REQUEST_URI", "/x.php");
        let rec = record(PARAMS, &params, 2);
        assert_eq!(s.read(&rec[..8], 8), Read::default());
        let r = s.read(&rec[8..], rec.len() - 8);
        assert_eq!(r.params, params);
        let r = s.read(&record(PARAMS, b"", 0), 8);
        assert!(r.params_end);
        // All in one read, as nginx writes it and a backend may read it.
        let mut all = begin.clone();
        all.extend(record(PARAMS, &params, 0));
        all.extend(record(PARAMS, b"", 0));
        all.extend(record(STDIN, b"", 0));
        let mut s = Stream::new(End::Server);
        let r = s.read(&all, all.len());
        assert!(r.begin && r.params_end);
        assert_eq!(r.params, params);
        // The capture kept only the first bytes: the rest is skipped, in step.
        let mut s = Stream::new(End::Server);
        let r = s.read(&all[..20], all.len());
        assert!(r.begin);
        assert!(!r.params_end);
    }

    #[test]
    fn uris_match_with_or_without_query() {
        assert!(same_uri(b"/x.php?a=1", b"/x.php?a=1"));
        assert!(same_uri(b"/x.php?a=1", b"/x.php"));
        assert!(!same_uri(b"/y.php", b"/x.php"));
    }

    #[test]
    fn never_panics_on_any_bytes() {
        let mut all = record(BEGIN_REQUEST, &[0, 1, 0, 0, 0, 0, 0, 0], 0);
        all.extend(record(PARAMS, &pair("REQUEST_URI", "/x"), 7));
        for i in 0..all.len() {
            let mut s = Stream::new(End::Server);
            let _ = s.read(&all[i..], all.len() - i + 5);
            let _ = pairs(&all[i..]);
        }
    }
}
