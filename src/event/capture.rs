//! The capture policy, once for every source: which calls carry HTTP bytes (socket reads and
//! writes, an access-log write) or what the server said of a request (an error-log write),
//! how many of their first bytes are kept, and which calls the correlator needs even when
//! they are not printed. Bodies are never kept: a request line with its Host header, a status
//! line, an access-log line, the first bytes of error-log lines. A request line or Host
//! header that goes on past the first READ_CAP bytes is kept whole up to HEAD_CAP, alone.

use crate::syscalls::class;

/// Bytes kept of a socket read: enough for a request line and the Host header.
pub const READ_CAP: usize = 1024;
/// Bytes of a socket read looked at when its first READ_CAP hold a request head that goes on
/// past them (a long path or query, a Host header after a long Cookie): the default limit of
/// a request line in Apache (LimitRequestLine 8190) and nginx (large_client_header_buffers
/// 8k). Only the request line and the Host header of them are kept.
pub const HEAD_CAP: usize = 8192;
/// Bytes kept of a socket write: a status line ("HTTP/1.1 404 Not Found").
pub const WRITE_CAP: usize = 64;
/// Bytes kept of an access-log write (the status fallback when the socket carries TLS).
pub const LOG_CAP: usize = 512;
/// Bytes kept of an error-log write: a line with its prefix (date, module, level, pid,
/// client) and the message, which names the file (`PHP Warning:  include(/long/path):
/// Failed to open stream …`, `open() "/x" failed (2: …)`). A write holding more is cut.
pub const ERROR_LOG_CAP: usize = 1024;
/// Bytes a replayer keeps of a call's data. A log already holds them (strace -s bounds them):
/// the caps above bound what a live source reads from a tracee's memory, and do not apply.
/// Enough for several pipelined request heads in one read.
pub const REPLAY_CAP: usize = 2048;

/// The direction of a call that moves bytes through a buffer the correlator can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    Read,
    Write,
}

/// Whether `name` reads or writes bytes from a buffer (the first iovec for the vector
/// forms). sendfile and splice move a file's bytes (a body) kernel-side and never carry a
/// request or status line: they are not HTTP I/O.
pub fn io_of(name: &str) -> Option<Io> {
    match name {
        "read" | "recvfrom" | "readv" | "recvmsg" => Some(Io::Read),
        "write" | "sendto" | "writev" | "sendmsg" => Some(Io::Write),
        _ => None,
    }
}

/// Whether an fd's target (as /proc or strace -y names it) is a socket.
pub fn is_socket(target: &[u8]) -> bool {
    target.starts_with(b"socket:")
}

fn has(target: &[u8], word: &[u8]) -> bool {
    target.windows(word.len()).any(|w| w == word)
}

/// Whether a file looks like a server's log: `…/access.log`, `…/error_log`, `…/log/…`.
pub fn looks_like_log(target: &[u8]) -> bool {
    target.first() == Some(&b'/')
        && (target.ends_with(b".log")
            || has(target, b"access")
            || has(target, b"error")
            || has(target, b"/log/"))
}

/// Whether a log looks like an access log, whose lines carry `"GET /x HTTP/1.1" 404`.
pub fn looks_like_access_log(target: &[u8]) -> bool {
    looks_like_log(target) && has(target, b"access")
}

/// Whether a file is named like a server's error log: its file name holds `error` and ends
/// in `.log` or is `error_log` (`/var/log/apache2/error.log`, `site-error.log`,
/// `/etc/httpd/logs/error_log`). An upload named `error.png` is not.
pub fn looks_like_error_log(target: &[u8]) -> bool {
    let name = target.rsplit(|&b| b == b'/').next().unwrap_or(target);
    target.first() == Some(&b'/')
        && has(name, b"error")
        && (name.ends_with(b".log") || name.starts_with(b"error_log"))
}

/// Whether fd 2's target is where a server's stderr goes to be logged: a file or a pipe (a
/// piped logger, a container's log collector). Apache and nginx point their workers' fd 2
/// at their error log; /dev/null and a terminal are not logs.
pub fn is_logged_stderr(target: &[u8]) -> bool {
    target.starts_with(b"pipe:") || (target.first() == Some(&b'/') && !target.starts_with(b"/dev/"))
}

/// How many first bytes to keep of a call that moves `io` through fd `fd` whose target is
/// `target` (`None`: unknown), or `None` to keep nothing. `answered`: a status line was
/// written on a socket since the thread last read one, so its access-log line is not needed.
/// An error-log line (fd 2 when it is logged, or a file named like an error log) is kept
/// whenever it is written: it is what the server said of the request, and a healthy request
/// writes none, so it costs nothing on the common path.
pub fn cap(io: Io, fd: i32, target: Option<&[u8]>, answered: bool) -> Option<usize> {
    let target = target?;
    match (is_socket(target), io) {
        (true, Io::Read) => Some(READ_CAP),
        (true, Io::Write) => Some(WRITE_CAP),
        // The access log is only the fallback for a status the socket did not show.
        (false, Io::Write) if looks_like_access_log(target) => (!answered).then_some(LOG_CAP),
        (false, Io::Write) if fd == 2 && is_logged_stderr(target) => Some(ERROR_LOG_CAP),
        // A log named otherwise (nginx's `error_log /var/log/nginx/site.log`): read, and kept
        // by the correlator only when its lines are a server's error-log lines.
        (false, Io::Write) if looks_like_error_log(target) || target.ends_with(b".log") => {
            Some(ERROR_LOG_CAP)
        }
        _ => None,
    }
}

