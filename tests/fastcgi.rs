//! Issue 13's acceptance tests: PHP through FastCGI on real servers (tests/common/fpm.rs: a
//! private php-fpm 8.2 pool behind a private nginx or a private prefork Apache with
//! mod_proxy_fcgi; mod_php's Apache from tests/common/php.rs for open_basedir). reqtrace
//! attaches to the web server, and to the pool either given with `--fastcgi PID` or found
//! from the web server's configuration; each probe must get one record naming the FPM
//! worker's failing call first (with that worker's pid), the near miss, the configuration
//! line, and what the web server logged for the request.
//!
//! Each test checks the test bed itself too (the status the servers really answer, what they
//! really log), after the probe, so a failure tells a broken bed from a missing feature.

mod common;

use std::process::Output;
use std::sync::Mutex;
use std::time::Duration;

use common::fpm::{self, ApacheFcgi, Fpm, FpmNginx, FpmOpts, apache_fcgi};
use common::php::PhpApache;
use common::*;
use serde_json::Value;

/// One bed at a time: two or three servers each, on two shared cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// reqtrace's hard limit per probe run (it answers in about a second when all is well).
const T: Duration = Duration::from_secs(60);

/// `reqtrace attach --json --probe URL WEB_PID [--fastcgi FPM_PID]`: its output, JSON lines.
fn probe(url: &str, web: i32, backend: Option<i32>) -> (Output, Vec<Value>) {
    let web = web.to_string();
    let fpm = backend.map(|b| b.to_string());
    let mut args = vec!["attach", "--json", "--syscalls", "--probe", url, &web];
    if let Some(b) = &fpm {
        args.extend(["--fastcgi", b.as_str()]);
    }
    let out = run_reqtrace(&args, T);
    let lines = json_lines(&out.stdout);
    (out, lines)
}

