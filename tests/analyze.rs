//! `reqtrace analyze` end to end on a real Apache (installed by scripts/test.sh): a trace
//! recorded with `--json` and strace logs captured by the test itself (`-f -tt -s 512`, with
//! `-y`, and `-ff` per-PID files) each give the same suspects as the live run; filters apply;
//! malformed lines are reported with their line numbers, not fatal.

mod common;

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::apache::Apache;
use common::*;
use serde_json::Value;

/// One Apache test at a time: they share two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const T: Duration = Duration::from_secs(60);

/// What must agree between a live run and an analysis: per request, the target, status and
/// each suspect's path, errno, did-you-mean and configuration references. In target order: a
/// request's record is written when its connection lets go of it, and two workers race for that.
fn verdicts(lines: &[Value]) -> Vec<Value> {
    let mut v: Vec<Value> = requests(lines)
        .iter()
        .map(|r| {
            let suspects: Vec<Value> = r["suspects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "path": s["path"], "errno": s["errno"],
                        "did_you_mean": s["did_you_mean"],
                        "references": s["references"],
                    })
                })
                .collect();
            serde_json::json!({"target": r["target"], "status": r["status"], "suspects": suspects})
        })
        .collect();
    v.sort_by_key(|r| r["target"].to_string());
    v
}

fn analyze(args: &[&str]) -> (std::process::Output, Vec<Value>) {
    let mut all = vec!["analyze"];
    all.extend_from_slice(args);
    let out = run_reqtrace(&all, T);
    let lines = json_lines(&out.stdout);
    (out, lines)
}

