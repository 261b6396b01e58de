//! The request state machine. Per thread: a read on a socket that starts with a request line
//! opens a request; every file syscall the thread makes from then on belongs to it; the first
//! status line written back on that connection gives its status; the next request on the
//! thread, a read on the connection after the response, the connection's close, or the
//! thread's exit finishes it. Keep-alive and pipelining are per connection (process, fd)
//! queues; worker/event MPMs work because all of it is keyed by thread and connection, never
//! by process alone. A source that already knows its requests (a recording) tags each call
//! with its request id and announces the request whole; those go through here too, into the
//! same `Request`. Pure: events in, finished requests out; a request knows the processes
//! whose calls it holds and each failure its pid, and nothing of suspects.

use std::collections::{HashMap, VecDeque};

pub use crate::event::Backend;
use crate::event::capture::{self, Io};
use crate::event::fds::FastMap;
use crate::event::{
    Announced, Arg, Bytes, Event, FlagKind, Logged, RequestEnd, SyscallEvent, Verdict,
};
use crate::syscalls::{StatKind, class};

use super::fastcgi::{self, Leg};
use super::{errlog, parse};

mod hop;
mod spawn;

/// At most this many failures and successful lookups are kept per request: a runaway
/// request must not eat the tracer's memory.
const MAX_FAILURES: usize = 256;
const MAX_LOOKUPS: usize = 512;
/// Requests still open after this many newer ones started are given up (a thread that
/// vanished without an exit we saw).
const MAX_OPEN: usize = 4096;
/// Requests a source tagged calls with and has not announced yet, at most (a recording
/// filtered with --url has calls of requests whose line it never wrote).
pub(crate) const MAX_TAGGED: usize = 16 * 1024;
/// Processes listed per request.
const MAX_PROCESSES: usize = 16;
/// Error-log lines kept per request; the rest are counted (`Request::logged_more`).
pub const MAX_LOGGED: usize = 16;

/// A file syscall that failed inside a request.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The process that made the call (a web server worker, or a backend it handed the
    /// request to).
    pub pid: i32,
    pub syscall: &'static str,
    pub path: Bytes,
    pub errno: i32,
    pub ts: f64,
    pub stat_kind: Option<StatKind>,
    /// Opened for writing (O_WRONLY/O_RDWR/O_CREAT), for the permission explanation.
    pub write: bool,
}

/// A file lookup that succeeded inside a request.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub path: Bytes,
    pub ts: f64,
}

/// One HTTP request and the file activity it caused.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: u64,
    pub pid: i32,
    pub tid: i32,
    pub method: Option<String>,
    pub target: Option<Bytes>,
    pub host: Option<Bytes>,
    pub status: Option<u16>,
    /// In progress when reqtrace attached: its start was not seen.
    pub partial: bool,
    /// Its start was seen, and is not a valid request line: why (`parse::BARE_LF`, a control
    /// character, not HTTP/1.x, too long). `method` and `target` are then what could be told.
    pub malformed: Option<String>,
    pub start_ts: f64,
    pub status_ts: Option<f64>,
    pub end_ts: f64,
    /// File syscalls made while serving it, and how many failed.
    pub syscalls: u64,
    pub failed: u64,
    pub failures: Vec<Failure>,
    pub lookups: Vec<Lookup>,
    /// What the server wrote to its error log for it (at most MAX_LOGGED lines), and how
    /// many more lines it wrote.
    pub logged: Vec<Logged>,
    pub logged_more: u64,
    /// Its worker was seen writing to its error log (in this request or before): what it
    /// logs reaches reqtrace, so a failure it did not log about was handled.
    pub log_watched: bool,
    /// The processes whose calls it holds, first the one that read it (at most
    /// MAX_PROCESSES).
    pub processes: Vec<i32>,
    /// The FastCGI backend leg whose calls it holds (php-fpm behind nginx or Apache).
    pub backend: Option<Backend>,
    /// Why it was finished.
    pub end_reason: RequestEnd,
    /// What a recorded trace said of this request (`reqtrace analyze`), to fall back on.
    pub recorded: Option<Verdict>,
    conn: Option<(i32, i32)>,
    /// Its backend leg is still being served: the record waits for it (bounded).
    leg_open: bool,
    /// Opened from text that is not a request line: worth a record only if the server
    /// answered it (a 400 or 414 to a malformed request); otherwise it was some other
    /// protocol's text (an SMTP banner on an outbound connection) and is dropped unreported.
    unless_answered: bool,
}

