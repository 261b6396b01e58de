//! `attach --backend ebpf` on a real Apache (installed by scripts/test.sh, with clang and
//! libbpf-dev for the kernel program): the incident gives the same record as under ptrace;
//! keep-alive on the event MPM gives one record per request; the server is never stopped or
//! traced, and a reqtrace killed with SIGKILL leaves it serving. Skipped (with a message)
//! when this build has no eBPF program, unless REQTRACE_REQUIRE_EBPF is set (scripts/test.sh).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::apache::Apache;
use common::*;
use serde_json::Value;

/// One Apache test at a time: they share two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const T: Duration = Duration::from_secs(60);

/// Whether this build carries the eBPF program (build.rs found clang).
fn built() -> bool {
    let out = run_reqtrace(&["attach", "--backend", "ebpf", "999999999"], T);
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("built without its eBPF program") {
        // scripts/test.sh installs clang: there, a build without the program is a failure.
        assert!(
            std::env::var_os("REQTRACE_REQUIRE_EBPF").is_none(),
            "REQTRACE_REQUIRE_EBPF is set but {err}"
        );
        eprintln!("skipped: reqtrace was built without clang: {err}");
        return false;
    }
    true
}

fn probe(a: &Apache, path: &str, backend: &str) -> (std::process::Output, Vec<Value>) {
    let pid = a.pid().to_string();
    let url = a.url(path);
    let out = run_reqtrace(
        &[
            "attach",
            "--json",
            "--backend",
            backend,
            "--probe",
            &url,
            &pid,
        ],
        T,
    );
    let lines = json_lines(&out.stdout);
    (out, lines)
}

/// `reqtrace attach --json --backend ebpf ARGS PID` in the background, returned once its
/// start line is out (the program is attached then); its stdout lines come on the channel.
fn attach_bg(pid: i32, args: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let pid = pid.to_string();
    let mut child = Command::new(reqtrace())
        .args(["attach", "--json", "--backend", "ebpf"])
        .args(args)
        .arg(&pid)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30));
    assert!(
        first.as_deref().is_ok_and(|l| l.contains("\"start\"")),
        "no start line: {first:?}"
    );
    (child, rx)
}

fn collect(child: Child, rx: std::sync::mpsc::Receiver<String>) -> Vec<Value> {
    let out = wait_output(child, T);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rx.try_iter()
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

/// Every process of the server is running and untraced, and it answers.
fn serving(a: &Apache) {
    assert_untraced_and_running(a.pid());
    for w in a.workers() {
        if let Some((state, tracer)) = try_state_and_tracer(w) {
            assert_eq!(tracer, 0, "worker {w} traced");
            assert!(state != 't' && state != 'T', "worker {w} stopped: {state}");
        }
    }
    assert_eq!(a.get("/hello.html"), 200, "the server still serves");
}

#[test]
fn ebpf_incident_gives_the_ptrace_record() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !built() {
        return;
    }
    let a = Apache::start("prefork");
    let (_, plines) = probe(&a, "/home", "ptrace");
    let (out, lines) = probe(&a, "/home", "ebpf");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a 404 probe fails: {stderr}");
    let home = |lines: &[Value]| -> Value {
        let reqs = requests(lines);
        let h: Vec<_> = reqs.iter().filter(|r| r["target"] == "/home").collect();
        assert_eq!(h.len(), 1, "one record for the probe: {reqs:#?}\n{stderr}");
        (*h[0]).clone()
    };
    assert_eq!(lines[0]["type"], "start");
    assert_eq!(
        lines[0]["backend"], "ebpf",
        "the start line names the backend"
    );
    assert!(plines[0].get("backend").is_none(), "{:#}", plines[0]);
    let (r, p) = (home(&lines), home(&plines));
    assert_eq!(r["status"], 404, "{r:#}");
    assert_eq!(r["status"], p["status"]);
    let s = &r["suspects"][0];
    let www = a.root.path().join("www");
    assert_eq!(s["path"], www.join("index.phpp").to_str().unwrap(), "{r:#}");
    assert_eq!(s["path"], p["suspects"][0]["path"]);
    assert_eq!(s["errno"], "ENOENT");
    assert_eq!(s["did_you_mean"], www.join("index.php").to_str().unwrap());
    let site = a.root.path().join("sites/site.conf");
    assert!(
        s["references"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["file"] == site.to_str().unwrap() && x["line"] == 3),
        "{s:#}"
    );
    assert_eq!(r["suspects"].as_array().unwrap().len(), 1, "{r:#}");
    serving(&a);
}

