//! The ptrace engine: one loop that waits for stops of every traced thread, classifies each
//! (syscall entry/exit, fork/clone/exec event, group-stop, signal delivery, exit), decodes the
//! syscalls that were asked for, and hands `Event`s to a sink. It knows nothing of HTTP,
//! colours or JSON. It never leaves a tracee stopped: every stop of a round (the stops pending
//! together) is resumed at the round's end, before the next round's wait; signals are passed
//! on unchanged, and `detach_all` lets everything go.

pub mod attach;
pub mod decode;
pub mod memory;
pub mod pool;
pub mod seccomp;
pub mod source;
pub mod state;
pub mod sys;

use std::io;
use std::time::{Duration, Instant};

use crate::arch;
use crate::event::fds::{IntMap, Table};
use crate::event::select::{Select, Selection};
use crate::event::{Event, EventSink, ExitKind, now};
use crate::signals;
use crate::syscalls::table::Catalogue;

use memory::MemReader;
use state::Tracee;
use sys::Stop;

/// Most stops served in one round (a bound, not a target: a round ends when none is pending).
const MAX_ROUND: usize = 1024;
/// How long a command under our seccomp filter has to exit after SIGTERM, when a stop is
/// requested, before SIGKILL; then how long its exit reports are awaited.
const TERM_GRACE: Duration = Duration::from_secs(3);
const KILL_WAIT: Duration = Duration::from_secs(3);

/// What the tracer was told to do.
#[derive(Debug, Clone)]
pub struct TracerConfig {
    pub follow: bool,
    /// What to stop on and what to print (`--trace`, `--failed`).
    pub select: Selection,
    /// Feed the HTTP correlator: emit file and socket events even when not printed, and keep
    /// the first bytes of socket I/O.
    pub correlate: bool,
    /// Launch mode: install a seccomp-bpf filter in the command so only traced syscalls stop
    /// (only when following forks: a child carrying it untraced would get ENOSYS).
    pub seccomp: bool,
    /// Launch mode: the command's stdout is our stderr (the trace has our stdout to itself).
    pub stdout_to_stderr: bool,
}

/// How the trace loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every tracee exited; for `run`, how the launched command ended.
    AllGone(Option<ExitKind>),
    /// Asked to stop (a signal number or a `signals::REASON_*`); everything was detached.
    Detached(i32),
}

/// Send a resume. ESRCH: the tracee was killed meanwhile; its exit status comes with a wait.
fn send(r: &Resume) {
    let _ = if r.to_next_syscall {
        sys::syscall(r.tid, r.sig)
    } else {
        sys::cont(r.tid, r.sig)
    };
}

/// A stopped tracee's queued resume.
struct Resume {
    tid: i32,
    /// The signal to deliver (0 for none).
    sig: i32,
    /// PTRACE_SYSCALL (stop at the next syscall) rather than PTRACE_CONT (run until the
    /// seccomp filter stops a traced call).
    to_next_syscall: bool,
}

pub struct Tracer<'a> {
    cfg: TracerConfig,
    cat: &'a Catalogue,
    tracees: IntMap<Tracee>,
    procs: Table,
    mem: MemReader,
    sink: &'a mut dyn EventSink,
    /// The launched command (run mode), whose exit status becomes ours.
    main_child: Option<i32>,
    main_exit: Option<ExitKind>,
    /// The launched command carries our seccomp filter: resume with PTRACE_CONT between
    /// traced syscalls (their entries arrive as PTRACE_EVENT_SECCOMP stops).
    seccomp: bool,
    /// When the stop request arrived while the command depends on our seccomp filter
    /// (SIGTERM sent), and when SIGKILL followed.
    terminating: Option<Instant>,
    killed: Option<Instant>,
    /// The stops gathered in one round (kept to reuse its allocation).
    stops: Vec<(i32, Stop)>,
    /// The resumes of one round, sent together once every stop of the round is read (kept
    /// to reuse its allocation). See `run` and `resume`.
    resumes: Vec<Resume>,
    /// Distinct thread groups and threads ever traced.
    pub processes_seen: u64,
    pub threads_seen: u64,
    /// Per process, its syscalls through a non-native (32-bit) ABI, which are not decoded.
    compat: IntMap<u64>,
}