/// The live run: probe /home (the rewrite typo) and /index.php (fine), recording the trace
/// with its syscall lines to `file`. Returns the live JSON lines (read back from the file).
fn record_live(a: &Apache, file: &str) -> Vec<Value> {
    let pid = a.pid().to_string();
    let (home, index) = (a.url("/home"), a.url("/index.php"));
    let out = run_reqtrace(
        &[
            "attach",
            "--json",
            "--syscalls",
            "-o",
            file,
            "--probe",
            &home,
            "--probe",
            &index,
            &pid,
        ],
        T,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "the /home probe fails: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&std::fs::read(file).unwrap())
}

#[test]
fn a_recorded_trace_gives_the_live_suspects() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let dir = TempDir::new("analyze-rec");
    let file = dir.join("trace.jsonl");
    let live = record_live(&a, &file);
    let want = verdicts(&live);
    assert_eq!(want.len(), 2, "{want:#?}");
    let home = &want.iter().find(|r| r["target"] == "/home").unwrap();
    let www = a.root.path().join("www");
    assert_eq!(
        home["suspects"][0]["path"],
        www.join("index.phpp").to_str().unwrap()
    );
    assert!(
        !home["suspects"][0]["references"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Read back on the same machine: looked up again here.
    let (out, lines) = analyze(&["--json", &file]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(verdicts(&lines), want);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["unparsed"], 0);
    assert_eq!(summary["requests"], 2);
    assert_eq!(summary["requests_failed"], 1);

    // "Elsewhere" (another boot): nothing is looked up, the recording explains; without its
    // syscall lines too.
    let text = std::fs::read_to_string(&file).unwrap();
    let elsewhere: String = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["type"] == "start" {
                v["boot_id"] = "another-machine".into();
            }
            v.to_string() + "\n"
        })
        .collect();
    let other = dir.join("elsewhere.jsonl");
    std::fs::write(&other, &elsewhere).unwrap();
    let (_, lines) = analyze(&["--json", &other]);
    assert_eq!(verdicts(&lines), want, "from the recording alone");
    let records_only: String = elsewhere
        .lines()
        .filter(|l| !l.contains("\"type\":\"syscall\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let only = dir.join("records-only.jsonl");
    std::fs::write(&only, records_only).unwrap();
    let (_, lines) = analyze(&["--json", &only]);
    assert_eq!(verdicts(&lines), want, "request lines only");

    // Filters: --url, --all, --failed with --syscalls; human output; stdin.
    let (_, lines) = analyze(&["--json", "--url", "/index*", &file]);
    let v = verdicts(&lines);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["target"], "/index.php");
    let (_, lines) = analyze(&["--json", "--all", &file]);
    let r = requests(&lines)
        .into_iter()
        .find(|r| r["target"] == "/home")
        .unwrap();
    assert!(
        r["suspects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["noise"] == true && s["path"].as_str().unwrap().ends_with(".htaccess")),
        "--all lists the noise again: {r:#}"
    );
    let (_, lines) = analyze(&["--json", "--failed", "--syscalls", &file]);
    let sys = syscalls(&lines);
    assert!(!sys.is_empty());
    assert!(sys.iter().all(|s| !s["errno"].is_null()), "{sys:#?}");
    assert!(sys.iter().any(|s| s["request"].is_u64()));
    let out = Command::new(reqtrace())
        .args(["analyze", "--color", "never", "-"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(human.contains("GET /home → 404"), "{human}");
    assert!(human.contains("did you mean"), "{human}");
}

/// Attach strace to the Apache's processes, make the requests, stop strace.
fn strace_log(a: &Apache, opts: &[&str], out: &str, paths: &[&str]) {
    let mut args: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
    args.extend(["-o".into(), out.into()]);
    for p in std::iter::once(a.pid()).chain(a.workers()) {
        args.extend(["-p".into(), p.to_string()]);
    }
    let mut strace = Command::new("strace")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace is installed by scripts/test.sh");
    // Attached when every worker shows a tracer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !a
        .workers()
        .iter()
        .all(|&w| try_state_and_tracer(w).is_some_and(|(_, tracer)| tracer == strace.id() as i32))
    {
        assert!(Instant::now() < deadline, "strace did not attach");
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in paths {
        a.get(p);
    }
    std::thread::sleep(Duration::from_millis(300));
    send_signal(strace.id() as i32, libc::SIGINT);
    strace.wait().unwrap();
}

#[test]
fn strace_logs_give_the_live_suspects() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let dir = TempDir::new("analyze-strace");
    let live = record_live(&a, &dir.join("live.jsonl"));
    let want = verdicts(&live);
    let conf = a.root.path().join("httpd.conf");
    let conf = conf.to_str().unwrap();
    let www = a.root.path().join("www");

    for (name, opts) in [
        ("plain", &["-f", "-tt", "-s", "512"][..]),
        ("y", &["-f", "-tt", "-s", "512", "-y"][..]),
        ("ff", &["-ff", "-tt", "-s", "512"][..]),
    ] {
        let log = dir.join(&format!("{name}.log"));
        strace_log(&a, opts, &log, &["/home", "/index.php"]);
        // -ff: the prefix stands for its .PID files.
        let (out, lines) = analyze(&["--json", "--fs-root", "/", "--config", conf, &log]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        assert_eq!(verdicts(&lines), want, "{name}: {stderr}");
        assert_eq!(lines.last().unwrap()["unparsed"], 0, "{name}: {stderr}");

        // Without --fs-root nothing is looked up: the same suspect, unexplained.
        let (_, lines) = analyze(&["--json", &log]);
        let v = verdicts(&lines);
        let home = v.iter().find(|r| r["target"] == "/home").unwrap();
        assert_eq!(home["status"], 404);
        assert_eq!(
            home["suspects"][0]["path"],
            www.join("index.phpp").to_str().unwrap()
        );
        assert!(home["suspects"][0]["did_you_mean"].is_null());
    }

    // --fs-root DIR: the traced machine's files are looked at under DIR (a copy, here with
    // another near miss), and named as the traced machine names them.
    let copy = TempDir::new("analyze-root");
    let site = a.root.path();
    let mirror = copy.path().join(site.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&mirror).unwrap();
    let cp = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", site.display()))
        .arg(&mirror)
        .status()
        .unwrap();
    assert!(cp.success());
    std::fs::rename(mirror.join("www/index.php"), mirror.join("www/index.phtml")).unwrap();
    let (out, lines) = analyze(&[
        "--json",
        "--fs-root",
        copy.path().to_str().unwrap(),
        "--config",
        conf,
        &dir.join("plain.log"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v = verdicts(&lines);
    let home = v.iter().find(|r| r["target"] == "/home").expect(&stderr);
    let s = &home["suspects"][0];
    assert_eq!(
        s["did_you_mean"],
        www.join("index.phtml").to_str().unwrap(),
        "{v:#?}"
    );
    assert_eq!(
        s["references"][0]["file"],
        site.join("sites/site.conf").to_str().unwrap(),
        "{v:#?}"
    );

    // Malformed lines: reported with their numbers, the rest still read.
    let text = std::fs::read_to_string(dir.join("plain.log")).unwrap();
    let mut bad: Vec<String> = text.lines().map(str::to_string).collect();
    bad.insert(2, "this is not strace".into());
    bad.insert(5, "123 03:00:00.000001 openat(AT_FDCWD, \"/x".into());
    bad.push("\u{1b}[31mgarbage\u{7}".into());
    let broken = dir.join("broken.log");
    std::fs::write(&broken, bad.join("\n") + "\n").unwrap();
    let (out, lines) = analyze(&["--json", "--fs-root", "/", "--config", conf, &broken]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(verdicts(&lines), want, "{stderr}");
    assert_eq!(lines.last().unwrap()["unparsed"], 3, "{stderr}");
    assert!(stderr.contains("broken.log:3: cannot parse"), "{stderr}");
    assert!(stderr.contains("broken.log:6: cannot parse"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no raw control bytes: {stderr:?}"
    );

    // Nothing recognisable: exit 2 with a message.
    let junk = dir.join("junk.txt");
    std::fs::write(&junk, "hello\nworld\n").unwrap();
    let (out, _) = analyze(&[&junk]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing in it"));
}

/// Reading a file can wait for a slow reader: nothing is dropped (a live trace drops instead).
#[test]
fn a_slow_reader_loses_nothing() {
    let dir = TempDir::new("analyze-slow");
    let log = dir.join("many.log");
    let n = 40_000;
    let text: String = (0..n)
        .map(|i| {
            format!(
                "7 00:00:{:02}.{:06} openat(AT_FDCWD, \"/srv/f{i}\", O_RDONLY) = -1 ENOENT (No such file or directory)\n",
                i / 1_000_000,
                i % 1_000_000
            )
        })
        .collect();
    std::fs::write(&log, text).unwrap();
    let out = wait_output(
        spawn_pipeline(
            &format!("analyze --json --syscalls {log}"),
            "(sleep 1; cat)",
        ),
        T,
    );
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out.stdout);
    assert_eq!(syscalls(&lines).len(), n);
    let summary = lines.last().unwrap();
    assert_eq!(summary["dropped"], 0);
    assert_eq!(summary["syscalls"], n);
}
