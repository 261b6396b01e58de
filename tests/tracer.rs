//! End-to-end tests of the core tracer against real fixture processes (examples/fx_*.rs):
//! decoding, attach and detach, threads, fork/exec, odd paths, signals, errors and exit codes.
//! They need ptrace rights over the fixtures (root in CI).

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const T: Duration = Duration::from_secs(30);

fn run_json(
    fixture_name: &str,
    dir: &TempDir,
    extra: &[&str],
) -> (Vec<Value>, std::process::Output) {
    run_json_with(fixture_name, dir, extra, &[])
}

/// `run_json`, with `fx_args` given to the fixture after DIR.
fn run_json_with(
    fixture_name: &str,
    dir: &TempDir,
    extra: &[&str],
    fx_args: &[&str],
) -> (Vec<Value>, std::process::Output) {
    let fx = fixture(fixture_name);
    // The trace goes to a file: the fixture's own stdout ("ready") shares ours.
    let trace = dir.join("trace.jsonl");
    let mut args = vec!["run", "--json", "-o", &trace];
    args.extend_from_slice(extra);
    args.push("--");
    args.push(fx.to_str().unwrap());
    let d = dir.path().to_str().unwrap().to_string();
    args.push(&d);
    args.extend_from_slice(fx_args);
    let out = run_reqtrace(&args, T);
    let text = std::fs::read(&trace).unwrap_or_default();
    (json_lines(&text), out)
}

#[test]
fn run_decodes_each_fixture_call_with_absolute_paths_and_errnos() {
    let dir = TempDir::new("fileops");
    let (lines, out) = run_json("fx_fileops", &dir, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines[0]["type"], "start");
    assert_eq!(lines[0]["version"], 1);
    assert_eq!(lines[0]["mode"], "run");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "summary");
    let evs = syscalls(&lines);
    assert_eq!(last["syscalls"].as_u64().unwrap() as usize, evs.len());

    let missing = find(&evs, &["open", "openat"], &dir.join("missing.phpp"));
    assert_eq!(missing.len(), 1, "{evs:#?}");
    let m = missing[0];
    assert_eq!(m["ret"], -2);
    assert_eq!(m["errno"], "ENOENT");
    assert_eq!(m["error"], "No such file or directory");
    assert_eq!(m["args"][0], "AT_FDCWD");
    assert_eq!(m["args"][2], "O_RDONLY");
    assert!(m["comm"].as_str().unwrap().starts_with("fx_fileops"));
    assert!(m["pid"].as_i64().unwrap() > 0 && m["tid"] == m["pid"]);

    let nope = find(&evs, &["stat", "newfstatat", "statx"], &dir.join("nope"));
    assert_eq!(nope[0]["errno"], "ENOENT");
    assert_eq!(nope[0]["stat_kind"], "stat");

    let link = find(&evs, &["lstat", "newfstatat", "statx"], &dir.join("link"));
    assert_eq!(link[0]["ret"], 0);
    assert_eq!(link[0]["errno"], Value::Null);
    assert_eq!(link[0]["stat_kind"], "lstat");

    let acc_ok = find(
        &evs,
        &["access", "faccessat", "faccessat2"],
        &dir.join("file.txt"),
    );
    assert!(acc_ok.iter().any(|e| e["ret"] == 0));
    let acc = find(
        &evs,
        &["access", "faccessat", "faccessat2"],
        &dir.join("absent"),
    );
    assert_eq!(acc[0]["errno"], "ENOENT");

    let rl = find(&evs, &["readlink", "readlinkat"], &dir.join("link"));
    assert_eq!(rl[0]["ret"], 8);
    assert!(
        rl[0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "file.txt")
    );

    let ren = find(
        &evs,
        &["rename", "renameat", "renameat2"],
        &dir.join("file.txt"),
    );
    assert!(
        ren.iter().any(|e| e["path2"] == dir.join("file2.txt")),
        "{ren:#?}"
    );

    // Relative path after chdir, resolved against the cwd at the time of the call.
    let rel = find(&evs, &["open", "openat"], &dir.join("sub/rel.txt"));
    assert_eq!(rel.len(), 1, "relative open not resolved: {evs:#?}");
    assert_eq!(rel[0]["args"][1], "rel.txt");
    assert_eq!(rel[0]["errno"], "ENOENT");

    // openat through a directory fd.
    let inner = find(&evs, &["openat"], &dir.join("inner.txt"));
    assert_eq!(inner.len(), 1);
    assert!(
        inner[0]["args"][0].is_i64(),
        "dirfd is a number: {}",
        inner[0]
    );

    // The fstat of an open fd is a newfstatat(fd, "", AT_EMPTY_PATH) on this glibc: fstat.
    let fst: Vec<_> = evs
        .iter()
        .filter(|e| e["stat_kind"] == "fstat" && e["path"] == dir.join("file.txt"))
        .collect();
    assert!(!fst.is_empty(), "no fstat of file.txt: {evs:#?}");
    let cloexec = find(&evs, &["open", "openat"], &dir.join("file.txt"));
    assert!(cloexec.iter().any(|e| e["args"][2] == "O_RDONLY|O_CLOEXEC"));
}