impl<'a> Tracer<'a> {
    pub fn new(cfg: TracerConfig, cat: &'a Catalogue, sink: &'a mut dyn EventSink) -> Self {
        Tracer {
            cfg,
            cat,
            tracees: IntMap::default(),
            procs: Table::default(),
            mem: MemReader::new(),
            sink,
            main_child: None,
            main_exit: None,
            processes_seen: 0,
            threads_seen: 0,
            compat: IntMap::default(),
            seccomp: false,
            terminating: None,
            killed: None,
            stops: Vec::new(),
            resumes: Vec::new(),
        }
    }

    /// ptrace options for every tracee. No PTRACE_O_EXITKILL when attaching: a traced server
    /// must outlive us. Under our seccomp filter (`run`) it is set, as strace's --seccomp-bpf
    /// implies --kill-on-exit: if reqtrace dies (SIGKILL, a crash), the kernel kills the
    /// command rather than leave it with the filter and no tracer, where its traced calls
    /// (file calls, the reads and writes the correlator watches) would fail with ENOSYS.
    /// The SIGKILL is sent before the detach, so not one of those calls returns to it.
    /// Children inherit the options with the auto-attach.
    pub fn options(&self) -> i32 {
        let mut o = libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_TRACEEXEC;
        if self.cfg.follow {
            o |= libc::PTRACE_O_TRACEFORK | libc::PTRACE_O_TRACEVFORK | libc::PTRACE_O_TRACECLONE;
        }
        if self.seccomp {
            o |= libc::PTRACE_O_TRACESECCOMP | libc::PTRACE_O_EXITKILL;
        }
        o
    }

    /// Register a thread we seized ourselves (attach or launch).
    pub fn add_seized(&mut self, tid: i32, tgid: i32) {
        self.adopt(tid, tgid, None);
    }

    pub fn set_main_child(&mut self, pid: i32) {
        self.main_child = Some(pid);
    }

    pub fn is_traced(&self, tid: i32) -> bool {
        self.tracees.contains_key(&tid)
    }

