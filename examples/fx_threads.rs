//! Test fixture: several threads each making a recognisable failing stat() call.
//!
//! Usage: `fx_threads DIR [--loop|--once|--exec] [N]` where DIR is an existing directory and
//! N is the number of threads (default 4; to give N without looping, pass `--once` as the
//! mode).
//!
//! Spawns N threads with std::thread. Once all N have started, the main thread prints
//! `ready`; the threads then start their work. Thread i (0-based) calls, through libc,
//!   stat("DIR/thread-<i>-missing")   -> ENOENT   (newfstatat on current glibc)
//! then sleeps 20 ms (nanosleep). Without `--loop` every thread does this once, the main
//! thread joins them and exits 0 (1 if a stat gave an unexpected result). With `--loop`
//! the threads repeat until 60 s have elapsed, then the program exits by itself.
//!
//! `--exec`: a thread's exec while every thread, the main one included, makes calls without
//! pause. Each thread and the main thread stat their path in a loop; after 200 of its calls
//! thread 0 execs this program as `fx_threads DIR --once 1` (exit status 0 when its one
//! thread got ENOENT). The exec kills the other threads, and the exec'ing thread takes the
//! main thread's tid (ptrace(2), "execve(2) under ptrace"); the new program prints its own
//! `ready`.
//!
//! Nothing but `ready\n` is ever printed on stdout; diagnostics go to stderr.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const MAX_RUNTIME: Duration = Duration::from_secs(60);
const THREAD_SLEEP: Duration = Duration::from_millis(20);

static FAILED: AtomicBool = AtomicBool::new(false);

fn ready() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"ready\n");
    let _ = out.flush();
}

/// `--exec`: stat without pause; thread 0 execs this program after 200 calls.
/// `barrier`: a spawned thread's, waited for as in `worker`; none for the main thread.
fn exec_worker(i: usize, path: CString, dir: OsString, barrier: Option<Arc<Barrier>>) -> ! {
    if let Some(b) = barrier {
        b.wait();
        b.wait();
    }
    let start = Instant::now();
    let mut calls = 0u32;
    loop {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        unsafe { libc::stat(path.as_ptr(), &mut st) };
        calls += 1;
        if i == 0 && calls == 200 {
            use std::os::unix::process::CommandExt;
            let err = std::process::Command::new("/proc/self/exe")
                .arg(&dir)
                .args(["--once", "1"])
                .exec();
            eprintln!("fx_threads: exec: {err}");
            std::process::exit(1);
        }
        if start.elapsed() >= MAX_RUNTIME {
            std::process::exit(1);
        }
    }
}

fn worker(i: usize, path: CString, looping: bool, start: Instant, barrier: Arc<Barrier>) {
    barrier.wait(); // all threads started
    barrier.wait(); // main thread has printed `ready`
    loop {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let ret = unsafe { libc::stat(path.as_ptr(), &mut st) };
        let err = std::io::Error::last_os_error();
        if ret != -1 || err.raw_os_error() != Some(libc::ENOENT) {
            FAILED.store(true, Ordering::Relaxed);
            eprintln!("fx_threads: thread {i}: stat returned {ret} ({err}), expected ENOENT");
        }
        std::thread::sleep(THREAD_SLEEP);
        if !looping || start.elapsed() >= MAX_RUNTIME {
            break;
        }
    }
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: fx_threads DIR [--loop|--once|--exec] [N]");
        std::process::exit(2);
    };
    let mut exec = false;
    let looping = match args.get(2).map(|a| a.as_bytes()) {
        None | Some(b"--once") | Some(b"") => false,
        Some(b"--loop") => true,
        Some(b"--exec") => {
            exec = true;
            false
        }
        Some(other) => {
            eprintln!(
                "fx_threads: unknown mode {:?}",
                String::from_utf8_lossy(other)
            );
            std::process::exit(2);
        }
    };
    let count: usize = match args.get(3) {
        None => 4,
        Some(n) => match n.to_str().and_then(|s| s.parse().ok()) {
            Some(n) if n > 0 => n,
            _ => {
                eprintln!("fx_threads: bad thread count {n:?}");
                std::process::exit(2);
            }
        },
    };

    let start = Instant::now();
    let barrier = Arc::new(Barrier::new(count + 1));
    let mut handles = Vec::with_capacity(count);
    for i in 0..count {
        let mut path = dir.as_bytes().to_vec();
        path.extend_from_slice(format!("/thread-{i}-missing").as_bytes());
        let path = CString::new(path).expect("DIR contains a NUL byte");
        let barrier = Arc::clone(&barrier);
        let dir = dir.clone();
        let handle = std::thread::Builder::new()
            .name(format!("fx-thread-{i}"))
            .spawn(move || {
                if exec {
                    exec_worker(i, path, dir, Some(barrier))
                } else {
                    worker(i, path, looping, start, barrier)
                }
            })
            .expect("spawn thread");
        handles.push(handle);
    }
    barrier.wait(); // every thread is running
    ready();
    barrier.wait(); // let them go
    if exec {
        // The main thread makes calls too, until thread 0's exec ends it.
        let mut path = dir.as_bytes().to_vec();
        path.extend_from_slice(b"/main-missing");
        exec_worker(
            count,
            CString::new(path).expect("NUL in DIR"),
            dir.clone(),
            None,
        );
    }

    for h in handles {
        let _ = h.join();
    }
    std::process::exit(if FAILED.load(Ordering::Relaxed) { 1 } else { 0 });
}
