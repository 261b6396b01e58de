//! strace logs turned into the tracer's own events, so that a log someone already captured
//! (`strace -f -tt -s 512 -o FILE -p ...`, with or without `-y`, one file or `-ff` per-PID
//! files) goes through the same correlator, ranking and printers as a live run.
//!
//! What a live tracer learns from the kernel, a log only says in passing, so this module keeps
//! the same bookkeeping the tracer does, from the log itself: each process's open fds (from
//! open/accept results, `-y` decorations, dup and close) and cwd (chdir), thread groups (clone
//! with CLONE_THREAD), and `<unfinished ...>` halves waiting for their `<... resumed>`. A read
//! or write on an fd it knows nothing about counts as socket I/O when its bytes say so (a
//! request line, a status line): a log usually starts long after the connection was accepted.

use std::collections::HashMap;
use std::sync::Arc;

use crate::event::{Arg, Bytes, Event, ExitKind, SyscallEvent};
use crate::http::parse;
use crate::syscalls::{ArgKind, StatKind, errno, path, table};

use super::Shows;
use super::strace_line::{self, Body};

/// Bytes of a socket read or write kept for the correlator (the request or status line).
const DATA_MAX: usize = 2048;
/// Seconds: a time of day this far behind the previous line means midnight was crossed.
const HALF_DAY: f64 = 43_200.0;

#[derive(Debug, Clone)]
enum Fd {
    Path(Bytes),
    Socket,
}

/// A line that could not be understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Unparsed {
    pub line: usize,
    pub why: &'static str,
}

/// Reads one strace log (or several -ff files fed one after another, each with its PID).
pub struct Reader {
    shows: Shows,
    /// Calls waiting for their `<... resumed>` half, by thread: the text so far and its time.
    pending: HashMap<i32, String>,
    /// Thread → thread group (process), learnt from clone(CLONE_THREAD).
    groups: HashMap<i32, i32>,
    fds: HashMap<(i32, i32), Fd>,
    cwds: HashMap<i32, Bytes>,
    comms: HashMap<i32, Arc<str>>,
    unknown_comm: Arc<str>,
    /// Added to a time of day after midnight was crossed.
    day: f64,
    last_ts: f64,
    pub unparsed: Vec<Unparsed>,
    /// Lines read, and calls turned into events.
    pub lines: usize,
    pub calls: u64,
}

