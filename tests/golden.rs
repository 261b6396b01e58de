//! Golden tests for `reqtrace analyze`: every directory under tests/fixtures/ is a case, a
//! checked-in strace log or recorded JSON trace with the exact records it must produce
//! (tests/fixtures/README.md). Correlation and diagnosis are tested here without root, a server
//! or the network: each case runs the built binary in its own directory, twice (`--json`, and
//! the human output with colour off), normalises what may change from run to run or machine to
//! machine, and compares with `expected.jsonl` and `expected.txt`.
//!
//! `REQTRACE_REGEN_GOLDEN=1` writes the expected files instead of comparing
//! (scripts/regen-golden.sh); the normalisation is the same either way.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

/// A run of reqtrace takes milliseconds; this only stops a hung one.
const T: Duration = Duration::from_secs(60);
const REGEN: &str = "REQTRACE_REGEN_GOLDEN";

macro_rules! cases {
    ($($test:ident => $dir:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check($dir);
            }
        )*
        /// Every case, as its directory name.
        const CASES: &[&str] = &[$($dir),*];
    };
}

cases! {
    phpp_rewrite => "phpp-rewrite",
    eacces_403 => "eacces-403",
    keepalive_healthy => "keepalive-healthy",
    event_threads => "event-threads",
    pipelined => "pipelined",
    url_filter => "url-filter",
    yy_decorated => "yy-decorated",
    ff_split => "ff-split",
    json_syscalls => "json-syscalls",
    json_records_only => "json-records-only",
    json_fs_root => "json-fs-root",
    malformed_lines => "malformed-lines",
    nginx_try_files => "nginx-try-files",
    fastcgi_nginx => "fastcgi-nginx",
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A case directory added without a test (or a test whose directory is gone) is an error, not
/// a case silently skipped.
#[test]
fn every_fixture_directory_is_a_case() {
    let mut dirs: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.to_string()).collect();
    listed.sort();
    assert_eq!(
        dirs, listed,
        "tests/fixtures/ and the cases! list in tests/golden.rs must name the same cases"
    );
}

/// The trace a case reads: `trace.strace` (an strace log), `trace.jsonl` (a recording), or
/// `trace` standing for `strace -ff` files `trace.PID`.
fn input(dir: &Path) -> &'static str {
    if dir.join("trace.strace").exists() {
        return "trace.strace";
    }
    if dir.join("trace.jsonl").exists() {
        return "trace.jsonl";
    }
    let per_pid = std::fs::read_dir(dir).unwrap().flatten().any(|e| {
        e.file_name()
            .to_str()
            .and_then(|n| n.strip_prefix("trace."))
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
    });
    assert!(
        per_pid,
        "{}: no trace.strace, trace.jsonl or trace.PID files",
        dir.display()
    );
    "trace"
}

/// The case's extra arguments: one per line; empty lines are ignored.
fn args(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("args"))
        .unwrap_or_else(|e| panic!("{}/args: {e}", dir.display()));
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn analyze(dir: &Path, first: &[&str], rest: &[String]) -> Run {
    let child = Command::new(common::reqtrace())
        .arg("analyze")
        .args(first)
        .args(rest)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = common::wait_output(child, T);
    Run {
        stdout: normalise(&String::from_utf8_lossy(&out.stdout), dir),
        stderr: normalise(&String::from_utf8_lossy(&out.stderr), dir),
        code: out.status.code(),
    }
}

/// What may differ between runs and machines, made constant: the case directory's absolute
/// path (where the checkout is) and the summary's `duration_s` (wall-clock time).
fn normalise(text: &str, dir: &Path) -> String {
    let mut t = text.to_string();
    for d in [dir.to_path_buf(), dir.canonicalize().unwrap()] {
        t = t.replace(d.to_str().unwrap(), "<case>");
    }
    const KEY: &str = "\"duration_s\":";
    let mut out = String::with_capacity(t.len());
    let mut rest = t.as_str();
    while let Some(i) = rest.find(KEY) {
        out.push_str(&rest[..i + KEY.len()]);
        rest = &rest[i + KEY.len()..];
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
            .unwrap_or(rest.len());
        out.push('0');
        rest = &rest[n..];
    }
    out.push_str(rest);
    out
}

