//! Nothing lost, harmed or garbled: the summary line survives a stalled reader; a long
//! request line keeps its method, target and Host; `analyze` is bounded in memory, refuses
//! to overwrite its own input and says when nothing in its input was understood; stderr
//! lines are written whole; a malformed request line is labelled as such.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::apache::Apache;
use common::*;
use serde_json::Value;

/// One heavy test at a time (a real Apache, a fast fixture): they share two cores.
static SERIAL: Mutex<()> = Mutex::new(());

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
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
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

/// What a finished command gave, and its peak resident memory (KiB, from wait4's rusage).
struct Measured {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    max_rss_kib: i64,
}

/// Run `cmd` to completion (killed past T), reading its output, and measure its peak RSS.
fn run_measured(mut cmd: Command) -> Measured {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(T).is_err() {
            send_signal(pid, libc::SIGKILL);
        }
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 reaps our own child and fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let _ = tx.send(());
    let _ = watchdog.join();
    std::mem::forget(child); // reaped by wait4
    Measured {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: o.join().unwrap(),
        stderr: String::from_utf8_lossy(&e.join().unwrap()).into_owned(),
        max_rss_kib: usage.ru_maxrss,
    }
}

/// The peak memory `analyze` may use on hostile input (it needs about 10 MiB on a small
/// trace).
const ANALYZE_RSS_KIB: i64 = 48 * 1024;

/// Millions of lines that are not a trace: each is counted, the first few named, none kept
/// (4 million `x` lines took 4.3 GB per 100 MB before); exit 2, nothing was understood.
#[test]
fn analyze_memory_does_not_grow_with_unparsable_lines() {
    let dir = TempDir::new("analyze-junk-lines");
    let junk = dir.join("junk.log");
    let n = 4_000_000;
    std::fs::write(&junk, "x\n".repeat(n)).unwrap();
    let mut cmd = Command::new(reqtrace());
    cmd.args(["analyze", "--json", &junk]);
    let m = run_measured(cmd);
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    let summary = json_lines(&m.stdout).pop().unwrap();
    assert_eq!(summary["unparsed"], n as u64, "{summary}");
    assert!(
        m.stderr.contains(&format!("... and {} more lines", n - 10)),
        "{}",
        m.stderr
    );
    assert!(
        m.max_rss_kib < ANALYZE_RSS_KIB,
        "analyze of {n} junk lines peaked at {} KiB",
        m.max_rss_kib
    );
}

/// One endless line (a stream of NULs, as from /dev/zero) is read in bounded memory: what
/// goes past the line length limit is skipped, the line is named as too long.
#[test]
fn analyze_memory_does_not_grow_with_one_endless_line() {
    let mut zeros = Command::new("head")
        .args(["-c", &(96u64 << 20).to_string(), "/dev/zero"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut cmd = Command::new(reqtrace());
    cmd.args(["analyze", "-"])
        .stdin(zeros.stdout.take().unwrap());
    let m = run_measured(cmd);
    let _ = zeros.kill();
    let _ = zeros.wait();
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    assert!(
        m.stderr
            .contains("<stdin>:1: cannot parse this line: longer than"),
        "{}",
        m.stderr
    );
    assert!(
        m.max_rss_kib < ANALYZE_RSS_KIB,
        "analyze of a 96 MiB line peaked at {} KiB",
        m.max_rss_kib
    );
}

/// `analyze X -o X` would truncate X before reading it: refused (exit 2), X untouched; also
/// through a hard link.
#[test]
fn analyze_refuses_to_write_over_its_input() {
    let dir = TempDir::new("analyze-o-input");
    let here = env!("CARGO_MANIFEST_DIR");
    let trace = dir.join("trace.strace");
    std::fs::copy(
        format!("{here}/tests/fixtures/eacces-403/trace.strace"),
        &trace,
    )
    .unwrap();
    let before = std::fs::read(&trace).unwrap();
    let link = dir.join("link.strace");
    std::fs::hard_link(&trace, &link).unwrap();
    for out in [&trace, &link] {
        let o = run_reqtrace(&["analyze", &trace, "-o", out], T);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "-o {out}: {stderr}");
        assert!(stderr.contains("is also an input"), "-o {out}: {stderr}");
        assert_eq!(
            std::fs::read(&trace).unwrap(),
            before,
            "-o {out} changed the input"
        );
    }
    // Another file is fine.
    let o = run_reqtrace(&["analyze", &trace, "-o", &dir.join("out.txt")], T);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// An input in which nothing is a trace exits 2 with a message naming it: random bytes,
/// blank lines only, an empty file, a directory.
#[test]
fn analyze_exits_2_when_nothing_was_understood() {
    let dir = TempDir::new("analyze-nothing");
    // Random bytes with blank lines among them (a blank line is no trace either).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    random.extend_from_slice(b"\n\n\n\xff\xfe\n\n");
    let cases: [(&str, Option<&[u8]>, &str); 4] = [
        ("random.bin", Some(&random), "nothing in it is a trace"),
        (
            "blank.log",
            Some(b"\n\n  \n\r\n"),
            "nothing in it is a trace",
        ),
        ("empty.log", Some(b""), "nothing in it is a trace"),
        ("a-directory", None, "is a directory"),
    ];
    for (name, content, says) in cases {
        let path = dir.join(name);
        match content {
            Some(c) => std::fs::write(&path, c).unwrap(),
            None => std::fs::create_dir(&path).unwrap(),
        }
        let o = run_reqtrace(&["analyze", &path], T);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&path) && stderr.contains(says),
            "{name}: {stderr}"
        );
    }
}

