//! Issue 12: the probe finds its own server (two private Apaches, an nginx: only the one on
//! the probed port is traced, the other never), and the smaller things: an empty path named
//! no file, notes and configuration lines shown as written, what Apache logs at its default
//! LogLevel, `--all` listing a healthy request's noise.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::apache::Apache;
use common::nginx::Nginx;
use common::*;
use serde_json::Value;

const T: Duration = Duration::from_secs(60);

/// A server's master and its workers now.
fn tree(master: i32) -> Vec<i32> {
    let mut v = vec![master];
    v.extend(children(master));
    v
}

/// Watches a server's processes while reqtrace runs: the TracerPid of any of them, if one was
/// ever seen traced.
struct Watch {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Option<(i32, i32)>>,
}

impl Watch {
    fn start(master: i32) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for p in tree(master) {
                    for t in std::fs::read_dir(format!("/proc/{p}/task"))
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                    {
                        if let Some((_, tracer)) = try_state_and_tracer(t)
                            && tracer != 0
                        {
                            return Some((t, tracer));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            None
        });
        Watch { stop, handle }
    }

    /// `None`: never traced while watched.
    fn finish(self) -> Option<(i32, i32)> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

fn targets(lines: &[Value]) -> Vec<i32> {
    let start = lines
        .iter()
        .find(|v| v["type"] == "start")
        .expect("a start line");
    start["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap() as i32)
        .collect()
}

/// `reqtrace ARGS` against two Apaches, probing the first: it must trace the first (its
/// master among the targets), never the second.
fn probe_traces_only_the_probed_apache(extra: &[&str]) {
    let a = Apache::start("prefork");
    let b = Apache::start("prefork");
    let url = a.url("/hello.html");
    let mut args = vec!["attach", "--json"];
    args.extend_from_slice(extra);
    args.extend(["--probe", url.as_str()]);
    let watch = Watch::start(b.pid());
    let out = run_reqtrace(&args, T);
    let traced_b = watch.finish();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(traced_b, None, "the other Apache was traced: {err}");
    let lines = json_lines(&out.stdout);
    let t = targets(&lines);
    assert!(
        t.contains(&a.pid()),
        "{t:?} lacks the probed master {}",
        a.pid()
    );
    let others = tree(b.pid());
    assert!(
        !t.iter().any(|p| others.contains(p)),
        "{t:?} includes the other Apache {others:?}"
    );
    assert!(!err.contains("warning"), "{err}");
    assert!(
        err.contains(&format!("is served by apache2 (PID {})", a.pid())),
        "{err}"
    );
    let reqs = requests(&lines);
    assert!(
        reqs.iter()
            .any(|r| r["target"] == "/hello.html" && r["status"] == 200),
        "{reqs:?}"
    );
}

/// No PID, no --apache: the probe's port names the server.
#[test]
fn a_probe_without_pids_traces_only_the_server_on_its_port() {
    probe_traces_only_the_probed_apache(&[]);
}

/// --apache with a probe: only the Apache on the probed port, not every Apache on the host.
#[test]
fn apache_with_a_probe_traces_only_the_apache_on_its_port() {
    probe_traces_only_the_probed_apache(&["--apache"]);
}

/// nginx is found the same way (its master and workers), an Apache running beside it is
/// left alone; `--name nginx` probing the Apache says who serves that address instead.
#[test]
fn a_probe_finds_nginx_and_a_name_that_does_not_serve_the_port_is_refused() {
    let n = Nginx::start();
    let a = Apache::start("prefork");
    let watch = Watch::start(a.pid());
    let url = n.url("/hello.html");
    let out = run_reqtrace(&["attach", "--json", "--probe", &url], T);
    let traced_a = watch.finish();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(traced_a, None, "the Apache was traced: {err}");
    let t = targets(&json_lines(&out.stdout));
    for p in tree(n.pid()) {
        assert!(t.contains(&p), "{t:?} lacks nginx's {p}");
    }
    let url = a.url("/hello.html");
    let watch = Watch::start(n.pid());
    let out = run_reqtrace(&["attach", "--name", "nginx", "--probe", &url], T);
    assert_eq!(watch.finish(), None, "nginx was traced");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("served by apache2 (PID {})", a.pid()))
            && err.contains("not by a process named nginx"),
        "{err}"
    );
}

