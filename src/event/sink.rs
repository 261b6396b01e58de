//! How a source hands its events over, and what it says when it ends. A live source gets a
//! sink that never blocks (a full queue drops and counts: the traced server must not wait
//! for a slow reader); a replay gets one that waits (nothing is lost reading a file). The
//! pipeline implements [`Hub`]; sources see only these traits.

use super::{End, Event, ExitKind};

/// Where a source's events go.
pub trait EventSink {
    fn send(&mut self, ev: Event);
    /// Hand over whatever is batched: called before a live source blocks waiting for more.
    fn flush(&mut self) {}
    /// Events dropped so far because the pipeline was behind (and not yet reported to it as
    /// an `Event::Lost`).
    fn dropped(&self) -> u64 {
        0
    }
}

/// What a source gets its sinks from.
pub trait Hub: Sync {
    /// A sink for a live source (one per tracer thread): never blocks, drops when behind.
    fn live_sink(&self) -> Box<dyn EventSink + Send>;
    /// A sink for a replay: waits for the pipeline instead of dropping.
    fn replay_sink(&self) -> Box<dyn EventSink + Send>;
}

/// How a source ended, for the summary and the exit code.
#[derive(Debug)]
pub struct SourceEnd {
    pub end: End,
    /// Distinct processes and threads seen.
    pub processes: u64,
    pub threads: u64,
    /// Events dropped and never reported to the pipeline.
    pub dropped: u64,
    /// Syscalls made through a non-native (32-bit) ABI: seen, not decoded (`Event::Compat`).
    pub compat: u64,
    /// When the trace ended (requests still open are finished then); now when `None`.
    pub end_ts: Option<f64>,
    /// Lines of a log or recording that could not be parsed.
    pub unparsed: Option<u64>,
    /// How the launched command ended (`run`).
    pub exit: Option<ExitKind>,
    /// An error to report once the summary is written (an input in which nothing was
    /// recognised).
    pub late_error: Option<crate::error::Error>,
}