#[test]
fn run_exits_with_the_commands_status() {
    let out = run_reqtrace(&["run", "--", "sh", "-c", "exit 3"], T);
    assert_eq!(out.status.code(), Some(3));
    let out = run_reqtrace(&["run", "--", "sh", "-c", "kill -TERM $$"], T);
    assert_eq!(out.status.code(), Some(128 + 15));
}

#[test]
fn failed_only_shows_only_failures() {
    let dir = TempDir::new("failed");
    let (lines, _) = run_json("fx_fileops", &dir, &["--failed"]);
    let evs = syscalls(&lines);
    assert!(evs.len() >= 5);
    assert!(evs.iter().all(|e| e["errno"].is_string()), "{evs:#?}");
}

#[test]
fn trace_selects_classes_and_names() {
    let dir = TempDir::new("trace");
    let (lines, _) = run_json("fx_fileops", &dir, &["--trace", "readlink,rename"]);
    let names: std::collections::BTreeSet<&str> = syscalls(&lines)
        .iter()
        .map(|e| e["syscall"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec!["readlink", "rename"]
    );
    let (lines, _) = run_json("fx_fileops", &dir, &["--trace", "stat"]);
    let evs = syscalls(&lines);
    assert!(!evs.is_empty());
    assert!(evs.iter().all(|e| e["stat_kind"].is_string()), "{evs:#?}");
}

/// Same calls, same paths, same errnos as `strace -f -e trace=%file` on the same fixture.
#[test]
fn file_class_matches_strace() {
    let dir = TempDir::new("strace-ours");
    let (lines, _) = run_json("fx_fileops", &dir, &[]);
    let dir_s = dir.path().to_str().unwrap().to_string();
    let ours: Vec<(String, String, String)> = syscalls(&lines)
        .iter()
        .map(|e| {
            let first_str = e["args"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a.is_string() && a != &"AT_FDCWD")
                .map(|a| a.as_str().unwrap().replace(&dir_s, "DIR"))
                .unwrap_or_default();
            let errno = e["errno"].as_str().unwrap_or("").to_string();
            (e["syscall"].as_str().unwrap().to_string(), first_str, errno)
        })
        .collect();

    let sdir = TempDir::new("strace-theirs");
    let sdir_s = sdir.path().to_str().unwrap().to_string();
    let log = sdir.join("strace.log");
    let status = std::process::Command::new("strace")
        .args(["-f", "-qq", "-s", "4096", "-e", "trace=%file", "-o", &log])
        .arg(fixture("fx_fileops"))
        .arg(sdir.path())
        .status()
        .expect("strace is installed by scripts/test.sh");
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let theirs: Vec<(String, String, String)> = text
        .lines()
        .filter(|l| l.contains('('))
        .map(|l| {
            let l = l.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
            let name = l[..l.find('(').unwrap()].to_string();
            let first_str = l
                .split('"')
                .nth(1)
                .map(|s| s.replace(&sdir_s, "DIR"))
                .unwrap_or_default();
            let errno = l
                .rsplit_once(" = -1 ")
                .map(|(_, r)| r.split(' ').next().unwrap().to_string())
                .unwrap_or_default();
            (name, first_str, errno)
        })
        .collect();
    let mut a = ours.clone();
    let mut b = theirs.clone();
    a.sort();
    b.sort();
    let only_ours: Vec<_> = a.iter().filter(|x| !b.contains(x)).collect();
    let only_theirs: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
    assert!(
        a == b,
        "only in reqtrace: {only_ours:?}\nonly in strace: {only_theirs:?}\n({} vs {} calls)",
        a.len(),
        b.len()
    );
    assert!(
        a.iter()
            .any(|(n, p, e)| n == "openat" && p == "DIR/missing.phpp" && e == "ENOENT")
    );
    assert!(a.len() >= 12);
}

#[test]
fn attach_sees_calls_then_detaches_leaving_the_process_running() {
    let dir = TempDir::new("attach");
    let fx = start_fixture("fx_fileops", &dir, &[]);
    let pid = fx.pid().to_string();
    let out = run_reqtrace(&["attach", "--json", "--duration", "1", &pid], T);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines[0]["type"], "start");
    assert_eq!(lines[0]["targets"][0], fx.pid());
    let evs = syscalls(&lines);
    let missing = find(&evs, &["openat"], &dir.join("missing.phpp"));
    assert!(
        missing.len() >= 3,
        "expected ~10 loops in 1 s: {}",
        missing.len()
    );
    assert!(
        missing
            .iter()
            .all(|e| e["pid"] == fx.pid() && e["errno"] == "ENOENT")
    );
    assert_eq!(
        lines.last().unwrap()["reason"],
        "duration reached, detached"
    );
    assert_untraced_and_running(fx.pid());
    // It keeps working after detach: the loop still runs (its file is still renamed back).
    std::thread::sleep(Duration::from_millis(300));
    assert_untraced_and_running(fx.pid());
    assert!(dir.path().join("file.txt").exists());
}