/// PIDs given with a probe are kept as given: the probe only tests them (here, the wrong
/// server: its request is not seen, exit 1), and the probed server is not added.
#[test]
fn pids_given_with_a_probe_are_kept_as_given() {
    let a = Apache::start("prefork");
    let b = Apache::start("prefork");
    let watch = Watch::start(a.pid());
    let pid = b.pid().to_string();
    let url = a.url("/hello.html");
    let out = run_reqtrace(
        &[
            "attach",
            "--json",
            &pid,
            "--probe-timeout",
            "2",
            "--probe",
            &url,
        ],
        T,
    );
    let traced_a = watch.finish();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(traced_a, None, "the probed Apache was added: {err}");
    assert!(err.contains("not seen in the traced processes"), "{err}");
    assert!(targets(&json_lines(&out.stdout)).contains(&b.pid()));
}

/// Nothing listening on the probed address: exit 2, saying so and what to do.
#[test]
fn a_probe_where_nothing_listens_exits_2_and_says_so() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let out = run_reqtrace(&["attach", "--probe", &url], T);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "nothing listens on 127.0.0.1:{port} on this machine"
        )) && err.contains("start the server"),
        "{err}"
    );
    assert!(!err.contains("  "), "one line, no stray gaps: {err}");
}

/// Without privileges, the problem named is the privilege: not "already traced" (a traced
/// worker of another user's server), and not a silent miss of the server a probe names.
#[test]
fn an_unprivileged_attach_names_the_privilege() {
    let a = Apache::start("prefork");
    let root = a.attach_bg(&["--json"]);
    let worker = a.workers()[0].to_string();
    let url = a.url("/hello.html");
    let nobody = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(reqtrace())
            .args(args)
            .output()
            .expect("setpriv (util-linux)")
    };
    let traced = nobody(&["attach", &worker]);
    let probed = nobody(&["attach", "--probe", &url]);
    send_signal(root.id() as i32, libc::SIGINT);
    let _ = wait_output(root, T);
    let err = String::from_utf8_lossy(&traced.stderr);
    assert_eq!(traced.status.code(), Some(2), "{err}");
    assert!(err.contains("not root and has no CAP_SYS_PTRACE"), "{err}");
    assert!(!err.contains("already traced"), "{err}");
    let err = String::from_utf8_lossy(&probed.stderr);
    assert_eq!(probed.status.code(), Some(2), "{err}");
    assert!(
        err.contains("visible only to root or with CAP_SYS_PTRACE"),
        "{err}"
    );
    assert!(!err.contains("  "), "one line, no stray gaps: {err}");
}

/// `newfstatat(AT_FDCWD, "", buf, 0)` and `openat(AT_FDCWD, "", …)` fail with ENOENT: the
/// empty path names no file. It was reported as the cwd, an existing directory "missing".
/// With AT_EMPTY_PATH, "" is the dirfd itself (an fstat) and keeps its path.
#[test]
fn an_empty_path_without_at_empty_path_names_no_file() {
    let dir = TempDir::new("emptypath");
    for (cmd, call) in [
        (vec!["/usr/bin/test", "-e", ""], "newfstatat"),
        (vec!["cat", ""], "openat"),
    ] {
        let mut args = vec!["run", "--json", "--"];
        args.extend(&cmd);
        let child = std::process::Command::new(reqtrace())
            .args(&args)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_output(child, T);
        let lines = json_lines(&out.stdout);
        let calls = syscalls(&lines);
        let empty: Vec<&&Value> = calls
            .iter()
            .filter(|e| e["syscall"] == call && e["args"][1] == "" && e["errno"] == "ENOENT")
            .collect();
        assert!(!empty.is_empty(), "{cmd:?}: no failing {call} of \"\"");
        for e in empty {
            assert_eq!(e["path"], Value::Null, "{cmd:?}: {e}");
        }
        let fstat = calls
            .iter()
            .find(|e| e["args"][1] == "" && e["args"][3] == "AT_EMPTY_PATH" && e["ret"] == 0)
            .unwrap_or_else(|| panic!("{cmd:?}: no fstat through newfstatat"));
        assert!(
            fstat["path"]
                .as_str()
                .is_some_and(|p| p.starts_with('/') && p != dir.path().to_str().unwrap()),
            "{fstat}"
        );
    }
}