/// The one request record of a probe of `path`: one HTTP request, one record, whatever the
/// number of processes that served it.
fn record<'a>(lines: &'a [Value], path: &str, out: &Output) -> &'a Value {
    let reqs = requests(lines);
    assert_eq!(
        reqs.len(),
        1,
        "one record for the one HTTP request {path} (exit {:?}): {reqs:#?}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(reqs[0]["target"], path, "{:#}", reqs[0]);
    reqs[0]
}

/// The suspects that are not noise.
fn real_suspects(r: &Value) -> Vec<&Value> {
    r["suspects"]
        .as_array()
        .map(|a| a.iter().filter(|s| s["noise"] != true).collect())
        .unwrap_or_default()
}

/// The first suspect that is not noise (the record must have one).
fn first(r: &Value) -> &Value {
    real_suspects(r)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no suspect at all: {r:#}"))
}

/// A record's suspects, one line each, for assertion messages.
fn brief(r: &Value) -> String {
    let mut s: String = real_suspects(r)
        .iter()
        .map(|s| {
            format!(
                "\n  pid {} {} {} {} (count {}, score {}): {}; did you mean {}; hints {}; refs {}",
                s["pid"],
                s["syscall"].as_str().unwrap_or("?"),
                s["path"].as_str().unwrap_or("?"),
                s["errno"].as_str().unwrap_or("?"),
                s["count"],
                s["score"],
                s["reason"].as_str().unwrap_or("?"),
                s["did_you_mean"],
                s["hints"],
                s["references"],
            )
        })
        .collect();
    s.push_str(&format!(
        "\n  notes {}\n  log {}",
        r["notes"],
        serde_json::to_string(&log_lines(r)).unwrap()
    ));
    s
}

/// The error-log lines captured for the request (`log`: items `{"pid", "ts", "line"}`).
fn log_lines(r: &Value) -> Vec<String> {
    r["log"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l["line"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every string of a JSON array field (`notes`, `hints`).
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The record's notes and every suspect's hints: where words about the cause go.
fn notes_and_hints(r: &Value) -> Vec<String> {
    let mut all = strings(&r["notes"]);
    for s in real_suspects(r) {
        all.extend(strings(&s["hints"]));
    }
    all
}

/// The probe failed (exit 1: a --probe failed), not a usage or tracing error.
fn assert_probe_failed(out: &Output, r: &Value) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "the probe must fail: {}{}",
        String::from_utf8_lossy(&out.stderr),
        brief(r)
    );
}

/// The suspect was made by a worker of the pool (the new suspect field `pid`).
fn assert_by_fpm_worker(s: &Value, fpm: &Fpm, r: &Value) {
    let workers = fpm.workers();
    let pid = s["pid"].as_i64().map(|p| p as i32);
    assert!(
        pid.is_some_and(|p| workers.contains(&p)),
        "the suspect's pid {} must be an FPM worker {workers:?} (master {}):{}",
        s["pid"],
        fpm.pid(),
        brief(r)
    );
}

/// The web server's line for php-fpm's "Primary script unknown" is in the record's `log`.
fn assert_logged_primary_script_unknown(r: &Value) {
    assert!(
        log_lines(r)
            .iter()
            .any(|l| l.contains("Primary script unknown")),
        "the record's log must hold the web server's \"Primary script unknown\" line:{}",
        brief(r)
    );
}

/// A reference in `file` whose text holds every word of `words`.
fn assert_reference(s: &Value, file: &str, words: &[&str], r: &Value) {
    let refs = s["references"].as_array().cloned().unwrap_or_default();
    assert!(
        refs.iter().any(|x| x["file"] == file
            && words
                .iter()
                .all(|w| x["text"].as_str().unwrap_or_default().contains(w))),
        "a reference to the line of {file} with {words:?} is expected:{}",
        brief(r)
    );
}

/// The first suspect is the missing `typo/x.php` (or its first missing component, `typo`),
/// ENOENT, with the near miss `good/x.php` (or `good`).
fn assert_missing_with_near_miss(r: &Value, typo: &str, good: &str) {
    let s = first(r);
    let path = s["path"].as_str().unwrap_or_default();
    let dym = s["did_you_mean"].as_str().unwrap_or_default();
    let ok = (path == format!("{typo}/x.php") && dym == format!("{good}/x.php"))
        || (path == typo && dym == good);
    assert!(
        ok,
        "first suspect: {typo}/x.php (or {typo}) with did_you_mean {good}/x.php (or {good}):{}",
        brief(r)
    );
    assert_eq!(s["errno"], "ENOENT", "{}", brief(r));
}

/// A healthy page through the pool: 200, no suspect but noise, probe exit 0, and the
/// record's calls include the FPM worker's (the `syscall` lines of the request, from
/// `--syscalls`, with a worker's pid: at least the open of the script).
fn assert_healthy_through_fpm(out: &Output, lines: &[Value], fpm: &Fpm, script: &str) {
    let r = record(lines, "/x.php", out);
    assert_eq!(r["status"], 200, "{r:#}");
    let real = real_suspects(r);
    assert!(
        real.is_empty(),
        "a healthy page has no suspect:{}",
        brief(r)
    );
    assert!(
        r["syscalls"].as_u64().unwrap_or(0) > 0,
        "the record counts the FPM worker's file calls (its stat and open of the script): {r:#}"
    );
    let workers = fpm.workers();
    let fpm_calls: Vec<&Value> = syscalls(lines)
        .into_iter()
        .filter(|c| c["request"] == r["id"])
        .filter(|c| {
            c["pid"]
                .as_i64()
                .is_some_and(|p| workers.contains(&(p as i32)))
        })
        .collect();
    assert!(
        fpm_calls.iter().any(|c| c["path"] == script),
        "the request's calls must include the FPM worker's ({workers:?}) look-up of {script}; \
         its calls from FPM workers: {fpm_calls:#?}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a healthy page passes the probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- a. nginx: a typo'd `root` in the PHP location --------------------------------------

/// The PHP location's `root` says `…/wwww`: php-fpm answers 404 "Primary script unknown";
/// nginx logs only that. The record names the worker's missing `…/wwww/x.php` first, made by
/// an FPM worker, did you mean `…/www/x.php`, with the `root` line, and nginx's log line.
fn check_nginx_typo_root(backend: bool) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts::default());
    let typo = fpm.path("wwww");
    let site = format!(
        "root {www};\nlocation ~ \\.php$ {{\n{}}}\n",
        fpm::php_location(&fpm, Some(&typo)),
        www = fpm.www()
    );
    let web = FpmNginx::with_server(&site);
    let (out, lines) = probe(&web.url("/x.php"), web.pid(), backend.then(|| fpm.pid()));
    // The bed: 404 "File not found." from php-fpm, nginx's log says only this.
    assert_eq!(web.get("/x.php"), (404, "File not found.\n".to_string()));
    assert!(
        web.error_log()
            .contains("FastCGI sent in stderr: \"Primary script unknown\""),
        "{}",
        web.error_log()
    );
    let r = record(&lines, "/x.php", &out);
    assert_eq!(r["status"], 404, "{r:#}");
    assert_missing_with_near_miss(r, &typo, &fpm.www());
    assert_by_fpm_worker(first(r), &fpm, r);
    assert_reference(first(r), &web.site_conf(), &["root", &typo], r);
    assert_logged_primary_script_unknown(r);
    assert_probe_failed(&out, r);
}

#[test]
fn nginx_typo_root_in_php_location_names_the_fpm_workers_missing_script_with_backend() {
    check_nginx_typo_root(true);
}

/// The same, without `--fastcgi`: the pool is found from nginx's `fastcgi_pass unix:…`.
#[test]
fn nginx_typo_root_in_php_location_finds_the_pool_from_fastcgi_pass() {
    check_nginx_typo_root(false);
}

// ---- b. nginx: a PHP location without `root` --------------------------------------------

/// `root` only in `location /`, none at the server level nor in the PHP location: the PHP
/// location serves nginx's default `html` under its prefix (`-p ROOT/` → `ROOT/html`), so
/// php-fpm looks for `ROOT/html/x.php`. The record names that path first, made by an FPM
/// worker, and says where the root came from: a note or hint about the default root, or a
/// reference to the PHP location's line.
#[test]
fn nginx_php_location_without_root_names_the_script_under_the_default_html_root() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts::default());
    let site = format!(
        "location / {{\nroot {www};\n}}\nlocation ~ \\.php$ {{\n{}}}\n",
        fpm::php_location(&fpm, None),
        www = fpm.www()
    );
    let web = FpmNginx::with_server(&site);
    let (out, lines) = probe(&web.url("/x.php"), web.pid(), Some(fpm.pid()));
    assert_eq!(web.get("/x.php"), (404, "File not found.\n".to_string()));
    assert!(
        web.error_log().contains("Primary script unknown"),
        "{}",
        web.error_log()
    );
    let r = record(&lines, "/x.php", &out);
    assert_eq!(r["status"], 404, "{r:#}");
    let s = first(r);
    let default_root = web.default_root();
    assert_eq!(
        s["path"],
        format!("{default_root}/x.php"),
        "the script under nginx's default root comes first:{}",
        brief(r)
    );
    assert_eq!(s["errno"], "ENOENT", "{}", brief(r));
    assert_by_fpm_worker(s, &fpm, r);
    // Where a near miss is given, it is the script where the site's root has it.
    let dym = &s["did_you_mean"];
    assert!(
        dym.is_null() || *dym == format!("{}/x.php", fpm.www()),
        "did you mean: {dym}"
    );
    let words = notes_and_hints(r);
    let refs = s["references"].as_array().cloned().unwrap_or_default();
    assert!(
        words
            .iter()
            .any(|w| w.contains("root") && (w.contains("default") || w.contains("html")))
            || refs.iter().any(|x| x["file"] == web.site_conf()
                && x["text"].as_str().unwrap_or_default().contains(".php")),
        "the record must say that the PHP location has no root (a note or hint about nginx's \
         default root, or a reference to the location's line):{}",
        brief(r)
    );
    assert_logged_primary_script_unknown(r);
    assert_probe_failed(&out, r);
}

// ---- c. the pool user may not search the script's directory -----------------------------

/// `www/sec` is 0750 root:www-data: the web server's user (www-data) may search it, the
/// pool's (`nobody`) may not. php-fpm's lstat fails with EACCES and it still answers 404
/// "Primary script unknown". The record names the EACCES first, made by an FPM worker, with
/// a hint naming the pool's user (nobody), and says that php-fpm said "not found" while the
/// call failed with EACCES.
#[test]
fn nginx_script_dir_closed_to_the_pool_user_is_eacces_explained_against_the_pool_user() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts {
        user: "nobody",
        group: "nogroup",
        files: &[("www/sec/x.php", fpm::HEALTHY_PAGE)],
        ..FpmOpts::default()
    });
    let sec = fpm.path("www/sec");
    fpm::chown(&sec, "root:www-data");
    fpm::chmod(std::path::Path::new(&sec), 0o750);
    let web = FpmNginx::start(&fpm);
    let (out, lines) = probe(&web.url("/sec/x.php"), web.pid(), Some(fpm.pid()));
    assert_eq!(
        web.get("/sec/x.php"),
        (404, "File not found.\n".to_string())
    );
    assert!(
        web.error_log().contains("Primary script unknown"),
        "{}",
        web.error_log()
    );
    let r = record(&lines, "/sec/x.php", &out);
    assert_eq!(r["status"], 404, "{r:#}");
    let s = first(r);
    assert_eq!(s["errno"], "EACCES", "{}", brief(r));
    assert_eq!(s["path"], format!("{sec}/x.php"), "{}", brief(r));
    assert_by_fpm_worker(s, &fpm, r);
    let hints = strings(&s["hints"]);
    assert!(
        hints.iter().any(|h| h.contains("nobody")),
        "a hint must name the pool's user (nobody), whose credentials the call used:{}",
        brief(r)
    );
    assert!(
        !hints
            .iter()
            .any(|h| h.contains("www-data") && !h.contains("nobody") && h.contains("may not")),
        "the web server's user (www-data) may search {sec}; no hint may blame it:{}",
        brief(r)
    );
    assert!(
        notes_and_hints(r).iter().any(|n| {
            (n.contains("EACCES") || n.contains("Permission denied"))
                && (n.contains("Primary script unknown") || n.contains("not found"))
        }),
        "a note or hint must say that php-fpm said \"Primary script unknown\" (not found) \
         while the call failed with EACCES:{}",
        brief(r)
    );
    assert_logged_primary_script_unknown(r);
    assert_probe_failed(&out, r);
}

