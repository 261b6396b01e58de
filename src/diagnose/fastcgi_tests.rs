//! The diagnosis of a request whose failing call was made by another process than the one
//! that read it (a php-fpm worker behind the web server), against real processes: a child
//! running as `nobody` (a pool's user) and a chrooted child (a pool's `chroot`), each named
//! `php-fpm8.2`, as the pid of a failure in a request whose own pid is this test (root).

use std::ffi::CString;

use super::hint::{Hint, Id, Note};
use super::testdir::TempDir;
use super::{Diagnoser, Report};
use crate::event::Logged;
use crate::http::correlate::{Failure, Request};

/// A child process that sits in `pause()` until dropped (killed and reaped). Made with
/// fork(): between fork and pause the child calls only async-signal-safe syscalls.
struct Sleeper(i32);

impl Sleeper {
    /// Named `php-fpm8.2`; chrooted to `jail` if given; then as uid/gid `ids` (no
    /// supplementary groups) if given.
    fn start(jail: Option<&std::path::Path>, ids: Option<(u32, u32)>) -> Sleeper {
        let jail = jail.map(|j| CString::new(j.as_os_str().as_encoded_bytes()).unwrap());
        let (r, w) = {
            let mut fds = [0; 2];
            // SAFETY: a valid array of two ints.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            (fds[0], fds[1])
        };
        // SAFETY: the child only makes syscalls (prctl, chroot, chdir, setgroups, setgid,
        // setuid, write, close, pause, _exit) on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            unsafe {
                libc::prctl(libc::PR_SET_NAME, c"php-fpm8.2".as_ptr());
                if let Some(j) = &jail
                    && (libc::chroot(j.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0)
                {
                    libc::_exit(2);
                }
                if let Some((uid, gid)) = ids
                    && (libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(gid) != 0
                        || libc::setuid(uid) != 0)
                {
                    libc::_exit(3);
                }
                libc::close(r);
                libc::write(w, b"r".as_ptr().cast(), 1);
                libc::close(w);
                loop {
                    libc::pause();
                }
            }
        }
        // SAFETY: our own pipe's ends.
        unsafe {
            libc::close(w);
            let mut b = 0u8;
            let n = libc::read(r, (&mut b as *mut u8).cast(), 1);
            libc::close(r);
            assert_eq!(n, 1, "the sleeper did not get ready");
        }
        Sleeper(pid)
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        // SAFETY: our own child.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
    }
}

fn me() -> i32 {
    std::process::id() as i32
}

/// A request read by this process (pid `me()`), answered `status`, whose failure `path`
/// (`errno`) was made by `pid`.
fn request(status: u16, pid: i32, path: &[u8], errno: i32) -> Request {
    let mut r = Request::new(1, me(), me(), 0.0);
    r.method = Some("GET".into());
    r.target = Some(b"/index.php".to_vec());
    r.status = Some(status);
    r.processes = vec![me(), pid];
    r.failed = 1;
    r.failures.push(Failure {
        pid,
        syscall: "newfstatat",
        path: path.to_vec(),
        errno,
        ts: 0.001,
        stat_kind: None,
        write: false,
    });
    r
}

fn nobody() -> Id {
    Id {
        id: 65534,
        name: Some("nobody".into()),
    }
}

fn suspect_of(r: &Report) -> &super::Suspect {
    r.suspects
        .first()
        .unwrap_or_else(|| panic!("a suspect: {r:#?}"))
}

/// EACCES explained against the pool user's credentials, not the web server's (root here,
/// who may search anything): the directory on the way that `nobody` may not search. php-fpm
/// said "Primary script unknown" (nginx logged it): the note says it was a permission
/// failure, naming the pool's user.
#[test]
fn eacces_is_explained_for_the_process_that_failed_and_its_not_found_noted() {
    let t = TempDir::new("fpm-eacces");
    t.dir("srv", 0o750);
    t.touch("srv/www/index.php");
    let fpm = Sleeper::start(None, Some((65534, 65534)));
    let path = t.b("srv/www/index.php");
    let mut req = request(404, fpm.0, &path, libc::EACCES);
    req.logged.push(Logged {
        pid: me(),
        ts: 0.002,
        line: b"2026/12/01 17:00:00 [error] 8#8: *1 FastCGI sent in stderr: \"Primary script unknown\" while reading response header from upstream".to_vec(),
    });
    let report = Diagnoser::new(false).diagnose(req);
    let s = suspect_of(&report);
    assert_eq!(s.pid, fpm.0);
    assert_eq!(s.process.as_deref(), Some("php-fpm8.2"));
    assert!(
        s.hints.iter().any(|h| matches!(
            h,
            Hint::CannotSearch { dir, worker, .. } if *dir == t.b("srv") && *worker == nobody()
        )),
        "the pool user may not search srv: {:#?}",
        s.hints
    );
    assert!(
        report.notes.contains(&Note::DeniedReportedAsNotFound {
            path: path.clone(),
            errno: libc::EACCES,
            user: Some(nobody()),
        }),
        "{:#?}",
        report.notes
    );
}

/// A chrooted pool names paths inside its jail: `/wwww/index.php` is looked up under the
/// jail, its near miss `/www/index.php` found there and named in the pool's terms, and the
/// hints say the process is chrooted.
#[test]
fn a_chrooted_process_paths_are_looked_up_in_its_root() {
    let jail = TempDir::new("fpm-jail");
    jail.touch("www/index.php");
    let fpm = Sleeper::start(Some(jail.path()), None);
    let report =
        Diagnoser::new(false).diagnose(request(404, fpm.0, b"/wwww/index.php", libc::ENOENT));
    let s = suspect_of(&report);
    assert_eq!(
        s.did_you_mean.as_deref(),
        Some(&b"/www/index.php"[..]),
        "the near miss inside the jail, in the pool's terms: {s:#?}"
    );
    assert_eq!(
        s.hints.first(),
        Some(&Hint::Chrooted {
            root: jail.path().as_os_str().as_encoded_bytes().to_vec()
        }),
        "{s:#?}"
    );
}