#[test]
fn attach_follows_every_thread() {
    let dir = TempDir::new("threads");
    let fx = start_fixture("fx_threads", &dir, &["4"]);
    let out = run_reqtrace(
        &["attach", "--json", "--duration", "1", &fx.pid().to_string()],
        T,
    );
    let lines = json_lines(&out.stdout);
    let evs = syscalls(&lines);
    let mut tids = std::collections::BTreeSet::new();
    for i in 0..4 {
        let hits = find(
            &evs,
            &["newfstatat", "stat", "statx"],
            &dir.join(&format!("thread-{i}-missing")),
        );
        assert!(!hits.is_empty(), "thread {i} not traced");
        for h in hits {
            assert_eq!(h["pid"], fx.pid());
            tids.insert(h["tid"].as_i64().unwrap());
        }
    }
    assert_eq!(tids.len(), 4, "four distinct tids");
    assert!(!tids.contains(&(fx.pid() as i64)));
    assert_untraced_and_running(fx.pid());
}

#[test]
fn attach_follows_forks_and_execs_unless_no_follow() {
    let dir = TempDir::new("fork");
    let fx = start_fixture("fx_forkexec", &dir, &[]);
    let pid = fx.pid().to_string();
    let out = run_reqtrace(&["attach", "--json", "--duration", "1", &pid], T);
    let evs_lines = json_lines(&out.stdout);
    let evs = syscalls(&evs_lines);
    let child = find(&evs, &["openat"], &dir.join("child-missing"));
    assert!(!child.is_empty(), "forked child not followed");
    assert!(child.iter().all(|e| e["pid"] != fx.pid()));
    let exec = evs
        .iter()
        .filter(|e| e["syscall"] == "execve" && e["ret"] == 0)
        .count();
    assert!(exec >= 1, "execve not seen");
    let after = find(
        &evs,
        &["newfstatat", "stat"],
        &dir.join("after-exec-missing"),
    );
    assert!(!after.is_empty(), "exec'd program not followed");
    assert!(after.iter().all(|e| e["comm"] == "fx_forkexec"));

    let out = run_reqtrace(
        &["attach", "--json", "--no-follow", "--duration", "1", &pid],
        T,
    );
    let lines = json_lines(&out.stdout);
    let evs = syscalls(&lines);
    assert!(
        evs.iter().all(|e| e["pid"] == fx.pid()),
        "--no-follow traced a child"
    );
    assert_untraced_and_running(fx.pid());
}