// ---- d. Apache: a typo in the ProxyPassMatch target -------------------------------------

/// `ProxyPassMatch "^/(.*\.php)$" "unix:SOCK|fcgi://localhost/FPM/wwww/$1"`: php-fpm answers
/// 404, Apache logs AH01071 "Got error 'Primary script unknown'". The record names the
/// missing `…/wwww/x.php` first, made by an FPM worker, did you mean `…/www/x.php`, with the
/// ProxyPassMatch line.
fn check_apache_proxypassmatch_typo(backend: bool) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts::default());
    let typo = fpm.path("wwww");
    let web = apache_fcgi(&fpm, ApacheFcgi::ProxyPassMatch("@FPM@/wwww"));
    let (out, lines) = probe(&web.url("/x.php"), web.pid(), backend.then(|| fpm.pid()));
    assert_eq!(fpm::get(web.port, "/x.php").0, 404);
    assert!(
        web.error_log()
            .contains("AH01071: Got error 'Primary script unknown'"),
        "{}",
        web.error_log()
    );
    let r = record(&lines, "/x.php", &out);
    assert_eq!(r["status"], 404, "{r:#}");
    assert_missing_with_near_miss(r, &typo, &fpm.www());
    assert_by_fpm_worker(first(r), &fpm, r);
    let conf = web.root.join("httpd.conf");
    assert_reference(first(r), &conf, &["ProxyPassMatch", "wwww"], r);
    assert_logged_primary_script_unknown(r);
    assert_probe_failed(&out, r);
}

