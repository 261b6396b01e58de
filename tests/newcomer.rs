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
