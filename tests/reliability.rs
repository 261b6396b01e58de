//! Reliability on a real Apache under load (loopback, bounded in time): whatever happens to
//! reqtrace, the server is never harmed; no request is lost silently; reqtrace needs and
//! checks its privileges. Each test prints its figures on stderr (`--nocapture`) for
//! docs/reliability.md.

mod common;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::apache::Apache;
use common::*;

/// One load test at a time: they share two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const T: Duration = Duration::from_secs(120);

fn all_untraced(a: &Apache) {
    assert_untraced_and_running(a.pid());
    for w in a.workers() {
        if std::fs::metadata(format!("/proc/{w}")).is_ok() {
            assert_untraced_and_running(w);
        }
    }
}

/// Kill reqtrace with SIGKILL while the server is loaded: the kernel detaches its tracees,
/// none is left stopped, and the server serves at its untraced rate again.
#[test]
fn sigkill_mid_load_leaves_the_server_serving_at_full_rate() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let before = a.rate("/hello.html", 4, 1.5);
    let child = a.attach_bg(&["--json", "-o", "/dev/null"]);
    let stop = Arc::new(AtomicBool::new(false));
    let load = a.load("/hello.html", 4, Duration::from_secs(20), stop.clone());
    std::thread::sleep(Duration::from_millis(800));
    let mut p = Proc { child };
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    all_untraced(&a);
    stop.store(true, Ordering::Relaxed);
    let (ok, errors) = load.join().unwrap();
    assert_eq!(errors, 0, "requests failed while reqtrace was killed");
    let after = a.rate("/hello.html", 4, 1.5);
    eprintln!(
        "FIGURE sigkill: {ok} requests during the kill, 0 errors; rate before {before:.0}/s, after {after:.0}/s"
    );
    assert!(
        after > before * 0.6,
        "rate after the kill {after:.0}/s vs {before:.0}/s before"
    );
}

/// SIGINT, SIGTERM, --duration and --count while the server is loaded: exit 0, every
/// process untraced and running, and no client saw an error.
#[test]
fn requested_stops_under_load_detach_cleanly() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let cases: [(&str, Vec<&str>, Option<i32>); 4] = [
        ("SIGINT", vec!["--json"], Some(libc::SIGINT)),
        ("SIGTERM", vec!["--json"], Some(libc::SIGTERM)),
        ("--duration", vec!["--json", "--duration", "1"], None),
        ("--count", vec!["--json", "--count", "50"], None),
    ];
    for (name, args, sig) in cases {
        let stop = Arc::new(AtomicBool::new(false));
        let load = a.load("/hello.html", 4, Duration::from_secs(30), stop.clone());
        let child = a.attach_bg(&args);
        std::thread::sleep(Duration::from_millis(700));
        if let Some(sig) = sig {
            send_signal(child.id() as i32, sig);
        }
        let started = Instant::now();
        let out = wait_output(child, T);
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let (ok, errors) = load.join().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(errors, 0, "{name}: client errors");
        let lines = json_lines(&out.stdout);
        let sum = lines.last().unwrap();
        assert_eq!(sum["type"], "summary", "{name}");
        if name == "--count" {
            assert_eq!(sum["requests"], 50);
        }
        all_untraced(&a);
        eprintln!(
            "FIGURE stop {name}: exit 0 after {:.2} s, {} requests recorded, {ok} answered under load, 0 errors",
            took.as_secs_f64(),
            sum["requests"]
        );
    }
}

/// `reqtrace attach ... | head -1` under load: the closed pipe makes reqtrace detach.
#[test]
fn closed_output_under_load_detaches_and_exits_zero() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let stop = Arc::new(AtomicBool::new(false));
    let load = a.load("/hello.html", 4, Duration::from_secs(30), stop.clone());
    let child = spawn_pipeline(
        &format!("attach --apache --syscalls {}", a.pid()),
        "head -n 1 >/dev/null",
    );
    let out = wait_output(child, T);
    stop.store(true, Ordering::Relaxed);
    let (_, errors) = load.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(errors, 0);
    all_untraced(&a);
}