/// Every file under `dir` with its size and modification time: a run must change nothing.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            }
            out.insert(e.path(), (meta.len(), meta.modified().ok()));
        }
    }
    out
}

fn check(case: &str) {
    let dir = fixtures().join(case);
    let before = snapshot(&dir);
    let args = args(&dir);
    let mut rest = args.clone();
    rest.push(input(&dir).to_string());

    let json = analyze(&dir, &["--json"], &rest);
    let human = analyze(&dir, &["--color", "never"], &rest);
    assert_eq!(
        json.code, human.code,
        "{case}: --json and human runs exit differently; stderr: {}",
        json.stderr
    );
    // Whatever is expected, the JSON output is JSON Lines ending in a summary.
    let lines = common::json_lines(json.stdout.as_bytes());
    assert_eq!(
        lines.last().map(|l| l["type"].clone()),
        Some("summary".into()),
        "{case}: the JSON output ends with its summary line:\n{}",
        json.stdout
    );
    let text = format!(
        "{}--- stderr (exit status {}) ---\n{}",
        human.stdout,
        human.code.map_or("none".into(), |c| c.to_string()),
        human.stderr
    );
    assert_eq!(
        before,
        snapshot(&dir),
        "{case}: reqtrace analyze changed files in the case directory"
    );

    let want = [("expected.jsonl", json.stdout), ("expected.txt", text)];
    if std::env::var_os(REGEN).is_some_and(|v| v == "1") {
        for (file, got) in &want {
            std::fs::write(dir.join(file), got).unwrap();
        }
        eprintln!("{case}: expected.jsonl and expected.txt rewritten");
        return;
    }
    let mut failures = Vec::new();
    for (file, got) in &want {
        let expected = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if expected != *got {
            failures.push(format!(
                "tests/fixtures/{case}/{file} differs (- expected, + actual):\n{}",
                diff(&expected, got)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden case {case} failed; if the change is intended, run scripts/regen-golden.sh \
         and review the diff\n\n{}",
        failures.join("\n")
    );
}

/// A line diff (longest common subsequence) showing the changed lines with two lines of
/// context around each change.
fn diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    const CONTEXT: usize = 2;
    let near_change = |k: usize| {
        let lo = k.saturating_sub(CONTEXT);
        let hi = (k + CONTEXT + 1).min(ops.len());
        ops[lo..hi].iter().any(|(op, _)| *op != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near_change(k) {
            if skipped {
                out.push_str("  ...\n");
                skipped = false;
            }
            out.push_str(&format!("{op} {line}\n"));
        } else {
            skipped = true;
        }
    }
    if a.last().is_some() && b.is_empty() {
        out.push_str("(the actual output is empty)\n");
    }
    out.push_str(&first_difference(&a, &b));
    out
}

/// Where the first differing line first differs, with some text around it: a changed field
/// is hard to spot in a long JSON line.
fn first_difference(a: &[&str], b: &[&str]) -> String {
    let Some(n) = (0..a.len().max(b.len())).find(|&n| a.get(n) != b.get(n)) else {
        return String::new();
    };
    let (x, y) = (
        a.get(n).copied().unwrap_or(""),
        b.get(n).copied().unwrap_or(""),
    );
    let col = x
        .char_indices()
        .zip(y.chars())
        .find(|((_, cx), cy)| cx != cy)
        .map_or(x.len().min(y.len()), |((i, _), _)| i);
    let around = |s: &str| -> String {
        let from = s[..col.min(s.len())]
            .char_indices()
            .rev()
            .nth(30)
            .map_or(0, |(i, _)| i);
        s[from..].chars().take(80).collect()
    };
    format!(
        "first difference: line {}, byte {}\n  expected: ...{}\n  actual:   ...{}\n",
        n + 1,
        col + 1,
        around(x),
        around(y)
    )
}