impl Request {
    pub fn new(id: u64, pid: i32, tid: i32, ts: f64) -> Request {
        Request {
            id,
            pid,
            tid,
            method: None,
            target: None,
            host: None,
            status: None,
            partial: false,
            malformed: None,
            start_ts: ts,
            status_ts: None,
            end_ts: ts,
            syscalls: 0,
            failed: 0,
            failures: Vec::new(),
            lookups: Vec::new(),
            logged: Vec::new(),
            logged_more: 0,
            log_watched: false,
            processes: vec![pid],
            backend: None,
            end_reason: RequestEnd::Open,
            recorded: None,
            conn: None,
            leg_open: false,
            unless_answered: false,
        }
    }

    /// Count a file syscall made while serving this request: a failure with its path, or a
    /// successful lookup (bounded, see MAX_FAILURES and MAX_LOOKUPS).
    pub fn file_call(&mut self, ev: &SyscallEvent) {
        self.syscalls += 1;
        if !self.processes.contains(&ev.pid) && self.processes.len() < MAX_PROCESSES {
            self.processes.push(ev.pid);
        }
        if let Some(path) = &ev.path {
            match ev.errno {
                Some(errno) => {
                    self.failed += 1;
                    if self.failures.len() < MAX_FAILURES {
                        self.failures.push(Failure {
                            pid: ev.pid,
                            syscall: ev.name,
                            path: path.clone(),
                            errno,
                            ts: ev.ts,
                            stat_kind: ev.stat_kind,
                            write: opened_for_write(ev),
                        });
                    }
                }
                None => {
                    if self.lookups.len() < MAX_LOOKUPS {
                        self.lookups.push(Lookup {
                            path: path.clone(),
                            ts: ev.ts,
                        });
                    }
                }
            }
        } else if ev.errno.is_some() {
            self.failed += 1;
        }
    }

    /// A line its server logged while serving it.
    pub fn log_line(&mut self, pid: i32, ts: f64, line: &[u8]) {
        if self.logged.len() < MAX_LOGGED {
            self.logged.push(Logged {
                pid,
                ts,
                line: line.to_vec(),
            });
        } else {
            self.logged_more += 1;
        }
    }

    /// Milliseconds from the request's first bytes to its status line (or its end).
    pub fn duration_ms(&self) -> f64 {
        (self.status_ts.unwrap_or(self.end_ts) - self.start_ts).max(0.0) * 1000.0
    }
}

#[derive(Default)]
pub struct Correlator {
    next_id: u64,
    open: FastMap<u64, Request>,
    /// The request each thread is serving.
    current: FastMap<i32, u64>,
    /// Requests read on each connection (pid, fd) and not yet answered, oldest first.
    conns: FastMap<(i32, i32), VecDeque<u64>>,
    /// The start of a request line split across reads, per connection, until the rest comes.
    partial_lines: FastMap<(i32, i32), Vec<u8>>,
    order: VecDeque<u64>,
    /// Requests a source tagged calls with and has not announced yet, by its id, and their
    /// ids oldest first.
    tagged: HashMap<u64, Request>,
    tagged_order: VecDeque<u64>,
    /// FastCGI connections by (pid, fd), the leg each backend thread serves (with its calls
    /// until its request is found), legs that ended before it was, the web server's requests
    /// that sent a BEGIN_REQUEST and have no leg yet (oldest first), and finished requests
    /// waiting for their leg to end.
    fcgi: fastcgi::Streams,
    legs: FastMap<i32, (Leg, Request)>,
    parked: VecDeque<(Leg, Request)>,
    awaiting: VecDeque<u64>,
    held: Vec<Request>,
    /// A backend's end of a FastCGI stream was seen: backends are traced.
    backends_seen: bool,
    /// Processes seen writing to their error log.
    log_writers: FastMap<i32, ()>,
    /// Processes forked while their parent served a request (a CGI script, a PHP exec()),
    /// and their descendants: the request their file calls belong to, until they exit.
    spawned: FastMap<i32, u64>,
}

