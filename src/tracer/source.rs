//! The ptrace tracer as an event source: what to attach (the PIDs given, their existing
//! descendants, the processes found by name) or the command to launch, spread over tracer
//! threads; started and joined through the `Source` seam with plain settings from app.rs.

use crate::error::Error;
use crate::event::{End, Hub, Source, SourceEnd};
use crate::procinfo;
use crate::signals;

use super::pool::{self, Job, Pool};
use super::{Outcome, TracerConfig};

/// What to trace, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// PIDs named by the user: a failure to attach one is fatal.
    pub pids: Vec<i32>,
    /// Command names to find (--apache, --name): ones that vanish or are traced by others
    /// are warnings.
    pub names: Vec<String>,
}

/// The ptrace source.
pub struct Ptrace {
    cfg: TracerConfig,
    /// `None`: launch `argv`.
    targets: Option<Targets>,
    argv: Vec<String>,
    threads: usize,
    pool: Option<Pool>,
}

impl Ptrace {
    /// Attach to running processes: `targets` must name PIDs or find some by name (checked
    /// here, before anything is attached). `threads`: tracer threads wanted.
    pub fn attach(cfg: TracerConfig, targets: Targets, threads: usize) -> Result<Ptrace, Error> {
        if targets.pids.is_empty() && discovered(&targets).is_empty() {
            return Err(if targets.names.is_empty() {
                Error::Usage("give PIDs to attach to, or --apache, or --name COMM".into())
            } else {
                Error::Usage(format!(
                    "no running process named {}: is the server running? (pgrep -l {})",
                    targets.names.join(" or "),
                    targets.names[0]
                ))
            });
        }
        Ok(Ptrace {
            cfg,
            targets: Some(targets),
            argv: Vec::new(),
            threads,
            pool: None,
        })
    }

    /// Launch `argv` under trace (one process tree: one tracer thread).
    pub fn launch(cfg: TracerConfig, argv: Vec<String>) -> Ptrace {
        Ptrace {
            cfg,
            targets: None,
            argv,
            threads: 1,
            pool: None,
        }
    }
}

/// Processes found by name, without reqtrace itself, its ancestors and the PIDs given.
fn discovered(t: &Targets) -> Vec<i32> {
    let ours = procinfo::self_and_ancestors();
    procinfo::find_by_comm(&t.names)
        .into_iter()
        .filter(|p| !t.pids.contains(p) && !ours.contains(p))
        .collect()
}

/// What to attach: the PIDs given (a failure is fatal), then, when following forks, their
/// existing descendants (an Apache master's workers), then the processes found by name.
fn plan(t: &Targets, follow: bool) -> Vec<Job> {
    let mut pids = t.pids.clone();
    pids.sort_unstable();
    pids.dedup();
    let mut seen: std::collections::HashSet<i32> = pids.iter().copied().collect();
    let mut jobs: Vec<Job> = pids
        .iter()
        .map(|&pid| Job::Attach { pid, fatal: true })
        .collect();
    let mut others = Vec::new();
    if follow {
        for &pid in &pids {
            others.extend(procinfo::descendants(pid));
        }
    }
    others.extend(discovered(t));
    for pid in others {
        if seen.insert(pid) {
            jobs.push(Job::Attach { pid, fatal: false });
        }
    }
    jobs
}

impl Source for Ptrace {
    fn start(&mut self, hub: &dyn Hub) -> Result<Vec<i32>, Error> {
        let jobs = match &self.targets {
            None => vec![Job::Launch(self.argv.clone())],
            Some(t) => plan(t, self.cfg.follow),
        };
        let nthreads = self.threads.clamp(1, 64).min(jobs.len().max(1));
        let mut shares: Vec<Vec<Job>> = vec![Vec::new(); nthreads];
        for (i, job) in jobs.into_iter().enumerate() {
            shares[i % nthreads].push(job);
        }
        let follow = self.cfg.follow;
        let targets = self.targets.clone();
        let rescan = move || match &targets {
            Some(t) => {
                let mut v = Vec::new();
                if follow {
                    for &pid in &t.pids {
                        v.extend(procinfo::descendants(pid));
                    }
                }
                v.extend(procinfo::find_by_comm(&t.names));
                let ours = procinfo::self_and_ancestors();
                v.retain(|p| !ours.contains(p));
                v
            }
            None => Vec::new(),
        };
        let (pool, pids) = pool::start(shares, &self.cfg, hub, &rescan)?;
        self.pool = Some(pool);
        Ok(pids)
    }

    fn run(self: Box<Self>, _hub: &dyn Hub) -> Result<SourceEnd, Error> {
        let Some(pool) = self.pool else {
            return Err(Error::Tracing("the tracer was not started".into()));
        };
        let end = pool.join();
        // A failure still ends with what was counted: the summary is written, then the error.
        let (end_reason, exit, late_error) = match end.outcome {
            Ok(Outcome::Detached(r)) => (signals::end_of(r), None, None),
            Ok(Outcome::AllGone(exit)) => (End::AllExited, exit, None),
            Err(e) => (
                End::TracingFailed,
                None,
                Some(Error::Tracing(format!("waiting for tracees failed: {e}"))),
            ),
        };
        Ok(SourceEnd {
            end: end_reason,
            processes: end.processes,
            threads: end.threads,
            dropped: end.dropped,
            compat: end.compat,
            end_ts: None,
            unparsed: None,
            exit,
            late_error,
        })
    }
}
