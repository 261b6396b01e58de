//! Issues 12 and 13 together on a real application through php-fpm: a private copy of
//! Debian's DokuWiki (tests/common/php.rs) run by a private php-fpm 8.2 pool (user www-data,
//! `log_errors` on, `display_errors` off; tests/common/fpm.rs), behind a private nginx
//! (`fastcgi_pass unix:…`) or a private prefork Apache with mod_proxy_fcgi (`SetHandler
//! "proxy:unix:…|fcgi://localhost"` in a FilesMatch). reqtrace attaches to the web server's
//! master only (`attach --json --probe URL PID`, no `--fastcgi`: the pool is found from the
//! configuration). Healthy pages pass the probe with the FPM worker's handled failures
//! counted as noise and its calls joined to nginx's or Apache's record; the template renamed
//! fails it, names the FPM worker's missing main.php first, with the PHP warning the web
//! server logged for the request.
//!
//! One DokuWiki copy per web server (copying it is most of the time a test takes): each test
//! probes the healthy pages, then renames the template in its copy and probes again. Each
//! also checks the bed itself (what the server answers and logs), so a failure tells a broken
//! bed from a reqtrace bug.

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::Mutex;
use std::time::Duration;

use common::apache::Apache;
use common::fpm::{self, Fpm, FpmNginx, FpmOpts};
use common::php::{DOKUWIKI_START_TEXT, prepare_dokuwiki};
use common::*;
use serde_json::Value;

/// One bed at a time: three servers each, on two shared cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// reqtrace's hard limit per run (it answers in about a second a page when all is well).
const T: Duration = Duration::from_secs(60);

/// DokuWiki's healthy pages: the front page, a page that exists, the CSS and JS assets.
const HEALTHY: [&str; 4] = [
    "/dokuwiki/doku.php",
    "/dokuwiki/doku.php?id=start",
    "/dokuwiki/lib/exe/css.php",
    "/dokuwiki/lib/exe/js.php",
];

/// The page whose template include fails once main.php is renamed.
const START: &str = "/dokuwiki/doku.php?id=start";

/// A pool serving a private DokuWiki copy laid out in its temp dir (`FPM/dokuwiki`,
/// `FPM/etc`, `FPM/var`), PHP's sessions in `FPM/sessions` (as Debian's
/// /var/lib/php/sessions: root's, 1733), not the system's.
fn dokuwiki_pool() -> Fpm {
    let fpm = Fpm::start(FpmOpts {
        pool: "php_admin_value[session.save_path] = @ROOT@/sessions\n",
        ..FpmOpts::default()
    });
    let sessions = fpm.root.path().join("sessions");
    std::fs::create_dir(&sessions).unwrap();
    fpm::chmod(&sessions, 0o1733);
    // The workers read the scripts per request (no opcache: php-fpm runs with -n), so the
    // copy may arrive after they started.
    prepare_dokuwiki(fpm.root.path());
    fpm
}

/// `FPM/dokuwiki/REL` as a string.
fn dw(fpm: &Fpm, rel: &str) -> String {
    fpm.path(&format!("dokuwiki/{rel}"))
}

/// Rename the copy's template main.php → mian.php; returns (main.php, mian.php).
fn rename_template(fpm: &Fpm) -> (String, String) {
    let main = dw(fpm, "lib/tpl/dokuwiki/main.php");
    let mian = dw(fpm, "lib/tpl/dokuwiki/mian.php");
    std::fs::rename(&main, &mian).unwrap();
    (main, mian)
}

/// nginx serving the copy as Debian's package lays it out for Apache (`/dokuwiki/` →
/// `FPM/dokuwiki/`), with DokuWiki's recommended denials, PHP passed to the pool.
fn nginx_for(fpm: &Fpm) -> FpmNginx {
    let site = format!(
        "location /dokuwiki/ {{\n\
         root {root};\n\
         location ~ ^/dokuwiki/(bin|inc|vendor)/ {{\n\
         deny all;\n\
         }}\n\
         location ~ \\.php$ {{\n\
         {php}}}\n\
         }}\n",
        root = fpm.root.path().display(),
        php = fpm::php_location(fpm, None),
    );
    FpmNginx::with_server(&site)
}

