//! Output: a writer thread that correlates events into HTTP requests, diagnoses finished
//! requests, formats everything (human text or JSON Lines) and writes it buffered, off the
//! tracer's critical path. The tracer hands events over a bounded queue and never blocks on a
//! slow reader: when the queue is full the event is dropped and counted. A closed pipe
//! (`| head`) asks the tracer to detach and stop.

pub mod escape;
pub mod explain;
pub mod human;
pub mod json;
pub mod lines;
pub mod report;
pub mod tally;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use crate::diagnose::{Diagnoser, Report, rank};
use crate::error::Error;
use crate::event::Event;
use crate::http::correlate::Correlator;
use crate::http::urlmatch::UrlFilter;
use crate::signals;
use crate::tracer::EventSink;

use lines::{Kind, Lines};

/// How often the writer looks for work while busy, and for how many looks it keeps polling
/// before it parks.
const POLL: std::time::Duration = std::time::Duration::from_millis(2);
const IDLE_POLLS: u32 = 25;
/// How often the status line is refreshed.
const STATUS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Events handed to the writer together.
const BATCH: usize = 256;
/// Lines the writer formats before it hands them to the output thread even if more
/// events are waiting (bounds what it holds; otherwise it hands them over when caught up).
const BATCH_LINES: usize = 1024;
/// Events queued between the tracer threads and the writer before dropping starts. Counted
/// in events, not messages: a batch is as small as what was pending when the tracer went
/// idle, so a bound on messages would say little about memory.
const MAX_QUEUED: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// Counts for the closing summary line.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub syscalls: u64,
    pub failed: u64,
    pub by_errno: BTreeMap<i32, u64>,
    pub processes: u64,
    pub threads: u64,
    pub dropped: u64,
    pub duration_s: f64,
    pub reason: String,
    /// Requests reported, and how many of those needed attention.
    pub requests: u64,
    pub requests_failed: u64,
    /// When the trace ended (requests still open are finished then); now when `None`.
    pub end_ts: Option<f64>,
    /// Lines of a recording that could not be parsed (`reqtrace analyze`).
    pub unparsed: Option<u64>,
}

/// What a finished request looked like, for `--probe`.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Option<String>,
    pub target: Option<Vec<u8>>,
    pub status: Option<u16>,
    pub suspects: usize,
}

/// What the writer thread does besides printing syscalls.
pub struct Pipeline {
    /// Tie syscalls to HTTP requests and report finished requests.
    pub correlate: bool,
    /// Print syscall lines (false in report mode: --apache, --name, --url, --probe).
    pub show_syscalls: bool,
    pub url: Option<UrlFilter>,
    /// `--all`: noise is listed with the suspects.
    pub show_noise: bool,
    /// `--show-secrets`: print query strings as sent (redacted by default).
    pub show_secrets: bool,
    /// `--summary`: count failures by path and requests by status, printed at exit.
    pub summary: bool,
    /// Keep a status line on stderr (stderr is a terminal and stdout is not).
    pub status_line: bool,
    /// `--count N`: stop after N reported requests.
    pub count: Option<u64>,
    /// Where `--probe` learns about finished requests.
    pub seen: Option<mpsc::Sender<Seen>>,
    /// Diagnose a recording rather than live processes (`reqtrace analyze`).
    pub offline: Option<crate::diagnose::Offline>,
}

enum Msg {
    Events(Vec<Event>),
    /// A recording's events with the request each belonged to, and its finished requests.
    Replay(
        Vec<(Event, Option<u64>)>,
        Vec<crate::http::correlate::Request>,
    ),
    Raw(String),
    Finish(Box<Summary>),
    /// Stop without a summary.
    Abort,
}

/// Open the output: stdout, or FILE created 0600 and never through a symlink planted there.
pub fn open_output(path: Option<&str>) -> Result<(Box<dyn Write + Send>, bool), Error> {
    match path {
        None | Some("-") => {
            let tty = io::stdout().is_terminal();
            Ok((Box::new(io::stdout()), tty))
        }
        Some(p) => {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(p)
                .map_err(|e| Error::Output {
                    path: p.to_string(),
                    why: if e.raw_os_error() == Some(libc::ELOOP) {
                        "it is a symbolic link; refusing to write through it".into()
                    } else {
                        e.to_string()
                    },
                })?;
            Ok((Box::new(f), false))
        }
    }
}

