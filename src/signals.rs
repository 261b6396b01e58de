//! How reqtrace learns that it must stop: SIGINT/SIGTERM/SIGHUP, `--duration` expiry, or a
//! closed output pipe. Each sets one atomic flag; the tracer checks it between stops and then
//! detaches everything. The handlers are installed without SA_RESTART so a blocking waitpid
//! returns EINTR; because a signal can land between the flag check and the waitpid call, the
//! handler also arms a 1 s alarm, and the SIGALRM handler keeps re-arming it while a stop is
//! pending, so a missed wake-up costs at most a second, never a hang.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction, signal};

/// 0 = keep going; otherwise why we stop (a signal number, or one of the REASON_* values).
static STOP: AtomicI32 = AtomicI32::new(0);
/// Thread id of the tracer thread, the one whose waitpid must be interrupted.
static TRACER_TID: AtomicI32 = AtomicI32::new(0);

pub const REASON_DURATION: i32 = -1;
pub const REASON_OUTPUT_CLOSED: i32 = -2;
pub const REASON_DONE: i32 = -3;
pub const REASON_COUNT: i32 = -4;

extern "C" fn on_terminate(sig: libc::c_int) {
    let _ = STOP.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    // SAFETY: alarm is async-signal-safe.
    unsafe { libc::alarm(1) };
}

extern "C" fn on_alarm(_sig: libc::c_int) {
    if STOP.load(Ordering::SeqCst) == 0 {
        // The --duration timer expired.
        STOP.store(REASON_DURATION, Ordering::SeqCst);
    }
    // SAFETY: alarm is async-signal-safe; keeps kicking the tracer out of waitpid.
    unsafe { libc::alarm(1) };
}

fn install(sig: Signal, handler: extern "C" fn(libc::c_int)) {
    // No SA_RESTART on purpose: waitpid must return EINTR.
    let sa = SigAction::new(
        SigHandler::Handler(handler),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handlers only touch atomics and call alarm(2), both async-signal-safe.
    let _ = unsafe { sigaction(sig, &sa) };
}

/// Signals meant for the tracer thread; other threads of reqtrace block them.
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

/// Install the handlers; call from the tracer thread before attaching. `ignore_interrupt`
/// leaves SIGINT/SIGQUIT to the launched command (run mode: the terminal sends them to the
/// whole process group and the command decides, as under strace).
pub fn install_handlers(ignore_interrupt: bool) {
    TRACER_TID.store(unsafe { libc::gettid() }, Ordering::SeqCst);
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        install(sig, on_terminate);
    }
    if ignore_interrupt {
        // SAFETY: setting a disposition to SIG_IGN installs no handler.
        unsafe {
            let _ = signal(Signal::SIGINT, SigHandler::SigIgn);
            let _ = signal(Signal::SIGQUIT, SigHandler::SigIgn);
        }
    } else {
        install(Signal::SIGINT, on_terminate);
    }
    install(Signal::SIGALRM, on_alarm);
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

/// Ask the tracer to stop (from any thread) and interrupt its waitpid.
pub fn request_stop(reason: i32) {
    let _ = STOP.compare_exchange(0, reason, Ordering::SeqCst, Ordering::SeqCst);
    let tid = TRACER_TID.load(Ordering::SeqCst);
    if tid > 0 {
        // SAFETY: tgkill to our own tracer thread; SIGALRM's handler only re-arms the alarm.
        unsafe {
            libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGALRM);
        }
    }
}

/// Why we stop, if we do: 0 = not stopping.
pub fn stop_reason() -> i32 {
    STOP.load(Ordering::Relaxed)
}

/// Cancel the kick timer once the tracer is done (so a later SIGALRM cannot kill us).
pub fn disarm() {
    // SAFETY: alarm(0) cancels; SIG_IGN for any in-flight SIGALRM installs no handler.
    unsafe {
        libc::alarm(0);
        let _ = signal(Signal::SIGALRM, SigHandler::SigIgn);
    }
}