#[test]
fn ebpf_keepalive_on_event_mpm_gives_one_record_per_request() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !built() {
        return;
    }
    let a = Apache::start("event");
    let (child, rx) = attach_bg(a.pid(), &["--url", "/", "--count", "3", "--duration", "20"]);
    assert_eq!(
        a.get_keepalive(&["/home", "/hello.html", "/index.php"]),
        vec![404, 200, 200]
    );
    let lines = collect(child, rx);
    // Records come out as they are finished: a failed one may wait for its error-log line.
    let mut reqs = requests(&lines);
    reqs.sort_by_key(|r| r["target"].as_str().map(String::from));
    let got: Vec<_> = reqs
        .iter()
        .map(|r| (r["target"].as_str(), r["status"].as_u64()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("/hello.html"), Some(200)),
            (Some("/home"), Some(404)),
            (Some("/index.php"), Some(200)),
        ],
        "{lines:#?}"
    );
    assert!(
        reqs.iter().all(|r| r["pid"] == reqs[0]["pid"]),
        "one connection, one worker process: {reqs:#?}"
    );
    assert_eq!(
        reqs[1]["suspects"].as_array().unwrap().len(),
        1,
        "{:#}",
        reqs[1]
    );
    assert_eq!(reqs[0]["suspects"].as_array().unwrap().len(), 0);
    assert_eq!(reqs[2]["suspects"].as_array().unwrap().len(), 0);
    assert_eq!(lines.last().unwrap()["reason"], "--count reached, detached");
    serving(&a);
}

