//! Test fixture: open() calls on awkward path names, to exercise path decoding and escaping.
//!
//! Usage: `fx_oddpaths DIR [--loop|--once]` where DIR is an existing directory.
//!
//! Prints `ready`, then makes these calls through libc (open is the openat syscall on
//! current glibc), all with O_RDONLY and all failing:
//!   open("DIR/new\nline")            -> ENOENT   (a newline byte)
//!   open("DIR/quo\"te")              -> ENOENT   (a double quote)
//!   open("DIR/esc\x1b[31mred")       -> ENOENT   (an ANSI escape sequence)
//!   open("DIR/bad\xff\xfeutf8")      -> ENOENT   (raw bytes, invalid UTF-8)
//!   open("DIR/tab\tback\\slash")     -> ENOENT   (a tab and one backslash)
//!   open(DIR + "/" + "aaa…")         -> ENAMETOOLONG (or ENOENT); strlen is exactly 4095,
//!                                       the longest path the kernel accepts (PATH_MAX 4096
//!                                       including the NUL); its last component is longer
//!                                       than NAME_MAX, hence ENAMETOOLONG in practice
//!   open(DIR + "/" + "aaa…")         -> ENAMETOOLONG; strlen is exactly 5000 (> PATH_MAX)
//!   open((char *)0x1)                 -> EFAULT   (a pointer the tracer cannot read either)
//! Without `--loop` the sequence runs once and the program exits 0 (1 if a call gave an
//! unexpected result). With `--loop` it repeats every 100 ms and the program exits by
//! itself after 60 s. Nothing but `ready\n` is printed on stdout; diagnostics go to stderr.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const MAX_RUNTIME: Duration = Duration::from_secs(60);
const LOOP_INTERVAL: Duration = Duration::from_millis(100);

static FAILED: AtomicBool = AtomicBool::new(false);

const ODD_NAMES: [&[u8]; 5] = [
    b"new\nline",
    b"quo\"te",
    b"esc\x1b[31mred",
    b"bad\xff\xfeutf8",
    b"tab\tback\\slash",
];

fn under_dir(dir: &[u8], name: &[u8]) -> CString {
    let mut v = dir.to_vec();
    v.push(b'/');
    v.extend_from_slice(name);
    CString::new(v).expect("DIR contains a NUL byte")
}

/// DIR + "/" + 'a'... with the whole path exactly `total` bytes long.
fn long_path(dir: &[u8], total: usize) -> CString {
    let fill = total
        .checked_sub(dir.len() + 1)
        .filter(|&n| n > 0)
        .expect("DIR is too long for the long-path test");
    let p = under_dir(dir, &vec![b'a'; fill]);
    assert_eq!(p.as_bytes().len(), total);
    p
}

fn ready() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"ready\n");
    let _ = out.flush();
}

fn open_expect(path: &CString, allowed: &[i32]) {
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
    let err = std::io::Error::last_os_error();
    if fd >= 0 {
        unsafe { libc::close(fd) };
    }
    if fd >= 0 || !allowed.contains(&err.raw_os_error().unwrap_or(0)) {
        FAILED.store(true, Ordering::Relaxed);
        let shown = String::from_utf8_lossy(path.as_bytes());
        let shown: String = shown.chars().take(80).collect();
        eprintln!(
            "fx_oddpaths: open({shown:?}, len {}) returned {fd} ({err}), expected errno in {allowed:?}",
            path.as_bytes().len()
        );
    }
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: fx_oddpaths DIR [--loop|--once]");
        std::process::exit(2);
    };
    let dir = dir.as_bytes();
    let looping = match args.get(2).map(|a| a.as_bytes()) {
        None | Some(b"--once") | Some(b"") => false,
        Some(b"--loop") => true,
        Some(other) => {
            eprintln!(
                "fx_oddpaths: unknown mode {:?}",
                String::from_utf8_lossy(other)
            );
            std::process::exit(2);
        }
    };

    let odd: Vec<CString> = ODD_NAMES.iter().map(|n| under_dir(dir, n)).collect();
    let long_4095 = long_path(dir, 4095);
    let long_5000 = long_path(dir, 5000);
    let start = Instant::now();
    ready();

    loop {
        for p in &odd {
            open_expect(p, &[libc::ENOENT]);
        }
        open_expect(&long_4095, &[libc::ENAMETOOLONG, libc::ENOENT]);
        open_expect(&long_5000, &[libc::ENAMETOOLONG]);
        // SAFETY: the kernel rejects the unmapped address with EFAULT; nothing is read here.
        let fd = unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, 1usize, libc::O_RDONLY) };
        if fd != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EFAULT) {
            FAILED.store(true, Ordering::Relaxed);
            eprintln!("fx_oddpaths: openat(0x1) returned {fd}, expected EFAULT");
        }
        if !looping {
            std::process::exit(if FAILED.load(Ordering::Relaxed) { 1 } else { 0 });
        }
        if start.elapsed() >= MAX_RUNTIME {
            break;
        }
        std::thread::sleep(LOOP_INTERVAL);
    }
}
