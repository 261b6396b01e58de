//! strace logs turned into the same events a live source emits, so that a log someone already
//! captured (`strace -f -tt -s 512 -o FILE -p ...`, with or without `-y`, one file or `-ff`
//! per-PID files) goes through the same pipeline: correlation, ranking and printers.
//!
//! What a live tracer learns from the kernel, a log only says in passing. The fd/cwd/fork
//! rules are the shared ones (event::fds, with no look-up behind them); what is particular to
//! a log is kept here: `-y` decorations naming fds and the cwd, thread groups (clone with
//! CLONE_THREAD), `<unfinished ...>` halves waiting for their `<... resumed>`, and a read or
//! write on an fd the log never showed opened, which counts as socket I/O when its bytes say
//! so (a request line, a status line): a log usually starts long after the connection was
//! accepted.

use std::collections::HashMap;
use std::sync::Arc;

use crate::event::capture::{self, Io};
use crate::event::fds::{NoLookup, Table};
use crate::event::select::Selection;
use crate::event::{self, Arg, Event, ExitKind, SyscallEvent};
use crate::http::{errlog, parse};
use crate::syscalls::table::Catalogue;
use crate::syscalls::{ArgKind, errno, table};

use super::strace_line::{self, Body};

/// Seconds: a time of day this far behind the previous line means midnight was crossed.
const HALF_DAY: f64 = 43_200.0;
/// Bytes of `<unfinished ...>` first halves held while they wait for their second halves
/// (a busy server's log has a few hundred at once, each a line of at most a few KiB).
const MAX_PENDING_BYTES: usize = 16 << 20;
/// What an fd known from the log only as "a socket" is called.
const SOCKET: &[u8] = b"socket:[log]";

/// A line that could not be understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Unparsed {
    pub line: usize,
    pub why: &'static str,
}

/// Reads one strace log (or several -ff files fed one after another, each with its PID).
pub struct Reader {
    shows: Selection,
    cat: Catalogue,
    /// Calls waiting for their `<... resumed>` half, by thread: the text so far and its time.
    pending: HashMap<i32, String>,
    /// Thread → thread group (process), learnt from clone(CLONE_THREAD).
    groups: HashMap<i32, i32>,
    files: Table,
    comms: HashMap<i32, Arc<str>>,
    unknown_comm: Arc<str>,
    /// Added to a time of day after midnight was crossed.
    day: f64,
    last_ts: f64,
    pub unparsed: Vec<Unparsed>,
    /// Lines read, lines recognised (blank lines are not), and calls turned into events.
    pub lines: usize,
    pub understood: usize,
    pub calls: u64,
    /// Bytes held in `pending`.
    pending_bytes: usize,
}

impl Reader {
    pub fn new(shows: Selection) -> Reader {
        Reader {
            shows,
            cat: Catalogue::new(),
            pending: HashMap::new(),
            groups: HashMap::new(),
            files: Table::default(),
            comms: HashMap::new(),
            unknown_comm: Arc::from("?"),
            day: 0.0,
            last_ts: 0.0,
            unparsed: Vec::new(),
            lines: 0,
            understood: 0,
            calls: 0,
            pending_bytes: 0,
        }
    }

    /// The time stamp of a line, made monotonic across midnight for `-t`/`-tt` logs.
    fn time(&mut self, ts: Option<f64>, clock: bool) -> f64 {
        let Some(mut t) = ts else {
            return self.last_ts;
        };
        if clock {
            t += self.day;
            if t + HALF_DAY < self.last_ts {
                self.day += 86_400.0;
                t += 86_400.0;
            }
        }
        self.last_ts = t;
        t
    }

