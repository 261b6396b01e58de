//! Tracer threads. ptrace requests must come from the thread that attached a tracee, and
//! waitpid with __WNOTHREAD only sees that thread's tracees, so each thread owns the processes
//! it attached and every child they fork later. The processes to attach are spread over the
//! threads round-robin; each thread attaches its share, reports, waits for the go (or the
//! abort, when another thread's attach failed fatally), then runs its own trace loop. Each
//! thread has its own sink from the hub; all feed one pipeline.

use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::error::Error;
use crate::event::{ExitKind, Hub};
use crate::procinfo;
use crate::signals;
use crate::syscalls::table::Catalogue;

use super::{Outcome, Tracer, TracerConfig, attach};

/// Something for a tracer thread to trace.
#[derive(Debug, Clone)]
pub enum Job {
    /// Attach to a process and its threads; `fatal`: a failure aborts everything (a PID the
    /// user named), otherwise it is a warning (discovered by name, or an existing child).
    Attach { pid: i32, fatal: bool },
    /// Launch this command under trace.
    Launch(Vec<String>),
}

/// What the main thread tells a tracer thread after its first attach.
enum Order {
    /// Attach these too (born while we attached), then report again.
    Attach(Vec<Job>),
    /// Start tracing.
    Go,
    /// Another thread failed fatally: detach and end.
    Abort,
}

/// How one tracer thread ended.
struct ThreadEnd {
    outcome: io::Result<Outcome>,
    processes: u64,
    threads: u64,
    dropped: u64,
    compat: u64,
}

/// What the attach phase of one thread produced.
struct Attached {
    pids: Vec<i32>,
    fatal: Option<Error>,
    warnings: Vec<Error>,
}

/// Running tracer threads.
pub struct Pool {
    handles: Vec<JoinHandle<ThreadEnd>>,
}

/// What all threads together did.
pub struct PoolEnd {
    pub outcome: io::Result<Outcome>,
    pub processes: u64,
    pub threads: u64,
    pub dropped: u64,
    /// Syscalls through a non-native (32-bit) ABI, not decoded.
    pub compat: u64,
}

/// Spawn `shares.len()` tracer threads, each attaching its share of jobs. Returns once every
/// thread has attached: the pool (running) and the PIDs attached or launched, or the first
/// fatal error (every thread has then detached and exited).
///
/// `rescan` lists the processes that should be traced now (the given PIDs' descendants, the
/// processes found by name). A process forked after that list was made but before its parent
/// was seized is neither in the list nor followed; once every process is attached (and so
/// stopped: attached tracees wait for the go), a new list finds it, and it is attached too.
pub fn start(
    shares: Vec<Vec<Job>>,
    cfg: &TracerConfig,
    hub: &dyn Hub,
    rescan: &dyn Fn() -> Vec<i32>,
) -> Result<(Pool, Vec<i32>), Error> {
    let (report_tx, report_rx) = mpsc::channel::<Attached>();
    let mut go_txs = Vec::new();
    let mut handles = Vec::new();
    for share in shares {
        let (go_tx, go_rx) = mpsc::channel::<Order>();
        go_txs.push(go_tx);
        let report_tx = report_tx.clone();
        let cfg = cfg.clone();
        let mut sink = hub.live_sink();
        let handle = std::thread::Builder::new()
            .name("reqtrace-tracer".into())
            .spawn(move || {
                signals::register_tracer_thread();
                let cat = Catalogue::new();
                let mut end = {
                    let mut tracer = Tracer::new(cfg, &cat, &mut *sink);
                    let attached = attach_share(&mut tracer, &share);
                    let _ = report_tx.send(attached);
                    let mut go = false;
                    while let Ok(order) = go_rx.recv() {
                        match order {
                            Order::Attach(more) => {
                                let _ = report_tx.send(attach_share(&mut tracer, &more));
                            }
                            Order::Go => {
                                go = true;
                                break;
                            }
                            Order::Abort => break,
                        }
                    }
                    if go {
                        let outcome = tracer.run();
                        ThreadEnd {
                            outcome,
                            processes: tracer.processes_seen,
                            threads: tracer.threads_seen,
                            dropped: 0,
                            compat: tracer.compat_calls(),
                        }
                    } else {
                        tracer.detach_all();
                        ThreadEnd {
                            outcome: Ok(Outcome::Detached(0)),
                            processes: 0,
                            threads: 0,
                            dropped: 0,
                            compat: 0,
                        }
                    }
                };
                sink.flush();
                end.dropped = sink.dropped();
                end
            })
            .map_err(|e| Error::Sys(format!("cannot start a tracer thread: {e}")))?;
        handles.push(handle);
    }
    drop(report_tx);
    let mut pids = Vec::new();
    let mut fatal = None;
    let mut warnings = Vec::new();
    for _ in 0..handles.len() {
        let Ok(a) = report_rx.recv() else { break };
        pids.extend(a.pids);
        warnings.extend(a.warnings);
        if fatal.is_none() {
            fatal = a.fatal;
        }
    }
    // Processes born while we attached: attach them now (round-robin), until none is new.
    for _ in 0..5 {
        if fatal.is_some() {
            break;
        }
        let new: Vec<i32> = rescan()
            .into_iter()
            .filter(|p| !pids.contains(p))
            .filter(|&p| procinfo::status(p).is_some_and(|s| s.tracer_pid == 0))
            .collect();
        if new.is_empty() {
            break;
        }
        let mut shares: Vec<Vec<Job>> = vec![Vec::new(); go_txs.len()];
        for (i, pid) in new.into_iter().enumerate() {
            shares[i % go_txs.len()].push(Job::Attach { pid, fatal: false });
        }
        let mut asked = 0;
        for (tx, share) in go_txs.iter().zip(shares) {
            if !share.is_empty() && tx.send(Order::Attach(share)).is_ok() {
                asked += 1;
            }
        }
        for _ in 0..asked {
            let Ok(a) = report_rx.recv() else { break };
            pids.extend(a.pids);
            warnings.extend(a.warnings);
        }
    }
    if fatal.is_none() && pids.is_empty() {
        fatal = Some(
            warnings
                .drain(..)
                .next()
                .unwrap_or_else(|| Error::Usage("nothing to trace: no process attached".into())),
        );
    }
    for w in &warnings {
        crate::say!("reqtrace: warning: {w}");
    }
    for tx in &go_txs {
        let _ = tx.send(if fatal.is_none() {
            Order::Go
        } else {
            Order::Abort
        });
    }
    let pool = Pool { handles };
    match fatal {
        Some(e) => {
            pool.join();
            Err(e)
        }
        None => {
            pids.sort_unstable();
            pids.dedup();
            Ok((pool, pids))
        }
    }
}