    /// The trace loop: runs until every tracee is gone or a stop is requested.
    pub fn run(&mut self) -> io::Result<Outcome> {
        loop {
            let reason = signals::stop_reason();
            if reason != 0 {
                if !self.seccomp || self.tracees.is_empty() {
                    self.detach_all();
                    return Ok(Outcome::Detached(reason));
                }
                if let Some(out) = self.end_filtered(reason) {
                    return Ok(out);
                }
            }
            if self.tracees.is_empty() {
                return Ok(self.ended());
            }
            // Gather every stop that is pending, then serve them all. waitpid returns the
            // first stopped child in the kernel's list, so serving one stop per wait lets
            // the tracees at its head run again and again while the others wait: some
            // requests took a second. Each stopped tracee is returned once (it stays stopped
            // until resumed), so a round serves each at most once: fair, as strace does.
            self.stops.clear();
            let mut waited = Ok(());
            while self.stops.len() < MAX_ROUND {
                match sys::wait_any(true) {
                    Ok(Some(stop)) => self.stops.push(stop),
                    Ok(None) => break,
                    Err(e) => {
                        waited = Err(e);
                        break;
                    }
                }
            }
            if self.stops.is_empty() && waited.is_ok() {
                // Nothing pending: hand the batch over (with one tracer thread the pipeline's
                // work is done here and now, in the time the tracer would otherwise sleep;
                // with several, a writer thread takes it), then block. Under load that batches
                // events; when idle, they go out at once.
                self.sink.flush();
                match sys::wait_any(false) {
                    Ok(Some(stop)) => self.stops.push(stop),
                    Ok(None) => {}
                    Err(e) => waited = Err(e),
                }
            }
            // Read every stop of the round first, then let them all run. Resuming each as
            // soon as it was read woke it while the others were still to be read: on a
            // loaded server (the tracer the bottleneck, several tracees stopped at once) the
            // woken tracee could take the tracer's CPU before the next read, and each wake-up
            // crossed CPUs alone. Sent together, the wake-ups come back to back. Measured
            // +3-10% requests a second in paired rounds (docs/performance.md, "Resumes sent
            // together").
            let round = std::mem::take(&mut self.stops);
            for &(tid, stop) in &round {
                self.handle(tid, stop);
            }
            self.stops = round;
            self.send_resumes();
            match waited {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                    return Ok(self.ended());
                }
                Err(e) => {
                    self.detach_all();
                    return Err(e);
                }
            }
        }
    }

    /// A stop was requested while the traced processes carry our seccomp filter. They
    /// cannot run on without us (their traced calls would fail with ENOSYS), so they are
    /// ended rather than detached, and traced to their end: SIGTERM to each, SIGKILL to what
    /// is left after TERM_GRACE, each step said once on stderr. Called at every turn of the
    /// loop while the stop is pending (the stop's alarm wakes it at least once a second);
    /// `Some` when the loop must end now.
    fn end_filtered(&mut self, reason: i32) -> Option<Outcome> {
        let Some(since) = self.terminating else {
            self.terminating = Some(Instant::now());
            let n = self.signal_all(libc::SIGTERM);
            crate::say!(
                "reqtrace: stopping: SIGTERM sent to the command ({n} process(es)): under \
                 reqtrace's seccomp filter it cannot run on untraced (--no-seccomp detaches \
                 instead); SIGKILL in {} s if it is still running",
                TERM_GRACE.as_secs()
            );
            return None;
        };
        match self.killed {
            None if since.elapsed() >= TERM_GRACE => {
                self.killed = Some(Instant::now());
                let n = self.signal_all(libc::SIGKILL);
                crate::say!(
                    "reqtrace: {n} process(es) still running {} s after SIGTERM: SIGKILL sent",
                    TERM_GRACE.as_secs()
                );
                None
            }
            // Killed, yet not all reported (one stuck in an uninterruptible sleep): let go.
            // SIGKILL is pending: it dies before it runs another instruction of its own.
            Some(at) if at.elapsed() >= KILL_WAIT => {
                self.detach_all();
                Some(Outcome::Detached(reason))
            }
            _ => None,
        }
    }

    /// Send `sig` to every traced process; how many there were.
    fn signal_all(&self, sig: i32) -> usize {
        let mut tgids: Vec<i32> = self.tracees.values().map(|t| t.tgid).collect();
        tgids.sort_unstable();
        tgids.dedup();
        for &pid in &tgids {
            // SAFETY: kill of a process we trace (launched by us, or forked by it).
            unsafe { libc::kill(pid, sig) };
        }
        tgids.len()
    }

    /// How the loop ends once nothing is left to trace: a requested stop (even if the
    /// command then exited, as it does under the seccomp filter, ended by us) wins over
    /// "all gone", which carries the launched command's status.
    fn ended(&self) -> Outcome {
        match signals::stop_reason() {
            0 => Outcome::AllGone(self.main_exit),
            reason => Outcome::Detached(reason),
        }
    }

    /// Resume a stopped tracee, delivering `sig` (0 for none): queued for `send_resumes` at
    /// the round's end, except a thread-group leader with other traced threads, resumed now.
    /// Why the exception: one of those threads may exec meanwhile, which kills the leader
    /// even though it is stopped and gives its tid to the exec'ing thread, stopped at its
    /// exec event and not yet waited for. A resume queued for the leader would then resume
    /// that thread instead, and its exec would never be reported. A non-leader's tid is
    /// never taken over.
    fn resume(&mut self, tid: i32, sig: i32) {
        let (in_syscall, leader) = self
            .tracees
            .get(&tid)
            .map_or((false, false), |t| (t.pending.is_some(), t.tgid == tid));
        let r = Resume {
            tid,
            sig,
            // Under the seccomp filter, run freely unless a traced syscall awaits its exit.
            to_next_syscall: !self.seccomp || in_syscall,
        };
        if leader && self.procs.threads(tid) > 1 {
            send(&r);
        } else {
            self.resumes.push(r);
        }
    }

    /// Send the round's queued resumes.
    fn send_resumes(&mut self) {
        for r in self.resumes.drain(..) {
            send(&r);
        }
    }

    /// Drop a queued resume of `tid`: the thread is gone, or its tid now names another
    /// thread (a non-leader's exec took the leader's tid; `resume` queues nothing for a
    /// leader with other threads, so this is a guard).
    fn unqueue(&mut self, tid: i32) {
        self.resumes.retain(|r| r.tid != tid);
    }

    fn handle(&mut self, tid: i32, stop: Stop) {
        if !self.tracees.contains_key(&tid) {
            match stop {
                Stop::Exited(c) => return self.note_main_exit(tid, ExitKind::Code(c)),
                Stop::Signaled(s) => return self.note_main_exit(tid, ExitKind::Signal(s)),
                // A new child whose first stop came before its parent's fork event. A new
                // process names its parent in /proc (the correlator gives a process forked
                // while its parent serves a request that request); a new thread does not
                // name the thread that cloned it.
                _ => {
                    let st = crate::procinfo::status(tid);
                    let tgid = st.as_ref().map_or(tid, |s| s.tgid);
                    let parent = st
                        .map(|s| s.ppid)
                        .filter(|p| tgid == tid && self.tracees.contains_key(p));
                    self.adopt(tid, tgid, parent);
                }
            }
        }
        match stop {
            Stop::Exited(c) => self.gone(tid, ExitKind::Code(c)),
            Stop::Signaled(s) => self.gone(tid, ExitKind::Signal(s)),
            Stop::Syscall => {
                self.on_syscall(tid);
                self.resume(tid, 0);
            }
            Stop::Event(ev, sig) => match ev {
                sys::PTRACE_EVENT_FORK | sys::PTRACE_EVENT_VFORK | sys::PTRACE_EVENT_CLONE => {
                    if let Ok(child) = sys::geteventmsg(tid) {
                        self.on_child(tid, child as i32, ev);
                    }
                    self.resume(tid, 0);
                }
                // A traced syscall's entry under the seccomp filter.
                libc::PTRACE_EVENT_SECCOMP => {
                    self.on_syscall(tid);
                    self.resume(tid, 0);
                }
                sys::PTRACE_EVENT_EXEC => {
                    let former = sys::geteventmsg(tid).map(|m| m as i32).unwrap_or(tid);
                    self.on_exec(tid, former);
                    self.resume(tid, 0);
                }
                sys::PTRACE_EVENT_STOP if sys::is_group_stop_signal(sig) => {
                    // A group-stop (SIGSTOP/SIGTSTP...): let it stay stopped, as it would
                    // untraced, but keep being told when SIGCONT arrives.
                    if let Some(t) = self.tracees.get_mut(&tid) {
                        t.group_stopped = true;
                    }
                    // Not queued: the tracee stays stopped, nothing runs that could wait.
                    let _ = sys::listen(tid);
                }
                _ => {
                    // PTRACE_EVENT_STOP from our PTRACE_INTERRUPT, a new child's first stop,
                    // or the end of a group-stop.
                    if let Some(t) = self.tracees.get_mut(&tid) {
                        t.group_stopped = false;
                    }
                    self.resume(tid, 0);
                }
            },
            // Signal-delivery stop: pass the signal on unchanged.
            Stop::Signal(sig) => self.resume(tid, sig),
        }
    }

    fn note_main_exit(&mut self, pid: i32, how: ExitKind) {
        if self.main_child == Some(pid) {
            self.main_exit = Some(how);
        }
    }

    fn adopt(&mut self, tid: i32, tgid: i32, parent: Option<i32>) {
        let parent_tgid = parent.and_then(|p| self.tracees.get(&p)).map(|t| t.tgid);
        if self.procs.thread_started(tgid, parent_tgid) {
            self.processes_seen += 1;
        }
        self.threads_seen += 1;
        self.tracees.insert(tid, Tracee::new(tgid));
        self.sink.send(Event::Started {
            ts: now(),
            pid: tgid,
            tid,
            parent,
        });
    }

    fn on_child(&mut self, parent: i32, child: i32, ev: i32) {
        if self.tracees.contains_key(&child) {
            return; // its own first stop was reported first
        }
        let tgid = if ev == sys::PTRACE_EVENT_CLONE {
            crate::procinfo::tgid(child).unwrap_or(child)
        } else {
            child
        };
        self.adopt(child, tgid, Some(parent));
    }

    fn gone(&mut self, tid: i32, how: ExitKind) {
        self.unqueue(tid);
        let Some(t) = self.tracees.remove(&tid) else {
            return;
        };
        self.mem.forget(tid);
        self.drop_thread(t.tgid);
        self.note_main_exit(tid, how);
        self.sink.send(Event::Exited {
            ts: now(),
            pid: t.tgid,
            tid,
            how,
        });
    }

    fn drop_thread(&mut self, tgid: i32) {
        self.procs.thread_gone(tgid);
    }

    fn on_exec(&mut self, tid: i32, former: i32) {
        // ptrace(2), "execve(2) under ptrace": a non-leader thread that execs takes the
        // leader's tid; the old tid vanishes without an exit report. Move its state.
        if former != tid {
            // The leader's stop, if one was read this round, was its last: it is gone.
            self.unqueue(tid);
        }
        if former != tid
            && let Some(t) = self.tracees.remove(&former)
            && let Some(old) = self.tracees.insert(tid, t)
        {
            self.drop_thread(old.tgid);
        }
        // A new address space: a /proc/TID/mem opened before reads the old one.
        self.mem.forget(tid);
        self.mem.forget(former);
        let Some(t) = self.tracees.get_mut(&tid) else {
            return;
        };
        t.forget_comm();
        let tgid = t.tgid;
        self.procs.get(tgid).forget_fds();
        self.sink.send(Event::Exec {
            ts: now(),
            pid: tgid,
            tid,
            former_tid: former,
        });
    }

    fn on_syscall(&mut self, tid: i32) {
        let Some(t) = self.tracees.get_mut(&tid) else {
            return;
        };
        // The exit of a syscall nobody asked for: nothing to read. The stop after a syscall
        // entry is always its exit (signal and event stops are not syscall stops), so the
        // kernel need not be asked which one this is.
        if std::mem::take(&mut t.in_ignored) {
            return;
        }
        let Ok(info) = sys::syscall_info(tid) else {
            return;
        };
        let seccomp_entry = matches!(info, sys::SyscallInfo::Seccomp { .. });
        match info {
            sys::SyscallInfo::Entry { arch, nr, args }
            | sys::SyscallInfo::Seccomp { arch, nr, args } => {
                t.pending = None;
                // A 32-bit (compat) call: another numbering and other layouts, not decoded,
                // but never silently missing: counted, and said once per process.
                if arch != arch::AUDIT_ARCH {
                    // Without the filter its exit stop still comes: skip it unasked.
                    t.in_ignored = !seccomp_entry;
                    let tgid = t.tgid;
                    let comm = t.comm(tid);
                    self.on_compat(tgid, tid, comm);
                    return;
                }
                let select = self.cfg.select.get(nr);
                if select == Select::Ignore {
                    t.in_ignored = true;
                    return;
                }
                let Some(spec) = self.cat.get(nr) else {
                    return;
                };
                let tgid = t.tgid;
                let proc_ = self.procs.get(tgid);
                let call = decode::Call {
                    nr,
                    spec,
                    raw: args,
                    print: matches!(select, Select::Print(_)),
                };
                let mut p = decode::entry(&mut self.mem, proc_, tgid, tid, call);
                p.print = p.print && self.cfg.select.printed(nr, p.stat_kind);
                // A call only the correlator needs, and whose result it does not (a write's
                // bytes are there at entry; close frees the fd whatever it returns), is
                // finished here: under the seccomp filter one stop instead of two, otherwise
                // no question to the kernel at its exit stop.
                if !p.print && decode::complete_at_entry(p.spec.name) {
                    let answered = self.cfg.correlate.then_some(&mut t.answered);
                    decode::entry_only(&mut self.mem, proc_, (tgid, tid), &mut p, answered);
                    // Without the filter the exit stop still comes: skip it unasked.
                    t.in_ignored = !seccomp_entry;
                    self.emit(tid, p, 0, None);
                    return;
                }
                t.pending = Some(Box::new(p));
            }
            sys::SyscallInfo::Exit { rval, is_error } => {
                let Some(mut p) = t.pending.take() else {
                    return;
                };
                let tgid = t.tgid;
                let proc_ = self.procs.get(tgid);
                let answered = self.cfg.correlate.then_some(&mut t.answered);
                decode::exit(&mut self.mem, proc_, (tgid, tid), &mut p, rval, answered);
                // is_error is the kernel's own IS_ERR_VALUE test: rval in [-4095, -1].
                let errno = is_error.then_some((-rval) as i32);
                self.emit(tid, *p, rval, errno);
            }
            sys::SyscallInfo::Other => {}
        }
    }

    /// A syscall through a non-native ABI: count it; the first of a process is announced.
    fn on_compat(&mut self, tgid: i32, tid: i32, comm: std::sync::Arc<str>) {
        let n = self.compat.entry(tgid).or_default();
        *n += 1;
        if *n == 1 {
            self.sink.send(Event::Compat {
                ts: now(),
                pid: tgid,
                tid,
                comm,
            });
        }
    }

    /// Syscalls made through a non-native (32-bit) ABI, in every process traced.
    pub fn compat_calls(&self) -> u64 {
        self.compat.values().sum()
    }

    /// Send a finished call to the sink when it is shown or the correlator needs it.
    fn emit(&mut self, tid: i32, p: state::Pending, rval: i64, errno: Option<i32>) {
        let Some(shown) = decode::wanted(&self.cfg, &p, errno) else {
            return;
        };
        let Some(t) = self.tracees.get_mut(&tid) else {
            return;
        };
        let ev = p.into_event(now(), (t.tgid, tid), t.comm(tid), (rval, errno), shown);
        self.sink.send(Event::Syscall(Box::new(ev)));
    }

    /// Let every tracee go: PTRACE_INTERRUPT each (they are all running: every stop is
    /// resumed at the end of its round), wait for each to stop, and PTRACE_DETACH it, delivering the signal
    /// of a signal-delivery stop so nothing is swallowed. A child forked meanwhile is traced
    /// already and is detached too. Bounded in time: if a tracee never reports, our own exit
    /// detaches it (the kernel detaches all tracees of an exiting tracer).
    pub fn detach_all(&mut self) {
        // Under our seccomp filter a detached process would get ENOSYS for every traced
        // call: it is killed instead. Only reached when it could not be ended gently
        // (`end_filtered`): a failed wait, an aborted start.
        if self.seccomp {
            self.signal_all(libc::SIGKILL);
        }
        // A stop already read but not yet resumed will not be reported again: detach it now
        // (its signal passed on). `run` sends each round's resumes before it can get here,
        // so this is a guard for a future caller.
        for r in std::mem::take(&mut self.resumes) {
            let _ = sys::detach(r.tid, r.sig);
            self.forget(r.tid);
        }
        for &tid in self.tracees.keys() {
            let _ = sys::interrupt(tid);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while !self.tracees.is_empty() && Instant::now() < deadline {
            let (tid, stop) = match sys::wait_any(true) {
                Ok(Some(x)) => x,
                Ok(None) => {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(_) => break,
            };
            match stop {
                Stop::Exited(c) => self.gone(tid, ExitKind::Code(c)),
                Stop::Signaled(s) => self.gone(tid, ExitKind::Signal(s)),
                Stop::Signal(sig) => {
                    let _ = sys::detach(tid, sig);
                    self.forget(tid);
                }
                Stop::Event(ev, _) => {
                    if matches!(
                        ev,
                        sys::PTRACE_EVENT_FORK | sys::PTRACE_EVENT_VFORK | sys::PTRACE_EVENT_CLONE
                    ) {
                        // The new child is attached already and will report; wait for it.
                        if let Ok(child) = sys::geteventmsg(tid) {
                            let child = child as i32;
                            if self.seccomp {
                                // SAFETY: kill of a process we trace (filtered, as above).
                                unsafe { libc::kill(child, libc::SIGKILL) };
                            }
                            self.tracees
                                .entry(child)
                                .or_insert_with(|| Tracee::new(child));
                        }
                    }
                    let _ = sys::detach(tid, 0);
                    self.forget(tid);
                }
                Stop::Syscall => {
                    let _ = sys::detach(tid, 0);
                    self.forget(tid);
                }
            }
        }
        // Whatever did not report in time: try once more; tracer exit covers the rest.
        for &tid in self.tracees.keys() {
            let _ = sys::detach(tid, 0);
        }
        self.tracees.clear();
        self.procs.clear();
    }

    fn forget(&mut self, tid: i32) {
        self.mem.forget(tid);
        if let Some(t) = self.tracees.remove(&tid) {
            self.drop_thread(t.tgid);
        }
    }
}
