//! Shared helpers for the integration tests: temp dirs, fixture processes that are always
//! killed, running reqtrace, reading JSON Lines, and reading a process's state from /proc.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn reqtrace() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_reqtrace"))
}

/// A fixture program built from examples/ (cargo builds examples with the tests).
pub fn fixture(name: &str) -> PathBuf {
    let p = reqtrace().parent().unwrap().join("examples").join(name);
    assert!(
        p.exists(),
        "fixture {} not built (cargo build --examples)",
        p.display()
    );
    p
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "reqtrace-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, s: &str) -> String {
        self.0.join(s).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running process killed (SIGKILL) and reaped on drop.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start a fixture with `DIR --loop` (plus extra args) and wait for its `ready` line.
pub fn start_fixture(name: &str, dir: &TempDir, extra: &[&str]) -> Proc {
    let mut child = Command::new(fixture(name))
        .arg(dir.path())
        .arg("--loop")
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "fixture {name} did not get ready");
    Proc { child }
}

/// Start reqtrace in the background with its output piped (collect it with `wait_output`).
pub fn spawn_reqtrace(args: &[&str]) -> Child {
    Command::new(reqtrace())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Start `reqtrace ARGS | CONSUMER` in bash with pipefail (the pipeline's status is
/// reqtrace's unless the consumer fails), output piped.
pub fn spawn_pipeline(args: &str, consumer: &str) -> Child {
    let script = format!(
        "set -o pipefail; '{}' {args} | {consumer}",
        reqtrace().display()
    );
    Command::new("bash")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Run reqtrace to completion with a hard timeout (it is killed past it).
pub fn run_reqtrace(args: &[&str], timeout: Duration) -> Output {
    let child = Command::new(reqtrace())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child, timeout)
}

/// Collect a child's output (read concurrently, so a full pipe never blocks it), killing it
/// if it outlives `timeout`.
pub fn wait_output(child: Child, timeout: Duration) -> Output {
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            send_signal(pid, libc::SIGKILL);
            let out = rx.recv().unwrap().unwrap();
            panic!(
                "reqtrace did not finish within {timeout:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Parse JSON Lines; every line must be valid JSON.
pub fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8(out.to_vec())
        .expect("JSON output must be UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON line {l:?}: {e}")))
        .collect()
}

/// Wait for a reqtrace run, require exit 0 (showing its stderr otherwise), and parse its
/// JSON Lines.
pub fn finish_json(child: Child, timeout: Duration) -> Vec<Value> {
    let out = wait_output(child, timeout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

/// The request records among JSON lines.
pub fn requests(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|v| v["type"] == "request").collect()
}

pub fn syscalls(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|v| v["type"] == "syscall").collect()
}

/// Like `state_and_tracer`, None when the process is gone.
pub fn try_state_and_tracer(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let state = after.chars().next()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let tracer = status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))?
        .trim()
        .parse()
        .ok()?;
    Some((state, tracer))
}

/// The one-letter state of a process (/proc/PID/stat field 3) and its TracerPid.
pub fn state_and_tracer(pid: i32) -> (char, i32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let state = after.chars().next().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let tracer = status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (state, tracer)
}

/// Every thread of `pid` is running or sleeping (not stopped, not in a tracing stop) and
/// nobody traces it.
pub fn assert_untraced_and_running(pid: i32) {
    // A tracee may take a moment to leave its last stop after detach.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        // A process that exited meanwhile (a recycled worker) is not harmed.
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return;
        };
        let tids: Vec<i32> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        let states: Vec<(i32, char, i32)> = tids
            .iter()
            .filter_map(|&t| {
                let (s, tr) = try_state_and_tracer(t)?;
                Some((t, s, tr))
            })
            .collect();
        let ok = states
            .iter()
            .all(|&(_, s, tr)| matches!(s, 'S' | 'R' | 'D') && tr == 0);
        if ok {
            return;
        }
        if Instant::now() > deadline {
            panic!("process {pid} left traced or stopped: {states:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Find syscall events matching a name set and a path.
pub fn find<'a>(evs: &[&'a Value], names: &[&str], path: &str) -> Vec<&'a Value> {
    evs.iter()
        .copied()
        .filter(|e| names.iter().any(|n| e["syscall"] == *n) && e["path"] == path)
        .collect()
}

pub fn send_signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a process the test started.
    unsafe { libc::kill(pid, sig) };
}
pub mod apache;
pub mod fpm;
pub mod nginx;
pub mod php;

/// Wait until `pid` and every child it has are traced (attach finished for all of them).
pub fn wait_traced_tree(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let children: Vec<i32> =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect();
        let all_traced = std::iter::once(pid)
            .chain(children.iter().copied())
            .all(|p| {
                std::fs::metadata(format!("/proc/{p}")).is_err() || state_and_tracer(p).1 != 0
            });
        if all_traced && !children.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pid} and its children never all traced"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A process's current children (a server master's workers), sorted.
pub fn children(pid: i32) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

/// Stop a test server: SIGTERM (the master stops its workers and exits; nginx's fast
/// shutdown), then SIGKILL if it is still there after 10 s.
pub fn stop_server(child: &mut Child) {
    send_signal(child.id() as i32, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