/// Notes and configuration lines are shown as written (`"` is not `\"`), and the notes say
/// Apache logs AH01630 and AH00037 at level error: a private Apache at the default LogLevel
/// warn writes both.
#[test]
fn notes_and_config_lines_read_as_written_and_apache_logs_them_at_warn() {
    let a = Apache::start_with(
        "prefork",
        "LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so\n\
         Alias /assets/ \"@ROOT@/www/asets/\"\n\
         <Location /denied>\n    Require all denied\n</Location>\n\
         <Directory \"@ROOT@/www/nolinks\">\n    Options -FollowSymLinks\n</Directory>\n",
    );
    let www = a.root.path().join("www");
    std::fs::create_dir_all(www.join("nolinks")).unwrap();
    std::os::unix::fs::symlink("../hello.html", www.join("nolinks/link.html")).unwrap();
    let pid = a.pid().to_string();
    let (u1, u2, u3) = (
        a.url("/assets/app.css"),
        a.url("/denied/x.html"),
        a.url("/nolinks/link.html"),
    );
    let out = run_reqtrace(
        &[
            "attach", &pid, "--color", "never", "--probe", &u1, "--probe", &u2, "--probe", &u3,
        ],
        T,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}{err}");
    let root = a.root.path().to_str().unwrap();
    assert!(
        text.contains(&format!("Alias /assets/ \"{root}/www/asets/\"")),
        "the configuration line as written:\n{text}"
    );
    assert!(
        !text.contains("\\\""),
        "JSON escapes in the report:\n{text}"
    );
    assert!(
        text.contains("nginx: \"access forbidden by rule\""),
        "the note as written:\n{text}"
    );
    assert!(
        text.contains("GET /nolinks/link.html → 403") && text.contains("AH00037"),
        "{text}"
    );
    assert!(!text.contains("LogLevel info"), "{text}");
    assert!(text.contains("at level error"), "{text}");
    // What the notes claim, from Apache itself at LogLevel warn.
    let log = a.error_log();
    assert!(log.contains("AH01630"), "{log}");
    assert!(log.contains("AH00037"), "{log}");
}

/// `--all` lists a healthy request's noise in the human report as `--json` does.
#[test]
fn all_lists_the_noise_of_a_healthy_request() {
    let a = Apache::start("prefork");
    let pid = a.pid().to_string();
    let url = a.url("/hello.html");
    let human = run_reqtrace(&["attach", &pid, "--all", "--probe", &url], T);
    let json = run_reqtrace(&["attach", &pid, "--all", "--json", "--probe", &url], T);
    assert_eq!(json.status.code(), Some(0));
    let lines = json_lines(&json.stdout);
    let noise: Vec<String> = requests(&lines)
        .iter()
        .flat_map(|r| r["suspects"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["noise"] == true)
        .map(|s| s["path"].as_str().unwrap().to_string())
        .collect();
    assert!(!noise.is_empty(), "no noise in --json: {lines:?}");
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(human.status.code(), Some(0), "{text}");
    assert!(text.contains("GET /hello.html → 200"), "{text}");
    for p in &noise {
        assert!(text.contains(p.as_str()), "{p} not listed:\n{text}");
    }
    assert!(text.contains("why: noise: "), "{text}");
    assert!(!text.contains("no failing file syscall"), "{text}");
}