/// A prefork Apache with mod_proxy_fcgi serving the copy as Debian's apache.conf does
/// (`Alias /dokuwiki FPM/dokuwiki/`, bin denied), `.php` handed to the pool by SetHandler.
fn apache_for(fpm: &Fpm) -> Apache {
    let modules = "/usr/lib/apache2/modules";
    for m in ["mod_alias.so", "mod_proxy.so", "mod_proxy_fcgi.so"] {
        assert!(
            Path::new(modules).join(m).exists(),
            "{modules}/{m} is missing (apache2 installs it)"
        );
    }
    let code = dw(fpm, "");
    let extra = format!(
        "\n# DokuWiki through php-fpm (tests/fpm_apps.rs).\n\
         LoadModule alias_module {modules}/mod_alias.so\n\
         LoadModule proxy_module {modules}/mod_proxy.so\n\
         LoadModule proxy_fcgi_module {modules}/mod_proxy_fcgi.so\n\
         Alias /dokuwiki {code}\n\
         <Directory \"{code}\">\n    Require all granted\n</Directory>\n\
         <Directory \"{code}bin\">\n    Require all denied\n</Directory>\n\
         <FilesMatch \"\\.php$\">\n    SetHandler \"proxy:unix:{sock}|fcgi://localhost\"\n</FilesMatch>\n",
        sock = fpm.socket(),
    );
    Apache::start_with("prefork", &extra)
}

/// `reqtrace attach --json --probe URL… WEB_PID`: its output and JSON lines.
fn probe(urls: &[String], web: i32) -> (Output, Vec<Value>) {
    let web = web.to_string();
    let mut args = vec!["attach", "--json"];
    for u in urls {
        args.extend(["--probe", u.as_str()]);
    }
    args.push(&web);
    let out = run_reqtrace(&args, T);
    let lines = json_lines(&out.stdout);
    (out, lines)
}