#[test]
fn apache_proxypassmatch_target_typo_names_the_fpm_workers_missing_script_with_backend() {
    check_apache_proxypassmatch_typo(true);
}

/// The same, without `--fastcgi`: the pool is found from the `ProxyPassMatch … unix:…` line.
#[test]
fn apache_proxypassmatch_target_typo_finds_the_pool_from_the_proxy_config() {
    check_apache_proxypassmatch_typo(false);
}

// ---- e. a chrooted pool -----------------------------------------------------------------

/// `chroot = FPM/jail`, the script at `FPM/jail/www/x.php`, nginx sending the path as the
/// jail sees it but misspelt (`SCRIPT_FILENAME /wwww$fastcgi_script_name`): the worker looks
/// up `/wwww/x.php`, ENOENT. The suspect's path is that one under the jail (`/proc/PID/root`),
/// and the near miss is found there: neither `/www` nor `/wwww` exists outside.
#[test]
fn chrooted_pool_names_the_path_as_the_worker_saw_it_with_the_near_miss_in_the_jail() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts {
        pool: "chroot = @ROOT@/jail\nchdir = /",
        files: &[("jail/www/x.php", fpm::HEALTHY_PAGE)],
        ..FpmOpts::default()
    });
    let jail = fpm.path("jail");
    for p in ["/www", "/wwww"] {
        assert!(
            !std::path::Path::new(p).exists(),
            "{p} exists on this machine: the test needs it absent outside the jail"
        );
    }
    // A worker chroots itself after php-fpm forks it: one just forked may not have yet.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    for w in fpm.workers() {
        while fpm::proc_root(w).to_str() != Some(jail.as_str())
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(fpm::proc_root(w).to_str().unwrap(), jail, "worker {w}");
    }
    let site = format!(
        "root {jail}/www;\nlocation ~ \\.php$ {{\ninclude /etc/nginx/fastcgi_params;\n\
         fastcgi_param SCRIPT_FILENAME /wwww$fastcgi_script_name;\n\
         fastcgi_pass unix:{};\n}}\n",
        fpm.socket()
    );
    let web = FpmNginx::with_server(&site);
    let (out, lines) = probe(&web.url("/x.php"), web.pid(), Some(fpm.pid()));
    assert_eq!(web.get("/x.php"), (404, "File not found.\n".to_string()));
    let r = record(&lines, "/x.php", &out);
    assert_eq!(r["status"], 404, "{r:#}");
    let s = first(r);
    // The tracer resolves a chrooted process's paths under its root (/proc/PID/root), as it
    // resolves a relative path against the cwd: the path is the host's, the one `ls` shows
    // here, and the jail is said in a hint.
    let path = s["path"].as_str().unwrap_or_default();
    let host = |p: &str| format!("{jail}{p}");
    assert!(
        path == host("/wwww/x.php") || path == host("/wwww"),
        "the path the chrooted worker named, under its jail ({jail}/wwww/x.php):{}",
        brief(r)
    );
    assert!(
        s["hints"].as_array().is_some_and(|h| h
            .iter()
            .any(|h| h.as_str().is_some_and(|h| h.contains("chrooted")))),
        "a hint says the worker is chrooted:{}",
        brief(r)
    );
    assert_eq!(s["errno"], "ENOENT", "{}", brief(r));
    assert_by_fpm_worker(s, &fpm, r);
    let dym = s["did_you_mean"].as_str().unwrap_or_default();
    let (inside, outside) = if path.ends_with("/wwww") {
        ("/www".to_string(), format!("{jail}/www"))
    } else {
        ("/www/x.php".to_string(), format!("{jail}/www/x.php"))
    };
    assert!(
        dym == inside || dym == outside,
        "did you mean {inside} (or {outside}), found through the jail:{}",
        brief(r)
    );
    assert_logged_primary_script_unknown(r);
    assert_probe_failed(&out, r);
}

