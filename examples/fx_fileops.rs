//! Test fixture: a fixed sequence of path-based file syscalls with known results.
//!
//! Usage: `fx_fileops DIR [--loop|--once]` where DIR is an existing (empty) directory,
//! preferably given as an absolute path (a relative DIR is made absolute at startup,
//! because the sequence changes the working directory).
//!
//! Setup (done with std, before `ready`): DIR/file.txt containing "hello", the directory
//! DIR/sub/, and the symlink DIR/link -> "file.txt". Then `ready` is printed on stdout.
//!
//! The sequence, made through libc's wrappers so that the syscalls are real and predictable
//! (on current glibc, open() is the openat syscall and stat()/lstat() are newfstatat):
//!   a. open("DIR/missing.phpp", O_RDONLY)            -> ENOENT
//!   b. stat("DIR/nope")                              -> ENOENT
//!   c. lstat("DIR/link")                             -> 0
//!   d. access("DIR/file.txt", R_OK)                  -> 0
//!      access("DIR/absent", F_OK)                    -> ENOENT
//!   e. readlink("DIR/link", buf, 256)                -> 8 ("file.txt")
//!   f. rename("DIR/file.txt", "DIR/file2.txt")       -> 0
//!      rename("DIR/file2.txt", "DIR/file.txt")       -> 0
//!   g. chdir("DIR/sub")                              -> 0
//!      open("rel.txt", O_RDONLY)                     -> ENOENT (relative to DIR/sub)
//!      chdir("/")                                    -> 0
//!   h. dfd = open("DIR", O_RDONLY|O_DIRECTORY)
//!      openat(dfd, "inner.txt", O_RDONLY)            -> ENOENT
//!      close(dfd)
//!   i. fd = open("DIR/file.txt", O_RDONLY|O_CLOEXEC)
//!      fstat(fd, &st)                                -> 0
//!      close(fd)
//!
//! Without `--loop` the sequence runs once and the program exits 0 (1 if a call gave an
//! unexpected result; details go to stderr). With `--loop` it repeats every 100 ms and the
//! program exits by itself after 60 s. Nothing but `ready\n` is ever printed on stdout.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const MAX_RUNTIME: Duration = Duration::from_secs(60);
const LOOP_INTERVAL: Duration = Duration::from_millis(100);

static FAILED: AtomicBool = AtomicBool::new(false);

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// What a libc call is expected to return.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Succeeds with exactly this value.
    Val(i64),
    /// Succeeds with any non-negative value (a new file descriptor).
    Fd,
    /// Fails (-1) with this errno.
    Errno(i32),
}

fn check(what: &str, ret: i64, expected: Expect) {
    let good = match expected {
        Expect::Val(v) => ret == v,
        Expect::Fd => ret >= 0,
        Expect::Errno(e) => ret < 0 && errno() == e,
    };
    if !good {
        FAILED.store(true, Ordering::Relaxed);
        let got = if ret < 0 {
            format!("error {}", std::io::Error::last_os_error())
        } else {
            format!("{ret}")
        };
        eprintln!("fx_fileops: {what}: expected {expected:?}, got {got}");
    }
}

fn cstr(bytes: &[u8]) -> CString {
    CString::new(bytes).expect("path contains a NUL byte")
}

struct Paths {
    missing: CString,
    nope: CString,
    link: CString,
    file: CString,
    absent: CString,
    file2: CString,
    sub: CString,
    rel: CString,
    root: CString,
    dir: CString,
    inner: CString,
}

impl Paths {
    fn new(dir: &[u8]) -> Paths {
        let p = |name: &str| {
            let mut v = dir.to_vec();
            v.push(b'/');
            v.extend_from_slice(name.as_bytes());
            cstr(&v)
        };
        Paths {
            missing: p("missing.phpp"),
            nope: p("nope"),
            link: p("link"),
            file: p("file.txt"),
            absent: p("absent"),
            file2: p("file2.txt"),
            sub: p("sub"),
            rel: cstr(b"rel.txt"),
            root: cstr(b"/"),
            dir: cstr(dir),
            inner: cstr(b"inner.txt"),
        }
    }
}