/// Legs kept that ended before the request that sent them was seen (the two processes'
/// stops are reported in either order), and requests held for their leg, at most.
const MAX_PARKED: usize = 64;
const MAX_HELD: usize = 256;
/// How long (trace time) a finished request waits for its leg at most.
const HOLD_S: f64 = 2.0;

fn fd_of(ev: &SyscallEvent) -> Option<i32> {
    match ev.args.first() {
        Some(Arg::Fd(fd, _)) => Some(*fd),
        _ => None,
    }
}

impl Correlator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests not finished yet.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The requests being served.
    pub fn open_requests(&self) -> impl Iterator<Item = &Request> {
        self.open.values()
    }

    /// Feed one event. Returns the id of the request a syscall belongs to (for its printed
    /// line); finished requests are appended to `done`.
    pub fn feed(&mut self, ev: &Event, done: &mut Vec<Request>) -> Option<u64> {
        match ev {
            Event::Syscall(s) => {
                if !self.held.is_empty() {
                    self.release_held(s.ts, done);
                }
                match s.request {
                    Some(id) => self.tagged_call(s, id),
                    None => self.syscall(s, done),
                }
            }
            Event::Request(a) => {
                self.announced(a, done);
                None
            }
            Event::Started {
                pid,
                tid,
                parent: Some(parent),
                ..
            } if pid == tid => {
                self.process_started(*pid, *parent);
                None
            }
            Event::Exited { pid, tid, ts, .. } => {
                if pid == tid {
                    self.spawned.remove(pid);
                }
                if let Some(id) = self.current.remove(tid) {
                    self.finish(id, *ts, RequestEnd::WorkerExited, done);
                }
                self.leg_end(*tid, done);
                if pid == tid {
                    self.fcgi.exited(*pid);
                    let keys: Vec<_> = self.conns.keys().filter(|k| k.0 == *pid).copied().collect();
                    for k in keys {
                        self.close_conn(k, *ts, RequestEnd::WorkerExited, done);
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// A call its source tied to request `id` itself: every such call counts (the recorder
    /// chose them), kept until the request is announced.
    fn tagged_call(&mut self, ev: &SyscallEvent, id: u64) -> Option<u64> {
        if !self.tagged.contains_key(&id) {
            // Ids whose request line never comes (a recording filtered with --url) must not
            // grow this without bound: the oldest are given up first.
            while self.tagged.len() >= MAX_TAGGED {
                let Some(old) = self.tagged_order.pop_front() else {
                    break;
                };
                self.tagged.remove(&old);
            }
            self.tagged_order.push_back(id);
        }
        self.tagged
            .entry(id)
            .or_insert_with(|| Request::new(id, ev.pid, ev.tid, ev.ts))
            .file_call(ev);
        Some(id)
    }

    /// A request its source knows whole: with the calls tagged with its id, finished.
    fn announced(&mut self, a: &Announced, done: &mut Vec<Request>) {
        let mut req = match self.tagged.remove(&a.id) {
            Some(r) => {
                if self.tagged_order.front() == Some(&a.id) {
                    self.tagged_order.pop_front();
                } else if self.tagged_order.len() > 2 * MAX_TAGGED {
                    self.tagged_order.retain(|x| self.tagged.contains_key(x));
                }
                r
            }
            None => Request::new(a.id, a.pid, a.tid, a.start_ts),
        };
        req.pid = a.pid;
        req.tid = a.tid;
        req.start_ts = a.start_ts;
        req.method = a.method.clone();
        req.target = a.target.clone();
        req.host = a.host.clone();
        req.status = a.status;
        req.partial = a.partial;
        req.malformed = a.malformed.clone();
        req.status_ts = a.status.map(|_| a.end_ts);
        req.end_ts = a.end_ts;
        req.end_reason = a.end;
        // The recorder's counts include calls it did not print.
        req.syscalls = a.syscalls.unwrap_or(req.syscalls);
        req.failed = a.failed.unwrap_or(req.failed);
        req.recorded = a.verdict.clone();
        req.logged = a.logged.clone();
        req.backend = a.backend.clone();
        req.logged_more = a.logged_more;
        done.push(req);
    }

    /// Finish everything still open (reqtrace is detaching).
    pub fn finish_all(&mut self, ts: f64, done: &mut Vec<Request>) {
        let mut ids: Vec<u64> = self.open.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.finish(id, ts, RequestEnd::Detached, done);
        }
        self.current.clear();
        self.spawned.clear();
        self.conns.clear();
        done.append(&mut self.held);
        self.legs.clear();
        self.parked.clear();
        self.awaiting.clear();
        self.fcgi = fastcgi::Streams::default();
        // Tagged calls whose request was never announced: the recording was cut short.
        self.tagged.clear();
        self.tagged_order.clear();
    }

    fn syscall(&mut self, ev: &SyscallEvent, done: &mut Vec<Request>) -> Option<u64> {
        let name = ev.name;
        if ev.socket || ev.data.is_some() {
            if let Some(fd) = fd_of(ev) {
                if ev.socket && self.fastcgi_io(ev, fd, done) {
                    return self.serving(ev.tid);
                }
                match (capture::io_of(name), ev.socket) {
                    (Some(Io::Read), true) => self.socket_read(ev, fd, done),
                    (Some(Io::Write), true) => self.socket_write(ev, fd, done),
                    (Some(Io::Write), false) => self.log_write(ev),
                    _ => {}
                }
            }
            return self.serving(ev.tid);
        }
        match name {
            "accept" | "accept4" if ev.errno.is_none() => {
                // A new connection on a reused fd number: whatever was queued there is over.
                self.close_conn(
                    (ev.pid, ev.ret as i32),
                    ev.ts,
                    RequestEnd::ConnectionClosed,
                    done,
                );
                return None;
            }
            "close" => {
                if let Some(fd) = fd_of(ev) {
                    self.close_conn((ev.pid, fd), ev.ts, RequestEnd::ConnectionClosed, done);
                    self.fastcgi_close((ev.pid, fd), done);
                }
                return None;
            }
            _ => {}
        }
        if ev.class & class::FILES == 0 {
            return self.serving(ev.tid);
        }
        match self.current.get(&ev.tid) {
            Some(&id) => {
                self.open.get_mut(&id)?.file_call(ev);
                Some(id)
            }
            None => match self.spawned_call(ev) {
                Some(id) => Some(id),
                None => self.leg_call(ev, done),
            },
        }
    }

    /// The request a thread's calls belong to: the one it serves, or the one its FastCGI
    /// leg serves.
    fn serving(&self, tid: i32) -> Option<u64> {
        self.current
            .get(&tid)
            .copied()
            .or_else(|| self.legs.get(&tid).and_then(|(leg, _)| leg.link))
    }

    fn socket_read(&mut self, ev: &SyscallEvent, fd: i32, done: &mut Vec<Request>) {
        let key = (ev.pid, fd);
        let data: std::borrow::Cow<[u8]> = match (self.partial_lines.remove(&key), &ev.data) {
            (Some(mut head), Some(d)) => {
                head.extend_from_slice(d);
                head.into()
            }
            (Some(head), None) => {
                // EAGAIN between the pieces: keep waiting for the rest.
                self.partial_lines.insert(key, head);
                return;
            }
            (None, Some(d)) => d.as_slice().into(),
            (None, None) => (&[][..]).into(),
        };
        let starts = parse::parse_requests(&data);
        // The read went on past the bytes kept: a line longer than the capture keeps, not a
        // line split across reads (whose first part is all that its read returned).
        let cut = ev.ret > 0 && ev.ret as usize > ev.data.as_ref().map_or(0, Vec::len);
        if starts.is_empty() && !cut && parse::could_be_request_prefix(&data) {
            self.partial_lines.insert(key, data.into_owned());
            return;
        }
        // Reading the connection again after the response: the thread is done with it.
        if let Some(&cur) = self.current.get(&ev.tid)
            && self.open.get(&cur).is_some_and(|r| r.status.is_some())
        {
            self.current.remove(&ev.tid);
            self.finish(cur, ev.ts, RequestEnd::Response, done);
        }
        if starts.is_empty() {
            // Bytes that are not a request line on a connection while the thread serves
            // nothing. A line the capture cut before its end (longer than the first bytes
            // kept of the read that completed it, or than a log's -s): a request whose target
            // is cut, not a malformed one, unless it is longer than any server accepts. Other
            // text: a malformed request (a control character in its line, not HTTP/1.x),
            // which the server answers 400 or 414; it is opened with what can be told of it
            // and reported only if answered. Otherwise TLS (or another protocol): an
            // anonymous request that the access-log line names later or, if none comes, is
            // dropped unreported.
            if !data.is_empty() && !self.current.contains_key(&ev.tid) {
                let too_long = data.len() >= capture::HEAD_CAP;
                let cut_line = cut && !too_long && parse::could_be_request_prefix(&data);
                let malformed = parse::malformed_request(&data, too_long);
                let id = self.new_request(ev.pid, ev.tid, ev.ts, done);
                if let Some(req) = self.open.get_mut(&id) {
                    req.conn = Some(key);
                    if let Some(m) = malformed {
                        req.method = m.method;
                        req.target = m.target;
                        if !cut_line {
                            req.malformed = Some(m.why);
                            req.unless_answered = true;
                        }
                    }
                }
                self.conns.entry(key).or_default().push_back(id);
                self.current.insert(ev.tid, id);
            }
            return;
        }
        // A thread that reads HTTP requests is no FastCGI backend: a leg it seemed to start
        // (a client's bytes that looked like a BEGIN_REQUEST) is dropped.
        if self.legs.contains_key(&ev.tid) {
            self.leg_end(ev.tid, done);
        }
        // A new request on this thread: the one it was serving (if any) is over.
        if let Some(cur) = self.current.remove(&ev.tid) {
            let reason = if self.open.get(&cur).is_some_and(|r| r.status.is_some()) {
                RequestEnd::Response
            } else {
                RequestEnd::NextRequest
            };
            self.finish(cur, ev.ts, reason, done);
        }
        for (i, s) in starts.into_iter().enumerate() {
            let id = self.new_request(ev.pid, ev.tid, ev.ts, done);
            let req = self.open.get_mut(&id).expect("just inserted");
            req.method = Some(s.method);
            req.target = Some(s.target);
            req.host = s.host;
            req.malformed = s.bare_lf.then(|| parse::BARE_LF.to_string());
            req.conn = Some(key);
            self.conns.entry(key).or_default().push_back(id);
            if i == 0 {
                self.current.insert(ev.tid, id);
            }
        }
    }

    fn socket_write(&mut self, ev: &SyscallEvent, fd: i32, done: &mut Vec<Request>) {
        let Some(status) = ev.data.as_deref().and_then(parse::parse_status) else {
            return;
        };
        // An interim response (100 Continue, 103 Early Hints) is not the answer; 101 is, for
        // HTTP: the connection becomes something else.
        if (100..200).contains(&status) && status != 101 {
            return;
        }
        let key = (ev.pid, fd);
        let front = self.conns.get(&key).and_then(|q| {
            q.iter()
                .copied()
                .find(|id| self.open.get(id).is_some_and(|r| r.status.is_none()))
        });
        let id = match front {
            Some(id) => id,
            None => {
                // A response for a request we never saw start: it was in progress when we
                // attached (or its read was not captured).
                match self.current.get(&ev.tid) {
                    Some(&cur) if self.open.get(&cur).is_some_and(|r| r.status.is_none()) => cur,
                    _ => {
                        if let Some(cur) = self.current.remove(&ev.tid) {
                            self.finish(cur, ev.ts, RequestEnd::Response, done);
                        }
                        let id = self.new_request(ev.pid, ev.tid, ev.ts, done);
                        let req = self.open.get_mut(&id).expect("just inserted");
                        req.partial = true;
                        req.conn = Some(key);
                        self.conns.entry(key).or_default().push_back(id);
                        self.current.insert(ev.tid, id);
                        id
                    }
                }
            }
        };
        if let Some(req) = self.open.get_mut(&id) {
            req.status = Some(status);
            req.status_ts = Some(ev.ts);
        }
        // Pipelining: once this one is answered, the thread moves on to the next queued one.
        let next = self.conns.get(&key).and_then(|q| {
            q.iter()
                .copied()
                .find(|&n| n != id && self.open.get(&n).is_some_and(|r| r.status.is_none()))
        });
        if let Some(next) = next {
            if let Some(q) = self.conns.get_mut(&key) {
                q.retain(|&x| x != id);
            }
            self.finish(id, ev.ts, RequestEnd::Response, done);
            self.current.insert(ev.tid, next);
            if let Some(r) = self.open.get_mut(&next) {
                r.tid = ev.tid;
            }
        }
    }

    /// A write to a log: an access-log line (the status fallback), or error-log lines.
    fn log_write(&mut self, ev: &SyscallEvent) {
        let Some(data) = ev.data.as_deref() else {
            return;
        };
        match parse::parse_access_log(data) {
            Some(line) => self.access_log(ev, line),
            None => self.error_log(ev, data),
        }
    }

    /// Error-log lines, each tied to the request it names (nginx: `request: "GET /x …"`,
    /// among the requests its process is serving), else to the one the writing thread is
    /// serving (Apache's worker thread logs for its own request; a FastCGI backend's
    /// messages come back through the web server's thread). A line written while the thread
    /// serves nothing (start-up, a child's death) belongs to no request and is not kept.
    fn error_log(&mut self, ev: &SyscallEvent, data: &[u8]) {
        if self.log_writers.len() < MAX_OPEN {
            self.log_writers.insert(ev.pid, ());
        }
        // One entry per logged message: a line that does not open like a log line (PHP's
        // "Stack trace:", "#0 {main}" after a fatal error, as nginx writes them) goes on the
        // one before it.
        let mut entries: Vec<Vec<u8>> = Vec::new();
        for line in data.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match entries.last_mut() {
                Some(last) if !errlog::looks_like_line(line) => {
                    last.push(b'\n');
                    last.extend_from_slice(line);
                }
                _ => entries.push(line.to_vec()),
            }
        }
        // Apache's and nginx's stderr is their error log; any other file is read because it is
        // named like a log, and only a server's error-log lines of it are kept (an
        // application's own log is its data).
        let stderr = fd_of(ev) == Some(2);
        for line in entries {
            if !stderr && !errlog::looks_like_line(&line) {
                continue;
            }
            let named = errlog::request_named(&line).and_then(|(method, target)| {
                self.open
                    .values()
                    .filter(|r| {
                        r.pid == ev.pid
                            && r.method.as_deref().map(str::as_bytes) == Some(method)
                            && r.target.as_deref() == Some(target)
                    })
                    .map(|r| r.id)
                    // The newest of equal requests: the older ones were answered.
                    .max()
            });
            // An nginx line names its request unless the capture cut it off; a worker serves
            // many at once, so without the name the thread's last request is only a guess:
            // kept only when it is the process's one open request.
            let guess_ok = !errlog::is_nginx_line(&line)
                || self.open.values().filter(|r| r.pid == ev.pid).count() <= 1;
            // A process started for a request (a CGI script under mod_cgid) writes to the
            // error log as its stderr: its lines are that request's.
            let fallback = guess_ok
                .then(|| {
                    self.current
                        .get(&ev.tid)
                        .or_else(|| self.spawned.get(&ev.pid))
                        .copied()
                })
                .flatten();
            let Some(id) = named.or(fallback) else {
                continue;
            };
            if let Some(req) = self.open.get_mut(&id) {
                req.log_line(ev.pid, ev.ts, &line);
            }
        }
    }

    /// The status fallback: an access-log line written by the thread for its request (the
    /// socket carried TLS, or its write was not seen).
    fn access_log(&mut self, ev: &SyscallEvent, (method, target, status): (String, Bytes, u16)) {
        let Some(&id) = self.current.get(&ev.tid) else {
            return;
        };
        let Some(req) = self.open.get_mut(&id) else {
            return;
        };
        if req.status.is_some() {
            return;
        }
        if req.method.is_none() {
            // The anonymous (encrypted) request this thread was serving: the log names it.
            req.method = Some(method);
            req.target = Some(target);
        } else if req.method.as_deref() != Some(method.as_str())
            || req.target.as_deref() != Some(target.as_slice())
        {
            return;
        }
        req.status = Some(status);
        req.status_ts = Some(ev.ts);
    }

    fn close_conn(
        &mut self,
        key: (i32, i32),
        ts: f64,
        reason: RequestEnd,
        done: &mut Vec<Request>,
    ) {
        let Some(queue) = self.conns.remove(&key) else {
            return;
        };
        for id in queue {
            if let Some(req) = self.open.get(&id) {
                let tid = req.tid;
                if self.current.get(&tid) == Some(&id) {
                    self.current.remove(&tid);
                }
                let reason = if req.status.is_some() {
                    RequestEnd::Response
                } else {
                    reason
                };
                self.finish(id, ts, reason, done);
            }
        }
    }

    fn new_request(&mut self, pid: i32, tid: i32, ts: f64, done: &mut Vec<Request>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.open.insert(id, Request::new(id, pid, tid, ts));
        self.order.push_back(id);
        while self.open.len() > MAX_OPEN {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.finish(old, ts, RequestEnd::Abandoned, done);
        }
        id
    }

    fn finish(&mut self, id: u64, ts: f64, reason: RequestEnd, done: &mut Vec<Request>) {
        let Some(mut req) = self.open.remove(&id) else {
            return;
        };
        if req.unless_answered && req.status.is_none() {
            // Not an HTTP request after all: anonymous, so not reported.
            req.method = None;
            req.target = None;
            req.malformed = None;
        }
        if let Some(key) = req.conn
            && let Some(q) = self.conns.get_mut(&key)
        {
            q.retain(|&x| x != id);
            if q.is_empty() {
                self.conns.remove(&key);
            }
        }
        if self.current.get(&req.tid) == Some(&id) {
            self.current.remove(&req.tid);
        }
        if self.order.front() == Some(&id) {
            self.order.pop_front();
        } else if self.order.len() > 2 * MAX_OPEN {
            self.order.retain(|x| self.open.contains_key(x));
        }
        req.end_ts = ts;
        req.end_reason = reason;
        req.log_watched |= self.log_writers.contains_key(&req.pid);
        // Its FastCGI leg is still being served (the backend's stops can be reported after
        // the web server's): the record waits for the leg's end, bounded.
        // So does one that sent a BEGIN_REQUEST while backends are traced and has no leg yet
        // (a log whose processes' lines are out of order).
        let leg_to_come =
            self.backends_seen && req.backend.is_none() && self.awaiting.contains(&id);
        if (req.leg_open || leg_to_come) && self.held.len() < MAX_HELD {
            self.held.push(req);
            return;
        }
        if req.backend.is_none() {
            self.awaiting.retain(|&x| x != id);
        }
        done.push(req);
    }
}

fn opened_for_write(ev: &SyscallEvent) -> bool {
    matches!(ev.name, "open" | "openat" | "creat" | "openat2")
        && ev.args.iter().any(|a| match a {
            Arg::Flags(FlagKind::Open, v) => {
                *v as i32 & (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT) != 0
            }
            Arg::Sym(s) => s.contains("O_WRONLY") || s.contains("O_RDWR") || s.contains("O_CREAT"),
            _ => false,
        })
}
