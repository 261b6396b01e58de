//! The seam every event source implements: the ptrace tracer (tracer/), the strace-log and
//! recorded-JSON replayers (analyze/). app.rs builds one from plain settings and drives it;
//! the pipeline behind the [`Hub`] never knows which it is. A new source (eBPF) implements
//! this and nothing in correlation, diagnosis or the printers changes.

use crate::error::Error;

use super::{Hub, SourceEnd};

/// How a source that runs the pipeline on its own thread lets the pipeline look at the clock
/// (release records held for their FastCGI leg, refresh the status line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InlineClock {
    /// The source hands a batch over at every poll, an empty one once it has caught up; its
    /// events may lag the clock in a backlog (eBPF: the kernel queues on a ring buffer), so
    /// the clock is looked at only on an empty hand-over.
    Polling,
    /// The source's events are never behind the clock (ptrace: every stop is handled as it
    /// comes), but its thread may block for as long as the traced processes are quiet: every
    /// hand-over made when it goes idle is caught up, and a ticker thread looks at the clock
    /// while it blocks.
    Blocking,
}

pub trait Source {
    /// Begin: attach, launch or open. Returns the PIDs being traced (for the start line)
    /// once everything is attached; on error nothing is left attached.
    fn start(&mut self, hub: &dyn Hub) -> Result<Vec<i32>, Error>;
    /// Run to the end (every tracee gone, a stop requested, the input read), sending events
    /// to sinks from `hub`.
    fn run(self: Box<Self>, hub: &dyn Hub) -> Result<SourceEnd, Error>;
    /// Whether the pipeline's work (correlation, diagnosis, formatting) runs on this
    /// source's thread, in its sinks, rather than on a writer thread, and how that thread
    /// keeps the pipeline's clock (see [`InlineClock`]). `None`: a writer thread.
    fn pipeline_inline(&self) -> Option<InlineClock> {
        None
    }
}
