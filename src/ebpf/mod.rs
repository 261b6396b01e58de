//! The eBPF backend (`attach --backend ebpf`, x86_64): a source that traces the same
//! processes as the ptrace tracer plans (tracer::source), without ever stopping them. A
//! kernel program (reqtrace.bpf.c, built by build.rs when clang is there) on the
//! raw_syscalls tracepoints records each traced call of the followed thread groups at its
//! exit, with its path strings and the first bytes of its buffer, on a ring buffer that is
//! read every 20 ms; decode.rs turns the records into the same events the ptrace source
//! emits. Forks, execs and exits are followed in the kernel. Dropping the loaded object
//! (or reqtrace dying) detaches everything: there is nothing to undo in the traced
//! processes.

pub mod decode;
#[cfg(not(reqtrace_no_ebpf))]
mod load;
pub mod record;

use std::time::{Duration, Instant};

use crate::error::Error;
use crate::event::{End, Event, EventSink, Hub, Source, SourceEnd, now};
use crate::procinfo;
use crate::signals;
use crate::tracer::TracerConfig;
use crate::tracer::source::Ptrace;

/// How often the ring buffer is read: the kernel program never wakes us (BPF_RB_NO_WAKEUP:
/// a wake-up per record tripled the cost in the experiment behind this design).
const POLL: Duration = Duration::from_millis(20);
/// How often user space checks that a followed process is left.
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

pub struct Ebpf {
    cfg: TracerConfig,
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
    #[cfg(reqtrace_no_ebpf)]
    fn start(&mut self, _hub: &dyn Hub) -> Result<Vec<i32>, Error> {
        Err(Error::Usage(NOT_BUILT.into()))
    }

    #[cfg(not(reqtrace_no_ebpf))]
    fn start(&mut self, hub: &dyn Hub) -> Result<Vec<i32>, Error> {
        let ours = procinfo::self_and_ancestors();
        for &(pid, fatal) in &self.planned {
            if fatal && procinfo::status(pid).is_none() {
                return Err(Error::NoSuchProcess(pid));
            }
        }
        let mut loaded = load::load(&self.cfg.select, self.cfg.follow)?;
        let mut pids: Vec<i32> = Vec::new();
        let mut add = |pid: i32, loaded: &mut load::Loaded| {
            if !ours.contains(&pid) && !pids.contains(&pid) && procinfo::status(pid).is_some() {
                loaded.follow(pid);
                pids.push(pid);
            }
        };
        for &(pid, _) in &self.planned {
            add(procinfo::tgid(pid).unwrap_or(pid), &mut loaded);
        }
        // Once the fork tracepoint is live: a child forked since the plan was made.
        if self.cfg.follow {
            for &(pid, _) in &self.planned {
                for d in procinfo::descendants(pid) {
                    add(d, &mut loaded);
                }
            }
        }
        let mut sink = hub.live_sink();
        let ts = now();
        for &pid in &pids {
            for tid in procinfo::threads(pid) {
                self.decoder.adopt(ts, pid, tid, sink.as_mut());
            }
        }
        sink.flush();
        self.sink = Some(sink);
        self.loaded = Some(loaded);
        Ok(pids)
    }

    #[cfg(reqtrace_no_ebpf)]
    fn run(self: Box<Self>, _hub: &dyn Hub) -> Result<SourceEnd, Error> {
        Err(Error::Usage(NOT_BUILT.into()))
    }

    #[cfg(not(reqtrace_no_ebpf))]
    fn run(self: Box<Self>, _hub: &dyn Hub) -> Result<SourceEnd, Error> {
        let Ebpf {
            mut decoder,
            sink,
            loaded,
            ..
        } = *self;
        let (Some(mut sink), Some(mut loaded)) = (sink, loaded) else {
            return Err(Error::Tracing("the eBPF source was not started".into()));
        };
        signals::register_tracer_thread();
        let mut reported = 0u64;
        let mut checked = Instant::now();
        let end = loop {
            let mut drain = |loaded: &mut load::Loaded, sink: &mut dyn EventSink| {
                while let Some(item) = loaded.events.next() {
                    if let Some(rec) = record::parse(&item) {
                        decoder.record(rec, sink);
                    }
                }
                let dropped = loaded.dropped();
                if dropped > reported {
                    sink.send(Event::Lost {
                        count: dropped - reported,
                    });
                    reported = dropped;
                }
                sink.flush();
            };
            drain(&mut loaded, sink.as_mut());
            let reason = signals::stop_reason();
            if reason != 0 {
                break signals::end_of(reason);
            }
            if checked.elapsed() >= ALIVE_CHECK {
                checked = Instant::now();
                if !loaded.any_followed() {
                    drain(&mut loaded, sink.as_mut());
                    break End::AllExited;
                }
            }
            std::thread::sleep(POLL);
        };
        // Detach: the links and maps go with the object.
        drop(loaded);
        Ok(SourceEnd {
            end,
            processes: decoder.processes_seen,
            threads: decoder.threads_seen,
            dropped: sink.dropped(),
            compat: 0,
            end_ts: None,
            unparsed: None,
            exit: None,
            late_error: None,
        })
    }
}