    /// Feed one line (`lineno` from 1). `tid` is the PID of a -ff file (its lines have no
    /// PID column). Events go to `out`.
    pub fn line(&mut self, lineno: usize, text: &str, tid: Option<i32>, out: &mut Vec<Event>) {
        self.lines += 1;
        if text.trim().is_empty() {
            return;
        }
        let parsed = match strace_line::parse(text) {
            Ok(l) => l,
            Err(why) => {
                self.unparsed.push(Unparsed { line: lineno, why });
                return;
            }
        };
        self.understood += 1;
        let tid = parsed.tid.or(tid).unwrap_or(0);
        let ts = self.time(parsed.ts, parsed.clock);
        let pid = self.group(tid);
        match parsed.body {
            Body::Note | Body::Cut { .. } => {}
            Body::Exited(code) => out.push(Event::Exited {
                ts,
                pid,
                tid,
                how: ExitKind::Code(code),
            }),
            Body::Killed(sig) => out.push(Event::Exited {
                ts,
                pid,
                tid,
                how: ExitKind::Signal(signal_number(sig)),
            }),
            Body::Unfinished { head, .. } => {
                // A log of endless unfinished calls in ever new threads must not hold them
                // all: past the bound the halves waiting are forgotten (their resumed halves
                // then find none, which a log that starts mid-call does too).
                if self.pending_bytes + head.len() > MAX_PENDING_BYTES {
                    self.pending.clear();
                    self.pending_bytes = 0;
                }
                self.pending_bytes += head.len();
                if let Some(old) = self.pending.insert(tid, head.to_string()) {
                    self.pending_bytes -= old.len();
                }
            }
            Body::Resumed { name, rest } => {
                // A log that starts in the middle of a call has no first half: nothing to
                // rebuild, and not an error.
                let Some(head) = self.pending.remove(&tid) else {
                    return;
                };
                self.pending_bytes -= head.len();
                if !head.starts_with(name) {
                    self.unparsed.push(Unparsed {
                        line: lineno,
                        why: "a <... resumed> for another call than the one unfinished",
                    });
                    return;
                }
                let whole = format!("{head} {rest}");
                match strace_line::parse(&whole) {
                    Ok(strace_line::Line {
                        body: Body::Call { name, args, result },
                        ..
                    }) => self.call(ts, (pid, tid), name, args, result, out),
                    Ok(_) => {}
                    Err(why) => self.unparsed.push(Unparsed { line: lineno, why }),
                }
            }
            Body::Call { name, args, result } => self.call(ts, (pid, tid), name, args, result, out),
        }
    }

    /// The thread group of `tid` (itself unless a clone said otherwise).
    fn group(&self, tid: i32) -> i32 {
        self.groups.get(&tid).copied().unwrap_or(tid)
    }

    /// One file is over (`-ff`): calls still unfinished in it stay so, and the next file
    /// starts its own clock (each file crosses midnight on its own).
    pub fn finish(&mut self) {
        self.pending.clear();
        self.pending_bytes = 0;
        self.day = 0.0;
        self.last_ts = 0.0;
    }

    fn call(
        &mut self,
        ts: f64,
        (pid, tid): (i32, i32),
        name: &str,
        args: &str,
        result: &str,
        out: &mut Vec<Event>,
    ) {
        let texts = strace_line::split_args(args);
        let res = strace_line::result(result);
        let ret = res.map_or(0, |r| r.0);
        // strace names every errno it knows; a name this table lacks is left as a plain -1.
        let errno = res.and_then(|r| r.1).and_then(errno::by_name);
        let ok = res.is_some() && errno.is_none();
        self.decorations(pid, &texts);
        if ok && let Some(child) = self.processes(pid, name, &texts, ret) {
            // A new process: the correlator gives it its parent's request (a CGI child).
            out.push(Event::Started {
                ts,
                pid: child,
                tid: child,
                parent: Some(tid),
            });
        }
        let Some(spec) = table::by_name(name) else {
            return;
        };
        self.calls += 1;
        let comm = self
            .comms
            .get(&pid)
            .cloned()
            .unwrap_or_else(|| self.unknown_comm.clone());
        let nr = self.cat.number(spec.name);
        let mut ev = SyscallEvent::new(ts, pid, tid, comm, nr.unwrap_or(0), spec);
        ev.returned(errno.map_or(ret, |e| -i64::from(e)), errno);
        ev.unfinished = res.is_none() && !matches!(name, "exit" | "exit_group");
        for (kind, &text) in spec.args.iter().zip(&texts) {
            let arg = self.arg(pid, *kind, text);
            ev.args.push(arg);
        }
        let files = self.files.get(pid);
        (ev.path, ev.path2) = files.paths(&mut NoLookup, pid, spec.args, &ev.args);
        ev.stat_kind = event::stat_kind(spec, &ev.args);
        files.apply(
            &mut NoLookup,
            pid,
            name,
            &ev.args,
            ev.path.as_ref(),
            ret,
            ok,
        );
        // A new socket: a log names it nowhere else (live, /proc does).
        if ok && name == "socket" {
            files.set_fd(ret as i32, Some(SOCKET.to_vec()));
        }
        // -y names what an opened fd is.
        if ok
            && matches!(name, "open" | "openat" | "openat2" | "creat")
            && let Some(deco) = res.and_then(|r| r.2).and_then(fd_target)
        {
            files.set_fd(ret as i32, Some(deco));
        }
        if let Some(Arg::Fd(fd, _)) = ev.args.first() {
            self.socket_io(pid, *fd, &texts, &mut ev);
        }
        if name == "execve"
            && ok
            && let Some(p) = &ev.path
        {
            let base = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
            self.comms
                .insert(pid, Arc::from(String::from_utf8_lossy(base).as_ref()));
        }
        // A call without a number on this architecture is read, never shown.
        let printed = nr.is_some_and(|nr| self.shows.printed(nr, ev.stat_kind));
        ev.shown = self.shows.shown(printed, ev.errno);
        out.push(Event::Syscall(Box::new(ev)));
    }