/// Send raw bytes on a new connection to Apache and read the answer until it closes;
/// returns the status (0 when there is none).
fn send_raw(a: &Apache, bytes: &[u8]) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    std::str::from_utf8(buf.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Attach to `a` with ARGS, send each request (waiting for its answer), and return the
/// JSON lines once reqtrace exits (`--count`).
fn trace_requests(a: &Apache, args: &[&str], reqs: &[Vec<u8>]) -> (Vec<Value>, Vec<u16>) {
    let child = a.attach_bg(args);
    let statuses: Vec<u16> = reqs.iter().map(|r| send_raw(a, r)).collect();
    let out = wait_output(child, T);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (json_lines(&out.stdout), statuses)
}

/// A request line longer than the first 1 KiB reqtrace reads (a long path, a long query),
/// or a Host header after long headers, keeps its method, target and Host: diagnosed,
/// matched by `--url`, not `partial`. Other headers are never kept.
#[test]
fn a_long_request_line_keeps_its_method_target_and_host() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let deep = "/d123456789".repeat(300); // 3300 bytes of path
    let query = "q=".to_string() + &"v".repeat(1500);
    let cookie = "secret-cookie-".to_string() + &"c".repeat(3000);
    let reqs = [
        format!(
            "GET /deep{deep}/missing.html?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "GET /deep/after-cookie.html HTTP/1.1\r\nCookie: {cookie}\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n"
        ),
    ];
    let reqs: Vec<Vec<u8>> = reqs.into_iter().map(String::into_bytes).collect();
    let (lines, statuses) = trace_requests(
        &a,
        &[
            "--json",
            "--url",
            "/deep/*",
            "--count",
            "2",
            "--duration",
            "15",
        ],
        &reqs,
    );
    assert_eq!(statuses, [404, 404]);
    let text = lines.iter().map(Value::to_string).collect::<String>();
    assert!(
        !text.contains("secret-cookie"),
        "a header value reached the output"
    );
    let recs = requests(&lines);
    assert_eq!(recs.len(), 2, "{lines:#?}");
    let long = recs
        .iter()
        .find(|r| r["target"].as_str().unwrap_or("").len() > 1024)
        .unwrap_or_else(|| panic!("no record with the long target: {recs:#?}"));
    assert_eq!(long["method"], "GET", "{long}");
    assert_eq!(
        long["target"],
        format!("/deep{deep}/missing.html?q=REDACTED"),
        "{long}"
    );
    assert_eq!(long["host"], "127.0.0.1");
    assert_eq!(long["partial"], false);
    assert_eq!(long["status"], 404);
    assert!(
        long["suspects"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with(a.root.path().join("www/deep").to_str().unwrap()),
        "diagnosed: {long}"
    );
    let after = recs
        .iter()
        .find(|r| r["target"] == "/deep/after-cookie.html")
        .unwrap_or_else(|| panic!("{recs:#?}"));
    assert_eq!(
        after["host"], "127.0.0.1:1",
        "the Host after a long Cookie: {after}"
    );
    assert_eq!(after["partial"], false);
}

/// A request line Apache refuses with 400 because it is malformed (an ESC, a NUL or a bare CR
/// in it, LF-only line ends, no request line at all) is labelled malformed, with what was
/// sent as far as it can be told; never "started before reqtrace attached", which it was
/// not. A request line longer than 8 KiB (Apache's 414), read in two pieces, keeps its
/// method and target.
#[test]
fn a_malformed_request_line_is_labelled_malformed() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let tail = "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
    // What is sent; the method, target and `malformed` reason expected.
    type Case<'a> = (Vec<u8>, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            format!("GET /esc\x1b[31m HTTP/1.1\r\n{tail}").into_bytes(),
            Some("GET"),
            Some("/esc\u{1b}[31m"),
            Some("control character (0x1b)"),
        ),
        (
            format!("GET /nul\0x HTTP/1.1\r\n{tail}").into_bytes(),
            Some("GET"),
            Some("/nul\u{0}x"),
            Some("control character (0x00)"),
        ),
        (
            format!("GET /cr\rx HTTP/1.1\r\n{tail}").into_bytes(),
            Some("GET"),
            Some("/cr\rx"),
            Some("control character (0x0d)"),
        ),
        (
            b"GET /lf-only HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n".to_vec(),
            Some("GET"),
            Some("/lf-only"),
            Some("LF alone"),
        ),
        (
            format!("GARBAGE\r\n{tail}").into_bytes(),
            None,
            None,
            Some("not an HTTP/1.x request line"),
        ),
        (
            format!("GET /{} HTTP/1.1\r\n{tail}", "x".repeat(9000)).into_bytes(),
            Some("GET"),
            None,
            None,
        ),
    ];
    let reqs: Vec<Vec<u8>> = cases.iter().map(|c| c.0.clone()).collect();
    let n = reqs.len().to_string();
    let (lines, statuses) =
        trace_requests(&a, &["--json", "--count", &n, "--duration", "15"], &reqs);
    assert_eq!(statuses, [400, 400, 400, 400, 400, 414]);
    let recs = requests(&lines);
    assert_eq!(recs.len(), cases.len(), "{recs:#?}");
    // In the order sent: one connection after another.
    let mut recs = recs.clone();
    recs.sort_by(|x, y| {
        x["start_ts"]
            .as_f64()
            .partial_cmp(&y["start_ts"].as_f64())
            .unwrap()
    });
    for (r, (_, method, target, why)) in recs.iter().zip(&cases) {
        assert_eq!(r["partial"], false, "{r}");
        match why {
            Some(why) => assert!(
                r["malformed"].as_str().is_some_and(|m| m.contains(why)),
                "{why}: {r}"
            ),
            None => assert_eq!(r.get("malformed"), None, "{r}"),
        }
        assert_eq!(r["method"].as_str(), *method, "{r}");
        if let Some(t) = target {
            assert_eq!(r["target"].as_str(), Some(*t), "{r}");
        }
    }
    let long = recs.last().unwrap();
    assert_eq!(long["status"], 414);
    assert!(
        long["target"].as_str().unwrap() == format!("/{}", "x".repeat(9000)),
        "the long target: {long}"
    );
    // The human report says so on its headline, in place of "started before".
    let out = Command::new(reqtrace())
        .args(["analyze", "--color", "never", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut out = out;
    out.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = wait_output(out, T);
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(!human.contains("started before"), "{human}");
    let heads: Vec<&str> = human.lines().filter(|l| l.contains(" → ")).collect();
    assert_eq!(heads.len(), cases.len(), "{human}");
    for h in heads.iter().filter(|h| !h.starts_with("GET /xxx")) {
        assert!(h.contains("(malformed request: "), "{h}");
    }
    assert!(
        heads
            .iter()
            .any(|h| h
                .starts_with("GET /esc\\x1b[31m (malformed request: a control character (0x1b)")),
        "{human}"
    );
    assert!(
        heads
            .iter()
            .any(|h| h.starts_with("? (malformed request: not an HTTP/1.x request line) → 400")),
        "{human}"
    );
}
