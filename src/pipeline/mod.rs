//! The pipeline: one writer thread that takes every source's events, correlates them into
//! HTTP requests (http/), diagnoses each finished request (diagnose/), and hands syscall
//! lines and records to a printer (output/), off the source's critical path. It implements
//! the sources' [`Hub`]: a live source's sink never blocks (a full queue drops the events and
//! counts them, reported as `Event::Lost`), a replay's sink waits. A closed pipe (`| head`)
//! asks the sources to stop (`attach`; `run` traces on, unprinted: signals::output_closed).
//! A source with one thread (eBPF's reader, a single ptrace tracer thread) does that work
//! on its own thread instead ([`Pipeline::start_inline`], inline.rs).

mod inline;
mod records;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use crate::diagnose::Offline;
use crate::event::source::InlineClock;
use crate::event::{Event, EventSink, Hub};
use crate::http::urlmatch::UrlFilter;
use crate::output::lines::{Kind, Lines};
use crate::output::{Printer, Summary};
use crate::signals;

use records::State;

/// How often the writer looks for work while busy, and for how many looks it keeps polling
/// before it parks.
const POLL: std::time::Duration = std::time::Duration::from_millis(2);
const IDLE_POLLS: u32 = 25;
/// How often the status line is refreshed.
const STATUS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Events a live sink hands over together.
const BATCH: usize = 256;
/// Events a replay sink hands over together.
const REPLAY_BATCH: usize = 512;
/// Lines the writer formats before it hands them to the output thread even if more
/// events are waiting (bounds what it holds; otherwise it hands them over when caught up).
const BATCH_LINES: usize = 1024;
/// Events queued between the sources and the writer before dropping starts. Counted in
/// events, not messages: a batch is as small as what was pending when the tracer went idle,
/// so a bound on messages would say little about memory.
const MAX_QUEUED: usize = 16 * 1024;

/// What a finished request looked like, for `--probe`.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Option<String>,
    pub target: Option<Vec<u8>>,
    pub status: Option<u16>,
    pub suspects: usize,
    /// The record needs attention (`Report::needs_attention`): what a probe fails on.
    pub attention: bool,
    /// The absolute paths whose calls failed in the request (noise included, each once, at
    /// most MAX_FAILED_PATHS): a probe whose response names one fails.
    pub failed_paths: Vec<Vec<u8>>,
}

/// Failed paths handed to a probe per request, at most.
pub const MAX_FAILED_PATHS: usize = 64;

/// What the writer thread does besides printing syscalls.
pub struct Settings {
    pub printer: Printer,
    /// Print syscall lines (false in report mode: --apache, --name, --url, --probe).
    pub show_syscalls: bool,
    pub url: Option<UrlFilter>,
    /// `--all`: noise is listed with the suspects.
    pub show_noise: bool,
    /// `--summary`: count failures by path and requests by status, printed at exit.
    pub summary: bool,
    /// Keep a status line on stderr (stderr is a terminal and stdout is not).
    pub status_line: bool,
    /// `--count N`: stop after N reported requests.
    pub count: Option<u64>,
    /// Where `--probe` learns about finished requests.
    pub seen: Option<mpsc::Sender<Seen>>,
    /// Diagnose a recording rather than live processes (`reqtrace analyze`).
    pub offline: Option<Offline>,
}

/// What the writer is told at the end, beyond the events.
#[derive(Debug, Clone, Default)]
pub struct Closing {
    pub processes: u64,
    pub threads: u64,
    /// Events the sources dropped and did not report as `Event::Lost`.
    pub dropped: u64,
    /// Syscalls through a non-native (32-bit) ABI, seen and not decoded.
    pub compat: u64,
    pub duration_s: f64,
    pub reason: String,
    /// When the trace ended (requests still open are finished then); now when `None`.
    pub end_ts: Option<f64>,
    pub unparsed: Option<u64>,
}