fn attach_share(tracer: &mut Tracer, share: &[Job]) -> Attached {
    let mut out = Attached {
        pids: Vec::new(),
        fatal: None,
        warnings: Vec::new(),
    };
    for job in share {
        match job {
            Job::Launch(argv) => match attach::launch(tracer, argv) {
                Ok(pid) => out.pids.push(pid),
                Err(e) => {
                    out.fatal = Some(e);
                    return out;
                }
            },
            Job::Attach { pid, fatal } => {
                // Forked by a process this thread attached a moment ago: followed already.
                if tracer.is_traced(*pid) {
                    out.pids.push(*pid);
                    continue;
                }
                match attach::attach_process(tracer, *pid) {
                    Ok(()) => out.pids.push(*pid),
                    Err(e) if *fatal => {
                        out.fatal = Some(e);
                        return out;
                    }
                    Err(Error::NoSuchProcess(_)) => {}
                    Err(e) => out.warnings.push(e),
                }
            }
        }
    }
    out
}

impl Pool {
    /// Wait for every thread; merge how they ended. A requested stop wins over "all gone";
    /// the launched command's exit status is kept.
    pub fn join(self) -> PoolEnd {
        let mut end = PoolEnd {
            outcome: Ok(Outcome::AllGone(None)),
            processes: 0,
            threads: 0,
            dropped: 0,
            compat: 0,
        };
        let mut main_exit: Option<ExitKind> = None;
        let mut detached = None;
        for h in self.handles {
            let Ok(t) = h.join() else {
                end.outcome = Err(io::Error::other("a tracer thread panicked"));
                continue;
            };
            end.processes += t.processes;
            end.threads += t.threads;
            end.dropped += t.dropped;
            end.compat += t.compat;
            match t.outcome {
                Ok(Outcome::Detached(r)) => {
                    detached.get_or_insert(r);
                }
                Ok(Outcome::AllGone(exit)) => {
                    if exit.is_some() {
                        main_exit = exit;
                    }
                }
                Err(e) => end.outcome = Err(e),
            }
        }
        if end.outcome.is_ok() {
            end.outcome = Ok(match detached {
                Some(r) => Outcome::Detached(r),
                None => Outcome::AllGone(main_exit),
            });
        }
        end
    }
}
