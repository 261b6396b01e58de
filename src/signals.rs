//! How reqtrace learns that it must stop: SIGINT/SIGTERM/SIGHUP, `--duration` expiry, a closed
//! output pipe (`attach` only: `run` traces its command to the end), finished probes or
//! `--count`. Each sets one atomic flag; every tracer thread checks it between stops and
//! then detaches its tracees (or ends a command under the seccomp filter). The handlers are
//! installed without SA_RESTART so a blocking waitpid returns EINTR, and every registered
//! tracer thread is sent a SIGALRM (tgkill) so each one's waitpid is interrupted, not just the
//! thread the kernel chose.
//! Because a signal can land between a thread's flag check and its waitpid call, a 1 s alarm
//! keeps kicking every tracer thread while a stop is pending: a missed wake-up costs at most a
//! second, never a hang.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction, signal};

/// 0 = keep going; otherwise why we stop (a signal number, or one of the REASON_* values).
static STOP: AtomicI32 = AtomicI32::new(0);
/// Thread ids of the tracer threads, whose waitpid must be interrupted (0 = free slot).
const MAX_TRACERS: usize = 64;
static TRACER_TIDS: [AtomicI32; MAX_TRACERS] = [const { AtomicI32::new(0) }; MAX_TRACERS];
/// `run`: a closed output does not stop the trace (see `output_closed`).
static LAUNCHED: AtomicBool = AtomicBool::new(false);

/// The dispositions reqtrace changes for itself and a launched command must see as reqtrace
/// found them.
pub const PASSED_ON: [i32; 4] = [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP];
/// Of PASSED_ON, those reqtrace found ignored (bit per signal number).
static INHERITED_IGNORED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Whether reqtrace found `sig` ignored when it started (before `install_handlers`).
pub fn inherited_ignored(sig: i32) -> bool {
    INHERITED_IGNORED.load(Ordering::SeqCst) & (1 << sig) != 0
}

pub const REASON_DURATION: i32 = -1;
pub const REASON_OUTPUT_CLOSED: i32 = -2;
pub const REASON_DONE: i32 = -3;
pub const REASON_COUNT: i32 = -4;

/// What a stop reason means, for the summary.
pub fn end_of(reason: i32) -> crate::event::End {
    use crate::event::End;
    match reason {
        REASON_DURATION => End::Duration,
        REASON_OUTPUT_CLOSED => End::OutputClosed,
        REASON_DONE => End::ProbesDone,
        REASON_COUNT => End::CountReached,
        sig if sig > 0 => End::Signal(sig),
        _ => End::AllExited,
    }
}

/// SIGALRM to every tracer thread. Only tgkill and atomics: async-signal-safe.
fn kick_all() {
    // SAFETY: getpid and tgkill are plain syscalls, safe in a signal handler.
    let pid = unsafe { libc::getpid() };
    for slot in &TRACER_TIDS {
        let tid = slot.load(Ordering::SeqCst);
        if tid > 0 {
            // SAFETY: tgkill to a thread of our own process.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGALRM) };
        }
    }
}

extern "C" fn on_terminate(sig: libc::c_int) {
    let _ = STOP.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    kick_all();
    // SAFETY: alarm is async-signal-safe.
    unsafe { libc::alarm(1) };
}

extern "C" fn on_alarm(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    if STOP.load(Ordering::SeqCst) == 0 {
        // The --duration timer expired.
        STOP.store(REASON_DURATION, Ordering::SeqCst);
    }
    // A timer SIGALRM reaches one thread: pass it on to all. One sent by kick_all (SI_TKILL)
    // is not passed on again, or the threads would kick each other forever.
    // SAFETY: the kernel hands a valid siginfo to an SA_SIGINFO handler.
    let from_tkill = !info.is_null() && unsafe { (*info).si_code } == libc::SI_TKILL;
    if !from_tkill {
        kick_all();
        // SAFETY: alarm is async-signal-safe; keeps kicking while the stop is pending.
        unsafe { libc::alarm(1) };
    }
}

fn install(sig: Signal, handler: SigHandler) {
    // No SA_RESTART on purpose: waitpid must return EINTR.
    let flags = match handler {
        SigHandler::SigAction(_) => SaFlags::SA_SIGINFO,
        _ => SaFlags::empty(),
    };
    let sa = SigAction::new(handler, flags, SigSet::empty());
    // SAFETY: the handlers only touch atomics and make async-signal-safe syscalls.
    let _ = unsafe { sigaction(sig, &sa) };
}

