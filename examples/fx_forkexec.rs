//! Test fixture: fork + exec, with a recognisable failing call on each side of the exec.
//!
//! Usage: `fx_forkexec DIR [--loop|--once]` (parent), or `fx_forkexec DIR --exec-child`
//! (the mode the program re-executes itself in; not meant to be run by hand).
//!
//! Setup: the parent resolves its own executable with readlink("/proc/self/exe") and
//! prepares every string the child needs, then prints `ready`. Each iteration:
//!   parent: pid = fork()                       (clone on current glibc)
//!   child:  open("DIR/child-missing", O_RDONLY) -> ENOENT   (openat)
//!           execv(<own executable>, [argv0, DIR, "--exec-child"])
//!   child after exec (`--exec-child` mode, prints nothing):
//!           stat("DIR/after-exec-missing")      -> ENOENT   (newfstatat)
//!           _exit(0)                             (exit_group)
//!   parent: waitpid(pid, &status, 0)            (wait4)
//! Without `--loop` there is a single iteration and the parent exits 0 (1 if the child did
//! not exit with status 0). With `--loop` the iteration repeats every 100 ms and the parent
//! exits by itself after 60 s. Nothing but `ready\n` is printed on stdout.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

const MAX_RUNTIME: Duration = Duration::from_secs(60);
const LOOP_INTERVAL: Duration = Duration::from_millis(100);

fn cstr(bytes: &[u8]) -> CString {
    CString::new(bytes).expect("argument contains a NUL byte")
}

fn dir_path(dir: &[u8], name: &str) -> CString {
    let mut v = dir.to_vec();
    v.push(b'/');
    v.extend_from_slice(name.as_bytes());
    cstr(&v)
}

fn ready() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"ready\n");
    let _ = out.flush();
}

/// `--exec-child` mode: runs in the freshly exec'd child.
fn exec_child(dir: &[u8]) -> ! {
    let path = dir_path(dir, "after-exec-missing");
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        let ret = libc::stat(path.as_ptr(), &mut st);
        if ret != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT) {
            eprintln!("fx_forkexec: exec child: stat returned {ret}, expected ENOENT");
            libc::_exit(1);
        }
        libc::_exit(0);
    }
}

/// Everything the forked child uses, built before fork() so the child does not allocate.
struct ChildPlan {
    missing: CString,
    exe: CString,
    argv_storage: Vec<CString>,
}

impl ChildPlan {
    /// Runs in the forked child; never returns.
    unsafe fn run(&self) -> ! {
        unsafe {
            let fd = libc::open(self.missing.as_ptr(), libc::O_RDONLY);
            if fd >= 0 {
                libc::close(fd);
            }
            let mut argv: [*const libc::c_char; 4] = [std::ptr::null(); 4];
            for (slot, arg) in argv.iter_mut().zip(&self.argv_storage) {
                *slot = arg.as_ptr();
            }
            libc::execv(self.exe.as_ptr(), argv.as_ptr());
            // Only reached if execv failed.
            const MSG: &[u8] = b"fx_forkexec: execv failed\n";
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(127);
        }
    }
}

/// One fork/exec/wait iteration; returns true if the child exited with status 0.
fn iteration(plan: &ChildPlan) -> bool {
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        eprintln!("fx_forkexec: fork: {}", std::io::Error::last_os_error());
        return false;
    }
    if pid == 0 {
        unsafe { plan.run() }
    }
    let mut status = 0;
    loop {
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            eprintln!("fx_forkexec: waitpid: {err}");
            return false;
        }
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        true
    } else {
        eprintln!("fx_forkexec: child {pid} ended with wait status {status:#x}");
        false
    }
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: fx_forkexec DIR [--loop|--once]");
        std::process::exit(2);
    };
    let dir = dir.as_bytes();
    let looping = match args.get(2).map(|a| a.as_bytes()) {
        None | Some(b"--once") | Some(b"") => false,
        Some(b"--loop") => true,
        Some(b"--exec-child") => exec_child(dir),
        Some(other) => {
            eprintln!(
                "fx_forkexec: unknown mode {:?}",
                String::from_utf8_lossy(other)
            );
            std::process::exit(2);
        }
    };

    let exe = match std::fs::read_link("/proc/self/exe") {
        Ok(p) => p,
        Err(e) => {
            eprintln!("fx_forkexec: readlink /proc/self/exe: {e}");
            std::process::exit(2);
        }
    };
    let argv0 = args[0].as_bytes();
    let plan = ChildPlan {
        missing: dir_path(dir, "child-missing"),
        exe: cstr(exe.as_os_str().as_bytes()),
        argv_storage: vec![cstr(argv0), cstr(dir), cstr(b"--exec-child")],
    };
    let start = Instant::now();
    ready();

    if !looping {
        std::process::exit(if iteration(&plan) { 0 } else { 1 });
    }
    while start.elapsed() < MAX_RUNTIME {
        iteration(&plan);
        std::thread::sleep(LOOP_INTERVAL);
    }
}