impl Reader {
    pub fn new(shows: Shows) -> Reader {
        Reader {
            shows,
            pending: HashMap::new(),
            groups: HashMap::new(),
            fds: HashMap::new(),
            cwds: HashMap::new(),
            comms: HashMap::new(),
            unknown_comm: Arc::from("?"),
            day: 0.0,
            last_ts: 0.0,
            unparsed: Vec::new(),
            lines: 0,
            calls: 0,
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
        let parsed = match strace_line::parse(text) {
            Ok(l) => l,
            Err(why) => {
                self.unparsed.push(Unparsed { line: lineno, why });
                return;
            }
        };
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
                self.pending.insert(tid, head.to_string());
            }
            Body::Resumed { name, rest } => {
                // A log that starts in the middle of a call has no first half: nothing to
                // rebuild, and not an error.
                let Some(head) = self.pending.remove(&tid) else {
                    return;
                };
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
                    }) => self.call(ts, pid, tid, name, args, result, out),
                    Ok(_) => {}
                    Err(why) => self.unparsed.push(Unparsed { line: lineno, why }),
                }
            }
            Body::Call { name, args, result } => self.call(ts, pid, tid, name, args, result, out),
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
        self.day = 0.0;
        self.last_ts = 0.0;
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        ts: f64,
        pid: i32,
        tid: i32,
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
        self.bookkeeping(pid, tid, name, &texts, ret, ok, res.and_then(|r| r.2));
        let Some(spec) = table::by_name(name) else {
            return;
        };
        self.calls += 1;
        let mut ev = SyscallEvent {
            ts,
            pid,
            tid,
            comm: self
                .comms
                .get(&pid)
                .cloned()
                .unwrap_or_else(|| self.unknown_comm.clone()),
            nr: self.shows.number(spec.name),
            name: spec.name,
            class: spec.class,
            args: Vec::with_capacity(texts.len()),
            path: None,
            path2: None,
            stat_kind: None,
            ret: errno.map_or(ret, |e| -i64::from(e)),
            errno,
            unfinished: res.is_none() && !matches!(name, "exit" | "exit_group"),
            shown: false,
            socket: false,
            data: None,
        };
        let mut base: Option<Bytes> = self.cwds.get(&pid).cloned();
        for (i, kind) in spec.args.iter().enumerate() {
            let Some(&text) = texts.get(i) else { break };
            let arg = self.arg(pid, *kind, text);
            match (kind, &arg) {
                (ArgKind::DirFd, Arg::AtFdCwd) => {
                    // -y shows the cwd itself: AT_FDCWD</srv/www>.
                    if let Some(cwd) = decoration(text).filter(|d| d.starts_with('/')) {
                        self.cwds.insert(pid, strace_line::unescape(cwd.as_bytes()));
                    }
                    base = self.cwds.get(&pid).cloned();
                }
                (ArgKind::DirFd, Arg::Fd(_, p)) => base = p.clone(),
                (ArgKind::Path, Arg::Str { bytes, .. }) => {
                    let full = path::resolve(bytes, base.as_deref(), None)
                        .unwrap_or_else(|| bytes.clone());
                    if ev.path.is_none() {
                        ev.path = Some(full);
                    } else {
                        ev.path2 = Some(full);
                    }
                    base = self.cwds.get(&pid).cloned();
                }
                (ArgKind::Fd, Arg::Fd(_, Some(p)))
                    if i == 0
                        && ev.path.is_none()
                        && spec.class & crate::syscalls::class::FSTAT != 0 =>
                {
                    ev.path = Some(p.clone());
                }
                _ => {}
            }
            ev.args.push(arg);
        }
        ev.stat_kind = stat_kind(name, &texts, &ev.args);
        if let Some(Arg::Fd(fd, _)) = ev.args.first() {
            self.socket_io(pid, *fd, name, &texts, &mut ev);
        }
        if name == "execve"
            && ok
            && let Some(p) = &ev.path
        {
            let base = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
            self.comms
                .insert(pid, Arc::from(String::from_utf8_lossy(base).as_ref()));
        }
        ev.shown = self.shows.shown(&ev);
        out.push(Event::Syscall(Box::new(ev)));
    }

    /// One argument, typed by the syscall table the way the live decoder types it.
    fn arg(&self, pid: i32, kind: ArgKind, text: &str) -> Arg {
        match kind {
            ArgKind::Fd | ArgKind::DirFd => {
                if text.starts_with("AT_FDCWD") {
                    return Arg::AtFdCwd;
                }
                match strace_line::number(text) {
                    Some((fd, deco)) => {
                        let known = match deco {
                            Some(d) if d.starts_with('/') => {
                                Some(strace_line::unescape(d.as_bytes()))
                            }
                            _ => match self.fds.get(&(pid, fd as i32)) {
                                Some(Fd::Path(p)) => Some(p.clone()),
                                _ => None,
                            },
                        };
                        Arg::Fd(fd as i32, known)
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

    /// What the call changes for later ones: fds opened, accepted, duplicated and closed; the
    /// cwd; thread groups.
    #[allow(clippy::too_many_arguments)]
    fn bookkeeping(
        &mut self,
        pid: i32,
        tid: i32,
        name: &str,
        texts: &[&str],
        ret: i64,
        ok: bool,
        ret_deco: Option<&str>,
    ) {
        // -y decorations name what every fd argument is.
        for t in texts {
            if let Some((fd, Some(deco))) = strace_line::number(t)
                && let Some(kind) = fd_kind(deco)
            {
                self.fds.insert((pid, fd as i32), kind);
            }
        }
        if !ok {
            return;
        }
        let fd_arg = |i: usize| {
            texts
                .get(i)
                .and_then(|t| strace_line::number(t))
                .map(|n| n.0 as i32)
        };
        let new_fd = ret as i32;
        match name {
            "open" | "openat" | "openat2" | "creat" => {
                let kind = ret_deco.and_then(fd_kind).or_else(|| {
                    let at = usize::from(name.starts_with("openat"));
                    let raw = strace_line::string(texts.get(at)?)?.0;
                    let base = if at == 1 && !texts[0].starts_with("AT_FDCWD") {
                        match self.fds.get(&(pid, fd_arg(0)?)) {
                            Some(Fd::Path(p)) => Some(p.clone()),
                            _ => None,
                        }
                    } else {
                        self.cwds.get(&pid).cloned()
                    };
                    path::resolve(&raw, base.as_deref(), None).map(Fd::Path)
                });
                match kind {
                    Some(k) => self.fds.insert((pid, new_fd), k),
                    None => self.fds.remove(&(pid, new_fd)),
                };
            }
            "accept" | "accept4" | "socket" => {
                self.fds.insert((pid, new_fd), Fd::Socket);
            }
            "close" => {
                if let Some(fd) = fd_arg(0) {
                    self.fds.remove(&(pid, fd));
                }
            }
            "dup" | "dup2" | "dup3" | "fcntl" => {
                let dup = name != "fcntl" || texts.get(1).is_some_and(|c| c.starts_with("F_DUPFD"));
                if dup && let Some(old) = fd_arg(0) {
                    match self.fds.get(&(pid, old)).cloned() {
                        Some(k) => self.fds.insert((pid, new_fd), k),
                        None => self.fds.remove(&(pid, new_fd)),
                    };
                }
            }
            "chdir" => {
                if let Some((raw, _)) = texts.first().and_then(|t| strace_line::string(t)) {
                    let base = self.cwds.get(&pid).cloned();
                    if let Some(p) = path::resolve(&raw, base.as_deref(), None) {
                        self.cwds.insert(pid, p);
                    }
                }
            }
            "fchdir" => {
                if let Some(Fd::Path(p)) = fd_arg(0).and_then(|fd| self.fds.get(&(pid, fd))) {
                    self.cwds.insert(pid, p.clone());
                }
            }
            "clone" | "clone3" if texts.iter().any(|t| t.contains("CLONE_THREAD")) => {
                self.groups.insert(new_fd, pid);
                let _ = tid;
            }
            "clone" | "clone3" | "fork" | "vfork" => {
                // A new process starts with its parent's fds and cwd.
                let child = new_fd;
                let inherited: Vec<(i32, Fd)> = self
                    .fds
                    .iter()
                    .filter(|((p, _), _)| *p == pid)
                    .map(|((_, fd), k)| (*fd, k.clone()))
                    .collect();
                for (fd, k) in inherited {
                    self.fds.insert((child, fd), k);
                }
                if let Some(c) = self.cwds.get(&pid).cloned() {
                    self.cwds.insert(child, c);
                }
            }
            _ => {}
        }
    }

    /// Socket I/O: mark it, and keep its first bytes for the correlator (a request line, a
    /// status line, an access-log line).
    fn socket_io(&mut self, pid: i32, fd: i32, name: &str, texts: &[&str], ev: &mut SyscallEvent) {
        let reading = matches!(name, "read" | "recvfrom" | "readv" | "recvmsg");
        let writing = matches!(name, "write" | "sendto" | "writev" | "sendmsg" | "sendfile");
        if !reading && !writing {
            return;
        }
        let data = texts.get(1).and_then(|t| first_string(t)).map(|mut d| {
            d.truncate(DATA_MAX);
            d
        });
        let known = self.fds.get(&(pid, fd)).cloned();
        let socket = match &known {
            Some(Fd::Socket) => true,
            Some(Fd::Path(_)) => false,
            // Nothing known of the fd: the bytes tell.
            None => data.as_deref().is_some_and(|d| {
                if d.is_empty() {
                    false
                } else if reading {
                    !parse::parse_requests(d).is_empty() || parse::could_be_request_prefix(d)
                } else {
                    parse::parse_status(d).is_some()
                }
            }),
        };
        if socket && known.is_none() {
            self.fds.insert((pid, fd), Fd::Socket);
        }
        ev.socket = socket;
        // A write to a file may be the access log: its line is the status of last resort.
        if socket || (writing && !matches!(known, Some(Fd::Socket))) {
            ev.data = data;
        }
    }
}

/// The inside of a `-y` decoration: `/etc/passwd` in `3</etc/passwd>`.
fn decoration(text: &str) -> Option<&str> {
    let i = text.find('<')?;
    text.strip_suffix('>').map(|t| &t[i + 1..])
}

/// What a `-y`/`-yy` decoration says an fd is.
fn fd_kind(deco: &str) -> Option<Fd> {
    if deco.starts_with('/') {
        // strace quotes the path inside the decoration as it quotes strings.
        return Some(Fd::Path(strace_line::unescape(deco.as_bytes())));
    }
    let proto = deco.split(':').next().unwrap_or("");
    matches!(
        proto,
        "socket" | "TCP" | "TCPv6" | "UDP" | "UDPv6" | "UNIX" | "UNIX-STREAM" | "UNIX-DGRAM"
    )
    .then_some(Fd::Socket)
}

/// The first quoted string in an argument: a read's buffer, writev's first iov_base.
fn first_string(text: &str) -> Option<Vec<u8>> {
    let i = text.find('"')?;
    strace_line::string(&text[i..]).map(|(b, _)| b)
}

/// The stat flavour of a stat-family call, from its flags as strace printed them.
fn stat_kind(name: &str, texts: &[&str], args: &[Arg]) -> Option<StatKind> {
    let flags = match name {
        "stat" => return Some(StatKind::Stat),
        "lstat" => return Some(StatKind::Lstat),
        "fstat" => return Some(StatKind::Fstat),
        "newfstatat" => texts.get(3)?,
        "statx" => texts.get(2)?,
        _ => return None,
    };
    let empty = matches!(args.get(1), Some(Arg::Str { bytes, .. }) if bytes.is_empty());
    Some(if empty && flags.contains("AT_EMPTY_PATH") {
        StatKind::Fstat
    } else if flags.contains("AT_SYMLINK_NOFOLLOW") {
        StatKind::Lstat
    } else {
        StatKind::Stat
    })
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

    fn read(lines: &[&str]) -> (Reader, Vec<SyscallEvent>) {
        let mut r = Reader::new(Shows::new("file", false).unwrap());
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
    fn midnight_and_exits() {
        let mut r = Reader::new(Shows::new("file", false).unwrap());
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