enum Msg {
    Events(Vec<Event>),
    Raw(String),
    Finish(Box<Closing>),
    /// Stop without a summary.
    Abort,
}

/// The writer thread's handle: starts it, hands out sinks, finishes it with the summary.
/// Or, inline, the state the source's thread works on.
pub struct Pipeline {
    run: Run,
}

enum Run {
    Writer {
        tx: Sender<Msg>,
        queued: Arc<AtomicUsize>,
        handle: Option<JoinHandle<Summary>>,
    },
    Inline(inline::Shared, Option<inline::Ticker>),
}

/// A live source thread's end of the queue: batches events, never blocks, and counts what
/// it had to drop.
struct LiveSink {
    tx: Sender<Msg>,
    /// Events sent and not yet taken by the writer, shared by every sink and the writer.
    queued: Arc<AtomicUsize>,
    batch: Vec<Event>,
    /// Dropped and not yet reported to the writer.
    lost: u64,
}

impl EventSink for LiveSink {
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
        let n = self.batch.len();
        // The writer is behind: drop rather than make the traced server wait for it.
        if self.queued.load(Ordering::Relaxed) + n > MAX_QUEUED {
            self.lost += n as u64;
            self.batch.clear();
            return;
        }
        let mut batch = std::mem::take(&mut self.batch);
        if self.lost > 0 {
            batch.push(Event::Lost {
                count: std::mem::take(&mut self.lost),
            });
        }
        let n = batch.len();
        self.queued.fetch_add(n, Ordering::Relaxed);
        if let Err(mpsc::SendError(Msg::Events(b))) = self.tx.send(Msg::Events(batch)) {
            // The writer is gone: everything in the batch is lost, the count it carried too.
            self.queued.fetch_sub(n, Ordering::Relaxed);
            for ev in &b {
                self.lost += match ev {
                    Event::Lost { count } => *count,
                    _ => 1,
                };
            }
        }
    }

    fn dropped(&self) -> u64 {
        self.lost
    }
}

/// A replay's end of the queue: waits until the writer has taken most of what was queued
/// (a reader of a file may go faster than the printer and, unlike a live tracer, can wait).
struct ReplaySink {
    tx: Sender<Msg>,
    queued: Arc<AtomicUsize>,
    batch: Vec<Event>,
}

impl EventSink for ReplaySink {
    fn send(&mut self, ev: Event) {
        self.batch.push(ev);
        if self.batch.len() >= REPLAY_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        while self.queued.load(Ordering::Relaxed) > MAX_QUEUED {
            std::thread::sleep(POLL);
        }
        let batch = std::mem::take(&mut self.batch);
        self.queued.fetch_add(batch.len(), Ordering::Relaxed);
        let _ = self.tx.send(Msg::Events(batch));
    }
}

impl Drop for ReplaySink {
    fn drop(&mut self) {
        self.flush();
    }
}

impl Hub for Pipeline {
    fn live_sink(&self) -> Box<dyn EventSink + Send> {
        match &self.run {
            Run::Writer { tx, queued, .. } => Box::new(LiveSink {
                tx: tx.clone(),
                queued: queued.clone(),
                batch: Vec::new(),
                lost: 0,
            }),
            Run::Inline(shared, _) => Box::new(inline::InlineSink::new(shared)),
        }
    }

    fn replay_sink(&self) -> Box<dyn EventSink + Send> {
        match &self.run {
            Run::Writer { tx, queued, .. } => Box::new(ReplaySink {
                tx: tx.clone(),
                queued: queued.clone(),
                batch: Vec::new(),
            }),
            Run::Inline(shared, _) => Box::new(inline::InlineSink::new(shared)),
        }
    }
}