/// A non-leader thread's exec while every thread, the leader included, makes calls without
/// pause: the exec'ing thread takes the leader's tid. Stops read in one round are resumed
/// together at its end; a resume queued for the leader could resume the exec'ing thread
/// past its exec event instead (the exec unreported, the old program's state kept), so a
/// leader with other threads is resumed at once. The race is timing-dependent: this test
/// does not catch it every time, but every run checks the exec is reported and the new
/// program traced. With and without the seccomp filter (without it: attach's stops).
#[test]
fn a_threads_exec_while_every_thread_makes_calls() {
    for extra in [&[][..], &["--no-seccomp"][..]] {
        for _ in 0..3 {
            let dir = TempDir::new("thread-exec");
            let (lines, out) = run_json_with("fx_threads", &dir, extra, &["--exec", "3"]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{extra:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let evs = syscalls(&lines);
            let execs: Vec<_> = evs
                .iter()
                .filter(|e| e["syscall"] == "execve" && e["ret"] == 0)
                .collect();
            assert_eq!(
                execs.len(),
                2,
                "{extra:?}: the launch and the thread's exec"
            );
            let exec = execs[1];
            assert_eq!(exec["path"], "/proc/self/exe");
            // Reported on the leader's tid, which the exec'ing thread took.
            assert_eq!(exec["tid"], exec["pid"], "{extra:?}: {exec}");
            let after: Vec<_> = find(&evs, &["newfstatat", "stat"], &dir.join("thread-0-missing"))
                .into_iter()
                .filter(|e| e["ts"].as_f64() > exec["ts"].as_f64())
                .collect();
            assert_eq!(after.len(), 1, "{extra:?}: the new image's one call");
            assert_eq!(after[0]["errno"], "ENOENT");
            assert_ne!(after[0]["tid"], after[0]["pid"]);
            let summary = lines.last().unwrap();
            assert_eq!(summary["type"], "summary");
            assert_eq!(summary["dropped"], 0);
        }
    }
}

#[test]
fn odd_paths_give_valid_json_and_safe_text() {
    let dir = TempDir::new("odd");
    let (lines, _) = run_json("fx_oddpaths", &dir, &[]);
    let evs = syscalls(&lines);
    let nl = find(&evs, &["openat"], &dir.join("new\nline"));
    assert_eq!(nl.len(), 1);
    assert!(!find(&evs, &["openat"], &dir.join("esc\x1b[31mred")).is_empty());
    // Invalid UTF-8: lossy string plus the exact bytes in path_hex.
    let bad: Vec<_> = evs.iter().filter(|e| e["path_hex"].is_string()).collect();
    assert_eq!(bad.len(), 1, "{evs:#?}");
    let hex = bad[0]["path_hex"].as_str().unwrap();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let mut want = dir.path().to_str().unwrap().as_bytes().to_vec();
    want.extend_from_slice(b"/bad\xff\xfeutf8");
    assert_eq!(bytes, want);
    // An unreadable pointer is shown as its address and listed in `unreadable`.
    let fault: Vec<_> = evs.iter().filter(|e| e["errno"] == "EFAULT").collect();
    assert_eq!(fault.len(), 1, "{evs:#?}");
    assert_eq!(fault[0]["args"][1], "0x1");
    assert_eq!(fault[0]["unreadable"], serde_json::json!([1]));
    assert_eq!(fault[0]["path"], Value::Null);
    let long: Vec<_> = evs
        .iter()
        .filter(|e| e["errno"] == "ENAMETOOLONG")
        .collect();
    assert_eq!(long.len(), 2);
    assert!(
        long.iter()
            .any(|e| e["path"].as_str().unwrap().len() == 4095)
    );

    // Human text: no raw control bytes, one line per call.
    let fx = fixture("fx_oddpaths");
    let txt = dir.join("trace.txt");
    let out = run_reqtrace(
        &[
            "run",
            "--color",
            "always",
            "-o",
            &txt,
            "--",
            fx.to_str().unwrap(),
            dir.path().to_str().unwrap(),
        ],
        T,
    );
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read(&txt).unwrap();
    let mut tracee_lines = 0;
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with(b"[pid "),
            "line broken by a tracee byte: {:?}",
            String::from_utf8_lossy(line)
        );
        tracee_lines += 1;
        // Our own colour codes are ESC [ ... m; a tracee ESC would appear escaped as \x1b.
        let s = String::from_utf8_lossy(line);
        assert!(
            !s.contains("\x1b[31mred"),
            "raw escape from the tracee reached the terminal"
        );
    }
    assert!(tracee_lines >= 7);
    let s = String::from_utf8_lossy(&text);
    assert!(s.contains("0x1 /* unreadable */"), "{s}");
    assert!(
        s.contains(r#"new\nline"#)
            && s.contains(r"esc\x1b[31mred")
            && s.contains(r"bad\xff\xfeutf8")
    );
}

#[test]
fn signals_reach_the_tracee_and_group_stops_behave() {
    let dir = TempDir::new("signals");
    let fx = start_fixture("fx_signals", &dir, &[]);
    let pid = fx.pid();
    let child = std::process::Command::new(reqtrace())
        .args([
            "attach",
            "--json",
            "-o",
            "/dev/null",
            "--duration",
            "4",
            &pid.to_string(),
        ])
        .spawn()
        .unwrap();
    // Wait until attached (TracerPid set).
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while state_and_tracer(pid).1 == 0 {
        assert!(std::time::Instant::now() < deadline, "never attached");
        std::thread::sleep(Duration::from_millis(10));
    }
    let counts = || std::fs::read_to_string(dir.path().join("counts")).unwrap_or_default();
    let wait_counts = |want: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while counts().trim() != want {
            assert!(
                std::time::Instant::now() < deadline,
                "counts {:?}, want {want}",
                counts()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    send_signal(pid, libc::SIGUSR2);
    wait_counts("usr2=1 hup=0");
    send_signal(pid, libc::SIGHUP);
    wait_counts("usr2=1 hup=1");
    // SIGSTOP while traced stops it as it would untraced: a signal sent while it is stopped
    // is not handled until SIGCONT (a traced group-stop shows as 't' in /proc, which is
    // expected; what matters is that it does not run).
    send_signal(pid, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        matches!(state_and_tracer(pid).0, 'T' | 't'),
        "{:?}",
        state_and_tracer(pid)
    );
    send_signal(pid, libc::SIGUSR2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        counts().trim(),
        "usr2=1 hup=1",
        "a stopped process handled a signal"
    );
    send_signal(pid, libc::SIGCONT);
    wait_counts("usr2=2 hup=1");
    let out = wait_output(child, T);
    assert_eq!(out.status.code(), Some(0));
    assert_untraced_and_running(pid);
}

fn stop_with_signal(sig: i32) {
    let dir = TempDir::new("stop");
    let fx = start_fixture("fx_idle", &dir, &[]);
    let pid = fx.pid();
    let child = std::process::Command::new(reqtrace())
        .args(["attach", "--json", &pid.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while state_and_tracer(pid).1 == 0 {
        assert!(std::time::Instant::now() < deadline, "never attached");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    send_signal(child.id() as i32, sig);
    let out = wait_output(child, Duration::from_secs(5));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.last().unwrap()["type"], "summary");
    assert_untraced_and_running(pid);
}

#[test]
fn sigterm_detaches_cleanly() {
    stop_with_signal(libc::SIGTERM);
}

#[test]
fn sigint_detaches_cleanly() {
    stop_with_signal(libc::SIGINT);
}

#[test]
fn sighup_detaches_cleanly() {
    stop_with_signal(libc::SIGHUP);
}

#[test]
fn closed_output_pipe_detaches_and_exits_zero() {
    let dir = TempDir::new("pipe");
    let fx = start_fixture("fx_fileops", &dir, &[]);
    let child = spawn_pipeline(&format!("attach {}", fx.pid()), "head -n 1 >/dev/null");
    let out = wait_output(child, Duration::from_secs(10));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_untraced_and_running(fx.pid());
}

#[test]
fn killed_tracer_leaves_the_process_running() {
    let dir = TempDir::new("kill");
    let fx = start_fixture("fx_fileops", &dir, &[]);
    let pid = fx.pid();
    let child = std::process::Command::new(reqtrace())
        .args(["attach", "-o", "/dev/null", &pid.to_string()])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while state_and_tracer(pid).1 == 0 {
        assert!(std::time::Instant::now() < deadline, "never attached");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut p = Proc { child };
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    assert_untraced_and_running(pid);
}

#[test]
fn attach_errors_name_the_problem_and_exit_2() {
    // A PID that does not exist.
    let out = run_reqtrace(&["attach", "4194303"], T);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no process with PID 4194303"), "{err}");

    // Our own ancestor (this test process).
    let out = run_reqtrace(&["attach", &std::process::id().to_string()], T);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reqtrace itself or one of its parents"));

    // Already traced by someone else.
    let dir = TempDir::new("traced");
    let fx = start_fixture("fx_idle", &dir, &[]);
    let strace = std::process::Command::new("strace")
        .args(["-qq", "-o", "/dev/null", "-p", &fx.pid().to_string()])
        .spawn()
        .unwrap();
    let strace = Proc { child: strace };
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while state_and_tracer(fx.pid()).1 == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "strace never attached"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = run_reqtrace(&["attach", &fx.pid().to_string()], T);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("already traced by PID {}", strace.pid())),
        "{err}"
    );
    drop(strace);

    // Usage errors.
    let out = run_reqtrace(&["attach", "--trace", "nosuchclass", "1"], T);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuchclass"));
    let out = run_reqtrace(&["attach", "notapid"], T);
    assert_eq!(out.status.code(), Some(2));
    let out = run_reqtrace(&["run", "--", "/no/such/command"], T);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("command not found"));
}

/// `run` installs a seccomp-bpf filter so only traced syscalls stop; the calls seen must be
/// the same as when every syscall stops (`--no-seccomp`), forks and execs included.
#[test]
fn seccomp_filter_sees_the_same_calls_as_stopping_at_every_syscall() {
    let calls = |extra: &[&str]| {
        let dir = TempDir::new("seccomp");
        let (lines, out) = run_json("fx_forkexec", &dir, extra);
        assert_eq!(out.status.code(), Some(0));
        let d = dir.path().to_str().unwrap().to_string();
        let mut v: Vec<(String, String, String)> = syscalls(&lines)
            .iter()
            .map(|e| {
                (
                    e["syscall"].as_str().unwrap().to_string(),
                    e["path"].as_str().unwrap_or("").replace(&d, "DIR"),
                    e["errno"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let filtered = calls(&[]);
    let every = calls(&["--no-seccomp"]);
    assert_eq!(filtered, every);
    assert!(
        filtered
            .iter()
            .any(|c| c.1 == "DIR/after-exec-missing" && c.2 == "ENOENT")
    );
    assert!(
        filtered
            .iter()
            .any(|c| c.1 == "DIR/child-missing" && c.2 == "ENOENT")
    );
}

/// A command under the seccomp filter cannot run on without its tracer (its traced syscalls
/// would fail with ENOSYS), so an early stop in `run` ends the command with SIGTERM rather
/// than detaching, and reqtrace exits 0 as for any requested stop.
#[test]
fn run_duration_stops_the_command_under_the_filter() {
    let dir = TempDir::new("run-duration");
    let fx = fixture("fx_idle");
    let started = std::time::Instant::now();
    let out = run_reqtrace(
        &[
            "run",
            "--json",
            "--duration",
            "1",
            "--",
            fx.to_str().unwrap(),
            dir.path().to_str().unwrap(),
            "--loop",
        ],
        T,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(8));
    // The summary is the last line (the fixture's own "ready" goes to stderr under --json).
    let text = String::from_utf8_lossy(&out.stdout);
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["reason"], "duration reached, detached");
}
