//! The pipeline without its writer thread, for a source with one thread: the eBPF backend
//! (the kernel queues on a ring buffer that the source reads every 20 ms) and a single ptrace
//! tracer thread (which hands its batch over when no stop is pending). The source's own
//! thread correlates, diagnoses and formats each batch as it hands it over, under a lock the
//! other holders (the start line, the ticker, the end) rarely take. Why: an event is then
//! freed by the thread that allocated it, and no thread is woken, preempted or switched per
//! batch. With a writer thread, the allocator's cross-thread frees and the writer's wake-ups
//! and preemptions on a busy 2-CPU machine were over a third of the writer's time under eBPF
//! and about half of it under ptrace (perf, the benchmark's Apache). The output thread
//! stays: writing to a slow terminal or pipe must not hold the source up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::event::source::InlineClock;
use crate::event::{Event, EventSink};
use crate::output::Summary;
use crate::output::lines::{Kind, Lines};
use crate::signals;

use super::records::State;
use super::{BATCH, BATCH_LINES, Closing, HOLD_TICK, REPLAY_BATCH, Settings};

/// Lines are handed to the output thread at most this often (or when BATCH_LINES wait): a
/// hand-over wakes that thread, and a tracer goes idle thousands of times a second.
const PUSH_EVERY: Duration = Duration::from_millis(25);
/// How often the ticker looks (lines waiting longer than PUSH_EVERY go out; the clock is
/// looked at after HOLD_TICK without a batch).
const TICK: Duration = Duration::from_millis(50);

pub(super) struct Inline {
    st: State,
    /// None once finished or aborted.
    lines: Option<Lines>,
    status_at: Instant,
    ticked: Instant,
    /// When a batch was last taken (the ticker looks at the clock only after a quiet spell).
    taken: Instant,
    /// When lines were last handed to the output thread.
    pushed: Instant,
    clock: InlineClock,
    /// A ticker thread runs: it writes the status line (outside the lock: a terminal that
    /// stalls, Ctrl-S or a stuck ssh session, then blocks the ticker and not a tracer that
    /// traced processes wait for) and hands over lines that waited.
    ticking: bool,
}

pub(super) type Shared = Arc<Mutex<Inline>>;

/// The thread that looks at the clock for a source that may block ([`InlineClock::Blocking`]):
/// held records go out and the status line is refreshed while the traced processes are quiet.
pub(super) struct Ticker {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

/// End the ticker (before the end's summary, so it cannot take a batch after it).
pub(super) fn stop(ticker: Option<Ticker>) {
    if let Some(t) = ticker {
        t.stop.store(true, Ordering::SeqCst);
        t.handle.thread().unpark();
        let _ = t.handle.join();
    }
}

/// The lock, even if a holder panicked: the state is still the best there is to finish with.
pub(super) fn lock(shared: &Shared) -> MutexGuard<'_, Inline> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inline {
    pub fn start(
        out: Box<dyn std::io::Write + Send>,
        settings: Settings,
        clock: InlineClock,
    ) -> (Shared, Option<Ticker>) {
        let lines = Lines::start(out, settings.offline.is_some());
        let shared = Arc::new(Mutex::new(Inline {
            st: State::new(settings),
            lines: Some(lines),
            status_at: Instant::now(),
            ticked: Instant::now(),
            taken: Instant::now(),
            pushed: Instant::now(),
            clock,
            ticking: false,
        }));
        let ticker = (clock == InlineClock::Blocking).then(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let (theirs, flag) = (shared.clone(), stop.clone());
            std::thread::Builder::new()
                .name("reqtrace-ticker".into())
                .spawn(move || {
                    // Not a thread for the signals meant to wake the tracers.
                    let _ = signals::stop_signals().thread_block();
                    tick_loop(&theirs, &flag)
                })
                .ok()
                .map(|handle| Ticker { stop, handle })
        });
        let ticker = ticker.flatten();
        lock(&shared).ticking = ticker.is_some();
        (shared, ticker)
    }

    /// Take a batch (emptied), then what the writer thread does between messages: the status
    /// line, held records let out, lines handed to the output thread. `caught_up`: every
    /// event up to now has been handed over, so the clock may be looked at. Mid-backlog
    /// (eBPF), the wall clock is ahead of the events, and records held for their FastCGI leg
    /// would go out before the leg's events are read.
    fn take(&mut self, batch: &mut Vec<Event>, caught_up: bool) {
        self.taken = Instant::now();
        let Some(sink) = &self.lines else {
            batch.clear();
            return;
        };
        let n = batch.len();
        // A bug in correlation or diagnosis must not end the trace (with the writer thread
        // it ended only that thread): the batch is lost, counted, said.
        let taken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for ev in batch.drain(..) {
                self.st.event(ev);
            }
        }));
        if taken.is_err() {
            batch.clear();
            crate::say!("reqtrace: internal error in the pipeline: a batch of {n} events lost");
            self.st.event(Event::Lost { count: n as u64 });
        }
        if self.st.settings.status_line && !self.ticking {
            self.st.status(sink, &mut self.status_at);
        }
        if caught_up
            && self.st.settings.offline.is_none()
            && self.st.holding()
            && self.ticked.elapsed() >= HOLD_TICK
        {
            self.ticked = Instant::now();
            self.st.tick(crate::event::now());
        }
        self.push();
    }

    /// Hand the lines to the output thread if they have waited PUSH_EVERY or fill a batch.
    fn push(&mut self) {
        let Some(sink) = &self.lines else {
            return;
        };
        if self.st.lines.is_empty() {
            return;
        }
        // A blocking source without its ticker (it could not be started) hands over at once:
        // nothing else would hand over lines left after a burst.
        let unticked = self.clock == InlineClock::Blocking && !self.ticking;
        if unticked || self.st.lines.len() >= BATCH_LINES || self.pushed.elapsed() >= PUSH_EVERY {
            sink.push_all(&mut self.st.lines);
            self.pushed = Instant::now();
        }
    }

    pub fn line(&mut self, s: String) {
        self.st.lines.push((Kind::Record, s));
    }

    pub fn abort(&mut self) {
        if let Some(sink) = self.lines.take() {
            sink.push_all(&mut self.st.lines);
            sink.finish();
        }
    }

    /// As the writer thread's `Finish`: requests still open finished, the summary written,
    /// the output flushed, the closing lines said on stderr.
    pub fn finish(&mut self, c: Closing) -> Summary {
        let Some(sink) = self.lines.take() else {
            return self.st.sum.clone();
        };
        let closing = self.st.end(&sink, c);
        sink.finish();
        for line in closing {
            crate::say!("{line}");
        }
        self.st.sum.clone()
    }
}