impl Pipeline {
    pub fn start(out: Box<dyn Write + Send>, settings: Settings) -> Pipeline {
        let (tx, rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let theirs = queued.clone();
        let handle = std::thread::Builder::new()
            .name("reqtrace-writer".into())
            .spawn(move || {
                // The writer thread must not take the signals meant to wake the tracers.
                let _ = signals::stop_signals().thread_block();
                write_loop(rx, theirs, out, settings)
            })
            .expect("spawning the writer thread");
        Pipeline {
            run: Run::Writer {
                tx,
                queued,
                handle: Some(handle),
            },
        }
    }

    /// No writer thread: each source's sink correlates, diagnoses and formats on the
    /// source's thread as it hands a batch over (inline.rs); `clock` says when that thread
    /// may look at the clock.
    pub fn start_inline(
        out: Box<dyn Write + Send>,
        settings: Settings,
        clock: InlineClock,
    ) -> Pipeline {
        let (shared, ticker) = inline::Inline::start(out, settings, clock);
        Pipeline {
            run: Run::Inline(shared, ticker),
        }
    }

    /// Write a whole preformatted line (the start line) in order with the records.
    pub fn send_line(&self, s: String) {
        match &self.run {
            Run::Writer { tx, .. } => {
                let _ = tx.send(Msg::Raw(s));
            }
            Run::Inline(shared, _) => inline::lock(shared).line(s),
        }
    }

    /// Stop without a summary (nothing was traced: attaching failed).
    pub fn abort(mut self) {
        match &mut self.run {
            Run::Writer { tx, handle, .. } => {
                let _ = tx.send(Msg::Abort);
                if let Some(h) = handle.take() {
                    let _ = h.join();
                }
            }
            Run::Inline(shared, ticker) => {
                inline::stop(ticker.take());
                inline::lock(shared).abort()
            }
        }
    }

    /// Finish: finish the requests still open, write the summary, flush, and wait for the
    /// writer thread. Returns what was counted.
    pub fn finish(mut self, closing: Closing) -> Summary {
        match &mut self.run {
            Run::Writer { tx, handle, .. } => {
                let _ = tx.send(Msg::Finish(Box::new(closing)));
                match handle.take().map(|h| h.join()) {
                    Some(Ok(s)) => s,
                    _ => Summary::default(),
                }
            }
            Run::Inline(shared, ticker) => {
                inline::stop(ticker.take());
                inline::lock(shared).finish(closing)
            }
        }
    }
}

/// A pipeline dropped without `finish` or `abort` (an error path) still ends its ticker.
impl Drop for Pipeline {
    fn drop(&mut self) {
        if let Run::Inline(_, ticker) = &mut self.run {
            inline::stop(ticker.take());
        }
    }
}

/// How often an idle live pipeline looks at records held for their FastCGI leg.
const HOLD_TICK: std::time::Duration = std::time::Duration::from_millis(500);

fn write_loop(
    rx: Receiver<Msg>,
    queued: Arc<AtomicUsize>,
    out: Box<dyn Write + Send>,
    settings: Settings,
) -> Summary {
    let sink = Lines::start(out, settings.offline.is_some());
    let mut st = State::new(settings);
    let mut status_at = std::time::Instant::now();
    let mut idle = 0;
    // The closing lines for stderr, written after the output.
    let mut closing = Vec::new();
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
            Err(mpsc::TryRecvError::Empty) if st.settings.status_line => {
                match rx.recv_timeout(STATUS_EVERY) {
                    Ok(m) => m,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        st.status(&sink, &mut status_at);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            // A live trace with records held for their FastCGI leg: wake to let them out
            // when no event comes (an idle server, a kept-alive backend connection).
            Err(mpsc::TryRecvError::Empty) if st.settings.offline.is_none() && st.holding() => {
                match rx.recv_timeout(HOLD_TICK) {
                    Ok(m) => m,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        st.tick(crate::event::now());
                        sink.push_all(&mut st.lines);
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
        if st.settings.status_line {
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
            Msg::Finish(c) => {
                closing = st.end(&sink, *c);
                break;
            }
        }
    }
    sink.push_all(&mut st.lines);
    sink.finish();
    for line in closing {
        crate::say!("{line}");
    }
    st.sum
}
