//! Which process serves a unix socket path: the listening sockets of /proc/net/unix (flag
//! `__SO_ACCEPTCON`), the ones bound to a given path, and (with `net::socket_holders`) the
//! processes that hold them. Used to find the FastCGI backend (php-fpm) a web server's
//! configuration names by its socket path.
//!
//! /proc/net/unix is the reader's network namespace, and a path-bound socket is listed with
//! the path as given to bind(2): a server in another mount namespace, or one that bound a
//! relative path, is listed with a path that names nothing here.

use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A listening unix stream socket bound to a path in the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixListener {
    /// The path it was bound to, as the server gave it to bind(2).
    pub path: PathBuf,
    /// Its inode: `socket:[inode]` in the holders' /proc/PID/fd.
    pub inode: u64,
}

/// `__SO_ACCEPTCON` in the Flags column: listen(2) was called on the socket. (The St column
/// is the `socket.state`, SS_UNCONNECTED for a listener too, so it does not tell.)
const ACCEPTCON: u32 = 1 << 16;

/// Lines of /proc/net/unix read at most (a busy host lists every connection).
const MAX_LINES: usize = 1_000_000;

/// Every listening unix socket bound to a file-system path (not abstract, not unnamed).
pub fn unix_listeners() -> Vec<UnixListener> {
    let Ok(f) = std::fs::File::open("/proc/net/unix") else {
        return Vec::new();
    };
    BufReader::new(f)
        .split(b'\n')
        .take(MAX_LINES)
        .map_while(Result::ok)
        .filter_map(|l| parse_line(&l))
        .collect()
}

/// One line of /proc/net/unix, if it is a listening socket bound to a path:
/// `0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/php/php8.2-fpm.sock`
/// (Num, RefCount, Protocol, Flags, Type, St, Inode, Path). The path is the rest of the
/// line: it may hold spaces. An abstract name starts with `@`.
pub fn parse_line(line: &[u8]) -> Option<UnixListener> {
    let text = String::from_utf8_lossy(line);
    let mut fields = text.split_ascii_whitespace();
    let _num = fields.next()?;
    let _refs = fields.next()?;
    let _proto = fields.next()?;
    let flags = u32::from_str_radix(fields.next()?, 16).ok()?;
    let _kind = fields.next()?;
    let _state = fields.next()?;
    let inode: u64 = fields.next()?.parse().ok()?;
    if flags & ACCEPTCON == 0 {
        return None;
    }
    // The path: the bytes after the seventh field and its separating space (read from the
    // raw line, so that a path that is not UTF-8 stays whole).
    let mut seen = 0;
    let mut in_field = false;
    let mut start = None;
    for (i, &b) in line.iter().enumerate() {
        let blank = b == b' ' || b == b'\t';
        if !blank && !in_field {
            seen += 1;
            if seen == 8 {
                start = Some(i);
                break;
            }
        }
        in_field = !blank;
    }
    let path = &line[start?..];
    let path = path.strip_suffix(b"\r").unwrap_or(path);
    if path.first() != Some(&b'/') {
        // Abstract (`@name`) or relative to a directory we cannot know.
        return None;
    }
    Some(UnixListener {
        path: PathBuf::from(std::ffi::OsStr::from_bytes(path)),
        inode,
    })
}

/// The inodes of the listening sockets bound to `path`: by the path as written, else by the
/// file it names (a symlink on the way, `/var/run` for `/run`). Empty: nothing listens there
/// (a connection gets ENOENT, or ECONNREFUSED on a stale socket file).
pub fn listening_at(listeners: &[UnixListener], path: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = listeners
        .iter()
        .filter(|l| l.path == path)
        .map(|l| l.inode)
        .collect();
    if out.is_empty()
        && let Ok(real) = std::fs::canonicalize(path)
    {
        out = listeners
            .iter()
            .filter(|l| {
                l.path.file_name() == path.file_name() || l.path.file_name() == real.file_name()
            })
            .filter(|l| std::fs::canonicalize(&l.path).is_ok_and(|r| r == real))
            .map(|l| l.inode)
            .collect();
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_unix_lines_are_read_as_the_kernel_writes_them() {
        let l = |s: &str| parse_line(s.as_bytes());
        assert_eq!(
            l("0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/php/fpm.sock"),
            Some(UnixListener {
                path: "/run/php/fpm.sock".into(),
                inode: 12345
            })
        );
        // A path with a space in it is whole.
        assert_eq!(
            l("ffff0000: 00000002 00000000 00010000 0001 01 7 /tmp/a b.sock").map(|u| u.path),
            Some("/tmp/a b.sock".into())
        );
        // Connected (no ACCEPTCON), abstract, unnamed, the header: not listeners here.
        assert_eq!(
            l("0000000000000000: 00000003 00000000 00000000 0001 03 12346 /run/php/fpm.sock"),
            None
        );
        assert_eq!(
            l("0000000000000000: 00000002 00000000 00010000 0001 01 9 @/tmp/.X11-unix/X0"),
            None
        );
        assert_eq!(
            l("0000000000000000: 00000002 00000000 00010000 0001 01 9"),
            None
        );
        assert_eq!(
            l("Num       RefCount Protocol Flags    Type St Inode Path"),
            None
        );
    }

    #[test]
    fn a_real_listening_socket_and_its_holder_are_found() {
        let dir = std::env::temp_dir().join(format!("reqtrace-unix-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let sock = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let all = unix_listeners();
        let inodes = listening_at(&all, &path);
        assert_eq!(inodes.len(), 1, "{path:?} not among {all:?}");
        // Through a symlinked directory too.
        let link = dir.with_extension("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert_eq!(listening_at(&all, &link.join("s.sock")), inodes);
        assert_eq!(
            super::super::net::socket_holders(&inodes),
            [std::process::id() as i32]
        );
        // A socket file nobody listens on any more is not a listener.
        drop(sock);
        assert!(listening_at(&unix_listeners(), &path).is_empty());
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
