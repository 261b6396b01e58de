//! The seam every event source implements: the ptrace tracer (tracer/), the strace-log and
//! recorded-JSON replayers (analyze/). app.rs builds one from plain settings and drives it;
//! the pipeline behind the [`Hub`] never knows which it is. A new source (eBPF) implements
//! this and nothing in correlation, diagnosis or the printers changes.

use crate::error::Error;

use super::{Hub, SourceEnd};

pub trait Source {
    /// Begin: attach, launch or open. Returns the PIDs being traced (for the start line)
    /// once everything is attached; on error nothing is left attached.
    fn start(&mut self, hub: &dyn Hub) -> Result<Vec<i32>, Error>;
    /// Run to the end (every tracee gone, a stop requested, the input read), sending events
    /// to sinks from `hub`.
    fn run(self: Box<Self>, hub: &dyn Hub) -> Result<SourceEnd, Error>;
    /// Whether the pipeline's work (correlation, diagnosis, formatting) may run on this
    /// source's thread, in its sinks, rather than on a writer thread: only for a source that
    /// never makes a traced process wait while it works.
    fn pipeline_inline(&self) -> bool {
        false
    }
}
