//! What a newcomer meets first: 32-bit syscalls that must not go missing silently, the
//! set-up that leaves `reqtrace` on PATH, options that refuse nonsense, help and man pages
//! that say what the commands do, and documentation whose examples are what reqtrace does.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

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
