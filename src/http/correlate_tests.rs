//! The correlator driven by recorded event sequences. The builders below make
//! `Event::Syscall`s the way the sources emit them (tracer/decode.rs through event::capture and
//! event::fds): socket reads and writes carry `socket: true` and only their first bytes,
//! file syscalls carry their table class, an absolute path and `ret = -errno` on failure. The
//! sequences follow the real Apache trace in the design notes (apache-syscalls.md).

use std::cell::Cell;
use std::sync::Arc;

use super::correlate::{Correlator, MAX_TAGGED as MAX_TAGGED_FOR_TEST, Request};
use crate::event::{Arg, Event, ExitKind, SyscallEvent};
use crate::syscalls::{StatKind, path, table};

// ---------------------------------------------------------------------------------------------
// Builders.

thread_local! {
    /// Wall clock of the recorded trace: every event is 100 µs after the previous one.
    static CLOCK: Cell<f64> = const { Cell::new(1_795_651_593.0) };
}

fn tick() -> f64 {
    CLOCK.with(|c| {
        let t = c.get() + 0.000_1;
        c.set(t);
        t
    })
}

/// What every source keeps of a socket read, a socket write and an access-log write, and the
/// fd name it gives a connection returned by accept/accept4.
use crate::event::capture::{ERROR_LOG_CAP, HEAD_CAP, LOG_CAP, READ_CAP, WRITE_CAP};
use crate::event::fds::ACCEPTED;
/// Apache's listening socket, as /proc names it.
const LISTENER: &[u8] = b"socket:[48213]";
const LISTEN_FD: i32 = 5;
const ACCESS_LOG: &[u8] = b"/var/log/apache2/access.log";
const ACCESS_LOG_FD: i32 = 8;
const ERROR_LOG: &[u8] = b"/var/log/apache2/error.log";
const USER_BUF: u64 = 0x7f80_adac_2048;
const STAT_BUF: u64 = 0x7ffd_9e71_92d0;

/// One traced thread; `cwd` resolves the relative paths it passes, as decode.rs does.
#[derive(Clone, Copy)]
struct Thread {
    pid: i32,
    tid: i32,
    cwd: &'static str,
}

/// A prefork worker: a single-threaded process.
fn prefork(pid: i32) -> Thread {
    Thread {
        pid,
        tid: pid,
        cwd: "/",
    }
}

/// A thread of a worker/event MPM process.
fn thread(pid: i32, tid: i32) -> Thread {
    Thread { pid, tid, cwd: "/" }
}

fn nr_of(name: &str) -> u64 {
    crate::arch::NUMBERS
        .iter()
        .find(|&&(_, n)| n == name)
        .map_or(0, |&(nr, _)| nr as u64)
}

fn str_arg(s: &[u8]) -> Arg {
    Arg::Str {
        bytes: s.to_vec(),
        truncated: false,
    }
}

fn cap(data: &[u8], cap: usize) -> Option<Vec<u8>> {
    (!data.is_empty()).then(|| data[..data.len().min(cap)].to_vec())
}

impl Thread {
    fn in_dir(self, cwd: &'static str) -> Thread {
        Thread { cwd, ..self }
    }

    /// A successful syscall with its table class, shown (as with `--trace file`).
    fn sys(&self, name: &'static str, args: Vec<Arg>, ret: i64) -> SyscallEvent {
        let spec = table::by_name(name).unwrap_or_else(|| panic!("{name} is not in the table"));
        let mut ev = SyscallEvent::new(
            tick(),
            self.pid,
            self.tid,
            Arc::from("apache2"),
            nr_of(name),
            spec,
        );
        ev.args = args;
        ev.ret = ret;
        ev.shown = true;
        ev
    }

    fn abs(&self, raw: &str) -> Vec<u8> {
        path::resolve(raw.as_bytes(), Some(self.cwd.as_bytes()), None).expect("resolvable")
    }

    // --- connections -------------------------------------------------------------------------

    /// `accept4(5, {...}, [...], SOCK_CLOEXEC) = fd`.
    fn accept4(&self, fd: i32) -> Event {
        let args = vec![
            Arg::Fd(LISTEN_FD, Some(LISTENER.to_vec())),
            Arg::Ptr(STAT_BUF),
            Arg::Ptr(STAT_BUF + 0x80),
            Arg::Sym("SOCK_CLOEXEC".into()),
        ];
        Event::Syscall(Box::new(self.sys("accept4", args, fd as i64)))
    }

    fn socket_io(&self, name: &'static str, fd: i32, data: &[u8], keep: usize) -> Event {
        let args = vec![
            Arg::Fd(fd, Some(ACCEPTED.to_vec())),
            Arg::Ptr(USER_BUF),
            Arg::Int(8000),
        ];
        let mut s = self.sys(name, args, data.len() as i64);
        s.socket = true;
        s.data = cap(data, keep);
        Event::Syscall(Box::new(s))
    }

    /// `read(fd, "GET ...", 8000) = n` on the connection.
    fn recv(&self, fd: i32, data: &[u8]) -> Event {
        self.socket_io("read", fd, data, READ_CAP)
    }

    /// `read(fd, "", 8000) = 0`: the client closed its side.
    fn recv_eof(&self, fd: i32) -> Event {
        self.socket_io("read", fd, b"", READ_CAP)
    }

    /// `read(fd, ..., 8000) = -1 EAGAIN`: Apache's pipelining check.
    fn recv_eagain(&self, fd: i32) -> Event {
        let Event::Syscall(mut s) = self.socket_io("read", fd, b"", READ_CAP) else {
            unreachable!()
        };
        s.ret = -(libc::EAGAIN as i64);
        s.errno = Some(libc::EAGAIN);
        Event::Syscall(s)
    }

    /// `writev(fd, [{"HTTP/1.1 404 ...", ...}, ...], 2) = n`.
    fn send(&self, fd: i32, data: &[u8]) -> Event {
        self.socket_io("writev", fd, data, WRITE_CAP)
    }

    fn close(&self, fd: i32) -> Event {
        let args = vec![Arg::Fd(fd, Some(ACCEPTED.to_vec()))];
        Event::Syscall(Box::new(self.sys("close", args, 0)))
    }

    /// `write(8, "127.0.0.1 - - [...] \"GET /home HTTP/1.1\" 404 ...", n)` to the access log: not
    /// a socket, but decode.rs keeps its first bytes, and its path is the fd's file.
    fn log(&self, line: &[u8]) -> Event {
        let args = vec![
            Arg::Fd(ACCESS_LOG_FD, Some(ACCESS_LOG.to_vec())),
            Arg::Ptr(USER_BUF),
            Arg::Int(line.len() as i64),
        ];
        let mut s = self.sys("write", args, line.len() as i64);
        s.path = Some(ACCESS_LOG.to_vec());
        s.data = cap(line, LOG_CAP);
        Event::Syscall(Box::new(s))
    }

    /// `write(2, "[...] [php:warn] ... PHP Warning: ...", n)`: Apache's ErrorLog is every
    /// worker's fd 2; capture keeps ERROR_LOG_CAP bytes of it, before or after the status.
    fn errlog(&self, line: &[u8]) -> Event {
        let args = vec![
            Arg::Fd(2, Some(ERROR_LOG.to_vec())),
            Arg::Ptr(USER_BUF),
            Arg::Int(line.len() as i64),
        ];
        let mut s = self.sys("write", args, line.len() as i64);
        s.path = Some(ERROR_LOG.to_vec());
        s.data = cap(line, ERROR_LOG_CAP);
        Event::Syscall(Box::new(s))
    }

    /// `read(fd, ...)` of a regular file: not socket I/O, not a file-class syscall.
    fn file_read(&self, fd: i32, file: &str, n: i64) -> Event {
        let args = vec![
            Arg::Fd(fd, Some(file.as_bytes().to_vec())),
            Arg::Ptr(USER_BUF),
            Arg::Int(n),
        ];
        let mut s = self.sys("read", args, n);
        s.path = Some(file.as_bytes().to_vec());
        Event::Syscall(Box::new(s))
    }

    // --- file syscalls -----------------------------------------------------------------------

    fn file(&self, mut s: SyscallEvent, raw: &str, res: Result<i64, i32>) -> Event {
        s.path = Some(self.abs(raw));
        match res {
            Ok(ret) => s.ret = ret,
            Err(errno) => {
                s.ret = -(errno as i64);
                s.errno = Some(errno);
            }
        }
        Event::Syscall(Box::new(s))
    }

    /// `newfstatat(AT_FDCWD, raw, ..., 0 | AT_SYMLINK_NOFOLLOW)`.
    fn stat(&self, raw: &str, kind: StatKind, res: Result<(), i32>) -> Event {
        let flags = match kind {
            StatKind::Lstat => "AT_SYMLINK_NOFOLLOW",
            _ => "0",
        };
        let args = vec![
            Arg::AtFdCwd,
            str_arg(raw.as_bytes()),
            Arg::Ptr(STAT_BUF),
            Arg::Sym(flags.into()),
        ];
        let mut s = self.sys("newfstatat", args, 0);
        s.stat_kind = Some(kind);
        self.file(s, raw, res.map(|()| 0))
    }