/// Writes preformatted lines into the same ordered queue.
pub struct LineSender(Sender<Msg>);

impl LineSender {
    pub fn send_line(&self, s: String) {
        let _ = self.0.send(Msg::Raw(s));
    }
}

/// The writer thread's handle: starts it, and finishes it with the summary.
pub struct Writer {
    tx: Sender<Msg>,
    queued: Arc<AtomicUsize>,
    handle: Option<JoinHandle<Summary>>,
}

/// A tracer thread's end of the queue: batches events and counts what it had to drop.
pub struct BatchSink {
    tx: Sender<Msg>,
    /// Events sent and not yet taken by the writer, shared by every sink and the writer.
    queued: Arc<AtomicUsize>,
    batch: Vec<Event>,
    pub dropped: u64,
}

impl EventSink for BatchSink {
    fn send(&mut self, ev: Event) {
        self.batch.push(ev);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    /// One channel message (and at most one wake-up of the writer) per batch: waking the
    /// writer for every event costs a futex call and a context switch per syscall.
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let n = batch.len();
        // The writer is behind: drop rather than make the traced server wait for it.
        if self.queued.load(Ordering::Relaxed) + n > MAX_QUEUED {
            self.dropped += n as u64;
            return;
        }
        self.queued.fetch_add(n, Ordering::Relaxed);
        if self.tx.send(Msg::Events(batch)).is_err() {
            self.queued.fetch_sub(n, Ordering::Relaxed);
        }
    }
}

impl Writer {
    pub fn start(
        out: Box<dyn Write + Send>,
        format: Format,
        color: bool,
        pipeline: Pipeline,
    ) -> Writer {
        let (tx, rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let theirs = queued.clone();
        let handle = std::thread::Builder::new()
            .name("reqtrace-writer".into())
            .spawn(move || {
                block_stop_signals();
                write_loop(rx, theirs, out, format, color, pipeline)
            })
            .expect("spawning the writer thread");
        Writer {
            tx,
            queued,
            handle: Some(handle),
        }
    }

    /// A sink for one tracer thread.
    pub fn sink(&self) -> BatchSink {
        BatchSink {
            tx: self.tx.clone(),
            queued: self.queued.clone(),
            batch: Vec::new(),
            dropped: 0,
        }
    }

    /// Wait until the writer has taken most of what was queued: an offline reader may go
    /// faster than the printer, and unlike a live tracer it can wait.
    fn backpressure(&self, n: usize) {
        while self.queued.load(Ordering::Relaxed) > MAX_QUEUED {
            std::thread::sleep(POLL);
        }
        self.queued.fetch_add(n, Ordering::Relaxed);
    }

    /// Hand over events read from a recording; never drops, waits instead (down to the
    /// output, which waits for its reader in this mode).
    pub fn feed(&self, events: Vec<Event>) {
        self.backpressure(events.len());
        let _ = self.tx.send(Msg::Events(events));
    }

    /// Hand over a recording's already correlated events and finished requests.
    pub fn replay(
        &self,
        events: Vec<(Event, Option<u64>)>,
        requests: Vec<crate::http::correlate::Request>,
    ) {
        self.backpressure(events.len());
        let _ = self.tx.send(Msg::Replay(events, requests));
    }

    /// A handle that writes whole lines as they are (the start line), usable while the
    /// tracer holds the writer.
    pub fn line_sender(&self) -> LineSender {
        LineSender(self.tx.clone())
    }

    /// Stop without a summary (nothing was traced: attaching failed).
    pub fn abort(mut self) {
        let _ = self.tx.send(Msg::Abort);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }

    /// Finish: write the summary, flush, and wait for the writer thread.
    /// `sum.dropped` carries what the tracer threads' sinks dropped.
    pub fn finish(mut self, sum: Summary) -> Summary {
        let _ = self.tx.send(Msg::Finish(Box::new(sum.clone())));
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(s)) => s,
            _ => sum,
        }
    }
}

/// The writer thread must not take the signals meant to wake the tracer thread.
fn block_stop_signals() {
    let _ = signals::stop_signals().thread_block();
}