    /// -y/-yy decorations name what every fd argument is, and `AT_FDCWD</srv/www>` the cwd.
    fn decorations(&mut self, pid: i32, texts: &[&str]) {
        let files = self.files.get(pid);
        for t in texts {
            if let Some((fd, Some(deco))) = strace_line::number(t)
                && let Some(target) = fd_target(deco)
            {
                files.set_fd(fd as i32, Some(target));
            } else if t.starts_with("AT_FDCWD")
                && let Some(cwd) = decoration(t).filter(|d| d.starts_with('/'))
            {
                files.set_cwd(Some(strace_line::unescape(cwd.as_bytes())));
            }
        }
    }

    /// Processes and threads a successful clone/fork made: a thread joins its parent's
    /// group; a new process starts with its parent's fds and cwd, and is returned.
    fn processes(&mut self, pid: i32, name: &str, texts: &[&str], ret: i64) -> Option<i32> {
        if !matches!(name, "clone" | "clone3" | "fork" | "vfork") {
            return None;
        }
        let child = ret as i32;
        if texts.iter().any(|t| t.contains("CLONE_THREAD")) {
            self.groups.insert(child, pid);
            None
        } else {
            self.files.inherit(pid, child);
            Some(child)
        }
    }

    /// One argument, typed by the syscall table the way the live decoder types it.
    fn arg(&mut self, pid: i32, kind: ArgKind, text: &str) -> Arg {
        match kind {
            ArgKind::Fd | ArgKind::DirFd => {
                if text.starts_with("AT_FDCWD") {
                    return Arg::AtFdCwd;
                }
                match strace_line::number(text) {
                    Some((fd, _)) => {
                        let fd = fd as i32;
                        // Only a path is shown with the fd: a socket's name here is a marker
                        // of this reader's, not what strace said.
                        let known = self
                            .files
                            .get(pid)
                            .known_fd(fd)
                            .filter(|t| t.first() == Some(&b'/'))
                            .map(<[u8]>::to_vec);
                        Arg::Fd(fd, known)
                    }
                    None => Arg::Sym(text.to_string()),
                }
            }
            ArgKind::Path | ArgKind::Str | ArgKind::OutStr => match strace_line::string(text) {
                Some((bytes, truncated)) => Arg::Str { bytes, truncated },
                None if text == "NULL" => Arg::Null,
                None => match strace_line::number(text) {
                    Some((v, _)) => Arg::Unreadable(v as u64),
                    None => Arg::Sym(text.to_string()),
                },
            },
            ArgKind::StrArray => {
                let inner = text.trim_start_matches('[').trim_end_matches(']');
                let mut items = Vec::new();
                let mut more = false;
                for a in strace_line::split_args(inner) {
                    match strace_line::string(a) {
                        Some((b, _)) => items.push(b),
                        None => more = true,
                    }
                }
                Arg::StrArray { items, more }
            }
            ArgKind::Int | ArgKind::Size => match strace_line::number(text) {
                Some((v, _)) => Arg::Int(v),
                None => Arg::Sym(text.to_string()),
            },
            ArgKind::Ptr => match text {
                "NULL" => Arg::Null,
                t if t.starts_with("0x") => {
                    Arg::Ptr(strace_line::number(t).map_or(0, |(v, _)| v as u64))
                }
                t => Arg::Sym(t.to_string()),
            },
            _ => Arg::Sym(text.to_string()),
        }
    }