/// Lines that waited PUSH_EVERY go to the output thread, and once no batch came for
/// HOLD_TICK an empty one is taken now and then, so records held for their FastCGI leg go
/// out while the source blocks. The status line is written here, for a blocking source
/// always (never on its thread).
fn tick_loop(shared: &Shared, stop: &AtomicBool) {
    loop {
        std::thread::park_timeout(TICK);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let status = {
            let mut guard = lock(shared);
            let inline = &mut *guard;
            if inline.lines.is_none() {
                return;
            }
            if inline.taken.elapsed() >= HOLD_TICK {
                inline.take(&mut Vec::new(), true);
            } else {
                inline.push();
            }
            match &inline.lines {
                Some(sink) if inline.st.settings.status_line => {
                    inline.st.status_due(sink, &mut inline.status_at)
                }
                _ => None,
            }
        };
        // Written with the lock released: a stalled terminal holds only this thread.
        if let Some(line) = status {
            crate::stderr::raw(&line);
        }
    }
}

/// A source's end of an inline pipeline: batches, then does the work itself. Never drops.
pub(super) struct InlineSink {
    shared: Shared,
    batch: Vec<Event>,
    clock: InlineClock,
}

impl InlineSink {
    pub fn new(shared: &Shared) -> InlineSink {
        let clock = lock(shared).clock;
        InlineSink {
            shared: shared.clone(),
            batch: Vec::new(),
            clock,
        }
    }
}

impl EventSink for InlineSink {
    /// A full batch is taken at once (a blocking source in the middle of a round: the stops
    /// still pending wait for it, so the batch is kept smaller).
    fn send(&mut self, ev: Event) {
        self.batch.push(ev);
        let full = match self.clock {
            InlineClock::Polling => REPLAY_BATCH,
            InlineClock::Blocking => BATCH,
        };
        if self.batch.len() >= full {
            lock(&self.shared).take(&mut self.batch, false);
        }
    }

    /// Called by a polling source at each of its polls, even with nothing batched (an empty
    /// hand-over: it has caught up), and by a blocking one whenever it goes idle (caught up
    /// whatever it hands over): the status line and held records are looked at then.
    fn flush(&mut self) {
        let caught_up = self.batch.is_empty() || self.clock == InlineClock::Blocking;
        lock(&self.shared).take(&mut self.batch, caught_up);
    }
}

impl Drop for InlineSink {
    fn drop(&mut self) {
        if !self.batch.is_empty() {
            self.flush();
        }
    }
}