/// Of a socket read whose first bytes (READ_CAP live, REPLAY_CAP from a log) are `first`,
/// how many bytes to look at in all (`available`: what the call read, or what a log shows
/// of it): more than `first` only when these start a request (a method token and a space)
/// whose request line, or whose headers before the Host header, go on past them. Then up to
/// HEAD_CAP; [`head`] says what of them is kept. Reading more than the first bytes costs the
/// tracer more pages on every read, so it is done only for such a head.
pub fn head_wanted(first: &[u8], available: usize) -> Option<usize> {
    if first.len() < READ_CAP || available <= first.len() || !starts_like_request(first) {
        return None;
    }
    let mut lines = first.split_inclusive(|&b| b == b'\n');
    let line = lines.next()?;
    if !line.ends_with(b"\n") {
        // The request line itself goes on.
        return Some(available.min(HEAD_CAP));
    }
    for l in lines {
        let complete = l.ends_with(b"\n");
        let l = l.strip_suffix(b"\n").unwrap_or(l);
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if complete && l.is_empty() {
            return None; // The end of the head, with no Host.
        }
        if l.len() >= 5 && l[..5].eq_ignore_ascii_case(b"host:") {
            // Host is here: whole, or cut at the end of `first`.
            return (!complete).then(|| available.min(HEAD_CAP));
        }
    }
    Some(available.min(HEAD_CAP))
}

/// Whether a buffer starts like a request head or an HTTP/1 status line: what a socket
/// carries at the start of a request or response. For a source that learns a call's fd
/// only after it was closed (eBPF reads records 20 ms late; /proc then knows nothing).
pub fn looks_like_http(buf: &[u8]) -> bool {
    starts_like_request(buf) || buf.starts_with(b"HTTP/1.")
}

/// Whether a buffer starts with a FastCGI record header (version 1, a type FastCGI 1.0
/// defines, reserved byte 0): a web server and php-fpm talking on a socket.
pub fn looks_like_fastcgi(buf: &[u8]) -> bool {
    // 11 (UNKNOWN_TYPE) is the last type FastCGI 1.0 defines.
    buf.len() >= 8 && buf[0] == 1 && (1..=11).contains(&buf[1]) && buf[7] == 0
}

/// A method token (at most 32 bytes, upper case as every registered method is), a space, and
/// a request target's start: `/` (origin form), `*`, a scheme's `://` (absolute form), or
/// CONNECT's authority. Plain-text bodies that start with a word and a space do not pass, so
/// a client cannot make the tracer read 8 KiB of every body read.
fn starts_like_request(buf: &[u8]) -> bool {
    let Some(end) = buf.iter().take(33).position(|&b| b == b' ') else {
        return false;
    };
    let method = &buf[..end];
    if method.is_empty()
        || !method
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
    {
        return false;
    }
    let target = &buf[end + 1..];
    match target.first() {
        Some(b'/' | b'*') => true,
        Some(_) if method == b"CONNECT" => true,
        Some(_) => target
            .iter()
            .take(16)
            .position(|&b| b == b':')
            .is_some_and(|i| target[i..].starts_with(b"://")),
        None => false,
    }
}

/// What is kept of a request head read up to HEAD_CAP (`head_wanted`): the request line and
/// the Host header line, with their line ends; no other header, no body. A request line with
/// no end within the bytes is kept as it is (cut).
pub fn head(buf: &[u8]) -> Vec<u8> {
    let buf = &buf[..buf.len().min(HEAD_CAP)];
    let mut lines = buf.split_inclusive(|&b| b == b'\n');
    let mut out = lines.next().unwrap_or_default().to_vec();
    if !out.ends_with(b"\n") {
        return out;
    }
    for l in lines {
        let bare = l.strip_suffix(b"\n").unwrap_or(l);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare.is_empty() {
            break;
        }
        if bare.len() >= 5 && bare[..5].eq_ignore_ascii_case(b"host:") {
            out.extend_from_slice(l);
            break;
        }
    }
    out
}

