//! `run` never harms the command it launches: no ENOSYS from a filter left without its
//! tracer (children under --no-follow, reqtrace killed with SIGKILL, a command that ignores
//! SIGTERM), no lost exit status or killed command when the output closes, the signal
//! dispositions an untraced run would have, and a stdout that stays pure JSON with --json
//! without losing the command's own output. Real commands (bash, cat, fixtures), no mocks.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const T: Duration = Duration::from_secs(30);

/// A process the test did not start directly (the command reqtrace launched), killed with
/// SIGKILL on drop whatever the test found, so a failing test leaves nothing behind.
struct Stray(i32);

impl Drop for Stray {
    fn drop(&mut self) {
        if self.0 > 0 {
            send_signal(self.0, libc::SIGKILL);
        }
    }
}

/// Whether `pid` is gone (or a zombie waiting for its reaper: it runs no more).
fn gone(pid: i32) -> bool {
    try_state_and_tracer(pid).is_none_or(|(s, _)| s == 'Z' || s == 'X')
}

/// The command reqtrace launched: a child of its tracer thread, not of its main thread.
fn launched(reqtrace_pid: i32) -> i32 {
    let tasks = std::fs::read_dir(format!("/proc/{reqtrace_pid}/task")).unwrap();
    tasks
        .filter_map(|t| {
            let t = t.ok()?.file_name();
            std::fs::read_to_string(format!(
                "/proc/{reqtrace_pid}/task/{}/children",
                t.to_str()?
            ))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
        })
        .next()
        .expect("reqtrace has no child")
}

