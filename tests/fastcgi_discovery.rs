//! Issue 13, discovery: attaching to a web server also attaches the FastCGI backend (php-fpm)
//! its configuration passes requests to, with the pool's workers; `--fastcgi PID` attaches one
//! explicitly; an address nothing listens on is a warning naming the configuration line.
//! Real processes: a private php-fpm8.2 pool on a unix socket, a private nginx
//! (`fastcgi_pass unix:…`, or an `upstream`), a private Apache with proxy_fcgi.

mod common;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::apache::Apache;
use common::nginx::Nginx;
use common::*;

const T: Duration = Duration::from_secs(60);

/// A private php-fpm8.2: one static pool of two workers (www-data) on `DIR/fpm.sock`, its
/// pid file and error log in DIR, in the foreground in its own process group, stopped on
/// drop.
struct Fpm {
    dir: TempDir,
    child: Child,
}

impl Fpm {
    fn start() -> Fpm {
        Self::start_on(None)
    }

    /// With `port`: the pool listens on 127.0.0.1:PORT instead of its socket.
    fn start_on(port: Option<u16>) -> Fpm {
        let bin = "/usr/sbin/php-fpm8.2";
        assert!(
            std::path::Path::new(bin).exists(),
            "php-fpm8.2 is not installed: scripts/test.sh installs it"
        );
        let dir = TempDir::new("fpm");
        let d = dir.path().display();
        let listen = port.map_or_else(|| format!("{d}/fpm.sock"), |p| format!("127.0.0.1:{p}"));
        let conf = format!(
            "[global]\npid = {d}/fpm.pid\nerror_log = {d}/fpm.log\ndaemonize = no\n\
             [www]\nuser = www-data\ngroup = www-data\nlisten = {listen}\n\
             listen.mode = 0666\npm = static\npm.max_children = 2\n"
        );
        std::fs::write(dir.path().join("fpm.conf"), conf).unwrap();
        let child = Command::new(bin)
            .args(["-F", "-y"])
            .arg(dir.path().join("fpm.conf"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let f = Fpm { dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        let up = |f: &Fpm| match port {
            Some(p) => std::net::TcpStream::connect(("127.0.0.1", p)).is_ok(),
            None => f.sock().exists(),
        };
        while !up(&f) || f.workers().len() < 2 {
            assert!(
                Instant::now() < deadline,
                "php-fpm did not start: {}",
                std::fs::read_to_string(f.dir.path().join("fpm.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        f
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn workers(&self) -> Vec<i32> {
        children(self.pid())
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("fpm.sock")
    }

    /// The master and its workers.
    fn tree(&self) -> Vec<i32> {
        let mut v = vec![self.pid()];
        v.extend(self.workers());
        v
    }
}

impl Drop for Fpm {
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}

/// An nginx site that passes `.php` to `pass` (the `fastcgi_pass` argument), with `extra`
/// before the server block (an upstream), and x.php in its root that sleeps `sleep_ms`.
fn nginx_site(pass: &str, extra: &str) -> String {
    format!(
        "{extra}\nserver {{\n    listen 127.0.0.1:@PORT@;\n    root @ROOT@/www;\n    \
         location ~ \\.php$ {{\n        include /etc/nginx/fastcgi_params;\n        \
         fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n        \
         fastcgi_pass {pass};\n    }}\n}}\n"
    )
}

fn write_php(dir: &std::path::Path, sleep_ms: u64) {
    std::fs::write(
        dir.join("x.php"),
        format!("<?php usleep({}); echo \"ok\\n\";\n", sleep_ms * 1000),
    )
    .unwrap();
}

/// The process a thread belongs to.
fn tgid(tid: i32) -> Option<i32> {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))?
        .trim()
        .parse()
        .ok()
}

/// Wait until every process of `pids` is traced by `tracer` (TracerPid is the id of its
/// tracer thread).
fn wait_traced_by(pids: &[i32], tracer: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let states: Vec<(i32, Option<(char, i32)>)> =
            pids.iter().map(|&p| (p, try_state_and_tracer(p))).collect();
        if states
            .iter()
            .all(|(_, s)| s.is_some_and(|(_, t)| t != 0 && tgid(t) == Some(tracer)))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not all traced by reqtrace (PID {tracer}): (pid, (state, TracerPid)) = \
             {states:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_all_untraced(pids: &[i32]) {
    for &p in pids {
        assert_untraced_and_running(p);
    }
}

#[test]
fn a_probe_to_nginx_traces_the_php_fpm_pool_it_passes_to() {
    let fpm = Fpm::start();
    let pass = format!("unix:{}", fpm.sock().display());
    let ng = Nginx::start_with_site(&nginx_site(&pass, ""));
    // The script answers after 3 s: reqtrace is still waiting for the probe's record.
    write_php(&ng.root.path().join("www"), 3000);
    let rt = spawn_reqtrace(&["attach", "--probe", &ng.url("/x.php")]);
    let me = rt.id() as i32;
    wait_traced_by(&fpm.tree(), me, "the php-fpm master and workers");
    wait_traced_by(&[ng.pid()], me, "the nginx master");
    let out = wait_output(rt, T);
    let err = String::from_utf8_lossy(&out.stderr);
    let said = format!(
        "reqtrace: 127.0.0.1:{} is served by nginx (PID {}), which passes PHP to php-fpm8.2 \
         (PID {}) on {}: tracing both",
        ng.port,
        ng.pid(),
        fpm.pid(),
        fpm.sock().display()
    );
    assert!(err.contains(&said), "expected {said:?} in stderr:\n{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_all_untraced(&fpm.tree());
    assert_all_untraced(&[ng.pid()]);
}

#[test]
fn attaching_nginx_by_pid_traces_the_pool_of_its_upstream() {
    let fpm = Fpm::start();
    // Through an upstream block defined after the server that uses it.
    let extra = format!(
        "upstream php_pool {{\n    server unix:{} max_fails=3;\n}}",
        fpm.sock().display()
    );
    let site = nginx_site("php_pool", "") + &extra;
    let ng = Nginx::start_with_site(&site);
    let rt = spawn_reqtrace(&["attach", &ng.pid().to_string(), "--duration", "2"]);
    let me = rt.id() as i32;
    wait_traced_by(&fpm.tree(), me, "the php-fpm master and workers");
    let out = wait_output(rt, T);
    let err = String::from_utf8_lossy(&out.stderr);
    let said = format!(
        "reqtrace: nginx (PID {}) passes PHP to php-fpm8.2 (PID {}) on {}: tracing it too",
        ng.pid(),
        fpm.pid(),
        fpm.sock().display()
    );
    assert!(err.contains(&said), "expected {said:?} in stderr:\n{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert_all_untraced(&fpm.tree());
    assert_all_untraced(&tree_of(ng.pid()));
}

fn tree_of(master: i32) -> Vec<i32> {
    let mut v = vec![master];
    v.extend(children(master));
    v
}

#[test]
fn apache_with_proxy_fcgi_traces_the_pool_of_its_sethandler() {
    let fpm = Fpm::start();
    let extra = format!(
        "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n\
         LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so\n\
         <FilesMatch \"\\.php$\">\n    SetHandler \"proxy:unix:{}|fcgi://localhost\"\n\
         </FilesMatch>\n",
        fpm.sock().display()
    );
    let a = Apache::start_with("prefork", &extra);
    write_php(&a.root.path().join("www"), 3000);
    // Without PIDs, the probe finds Apache, whose configuration names the pool.
    let rt = spawn_reqtrace(&["attach", "--probe", &a.url("/x.php")]);
    let me = rt.id() as i32;
    wait_traced_by(&fpm.tree(), me, "the php-fpm master and workers");
    let out = wait_output(rt, T);
    let err = String::from_utf8_lossy(&out.stderr);
    let said = format!(
        "is served by apache2 (PID {}), which passes PHP to php-fpm8.2 (PID {}) on {}: \
         tracing both",
        a.pid(),
        fpm.pid(),
        fpm.sock().display()
    );
    assert!(err.contains(&said), "expected {said:?} in stderr:\n{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_all_untraced(&fpm.tree());
    assert_all_untraced(&tree_of(a.pid()));
}

#[test]
fn backend_option_attaches_a_pool_the_configuration_does_not_name() {
    let fpm = Fpm::start();
    // A plain nginx: nothing in its configuration leads to the pool.
    let ng = Nginx::start();
    // A worker given: its master and every worker are traced.
    let worker = fpm.workers()[0];
    let rt = spawn_reqtrace(&[
        "attach",
        &ng.pid().to_string(),
        "--fastcgi",
        &worker.to_string(),
        "--duration",
        "2",
    ]);
    let me = rt.id() as i32;
    wait_traced_by(&fpm.tree(), me, "the php-fpm master and workers");
    wait_traced_by(&tree_of(ng.pid()), me, "nginx");
    let out = wait_output(rt, T);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_all_untraced(&fpm.tree());
    assert_all_untraced(&tree_of(ng.pid()));

    // A --fastcgi that cannot be attached is fatal, like a PID given.
    let gone = {
        let mut c = Command::new("true").spawn().unwrap();
        let p = c.id() as i32;
        c.wait().unwrap();
        p
    };
    let out = run_reqtrace(
        &[
            "attach",
            &ng.pid().to_string(),
            "--fastcgi",
            &gone.to_string(),
            "--duration",
            "1",
        ],
        T,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_all_untraced(&tree_of(ng.pid()));
    // PID 0 is refused before anything is looked at (its "descendants" are every process).
    let out = run_reqtrace(&["attach", "--fastcgi", "0", "--duration", "1"], T);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid PID 0"), "{err}");
}

#[test]
fn a_configured_socket_nothing_listens_on_is_a_warning_with_its_line() {
    let dir = TempDir::new("fpm-none");
    let sock = dir.path().join("none.sock");
    let site = nginx_site(&format!("unix:{}", sock.display()), "");
    let ng = Nginx::start_with_site(&site);
    let line = site
        .lines()
        .position(|l| l.contains("fastcgi_pass"))
        .unwrap()
        + 1;
    let out = run_reqtrace(&["attach", &ng.pid().to_string(), "--duration", "1"], T);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let place = format!(
        "{}:{line} (fastcgi_pass)",
        ng.root.path().join("conf.d/site.conf").display()
    );
    assert!(
        err.contains(&format!(
            "reqtrace: warning: nothing listens on {} (no such socket file)",
            sock.display()
        )) && err.contains(&place)
            && err.contains("502"),
        "expected the warning naming {place}:\n{err}"
    );
    assert_all_untraced(&tree_of(ng.pid()));
}

#[test]
fn a_backend_traced_by_someone_else_is_a_warning_not_fatal() {
    let fpm = Fpm::start();
    let pass = format!("unix:{}", fpm.sock().display());
    let ng = Nginx::start_with_site(&nginx_site(&pass, ""));
    // Another tracer holds the pool.
    let mut other = spawn_reqtrace(&["attach", &fpm.pid().to_string(), "--duration", "20"]);
    let other_pid = other.id() as i32;
    wait_traced_by(&fpm.tree(), other_pid, "the pool, by the other tracer");
    let out = run_reqtrace(&["attach", &ng.pid().to_string(), "--duration", "1"], T);
    let err = String::from_utf8_lossy(&out.stderr);
    send_signal(other_pid, libc::SIGINT);
    let _ = other.wait();
    assert_eq!(out.status.code(), Some(0), "{err}");
    // One warning for the pool, that names who traces it; nginx alone is traced.
    let warning = format!(
        "reqtrace: warning: php-fpm8.2 (PID {}), the FastCGI backend of nginx (PID {}) on {}, \
         is already traced by PID",
        fpm.pid(),
        ng.pid(),
        fpm.sock().display()
    );
    assert!(err.contains(&warning), "expected {warning:?} in:\n{err}");
    assert_eq!(err.matches("warning").count(), 1, "{err}");
    assert!(!err.contains("tracing it too"), "{err}");
    assert_all_untraced(&fpm.tree());
    assert_all_untraced(&tree_of(ng.pid()));
}

#[test]
fn apache_proxypassmatch_to_a_tcp_pool_is_followed() {
    let port = free_port();
    let fpm = Fpm::start_on(Some(port));
    let extra = format!(
        "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n\
         LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so\n\
         ProxyPassMatch \"^/(.*\\.php)$\" \"fcgi://127.0.0.1:{port}@ROOT@/www/$1\"\n"
    );
    let a = Apache::start_with("prefork", &extra);
    let rt = spawn_reqtrace(&["attach", &a.pid().to_string(), "--duration", "2"]);
    let me = rt.id() as i32;
    wait_traced_by(&fpm.tree(), me, "the php-fpm master and workers");
    let out = wait_output(rt, T);
    let err = String::from_utf8_lossy(&out.stderr);
    let said = format!(
        "reqtrace: apache2 (PID {}) passes PHP to php-fpm8.2 (PID {}) on 127.0.0.1:{port}: \
         tracing it too",
        a.pid(),
        fpm.pid()
    );
    assert!(err.contains(&said), "expected {said:?} in stderr:\n{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_all_untraced(&fpm.tree());
    assert_all_untraced(&tree_of(a.pid()));
}