    /// `newfstatat(fd, "", ..., AT_EMPTY_PATH)`: an fstat; its path is the fd's file.
    fn fstat(&self, fd: i32, file: &str) -> Event {
        let args = vec![
            Arg::Fd(fd, Some(file.as_bytes().to_vec())),
            str_arg(b""),
            Arg::Ptr(STAT_BUF),
            Arg::Sym("AT_EMPTY_PATH".into()),
        ];
        let mut s = self.sys("newfstatat", args, 0);
        s.stat_kind = Some(StatKind::Fstat);
        self.file(s, file, Ok(0))
    }

    /// `openat(AT_FDCWD, raw, flags) = fd or -1 errno`.
    fn openat(&self, raw: &str, flags: &str, res: Result<i32, i32>) -> Event {
        let args = vec![
            Arg::AtFdCwd,
            str_arg(raw.as_bytes()),
            Arg::Sym(flags.into()),
        ];
        let s = self.sys("openat", args, 0);
        self.file(s, raw, res.map(i64::from))
    }

    /// `getcwd("/srv/www", 4096) = 9`: file class, no path.
    fn getcwd(&self) -> Event {
        let args = vec![str_arg(self.cwd.as_bytes()), Arg::Int(4096)];
        let ret = self.cwd.len() as i64 + 1;
        Event::Syscall(Box::new(self.sys("getcwd", args, ret)))
    }

    fn chdir(&self, raw: &str) -> Event {
        let s = self.sys("chdir", vec![str_arg(raw.as_bytes())], 0);
        self.file(s, raw, Ok(0))
    }