/// Item 1. Without --no-follow's tracer on the children, a seccomp filter inherited by them
/// would turn their file calls into ENOSYS (bash: rc=126 or 1; Python: Errno 38). Like
/// strace, which turns --seccomp-bpf off without -f, `run --no-follow` installs no filter:
/// children and threads run untraced and unharmed, the command itself is still traced.
#[test]
fn no_follow_leaves_children_and_threads_their_file_calls() {
    let dir = TempDir::new("harm-nofollow");
    let (own, theirs) = (dir.join("own.txt"), dir.join("child.txt"));
    std::fs::write(&own, "x").unwrap();
    std::fs::write(&theirs, "x").unwrap();
    let trace = dir.join("trace.jsonl");
    // bash opens own.txt itself (a builtin's redirection); cat, its child, opens child.txt.
    let script = format!(": <{own}; cat {theirs} >/dev/null; echo rc=$?; /bin/true; echo rc=$?");
    let out = run_reqtrace(
        &[
            "run",
            "--no-follow",
            "--json",
            "-o",
            &trace,
            "--",
            "bash",
            "-c",
            &script,
        ],
        T,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stdout, "rc=0\nrc=0\n",
        "the command's children failed under --no-follow; stderr: {stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    // The command itself is traced, its children are not.
    let lines = json_lines(&std::fs::read(&trace).unwrap());
    let evs = syscalls(&lines);
    assert!(
        evs.iter().any(|e| e["syscall"] == "execve"),
        "bash's execve was not traced"
    );
    assert_eq!(
        find(&evs, &["open", "openat"], &own).len(),
        1,
        "bash's own open was not traced"
    );
    assert!(
        find(&evs, &["open", "openat"], &theirs).is_empty(),
        "cat was followed despite --no-follow"
    );

    // Threads: each fixture thread's stat must give ENOENT (the fixture exits 1 otherwise).
    let out = run_reqtrace(
        &[
            "run",
            "--no-follow",
            "-o",
            "/dev/null",
            "--",
            fixture("fx_threads").to_str().unwrap(),
            dir.path().to_str().unwrap(),
            "--once",
            "4",
        ],
        T,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "the fixture's threads failed under --no-follow: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Item 2. reqtrace killed with SIGKILL in `run` mode: the command carries the filter and has
/// no tracer any more, so its traced calls (file calls, and the reads and writes the
/// correlator watches) would fail with ENOSYS: the fixture's eprintln then panics (exit 101),
/// a shell hangs or reports rc=126. Like strace, whose --seccomp-bpf implies --kill-on-exit,
/// the kernel kills the command with its tracer (PTRACE_O_EXITKILL): it never sees ENOSYS.
#[test]
fn killed_reqtrace_never_leaves_the_command_to_enosys() {
    // Orphans are reparented to this test process, which can then tell how the command
    // ended: killed with its tracer, or dead (or hung) of ENOSYS.
    // SAFETY: prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let dir = TempDir::new("harm-kill");
    let mut rt = Proc {
        child: Command::new(reqtrace())
            .args(["run", "-o", "/dev/null", "--"])
            .arg(fixture("fx_fileops"))
            .arg(dir.path())
            .arg("--loop")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    };
    let mut ready = String::new();
    BufReader::new(rt.child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "ready\n");
    let pid = launched(rt.pid());
    let _stray = Stray(pid);
    let mut err_pipe = rt.child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err_pipe.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    // A few rounds traced, then reqtrace dies.
    std::thread::sleep(Duration::from_millis(300));
    rt.child.kill().unwrap();
    rt.child.wait().unwrap();
    let status = reap(pid, Duration::from_secs(3));
    let stderr = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    let how = match status {
        None => "still running 3 s after reqtrace died".to_string(),
        Some(st) if libc::WIFSIGNALED(st) => format!("killed by signal {}", libc::WTERMSIG(st)),
        Some(st) => format!("exited with status {}", libc::WEXITSTATUS(st)),
    };
    assert_eq!(
        how,
        format!("killed by signal {}", libc::SIGKILL),
        "the command was not killed with its tracer; its stderr: {stderr}"
    );
}

/// Wait for `pid` (our child, or an orphan reparented to us as subreaper) to end; its wait
/// status, or None (and it is killed and reaped) if it outlives `within`.
fn reap(pid: i32, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    let mut st = 0;
    loop {
        // SAFETY: waitpid with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
        if r == pid {
            return Some(st);
        }
        if r < 0 || Instant::now() > deadline {
            send_signal(pid, libc::SIGKILL);
            // SAFETY: as above.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Item 3, a closed pipe. `run -- CMD | head -1`: the output is gone, but the command is
/// not reqtrace's to end: it runs on, traced without printing, and its exit status is
/// reqtrace's; stderr says once that the output closed.
#[test]
fn closed_output_keeps_the_command_running_and_passes_its_status_through() {
    let started = Instant::now();
    let child = spawn_pipeline(
        "run -- bash -c 'for i in $(seq 40); do cat /etc/hostname >/dev/null; sleep 0.02; done; \
         echo finished >&2; exit 5'",
        "head -n 1 >/dev/null",
    );
    let out = wait_output(child, T);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("finished"),
        "the command was ended when the output closed: {stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "reqtrace's status is not the command's: {stderr}"
    );
    assert_eq!(
        stderr.matches("output closed").count(),
        1,
        "the closed output is said once: {stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Item 3, a failing output: `run -o /dev/full` keeps the command and its status (7), and
/// says once why nothing more is written.
#[test]
fn failing_output_keeps_the_command_and_its_status() {
    let out = run_reqtrace(
        &[
            "run",
            "-o",
            "/dev/full",
            "--",
            "bash",
            "-c",
            "cat /etc/hostname >/dev/null; sleep 0.3; cat /etc/hostname >/dev/null; \
             echo finished >&2; exit 7",
        ],
        T,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "stderr: {stderr}");
    assert!(stderr.contains("finished"), "{stderr}");
    assert_eq!(
        stderr.matches("No space left on device").count(),
        1,
        "the failure is said once: {stderr}"
    );
}

/// The command gets the signal dispositions it would get untraced: reqtrace's own ignored
/// SIGPIPE (set by the Rust runtime) must not be inherited, or `run -- yes | head` makes
/// `yes` fail with EPIPE instead of dying quietly of SIGPIPE.
#[test]
fn the_command_inherits_no_ignored_sigpipe() {
    // The ignored and blocked masks, as bash sees them (glibc's own real-time signals
    // aside: the test harness and reqtrace set those up differently).
    let script = "grep -E '^Sig(Ign|Blk)' /proc/self/status";
    let masks = |out: &[u8]| -> Vec<u64> {
        String::from_utf8_lossy(out)
            .lines()
            .map(|l| u64::from_str_radix(l.split_whitespace().nth(1).unwrap(), 16).unwrap())
            .map(|m| m & 0x7fff_ffff)
            .collect()
    };
    let plain = Command::new("bash").args(["-c", script]).output().unwrap();
    let traced = run_reqtrace(&["run", "-o", "/dev/null", "--", "bash", "-c", script], T);
    assert_eq!(traced.status.code(), Some(0));
    assert_eq!(
        masks(&traced.stdout),
        masks(&plain.stdout),
        "blocked and ignored signals differ from an untraced run (SIGPIPE is bit {:#x})",
        1u64 << (libc::SIGPIPE - 1)
    );
    // And so the classic pipe ends the way it does untraced: yes dies of SIGPIPE (141).
    let child = spawn_pipeline("run -o /dev/null -- yes", "head -n 1 >/dev/null");
    let out = wait_output(child, T);
    assert_eq!(
        out.status.code(),
        Some(128 + libc::SIGPIPE),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Item 12. `run --json -- ls / | jq`: stdout is the JSON stream, so the command's own
/// standard output goes to reqtrace's standard error (nothing lost, nothing mixed in).
/// With `-o FILE` the command keeps reqtrace's stdout.
#[test]
fn json_on_stdout_stays_pure_and_the_commands_output_goes_to_stderr() {
    let out = run_reqtrace(
        &[
            "run",
            "--json",
            "--",
            "bash",
            "-c",
            "echo hello-from-the-command; ls / >/dev/null",
        ],
        T,
    );
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out.stdout);
    assert!(lines.iter().any(|v| v["type"] == "summary"), "{lines:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hello-from-the-command\n"),
        "the command's output was lost"
    );

    // The README's recipe, through jq.
    let child = spawn_pipeline(
        "run --json -- ls /",
        "jq -s 'map(select(.errno)) | group_by(.path) | map({path: .[0].path, n: length})' \
         >/dev/null",
    );
    let out = wait_output(child, T);
    assert_eq!(
        out.status.code(),
        Some(0),
        "jq failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // With -o FILE the output is elsewhere: the command's stdout is reqtrace's, as before.
    let dir = TempDir::new("harm-json");
    let trace = dir.join("t.jsonl");
    let out = run_reqtrace(
        &["run", "--json", "-o", &trace, "--", "echo", "on-stdout"],
        T,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "on-stdout\n");
    json_lines(&std::fs::read(&trace).unwrap());
}

/// Item 17 (part). `--duration` ends a command under the filter (it cannot run on
/// untraced). One that ignores SIGTERM is told so on stderr, killed after a short grace,
/// and never left running with the filter and no tracer.
#[test]
fn duration_kills_a_command_that_ignores_sigterm_and_says_so() {
    let started = Instant::now();
    let mut rt = Command::new(reqtrace())
        .args([
            "run",
            "-o",
            "/dev/null",
            "--duration",
            "1",
            "--",
            "bash",
            "-c",
            // Its output away from our pipes: a command left running must not hold them.
            "trap '' TERM; echo pid=$$; exec sleep 30 >/dev/null 2>&1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(rt.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let pid: i32 = first
        .trim()
        .strip_prefix("pid=")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let _stray = Stray(pid);
    let out = wait_output(rt, T);
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        gone(pid),
        "the command was left running (with the filter, untraced); stderr: {stderr}"
    );
    assert!(
        elapsed < Duration::from_secs(7),
        "took {elapsed:?} to end a command ignoring SIGTERM; stderr: {stderr}"
    );
    assert!(
        stderr.contains("SIGTERM sent") && stderr.contains("SIGKILL sent"),
        "the wait and the kill are not said: {stderr}"
    );
}

/// Item 17 (part), a stop that is not a signal: `run --count 1` ends a command under the
/// filter once its request is reported. One that ignores SIGTERM and then makes no traced
/// call must still be killed after the grace: the tracer must keep waking up to look at the
/// clock (it slept in waitpid forever). The command is a bash that serves one request on
/// a connection this test opens to it, as a server would.
#[test]
fn count_reached_kills_a_command_that_ignores_sigterm() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        let mut status = [0u8; 19];
        conn.read_exact(&mut status).unwrap();
        // A byte more: the server's next read ends the request (it is then reported).
        conn.write_all(b"\n").unwrap();
        std::thread::sleep(Duration::from_secs(15));
    });
    let script = format!(
        "trap '' TERM; echo pid=$$; exec 3<>/dev/tcp/127.0.0.1/{port}; \
         IFS= read -r -d '' -n 28 req <&3; printf 'HTTP/1.1 200 OK\\r\\n\\r\\n' >&3; \
         IFS= read -r x <&3; exec sleep 30 >/dev/null 2>&1"
    );
    let started = Instant::now();
    let mut rt = Command::new(reqtrace())
        .args([
            "run",
            "--count",
            "1",
            "-o",
            "/dev/null",
            "--",
            "bash",
            "-c",
            &script,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(rt.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let pid: i32 = first
        .trim()
        .strip_prefix("pid=")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let _stray = Stray(pid);
    let out = wait_output(rt, Duration::from_secs(12));
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.contains("--count reached"), "{stderr}");
    assert!(gone(pid), "the command was left running; stderr: {stderr}");
    assert!(
        elapsed < Duration::from_secs(8),
        "took {elapsed:?}; stderr: {stderr}"
    );
    drop(client);
}

/// What reqtrace inherited ignored, the command inherits ignored, as it would untraced:
/// `nohup reqtrace run CMD` must leave CMD immune to SIGHUP, though reqtrace itself handles
/// SIGHUP (a handled signal is reset to default on exec, an ignored one stays ignored).
#[test]
fn a_command_keeps_the_signals_reqtrace_inherited_ignored() {
    let script = "grep -E '^SigIgn' /proc/self/status";
    let out = Command::new("nohup")
        .arg(reqtrace())
        .args(["run", "-o", "/dev/null", "--", "bash", "-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let ign = text
        .split_whitespace()
        .nth(1)
        .and_then(|m| u64::from_str_radix(m, 16).ok())
        .unwrap_or_else(|| panic!("no SigIgn line: {text:?}"));
    assert_ne!(
        ign & (1 << (libc::SIGHUP - 1)),
        0,
        "SIGHUP not ignored under nohup: {text:?}"
    );
}

/// A terminal that stops taking output (Ctrl-S suspends a tty's output; a stuck ssh session
/// fills it) must not stop the traced process. reqtrace's status line goes to that terminal
/// every second; it is written by the ticker thread, with the pipeline's lock released,
/// never by the tracer thread the traced process waits for: the trace, and the process, go
/// on while the terminal is stopped, and the line comes when it starts again.
#[test]
fn a_stopped_terminal_on_stderr_does_not_stop_the_traced_process() {
    use std::os::fd::FromRawFd;
    let dir = TempDir::new("stopped-tty");
    let fx = start_fixture("fx_fileops", &dir, &["--loop"]);
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty fills the two descriptors; no name, termios or window size wanted.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: `slave` is the pty's slave, open. TCOOFF suspends its output, as Ctrl-S does.
    assert_eq!(unsafe { libc::tcflow(slave, libc::TCOOFF) }, 0);
    let out = dir.join("out.json");
    // SAFETY: a duplicate of our open slave descriptor, owned by the Stdio from here on.
    let err = unsafe { Stdio::from_raw_fd(libc::dup(slave)) };
    let child = Command::new(reqtrace())
        .args(["attach", "--json", "-o", &out, &fx.pid().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let lines = || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .count()
    };
    // The status line is due after 1 s and 2 s: both writes wait for the terminal.
    std::thread::sleep(Duration::from_millis(2500));
    let before = lines();
    std::thread::sleep(Duration::from_millis(1500));
    let after = lines();
    // SAFETY: as above; the terminal takes output again.
    unsafe { libc::tcflow(slave, libc::TCOON) };
    // SAFETY: `master` is open and owned by this File from here on.
    let mut m = unsafe { std::fs::File::from_raw_fd(master) };
    let drain = std::thread::spawn(move || {
        let mut shown = Vec::new();
        // EIO once every slave descriptor is closed: what was read is kept.
        let _ = m.read_to_end(&mut shown);
        String::from_utf8_lossy(&shown).into_owned()
    });
    send_signal(child.id() as i32, libc::SIGINT);
    let status = wait_output(child, Duration::from_secs(10)).status;
    // SAFETY: our own descriptor, closed once.
    unsafe { libc::close(slave) };
    let shown = drain.join().unwrap();
    assert!(
        before > 0 && after > before + 20,
        "the trace stopped while the terminal was stopped: {before} lines at 2.5 s, {after} \
         at 4 s (the fixture makes about 150 calls a second)"
    );
    assert!(status.success(), "{status:?}: {shown}");
    assert!(shown.contains("processes traced"), "{shown}");
    assert_untraced_and_running(fx.pid());
}
