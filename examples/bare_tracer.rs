//! Benchmark floor, not part of the product: the cheapest possible ptrace tracer that stops
//! where reqtrace stops. It attaches like reqtrace does and resumes every stop with
//! PTRACE_SYSCALL, decoding nothing, so `scripts/bench.sh` can tell what ptrace itself costs
//! (two stops per syscall, two context switches each) from what reqtrace adds on top.
//!
//! Usage: `bare_tracer [--duration SECS] PID...`
//!
//! Seizes every thread of each PID and of every existing descendant process, with
//! TRACESYSGOOD | TRACEFORK | TRACEVFORK | TRACECLONE | TRACEEXEC (no EXITKILL: if this
//! program is killed, the kernel detaches its tracees and they run on), interrupts each, then
//! resumes every stop with PTRACE_SYSCALL. Signal-delivery stops pass their signal on;
//! group-stops (PTRACE_EVENT_STOP with SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU) get PTRACE_LISTEN so
//! the process stays stopped as it would untraced.
//!
//! On SIGINT/SIGTERM, or after `--duration SECS`, it interrupts every tracee, waits for each
//! stop, detaches (passing on a signal caught in a signal-delivery stop) and exits 0. Exits 0
//! also when every tracee is gone, 2 on a usage error or when nothing could be attached.
//! Prints one summary line on stderr.
//!
//! The ptrace and waitpid calls are reqtrace's own thin wrappers (`reqtrace::tracer::sys`,
//! raw statuses, so real-time signals pass through like any other) and the process tree comes
//! from `reqtrace::procinfo`: only the decoding and everything after it is left out.

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqtrace::procinfo;
use reqtrace::tracer::sys::{self, Stop};

const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC;

/// Set by the SIGINT/SIGTERM/SIGALRM handler: detach and exit.
static STOP: AtomicBool = AtomicBool::new(false);

/// Any of SIGINT, SIGTERM, SIGALRM means "stop". Arming a 1 s alarm (which re-arms itself
/// each time it fires) means that a signal landing between the check of STOP and a blocking
/// waitpid delays the detach by at most a second instead of hanging. alarm() is
/// async-signal-safe.
extern "C" fn on_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    // SAFETY: alarm is async-signal-safe and has no memory effects.
    unsafe {
        libc::alarm(1);
    }
}