    /// Socket I/O: mark it, and keep its first bytes (a request line, a status line, an
    /// access-log line; up to `REPLAY_CAP`: the log holds them already). An fd the log never
    /// named is a socket when its bytes are HTTP: recognising them takes http::parse, the one
    /// piece of HTTP a log reader needs, because a log seldom shows the accept.
    fn socket_io(&mut self, pid: i32, fd: i32, texts: &[&str], ev: &mut SyscallEvent) {
        let Some(io) = capture::io_of(ev.name) else {
            return;
        };
        let data = texts.get(1).and_then(|t| first_string(t));
        let files = self.files.get(pid);
        if files.known_fd(fd).is_none()
            && data.as_deref().is_some_and(|d| match io {
                _ if d.is_empty() => false,
                // FastCGI records (a web server and php-fpm talking) are socket bytes too.
                _ if capture::looks_like_fastcgi(d) => true,
                Io::Read => {
                    !parse::parse_requests(d).is_empty() || parse::could_be_request_prefix(d)
                }
                Io::Write => parse::parse_status(d).is_some(),
            })
        {
            files.set_fd(fd, Some(SOCKET.to_vec()));
        }
        let target = files.known_fd(fd);
        ev.socket = target.is_some_and(capture::is_socket);
        // The access log is any file written with an access-log line, named or not
        // (`CustomLog "|rotatelogs ..."` writes to a pipe, and `strace -p` without -y names
        // no fd): the bytes are in the log, so they tell.
        // So is an error log: a file named like a log, or a write whose bytes are an
        // error-log line of a known format (Apache's, nginx's, PHP's).
        let keep = ev.socket
            || (io == Io::Write
                && (target.is_some_and(|t| {
                    capture::looks_like_error_log(t)
                        || t.ends_with(b".log")
                        || (fd == 2 && capture::is_logged_stderr(t))
                }) || data.as_deref().is_some_and(|d| {
                    parse::parse_access_log(d).is_some() || errlog::looks_like_line(d)
                })));
        if keep {
            ev.data = data.map(|mut d| {
                // A request line or Host header that goes on past REPLAY_CAP is kept whole
                // (up to HEAD_CAP, as far as strace's -s showed it), alone, as live.
                let first = &d[..d.len().min(capture::REPLAY_CAP)];
                if ev.socket && io == Io::Read && capture::head_wanted(first, d.len()).is_some() {
                    return capture::head(&d);
                }
                d.truncate(capture::REPLAY_CAP);
                d
            });
        }
    }
}

/// The inside of a `-y` decoration: `/etc/passwd` in `3</etc/passwd>`.
fn decoration(text: &str) -> Option<&str> {
    let i = text.find('<')?;
    text.strip_suffix('>').map(|t| &t[i + 1..])
}

/// What a `-y`/`-yy` decoration says an fd is: a path, or a socket.
fn fd_target(deco: &str) -> Option<Vec<u8>> {
    if deco.starts_with('/') {
        // strace quotes the path inside the decoration as it quotes strings.
        return Some(strace_line::unescape(deco.as_bytes()));
    }
    let proto = deco.split(':').next().unwrap_or("");
    matches!(
        proto,
        "socket" | "TCP" | "TCPv6" | "UDP" | "UDPv6" | "UNIX" | "UNIX-STREAM" | "UNIX-DGRAM"
    )
    .then(|| SOCKET.to_vec())
}

/// The first quoted string in an argument: a read's buffer, writev's first iov_base.
fn first_string(text: &str) -> Option<Vec<u8>> {
    let i = text.find('"')?;
    strace_line::string(&text[i..]).map(|(b, _)| b)
}

