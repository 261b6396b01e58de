//! What a newcomer meets first: 32-bit syscalls that must not go missing silently, the
//! set-up that leaves `reqtrace` on PATH, options that refuse nonsense, help and man pages
//! that say what the commands do, and documentation whose examples are what reqtrace does.

mod common;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(60);

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
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