#[test]
fn ebpf_never_stops_the_server_and_sigkill_leaves_it_serving() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !built() {
        return;
    }
    let a = Apache::start("prefork");
    // An attach/detach cycle: while attached, nothing is traced or stopped.
    let (child, rx) = attach_bg(a.pid(), &["--url", "/", "--duration", "3"]);
    serving(&a);
    let lines = collect(child, rx);
    assert!(
        requests(&lines)
            .iter()
            .any(|r| r["target"] == "/hello.html"),
        "{lines:#?}"
    );
    serving(&a);
    // Killed mid-trace under load: the links die with their fds.
    let (mut child, _rx) = attach_bg(a.pid(), &["--url", "/"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = a.load("/hello.html", 2, Duration::from_secs(10), stop.clone());
    std::thread::sleep(Duration::from_millis(500));
    send_signal(child.id() as i32, libc::SIGKILL);
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, _) = load.join().unwrap();
    assert!(ok > 0, "the server answered under load");
    serving(&a);
    // Nothing of ours is left attached: no program named like ours in the kernel.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let progs = Command::new("sh")
            .arg("-c")
            .arg("ls -l /proc/*/fd 2>/dev/null | grep -c 'bpf-prog' || true")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        if progs == "0" || Instant::now() > deadline {
            assert_eq!(progs, "0", "a bpf program fd is still held");
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn ebpf_without_capabilities_is_a_clear_error_exit_2() {
    if !built() {
        return;
    }
    let mut idle = Command::new("sleep").arg("30").spawn().unwrap();
    let me = idle.id().to_string();
    // As nobody, with no capabilities: nothing can be loaded.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(reqtrace())
        .args(["attach", "--backend", "ebpf", "--duration", "1", &me])
        .output()
        .unwrap();
    let _ = idle.kill();
    let _ = idle.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("CAP_BPF") && err.contains("sudo"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn ebpf_without_tracefs_names_the_mount_command_exit_2() {
    if !built() {
        return;
    }
    let mut idle = Command::new("sleep").arg("30").spawn().unwrap();
    let me = idle.id();
    // In a mount namespace of its own, so the machine's tracefs stays mounted.
    let script = format!(
        "umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null; \
         exec {} attach --backend ebpf --duration 1 {me}",
        reqtrace().display()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    let _ = idle.kill();
    let _ = idle.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("mount -t tracefs nodev /sys/kernel/tracing"),
        "{err}"
    );
    assert!(
        std::path::Path::new("/sys/kernel/tracing/events").is_dir(),
        "the machine's tracefs is still mounted"
    );
}

/// `attach --json --backend ebpf` (with `extra`) on `child` for 1.5 s, which must succeed;
/// then the child is ended. The JSON lines.
fn ebpf_json_for(child: &mut Child, extra: &[&str]) -> Vec<Value> {
    let pid = child.id().to_string();
    let mut args = vec!["attach", "--json", "--backend", "ebpf", "--duration", "1.5"];
    args.extend_from_slice(extra);
    args.push(&pid);
    let out = run_reqtrace(&args, T);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

#[test]
fn ebpf_follows_forks_and_reads_paths_of_file_calls_and_exec() {
    if !built() {
        return;
    }
    let dir = TempDir::new("ebpf-fork");
    let missing = dir.join("missing");
    let no_program = dir.join("no-such-program");
    // A shell forks and execs cat, which fails to open a file, and a program that is not
    // there, again and again.
    let mut sh = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while :; do cat {missing} 2>/dev/null; {no_program} 2>/dev/null; sleep 0.1; done"
        ))
        .spawn()
        .unwrap();
    let lines = ebpf_json_for(&mut sh, &[]);
    let calls = syscalls(&lines);
    let opens = find(&calls, &["openat", "open"], &missing);
    assert!(!opens.is_empty(), "{calls:#?}");
    assert_eq!(opens[0]["errno"], "ENOENT");
    assert_ne!(
        opens[0]["pid"].as_i64(),
        Some(sh.id() as i64),
        "a child's call"
    );
    assert!(
        calls
            .iter()
            .any(|c| c["syscall"] == "execve" && c["path"] == "/usr/bin/cat"),
        "a successful execve's path, from the exec tracepoint: {calls:#?}"
    );
    let failed = find(&calls, &["execve"], &no_program);
    assert!(!failed.is_empty(), "{calls:#?}");
    // A failed exec's memory is still there at its exit: the path is read from it.
    assert_eq!(failed[0]["errno"], "ENOENT", "{:#?}", failed[0]);
}

#[test]
fn ebpf_nginx_miss_gives_the_ptrace_record() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !built() {
        return;
    }
    let n = common::nginx::Nginx::start();
    let pid = n.pid().to_string();
    let url = n.url("/hello.htm");
    let run = |backend: &str| {
        let out = run_reqtrace(
            &[
                "attach",
                "--json",
                "--backend",
                backend,
                "--probe",
                &url,
                &pid,
            ],
            T,
        );
        let lines = json_lines(&out.stdout);
        let r = requests(&lines)
            .into_iter()
            .find(|r| r["target"] == "/hello.htm")
            .cloned()
            .unwrap_or_else(|| {
                panic!(
                    "{backend}: no record: {lines:#?}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        (out.status.code(), r)
    };
    let (pcode, p) = run("ptrace");
    let (code, r) = run("ebpf");
    assert_eq!((code, pcode), (Some(1), Some(1)));
    assert_eq!(r["status"], 404, "{r:#}");
    assert_eq!(r["status"], p["status"]);
    let www = n.root.path().join("www");
    assert_eq!(
        r["suspects"][0]["path"],
        www.join("hello.htm").to_str().unwrap(),
        "{r:#}"
    );
    assert_eq!(r["suspects"][0]["path"], p["suspects"][0]["path"]);
    assert_eq!(
        r["suspects"][0]["did_you_mean"],
        p["suspects"][0]["did_you_mean"]
    );
    assert_untraced_and_running(n.pid());
}

/// `int 0x80` calls (the i386 ABI, numbered in its own table) are not misread as x86_64
/// calls: counted in the summary, said once per process, as under ptrace.
#[test]
fn ebpf_int80_calls_are_counted_not_misread() {
    if !built() {
        return;
    }
    let dir = TempDir::new("ebpf-int80");
    let fx = fixture("fx_int80");
    let missing = dir.join("int80-missing");
    // The fixture starts once reqtrace is attached to the shell that becomes it.
    let mut sh = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "sleep 1.5; exec {} {} 5 --fork",
            fx.display(),
            dir.path().display()
        ))
        .spawn()
        .unwrap();
    let out = run_reqtrace(
        &[
            "attach",
            "--json",
            "--backend",
            "ebpf",
            "--duration",
            "10",
            &sh.id().to_string(),
        ],
        T,
    );
    assert_eq!(sh.wait().unwrap().code(), Some(0), "the fixture ran right");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines = json_lines(&out.stdout);
    let sum = lines.iter().rfind(|v| v["type"] == "summary").unwrap();
    assert_eq!(
        sum["compat_syscalls"], 10,
        "5 in each of 2 processes: {sum}"
    );
    assert_eq!(sum["reason"], "all traced processes exited", "{sum}");
    let calls = syscalls(&lines);
    assert_eq!(
        find(&calls, &["newfstatat", "stat"], &missing).len(),
        2,
        "the native stat of each process: {calls:#?}"
    );
    // i386 getpid is 20, x86_64's writev: none may appear.
    assert!(calls.iter().all(|c| c["syscall"] != "writev"), "{calls:#?}");
    let warnings = err
        .lines()
        .filter(|l| l.contains("32-bit syscalls"))
        .count();
    assert_eq!(warnings, 2, "one per process: {err}");
}

#[test]
fn ebpf_refuses_to_trace_itself_or_its_parents() {
    if !built() {
        return;
    }
    let me = std::process::id().to_string();
    let out = run_reqtrace(&["attach", "--backend", "ebpf", "--duration", "1", &me], T);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("reqtrace itself or one of its parents"),
        "{err}"
    );
}

/// The FastCGI case under eBPF: nginx in front of a php-fpm pool found from `fastcgi_pass`,
/// a typo'd `root` in the PHP location: the FPM worker's missing script joins nginx's record
/// (the FastCGI records are in the bytes the kernel program keeps), as under ptrace.
#[test]
fn ebpf_follows_a_request_into_php_fpm() {
    if !built() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    use common::fpm::{self, Fpm, FpmNginx, FpmOpts};
    let fpm = Fpm::start(FpmOpts::default());
    let typo = fpm.path("wwww");
    let site = format!(
        "root {www};\nlocation ~ \\.php$ {{\n{}}}\n",
        fpm::php_location(&fpm, Some(&typo)),
        www = fpm.www()
    );
    let web = FpmNginx::with_server(&site);
    let url = web.url("/x.php");
    let out = run_reqtrace(
        &["attach", "--json", "--backend", "ebpf", "--probe", &url],
        T,
    );
    let lines = json_lines(&out.stdout);
    let r = requests(&lines)
        .into_iter()
        .find(|r| r["target"] == "/x.php")
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no record: {lines:#?} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(r["status"], 404, "{r:#}\n{err}");
    let s = &r["suspects"][0];
    assert_eq!(s["path"], format!("{typo}/x.php"), "{r:#}\n{err}");
    let workers = fpm.workers();
    assert!(
        s["pid"]
            .as_i64()
            .is_some_and(|p| workers.contains(&(p as i32))),
        "made by an FPM worker {workers:?}: {r:#}"
    );
    assert!(
        r["backend"]["pid"]
            .as_i64()
            .is_some_and(|p| workers.contains(&(p as i32))),
        "{r:#}"
    );
    assert_eq!(out.status.code(), Some(1), "{r:#}");
}

#[test]
fn ebpf_reads_what_readlink_wrote_as_ptrace_does() {
    if !built() {
        return;
    }
    let dir = TempDir::new("ebpf-outstr");
    let mut fx = Command::new(fixture("fx_fileops"))
        .arg(dir.path())
        .arg("--loop")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // "ready" once its files are made.
    let mut first = String::new();
    BufReader::new(fx.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let pid = fx.id().to_string();
    let readlinks = |backend: &str| {
        let out = run_reqtrace(
            &[
                "attach",
                "--json",
                "--backend",
                backend,
                "--trace",
                "readlink",
                "--duration",
                "1",
                &pid,
            ],
            T,
        );
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = json_lines(&out.stdout);
        let calls: Vec<&Value> = syscalls(&lines)
            .into_iter()
            .filter(|c| c["syscall"] == "readlink")
            .collect();
        assert!(!calls.is_empty(), "{backend}: {lines:#?}");
        calls[0]["args"].clone()
    };
    let ptrace = readlinks("ptrace");
    let ebpf = readlinks("ebpf");
    let _ = fx.kill();
    let _ = fx.wait();
    // The target the call wrote into its buffer, copied at its exit.
    assert_eq!(ptrace[1], "file.txt", "{ptrace}");
    assert_eq!(ebpf, ptrace);
}

#[test]
fn ebpf_a_childs_return_from_clone_is_not_a_call() {
    if !built() {
        return;
    }
    // A shell that forks (true is a builtin: `( true )` forks a subshell) again and again.
    let mut sh = Command::new("sh")
        .arg("-c")
        .arg("while :; do ( true ); /bin/true; sleep 0.1; done")
        .spawn()
        .unwrap();
    let lines = ebpf_json_for(&mut sh, &["--trace", "clone,clone3,fork,vfork"]);
    let calls = syscalls(&lines);
    assert!(!calls.is_empty(), "the parent's forks are seen: {lines:#?}");
    // As under ptrace: the parent's call, returning the child's pid; never the child's 0.
    for c in &calls {
        assert!(c["ret"].as_i64().unwrap_or(0) > 0, "{c}");
    }
}