// ---- f. open_basedir ------------------------------------------------------------------

/// The page reads /etc/hostname, outside open_basedir: PHP refuses it without a failing
/// call (its own check; the stat of /etc/hostname succeeds), warns, and the page still
/// answers 200. The record names /etc/hostname (a suspect's path or a note) and the probe
/// fails.
fn assert_open_basedir_refusal(out: &Output, lines: &[Value], path: &str) {
    let r = record(lines, path, out);
    assert_eq!(r["status"], 200, "{r:#}");
    let named = real_suspects(r)
        .iter()
        .any(|s| s["path"] == "/etc/hostname")
        || strings(&r["notes"])
            .iter()
            .any(|n| n.contains("/etc/hostname"));
    assert!(
        named,
        "the file open_basedir refused (/etc/hostname) must be named in a suspect or a note:{}",
        brief(r)
    );
    assert!(
        log_lines(r)
            .iter()
            .any(|l| l.contains("open_basedir restriction in effect")),
        "the record's log must hold PHP's open_basedir warning:{}",
        brief(r)
    );
    assert_probe_failed(out, r);
}

const OPEN_BASEDIR_PAGE: &str = "<?php echo file_get_contents('/etc/hostname'); echo \"end\\n\";\n";

/// Under mod_php: `php_value open_basedir` in the DocumentRoot's .htaccess.
#[test]
fn open_basedir_refusal_under_mod_php_names_the_refused_file() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = PhpApache::site(&[("ob.php", OPEN_BASEDIR_PAGE)]);
    let www = app.path("www");
    std::fs::write(
        www.join(".htaccess"),
        format!("php_value open_basedir {}\n", www.display()),
    )
    .unwrap();
    let (out, lines) = probe(&app.url("/ob.php"), app.pid(), None);
    assert_eq!(app.get("/ob.php"), (200, "end\n".to_string()));
    let log = app.error_log();
    assert!(
        log.contains("open_basedir restriction in effect. File(/etc/hostname)"),
        "{log}"
    );
    assert_open_basedir_refusal(&out, &lines, "/ob.php");
}