    fn exited(&self, how: ExitKind) -> Event {
        Event::Exited {
            ts: tick(),
            pid: self.pid,
            tid: self.tid,
            how,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The harness.

#[derive(Default)]
struct Run {
    c: Correlator,
    done: Vec<Request>,
}

impl Run {
    fn feed(&mut self, ev: Event) -> Option<u64> {
        self.c.feed(&ev, &mut self.done)
    }

    /// Feeds every event, returning what each call returned.
    fn feed_all(&mut self, evs: impl IntoIterator<Item = Event>) -> Vec<Option<u64>> {
        evs.into_iter().map(|ev| self.feed(ev)).collect()
    }

    fn only(&self) -> &Request {
        assert_eq!(self.done.len(), 1, "finished: {:#?}", self.done);
        &self.done[0]
    }

    fn by_target(&self, target: &str) -> &Request {
        let found: Vec<&Request> = self
            .done
            .iter()
            .filter(|r| r.target.as_deref() == Some(target.as_bytes()))
            .collect();
        assert_eq!(found.len(), 1, "requests for {target}: {:#?}", self.done);
        found[0]
    }
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn failure_paths(r: &Request) -> Vec<String> {
    r.failures.iter().map(|f| s(&f.path)).collect()
}

fn lookup_paths(r: &Request) -> Vec<String> {
    r.lookups.iter().map(|l| s(&l.path)).collect()
}

fn get(target: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"
    )
    .into_bytes()
}

fn response(status_line: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status_line}\r\nDate: Thu, 26 Nov 2026 00:06:33 GMT\r\nServer: Apache/2.4.71 (Debian)\r\nContent-Length: {}\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn access_line(method: &str, target: &str, status: u16) -> Vec<u8> {
    format!(
        "127.0.0.1 - - [26/Nov/2026:00:06:33 +0000] \"{method} {target} HTTP/1.1\" {status} 474 \"-\" \"curl/7.88.1\"\n"
    )
    .into_bytes()
}

const NOT_FOUND_BODY: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n</body></html>\n";

/// The file syscalls of `GET /home` in apache-syscalls.md (RewriteRule to the /index.phpp typo).
fn home_file_syscalls(w: Thread) -> Vec<Event> {
    use StatKind::{Lstat, Stat};
    let enoent = Err(libc::ENOENT);
    vec![
        w.stat("/index.phpp", Stat, enoent),
        w.stat("/srv/www/index.phpp", Stat, enoent),
        w.stat("/srv", Lstat, Ok(())),
        w.stat("/srv/www", Lstat, Ok(())),
        w.openat(
            "/srv/www/.htaccess",
            "O_RDONLY|O_CLOEXEC",
            Err(libc::ENOENT),
        ),
        w.stat("/srv/www/index.phpp", Lstat, enoent),
    ]
}

// ---------------------------------------------------------------------------------------------
// 1. The recorded Apache trace.

#[test]
fn apache_home_404_from_the_recorded_trace() {
    let w = prefork(4711);
    let mut run = Run::default();

    // Worker start-up: belongs to no request.
    let before = run.feed_all([
        w.openat(
            "/usr/lib/locale/locale-archive",
            "O_RDONLY|O_CLOEXEC",
            Err(libc::ENOENT),
        ),
        w.stat("/etc/localtime", StatKind::Stat, Ok(())),
        w.accept4(13),
    ]);
    assert_eq!(before, [None, None, None]);

    let id = run
        .feed(w.recv(13, &get("/home")))
        .expect("the request read opens a request");
    let files = home_file_syscalls(w);
    let n_files = files.len() as u64;
    for (i, got) in run.feed_all(files).into_iter().enumerate() {
        assert_eq!(got, Some(id), "file syscall #{i} not tied to the request");
    }
    // Apache's pipelining check, the response, the access-log line: still this request.
    assert_eq!(run.feed(w.recv_eagain(13)), Some(id));
    assert_eq!(
        run.feed(w.send(13, &response("404 Not Found", NOT_FOUND_BODY))),
        Some(id)
    );
    assert_eq!(run.feed(w.log(&access_line("GET", "/home", 404))), Some(id));
    assert!(
        run.done.is_empty(),
        "finished before the connection was read again"
    );

    // read(13, "", 8000) = 0 after the response finishes it.
    assert_eq!(run.feed(w.recv_eof(13)), None);
    assert_eq!(run.done.len(), 1);
    let after = run.feed_all([
        w.recv_eof(13),
        w.close(13),
        w.stat("/srv/www/index.phpp", StatKind::Stat, Err(libc::ENOENT)),
    ]);
    assert_eq!(after, [None, None, None]);
    assert_eq!(run.c.open_count(), 0);

    let r = run.only();
    assert_eq!(r.id, id);
    assert_eq!((r.pid, r.tid), (4711, 4711));
    assert_eq!(r.method.as_deref(), Some("GET"));
    assert_eq!(r.target.as_deref(), Some(&b"/home"[..]));
    assert_eq!(r.host.as_deref(), Some(&b"127.0.0.1:8080"[..]));
    assert_eq!(r.status, Some(404));
    assert!(!r.partial);
    assert_eq!(r.end_reason.as_str(), "response");
    assert_eq!(r.syscalls, n_files);
    assert_eq!(r.failed, 4);
    assert_eq!(
        failure_paths(r),
        [
            "/index.phpp",
            "/srv/www/index.phpp",
            "/srv/www/.htaccess",
            "/srv/www/index.phpp"
        ]
    );
    assert!(
        r.failures
            .iter()
            .all(|f| f.errno == libc::ENOENT && !f.write)
    );
    assert_eq!(r.failures[0].syscall, "newfstatat");
    assert_eq!(r.failures[0].stat_kind, Some(StatKind::Stat));
    assert_eq!(r.failures[2].syscall, "openat");
    assert_eq!(r.failures[2].stat_kind, None);
    assert_eq!(r.failures[3].stat_kind, Some(StatKind::Lstat));
    assert_eq!(lookup_paths(r), ["/srv", "/srv/www"]);
    let status_ts = r.status_ts.expect("status time");
    assert!(r.start_ts < status_ts && status_ts < r.end_ts);
    assert!(r.duration_ms() > 0.0);
}

/// The second half of the trace: a new connection on the same fd number, `GET /index.php`,
/// where PHP's include of header.phpp fails five ways while the response is a 200.
#[test]
fn apache_index_php_200_on_a_reused_fd() {
    use StatKind::{Lstat, Stat};
    let w = prefork(4711);
    let www = w.in_dir("/srv/www");
    let mut run = Run::default();
    run.feed_all([w.accept4(13), w.recv(13, &get("/home"))]);
    run.feed_all(home_file_syscalls(w));
    run.feed_all([
        w.recv_eagain(13),
        w.send(13, &response("404 Not Found", NOT_FOUND_BODY)),
        w.log(&access_line("GET", "/home", 404)),
        w.recv_eof(13),
        w.recv_eof(13),
    ]);
    assert_eq!(run.done.len(), 1);

    assert_eq!(run.feed(w.accept4(13)), None);
    let id = run
        .feed(w.recv(13, &get("/index.php")))
        .expect("second request");
    let files = vec![
        w.stat("/srv/www/index.php", Stat, Ok(())),
        w.openat(
            "/srv/www/.htaccess",
            "O_RDONLY|O_CLOEXEC",
            Err(libc::ENOENT),
        ),
        w.openat(
            "/srv/www/index.php/.htaccess",
            "O_RDONLY|O_CLOEXEC",
            Err(libc::ENOTDIR),
        ),
        w.getcwd(),
        w.chdir("/srv/www"),
        www.stat("/srv/www/index.php", Lstat, Ok(())),
        www.stat("/srv/www", Lstat, Ok(())),
        www.stat("/srv", Lstat, Ok(())),
        www.openat("/srv/www/index.php", "O_RDONLY", Ok(14)),
        www.fstat(14, "/srv/www/index.php"),
    ];
    let n1 = files.len();
    assert!(run.feed_all(files).iter().all(|&x| x == Some(id)));
    // Reading the script is I/O on a regular file: not counted, not a request boundary.
    assert_eq!(
        run.feed(www.file_read(14, "/srv/www/index.php", 46)),
        Some(id)
    );
    let files = vec![
        www.getcwd(),
        www.getcwd(),
        www.stat("./header.phpp", Lstat, Err(libc::ENOENT)),
        www.stat("/usr/share/php/header.phpp", Lstat, Err(libc::ENOENT)),
        www.stat("/srv/www/header.phpp", Lstat, Err(libc::ENOENT)),
        www.getcwd(),
        www.stat("/srv/www/header.phpp", Lstat, Err(libc::ENOENT)),
        www.openat("/srv/www/header.phpp", "O_RDONLY", Err(libc::ENOENT)),
        www.chdir("/"),
    ];
    let n2 = files.len();
    assert!(run.feed_all(files).iter().all(|&x| x == Some(id)));
    run.feed_all([
        w.recv_eagain(13),
        w.send(13, &response("200 OK", "hello")),
        w.log(&access_line("GET", "/index.php", 200)),
        w.recv_eof(13),
        w.recv_eof(13),
        w.close(13),
    ]);

    assert_eq!(run.done.len(), 2);
    let home = run.by_target("/home");
    assert_eq!((home.status, home.syscalls, home.failed), (Some(404), 6, 4));
    let php = run.by_target("/index.php");
    assert_eq!(php.id, id);
    assert_eq!(php.status, Some(200));
    assert!(!php.partial);
    assert_eq!(php.end_reason.as_str(), "response");
    assert_eq!(php.syscalls, (n1 + n2) as u64);
    assert_eq!(php.failed, 7);
    assert_eq!(
        failure_paths(php),
        [
            "/srv/www/.htaccess",
            "/srv/www/index.php/.htaccess",
            "/srv/www/header.phpp",
            "/usr/share/php/header.phpp",
            "/srv/www/header.phpp",
            "/srv/www/header.phpp",
            "/srv/www/header.phpp",
        ]
    );
    assert_eq!(php.failures[1].errno, libc::ENOTDIR);
    // getcwd has no path: counted, but neither a failure nor a lookup.
    assert_eq!(
        lookup_paths(php),
        [
            "/srv/www/index.php",
            "/srv/www",
            "/srv/www/index.php",
            "/srv/www",
            "/srv",
            "/srv/www/index.php",
            "/srv/www/index.php",
            "/",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Keep-alive.

#[test]
fn keep_alive_requests_on_one_connection_are_separate() {
    let w = prefork(500);
    let mut run = Run::default();
    run.feed(w.accept4(13));

    let first = run.feed(w.recv(13, &get("/index.html"))).unwrap();
    let got = run.feed_all([
        w.stat("/srv/www/index.html", StatKind::Stat, Ok(())),
        w.openat(
            "/srv/www/.htaccess",
            "O_RDONLY|O_CLOEXEC",
            Err(libc::ENOENT),
        ),
        w.openat("/srv/www/index.html", "O_RDONLY|O_CLOEXEC", Ok(14)),
        w.send(13, &response("200 OK", "<html>hi</html>")),
        w.log(&access_line("GET", "/index.html", 200)),
    ]);
    assert_eq!(got, [Some(first); 5]);
    // Waiting for the next request on the kept-alive connection: the first one is over.
    assert_eq!(run.feed(w.recv_eagain(13)), None);
    assert_eq!(run.done.len(), 1);
    assert_eq!(run.done[0].end_reason.as_str(), "response");

    let second = run.feed(w.recv(13, &get("/missing.png"))).unwrap();
    assert_ne!(first, second);
    let got = run.feed_all([
        w.stat("/srv/www/missing.png", StatKind::Stat, Err(libc::ENOENT)),
        w.openat(
            "/srv/www/.htaccess",
            "O_RDONLY|O_CLOEXEC",
            Err(libc::ENOENT),
        ),
        w.send(13, &response("404 Not Found", NOT_FOUND_BODY)),
        w.log(&access_line("GET", "/missing.png", 404)),
    ]);
    assert_eq!(got, [Some(second); 4]);
    run.feed_all([w.recv_eof(13), w.close(13)]);

    assert_eq!(run.done.len(), 2);
    let a = &run.done[0];
    assert_eq!(
        (a.id, a.target.as_deref()),
        (first, Some(&b"/index.html"[..]))
    );
    assert_eq!((a.status, a.syscalls, a.failed), (Some(200), 3, 1));
    assert_eq!(failure_paths(a), ["/srv/www/.htaccess"]);
    assert_eq!(
        lookup_paths(a),
        ["/srv/www/index.html", "/srv/www/index.html"]
    );
    let b = &run.done[1];
    assert_eq!(
        (b.id, b.target.as_deref()),
        (second, Some(&b"/missing.png"[..]))
    );
    assert_eq!((b.status, b.syscalls, b.failed), (Some(404), 2, 2));
    assert_eq!(
        failure_paths(b),
        ["/srv/www/missing.png", "/srv/www/.htaccess"]
    );
    assert!(b.lookups.is_empty());
    assert_eq!(b.end_reason.as_str(), "response");
    assert!(a.end_ts <= b.start_ts);
}

/// The next request arriving straight after the response (no EAGAIN read in between).
#[test]
fn keep_alive_next_request_read_ends_the_answered_one() {
    let w = prefork(501);
    let mut run = Run::default();
    run.feed_all([w.accept4(13), w.recv(13, &get("/a"))]);
    run.feed(w.stat("/srv/www/a", StatKind::Stat, Ok(())));
    run.feed(w.send(13, &response("200 OK", "a")));
    let b = run.feed(w.recv(13, &get("/b"))).unwrap();
    assert_eq!(run.done.len(), 1);
    assert_eq!(run.done[0].end_reason.as_str(), "response");
    assert_eq!(
        run.feed(w.stat("/srv/www/b", StatKind::Stat, Err(libc::ENOENT))),
        Some(b)
    );
    run.feed(w.send(13, &response("404 Not Found", "")));
    run.feed(w.close(13));
    assert_eq!(run.done.len(), 2);
    assert_eq!(lookup_paths(run.by_target("/a")), ["/srv/www/a"]);
    assert_eq!(failure_paths(run.by_target("/b")), ["/srv/www/b"]);
    assert_eq!(run.by_target("/b").status, Some(404));
    assert_eq!(run.by_target("/b").end_reason.as_str(), "response");
}

// ---------------------------------------------------------------------------------------------
// 3. Pipelining.

#[test]
fn pipelined_requests_in_one_read_get_statuses_in_order() {
    let w = prefork(600);
    let mut run = Run::default();
    run.feed(w.accept4(13));
    let mut both = get("/a");
    both.extend_from_slice(b"GET /b HTTP/1.1\r\nHost: other.example\r\n\r\n");
    let a = run
        .feed(w.recv(13, &both))
        .expect("first pipelined request");

    assert_eq!(
        run.feed(w.stat("/srv/www/a", StatKind::Stat, Ok(()))),
        Some(a)
    );
    // The first response answers /a and moves the thread on to /b.
    let b = run
        .feed(w.send(13, &response("200 OK", "a")))
        .expect("moved on");
    assert_ne!(a, b);
    assert_eq!(run.done.len(), 1);
    assert_eq!(run.done[0].id, a);
    assert_eq!(run.done[0].end_reason.as_str(), "response");

    let got = run.feed_all([
        w.stat("/srv/www/b", StatKind::Stat, Err(libc::ENOENT)),
        w.openat(
            "/srv/www/.htaccess",
            "O_RDONLY|O_CLOEXEC",
            Err(libc::ENOENT),
        ),
        w.send(13, &response("404 Not Found", NOT_FOUND_BODY)),
    ]);
    assert_eq!(got, [Some(b); 3]);
    run.feed_all([w.recv_eof(13), w.close(13)]);

    assert_eq!(run.done.len(), 2);
    let ra = run.by_target("/a");
    assert_eq!(ra.id, a);
    assert_eq!(ra.status, Some(200));
    assert_eq!(ra.host.as_deref(), Some(&b"127.0.0.1:8080"[..]));
    assert_eq!((ra.syscalls, ra.failed), (1, 0));
    assert_eq!(lookup_paths(ra), ["/srv/www/a"]);
    let rb = run.by_target("/b");
    assert_eq!(rb.id, b);
    assert_eq!(rb.status, Some(404));
    assert_eq!(rb.host.as_deref(), Some(&b"other.example"[..]));
    assert_eq!((rb.syscalls, rb.failed), (2, 2));
    assert_eq!(failure_paths(rb), ["/srv/www/b", "/srv/www/.htaccess"]);
    assert!(!ra.partial && !rb.partial);
}

/// Three requests, the middle one a POST with a body that looks like a request: the body is
/// skipped (Content-Length) and the three statuses land in order.
#[test]
fn pipelined_post_body_is_not_a_request() {
    let w = prefork(601);
    let mut run = Run::default();
    run.feed(w.accept4(13));
    let data = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 22\r\n\r\nGET /evil HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
    run.feed(w.recv(13, data));
    for status in ["200 OK", "201 Created", "304 Not Modified"] {
        run.feed(w.send(13, &response(status, "")));
    }
    run.feed(w.recv_eof(13));
    let got: Vec<(String, Option<u16>)> = run
        .done
        .iter()
        .map(|r| (s(r.target.as_deref().unwrap()), r.status))
        .collect();
    assert_eq!(
        got,
        [
            ("/1".to_string(), Some(200)),
            ("/2".to_string(), Some(201)),
            ("/3".to_string(), Some(304)),
        ]
    );
    assert_eq!(run.by_target("/2").method.as_deref(), Some("POST"));
}

// ---------------------------------------------------------------------------------------------
// 4. Threads and processes.

#[test]
fn worker_mpm_threads_serving_interleaved_connections() {
    let listener = thread(700, 700);
    let t1 = thread(700, 701);
    let t2 = thread(700, 702);
    let mut run = Run::default();
    // The listener thread accepts both connections; workers read and answer them.
    assert_eq!(
        run.feed_all([listener.accept4(13), listener.accept4(14)]),
        [None, None]
    );
    let a = run.feed(t1.recv(13, &get("/a.php"))).unwrap();
    let b = run.feed(t2.recv(14, &get("/b.html"))).unwrap();
    assert_ne!(a, b);

    let steps = [
        (t1.stat("/srv/www/a.php", StatKind::Stat, Ok(())), Some(a)),
        (
            t2.stat("/srv/www/b.html", StatKind::Stat, Err(libc::ENOENT)),
            Some(b),
        ),
        (
            listener.stat("/etc/apache2/ports.conf", StatKind::Stat, Ok(())),
            None,
        ),
        (
            t2.openat(
                "/srv/www/.htaccess",
                "O_RDONLY|O_CLOEXEC",
                Err(libc::EACCES),
            ),
            Some(b),
        ),
        (t1.openat("/srv/www/a.php", "O_RDONLY", Ok(20)), Some(a)),
        (t2.send(14, &response("403 Forbidden", "")), Some(b)),
        (
            t1.openat("/srv/www/inc/db.php", "O_RDONLY", Err(libc::ENOENT)),
            Some(a),
        ),
        (t2.log(&access_line("GET", "/b.html", 403)), Some(b)),
        (t1.stat("/srv/www/inc", StatKind::Lstat, Ok(())), Some(a)),
        (t2.recv_eof(14), None),
        (
            t1.send(13, &response("500 Internal Server Error", "")),
            Some(a),
        ),
        (t2.close(14), None),
        (
            t2.stat("/srv/www/b.html", StatKind::Stat, Err(libc::ENOENT)),
            None,
        ),
        (t1.log(&access_line("GET", "/a.php", 500)), Some(a)),
        (t1.recv_eof(13), None),
        (t1.close(13), None),
    ];
    for (i, (ev, want)) in steps.into_iter().enumerate() {
        assert_eq!(run.feed(ev), want, "step {i}");
    }

    assert_eq!(run.done.len(), 2);
    assert_eq!(run.c.open_count(), 0);
    let ra = run.by_target("/a.php");
    assert_eq!((ra.id, ra.tid, ra.status), (a, 701, Some(500)));
    assert_eq!((ra.syscalls, ra.failed), (4, 1));
    assert_eq!(failure_paths(ra), ["/srv/www/inc/db.php"]);
    assert_eq!(
        lookup_paths(ra),
        ["/srv/www/a.php", "/srv/www/a.php", "/srv/www/inc"]
    );
    let rb = run.by_target("/b.html");
    assert_eq!((rb.id, rb.tid, rb.status), (b, 702, Some(403)));
    assert_eq!((rb.syscalls, rb.failed), (2, 2));
    assert_eq!(failure_paths(rb), ["/srv/www/b.html", "/srv/www/.htaccess"]);
    assert_eq!(rb.failures[1].errno, libc::EACCES);
    assert!(rb.lookups.is_empty());
}

/// Two prefork workers with the same fd number: connections are per process.
#[test]
fn prefork_workers_with_the_same_fd_number_do_not_mix() {
    let p1 = prefork(801);
    let p2 = prefork(802);
    let mut run = Run::default();
    run.feed_all([p1.accept4(13), p2.accept4(13)]);
    let a = run.feed(p1.recv(13, &get("/one"))).unwrap();
    let b = run.feed(p2.recv(13, &get("/two"))).unwrap();
    assert_eq!(
        run.feed(p2.stat("/srv/www/two", StatKind::Stat, Err(libc::ENOENT))),
        Some(b)
    );
    assert_eq!(
        run.feed(p1.stat("/srv/www/one", StatKind::Stat, Ok(()))),
        Some(a)
    );
    // p2 answers and closes first: p1's request on its own fd 13 stays open.
    run.feed_all([p2.send(13, &response("404 Not Found", "")), p2.close(13)]);
    assert_eq!(run.done.len(), 1);
    assert_eq!(run.done[0].id, b);
    assert_eq!(
        run.feed(p1.stat("/srv/www/one/x", StatKind::Stat, Ok(()))),
        Some(a)
    );
    run.feed_all([p1.send(13, &response("200 OK", "")), p1.close(13)]);
    let ra = run.by_target("/one");
    assert_eq!((ra.pid, ra.status, ra.syscalls), (801, Some(200), 2));
    let rb = run.by_target("/two");
    assert_eq!((rb.pid, rb.status, rb.syscalls), (802, Some(404), 1));
}

// ---------------------------------------------------------------------------------------------
// 5. Attached mid-request.

#[test]
fn response_without_a_seen_request_is_partial() {
    let w = prefork(900);
    let mut run = Run::default();
    // The request was read before we attached: its file syscalls so far belong to nothing.
    assert_eq!(
        run.feed(w.stat("/srv/www/report.pdf", StatKind::Stat, Ok(()))),
        None
    );
    let id = run
        .feed(w.send(13, &response("500 Internal Server Error", "")))
        .expect("a partial request");
    assert_eq!(
        run.feed(w.log(&access_line("GET", "/report.pdf", 500))),
        Some(id)
    );
    assert_eq!(run.feed(w.recv_eof(13)), None);

    let r = run.only();
    assert_eq!(r.id, id);
    assert!(r.partial);
    assert_eq!(r.status, Some(500));
    assert_eq!((r.method.as_deref(), r.target.as_deref()), (None, None));
    assert_eq!(r.syscalls, 0);
    assert_eq!(r.end_reason.as_str(), "response");

    // The next request on the kept-alive connection is a whole one.
    run.feed(w.recv(13, &get("/next")));
    run.feed(w.send(13, &response("200 OK", "")));
    run.feed(w.close(13));
    assert_eq!(run.done.len(), 2);
    assert!(!run.done[1].partial);
    assert_eq!(run.done[1].status, Some(200));
}

// ---------------------------------------------------------------------------------------------
// 6. The worker goes away.

#[test]
fn worker_thread_exit_mid_request() {
    let t1 = thread(1000, 1001);
    let t2 = thread(1000, 1002);
    let mut run = Run::default();
    run.feed_all([t1.accept4(13), t2.accept4(14)]);
    let a = run.feed(t1.recv(13, &get("/crash"))).unwrap();
    let b = run.feed(t2.recv(14, &get("/fine"))).unwrap();
    run.feed(t1.stat("/srv/www/crash", StatKind::Stat, Ok(())));
    assert_eq!(run.feed(t1.exited(ExitKind::Signal(libc::SIGSEGV))), None);

    let r = run.only();
    assert_eq!(r.id, a);
    assert_eq!(r.end_reason.as_str(), "worker exited");
    assert_eq!(r.status, None);
    assert_eq!(r.syscalls, 1);
    // The other thread of the process is unaffected.
    assert_eq!(run.c.open_count(), 1);
    assert_eq!(
        run.feed(t2.stat("/srv/www/fine", StatKind::Stat, Ok(()))),
        Some(b)
    );
    run.feed_all([t2.send(14, &response("200 OK", "")), t2.recv_eof(14)]);
    assert_eq!(run.done.len(), 2);
    assert_eq!(run.done[1].id, b);
    assert_eq!(run.done[1].status, Some(200));
    assert_eq!(run.done[1].syscalls, 1);
}

#[test]
fn prefork_worker_exit_finishes_its_queued_requests_too() {
    let w = prefork(1100);
    let mut run = Run::default();
    run.feed(w.accept4(13));
    let mut both = get("/a");
    both.extend_from_slice(&get("/b"));
    run.feed(w.recv(13, &both));
    run.feed(w.stat("/srv/www/a", StatKind::Stat, Ok(())));
    run.feed(w.exited(ExitKind::Code(0)));
    assert_eq!(run.done.len(), 2);
    assert_eq!(run.c.open_count(), 0);
    for r in &run.done {
        assert_eq!(r.end_reason.as_str(), "worker exited", "{r:?}");
        assert_eq!(r.status, None);
    }
    // A new process reusing the pid starts clean.
    assert_eq!(run.feed(w.stat("/srv/www/a", StatKind::Stat, Ok(()))), None);
}

#[test]
fn client_closing_before_the_response_finishes_the_request() {
    let w = prefork(1200);
    let mut run = Run::default();
    run.feed_all([w.accept4(13), w.recv(13, &get("/slow"))]);
    run.feed(w.stat("/srv/www/slow", StatKind::Stat, Ok(())));
    // The client went away: reading 0 before any response does not finish it, close does.
    run.feed(w.recv_eof(13));
    assert!(run.done.is_empty());
    run.feed(w.close(13));
    let r = run.only();
    assert_eq!(r.end_reason.as_str(), "connection closed");
    assert_eq!(r.status, None);
    assert_eq!(r.syscalls, 1);
}

// ---------------------------------------------------------------------------------------------
// 7. Detaching.

#[test]
fn finish_all_detaches_open_requests() {
    let t1 = thread(1300, 1301);
    let t2 = thread(1300, 1302);
    let mut run = Run::default();
    run.feed_all([t1.accept4(13), t2.accept4(14)]);
    let a = run.feed(t1.recv(13, &get("/answered"))).unwrap();
    let b = run.feed(t2.recv(14, &get("/pending"))).unwrap();
    run.feed(t1.send(13, &response("200 OK", "")));
    run.feed(t2.stat("/srv/www/pending", StatKind::Stat, Err(libc::ENOENT)));
    assert!(run.done.is_empty());
    assert_eq!(run.c.open_count(), 2);

    run.c.finish_all(1_795_651_999.0, &mut run.done);
    assert_eq!(run.c.open_count(), 0);
    let ids: Vec<u64> = run.done.iter().map(|r| r.id).collect();
    assert_eq!(ids, [a, b]);
    assert!(run.done.iter().all(|r| r.end_reason.as_str() == "detached"));
    assert!(run.done.iter().all(|r| r.end_ts == 1_795_651_999.0));
    assert_eq!(run.done[0].status, Some(200));
    assert_eq!(run.done[1].status, None);
    assert_eq!(run.done[1].failed, 1);
    // Nothing is left attributed to the threads afterwards.
    assert_eq!(
        run.feed(t2.stat("/srv/www/x", StatKind::Stat, Ok(()))),
        None
    );
    assert_eq!(run.feed(t1.close(13)), None);
    assert_eq!(run.done.len(), 2);
    // finish_all with nothing open is a no-op.
    run.c.finish_all(1_795_652_000.0, &mut run.done);
    assert_eq!(run.done.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// 7b. What the server logged for a request.

const PHP_WARNING: &[u8] = b"[Tue Dec 01 17:00:00.123456 2026] [php:warn] [pid 1500] [client 127.0.0.1:40000] PHP Warning:  include(/srv/www/header.phpp): Failed to open stream: No such file or directory in /srv/www/index.php on line 2\n";

#[test]
fn a_line_the_serving_thread_logs_belongs_to_its_request() {
    let w = prefork(1500);
    let mut run = Run::default();
    // Logged while serving nothing (start-up): no request to tie it to.
    run.feed(w.errlog(b"[Tue Dec 01 2026] [mpm_prefork:notice] [pid 1500] AH00163: resuming\n"));
    run.feed_all([w.accept4(13), w.recv(13, &get("/index.php"))]);
    run.feed(w.errlog(PHP_WARNING));
    run.feed(w.send(13, &response("200 OK", "")));
    // After the status line too: PHP warns while the body streams out. Two lines in one
    // write are two lines.
    run.feed(w.errlog(b"[x] [php:warn] PHP Warning:  a\n[x] [php:warn] PHP Warning:  b\n"));
    run.feed(w.recv_eof(13));
    let r = run.only();
    let lines: Vec<&[u8]> = r.logged.iter().map(|l| l.line.as_slice()).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], PHP_WARNING.strip_suffix(b"\n").unwrap());
    assert_eq!(lines[2], b"[x] [php:warn] PHP Warning:  b");
    assert_eq!(r.logged[0].pid, 1500);
    assert_eq!(r.status, Some(200));
}

#[test]
fn only_a_servers_error_log_lines_are_kept_from_a_file_that_is_not_stderr() {
    let w = prefork(1503);
    let write_to = |fd: i32, file: &[u8], line: &[u8]| {
        let args = vec![
            Arg::Fd(fd, Some(file.to_vec())),
            Arg::Ptr(USER_BUF),
            Arg::Int(line.len() as i64),
        ];
        let mut s = w.sys("write", args, line.len() as i64);
        s.path = Some(file.to_vec());
        s.data = cap(line, ERROR_LOG_CAP);
        Event::Syscall(Box::new(s))
    };
    let mut run = Run::default();
    run.feed_all([w.accept4(13), w.recv(13, &get("/checkout.php"))]);
    // The application's own log: its data, not kept.
    run.feed(write_to(
        7,
        b"/srv/app/storage/logs/app.log",
        b"order 17: card=4111111111111111\n",
    ));
    // nginx's error_log under another name: its lines are kept.
    run.feed(write_to(3, b"/var/log/nginx/site.log", b"2026/12/01 17:00:00 [error] 1503#1503: *1 open() \"/srv/x\" failed (2: No such file or directory)\n"));
    run.feed(w.send(13, &response("500 Internal Server Error", "")));
    run.feed(w.close(13));
    let r = run.only();
    assert_eq!(r.logged.len(), 1, "{:?}", r.logged);
    assert!(r.logged[0].line.starts_with(b"2026/12/01"));
}

#[test]
fn an_nginx_line_belongs_to_the_request_it_names() {
    // Two requests in flight in one process; the line is written by the thread serving the
    // other one (nginx's threads, a shared logger): the request it names wins.
    let (w, v) = (thread(1501, 1501), thread(1501, 1502));
    let mut run = Run::default();
    run.feed_all([w.accept4(13), w.recv(13, &get("/a.php"))]);
    run.feed_all([v.accept4(14), v.recv(14, &get("/b.php"))]);
    run.feed(v.errlog(b"2026/12/01 17:00:00 [error] 1501#1501: *1 FastCGI sent in stderr: \"Primary script unknown\" while reading response header from upstream, client: 127.0.0.1, server: _, request: \"GET /a.php HTTP/1.1\", host: \"h\"\n"));
    run.feed(w.send(13, &response("404 Not Found", "")));
    run.feed(v.send(14, &response("200 OK", "")));
    run.feed_all([w.close(13), v.close(14)]);
    assert_eq!(run.by_target("/a.php").logged.len(), 1);
    assert!(run.by_target("/b.php").logged.is_empty());
}

#[test]
fn logged_lines_per_request_are_bounded_and_the_rest_counted() {
    let w = prefork(1502);
    let mut run = Run::default();
    run.feed_all([w.accept4(13), w.recv(13, &get("/loop.php"))]);
    for _ in 0..super::correlate::MAX_LOGGED + 5 {
        run.feed(w.errlog(PHP_WARNING));
    }
    run.feed(w.close(13));
    let r = run.only();
    assert_eq!(r.logged.len(), super::correlate::MAX_LOGGED);
    assert_eq!(r.logged_more, 5);
}

// ---------------------------------------------------------------------------------------------
// 7c. Across FastCGI: the backend's calls join the web server's request (fastcgi-syscalls.md).

fn fcgi_record(kind: u8, content: &[u8]) -> Vec<u8> {
    let mut r = vec![1, kind, 0, 1];
    r.extend_from_slice(&(content.len() as u16).to_be_bytes());
    r.extend_from_slice(&[0, 0]);
    r.extend_from_slice(content);
    r
}

fn fcgi_params(uri: &str, script: &str) -> Vec<u8> {
    let mut p = Vec::new();
    for (n, v) in [("REQUEST_URI", uri), ("SCRIPT_FILENAME", script)] {
        p.push(n.len() as u8);
        p.push(v.len() as u8);
        p.extend_from_slice(n.as_bytes());
        p.extend_from_slice(v.as_bytes());
    }
    p
}

const BEGIN_BODY: [u8; 8] = [0, 1, 0, 0, 0, 0, 0, 0];

impl Thread {
    /// nginx: BEGIN_REQUEST, PARAMS and the empty PARAMS in one writev to the backend.
    fn fcgi_send_all(&self, fd: i32, uri: &str, script: &str) -> Event {
        let mut b = fcgi_record(1, &BEGIN_BODY);
        b.extend(fcgi_record(4, &fcgi_params(uri, script)));
        b.extend(fcgi_record(4, b""));
        self.socket_io("writev", fd, &b, WRITE_CAP)
    }

    /// php-fpm reads a header, then its content, apart.
    fn fcgi_serve(&self, fd: i32, uri: &str, script: &str) -> Vec<Event> {
        let begin = fcgi_record(1, &BEGIN_BODY);
        let params = fcgi_record(4, &fcgi_params(uri, script));
        vec![
            self.accept4(fd),
            self.recv(fd, &begin[..8]),
            self.recv(fd, &begin[8..]),
            self.recv(fd, &params[..8]),
            self.recv(fd, &params[8..]),
            self.recv(fd, &fcgi_record(4, b"")),
        ]
    }

    /// STDERR, STDOUT with its Status header and END_REQUEST in one write, then close.
    fn fcgi_answer(&self, fd: i32) -> Vec<Event> {
        let mut b = fcgi_record(7, b"Primary script unknown");
        b.extend(fcgi_record(
            6,
            b"Status: 404 Not Found\r\n\r\nFile not found.\n",
        ));
        b.extend(fcgi_record(3, &[0; 8]));
        vec![self.socket_io("write", fd, &b, WRITE_CAP), self.close(fd)]
    }
}

#[test]
fn the_backends_failures_join_the_web_servers_request() {
    let (n, f) = (prefork(1600), prefork(1700));
    let mut run = Run::default();
    run.feed_all([n.accept4(3), n.recv(3, &get("/x.php"))]);
    run.feed(n.fcgi_send_all(11, "/x.php", "/srv/wwww/x.php"));
    run.feed_all(f.fcgi_serve(5, "/x.php", "/srv/wwww/x.php"));
    let id = run.feed(f.stat("/srv/wwww/x.php", StatKind::Lstat, Err(libc::ENOENT)));
    assert!(
        id.is_some(),
        "the backend's call is tagged with the request"
    );
    run.feed(f.stat("/srv/wwww", StatKind::Stat, Err(libc::ENOENT)));
    run.feed_all(f.fcgi_answer(5));
    // The web server reads the answer on its backend socket: not an HTTP request.
    run.feed(n.recv(11, &fcgi_record(7, b"Primary script unknown")));
    run.feed(n.send(3, &response("404 Not Found", "")));
    run.feed(n.close(3));
    let r = run.only();
    assert_eq!(r.target.as_deref(), Some(&b"/x.php"[..]));
    assert_eq!(r.status, Some(404));
    assert_eq!(r.processes, [1600, 1700]);
    assert_eq!(failure_paths(r), ["/srv/wwww/x.php", "/srv/wwww"]);
    assert!(r.failures.iter().all(|f| f.pid == 1700));
    let b = r.backend.as_ref().expect("backend");
    assert_eq!(b.pid, 1700);
    assert_eq!(b.script_filename.as_deref(), Some(&b"/srv/wwww/x.php"[..]));
}

#[test]
fn a_leg_seen_before_the_begin_write_still_finds_its_request() {
    // The backend's stops reported first, its leg already over; then the web server's.
    let (n, f) = (prefork(1601), prefork(1701));
    let mut run = Run::default();
    run.feed_all([n.accept4(3), n.recv(3, &get("/y.php"))]);
    run.feed_all(f.fcgi_serve(5, "/y.php", "/srv/y.php"));
    run.feed(f.openat("/srv/y.php", "O_RDONLY", Err(libc::EACCES)));
    run.feed_all(f.fcgi_answer(5));
    run.feed(n.fcgi_send_all(11, "/y.php", "/srv/y.php"));
    run.feed(n.send(3, &response("404 Not Found", "")));
    run.feed(n.close(3));
    let r = run.only();
    assert_eq!(failure_paths(r), ["/srv/y.php"]);
    assert_eq!(r.backend.as_ref().map(|b| b.pid), Some(1701));
}

#[test]
fn concurrent_legs_go_to_the_request_their_uri_names() {
    // Two web server threads, two backend workers; the second request's leg runs first.
    let (a, b) = (thread(1602, 1602), thread(1602, 1603));
    let (f1, f2) = (prefork(1702), prefork(1703));
    let mut run = Run::default();
    run.feed_all([a.accept4(3), a.recv(3, &get("/a.php"))]);
    run.feed_all([b.accept4(4), b.recv(4, &get("/b.php"))]);
    run.feed(a.fcgi_send_all(11, "/a.php", "/srv/a.php"));
    run.feed(b.fcgi_send_all(12, "/b.php", "/srv/b.php"));
    run.feed_all(f2.fcgi_serve(5, "/b.php", "/srv/b.php"));
    run.feed(f2.stat("/srv/b.php", StatKind::Lstat, Err(libc::ENOENT)));
    run.feed_all(f1.fcgi_serve(5, "/a.php", "/srv/a.php"));
    run.feed(f1.stat("/srv/a.php", StatKind::Lstat, Err(libc::ENOENT)));
    run.feed_all(f2.fcgi_answer(5));
    run.feed_all(f1.fcgi_answer(5));
    run.feed_all([a.send(3, &response("404 Not Found", "")), a.close(3)]);
    run.feed_all([b.send(4, &response("404 Not Found", "")), b.close(4)]);
    assert_eq!(failure_paths(run.by_target("/a.php")), ["/srv/a.php"]);
    assert_eq!(failure_paths(run.by_target("/b.php")), ["/srv/b.php"]);
    assert_eq!(run.by_target("/b.php").backend.as_ref().unwrap().pid, 1703);
}

#[test]
fn a_request_finished_before_its_leg_waits_for_it() {
    let (n, f) = (prefork(1604), prefork(1704));
    let mut run = Run::default();
    run.feed_all([n.accept4(3), n.recv(3, &get("/z.php"))]);
    run.feed(n.fcgi_send_all(11, "/z.php", "/srv/z.php"));
    run.feed_all(f.fcgi_serve(5, "/z.php", "/srv/z.php"));
    // The web server's answer and close reported before the backend's last calls.
    run.feed_all([n.send(3, &response("200 OK", "")), n.close(3)]);
    assert!(run.done.is_empty(), "held for its leg");
    run.feed(f.stat("/srv/z.cache", StatKind::Stat, Err(libc::ENOENT)));
    run.feed_all(f.fcgi_answer(5));
    let r = run.only();
    assert_eq!(failure_paths(r), ["/srv/z.cache"]);
}

#[test]
fn a_client_sending_fastcgi_bytes_steals_no_leg() {
    // A client opens a connection to nginx and sends 16 bytes shaped like a BEGIN_REQUEST;
    // then a real PHP request goes through php-fpm.
    let (n, f) = (prefork(1606), prefork(1706));
    let mut run = Run::default();
    run.feed(n.accept4(9));
    run.feed(n.recv(9, &fcgi_record(1, &BEGIN_BODY)));
    run.feed(n.close(9));
    run.feed_all([n.accept4(3), n.recv(3, &get("/x.php"))]);
    run.feed(n.fcgi_send_all(11, "/x.php", "/srv/x.php"));
    run.feed_all(f.fcgi_serve(5, "/x.php", "/srv/x.php"));
    run.feed(f.stat("/srv/x.php", StatKind::Lstat, Err(libc::ENOENT)));
    run.feed_all(f.fcgi_answer(5));
    run.feed_all([n.send(3, &response("404 Not Found", "")), n.close(3)]);
    let r = run.by_target("/x.php");
    assert_eq!(r.backend.as_ref().map(|b| b.pid), Some(1706));
    assert_eq!(failure_paths(r), ["/srv/x.php"]);
}

#[test]
fn requests_whose_leg_never_comes_leave_the_waiting_list() {
    // A backend is traced (one leg seen), but these requests go to another, untraced one:
    // each is held a while, then reported, and nothing of them is kept.
    let (n, f) = (prefork(1607), prefork(1707));
    let mut run = Run::default();
    run.feed_all(f.fcgi_serve(5, "/other.php", "/srv/other.php"));
    run.feed_all(f.fcgi_answer(5));
    for i in 0..50 {
        let t = format!("/u{i}.php");
        run.feed_all([n.accept4(3), n.recv(3, &get(&t))]);
        run.feed(n.fcgi_send_all(11, &t, "/x"));
        run.feed_all([n.send(3, &response("502 Bad Gateway", "")), n.close(3)]);
    }
    // Held (trace time has not moved 2 s), then released by the clock.
    assert!(run.done.len() < 50);
    run.c.release_held(f64::MAX, &mut run.done);
    assert_eq!(run.done.len(), 50);
    assert!(!run.c.holding());
    assert_eq!(run.c.awaiting_len(), 0);
}

#[test]
fn backend_bytes_open_no_http_request() {
    // A traced php-fpm alone: its FastCGI reads are not requests, its calls belong to none.
    let f = prefork(1705);
    let mut run = Run::default();
    run.feed_all(f.fcgi_serve(5, "/q.php", "/srv/q.php"));
    run.feed(f.stat("/srv/q.php", StatKind::Lstat, Err(libc::ENOENT)));
    run.feed_all(f.fcgi_answer(5));
    let mut done = Vec::new();
    run.c.finish_all(2e9, &mut done);
    assert!(run.done.is_empty() && done.is_empty(), "{:#?}", run.done);
}

// ---------------------------------------------------------------------------------------------
// 8. The access-log fallback.

/// A TLS application-data record: what a socket write looks like under mod_ssl.
const TLS_RECORD: &[u8] = b"\x17\x03\x03\x01\x2a\x8f\x13\x9c\x00\x41\xd2\x7f\x0b\xee\x12\x80\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32";

#[test]
fn status_from_the_access_log_when_the_socket_write_has_none() {
    let w = prefork(1400);
    let mut run = Run::default();
    run.feed(w.accept4(13));
    let id = run.feed(w.recv(13, &get("/secret/"))).unwrap();
    run.feed(w.openat(
        "/srv/www/secret/.htaccess",
        "O_RDONLY|O_CLOEXEC",
        Err(libc::EACCES),
    ));
    assert_eq!(run.feed(w.send(13, TLS_RECORD)), Some(id));
    // Lines for another request or not in access-log format change nothing.
    run.feed(w.log(&access_line("GET", "/other", 500)));
    run.feed(w.log(
        b"[Thu Nov 26 00:06:33 2026] [core:crit] AH00529: \"/srv/www/secret/.htaccess\" 403\n",
    ));
    run.feed(w.log(&access_line("POST", "/secret/", 500)));
    assert_eq!(
        run.feed(w.log(&access_line("GET", "/secret/", 403))),
        Some(id)
    );
    // A later line cannot overwrite it.
    run.feed(w.log(&access_line("GET", "/secret/", 200)));
    // Nothing finished yet: the status came from the log, the next read ends it.
    assert!(run.done.is_empty());
    run.feed(w.recv_eof(13));

    let r = run.only();
    assert_eq!(r.status, Some(403));
    assert_eq!(r.end_reason.as_str(), "response");
    assert!(!r.partial);
    assert_eq!(failure_paths(r), ["/srv/www/secret/.htaccess"]);
    assert!(r.status_ts.unwrap() < r.end_ts);
}

#[test]
fn the_socket_status_wins_over_the_access_log() {
    let w = prefork(1401);
    let mut run = Run::default();
    run.feed_all([w.accept4(13), w.recv(13, &get("/x"))]);
    run.feed(w.send(13, &response("302 Found", "")));
    run.feed(w.log(&access_line("GET", "/x", 500)));
    run.feed(w.recv_eof(13));
    assert_eq!(run.only().status, Some(302));
}

/// Under TLS the request read is encrypted too, so the request is never opened and the
/// access-log line (the documented TLS fallback) has nothing to attach to.
#[test]
fn tls_connection_gets_its_status_from_the_access_log() {
    let w = prefork(1402);
    let mut run = Run::default();
    run.feed(w.accept4(13));
    run.feed(w.recv(13, TLS_RECORD));
    run.feed(w.stat("/srv/www/index.phpp", StatKind::Stat, Err(libc::ENOENT)));
    run.feed(w.send(13, TLS_RECORD));
    run.feed(w.log(&access_line("GET", "/home", 404)));
    run.feed_all([w.recv_eof(13), w.close(13)]);
    let r = run.only();
    assert_eq!(r.status, Some(404));
    assert_eq!(r.target.as_deref(), Some(&b"/home"[..]));
    assert_eq!(failure_paths(r), ["/srv/www/index.phpp"]);
}

// ---------------------------------------------------------------------------------------------
// 9. Hostile socket data.

/// A small deterministic generator (xorshift) for junk bytes.
fn junk(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn garbage_socket_data_opens_nothing_and_never_panics() {
    let mut inputs: Vec<Vec<u8>> = vec![
        TLS_RECORD.to_vec(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        vec![0; 4096],
        b"\x00GET / HTTP/1.1\r\n\r\n".to_vec(),
        b"GET /\x00 HTTP/1.1\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1".to_vec(),
        b"GET / HTTP/2.0\r\n\r\n".to_vec(),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        b"\r\n\r\n\r\n\n\n\n".to_vec(),
        b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
        b"Content-Length: 99999999999999999999\r\n\r\nGET / HTTP/1.1\r\n\r\n".to_vec(),
        [b"A".repeat(40), b" / HTTP/1.1\r\n\r\n".to_vec()].concat(),
        vec![b'\n'; 10_000],
        vec![0xff; 1 << 20],
    ];
    for seed in 1..200u64 {
        inputs.push(junk(seed, (seed as usize * 37) % 1500));
    }
    let writes: Vec<Vec<u8>> = vec![
        b"HTTP/1.1 9999 X".to_vec(),
        b"HTTP/1.1 ".to_vec(),
        b"HTTP/1.1 0xx".to_vec(),
        b"HTTP/1.1 099 Low".to_vec(),
        b"HTTP/1.1 600 High".to_vec(),
        b"HTTP/1.\xff 200".to_vec(),
        TLS_RECORD.to_vec(),
        vec![0; 64],
    ];
    let w = prefork(1500);
    let mut run = Run::default();
    run.feed(w.accept4(13));
    for data in &inputs {
        // Fed as the tracer caps them, and uncapped (a future capture size must not matter).
        // Non-HTTP bytes may open an anonymous request (TLS); it must never get a name.
        run.feed(w.recv(13, data));
        let Event::Syscall(mut raw) = w.recv(13, b"x") else {
            unreachable!()
        };
        raw.data = Some(data.clone());
        raw.ret = data.len() as i64;
        run.feed(Event::Syscall(raw));
        run.feed(w.log(data));
    }
    for data in &writes {
        run.feed(w.send(13, data));
    }
    run.feed(w.close(13));
    assert_eq!(run.c.open_count(), 0);
    // Nothing reportable came out of garbage: no method, no target, no status.
    assert!(
        run.done
            .iter()
            .all(|r| r.method.is_none() && r.target.is_none() && r.status.is_none()),
        "{:#?}",
        run.done
    );
}

/// A request line longer than what the capture keeps (its read went on past the kept bytes,
/// with no line end among them) is a malformed request with its method and the start of its
/// target, not a line waiting for its rest; the 414 answering it is its status.
#[test]
fn a_request_line_longer_than_what_is_kept_is_malformed_not_partial() {
    let w = prefork(1700);
    let mut run = Run::default();
    run.feed(w.accept4(13));
    let line = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "x".repeat(20_000));
    run.feed(w.socket_io("read", 13, line.as_bytes(), HEAD_CAP));
    run.feed(w.send(13, &response("414 Request-URI Too Long", "")));
    run.feed(w.close(13));
    let r = run.only();
    assert_eq!(r.method.as_deref(), Some("GET"));
    assert_eq!(r.target.as_ref().map(Vec::len), Some(HEAD_CAP - 4));
    assert_eq!((r.status, r.partial), (Some(414), false));
    assert_eq!(r.malformed.as_deref(), Some(super::parse::TOO_LONG));
}

#[test]
fn lying_content_length_opens_only_the_real_request() {
    let w = prefork(1600);
    for length in ["99999999999", "18446744073709551615", "9223372036854775807"] {
        let mut run = Run::default();
        run.feed(w.accept4(13));
        let data = format!(
            "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: {length}\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
        );
        let id = run.feed(w.recv(13, data.as_bytes())).expect("the POST");
        assert_eq!(run.c.open_count(), 1, "Content-Length {length}");
        assert_eq!(
            run.feed(w.stat("/srv/www/upload", StatKind::Stat, Ok(()))),
            Some(id)
        );
        run.feed(w.send(13, &response("413 Request Entity Too Large", "")));
        run.feed(w.close(13));
        let r = run.only();
        assert_eq!(r.target.as_deref(), Some(&b"/upload"[..]));
        assert_eq!(r.status, Some(413));
    }
}

/// A Content-Length too large for u64 (or otherwise unparsable) is taken as no body, so the
/// body is parsed as a pipelined request: a phantom record with no response.
#[test]
fn unparsable_content_length_does_not_make_a_phantom_request() {
    let w = prefork(1601);
    for length in ["99999999999999999999999", "-1", "12abc"] {
        let mut run = Run::default();
        run.feed(w.accept4(13));
        let data = format!(
            "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: {length}\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
        );
        run.feed(w.recv(13, data.as_bytes()));
        assert_eq!(run.c.open_count(), 1, "Content-Length {length}");
    }
}

/// A request body read while the request is served is not a boundary.
#[test]
fn body_reads_keep_the_request_open() {
    let w = prefork(1700);
    let mut run = Run::default();
    run.feed(w.accept4(13));
    let id = run
        .feed(w.recv(
            13,
            b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n",
        ))
        .unwrap();
    assert_eq!(run.feed(w.recv(13, &junk(7, 1024))), Some(id));
    assert_eq!(run.feed(w.recv(13, b"name=x&value=y")), Some(id));
    assert_eq!(
        run.feed(w.openat(
            "/var/lib/app/spool",
            "O_WRONLY|O_CREAT|O_TRUNC",
            Err(libc::EACCES)
        )),
        Some(id)
    );
    run.feed_all([
        w.send(13, &response("500 Internal Server Error", "")),
        w.close(13),
    ]);
    let r = run.only();
    assert_eq!(r.status, Some(500));
    assert_eq!(r.failures.len(), 1);
    assert!(r.failures[0].write);
    assert_eq!(r.failures[0].errno, libc::EACCES);
}

// ---------------------------------------------------------------------------------------------
// Interim responses.

/// `Expect: 100-continue` (curl sends it for large uploads): Apache writes `HTTP/1.1 100
/// Continue` when the handler starts reading the body, then the final status. The interim
/// status must not be taken as the response.
#[test]
fn interim_100_continue_is_not_the_response() {
    let w = prefork(1800);
    let mut run = Run::default();
    run.feed(w.accept4(13));
    let id = run
        .feed(w.recv(
            13,
            b"POST /upload.php HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n",
        ))
        .unwrap();
    run.feed(w.send(13, b"HTTP/1.1 100 Continue\r\n\r\n"));
    assert_eq!(run.feed(w.recv(13, &junk(3, 1024))), Some(id));
    assert_eq!(
        run.feed(w.openat(
            "/srv/www/uploads/a.bin",
            "O_WRONLY|O_CREAT|O_TRUNC",
            Err(libc::EACCES)
        )),
        Some(id)
    );
    run.feed_all([
        w.send(13, &response("403 Forbidden", "")),
        w.recv_eof(13),
        w.close(13),
    ]);
    let r = run.only();
    assert_eq!(r.status, Some(403));
    assert!(!r.partial);
    assert_eq!(failure_paths(r), ["/srv/www/uploads/a.bin"]);
}

/// A recording's calls tagged with their request id join the request announced later; ids
/// never announced are given up oldest first, never the ones still in flight.
#[test]
fn tagged_calls_join_their_announced_request_and_the_oldest_ids_go_first() {
    use crate::event::{Announced, RequestEnd};
    let w = prefork(7001);
    let mut run = Run {
        c: Correlator::new(),
        done: Vec::new(),
    };
    let tagged = |id: u64, path: &str| {
        let mut ev = w.sys("openat", vec![Arg::AtFdCwd, str_arg(path.as_bytes())], -2);
        ev.path = Some(path.as_bytes().to_vec());
        ev.errno = Some(libc::ENOENT);
        ev.request = Some(id);
        Event::Syscall(Box::new(ev))
    };
    let announce = |id: u64| {
        Event::Request(Box::new(Announced {
            id,
            pid: w.pid,
            tid: w.tid,
            method: Some("GET".into()),
            target: Some(format!("/{id}").into_bytes()),
            host: None,
            status: Some(404),
            partial: false,
            malformed: None,
            start_ts: 1.0,
            end_ts: 1.001,
            end: RequestEnd::Response,
            syscalls: None,
            failed: None,
            verdict: None,
            logged: vec![],
            logged_more: 0,
            backend: None,
        }))
    };
    // The oldest id, then as many others as are kept, then the newest id's second call.
    assert_eq!(run.feed(tagged(1, "/srv/a")), Some(1));
    for id in 2..=(MAX_TAGGED_FOR_TEST as u64 + 1) {
        run.feed(tagged(id, "/srv/other"));
    }
    let newest = MAX_TAGGED_FOR_TEST as u64 + 1;
    run.feed(tagged(newest, "/srv/b"));
    run.feed(announce(newest));
    run.feed(announce(1));
    let newest = run.by_target(&format!("/{newest}"));
    assert_eq!(failure_paths(newest), ["/srv/other", "/srv/b"]);
    assert_eq!(newest.end_reason, RequestEnd::Response);
    // Id 1 was the oldest when room was needed: announced with nothing.
    assert!(run.by_target("/1").failures.is_empty());
}

/// A long request line split across two reads, the second kept only in part (it does not
/// start a request, so the capture does not read on): a request with its target cut, not a
/// malformed one; it is reported with the status the server gave.
#[test]
fn a_long_line_split_across_reads_is_a_request_with_its_target_cut() {
    let w = prefork(1710);
    let mut run = Run::default();
    run.feed(w.accept4(13));
    let line = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "x".repeat(3000));
    let (first, second) = line.as_bytes().split_at(1448);
    run.feed(w.socket_io("read", 13, first, READ_CAP));
    run.feed(w.socket_io("read", 13, second, READ_CAP));
    run.feed(w.send(13, &response("200 OK", "")));
    run.feed(w.close(13));
    let r = run.only();
    assert_eq!(r.method.as_deref(), Some("GET"));
    assert!(r.target.as_ref().is_some_and(|t| t.starts_with(b"/xxx")));
    assert_eq!(
        (r.status, r.partial, r.malformed.as_deref()),
        (Some(200), false, None)
    );
}

/// Text that is not HTTP on a connection while the thread serves nothing (an SMTP banner on
/// an outbound connection) and that no status line answers: not a request, no record.
#[test]
fn unanswered_text_that_is_not_http_makes_no_record() {
    let w = prefork(1720);
    let mut run = Run::default();
    run.feed(w.recv(14, b"220 mail.example ESMTP Postfix\r\n"));
    run.feed(w.close(14));
    assert!(
        run.done
            .iter()
            .all(|r| r.method.is_none() && r.malformed.is_none()),
        "{:#?}",
        run.done
    );
}

/// mod_cgi forks a child that execs the script, and the script's shell runs its own
/// children: their file calls are the request's (the exec that failed, the file the script
/// could not open). A child that outlives the request, and the worker's other children, are
/// not tied to it.
#[test]
fn a_process_forked_while_serving_a_request_is_that_requests() {
    let w = prefork(4711);
    let cgi = prefork(5001);
    let shell_child = prefork(5002);
    let stray = prefork(5003);
    let started = |t: Thread, parent: i32| Event::Started {
        ts: tick(),
        pid: t.pid,
        tid: t.tid,
        parent: Some(parent),
    };
    let mut run = Run::default();
    // Forked before any request: not the request's.
    run.feed(started(stray, w.pid));
    run.feed(w.accept4(13));
    let id = run.feed(w.recv(13, &get("/cgi-bin/conf.cgi"))).unwrap();
    run.feed(started(cgi, w.pid));
    run.feed(started(shell_child, cgi.pid));
    let calls = run.feed_all([
        cgi.openat("/srv/cgi/setings.sh", "O_RDONLY", Err(libc::ENOENT)),
        shell_child.stat("/usr/bin/convert", StatKind::Stat, Err(libc::ENOENT)),
        stray.stat("/tmp/stray", StatKind::Stat, Err(libc::ENOENT)),
    ]);
    assert_eq!(calls, [Some(id), Some(id), None]);
    run.feed(shell_child.exited(ExitKind::Code(0)));
    run.feed(cgi.exited(ExitKind::Code(1)));
    // The child's exit does not end the request: the worker answers it.
    assert!(run.done.is_empty(), "{:#?}", run.done);
    run.feed(w.send(13, &response("500 Internal Server Error", "")));
    run.feed(w.recv_eof(13));
    let r = run.only();
    assert_eq!(
        failure_paths(r),
        ["/srv/cgi/setings.sh", "/usr/bin/convert"],
        "{r:#?}"
    );
    assert!(r.processes.contains(&cgi.pid), "{r:#?}");

    // A child still running after its request ended: its calls are its own again.
    let late = prefork(5004);
    run.feed(w.recv(13, &get("/cgi-bin/slow.cgi")));
    run.feed(started(late, w.pid));
    run.feed(w.send(13, &response("200 OK", "")));
    run.feed(w.recv_eof(13));
    assert_eq!(
        run.feed(late.stat("/tmp/after", StatKind::Stat, Err(libc::ENOENT))),
        None
    );
}

/// mod_cgid: the daemon, which serves no request, forks the script's process; the worker
/// thread serving the request looked the script up. The child that execs that path is the
/// request's from then on (its calls, and its stderr, which is the error log); a process
/// that execs a path no open request looked up is nobody's.
#[test]
fn a_process_that_execs_a_requests_script_is_that_requests() {
    let w = thread(4711, 4720);
    let daemon = prefork(4700);
    let child = prefork(5001);
    let other = prefork(5002);
    let script = "/srv/cgi/conf.cgi";
    let exec = |t: Thread, path: &str, res: Result<i64, i32>| {
        let s = t.sys("execve", vec![str_arg(path.as_bytes())], 0);
        t.file(s, path, res)
    };
    let started = |t: Thread| Event::Started {
        ts: tick(),
        pid: t.pid,
        tid: t.tid,
        parent: Some(daemon.pid),
    };
    let mut run = Run::default();
    run.feed(w.accept4(13));
    let id = run.feed(w.recv(13, &get("/cgi-bin/conf.cgi"))).unwrap();
    run.feed(w.stat(script, StatKind::Stat, Ok(())));
    run.feed(started(child));
    run.feed(started(other));
    // Forked by a process serving nothing: not the request's yet.
    assert_eq!(
        run.feed(child.stat("/srv/cgi", StatKind::Stat, Ok(()))),
        None
    );
    assert_eq!(run.feed(exec(other, "/usr/sbin/sendmail", Ok(0))), None);
    assert_eq!(run.feed(exec(child, script, Ok(0))), Some(id));
    assert_eq!(
        run.feed(child.openat("/srv/cgi/setings.sh", "O_RDONLY", Err(libc::ENOENT))),
        Some(id)
    );
    run.feed(
        child.errlog(b"/srv/cgi/conf.cgi: 2: .: cannot open /srv/cgi/setings.sh: No such file"),
    );
    run.feed(child.exited(ExitKind::Code(2)));
    run.feed(w.send(13, &response("500 Internal Server Error", "")));
    run.feed(w.recv_eof(13));
    let r = run.only();
    assert_eq!(failure_paths(r), ["/srv/cgi/setings.sh"], "{r:#?}");
    assert_eq!(r.logged.len(), 1, "{r:#?}");
    assert!(r.processes.contains(&child.pid), "{r:#?}");
}

/// A command PHP's exec() runs in a php-fpm worker serving a FastCGI leg: its calls are the
/// web server's request's, as the worker's are.
#[test]
fn a_process_a_backend_worker_forks_is_the_web_servers_requests() {
    let (n, f) = (prefork(1610), prefork(1710));
    let cmd = prefork(1810);
    let mut run = Run::default();
    run.feed_all([n.accept4(3), n.recv(3, &get("/thumb.php"))]);
    run.feed(n.fcgi_send_all(11, "/thumb.php", "/srv/www/thumb.php"));
    run.feed_all(f.fcgi_serve(5, "/thumb.php", "/srv/www/thumb.php"));
    let id = run.feed(f.stat("/srv/www/thumb.php", StatKind::Stat, Ok(())));
    assert!(id.is_some());
    run.feed(Event::Started {
        ts: tick(),
        pid: cmd.pid,
        tid: cmd.tid,
        parent: Some(f.tid),
    });
    assert_eq!(
        run.feed(cmd.openat("/srv/www/img/logo.pgn", "O_RDONLY", Err(libc::ENOENT))),
        id
    );
    run.feed(cmd.exited(ExitKind::Code(1)));
    run.feed_all(f.fcgi_answer(5));
    run.feed(n.send(3, &response("500 Internal Server Error", "")));
    run.feed(n.close(3));
    let r = run.only();
    assert_eq!(failure_paths(r), ["/srv/www/img/logo.pgn"], "{r:#?}");
}