struct State {
    format: Format,
    color: bool,
    pipe: Pipeline,
    correlator: Correlator,
    diag: Diagnoser,
    sum: Summary,
    done: Vec<crate::http::correlate::Request>,
    /// Lines formatted since the last hand-over to the output thread.
    lines: Vec<(Kind, String)>,
    tally: tally::Tally,
    /// Processes traced now (for the status line).
    live: std::collections::HashSet<i32>,
}

impl State {
    fn event(&mut self, ev: Event) {
        match &ev {
            Event::Started { pid, .. } => {
                self.live.insert(*pid);
            }
            Event::Exited { pid, tid, .. } if pid == tid => {
                self.live.remove(pid);
            }
            _ => {}
        }
        let request = if self.pipe.correlate {
            self.correlator.feed(&ev, &mut self.done)
        } else {
            None
        };
        self.print(&ev, request);
        self.reports();
    }

    /// Count and format a syscall line (`request`: the request it belongs to).
    fn print(&mut self, ev: &Event, request: Option<u64>) {
        let Event::Syscall(ev) = ev else {
            return;
        };
        if !ev.shown {
            return;
        }
        if self.pipe.summary {
            self.tally.failure(ev);
        }
        if self.pipe.show_syscalls {
            self.sum.syscalls += 1;
            if let Some(e) = ev.errno {
                self.sum.failed += 1;
                *self.sum.by_errno.entry(e).or_default() += 1;
            }
            let line = match self.format {
                Format::Human => human::format_syscall(ev, self.color),
                Format::Json => json::syscall_line(ev, request),
            };
            self.lines.push((Kind::Syscall, line));
        }
    }

    /// Refresh the status line on stderr, at most once per STATUS_EVERY.
    fn status(&self, sink: &Lines, at: &mut std::time::Instant) {
        if at.elapsed() < STATUS_EVERY {
            return;
        }
        *at = std::time::Instant::now();
        eprint!(
            "\r\x1b[Kreqtrace: {} processes traced, {} requests ({} needing attention), {} dropped",
            self.live.len(),
            self.sum.requests,
            self.sum.requests_failed,
            sink.dropped()
        );
    }

    /// Diagnose and print the requests finished so far.
    fn reports(&mut self) {
        for req in std::mem::take(&mut self.done) {
            // A request we know nothing of (no start seen, no status) is not worth a line.
            if req.method.is_none() && req.status.is_none() {
                continue;
            }
            if let Some(f) = &self.pipe.url {
                match &req.target {
                    Some(t) if f.matches(&rank::url_path(t)) => {}
                    _ => continue,
                }
            }
            // --count N: once N are reported, the ones still in flight at detach are not.
            if self.pipe.count.is_some_and(|n| self.sum.requests >= n) {
                continue;
            }
            if self.pipe.summary {
                self.tally.request(req.status);
            }
            let r: Report = self.diag.diagnose(req);
            self.sum.requests += 1;
            if report::needs_attention(&r) {
                self.sum.requests_failed += 1;
            }
            let text = match self.format {
                Format::Human => report::format_report(&r, self.color, self.pipe.show_secrets),
                Format::Json => json::request_line(&r, self.pipe.show_secrets),
            };
            self.lines.push((Kind::Record, text));
            if let Some(tx) = &self.pipe.seen {
                let _ = tx.send(Seen {
                    method: r.request.method.clone(),
                    target: r.request.target.clone(),
                    status: r.request.status,
                    suspects: r.real_suspects(),
                });
            }
            if self.pipe.count.is_some_and(|n| self.sum.requests >= n) {
                signals::request_stop(signals::REASON_COUNT);
            }
        }
    }
}

