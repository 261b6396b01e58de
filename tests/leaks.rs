//! Nothing leaks: an output file that another user planted or can read, a directory
//! symlink another user planted on the way to it, credentials in request targets and Host
//! headers, and query words that reach a CGI script's argv.

mod common;

use std::fs::File;
use std::io::Read;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::apache::Apache;
use common::*;
use serde_json::Value;

/// One Apache test at a time: they share two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const T: Duration = Duration::from_secs(60);

/// `nobody`: the other user of these tests.
const NOBODY: u32 = 65534;

/// Run a shell command as `nobody` (setuid in the child, as root can), for a file or a link
/// that another user really made.
fn as_nobody(script: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .gid(NOBODY)
        .uid(NOBODY)
        .output()
        .unwrap()
}

fn mode(path: &str) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `-o FILE` where another user created FILE first, world-writable, in a sticky
/// world-writable directory (/tmp's situation): the trace of `cat /etc/shadow` must not land
/// in that user's file. It goes to a new file of ours, 0600, in its place; what that user can
/// still open (the old file, or a descriptor kept on it) holds nothing of it.
#[test]
fn an_output_file_another_user_planted_is_replaced_not_written_into() {
    let dir = TempDir::new("planted");
    let sticky = dir.path().join("shared");
    std::fs::create_dir(&sticky).unwrap();
    chmod(&sticky, 0o1777);
    let out_path = dir.join("shared/trace.txt");
    let made = as_nobody("umask 0; : > \"$1\"", &[&out_path]);
    assert!(made.status.success(), "{}", stderr(&made));
    assert_eq!(std::fs::metadata(&out_path).unwrap().uid(), NOBODY);
    assert_eq!(mode(&out_path), 0o666);
    // What the other user could keep open: the inode they made.
    let mut kept = File::open(&out_path).unwrap();

    let r = run_reqtrace(&["run", "-o", &out_path, "--", "cat", "/etc/shadow"], T);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));

    let meta = std::fs::metadata(&out_path).unwrap();
    assert_eq!(
        (meta.uid(), meta.mode() & 0o7777),
        (0, 0o600),
        "the trace must be in a private file of ours, not in the one another user made"
    );
    let trace = std::fs::read_to_string(&out_path).unwrap();
    assert!(trace.contains("/etc/shadow"), "{trace}");
    let mut leaked = String::new();
    kept.read_to_string(&mut leaked).unwrap();
    assert_eq!(leaked, "", "the trace went into the other user's file");
    let read = as_nobody("cat \"$1\"", &[&out_path]);
    assert!(
        !read.status.success() && read.stdout.is_empty(),
        "nobody read the trace: {}",
        String::from_utf8_lossy(&read.stdout)
    );
}

/// An existing output file of ours that others may read (0644) does not stay readable: it
/// is replaced by a 0600 one.
#[test]
fn an_existing_world_readable_output_file_becomes_private() {
    let dir = TempDir::new("readable");
    let out_path = dir.join("trace.txt");
    std::fs::write(&out_path, "old\n").unwrap();
    chmod(std::path::Path::new(&out_path), 0o644);
    let mut kept = File::open(&out_path).unwrap();
    let r = run_reqtrace(&["run", "-o", &out_path, "--", "cat", "/etc/shadow"], T);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert_eq!(mode(&out_path), 0o600, "the trace stayed world-readable");
    assert!(
        std::fs::read_to_string(&out_path)
            .unwrap()
            .contains("/etc/shadow")
    );
    let mut old = String::new();
    kept.read_to_string(&mut old).unwrap();
    assert_eq!(
        old, "old\n",
        "a descriptor opened before must not see the trace"
    );
}

