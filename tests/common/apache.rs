//! A throwaway Apache for the tests: its own config (tests/apache/httpd.conf.in), port,
//! DocumentRoot and logs in a temp dir, started in the foreground and stopped on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

pub struct Apache {
    pub root: TempDir,
    pub port: u16,
    child: Child,
}

impl Apache {
    /// Start Apache with `mpm` (prefork, event, worker) serving the incident's site: a
    /// rewrite of /home to the typo'd /index.phpp, index.php and hello.html in the docroot.
    pub fn start(mpm: &str) -> Apache {
        Self::start_with(mpm, "")
    }

    /// Like `start`, with extra configuration lines appended.
    pub fn start_with(mpm: &str, extra: &str) -> Apache {
        assert!(
            std::path::Path::new("/usr/sbin/apache2").exists(),
            "apache2 is not installed: scripts/test.sh installs it"
        );
        let root = TempDir::new(&format!("apache-{mpm}"));
        for d in ["run", "logs", "www", "sites"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        let here = env!("CARGO_MANIFEST_DIR");
        let port = super::free_port();
        let conf = std::fs::read_to_string(format!("{here}/tests/apache/httpd.conf.in"))
            .unwrap()
            .replace("@ROOT@", root.path().to_str().unwrap())
            .replace("@PORT@", &port.to_string())
            .replace("@MPM@", mpm)
            + &extra.replace("@ROOT@", root.path().to_str().unwrap());
        std::fs::write(root.path().join("httpd.conf"), conf).unwrap();
        std::fs::copy(
            format!("{here}/tests/apache/site.conf.in"),
            root.path().join("sites/site.conf"),
        )
        .unwrap();
        std::fs::write(
            root.path().join("www/index.php"),
            "<?php echo \"hello\"; ?>\n",
        )
        .unwrap();
        std::fs::write(root.path().join("www/hello.html"), "hello\n").unwrap();
        let child = Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(root.path().join("httpd.conf"))
            .arg("-DFOREGROUND")
            // Its own process group: on shutdown Apache signals its whole group
            // (ap_unixd_killpg(getpgrp(), SIGTERM)), which must not be the test harness.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let a = Apache { root, port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "apache did not start: {}",
                a.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        a
    }

    /// The master's current children (its workers).
    pub fn workers(&self) -> Vec<i32> {
        super::children(self.pid())
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/error.log")).unwrap_or_default()
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/access.log")).unwrap_or_default()
    }

    /// Several GETs on one keep-alive connection; returns their statuses.
    pub fn get_keepalive(&self, paths: &[&str]) -> Vec<u16> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut statuses = Vec::new();
        for p in paths {
            write!(s, "GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
            // Read one response: headers, then Content-Length bytes.
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            while !buf.ends_with(b"\r\n\r\n") {
                s.read_exact(&mut byte).unwrap();
                buf.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            statuses.push(head[9..12].parse().unwrap());
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            s.read_exact(&mut body).unwrap();
        }
        statuses
    }

    /// Load from `conns` client threads, each sending GETs on fresh connections until
    /// `stop` is set or `max` elapses (bounded, loopback only). Returns (answered, errors).
    pub fn load(
        &self,
        path: &str,
        conns: usize,
        max: Duration,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> std::thread::JoinHandle<(u64, u64)> {
        let port = self.port;
        let path = path.to_string();
        std::thread::spawn(move || {
            let deadline = Instant::now() + max;
            let workers: Vec<_> = (0..conns)
                .map(|_| {
                    let path = path.clone();
                    let stop = stop.clone();
                    std::thread::spawn(move || {
                        let (mut ok, mut err) = (0u64, 0u64);
                        while !stop.load(std::sync::atomic::Ordering::Relaxed)
                            && Instant::now() < deadline
                        {
                            match get_once(port, &path) {
                                Some(_) => ok += 1,
                                None => err += 1,
                            }
                        }
                        (ok, err)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or((0, 1)))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        })
    }

    /// Requests answered per second over `secs`, from `conns` client threads.
    pub fn rate(&self, path: &str, conns: usize, secs: f64) -> f64 {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let started = Instant::now();
        let (ok, _) = self
            .load(path, conns, Duration::from_secs_f64(secs), stop)
            .join()
            .unwrap();
        ok as f64 / started.elapsed().as_secs_f64()
    }

    /// Start `reqtrace attach ARGS MASTER` in the background and wait until every Apache
    /// process is traced.
    pub fn attach_bg(&self, args: &[&str]) -> Child {
        let pid = self.pid().to_string();
        let mut all = vec!["attach"];
        all.extend_from_slice(args);
        all.push(&pid);
        let child = super::spawn_reqtrace(&all);
        super::wait_traced_tree(self.pid());
        child
    }

    /// A plain GET on its own connection; returns the status.
    pub fn get(&self, path: &str) -> u16 {
        self.get_keepalive(&[path])[0]
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        super::stop_server(&mut self.child);
    }
}

/// One GET with Connection: close; the status, or None on any error.
fn get_once(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    std::str::from_utf8(buf.get(9..12)?).ok()?.parse().ok()
}