/// A full restart (SIGHUP to the master: every worker killed, the config re-read, new
/// workers forked) while traced under load: the new workers are followed.
#[test]
fn full_restart_while_traced_is_followed() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let before = a.workers();
    let child = a.attach_bg(&[
        "--json",
        "--url",
        "/home",
        "--duration",
        "15",
        "--count",
        "3",
    ]);
    send_signal(a.pid(), libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.workers().iter().any(|w| before.contains(w)) || a.workers().is_empty() {
        assert!(
            Instant::now() < deadline,
            "restart did not replace the workers"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Serve a while so the new workers are well under way.
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        assert_eq!(a.get("/home"), 404);
    }
    let lines = finish_json(child, T);
    let reqs = requests(&lines);
    assert_eq!(reqs.len(), 3, "{reqs:#?}");
    for r in &reqs {
        assert_eq!(r["status"], 404);
        assert!(!before.contains(&(r["pid"].as_i64().unwrap() as i32)));
        assert!(
            r["suspects"][0]["path"]
                .as_str()
                .unwrap()
                .ends_with("/www/index.phpp")
        );
    }
    all_untraced(&a);
}

/// Attaching to the event MPM while it serves (threads busy, created and exiting): none is
/// missed or left stuck, and requests are recorded.
#[test]
fn attaching_to_a_loaded_event_mpm_misses_and_sticks_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("event");
    let stop = Arc::new(AtomicBool::new(false));
    let load = a.load("/hello.html", 6, Duration::from_secs(30), stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let child = a.attach_bg(&["--json", "--duration", "2"]);
    let out = wait_output(child, T);
    stop.store(true, Ordering::Relaxed);
    let (ok, errors) = load.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(errors, 0);
    let lines = json_lines(&out.stdout);
    let sum = lines.last().unwrap();
    let recorded = sum["requests"].as_u64().unwrap();
    assert!(recorded > 10, "{sum}");
    // Every thread of every process traced at the end is untraced and running again.
    all_untraced(&a);
    eprintln!(
        "FIGURE event attach under load: {recorded} requests recorded in 2 s, {} threads traced, {ok} answered, 0 errors",
        sum["threads"]
    );
}

/// A soak under load with tracing on: every request the server answered (its access log)
/// is a request record or counted as dropped; no client error; the tracer's memory stays
/// flat. REQTRACE_SOAK_SECS sets the length (default 60).
#[test]
fn soak_every_answered_request_is_recorded_or_counted() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let secs: u64 = std::env::var("REQTRACE_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let a = Apache::start("prefork");
    let child = a.attach_bg(&["--json", "--url", "/"]);
    let tracer_pid = child.id() as i32;
    // Read its output all along, as a real consumer would.
    let output = std::thread::spawn(move || wait_output(child, T));
    let stop = Arc::new(AtomicBool::new(false));
    let load = a.load(
        "/hello.html",
        4,
        Duration::from_secs(secs + 30),
        stop.clone(),
    );
    let rss = |pid: i32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let mut samples = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        samples.push(rss(tracer_pid));
    }
    stop.store(true, Ordering::Relaxed);
    let (ok, errors) = load.join().unwrap();
    // Let the last responses be logged and recorded, then stop.
    std::thread::sleep(Duration::from_millis(500));
    send_signal(tracer_pid, libc::SIGTERM);
    let out = output.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let sum = lines.last().unwrap();
    let recorded = lines
        .iter()
        .filter(|l| l["type"] == "request" && l["status"] == 200)
        .count() as u64;
    let dropped = sum["dropped"].as_u64().unwrap();
    // The load's requests only (not the 408 lines of the readiness check's connections).
    let logged = a
        .access_log()
        .lines()
        .filter(|l| l.contains("\"GET /hello.html HTTP/1.1\" 200"))
        .count() as u64;
    let early = samples[samples.len() / 4].max(1);
    let peak = *samples.iter().max().unwrap();
    eprintln!(
        "FIGURE soak {secs} s: {logged} answered (access log), {recorded} recorded, {dropped} dropped, \
         {errors} client errors of {ok}; tracer RSS {} KiB at 1/4, peak {peak} KiB",
        early
    );
    assert_eq!(errors, 0);
    assert!(logged > 100);
    assert!(
        recorded + dropped >= logged,
        "{logged} answered but only {recorded} recorded and {dropped} dropped"
    );
    assert!(peak <= 30 * 1024, "tracer peak RSS {peak} KiB");
    assert!(
        peak <= early * 3 / 2 + 2048,
        "tracer memory grew: {samples:?}"
    );
    all_untraced(&a);
}

