//! Issue 12 on real PHP applications (a private prefork Apache with mod_php, DokuWiki from
//! Debian's package, tests/common/php.rs): a healthy page whose failing file calls the
//! application handled passes `--probe` with those failures counted as noise; a missing
//! include fails it, is named first and the PHP warning the worker logged is in the record.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::php::{DOKUWIKI_START_TEXT, PhpApache};
use common::*;
use serde_json::Value;

/// One server at a time: they share two cores with the other tests.
static SERIAL: Mutex<()> = Mutex::new(());

const T: Duration = Duration::from_secs(120);

/// `reqtrace attach --json --probe URL… MASTER`: its output and JSON lines.
fn probe(app: &PhpApache, paths: &[&str]) -> (std::process::Output, Vec<Value>) {
    let urls: Vec<String> = paths.iter().map(|p| app.url(p)).collect();
    let pid = app.pid().to_string();
    let mut args = vec!["attach", "--json"];
    for u in &urls {
        args.extend(["--probe", u.as_str()]);
    }
    args.push(&pid);
    let out = run_reqtrace(&args, T);
    let lines = json_lines(&out.stdout);
    (out, lines)
}

/// The request record of each probe, in probe order (a probe is sent when the one before
/// it has its record; nothing else asks these servers anything).
fn records<'a>(lines: &'a [Value], paths: &[&str], stderr: &str) -> Vec<&'a Value> {
    let reqs = requests(lines);
    // Everything else reqtrace wrote (its start and summary lines: processes traced,
    // dropped, why it ended), to tell a request never seen from one never finished.
    let others: Vec<String> = lines
        .iter()
        .filter(|l| l["type"] != "request")
        .map(|l| l.to_string())
        .collect();
    assert_eq!(
        reqs.len(),
        paths.len(),
        "one record per probe {paths:?}: {reqs:#?}\n{stderr}\n{others:#?}"
    );
    for (r, p) in reqs.iter().zip(paths) {
        let want = p.split('?').next().unwrap();
        let got = r["target"].as_str().unwrap_or_default();
        assert_eq!(got.split('?').next().unwrap(), want, "{r:#}");
    }
    reqs
}

/// The suspects that are not noise.
fn real_suspects(r: &Value) -> Vec<&Value> {
    r["suspects"]
        .as_array()
        .map(|a| a.iter().filter(|s| s["noise"] != true).collect())
        .unwrap_or_default()
}

