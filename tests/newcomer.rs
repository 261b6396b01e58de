//! What a newcomer meets first: 32-bit syscalls that must not go missing silently, the
//! set-up that leaves `reqtrace` on PATH, options that refuse nonsense, help and man pages
//! that say what the commands do, and documentation whose examples are what reqtrace does.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const T: Duration = Duration::from_secs(60);

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn summary(lines: &[serde_json::Value]) -> &serde_json::Value {
    lines
        .iter()
        .rfind(|v| v["type"] == "summary")
        .expect("a summary line")
}

/// `int 0x80` calls of a 64-bit program (the i386 ABI) are not decoded, but never silently
/// missing: a warning per process on stderr the first time, their count in the summary,
/// with the seccomp filter (`run`) and without it (every stop, as `attach` does). The
/// native calls around them are traced as usual.
#[cfg(target_arch = "x86_64")]
#[test]
fn int80_calls_are_counted_and_said_once_per_process() {
    let dir = TempDir::new("int80");
    let fx = fixture("fx_int80");
    let missing = dir.join("int80-missing");
    for extra in [&[][..], &["--no-seccomp"][..]] {
        let mut args = vec!["run", "--json"];
        args.extend_from_slice(extra);
        args.extend(["--", fx.to_str().unwrap(), dir.path().to_str().unwrap()]);
        args.extend(["5", "--fork"]);
        let out = run_reqtrace(&args, T);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {err}");
        let lines = json_lines(&out.stdout);
        let sum = summary(&lines);
        assert_eq!(
            sum["compat_syscalls"], 10,
            "{extra:?}: 5 int 0x80 calls in each of 2 processes: {sum}"
        );
        let warnings: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("32-bit syscalls"))
            .collect();
        assert_eq!(warnings.len(), 2, "{extra:?}: one per process: {err}");
        let pids: Vec<i64> = syscalls(&lines)
            .iter()
            .filter(|e| e["path"] == missing.as_str())
            .map(|e| e["pid"].as_i64().unwrap())
            .collect();
        assert_eq!(pids.len(), 2, "{extra:?}: the native stat of each process");
        for pid in pids {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(&format!("process {pid} (fx_int80)"))),
                "{extra:?}: no warning names {pid}: {err}"
            );
        }
        // In text, the closing sentence says it too.
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend([
            "--",
            fx.to_str().unwrap(),
            dir.path().to_str().unwrap(),
            "3",
        ]);
        let out = run_reqtrace(&args, T);
        let err = stderr_of(&out);
        assert!(
            err.contains("32-bit syscalls not traced: 3"),
            "{extra:?}: {err}"
        );
    }
    // A program that makes none has no such field.
    let out = run_reqtrace(
        &[
            "run",
            "--json",
            "--",
            fx.to_str().unwrap(),
            dir.path().to_str().unwrap(),
            "0",
        ],
        T,
    );
    let lines = json_lines(&out.stdout);
    assert!(summary(&lines).get("compat_syscalls").is_none());
    assert!(!stderr_of(&out).contains("32-bit"), "{}", stderr_of(&out));
}

/// The README's two set-up commands leave `reqtrace` on PATH: both run scripts/install.sh,
/// which puts a copy in PREFIX/bin (idempotent, saying where), after which the README's
/// examples run as written, by name.
#[test]
fn setup_scripts_leave_reqtrace_on_path() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let install = repo.join("scripts/install.sh");
    assert!(install.exists(), "no scripts/install.sh");
    for script in ["scripts/demo.sh", "scripts/test.sh"] {
        let text = std::fs::read_to_string(repo.join(script)).unwrap();
        assert!(
            text.lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("scripts/install.sh")),
            "{script} does not run scripts/install.sh"
        );
    }
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    assert!(
        readme.contains("/usr/local/bin/reqtrace"),
        "the README's set-up does not say where reqtrace goes"
    );
    let prefix = TempDir::new("install");
    let path = format!("{}/bin:/usr/bin:/bin", prefix.path().display());
    let dest = prefix.path().join("bin/reqtrace");
    for round in 0..2 {
        let out = Command::new(&install)
            .arg(prefix.path())
            .env("REQTRACE_BIN", reqtrace())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            stderr_of(&out)
        );
        assert!(
            stdout_of(&out).contains(&format!("installed as {}", dest.display())),
            "round {round}: it must say where: {}",
            stdout_of(&out)
        );
    }
    // An example of the README, by name through PATH.
    let out = Command::new("bash")
        .args(["-c", "reqtrace run --failed -- ls /nonexistent"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "ls's own status: {err}");
    assert!(
        stdout_of(&out).contains("\"/nonexistent\""),
        "{}",
        stdout_of(&out)
    );
    // Without write access it says so and what to do, and exits 2.
    let ro = TempDir::new("install-ro");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&install)
        .arg(ro.path())
        .env("REQTRACE_BIN", reqtrace())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("run as root"),
        "{}",
        stderr_of(&out)
    );
}

