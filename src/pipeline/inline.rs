//! The pipeline without its writer thread, for a source that never makes a traced process
//! wait (the eBPF backend: the kernel queues on a ring buffer that the source reads every
//! 20 ms). The source's own thread correlates, diagnoses and formats each batch as it hands
//! it over, under a lock the other holders (the start line, the end) rarely take. Why: an
//! event is then freed by the thread that allocated it, and no thread is woken per batch.
//! With a writer thread, the allocator's cross-thread frees and the writer's wake-ups and
//! preemptions on a busy 2-CPU machine were over a third of the writer's time (perf, the
//! eBPF backend on the benchmark's Apache). The output thread stays: writing to a slow
//! terminal or pipe must not hold the ring buffer up.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::event::{Event, EventSink};
use crate::output::Summary;
use crate::output::lines::{Kind, Lines};

use super::records::State;
use super::{Closing, HOLD_TICK, REPLAY_BATCH, Settings};

pub(super) struct Inline {
    st: State,
    /// None once finished or aborted.
    lines: Option<Lines>,
    status_at: Instant,
    ticked: Instant,
}

pub(super) type Shared = Arc<Mutex<Inline>>;

/// The lock, even if a holder panicked: the state is still the best there is to finish with.
pub(super) fn lock(shared: &Shared) -> MutexGuard<'_, Inline> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inline {
    pub fn start(out: Box<dyn std::io::Write + Send>, settings: Settings) -> Shared {
        let lines = Lines::start(out, settings.offline.is_some());
        Arc::new(Mutex::new(Inline {
            st: State::new(settings),
            lines: Some(lines),
            status_at: Instant::now(),
            ticked: Instant::now(),
        }))
    }

    /// Take a batch (emptied), then what the writer thread does between messages: the status
    /// line, held records let out, lines handed to the output thread.
    fn take(&mut self, batch: &mut Vec<Event>) {
        let Some(sink) = &self.lines else {
            batch.clear();
            return;
        };
        // An empty hand-over: the source has caught up (the writer thread ticks only after
        // a quiet spell too). Mid-backlog, the wall clock is ahead of the events, and records
        // held for their FastCGI leg would go out before the leg's events are read.
        let caught_up = batch.is_empty();
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
        if self.st.settings.status_line {
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
        sink.push_all(&mut self.st.lines);
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

/// A source's end of an inline pipeline: batches, then does the work itself. Never drops.
pub(super) struct InlineSink {
    pub shared: Shared,
    pub batch: Vec<Event>,
}

impl EventSink for InlineSink {
    fn send(&mut self, ev: Event) {
        self.batch.push(ev);
        if self.batch.len() >= REPLAY_BATCH {
            self.flush();
        }
    }

    /// Called by the source at least at each of its polls, even with nothing batched: the
    /// status line and held records are looked at then.
    fn flush(&mut self) {
        lock(&self.shared).take(&mut self.batch);
    }
}

impl Drop for InlineSink {
    fn drop(&mut self) {
        if !self.batch.is_empty() {
            self.flush();
        }
    }
}
