//! The capture policy, once for every source: which calls carry HTTP bytes (socket reads and
//! writes, an access-log write), how many of their first bytes are kept, and which calls the
//! correlator needs even when they are not printed. Bodies are never kept: a request line
//! with its Host header, a status line, an access-log line.

use crate::syscalls::class;

/// Bytes kept of a socket read: enough for a request line and the Host header.
pub const READ_CAP: usize = 1024;
/// Bytes kept of a socket write: a status line ("HTTP/1.1 404 Not Found").
pub const WRITE_CAP: usize = 64;
/// Bytes kept of an access-log write (the status fallback when the socket carries TLS).
pub const LOG_CAP: usize = 512;
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

/// Whether a file looks like an access log, whose lines carry `"GET /x HTTP/1.1" 404`.
pub fn looks_like_log(target: &[u8]) -> bool {
    target.first() == Some(&b'/')
        && (target.ends_with(b".log") || target.windows(6).any(|w| w == b"access"))
}

/// How many first bytes to keep of a call that moves `io` through an fd whose target is
/// `target` (`None`: unknown), or `None` to keep nothing. `answered`: a status line was
/// written on a socket since the thread last read one, so its access-log line is not needed.
pub fn cap(io: Io, target: Option<&[u8]>, answered: bool) -> Option<usize> {
    let target = target?;
    match (is_socket(target), io) {
        (true, Io::Read) => Some(READ_CAP),
        (true, Io::Write) => Some(WRITE_CAP),
        // The access log is only the fallback for a status the socket did not show.
        (false, Io::Write) if !answered && looks_like_log(target) => Some(LOG_CAP),
        _ => None,
    }
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
        assert_eq!(cap(Io::Read, Some(sock), true), Some(READ_CAP));
        assert_eq!(cap(Io::Write, Some(sock), false), Some(WRITE_CAP));
        let log: &[u8] = b"/var/log/apache2/access.log";
        assert_eq!(cap(Io::Write, Some(log), false), Some(LOG_CAP));
        assert_eq!(cap(Io::Write, Some(log), true), None);
        // A regular file's contents are never read, nor a read of the log.
        assert_eq!(cap(Io::Read, Some(log), false), None);
        assert_eq!(cap(Io::Write, Some(b"/srv/www/x.php"), false), None);
        assert_eq!(cap(Io::Read, None, false), None);
    }
}