/// Under php-fpm behind nginx: `php_admin_value[open_basedir] = FPM/www`; the warning comes
/// over FastCGI STDERR and nginx logs it.
#[test]
fn open_basedir_refusal_under_fpm_names_the_refused_file() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts {
        pool: "php_admin_value[open_basedir] = @ROOT@/www",
        files: &[("www/ob.php", OPEN_BASEDIR_PAGE)],
        ..FpmOpts::default()
    });
    let web = FpmNginx::start(&fpm);
    let (out, lines) = probe(&web.url("/ob.php"), web.pid(), Some(fpm.pid()));
    assert_eq!(web.get("/ob.php"), (200, "end\n".to_string()));
    let log = web.error_log();
    assert!(
        log.contains("FastCGI sent in stderr: \"PHP message: PHP Warning:  file_get_contents(): open_basedir restriction in effect. File(/etc/hostname)"),
        "{log}"
    );
    assert_open_basedir_refusal(&out, &lines, "/ob.php");
}

// ---- g. healthy PHP through php-fpm -----------------------------------------------------

#[test]
fn healthy_php_through_nginx_and_fpm_has_no_suspects_with_backend() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts::default());
    let web = FpmNginx::start(&fpm);
    let (out, lines) = probe(&web.url("/x.php"), web.pid(), Some(fpm.pid()));
    assert_eq!(web.get("/x.php"), (200, fpm::HEALTHY_BODY.to_string()));
    assert_healthy_through_fpm(&out, &lines, &fpm, &format!("{}/x.php", fpm.www()));
}

/// Found from `fastcgi_pass`, no `--fastcgi`.
#[test]
fn healthy_php_through_nginx_and_fpm_has_no_suspects_found_from_config() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts::default());
    let web = FpmNginx::start(&fpm);
    let (out, lines) = probe(&web.url("/x.php"), web.pid(), None);
    assert_eq!(web.get("/x.php"), (200, fpm::HEALTHY_BODY.to_string()));
    assert_healthy_through_fpm(&out, &lines, &fpm, &format!("{}/x.php", fpm.www()));
}

#[test]
fn healthy_php_through_apache_proxypassmatch_and_fpm_has_no_suspects_with_backend() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts::default());
    let web = apache_fcgi(&fpm, ApacheFcgi::ProxyPassMatch("@FPM@/www"));
    let (out, lines) = probe(&web.url("/x.php"), web.pid(), Some(fpm.pid()));
    assert_eq!(
        fpm::get(web.port, "/x.php"),
        (200, fpm::HEALTHY_BODY.to_string())
    );
    assert_healthy_through_fpm(&out, &lines, &fpm, &format!("{}/x.php", fpm.www()));
}

/// `SetHandler "proxy:unix:…|fcgi://localhost"`, found from the configuration.
#[test]
fn healthy_php_through_apache_sethandler_and_fpm_has_no_suspects_found_from_config() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts::default());
    let web = apache_fcgi(&fpm, ApacheFcgi::SetHandler);
    let (out, lines) = probe(&web.url("/x.php"), web.pid(), None);
    assert_eq!(
        fpm::get(web.port, "/x.php"),
        (200, fpm::HEALTHY_BODY.to_string())
    );
    assert_healthy_through_fpm(&out, &lines, &fpm, &format!("{}/x.php", fpm.www()));
}