fn write_loop(
    rx: Receiver<Msg>,
    queued: Arc<AtomicUsize>,
    out: Box<dyn Write + Send>,
    format: Format,
    color: bool,
    pipe: Pipeline,
) -> Summary {
    let sink = Lines::start(out, pipe.offline.is_some());
    let diag = match pipe.offline.clone() {
        Some(o) => Diagnoser::offline(pipe.show_noise, o),
        None => Diagnoser::new(pipe.show_noise),
    };
    let mut st = State {
        format,
        color,
        pipe,
        correlator: Correlator::new(),
        diag,
        sum: Summary::default(),
        done: Vec::new(),
        lines: Vec::new(),
        tally: tally::Tally::default(),
        live: std::collections::HashSet::new(),
    };
    let mut status_at = std::time::Instant::now();
    let mut idle = 0;
    loop {
        // While events keep coming, poll: a receiver that is not parked costs the tracer no
        // wake-up (a futex call and a context switch per batch on a machine the server
        // needs). After a quiet spell, park until the next message.
        let msg = match rx.try_recv() {
            Ok(m) => m,
            Err(mpsc::TryRecvError::Disconnected) => break,
            // Caught up: hand the lines to the output thread now, one wake-up of it per
            // catch-up rather than one per batch (a batch is whatever was pending when a
            // tracer thread went idle: thousands a second under load).
            Err(mpsc::TryRecvError::Empty) if !st.lines.is_empty() => {
                sink.push_all(&mut st.lines);
                continue;
            }
            Err(mpsc::TryRecvError::Empty) if idle < IDLE_POLLS => {
                idle += 1;
                std::thread::sleep(POLL);
                continue;
            }
            // With a status line to keep fresh, park at most a second.
            Err(mpsc::TryRecvError::Empty) if st.pipe.status_line => {
                match rx.recv_timeout(STATUS_EVERY) {
                    Ok(m) => m,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        st.status(&sink, &mut status_at);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            Err(mpsc::TryRecvError::Empty) => match rx.recv() {
                Ok(m) => m,
                Err(_) => break,
            },
        };
        if st.pipe.status_line {
            st.status(&sink, &mut status_at);
        }
        idle = 0;
        match msg {
            Msg::Raw(s) => st.lines.push((Kind::Record, s)),
            Msg::Abort => break,
            Msg::Events(evs) => {
                queued.fetch_sub(evs.len(), Ordering::Relaxed);
                for ev in evs {
                    st.event(ev);
                }
                if st.lines.len() >= BATCH_LINES {
                    sink.push_all(&mut st.lines);
                }
            }
            Msg::Replay(evs, requests) => {
                queued.fetch_sub(evs.len(), Ordering::Relaxed);
                for (ev, request) in evs {
                    st.print(&ev, request);
                }
                st.done.extend(requests);
                st.reports();
                sink.push_all(&mut st.lines);
            }
            Msg::Finish(s) => {
                sink.push_all(&mut st.lines);
                if st.pipe.status_line {
                    // Clear the status line before the closing summary.
                    eprint!("\r\x1b[K");
                }
                if st.pipe.correlate {
                    let end = s.end_ts.unwrap_or_else(crate::event::now);
                    st.correlator.finish_all(end, &mut st.done);
                    st.reports();
                    sink.push_all(&mut st.lines);
                }
                let sum = &mut st.sum;
                sum.processes = s.processes;
                sum.threads = s.threads;
                // Events the tracer threads dropped, and lines the output queue dropped.
                sum.dropped = s.dropped + sink.dropped();
                sum.duration_s = s.duration_s;
                sum.reason = s.reason;
                sum.unparsed = s.unparsed;
                let tally = st.pipe.summary.then_some(&st.tally);
                match format {
                    Format::Json => sink.push(Kind::Record, json::summary_line(sum, tally)),
                    Format::Human => {
                        if let Some(t) = tally {
                            sink.push(Kind::Record, t.table());
                        }
                        if !sink.broken() {
                            let unparsed = match sum.unparsed {
                                Some(n) if n > 0 => format!(", {n} lines not parsed"),
                                _ => String::new(),
                            };
                            eprintln!(
                                "reqtrace: {} requests ({} needing attention), {} syscalls shown ({} failed), {} processes, {} threads{unparsed}; {}",
                                sum.requests,
                                sum.requests_failed,
                                sum.syscalls,
                                sum.failed,
                                sum.processes,
                                sum.threads,
                                sum.reason
                            );
                        }
                    }
                }
                if sum.dropped > 0 {
                    eprintln!(
                        "reqtrace: {} events or lines dropped because the output could not keep up",
                        sum.dropped
                    );
                }
                break;
            }
        }
    }
    sink.push_all(&mut st.lines);
    sink.finish();
    st.sum
}