/// Whether the correlator needs a finished call that is not printed: file calls (they belong
/// to a request), socket I/O and a log line, accepted connections, and the close of a socket
/// (it ends the connection's requests).
pub fn for_correlator(
    name: &str,
    class_bits: u32,
    socket: bool,
    has_data: bool,
    closes_socket: bool,
) -> bool {
    class_bits & class::FILES != 0
        || socket
        || has_data
        || matches!(name, "accept" | "accept4")
        || (name == "close" && closes_socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_kept() {
        assert_eq!(io_of("recvmsg"), Some(Io::Read));
        assert_eq!(io_of("writev"), Some(Io::Write));
        assert_eq!(io_of("sendfile"), None);
        let sock: &[u8] = b"socket:[4242]";
        assert_eq!(cap(Io::Read, 9, Some(sock), true), Some(READ_CAP));
        assert_eq!(cap(Io::Write, 9, Some(sock), false), Some(WRITE_CAP));
        let log: &[u8] = b"/var/log/apache2/access.log";
        assert_eq!(cap(Io::Write, 8, Some(log), false), Some(LOG_CAP));
        assert_eq!(cap(Io::Write, 8, Some(log), true), None);
        // An error log is kept before and after the status line: PHP warns mid-response.
        for err in [&b"/var/log/apache2/error.log"[..], b"/srv/logs/error_log"] {
            assert_eq!(cap(Io::Write, 7, Some(err), false), Some(ERROR_LOG_CAP));
            assert_eq!(cap(Io::Write, 7, Some(err), true), Some(ERROR_LOG_CAP));
        }
        // A regular file's contents are never read, nor a read of the log.
        assert_eq!(cap(Io::Read, 8, Some(log), false), None);
        assert_eq!(cap(Io::Write, 5, Some(b"/srv/www/x.php"), false), None);
        assert_eq!(cap(Io::Read, 5, None, false), None);
        // Files named like errors, or under a log directory, are an application's data, not
        // read; a server's stderr is, when it goes to a file or a pipe; any `.log` is read
        // (the correlator keeps only a server's error-log lines of it).
        for data in [
            &b"/srv/www/uploads/error.png"[..],
            b"/srv/www/var/log/orders.txt",
        ] {
            assert_eq!(cap(Io::Write, 7, Some(data), false), None, "{data:?}");
        }
        assert_eq!(
            cap(Io::Write, 2, Some(b"pipe:[123]"), true),
            Some(ERROR_LOG_CAP)
        );
        assert_eq!(
            cap(Io::Write, 2, Some(b"/srv/logs/site.log"), true),
            Some(ERROR_LOG_CAP)
        );
        assert_eq!(cap(Io::Write, 2, Some(b"/dev/null"), true), None);
        assert_eq!(cap(Io::Write, 2, Some(b"/dev/pts/0"), true), None);
    }

    #[test]
    fn a_long_head_is_read_further_and_kept_to_its_line_and_host() {
        let pad = |s: &str, n: usize| format!("{s}{}", "a".repeat(n));
        // A short request: the first bytes suffice.
        let short = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(head_wanted(short, short.len()), None);
        // A request line longer than READ_CAP.
        let long = pad("GET /", 3000) + " HTTP/1.1\r\nCookie: c\r\nHost: h\r\n\r\nbody";
        let first = &long.as_bytes()[..READ_CAP];
        assert_eq!(head_wanted(first, long.len()), Some(long.len()));
        assert_eq!(head_wanted(first, 100_000), Some(HEAD_CAP));
        let kept = head(long.as_bytes());
        assert_eq!(
            kept,
            (pad("GET /", 3000) + " HTTP/1.1\r\nHost: h\r\n").as_bytes()
        );
        // Host after a long Cookie; the Cookie is not kept.
        let cookie = pad("GET / HTTP/1.1\r\nCookie: ", 2000) + "\r\nHost: h\r\n\r\n";
        let first = &cookie.as_bytes()[..READ_CAP];
        assert!(head_wanted(first, cookie.len()).is_some());
        assert_eq!(head(cookie.as_bytes()), b"GET / HTTP/1.1\r\nHost: h\r\n");
        // Host within the first bytes, or the end of a head without one: no more.
        let hosted = pad("GET / HTTP/1.1\r\nHost: h\r\nCookie: ", 2000);
        assert_eq!(
            head_wanted(&hosted.as_bytes()[..READ_CAP], hosted.len()),
            None
        );
        let body = pad("POST / HTTP/1.1\r\n\r\n", 2000);
        assert_eq!(head_wanted(&body.as_bytes()[..READ_CAP], body.len()), None);
        // Not a request (TLS, a body): never more.
        let tls = [0x16u8; 2000];
        assert_eq!(head_wanted(&tls[..READ_CAP], tls.len()), None);
        let text = pad("Hello world and more ", 2000);
        assert_eq!(head_wanted(&text.as_bytes()[..READ_CAP], text.len()), None);
        let absolute = pad("GET http://h/", 2000) + " HTTP/1.1\r\nHost: h\r\n\r\n";
        assert!(head_wanted(&absolute.as_bytes()[..READ_CAP], absolute.len()).is_some());
        // A request line longer than HEAD_CAP is kept cut.
        let huge = pad("GET /", 20_000);
        assert_eq!(head(huge.as_bytes()).len(), HEAD_CAP);
    }
}
