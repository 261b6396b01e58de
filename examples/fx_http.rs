//! Test fixture: many HTTP exchanges with itself, as fast as it can, for tests that need a
//! traced process to produce request records quickly without a web server.
//!
//! Usage: `fx_http COUNT [DONE_FILE]`. Over one socketpair, COUNT times: a client thread
//! writes `GET /fx/N HTTP/1.1\r\nHost: fx\r\n\r\n` (N from 1); the main thread (the "server")
//! reads it with read(2) (a request line on a socket read: reqtrace opens a request), then
//! writes `HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n` (its status), which the client
//! reads before it sends the next request. The server's next read finishes the previous
//! request. Then DONE_FILE, when given, is created, and the program exits 0. Nothing is
//! printed on stdout; errors go to stderr and exit 1.

use std::os::fd::RawFd;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

fn write_all(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: writing from a live slice to our own socket.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n <= 0 {
            eprintln!("fx_http: write: {}", std::io::Error::last_os_error());
            std::process::exit(1);
        }
        buf = &buf[n as usize..];
    }
}

/// Read until `buf` ends with the blank line of an HTTP head (every message here is a head).
fn read_head(fd: RawFd) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"\r\n\r\n") {
        // SAFETY: reading into a live local buffer from our own socket.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            eprintln!("fx_http: read: {}", std::io::Error::last_os_error());
            std::process::exit(1);
        }
        got.extend_from_slice(&buf[..n as usize]);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(count) = args.get(1).and_then(|c| c.parse::<u64>().ok()) else {
        eprintln!("usage: fx_http COUNT [DONE_FILE]");
        std::process::exit(2);
    };
    let mut fds = [0; 2];
    // SAFETY: socketpair with a valid two-int array.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) } != 0 {
        eprintln!("fx_http: socketpair: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    let (server, client) = (fds[0], fds[1]);
    let c = std::thread::spawn(move || {
        for n in 1..=count {
            write_all(
                client,
                format!("GET /fx/{n} HTTP/1.1\r\nHost: fx\r\n\r\n").as_bytes(),
            );
            read_head(client);
        }
    });
    for _ in 0..count {
        read_head(server);
        write_all(server, RESPONSE);
    }
    let _ = c.join();
    if let Some(done) = args.get(2) {
        let _ = std::fs::write(done, b"");
    }
}