/// Signals meant for the tracer threads; other threads of reqtrace block them.
pub fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGALRM,
        Signal::SIGQUIT,
    ] {
        set.add(s);
    }
    set
}

/// Install the handlers (process-wide) before any tracer thread starts. `launch` (run mode)
/// leaves SIGINT/SIGQUIT to the launched command (the terminal sends them to the whole
/// process group and the command decides, as under strace), and a closed output to
/// `output_closed`.
pub fn install_handlers(launch: bool) {
    LAUNCHED.store(launch, Ordering::SeqCst);
    // What reqtrace inherited ignored, before its own dispositions replace it: a launched
    // command must inherit it ignored too, as it would untraced (`nohup reqtrace run ...`
    // ignores SIGHUP; a non-interactive shell's background job ignores SIGINT and SIGQUIT).
    let mut ignored = 0u32;
    for sig in PASSED_ON {
        // SAFETY: sigaction with a null new action only reads the current disposition.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } == 0
            && old.sa_sigaction == libc::SIG_IGN
        {
            ignored |= 1 << sig;
        }
    }
    INHERITED_IGNORED.store(ignored, Ordering::SeqCst);
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        install(sig, SigHandler::Handler(on_terminate));
    }
    if launch {
        // SAFETY: setting a disposition to SIG_IGN installs no handler.
        unsafe {
            let _ = signal(Signal::SIGINT, SigHandler::SigIgn);
            let _ = signal(Signal::SIGQUIT, SigHandler::SigIgn);
        }
    } else {
        install(Signal::SIGINT, SigHandler::Handler(on_terminate));
    }
    install(Signal::SIGALRM, SigHandler::SigAction(on_alarm));
}

/// Register the calling thread as a tracer thread (it must be kicked out of waitpid) and let
/// it take the stop signals.
pub fn register_tracer_thread() {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    for slot in &TRACER_TIDS {
        if slot
            .compare_exchange(0, tid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            break;
        }
    }
    let _ = stop_signals().thread_unblock();
}

/// Arm the `--duration` timer.
pub fn arm_duration(secs: f64) {
    let secs = secs.max(0.001);
    let it = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: secs.trunc() as libc::time_t,
            tv_usec: ((secs.fract() * 1e6) as libc::suseconds_t).max(1),
        },
    };
    // SAFETY: plain setitimer call with a valid struct.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) };
}

/// Ask the tracer threads to stop (from any thread) and interrupt their waitpid; then keep
/// kicking them once a second, as after a stop signal. Not only for a missed wake-up: a
/// tracer ending a command under the seccomp filter waits for it, and must wake up to send
/// SIGKILL after the grace even when the command makes no traced call (`run --count`).
pub fn request_stop(reason: i32) {
    let _ = STOP.compare_exchange(0, reason, Ordering::SeqCst, Ordering::SeqCst);
    kick_all();
    // Only while tracer threads are registered, so our SIGALRM handler is in place (never in
    // `analyze`, where SIGALRM's default action would kill us; disarm ignores it).
    if TRACER_TIDS.iter().any(|t| t.load(Ordering::SeqCst) > 0) {
        // SAFETY: alarm has no preconditions; the SIGALRM handler re-arms it while stopping.
        unsafe { libc::alarm(1) };
    }
}

/// The output closed or failed: nothing more will be printed. `attach` detaches (the
/// server runs on without us); `run` goes on tracing, unprinted, to the command's end, whose
/// exit status is reqtrace's: the output is not the command's, so losing it must neither
/// end the command nor hide its status. Returns whether the tracer detaches.
pub fn output_closed() -> bool {
    let detach = !LAUNCHED.load(Ordering::SeqCst);
    if detach {
        request_stop(REASON_OUTPUT_CLOSED);
    }
    detach
}

/// Why we stop, if we do: 0 = not stopping.
pub fn stop_reason() -> i32 {
    STOP.load(Ordering::Relaxed)
}

/// Cancel the kick timer once tracing is done (so a later SIGALRM cannot kill us).
pub fn disarm() {
    for slot in &TRACER_TIDS {
        slot.store(0, Ordering::SeqCst);
    }
    // SAFETY: alarm(0) cancels; SIG_IGN for any in-flight SIGALRM installs no handler.
    unsafe {
        libc::alarm(0);
        let _ = signal(Signal::SIGALRM, SigHandler::SigIgn);
    }
}