/// A record's suspects, one line each, for assertion messages.
fn brief(r: &Value) -> String {
    real_suspects(r)
        .iter()
        .map(|s| {
            format!(
                "\n  {} {} {} (count {}, score {}): {}",
                s["syscall"].as_str().unwrap_or("?"),
                s["path"].as_str().unwrap_or("?"),
                s["errno"].as_str().unwrap_or("?"),
                s["count"],
                s["score"],
                s["reason"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// The error-log lines captured for a request (`log`: items `{"pid", "line"}`; a plain
/// string item is taken as the line).
fn log_lines(r: &Value) -> Vec<String> {
    r["log"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l["line"].as_str().or(l.as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A healthy request: 200, no suspect but noise, the failures it made seen and set aside as
/// noise, nothing in its error log.
fn assert_healthy(r: &Value) {
    assert_eq!(r["status"], 200, "{r:#}");
    let real = real_suspects(r);
    assert!(
        real.is_empty(),
        "{}: {} suspect(s), none expected:{}",
        r["target"],
        real.len(),
        brief(r)
    );
    assert!(
        r["noise"].as_u64().unwrap_or(0) > 0,
        "{}: its failing calls must be counted as noise: {r:#}",
        r["target"]
    );
    assert!(
        log_lines(r).is_empty(),
        "{}: nothing was logged: {r:#}",
        r["target"]
    );
}

/// DokuWiki's healthy pages (the first one on a cold cache, the same page warm, a page that
/// exists, the index, the CSS and JS assets) pass the probe: each makes dozens of failing
/// file calls (optional config files, the farm look-up, plugin components, cache misses,
/// include_path tries), all handled by DokuWiki; the server logs nothing.
#[test]
fn dokuwiki_healthy_pages_pass_the_probe_with_their_failures_counted_as_noise() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = PhpApache::dokuwiki();
    let paths = [
        "/dokuwiki/doku.php",
        "/dokuwiki/doku.php?id=start",
        "/dokuwiki/doku.php?do=index",
        "/dokuwiki/lib/exe/css.php",
        "/dokuwiki/lib/exe/js.php",
        "/dokuwiki/doku.php",
    ];
    let (out, lines) = probe(&app, &paths);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reqs = records(&lines, &paths, &stderr);
    // The pages are healthy: the server logged no warning, and the page renders.
    let log = app.error_log();
    assert!(!log.contains("PHP "), "DokuWiki logged: {log}");
    let (status, body) = app.get("/dokuwiki/doku.php?id=start");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<title>start [") && body.contains(DOKUWIKI_START_TEXT),
        "not DokuWiki's start page: {body}"
    );
    assert!(
        reqs.iter().all(|r| r["failed"].as_u64().unwrap_or(0) >= 20),
        "DokuWiki's pages make dozens of failing calls: {reqs:#?}"
    );
    for r in &reqs {
        assert_healthy(r);
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "healthy pages pass the probe: {stderr}"
    );
}

/// The small example: an optional override refused (EACCES, /root is 0700) and a
/// cache miss (ENOENT), both handled by the page, which renders: exit 0, both failures noise.
#[test]
fn a_page_that_handles_its_failed_look_ups_passes_the_probe() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let page = "<?php\n\
                $has_override = @file_exists('/root/x');          // optional override: EACCES\n\
                $cache = __DIR__ . '/cache/page.html';\n\
                if (is_file($cache)) { readfile($cache); exit; }  // cache miss: ENOENT\n\
                echo \"rendered\";\n";
    let app = PhpApache::site(&[("page.php", page)]);
    use std::os::unix::fs::PermissionsExt;
    let root_mode = std::fs::metadata("/root").unwrap().permissions().mode();
    assert_eq!(root_mode & 0o005, 0, "/root must be closed to www-data");
    let (out, lines) = probe(&app, &["/page.php"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r = records(&lines, &["/page.php"], &stderr)[0];
    assert_eq!(app.get("/page.php"), (200, "rendered".to_string()));
    let log = app.error_log();
    assert!(!log.contains("PHP "), "{log}");
    assert_healthy(r);
    assert_eq!(
        r["noise"], r["failed"],
        "the EACCES and the ENOENT are noise too: {r:#}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a page that handled its failures passes: {stderr}"
    );
}

/// A page that tells the client what it could not find, logs nothing and answers 200
/// (MediaWiki's "Could not find template …"): the probe reads the response, which names a
/// path that failed in the request, and fails; a page that names nothing that failed passes.
#[test]
fn a_page_naming_a_file_that_failed_fails_the_probe() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let page = "<?php\n\
                $t = __DIR__ . '/templates/NoLocal.mustache';\n\
                if (!file_exists($t)) { echo \"Error: Could not find template NoLocal at $t\"; exit; }\n\
                echo \"rendered\";\n";
    let app = PhpApache::site(&[("tpl.php", page)]);
    let (out, lines) = probe(&app, &["/tpl.php"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r = records(&lines, &["/tpl.php"], &stderr)[0];
    assert_eq!(r["status"], 200, "{r:#}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the response names") && stderr.contains("NoLocal.mustache"),
        "{stderr}"
    );
}

/// Check a probe of a page whose include is missing (`file`, under the served tree at
/// `missing`): it fails, the missing file is the first suspect, and the warning PHP wrote to
/// the error log while serving the request is in the record.
fn check_missing_include(
    app: &PhpApache,
    url: &str,
    missing: &str,
    file: &str,
) -> (Value, std::process::Output) {
    let (out, lines) = probe(app, &[url]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let r = records(&lines, &[url], &stderr)[0].clone();
    let log = app.error_log();
    assert!(
        log.contains(&format!(
            "PHP Warning:  include({missing}): Failed to open stream"
        )),
        "PHP did not log the missing include: {log}"
    );
    assert_eq!(r["status"], 200, "{r:#}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a missing include fails: {stderr}"
    );
    let first = &r["suspects"][0];
    assert_eq!(
        first["path"],
        missing,
        "the missing include comes first:{}",
        brief(&r)
    );
    assert_eq!(first["errno"], "ENOENT", "{first:#}");
    let logged = log_lines(&r);
    assert!(
        logged
            .iter()
            .any(|l| l.contains("PHP Warning") && l.contains(file)),
        "the record's log must show PHP's warning about {file}: log {:?}",
        r["log"]
    );
    (r, out)
}

/// `include __DIR__.'/header.phpp'`: 200 with PHP's warning in the error log; the probe fails
/// and names header.phpp first, with the warning.
#[test]
fn a_missing_include_fails_the_probe_and_is_named_first_with_the_warning() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = PhpApache::site(&[(
        "page.php",
        "<?php include __DIR__.'/header.phpp'; echo \"x\";\n",
    )]);
    let missing = app.path("www/header.phpp");
    check_missing_include(&app, "/page.php", missing.to_str().unwrap(), "header.phpp");
    assert_eq!(app.get("/page.php"), (200, "x".to_string()));
}

/// The page flushes its output before the include fails: the status line is on the socket
/// before PHP writes its warning (the worker's order: headers, warning, body), so the log is
/// read until the request ends, not until its status.
#[test]
fn a_warning_written_after_the_status_line_is_still_the_requests() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = PhpApache::site(&[(
        "page.php",
        "<?php echo str_repeat('a', 100); flush(); include __DIR__.'/footer.phpp'; echo 'end';\n",
    )]);
    let missing = app.path("www/footer.phpp");
    check_missing_include(&app, "/page.php", missing.to_str().unwrap(), "footer.phpp");
}

/// DokuWiki's template renamed (main.php → mian.php in the copy): 200 with an empty body and
/// PHP's warning; the probe fails and names main.php first (did you mean mian.php), with the
/// warning, ahead of the page's dozens of handled failures.
#[test]
fn dokuwiki_template_renamed_puts_main_php_first_with_the_warning() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = PhpApache::dokuwiki();
    let main = app.path("dokuwiki/lib/tpl/dokuwiki/main.php");
    let mian = app.path("dokuwiki/lib/tpl/dokuwiki/mian.php");
    std::fs::rename(&main, &mian).unwrap();
    let (r, _) = check_missing_include(
        &app,
        "/dokuwiki/doku.php?id=start",
        main.to_str().unwrap(),
        "main.php",
    );
    let dym = &r["suspects"][0]["did_you_mean"];
    assert!(
        dym.is_null() || dym.as_str().unwrap().ends_with("/mian.php"),
        "did you mean: {dym}"
    );
    // Where PHP said the include is (`in …/inc/actions.php on line 27`): a reference to
    // that line, outside every DocumentRoot and configuration file.
    let refs = r["suspects"][0]["references"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        refs.iter().any(|x| x["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("/inc/actions.php"))
            && x["text"].as_str().is_some_and(|t| t.contains("main.php"))),
        "the line that includes main.php: {refs:#?}"
    );
    assert_eq!(app.get("/dokuwiki/doku.php?id=start"), (200, String::new()));
}