// ---- a wrong SCRIPT_FILENAME prefix -----------------------------------------------------

/// `root` is right, but `fastcgi_param SCRIPT_FILENAME` is built on another directory (a
/// hard-coded prefix left from an old layout): php-fpm looks up `FPM/app/x.php`. The file the
/// URL names exists under the server's `root`: that is the did-you-mean, and the
/// SCRIPT_FILENAME line is the reference.
#[test]
fn a_script_filename_on_a_wrong_prefix_names_the_urls_file_under_the_root() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts::default());
    let app = fpm.path("app");
    let site = format!(
        "root {www};\nlocation ~ \\.php$ {{\ninclude /etc/nginx/fastcgi_params;\n\
         fastcgi_param SCRIPT_FILENAME {app}$fastcgi_script_name;\n\
         fastcgi_pass unix:{sock};\n}}\n",
        www = fpm.www(),
        sock = fpm.socket()
    );
    let web = FpmNginx::with_server(&site);
    let (out, lines) = probe(&web.url("/x.php"), web.pid(), None);
    let r = record(&lines, "/x.php", &out);
    assert_eq!(r["status"], 404, "{r:#}");
    let s = first(r);
    assert_eq!(s["path"], format!("{app}/x.php"), "{}", brief(r));
    assert_by_fpm_worker(s, &fpm, r);
    assert_eq!(
        s["did_you_mean"],
        format!("{}/x.php", fpm.www()),
        "the URL's file under the root:{}",
        brief(r)
    );
    assert_reference(s, &web.site_conf(), &["SCRIPT_FILENAME", &app], r);
    assert_probe_failed(&out, r);
}

// ---- the clock: a record held for its leg goes out while nothing happens ---------------

/// nginx gives up on php-fpm after a second (`fastcgi_read_timeout 1s`: 504) while the
/// script sleeps 8 s: the web server's request ends with its FastCGI leg still open, so its
/// record waits for the leg, 2 s at most. Meanwhile the traced processes make hardly a call
/// (nginx waits, the worker sleeps): the record must go out by the clock, about 3 s after
/// the request began, not when the script wakes at 8 s and the leg ends. (The clock of a
/// trace whose processes make no call at all: tests/cli.rs, the status line.)
#[test]
fn a_record_held_for_its_leg_goes_out_by_the_clock_while_nothing_happens() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = Fpm::start(FpmOpts {
        files: &[("www/slow.php", "<?php sleep(8); echo \"late\\n\";\n")],
        ..FpmOpts::default()
    });
    let site = format!(
        "root {www};\nlocation ~ \\.php$ {{\n{}fastcgi_read_timeout 1s;\n}}\n",
        fpm::php_location(&fpm, None),
        www = fpm.www()
    );
    let web = FpmNginx::with_server(&site);
    let dir = TempDir::new("held");
    let trace = dir.join("trace.json");
    let (web_pid, fpm_pid) = (web.pid().to_string(), fpm.pid().to_string());
    let child = spawn_reqtrace(&[
        "attach",
        "--json",
        "--url",
        "/",
        "-o",
        &trace,
        &web_pid,
        "--fastcgi",
        &fpm_pid,
    ]);
    wait_traced_tree(web.pid());
    wait_traced_tree(fpm.pid());
    let began = std::time::Instant::now();
    // The bed: nginx's own answer after its timeout, the script still asleep.
    assert_eq!(web.get("/slow.php").0, 504);
    let record = loop {
        let text = std::fs::read_to_string(&trace).unwrap_or_default();
        let lines = json_lines(text.as_bytes());
        if let Some(r) = requests(&lines)
            .into_iter()
            .find(|r| r["target"] == "/slow.php")
        {
            break r.clone();
        }
        assert!(
            began.elapsed() < Duration::from_secs(6),
            "no record 6 s after the request, its leg's end still 2 s away: the held record \
             waits for an event instead of the clock:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(record["status"], 504, "{record:#}");
    send_signal(child.id() as i32, libc::SIGINT);
    let out = wait_output(child, T);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