fn sequence(p: &Paths) {
    unsafe {
        // a.
        let fd = libc::open(p.missing.as_ptr(), libc::O_RDONLY);
        check("open missing.phpp", fd as i64, Expect::Errno(libc::ENOENT));
        if fd >= 0 {
            libc::close(fd);
        }

        // b.
        let mut st: libc::stat = std::mem::zeroed();
        check(
            "stat nope",
            libc::stat(p.nope.as_ptr(), &mut st) as i64,
            Expect::Errno(libc::ENOENT),
        );

        // c.
        check(
            "lstat link",
            libc::lstat(p.link.as_ptr(), &mut st) as i64,
            Expect::Val(0),
        );

        // d.
        check(
            "access file.txt R_OK",
            libc::access(p.file.as_ptr(), libc::R_OK) as i64,
            Expect::Val(0),
        );
        check(
            "access absent F_OK",
            libc::access(p.absent.as_ptr(), libc::F_OK) as i64,
            Expect::Errno(libc::ENOENT),
        );

        // e.
        let mut buf = [0u8; 256];
        let n = libc::readlink(
            p.link.as_ptr(),
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
        );
        check("readlink link", n as i64, Expect::Val(8));
        if n == 8 && &buf[..8] != b"file.txt" {
            FAILED.store(true, Ordering::Relaxed);
            eprintln!("fx_fileops: readlink link: unexpected target");
        }

        // f.
        check(
            "rename file.txt -> file2.txt",
            libc::rename(p.file.as_ptr(), p.file2.as_ptr()) as i64,
            Expect::Val(0),
        );
        check(
            "rename file2.txt -> file.txt",
            libc::rename(p.file2.as_ptr(), p.file.as_ptr()) as i64,
            Expect::Val(0),
        );

        // g.
        check(
            "chdir sub",
            libc::chdir(p.sub.as_ptr()) as i64,
            Expect::Val(0),
        );
        let fd = libc::open(p.rel.as_ptr(), libc::O_RDONLY);
        check("open rel.txt", fd as i64, Expect::Errno(libc::ENOENT));
        if fd >= 0 {
            libc::close(fd);
        }
        check(
            "chdir /",
            libc::chdir(p.root.as_ptr()) as i64,
            Expect::Val(0),
        );

        // h.
        let dfd = libc::open(p.dir.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        check("open DIR", dfd as i64, Expect::Fd);
        if dfd >= 0 {
            let fd = libc::openat(dfd, p.inner.as_ptr(), libc::O_RDONLY);
            check("openat inner.txt", fd as i64, Expect::Errno(libc::ENOENT));
            if fd >= 0 {
                libc::close(fd);
            }
            libc::close(dfd);
        }

        // i.
        let fd = libc::open(p.file.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        check("open file.txt", fd as i64, Expect::Fd);
        if fd >= 0 {
            check(
                "fstat file.txt",
                libc::fstat(fd, &mut st) as i64,
                Expect::Val(0),
            );
            libc::close(fd);
        }
    }
}

fn setup(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::write(dir.join("file.txt"), b"hello")?;
    match std::fs::create_dir(dir.join("sub")) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let link = dir.join("link");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("file.txt", &link)
}

fn ready() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"ready\n");
    let _ = out.flush();
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: fx_fileops DIR [--loop|--once]");
        std::process::exit(2);
    };
    let looping = match args.get(2).map(|a| a.as_bytes()) {
        None | Some(b"--once") | Some(b"") => false,
        Some(b"--loop") => true,
        Some(other) => {
            eprintln!(
                "fx_fileops: unknown mode {:?}",
                String::from_utf8_lossy(other)
            );
            std::process::exit(2);
        }
    };
    let mut dir = PathBuf::from(dir);
    if dir.is_relative() {
        // The sequence does chdir("/"), so a relative DIR would not survive an iteration.
        let cwd = std::env::current_dir().expect("getcwd");
        dir = cwd.join(dir);
        eprintln!("fx_fileops: using absolute DIR {}", dir.display());
    }
    if let Err(e) = setup(&dir) {
        eprintln!("fx_fileops: setup in {} failed: {e}", dir.display());
        std::process::exit(2);
    }
    let paths = Paths::new(&dir.into_os_string().into_vec());
    let start = Instant::now();
    ready();

    if !looping {
        sequence(&paths);
        std::process::exit(if FAILED.load(Ordering::Relaxed) { 1 } else { 0 });
    }
    while start.elapsed() < MAX_RUNTIME {
        sequence(&paths);
        std::thread::sleep(LOOP_INTERVAL);
    }
}