/// A directory on the way to FILE that another user replaced by a symbolic link (here in
/// a directory of theirs): following it would let them choose where root writes, and
/// truncate any file there. reqtrace refuses; the file it pointed at is untouched. A
/// symbolic link of root's own (/var/run → /run) is still followed.
#[test]
fn a_symlinked_parent_directory_planted_by_another_user_is_refused() {
    let dir = TempDir::new("parentlink");
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    chmod(&private, 0o700);
    let victim = dir.join("private/precious");
    std::fs::write(&victim, "precious\n").unwrap();
    let link = dir.join("theirs/link");
    let made = as_nobody("ln -s \"$1\" \"$2\"", &[private.to_str().unwrap(), &link]);
    assert!(made.status.success(), "{}", stderr(&made));

    let out_path = dir.join("theirs/link/precious");
    let r = run_reqtrace(&["run", "-o", &out_path, "--", "true"], T);
    let err = stderr(&r);
    assert_eq!(
        r.status.code(),
        Some(2),
        "a planted directory link was followed: {err}"
    );
    assert!(
        err.contains("symbolic link") && err.contains("nobody"),
        "the message names the link and its owner: {err}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(std::fs::read_dir(&private).unwrap().count(), 1);

    // A link of our own on the way is followed.
    let ours = dir.join("ours");
    std::os::unix::fs::symlink(&private, &ours).unwrap();
    let out_path = format!("{ours}/new.txt");
    let r = run_reqtrace(&["run", "-o", &out_path, "--", "true"], T);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert_eq!(mode(&dir.join("private/new.txt")), 0o600);
}

/// Not root: a file another user made in a sticky directory cannot be replaced (only its
/// owner may remove it there), so reqtrace refuses instead of writing into it.
#[test]
fn a_user_who_cannot_replace_another_users_file_is_refused() {
    let dir = TempDir::new("notroot");
    let sticky = dir.path().join("shared");
    std::fs::create_dir(&sticky).unwrap();
    chmod(&sticky, 0o1777);
    let out_path = dir.join("shared/trace.txt");
    std::fs::write(&out_path, "root's\n").unwrap();
    chmod(std::path::Path::new(&out_path), 0o666);
    let bin = reqtrace();
    let r = as_nobody(
        "\"$1\" run -o \"$2\" -- true",
        &[bin.to_str().unwrap(), &out_path],
    );
    let err = stderr(&r);
    assert_eq!(
        r.status.code(),
        Some(2),
        "wrote into root's world-readable file: {err}"
    );
    assert!(err.contains("root") && err.contains(&out_path), "{err}");
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "root's\n");
    assert_eq!(
        std::fs::read_dir(&sticky).unwrap().count(),
        1,
        "a temporary file was left"
    );
}

/// Secrets a client may put where reqtrace looks: user:password in an absolute-form target
/// and in a CONNECT's authority, a session id as a path parameter, user:password in Host.
const SECRET_REQUESTS: [&str; 4] = [
    "GET http://alice:S3cretA@127.0.0.1:@PORT@/hello.html HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    "CONNECT alice:S3cretB@127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n",
    "GET /hello.html;jsessionid=S3cretC HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    "GET /hello.html HTTP/1.1\r\nHost: alice:S3cretD@127.0.0.1\r\n",
];

/// What the records of SECRET_REQUESTS show by default, sorted.
fn redacted_targets(port: u16) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        (
            format!("http://REDACTED@127.0.0.1:{port}/hello.html"),
            "127.0.0.1",
        ),
        ("REDACTED@127.0.0.1:443".to_string(), "127.0.0.1:443"),
        ("/hello.html;jsessionid=REDACTED".to_string(), "127.0.0.1"),
        ("/hello.html".to_string(), "REDACTED@127.0.0.1"),
    ]
    .into_iter()
    .map(|(t, h)| (t, h.to_string()))
    .collect();
    v.sort();
    v
}

/// Send each of SECRET_REQUESTS on its own connection and read the answer.
fn send_secret_requests(a: &Apache) {
    for r in SECRET_REQUESTS {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", a.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let req = r.replace("@PORT@", &a.port.to_string()) + "Connection: close\r\n\r\n";
        s.write_all(req.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        assert!(answer.starts_with(b"HTTP/1."), "no answer to {r:?}");
    }
}

/// (target, host) of each request record, sorted (two workers may finish in either order).
fn targets_and_hosts(lines: &[Value]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = requests(lines)
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("target"), s("host"))
        })
        .collect();
    v.sort();
    v
}

/// The secrets the file paths cannot hold: only a path parameter reaches the file name
/// Apache looks up (`hello.html;jsessionid=…`), which is a path, shown as the server used it.
fn assert_no_credentials(text: &str) {
    for s in ["S3cretA", "S3cretB", "S3cretD", "alice"] {
        assert!(!text.contains(s), "{s} printed:\n{text}");
    }
}

