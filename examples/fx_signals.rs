//! Test fixture: counts delivered SIGUSR2 and SIGHUP signals and publishes the counts in a file,
//! so tests can check that a tracer passes signals through to the tracee (or suppresses them).
//!
//! Usage: `fx_signals DIR [--loop|--once]` where DIR is an existing directory. The mode is
//! accepted for uniformity but ignored: this program always loops, and exits by itself
//! after 60 s (or when killed).
//!
//! Setup: installs handlers with sigaction(SA_RESTART) for SIGUSR2 and SIGHUP
//! (rt_sigaction) that only increment atomic counters, writes DIR/counts containing
//! `usr2=0 hup=0\n`, then prints `ready`. Loop:
//!   stat("DIR/sig-missing")   -> ENOENT   (newfstatat on current glibc)
//!   sleep 20 ms               (clock_nanosleep; resumed with the remaining time on EINTR)
//!   if the counts changed: write `usr2=N hup=M\n` to DIR/counts.tmp (openat O_CREAT|O_TRUNC,
//!   write, close) and rename it to DIR/counts, so readers never see a partial file.
//! Nothing but `ready\n` is printed on stdout; diagnostics go to stderr.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MAX_RUNTIME: Duration = Duration::from_secs(60);
const LOOP_SLEEP: Duration = Duration::from_millis(20);

static USR2: AtomicU64 = AtomicU64::new(0);
static HUP: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    match sig {
        libc::SIGUSR2 => USR2.fetch_add(1, Ordering::Relaxed),
        libc::SIGHUP => HUP.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
}

fn install(sig: libc::c_int) {
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
            eprintln!(
                "fx_signals: sigaction({sig}): {}",
                std::io::Error::last_os_error()
            );
            std::process::exit(2);
        }
    }
}

fn write_counts(tmp: &Path, dst: &Path, usr2: u64, hup: u64) {
    let line = format!("usr2={usr2} hup={hup}\n");
    if let Err(e) = std::fs::write(tmp, line).and_then(|()| std::fs::rename(tmp, dst)) {
        eprintln!("fx_signals: writing {}: {e}", dst.display());
    }
}

fn ready() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"ready\n");
    let _ = out.flush();
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: fx_signals DIR [--loop|--once]");
        std::process::exit(2);
    };
    match args.get(2).map(|a| a.as_bytes()) {
        None | Some(b"--once") | Some(b"") | Some(b"--loop") => {}
        Some(other) => {
            eprintln!(
                "fx_signals: unknown mode {:?}",
                String::from_utf8_lossy(other)
            );
            std::process::exit(2);
        }
    }
    let dir = PathBuf::from(dir);
    let tmp = dir.join("counts.tmp");
    let dst = dir.join("counts");
    let mut missing = dir.as_os_str().as_bytes().to_vec();
    missing.extend_from_slice(b"/sig-missing");
    let missing = CString::new(missing).expect("DIR contains a NUL byte");

    let start = Instant::now();
    install(libc::SIGUSR2);
    install(libc::SIGHUP);
    let mut last = (0, 0);
    write_counts(&tmp, &dst, 0, 0);
    ready();

    while start.elapsed() < MAX_RUNTIME {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        unsafe { libc::stat(missing.as_ptr(), &mut st) };
        std::thread::sleep(LOOP_SLEEP);
        let now = (USR2.load(Ordering::Relaxed), HUP.load(Ordering::Relaxed));
        if now != last {
            write_counts(&tmp, &dst, now.0, now.1);
            last = now;
        }
    }
}