fn install_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGALRM] {
        // SAFETY: a zeroed sigaction is valid; sa_flags has no SA_RESTART, so a blocking
        // waitpid returns EINTR when the signal arrives.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The new tid of a fork/vfork/clone event, or the former tid of an exec event.
fn event_msg(tid: i32) -> Option<i32> {
    sys::geteventmsg(tid).ok().map(|m| m as i32)
}

/// The given PIDs and all their descendants.
fn process_tree(roots: &[i32]) -> Vec<i32> {
    let mut tree = roots.to_vec();
    for &r in roots {
        tree.extend(procinfo::descendants(r));
    }
    tree
}

/// Seizes and interrupts every thread of the roots and their descendants. Rescans until a
/// pass finds no thread it has not tried: a thread or child created by a not-yet-seized
/// thread during the scan is caught by the next pass; one created by a seized thread is
/// auto-attached by the kernel (its first stop reports to the wait loop).
fn attach(roots: &[i32], tracees: &mut HashSet<i32>) {
    let mut tried = HashSet::new();
    loop {
        let mut new = false;
        for pid in process_tree(roots) {
            for tid in procinfo::threads(pid) {
                if !tried.insert(tid) {
                    continue;
                }
                new = true;
                match sys::seize(tid, OPTIONS) {
                    Ok(()) => {
                        let _ = sys::interrupt(tid);
                        tracees.insert(tid);
                    }
                    // EPERM for a thread already auto-attached through a clone event is
                    // expected; otherwise (traced by someone else, not privileged) say so.
                    Err(e) if roots.contains(&tid) => {
                        eprintln!("bare_tracer: cannot seize {tid}: {e}")
                    }
                    Err(_) => {}
                }
            }
        }
        if !new {
            break;
        }
    }
}

/// Interrupts every tracee, waits for each to stop and detaches it, passing on the signal of
/// a signal-delivery stop. Children that a fork reported meanwhile are attached already and
/// are waited for too. Gives up after 3 s: what is left is detached by our exit.
fn detach_all(tracees: &mut HashSet<i32>) -> usize {
    let mut detached = 0;
    for &tid in tracees.iter() {
        let _ = sys::interrupt(tid);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while !tracees.is_empty() && Instant::now() < deadline {
        let (tid, stop) = match sys::wait_any(true) {
            Ok(Some(x)) => x,
            Ok(None) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(_) => break, // ECHILD: nothing left
        };
        let sig = match stop {
            Stop::Exited(_) | Stop::Signaled(_) => {
                tracees.remove(&tid);
                continue;
            }
            Stop::Signal(sig) => sig,
            Stop::Event(ev, _) => {
                if matches!(
                    ev,
                    libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE
                ) && let Some(child) = event_msg(tid)
                {
                    tracees.insert(child);
                }
                0
            }
            Stop::Syscall => 0,
        };
        if sys::detach(tid, sig).is_ok() {
            detached += 1;
        }
        tracees.remove(&tid);
    }
    for &tid in tracees.iter() {
        let _ = sys::detach(tid, 0);
    }
    tracees.clear();
    detached
}

fn usage() -> ExitCode {
    eprintln!("usage: bare_tracer [--duration SECS] PID...");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut roots = Vec::new();
    let mut duration: Option<u32> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--duration" {
            match args.next().and_then(|s| s.parse().ok()) {
                Some(d) if d > 0 => duration = Some(d),
                _ => return usage(),
            }
        } else if let Ok(pid) = a.parse::<i32>() {
            roots.push(pid);
        } else {
            return usage();
        }
    }
    if roots.is_empty() {
        return usage();
    }

    install_handlers();
    if let Some(d) = duration {
        // SIGALRM means stop; the handler then re-arms a 1 s alarm like SIGINT's.
        // SAFETY: alarm has no memory effects.
        unsafe {
            libc::alarm(d);
        }
    }

    // Every thread we trace (for the detach at the end).
    let mut tracees = HashSet::new();
    attach(&roots, &mut tracees);
    if tracees.is_empty() {
        eprintln!("bare_tracer: nothing attached");
        return ExitCode::from(2);
    }
    eprintln!("bare_tracer: attached {} threads", tracees.len());

    let mut stops: u64 = 0;
    while !STOP.load(Ordering::SeqCst) {
        let (tid, stop) = match sys::wait_any(false) {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(_) => break, // ECHILD: every tracee is gone
        };
        stops += 1;
        // A stop from a thread we have not seen: a child or thread the kernel attached.
        tracees.insert(tid);
        // Errors (ESRCH: the tracee was killed meanwhile) are ignored; its exit follows.
        let _ = match stop {
            Stop::Exited(_) | Stop::Signaled(_) => {
                tracees.remove(&tid);
                continue;
            }
            Stop::Syscall => sys::syscall(tid, 0),
            Stop::Signal(sig) => sys::syscall(tid, sig),
            Stop::Event(libc::PTRACE_EVENT_STOP, sig) if sys::is_group_stop_signal(sig) => {
                sys::listen(tid)
            }
            Stop::Event(ev, _) => {
                match ev {
                    libc::PTRACE_EVENT_FORK
                    | libc::PTRACE_EVENT_VFORK
                    | libc::PTRACE_EVENT_CLONE => {
                        if let Some(child) = event_msg(tid) {
                            tracees.insert(child);
                        }
                    }
                    // A non-leader thread that execs takes over the leader's tid.
                    libc::PTRACE_EVENT_EXEC => {
                        if let Some(former) = event_msg(tid).filter(|&f| f != tid) {
                            tracees.remove(&former);
                        }
                    }
                    _ => {}
                }
                sys::syscall(tid, 0)
            }
        };
    }

    let n = tracees.len();
    let detached = if n > 0 { detach_all(&mut tracees) } else { 0 };
    eprintln!("bare_tracer: {stops} stops; detached {detached} of {n} threads");
    ExitCode::SUCCESS
}