/// Credentials in an absolute-form target, in a CONNECT's authority, in a path parameter
/// (`;jsessionid=`) and in the Host header are REDACTED, live (JSON) and in `analyze` of a
/// strace log of the same requests (JSON and text); `--show-secrets` shows them.
#[test]
fn credentials_in_targets_and_host_are_redacted_live_and_in_analyze() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let want = redacted_targets(a.port);

    let child = a.attach_bg(&["--json", "--count", "4", "--duration", "30"]);
    send_secret_requests(&a);
    let out = wait_output(child, T);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(targets_and_hosts(&json_lines(&out.stdout)), want, "{text}");
    assert_no_credentials(&text);

    let dir = TempDir::new("secrets-strace");
    let log = dir.join("apache.log");
    let mut args = vec![
        "-f".to_string(),
        "-s".into(),
        "1024".into(),
        "-o".into(),
        log.clone(),
    ];
    for p in std::iter::once(a.pid()).chain(a.workers()) {
        args.extend(["-p".into(), p.to_string()]);
    }
    let mut strace = Command::new("strace")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace is installed by scripts/test.sh");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !a
        .workers()
        .iter()
        .all(|&w| try_state_and_tracer(w).is_some_and(|(_, tracer)| tracer == strace.id() as i32))
    {
        assert!(Instant::now() < deadline, "strace did not attach");
        std::thread::sleep(Duration::from_millis(50));
    }
    send_secret_requests(&a);
    std::thread::sleep(Duration::from_millis(300));
    send_signal(strace.id() as i32, libc::SIGINT);
    strace.wait().unwrap();
    assert!(std::fs::read_to_string(&log).unwrap().contains("S3cretA"));

    let out = run_reqtrace(&["analyze", "--json", &log], T);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(targets_and_hosts(&json_lines(&out.stdout)), want, "{text}");
    assert_no_credentials(&text);

    let out = run_reqtrace(&["analyze", &log], T);
    let text = String::from_utf8_lossy(&out.stdout);
    for (t, _) in &want {
        assert!(text.contains(&format!(" {t} → ")), "{t} not in:\n{text}");
    }
    assert_no_credentials(&text);
    let headlines: Vec<&str> = text.lines().filter(|l| l.contains(" → ")).collect();
    assert!(!headlines.concat().contains("S3cretC"), "{text}");

    let out = run_reqtrace(&["analyze", "--json", "--show-secrets", &log], T);
    let shown = targets_and_hosts(&json_lines(&out.stdout));
    let target = format!("http://alice:S3cretA@127.0.0.1:{}/hello.html", a.port);
    assert!(shown.iter().any(|(t, _)| *t == target), "{shown:?}");
    assert!(
        shown.iter().any(|(_, h)| h == "alice:S3cretD@127.0.0.1"),
        "{shown:?}"
    );
}

/// The test Apache with `module` (mod_cgi, or mod_cgid for threaded MPMs: its daemon forks
/// the scripts) and `.cgi` scripts in the DocumentRoot, and `x.cgi`.
fn apache_with_a_cgi_script(mpm: &str, module: &str) -> Apache {
    let a = Apache::start_with(
        mpm,
        &format!(
            "LoadModule {module}_module /usr/lib/apache2/modules/mod_{module}.so\n\
             AddHandler cgi-script .cgi\n\
             <Directory \"@ROOT@/www\">\n    Options +ExecCGI\n</Directory>\n"
        ),
    );
    let script = a.root.path().join("www/x.cgi");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"$*\"\n",
    )
    .unwrap();
    chmod(&script, 0o755);
    a
}

/// A query without `=` reaches a CGI script as its arguments (RFC 3875 4.4: Apache splits it
/// at `+` and decodes each word). The request line shows `?REDACTED`, so the script's execve
/// must not show the words either, as text or JSON; `--show-secrets` shows them.
#[test]
fn query_words_passed_to_a_cgi_script_as_argv_are_redacted() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    check_cgi_argv("prefork", "cgi");
    check_cgi_argv("event", "cgid");
}

fn check_cgi_argv(mpm: &str, module: &str) {
    let a = apache_with_a_cgi_script(mpm, module);
    let script = a.root.path().join("www/x.cgi");
    let script = script.to_str().unwrap();
    let pid = a.pid().to_string();
    // The second word is sent escaped: Apache decodes it (and escapes the shell's
    // characters with a backslash) before the exec.
    let url = a.url("/x.cgi?S3cretOne+S3cret%26Two");
    let run = |extra: &[&str]| {
        let mut args = vec!["attach", "--syscalls", "--probe", &url];
        args.extend_from_slice(extra);
        args.push(&pid);
        let out = run_reqtrace(&args, T);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out
    };

    let out = run(&["--json"]);
    let lines = json_lines(&out.stdout);
    let r = requests(&lines)[0];
    assert_eq!(
        (r["target"].as_str(), r["status"].as_u64()),
        (Some("/x.cgi?REDACTED"), Some(200))
    );
    let execs: Vec<&Value> = syscalls(&lines)
        .into_iter()
        .filter(|e| e["syscall"] == "execve" && e["path"] == script)
        .collect();
    assert_eq!(execs.len(), 1, "the script's execve is shown: {lines:#?}");
    assert_eq!(
        execs[0]["args"][1],
        serde_json::json!([script, "REDACTED", "REDACTED"]),
        "{:#}",
        execs[0]
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("S3cret"), "{text}");

    let out = run(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("[\"{script}\", \"REDACTED\", \"REDACTED\"]")),
        "{text}"
    );
    assert!(!text.contains("S3cret"), "{text}");

    let out = run(&["--json", "--show-secrets"]);
    let lines = json_lines(&out.stdout);
    let exec = syscalls(&lines)
        .into_iter()
        .find(|e| e["syscall"] == "execve" && e["path"] == script)
        .expect("the script's execve");
    assert_eq!(
        exec["args"][1],
        serde_json::json!([script, "S3cretOne", "S3cret\\&Two"])
    );
}