/// The request record of each probe, in probe order (a probe is sent when the one before it
/// has its record; nothing else asks these servers anything). Targets are compared without
/// their query (reqtrace may redact it).
fn records<'a>(lines: &'a [Value], paths: &[&str], out: &Output) -> Vec<&'a Value> {
    let reqs = requests(lines);
    assert_eq!(
        reqs.len(),
        paths.len(),
        "one record per probe {paths:?} (exit {:?}): {reqs:#?}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
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

/// A record in brief, for assertion messages: its counts, backend, suspects and log.
fn brief(r: &Value) -> String {
    let mut s = format!(
        "\n  {} status {} failed {} noise {} syscalls {} backend {}",
        r["target"], r["status"], r["failed"], r["noise"], r["syscalls"], r["backend"]
    );
    for x in real_suspects(r) {
        s.push_str(&format!(
            "\n  pid {} {} {} {} (count {}, score {}): {}; did you mean {}",
            x["pid"],
            x["syscall"].as_str().unwrap_or("?"),
            x["path"].as_str().unwrap_or("?"),
            x["errno"].as_str().unwrap_or("?"),
            x["count"],
            x["score"],
            x["reason"].as_str().unwrap_or("?"),
            x["did_you_mean"],
        ));
    }
    s.push_str(&format!(
        "\n  log {}",
        serde_json::to_string(&log_lines(r)).unwrap()
    ));
    s
}

/// The record's `backend` names one of the pool's workers: the FPM leg was joined.
fn assert_backend_is_fpm_worker(r: &Value, workers: &[i32]) {
    let pid = r["backend"]["pid"].as_i64().map(|p| p as i32);
    assert!(
        pid.is_some_and(|p| workers.contains(&p)),
        "the record's backend must be an FPM worker {workers:?}:{}",
        brief(r)
    );
}

/// a. Every healthy page: 200, no suspect but noise, its handled failures counted as noise,
/// the FPM worker's calls in the record (`backend`, dozens of calls), nothing logged; the
/// probe passes.
fn check_healthy(urls: &[String], web_pid: i32, fpm: &Fpm, web_log: &dyn Fn() -> String) {
    let (out, lines) = probe(urls, web_pid);
    let reqs = records(&lines, &HEALTHY, &out);
    // The bed: the pages are healthy, the server logged no PHP message.
    let log = web_log();
    assert!(!log.contains("PHP "), "DokuWiki logged: {log}");
    let workers = fpm.workers();
    for r in &reqs {
        assert_eq!(r["status"], 200, "{}", brief(r));
        let real = real_suspects(r);
        assert!(
            real.is_empty(),
            "a healthy page has no suspect but noise:{}",
            brief(r)
        );
        assert!(
            r["noise"].as_u64().unwrap_or(0) > 0,
            "DokuWiki's handled failures (optional config, farm look-ups, plugin parts, cache \
             misses) must be counted as noise:{}",
            brief(r)
        );
        assert_backend_is_fpm_worker(r, &workers);
        assert!(
            r["syscalls"].as_u64().unwrap_or(0) > 20,
            "the record must count the FPM worker's file calls (hundreds for a DokuWiki \
             page):{}",
            brief(r)
        );
        assert!(
            log_lines(r).is_empty(),
            "nothing was logged for a healthy page:{}",
            brief(r)
        );
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "healthy pages pass the probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// b. The template renamed: 200 with an empty body and PHP's warning in the web server's
/// log; the probe fails, the FPM worker's missing main.php comes first, with the warning
/// (`server_says`: the web server's wording) in the record's log.
fn check_template_renamed(url: &str, web_pid: i32, fpm: &Fpm, web_log: &dyn Fn() -> String) {
    let (main, mian) = rename_template(fpm);
    let (out, lines) = probe(&[url.to_string()], web_pid);
    let r = records(&lines, &[START], &out)[0];
    // The bed: PHP warned about the include, through FastCGI STDERR into the server's log.
    let log = web_log();
    assert!(
        log.contains(&format!(
            "PHP Warning:  include({main}): Failed to open stream"
        )),
        "PHP did not warn about {main}: {log}"
    );
    assert_eq!(r["status"], 200, "{}", brief(r));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a missing template fails the probe: {}{}",
        String::from_utf8_lossy(&out.stderr),
        brief(r)
    );
    let first = &r["suspects"][0];
    assert!(
        first["noise"] != true
            && first["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("lib/tpl/dokuwiki/main.php")),
        "the missing template {main} comes first, ahead of the page's handled failures:{}",
        brief(r)
    );
    assert_eq!(first["path"], main.as_str(), "{}", brief(r));
    assert_eq!(first["errno"], "ENOENT", "{}", brief(r));
    let workers = fpm.workers();
    let pid = first["pid"].as_i64().map(|p| p as i32);
    assert!(
        pid.is_some_and(|p| workers.contains(&p)),
        "the suspect's pid must be an FPM worker {workers:?} (master {}):{}",
        fpm.pid(),
        brief(r)
    );
    assert_backend_is_fpm_worker(r, &workers);
    let dym = &first["did_you_mean"];
    assert!(
        dym.is_null() || *dym == mian.as_str(),
        "did you mean: {dym}"
    );
    assert!(
        log_lines(r)
            .iter()
            .any(|l| l.contains("PHP Warning") && l.contains(&main)),
        "the record's log must hold the web server's line with PHP's warning about {main}:{}",
        brief(r)
    );
}

/// nginx → php-fpm → DokuWiki: a. the healthy pages pass with the FPM worker's calls joined
/// to nginx's records; b. the template renamed fails, main.php first, by an FPM worker, with
/// nginx's `FastCGI sent in stderr: "PHP message: PHP Warning: …"` line.
#[test]
fn nginx_fpm_dokuwiki_healthy_pages_pass_and_a_renamed_template_is_named_with_the_warning() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = dokuwiki_pool();
    let web = nginx_for(&fpm);
    // The bed: DokuWiki renders its start page through php-fpm.
    let (status, body) = web.get(START);
    assert_eq!(status, 200, "{body}{}", web.error_log());
    assert!(
        body.contains("<title>start [") && body.contains(DOKUWIKI_START_TEXT),
        "not DokuWiki's start page: {body}{}",
        web.error_log()
    );
    let urls: Vec<String> = HEALTHY.iter().map(|p| web.url(p)).collect();
    let log = || web.error_log();
    check_healthy(&urls, web.pid(), &fpm, &log);
    check_template_renamed(&web.url(START), web.pid(), &fpm, &log);
    assert!(
        web.error_log()
            .contains("FastCGI sent in stderr: \"PHP message: PHP Warning:  include("),
        "{}",
        web.error_log()
    );
    assert_eq!(web.get(START), (200, String::new()));
}

/// Apache + mod_proxy_fcgi → php-fpm → DokuWiki: the same two checks; Apache's line is
/// `AH01071: Got error 'PHP message: PHP Warning: …'`.
#[test]
fn apache_proxy_fcgi_dokuwiki_healthy_pages_pass_and_a_renamed_template_is_named_with_the_warning()
{
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fpm = dokuwiki_pool();
    let web = apache_for(&fpm);
    let (status, body) = fpm::get(web.port, START);
    assert_eq!(status, 200, "{body}{}", web.error_log());
    assert!(
        body.contains("<title>start [") && body.contains(DOKUWIKI_START_TEXT),
        "not DokuWiki's start page: {body}{}",
        web.error_log()
    );
    let urls: Vec<String> = HEALTHY.iter().map(|p| web.url(p)).collect();
    let log = || web.error_log();
    check_healthy(&urls, web.pid(), &fpm, &log);
    check_template_renamed(&web.url(START), web.pid(), &fpm, &log);
    assert!(
        web.error_log()
            .contains("AH01071: Got error 'PHP message: PHP Warning:  include("),
        "{}",
        web.error_log()
    );
    assert_eq!(fpm::get(web.port, START), (200, String::new()));
}
