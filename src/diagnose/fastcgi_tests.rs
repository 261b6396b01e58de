//! The diagnosis of a request whose failing call was made by another process than the one
//! that read it (a php-fpm worker behind the web server), against real processes: a child
//! running as `nobody` (a pool's user) and a chrooted child (a pool's `chroot`), each named
//! `php-fpm8.2`, as the pid of a failure in a request whose own pid is this test (root); and
//! children that look like an nginx master and a php-fpm master (their command name and
//! process title set as those servers set theirs), whose configurations are read as theirs.

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

/// A process that looks like a server's master: its command name is `name` (it runs
/// /bin/cat through a symlink of that name in `dir`: the kernel names a process after the
/// file it executed) and its /proc/PID/cmdline is `title`, one string, as nginx and php-fpm
/// rewrite theirs. It waits on its stdin until dropped (killed and reaped).
struct Titled(std::process::Child);

impl Titled {
    fn start(dir: &TempDir, name: &str, title: &str) -> Titled {
        use std::os::unix::process::CommandExt;
        std::fs::create_dir_all(dir.p("bin")).unwrap();
        let exe = dir.p(&format!("bin/{name}"));
        std::os::unix::fs::symlink("/bin/cat", &exe).unwrap();
        let child = std::process::Command::new(&exe)
            .arg0(title)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Until its exec is done, /proc shows the test's name and arguments.
        for _ in 0..500 {
            if crate::procinfo::comm(pid).as_deref() == Some(name) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!(crate::procinfo::comm(pid).as_deref(), Some(name));
        Titled(child)
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Titled {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

/// A suspect made by the php-fpm worker gets the web server's references (nginx's `root`
/// line: the request's pid is nginx's) and the pool's (its `chdir` line, from the pool file
/// the php-fpm master's configuration includes).
#[test]
fn an_fpm_suspect_is_searched_in_the_web_server_and_the_pool_configuration() {
    let t = TempDir::new("fpm-refs");
    t.touch("www/x.php");
    t.write(
        "nginx.conf",
        format!(
            "http {{\n  server {{\n    root {};\n    location ~ \\.php$ {{\n      fastcgi_pass unix:/run/x.sock;\n    }}\n  }}\n}}\n",
            t.s("wwww")
        ),
    );
    t.write(
        "fpm.conf",
        format!("[global]\ninclude={}\n", t.s("pool.d/*.conf")),
    );
    t.write(
        "pool.d/www.conf",
        format!("[www]\nuser = nobody\nchdir = {}\n", t.s("wwww")),
    );
    let nginx = Titled::start(
        &t,
        "nginx",
        &format!("nginx: master process nginx -c {}", t.s("nginx.conf")),
    );
    let fpm = Titled::start(
        &t,
        "php-fpm8.2",
        &format!("php-fpm: master process ({})", t.s("fpm.conf")),
    );
    let mut req = request(404, fpm.pid(), &t.b("wwww/x.php"), libc::ENOENT);
    req.pid = nginx.pid();
    req.tid = nginx.pid();
    req.processes = vec![nginx.pid(), fpm.pid()];
    let report = Diagnoser::new(false).diagnose(req);
    let s = suspect_of(&report);
    assert_eq!(s.searched.as_deref(), Some(&b"wwww"[..]), "{s:#?}");
    let at: Vec<(String, u32)> = s
        .references
        .iter()
        .map(|r| (r.file.clone(), r.line))
        .collect();
    for want in [(t.s("nginx.conf"), 3), (t.s("pool.d/www.conf"), 3)] {
        assert!(at.contains(&want), "{want:?} among {at:?}");
    }
    assert_eq!(s.did_you_mean.as_deref(), Some(&t.b("www/x.php")[..]));
}

/// nginx's PHP location without `root`: the path php-fpm was given is under nginx's default
/// root, `PREFIX/html`, and the hint says no root was in effect.
#[test]
fn a_location_without_root_is_named_by_nginx_default_root() {
    let t = TempDir::new("fpm-defroot");
    t.write(
        "nginx.conf",
        "http {\n  server {\n    location ~ \\.php$ {\n      fastcgi_pass unix:/run/x.sock;\n    }\n  }\n}\n",
    );
    std::fs::create_dir_all(t.p("prefix/html")).unwrap();
    let nginx = Titled::start(
        &t,
        "nginx",
        &format!(
            "nginx: master process nginx -p {} -c {}",
            t.s("prefix"),
            t.s("nginx.conf")
        ),
    );
    let fpm = Sleeper::start(None, None);
    let mut req = request(404, fpm.0, &t.b("prefix/html/x.php"), libc::ENOENT);
    req.pid = nginx.pid();
    req.processes = vec![nginx.pid(), fpm.0];
    let report = Diagnoser::new(false).diagnose(req);
    let s = suspect_of(&report);
    assert!(
        s.hints.contains(&Hint::DefaultRoot {
            root: t.b("prefix/html")
        }),
        "{s:#?}"
    );
}
