//! The eBPF backend (`attach --backend ebpf`, x86_64): a source that traces the same
//! processes as the ptrace tracer plans (tracer::source), without ever stopping them. A
//! kernel program (reqtrace.bpf.c, built by build.rs when clang is there) on the
//! sys_exit raw tracepoint records each traced call of the followed thread groups at its
//! exit, with its path strings and the first bytes of its buffer, on a ring buffer that is
//! read every 20 ms; decode.rs turns the records into the same events the ptrace source
//! emits. Forks, execs and exits are followed in the kernel. Dropping the loaded object
//! (or reqtrace dying) detaches everything: there is nothing to undo in the traced
//! processes.

pub mod decode;
#[cfg(not(reqtrace_no_ebpf))]
mod live;
/// Public for examples/ebpf_floor.rs, the benchmark's floor of this backend.
#[cfg(not(reqtrace_no_ebpf))]
pub mod load;
pub mod record;

use std::time::Duration;

use crate::error::Error;
use crate::event::{EventSink, Hub, Source, SourceEnd};
use crate::tracer::TracerConfig;
use crate::tracer::source::Ptrace;

/// How often the ring buffer is read: the kernel program never wakes us (BPF_RB_NO_WAKEUP:
/// a wake-up per record tripled the cost in the experiment behind this design).
#[cfg_attr(reqtrace_no_ebpf, allow(dead_code))]
const POLL: Duration = Duration::from_millis(20);
/// How often user space checks that a followed process is left.
#[cfg_attr(reqtrace_no_ebpf, allow(dead_code))]
const ALIVE_CHECK: Duration = Duration::from_millis(500);

/// What `--backend ebpf` says when this build has no kernel program.
pub const NOT_BUILT: &str = "--backend ebpf: this reqtrace was built without its eBPF \
    program (clang was not found when it was built, or the machine is not x86_64): install \
    clang and libbpf-dev (apt-get install clang libbpf-dev) and rebuild (cargo build), or use \
    --backend ptrace";

/// Whether this build carries the kernel program.
pub const fn available() -> bool {
    cfg!(not(reqtrace_no_ebpf))
}

#[cfg_attr(reqtrace_no_ebpf, allow(dead_code))]
pub struct Ebpf {
    pub(crate) cfg: TracerConfig,
    /// What to follow, as the ptrace source plans it; with each, whether it must exist.
    planned: Vec<(i32, bool)>,
    decoder: decode::Decoder,
    sink: Option<Box<dyn EventSink + Send>>,
    #[cfg(not(reqtrace_no_ebpf))]
    loaded: Option<load::Loaded>,
}

impl Ebpf {
    /// Trace what `plan` (an attach resolved by the ptrace source: PIDs, names, probes,
    /// FastCGI backends) would trace.
    pub fn attach(plan: &Ptrace) -> Result<Ebpf, Error> {
        if !available() {
            return Err(Error::Usage(NOT_BUILT.into()));
        }
        let cfg = plan.config().clone();
        Ok(Ebpf {
            decoder: decode::Decoder::new(cfg.clone()),
            cfg,
            planned: plan.planned(),
            sink: None,
            #[cfg(not(reqtrace_no_ebpf))]
            loaded: None,
        })
    }
}

impl Source for Ebpf {
    fn start(&mut self, hub: &dyn Hub) -> Result<Vec<i32>, Error> {
        #[cfg(not(reqtrace_no_ebpf))]
        return live::start(self, hub);
        #[cfg(reqtrace_no_ebpf)]
        {
            let _ = hub;
            Err(Error::Usage(NOT_BUILT.into()))
        }
    }

    /// Nothing waits on this source (the kernel queues on the ring buffer, and counts what
    /// does not fit), so its thread does the pipeline's work itself.
    fn pipeline_inline(&self) -> Option<crate::event::source::InlineClock> {
        Some(crate::event::source::InlineClock::Polling)
    }

    fn run(self: Box<Self>, _hub: &dyn Hub) -> Result<SourceEnd, Error> {
        #[cfg(not(reqtrace_no_ebpf))]
        return live::run(self);
        #[cfg(reqtrace_no_ebpf)]
        Err(Error::Usage(NOT_BUILT.into()))
    }
}
