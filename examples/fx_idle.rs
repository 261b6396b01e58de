//! Test fixture: a process that spends nearly all its time blocked in a sleeping syscall,
//! for testing attaching to (and detaching from) a tracee that is inside a syscall.
//!
//! Usage: `fx_idle DIR [--loop|--once]` where DIR is an existing directory. The mode is
//! accepted for uniformity but ignored: this program always loops, and exits 0 by itself
//! after 60 s (or when killed).
//!
//! Prints `ready`, then once a second:
//!   stat("DIR/idle-missing")   -> ENOENT   (newfstatat on current glibc)
//!   nanosleep(1 s)             (clock_nanosleep on current glibc; if interrupted with
//!                              EINTR it sleeps again for the remaining time)
//! Nothing but `ready\n` is printed on stdout; diagnostics go to stderr.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

const MAX_RUNTIME: Duration = Duration::from_secs(60);

fn ready() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"ready\n");
    let _ = out.flush();
}

/// Sleeps one second in nanosleep(), resuming after EINTR with the remaining time.
fn sleep_one_second() {
    let mut req = libc::timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    loop {
        let mut rem = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if unsafe { libc::nanosleep(&req, &mut rem) } == 0 {
            return;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            eprintln!("fx_idle: nanosleep: {err}");
            return;
        }
        req = rem;
    }
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: fx_idle DIR [--loop|--once]");
        std::process::exit(2);
    };
    match args.get(2).map(|a| a.as_bytes()) {
        None | Some(b"--once") | Some(b"") | Some(b"--loop") => {}
        Some(other) => {
            eprintln!("fx_idle: unknown mode {:?}", String::from_utf8_lossy(other));
            std::process::exit(2);
        }
    }
    let mut path = dir.as_bytes().to_vec();
    path.extend_from_slice(b"/idle-missing");
    let path = CString::new(path).expect("DIR contains a NUL byte");

    let start = Instant::now();
    ready();
    while start.elapsed() < MAX_RUNTIME {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let ret = unsafe { libc::stat(path.as_ptr(), &mut st) };
        if ret != -1 {
            eprintln!("fx_idle: stat unexpectedly returned {ret}");
        }
        sleep_one_second();
    }
}