/// `--count 0` would wait for no request and never stop; `--threads 0` would start no
/// tracer. Both are refused as usage errors (exit 2), saying what to give.
#[test]
fn count_and_threads_refuse_zero() {
    let dir = TempDir::new("zero");
    let fx = start_fixture("fx_idle", &dir, &[]);
    let pid = fx.pid().to_string();
    let out = run_reqtrace(&["attach", "--count", "0", &pid], Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("1 or more"), "{}", stderr_of(&out));
    for threads in ["0", "65"] {
        let out = run_reqtrace(&["run", "--threads", threads, "--", "true"], T);
        assert_eq!(out.status.code(), Some(2), "--threads {threads}");
        assert!(
            stderr_of(&out).contains("from 1 to 64"),
            "{}",
            stderr_of(&out)
        );
    }
    let out = run_reqtrace(&["run", "--threads", "1", "--count", "1", "--", "true"], T);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_untraced_and_running(fx.pid());
}

fn help(args: &[&str]) -> String {
    let out = run_reqtrace(args, T);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr_of(&out));
    stdout_of(&out)
}

/// Help and man pages say what each command takes: `--no-seccomp` only where it works
/// (run), `--trace`'s `all`, the postmortem's `--apache --probe` at the top, option values
/// in the man synopsis, the version on every page, and every page a wrong name could mean.
#[test]
fn help_and_man_pages_say_what_the_commands_take() {
    assert!(!help(&["attach", "--help"]).contains("--no-seccomp"));
    assert!(help(&["run", "--help"]).contains("--no-seccomp"));
    for sub in ["attach", "run", "analyze"] {
        let h = help(&[sub, "--help"]);
        let trace = h
            .lines()
            .find(|l| l.contains("--trace <LIST>"))
            .expect("--trace in help");
        assert!(trace.contains("all"), "{sub}: {trace}");
    }
    let top = help(&["--help"]);
    assert!(
        top.contains("reqtrace attach --apache --probe http://"),
        "{top}"
    );
    let version = env!("CARGO_PKG_VERSION");
    for (page, value) in [
        ("attach", "\\fB\\-\\-output\\fR \\fIFILE\\fR"),
        ("run", "\\fB\\-\\-duration\\fR \\fISECS\\fR"),
        ("analyze", "\\fB\\-\\-fs\\-root\\fR \\fIDIR\\fR"),
    ] {
        let man = help(&["man", page]);
        let th = man.lines().find(|l| l.starts_with(".TH")).unwrap();
        assert!(th.contains(version), "{page}: no version in {th}");
        let synopsis = man
            .split(".SH SYNOPSIS\n")
            .nth(1)
            .and_then(|s| s.split("\n.SH").next())
            .unwrap();
        assert!(synopsis.contains(value), "{page}: {synopsis}");
        assert!(man.contains(".SH VERSION"), "{page}");
    }
    let out = run_reqtrace(&["man", "bogus"], T);
    assert_eq!(out.status.code(), Some(2));
    for name in ["attach", "run", "analyze", "completions", "man"] {
        assert!(
            stderr_of(&out).contains(name),
            "{name}: {}",
            stderr_of(&out)
        );
        assert_eq!(run_reqtrace(&["man", name], T).status.code(), Some(0));
    }
}

/// A kernel thread cannot be traced by anyone: the message says it is one, rather than
/// blaming a security module or a container boundary.
#[test]
fn attaching_a_kernel_thread_names_it() {
    let kthread = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let after = stat.rsplit_once(") ").map(|(_, a)| a).unwrap_or("");
            // Field 9, flags; PF_KTHREAD is 0x00200000.
            let flags: u64 = after
                .split(' ')
                .nth(6)
                .and_then(|f| f.parse().ok())
                .unwrap_or(0);
            flags & 0x0020_0000 != 0
        });
    let Some(kthread) = kthread else {
        eprintln!("no kernel thread visible here (a PID namespace): skipped");
        return;
    };
    let out = run_reqtrace(&["attach", &kthread.to_string()], T);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("kernel thread"), "{err}");
    assert!(!err.contains("security module"), "{err}");
}

