//! Nothing lost, harmed or garbled: the summary line survives a stalled reader; a long
//! request line keeps its method, target and Host; `analyze` is bounded in memory, refuses
//! to overwrite its own input and says when nothing in its input was understood; stderr
//! lines are written whole; a malformed request line is labelled as such.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(60);

/// The strings reqtrace wrote to fd 2, one per write(2), from an `strace -e write` log.
fn stderr_writes(log: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let at = l.find("write(2, \"")?;
            let s = &l[at + "write(2, \"".len()..];
            let end = s.rfind("\", ")?;
            Some(s[..end].to_string())
        })
        .collect()
}

/// Every line reqtrace writes on stderr goes out in one write(2): with `2>&1` a line
/// written in pieces interleaves with the records (`reqtrace: 1GET /home → 404 …`).
#[test]
fn stderr_lines_are_written_whole() {
    let dir = TempDir::new("stderr-whole");
    let bad = dir.join("bad.log");
    // Unparsable lines (named on stderr), then the summary sentence and the exit-2 message.
    std::fs::write(&bad, "not a trace\nnor this\n").unwrap();
    let log = dir.join("strace.log");
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=write", "-e", "signal=none"])
        .args(["-s", "65536", "-o", &log])
        .arg(reqtrace())
        .args(["analyze", &bad])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let writes = stderr_writes(&log);
    assert!(
        writes.len() >= 4,
        "the unparsed lines, the summary and the error: {writes:#?}"
    );
    for w in &writes {
        assert!(
            w.ends_with("\\n") && w.starts_with("reqtrace: "),
            "a stderr line written in pieces: {w:?} among {writes:#?}"
        );
    }
    // What the user saw is the same lines.
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(text.lines().count(), writes.len(), "{text}");
}

/// A reader that stalls (`| (sleep …; cat)`) makes the output queue drop records, as
/// designed; the summary line is still written, last, and its `dropped` accounts for every
/// request record the reader did not get.
#[test]
fn a_stalled_reader_still_gets_the_summary_last() {
    let dir = TempDir::new("stalled-summary");
    let done = dir.join("done");
    // More records than the output queue holds (8192 waiting, 8192 being written).
    let n = 30_000;
    let child = spawn_pipeline(
        &format!(
            "run --json --url / -- '{}' {n} '{done}'",
            fixture("fx_http").display()
        ),
        // The reader reads nothing until every request was made.
        &format!("(while [ ! -e '{done}' ]; do sleep 0.1; done; sleep 0.5; cat)"),
    );
    let out = wait_output(child, T);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines = json_lines(&out.stdout);
    let last = lines.last().expect("some output");
    assert_eq!(
        last["type"],
        "summary",
        "the last of {} lines is not the summary: {last}\n{stderr}",
        lines.len()
    );
    assert_eq!(lines.iter().filter(|l| l["type"] == "summary").count(), 1);
    let dropped = last["dropped"].as_u64().unwrap();
    let got = requests(&lines).len() as u64;
    assert!(
        dropped > 0,
        "the reader stalled, yet nothing dropped: {last}"
    );
    assert!(
        got + dropped >= n,
        "{got} records and {dropped} dropped for {n} requests: {last}"
    );
    assert!(
        stderr.contains(&format!("{dropped} events or lines dropped")),
        "{stderr}"
    );
}