/// Without root or CAP_SYS_PTRACE, attaching to another user's process fails with a message
/// that says so, exit 2.
#[test]
fn attach_without_privileges_says_so() {
    let a = {
        let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        Apache::start("prefork")
    };
    let worker = a.workers()[0].to_string();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(reqtrace())
        .args(["attach", &worker])
        .output()
        .expect("setpriv (util-linux)");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not root and has no CAP_SYS_PTRACE"), "{err}");
}

/// Output files are created 0600 and never written through a symlink planted at the path.
#[test]
fn output_files_are_private_and_never_follow_a_symlink() {
    let dir = TempDir::new("outfile");
    let out_path = dir.join("trace.jsonl");
    let fx = fixture("fx_fileops");
    let r = run_reqtrace(
        &[
            "run",
            "--json",
            "-o",
            &out_path,
            "--",
            fx.to_str().unwrap(),
            dir.path().to_str().unwrap(),
        ],
        T,
    );
    assert_eq!(r.status.code(), Some(0));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let link = dir.join("link.jsonl");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let r = run_reqtrace(&["run", "-o", &link, "--", "true"], T);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("symbolic link"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

/// A worker killed in the middle of a request: its open request is closed as incomplete
/// (no status, "worker exited"), and the correlator goes on with the other workers.
#[test]
fn a_worker_killed_mid_request_closes_its_request_as_incomplete() {
    use std::io::Write;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let child = a.attach_bg(&[
        "--json",
        "--url",
        "/hello.html",
        "--count",
        "2",
        "--duration",
        "20",
    ]);
    // A request whose headers never end: the worker reads its request line and waits.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", a.port)).unwrap();
    s.write_all(b"GET /hello.html HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    // Find the worker holding it: the one whose socket count went up is hard to see from
    // outside, so kill every worker blocked in a read of a connection: prefork idle workers
    // wait in accept/poll, the busy one in read (wchan).
    let deadline = Instant::now() + Duration::from_secs(5);
    let busy = loop {
        let busy: Vec<i32> = a
            .workers()
            .into_iter()
            .filter(|w| {
                std::fs::read_to_string(format!("/proc/{w}/wchan"))
                    .is_ok_and(|c| c.contains("poll") && !c.contains("ep_poll"))
            })
            .collect();
        if busy.len() == 1 || Instant::now() > deadline {
            break busy;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(busy.len(), 1, "one worker holds the unfinished request");
    send_signal(busy[0], libc::SIGKILL);
    drop(s);
    // The server goes on, and so does the correlator.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.get("/hello.html"), 200);
    let lines = finish_json(child, T);
    let reqs = requests(&lines);
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    let killed = reqs
        .iter()
        .find(|r| r["pid"] == busy[0])
        .expect("the killed worker's request");
    assert_eq!(killed["status"], serde_json::Value::Null);
    assert_eq!(killed["end"], "worker exited");
    assert!(
        reqs.iter()
            .any(|r| r["status"] == 200 && r["pid"] != busy[0])
    );
    all_untraced(&a);
}