/// The output docs/jq.md shows under `$ CMD`: the lines after it, up to the next command or
/// the end of the block.
fn documented_output(doc: &str, cmd: &str) -> String {
    let head = format!("$ {cmd}\n");
    let at = doc
        .find(&head)
        .unwrap_or_else(|| panic!("docs/jq.md no longer shows `{cmd}`"));
    doc[at + head.len()..]
        .lines()
        .take_while(|l| !l.starts_with("$ ") && !l.starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// docs/jq.md's recipes print what the page shows, run as the page runs them (traces of the
/// fixtures, made with `reqtrace run --json`): the oddpaths counts, the stat kinds, and
/// what `--trace stat` selects (every stat-family call, not the `stat` kind alone).
#[test]
fn jq_recipes_print_what_the_page_shows() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(repo.join("docs/jq.md")).unwrap();
    let work = TempDir::new("jqdoc");
    let bin = reqtrace();
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sh = |script: &str| {
        let out = Command::new("bash")
            .args(["-c", &format!("set -o pipefail; {script}")])
            .current_dir(work.path())
            .env("PATH", &path)
            .env("E", fixture("fx_fileops").parent().unwrap())
            // As in a shell: cargo's library path would add failed opens to every trace.
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{script}: {}", stderr_of(&out));
        stdout_of(&out)
    };
    sh(r#"reqtrace run --json -o fileops.jsonl -- $E/fx_fileops "$(mktemp -d)" >/dev/null"#);
    sh(r#"reqtrace run --json -o oddpaths.jsonl -- $E/fx_oddpaths "$(mktemp -d)" >/dev/null"#);
    for cmd in [
        r#"jq -n 'reduce (inputs | select(.type=="syscall" and .errno != null) | .errno) as $e ({}; .[$e] += 1)' oddpaths.jsonl"#,
        r#"jq -r 'select(.type=="syscall" and .errno != null) | .errno' oddpaths.jsonl | sort | uniq -c | sort -rn"#,
        r#"jq -n 'reduce (inputs | select(.type=="syscall" and .stat_kind != null) | .stat_kind) as $k ({}; .[$k] += 1)' fileops.jsonl"#,
        r#"reqtrace run --json --trace stat -o stat.jsonl -- $E/fx_fileops "$(mktemp -d)" >/dev/null"#,
        r#"jq -n 'reduce (inputs | select(.type=="syscall") | .stat_kind) as $k ({}; .[$k] += 1)' stat.jsonl"#,
    ] {
        assert_eq!(sh(cmd), documented_output(&doc, cmd), "`{cmd}`");
    }
    // The summary recipe's oddpaths line (the block's second command).
    let cmd = r#"jq -r 'select(.type=="summary") | "\(.syscalls) calls, \(.failed) failed \(.by_errno | tojson); \(.reason)"' oddpaths.jsonl"#;
    assert_eq!(sh(cmd), documented_output(&doc, cmd), "`{cmd}`");
}

/// What docs/jq.md says of `run --duration` is what happens: the command is ended (it runs
/// under reqtrace's seccomp filter), unless `--no-seccomp`, where it is left running.
#[test]
fn run_duration_is_documented_as_it_behaves() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(repo.join("docs/jq.md")).unwrap();
    let para: String = doc
        .split("\n\n")
        .find(|p| p.starts_with("`reqtrace run --duration`"))
        .expect("jq.md says what run --duration does")
        .replace('\n', " ");
    assert!(para.contains("ends the command"), "{para}");
    assert!(
        para.contains("`--no-seccomp`, `run` detaches and leaves it running"),
        "{para}"
    );
    let dir = TempDir::new("rundur");
    let fx = fixture("fx_fileops");
    for (extra, ended) in [(&[][..], true), (&["--no-seccomp"][..], false)] {
        let trace = dir.join("trace.jsonl");
        let mut args = vec!["run", "--json", "--duration", "1", "-o", &trace];
        args.extend_from_slice(extra);
        args.extend([
            "--",
            fx.to_str().unwrap(),
            dir.path().to_str().unwrap(),
            "--loop",
        ]);
        // Not piped: a command left running would hold the pipes open.
        let mut child = Command::new(reqtrace())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + T;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{extra:?}: reqtrace run --duration 1 did not end");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0), "{extra:?}");
        let lines = json_lines(&std::fs::read(&trace).unwrap());
        let pid = lines[0]["targets"][0].as_i64().unwrap() as i32;
        let running = try_state_and_tracer(pid).is_some_and(|(s, _)| s != 'Z');
        if running {
            send_signal(pid, libc::SIGKILL);
        }
        assert_eq!(
            running, !ended,
            "{extra:?}: the command running after run exited"
        );
    }
}

/// An strace log explained without --fs-root looks at no file; when it has suspects, a note
/// on stderr says that `--fs-root /` would add did-you-mean and configuration references
/// for a log of this machine. Not with --fs-root, not without suspects, not for a recording.
#[test]
fn analyze_of_an_strace_log_says_what_fs_root_adds() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let f = |case: &str, file: &str| fixtures.join(case).join(file).display().to_string();
    let note = |args: &[&str]| {
        let out = run_reqtrace(args, T);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr_of(&out));
        let err = stderr_of(&out);
        err.lines().filter(|l| l.contains("--fs-root /")).count()
    };
    let failing = f("eacces-403", "trace.strace");
    assert_eq!(note(&["analyze", &failing]), 1, "a note, on one line");
    assert_eq!(note(&["analyze", "--json", &failing]), 1, "with --json too");
    assert_eq!(note(&["analyze", "--fs-root", "/", &failing]), 0);
    assert_eq!(
        note(&["analyze", &f("keepalive-healthy", "trace.strace")]),
        0
    );
    assert_eq!(note(&["analyze", &f("json-syscalls", "trace.jsonl")]), 0);
}