/// A signal's number from its name (strace prints names); 0 for one not listed.
fn signal_number(name: &str) -> i32 {
    match name {
        "SIGHUP" => libc::SIGHUP,
        "SIGINT" => libc::SIGINT,
        "SIGQUIT" => libc::SIGQUIT,
        "SIGILL" => libc::SIGILL,
        "SIGABRT" => libc::SIGABRT,
        "SIGBUS" => libc::SIGBUS,
        "SIGFPE" => libc::SIGFPE,
        "SIGKILL" => libc::SIGKILL,
        "SIGUSR1" => libc::SIGUSR1,
        "SIGSEGV" => libc::SIGSEGV,
        "SIGUSR2" => libc::SIGUSR2,
        "SIGPIPE" => libc::SIGPIPE,
        "SIGALRM" => libc::SIGALRM,
        "SIGTERM" => libc::SIGTERM,
        "SIGWINCH" => libc::SIGWINCH,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::StatKind;

    fn shows() -> Selection {
        Selection::new("file", false, &Catalogue::new(), false).unwrap()
    }

    fn read(lines: &[&str]) -> (Reader, Vec<SyscallEvent>) {
        let mut r = Reader::new(shows());
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            r.line(i + 1, l, None, &mut out);
        }
        let evs = out
            .into_iter()
            .filter_map(|e| match e {
                Event::Syscall(s) => Some(*s),
                _ => None,
            })
            .collect();
        (r, evs)
    }

    /// A fork (mod_cgi's child) is announced with its parent, so the correlator gives it
    /// the request its parent serves; a thread is not (it is its process's).
    #[test]
    fn a_new_process_is_announced_with_its_parent() {
        let mut r = Reader::new(shows());
        let mut out = Vec::new();
        for (i, l) in [
            "4711 00:00:01.000000 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f1c) = 5001",
            "4711 00:00:01.100000 clone(child_stack=0x1, flags=CLONE_VM|CLONE_FS|CLONE_THREAD|CLONE_SYSVSEM) = 4712",
            "4711 00:00:01.200000 vfork() = -1 EAGAIN (Resource temporarily unavailable)",
        ]
        .iter()
        .enumerate()
        {
            r.line(i + 1, l, None, &mut out);
        }
        let started: Vec<(i32, i32, Option<i32>)> = out
            .iter()
            .filter_map(|e| match e {
                Event::Started {
                    pid, tid, parent, ..
                } => Some((*pid, *tid, *parent)),
                _ => None,
            })
            .collect();
        assert_eq!(started, [(5001, 5001, Some(4711))]);
    }

    #[test]
    fn a_request_across_unfinished_and_resumed() {
        let (r, evs) = read(&[
            "10 00:00:01.000000 accept4(3,  <unfinished ...>",
            "11 00:00:01.100000 clone(child_stack=0x1, flags=CLONE_VM|CLONE_FS|CLONE_THREAD|CLONE_SYSVSEM) = 12",
            "10 00:00:01.200000 <... accept4 resumed>{sa_family=AF_INET}, [16], SOCK_CLOEXEC) = 8",
            "10 00:00:01.300000 read(8,  <unfinished ...>",
            "12 00:00:01.350000 chdir(\"/srv\") = 0",
            "10 00:00:01.400000 <... read resumed>\"GET /a HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\", 8000) = 30",
            "10 00:00:01.500000 newfstatat(AT_FDCWD, \"www/a\", 0x7ffc, 0) = -1 ENOENT (No such file or directory)",
            "12 00:00:01.550000 openat(AT_FDCWD, \"b\", O_RDONLY) = 5",
            "10 00:00:01.600000 writev(8, [{iov_base=\"HTTP/1.1 404 Not Found\\r\\n\", iov_len=24}], 1) = 24",
            "10 00:00:01.700000 close(8) = 0",
        ]);
        assert!(r.unparsed.is_empty(), "{:?}", r.unparsed);
        let evs: Vec<SyscallEvent> = evs
            .into_iter()
            .filter(|e| !matches!(e.name, "clone" | "chdir"))
            .collect();
        let names: Vec<&str> = evs.iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            ["accept4", "read", "newfstatat", "openat", "writev", "close"]
        );
        let read = &evs[1];
        assert!(read.socket);
        assert_eq!(
            read.data.as_deref(),
            Some(&b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"[..])
        );
        assert!((read.ts - 1.4).abs() < 1e-9, "the resumed half's time");
        let stat = &evs[2];
        assert_eq!(stat.errno, Some(libc::ENOENT));
        assert_eq!(stat.ret, -i64::from(libc::ENOENT));
        assert_eq!(stat.stat_kind, Some(StatKind::Stat));
        // Relative, and no cwd known for process 10: kept as written.
        assert_eq!(stat.path.as_deref(), Some(&b"www/a"[..]));
        assert!(stat.shown);
        // Thread 12 belongs to process 11 and took its chdir.
        let open = &evs[3];
        assert_eq!((open.pid, open.tid), (11, 12));
        assert_eq!(open.path.as_deref(), Some(&b"/srv/b"[..]));
        assert!(evs[4].socket);
        assert_eq!(
            evs[4].data.as_deref(),
            Some(&b"HTTP/1.1 404 Not Found\r\n"[..])
        );
    }

    #[test]
    fn decorations_and_unknown_fds() {
        let (_, evs) = read(&[
            "newfstatat(AT_FDCWD</var/www>, \"x.html\", 0x1, AT_SYMLINK_NOFOLLOW) = -1 EACCES (Permission denied)",
            "read(9, \"POST /f HTTP/1.0\\r\\n\\r\\n\", 512) = 20",
            "read(4</etc/passwd>, \"GET / HTTP/1.1\\r\\n\", 512) = 16",
            "newfstatat(7</srv/d>, \"\", {st_mode=S_IFDIR|0755, ...}, AT_EMPTY_PATH) = 0",
        ]);
        assert_eq!(evs[0].path.as_deref(), Some(&b"/var/www/x.html"[..]));
        assert_eq!(evs[0].stat_kind, Some(StatKind::Lstat));
        assert_eq!(evs[0].errno, Some(libc::EACCES));
        // An fd never seen opened: its bytes say it is a connection.
        assert!(evs[1].socket);
        // A file, whatever its bytes look like.
        assert!(!evs[2].socket);
        assert_eq!(evs[3].stat_kind, Some(StatKind::Fstat));
        assert_eq!(evs[3].path.as_deref(), Some(&b"/srv/d"[..]));
    }

    #[test]
    fn what_a_log_keeps_of_its_bytes() {
        let long = format!(
            "GET /{} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n",
            "a".repeat(1500)
        );
        let (_, evs) = read(&[
            // TLS on a connection the log never showed accepted: not a socket by its bytes.
            "read(8, \"\\26\\3\\1\\2\\0\", 512) = 5",
            // The access log, an fd the log never named (strace -p without -y, a pipe).
            "write(7, \"127.0.0.1 - - [01/Dec/2026:10:00:00 +0000] \\\"GET /missing.html HTTP/1.1\\\" 404 196\\n\", 80) = 80",
            // A request head longer than a live read keeps: the log has it whole.
            &format!("read(9, \"{long}\", 8000) = 1527"),
            // -yy names a socket: it is one, and only paths are shown with an fd.
            "read(10<TCP:[127.0.0.1:80->127.0.0.1:5555]>, \"GET / HTTP/1.1\\r\\n\\r\\n\", 512) = 18",
        ]);
        assert!(
            evs[1]
                .data
                .as_deref()
                .is_some_and(|d| d.ends_with(b"404 196\n"))
        );
        assert!(!evs[1].socket);
        assert!(evs[2].socket);
        assert_eq!(evs[2].data.as_ref().map(Vec::len), Some(1527));
        assert!(evs[3].socket);
        assert_eq!(evs[3].args[0], Arg::Fd(10, None));
        // Longer than REPLAY_CAP: the request line and Host, whole; no other header.
        let line = format!("GET /{} HTTP/1.1", "b".repeat(3000));
        let read9 = format!(
            "read(9<TCP:[127.0.0.1:80->127.0.0.1:5555]>, \"{line}\\r\\nCookie: c\\r\\nHost: x\\r\\n\\r\\n\", 8000) = 3044"
        );
        let (_, evs) = read(&[&read9]);
        assert_eq!(
            evs[0].data.as_deref(),
            Some(format!("{line}\r\nHost: x\r\n").as_bytes())
        );
    }

    #[test]
    fn midnight_and_exits() {
        let mut r = Reader::new(shows());
        let mut out = Vec::new();
        r.line(1, "5 23:59:59.900000 chdir(\"/\") = 0", None, &mut out);
        r.line(2, "5 00:00:00.100000 chdir(\"/\") = 0", None, &mut out);
        r.line(
            3,
            "5 00:00:00.200000 +++ killed by SIGKILL +++",
            None,
            &mut out,
        );
        r.line(4, "exit_group(0) = ?", Some(6), &mut out);
        r.line(5, "<... read resumed>\"x\", 1) = 1", Some(6), &mut out);
        assert!(r.unparsed.is_empty());
        let ts: Vec<f64> = out
            .iter()
            .filter_map(|e| match e {
                Event::Syscall(s) => Some(s.ts),
                _ => None,
            })
            .collect();
        assert!((ts[1] - ts[0] - 0.2).abs() < 1e-6, "{ts:?}");
        assert!(out.iter().any(|e| matches!(
            e,
            Event::Exited {
                tid: 5,
                how: ExitKind::Signal(9),
                ..
            }
        )));
    }
}
