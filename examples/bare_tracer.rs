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
//! Raw libc throughout: waitpid statuses are decoded by hand so real-time signals (glibc's
//! SIGSETXID in threaded Apache workers) pass through like any other.

use std::collections::{HashMap, HashSet};
use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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

/// ptrace(request, tid, 0, data); the requests used here take no pointers, except
/// GETEVENTMSG whose `data` is the address of a live local.
fn ptrace(request: libc::c_uint, tid: i32, data: usize) -> io::Result<()> {
    // SAFETY: see above.
    let r = unsafe {
        libc::ptrace(
            request,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            data as *mut libc::c_void,
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The new tid of a fork/vfork/clone event, or the former tid of an exec event.
fn event_msg(tid: i32) -> Option<i32> {
    let mut msg: libc::c_ulong = 0;
    ptrace(
        libc::PTRACE_GETEVENTMSG,
        tid,
        &mut msg as *mut libc::c_ulong as usize,
    )
    .ok()
    .map(|_| msg as i32)
}

/// What a raw waitpid status says.
enum Stop {
    Gone,
    /// Syscall-enter or -exit stop (SIGTRAP | 0x80 thanks to TRACESYSGOOD).
    Syscall,
    /// PTRACE_EVENT_* stop: the event number and the stop signal.
    Event(i32, i32),
    /// Signal-delivery stop: the signal the tracee is about to receive.
    Signal(i32),
}

fn decode(status: i32) -> Stop {
    if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
        return Stop::Gone;
    }
    let sig = libc::WSTOPSIG(status);
    let event = (status >> 16) & 0xffff;
    if sig == libc::SIGTRAP | 0x80 {
        Stop::Syscall
    } else if event != 0 {
        Stop::Event(event, sig)
    } else {
        Stop::Signal(sig)
    }
}

fn wait_any(nohang: bool) -> io::Result<Option<(i32, Stop)>> {
    let mut status = 0;
    let flags = libc::__WALL | if nohang { libc::WNOHANG } else { 0 };
    // SAFETY: waitpid with a pointer to a live local.
    match unsafe { libc::waitpid(-1, &mut status, flags) } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some((pid, decode(status)))),
    }
}

fn is_group_stop(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

/// Every process's parent, from /proc/*/stat (the field after the `(comm)`).
fn parents() -> HashMap<i32, i32> {
    let mut map = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return map;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
            .and_then(|s| s.parse().ok());
        if let Some(ppid) = ppid {
            map.insert(pid, ppid);
        }
    }
    map
}

/// The given PIDs and all their descendants.
fn process_tree(roots: &[i32]) -> Vec<i32> {
    let parents = parents();
    let mut tree: Vec<i32> = roots.to_vec();
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        let mut kids: Vec<i32> = parents
            .iter()
            .filter(|&(&c, &pp)| pp == p && !tree.contains(&c))
            .map(|(&c, _)| c)
            .collect();
        kids.sort_unstable();
        tree.extend(kids);
        i += 1;
    }
    tree
}

fn threads(pid: i32) -> Vec<i32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
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
            for tid in threads(pid) {
                if !tried.insert(tid) {
                    continue;
                }
                new = true;
                match ptrace(libc::PTRACE_SEIZE, tid, OPTIONS as usize) {
                    Ok(()) => {
                        let _ = ptrace(libc::PTRACE_INTERRUPT, tid, 0);
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
        let _ = ptrace(libc::PTRACE_INTERRUPT, tid, 0);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while !tracees.is_empty() && Instant::now() < deadline {
        let (tid, stop) = match wait_any(true) {
            Ok(Some(x)) => x,
            Ok(None) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(_) => break, // ECHILD: nothing left
        };
        let sig = match stop {
            Stop::Gone => {
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
        if ptrace(libc::PTRACE_DETACH, tid, sig as usize).is_ok() {
            detached += 1;
        }
        tracees.remove(&tid);
    }
    for &tid in tracees.iter() {
        let _ = ptrace(libc::PTRACE_DETACH, tid, 0);
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
        let (tid, stop) = match wait_any(false) {
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
            Stop::Gone => {
                tracees.remove(&tid);
                continue;
            }
            Stop::Syscall => ptrace(libc::PTRACE_SYSCALL, tid, 0),
            Stop::Signal(sig) => ptrace(libc::PTRACE_SYSCALL, tid, sig as usize),
            Stop::Event(libc::PTRACE_EVENT_STOP, sig) if is_group_stop(sig) => {
                ptrace(libc::PTRACE_LISTEN, tid, 0)
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
                ptrace(libc::PTRACE_SYSCALL, tid, 0)
            }
        };
    }

    let n = tracees.len();
    let detached = if n > 0 { detach_all(&mut tracees) } else { 0 };
    eprintln!("bare_tracer: {stops} stops; detached {detached} of {n} threads");
    ExitCode::SUCCESS
}
