//! Issue 13, what the server said: PHP's open_basedir refusal makes no failing file call at
//! all, yet names the refused file first and fails the probe even on a 200. Under mod_php
//! (a private prefork Apache, tests/common/php.rs) the worker logs PHP's warning itself;
//! under php-fpm behind nginx (a private php-fpm started here, its own socket) nginx logs
//! it as `FastCGI sent in stderr`, which reqtrace reads from nginx's worker alone: no
//! FastCGI correlation is needed for it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::nginx::Nginx;
use common::php::PhpApache;
use common::*;
use serde_json::Value;

/// One server at a time: they share two cores with the other tests.
static SERIAL: Mutex<()> = Mutex::new(());

const T: Duration = Duration::from_secs(120);

/// A page that includes a file outside the open_basedir it sets, then answers 200.
const PAGE: &str = "<?php\nini_set('open_basedir', __DIR__);\ninclude dirname(__DIR__) . '/lib/settings.php';\necho \"page done\\n\";\n";

/// `reqtrace attach [--json] --probe URL PID`.
fn probe(url: &str, pid: i32, json: bool) -> std::process::Output {
    let pid = pid.to_string();
    let mut args = vec!["attach"];
    if json {
        args.push("--json");
    }
    args.extend(["--probe", url, pid.as_str()]);
    run_reqtrace(&args, T)
}

/// The one request record of a JSON probe.
fn record(out: &std::process::Output) -> Value {
    let lines = json_lines(&out.stdout);
    let reqs = requests(&lines);
    assert_eq!(
        reqs.len(),
        1,
        "one record for the probe: {reqs:#?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    reqs[0].clone()
}

/// The record's notes, as text.
fn notes(r: &Value) -> Vec<String> {
    r["notes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// What a probe of an open_basedir refusal must show: exit 1 on a 200, the refused file
/// named first in the notes with the allowed list, and in the human report right after the
/// headline.
fn assert_refusal_named(
    json: &std::process::Output,
    human: &std::process::Output,
    file: &str,
    allowed: &str,
) {
    let stderr = String::from_utf8_lossy(&json.stderr);
    let r = record(json);
    assert_eq!(r["status"], 200, "the page answers 200: {r:#}");
    assert_eq!(
        json.status.code(),
        Some(1),
        "an open_basedir refusal fails the probe even on a 200: {r:#}\n{stderr}"
    );
    let notes = notes(&r);
    let first = notes.first().unwrap_or_else(|| panic!("a note: {r:#}"));
    assert!(
        first.starts_with(&format!(
            "PHP refused {file}: it is outside open_basedir ({allowed})"
        )),
        "the refused file named first: {first:?}\n{r:#}"
    );
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(human.status.code(), Some(1), "{text}");
    let second = text.lines().nth(1).unwrap_or_default();
    assert!(
        second.starts_with(&format!("  refused: PHP refused {file}")),
        "named right after the headline:\n{text}"
    );
}

#[test]
fn open_basedir_under_mod_php_names_the_refused_file_and_fails_the_probe() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = PhpApache::site(&[("index.php", PAGE)]);
    let lib = app.path("lib/settings.php");
    std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
    std::fs::write(&lib, "<?php $x = 1;\n").unwrap();
    let (status, body) = app.get("/index.php");
    assert_eq!(
        (status, body.trim()),
        (200, "page done"),
        "{}",
        app.error_log()
    );
    let url = app.url("/index.php");
    let json = probe(&url, app.pid(), true);
    let human = probe(&url, app.pid(), false);
    let www = app.path("www");
    assert_refusal_named(&json, &human, lib.to_str().unwrap(), www.to_str().unwrap());
}

/// A private php-fpm: its own configuration, pid, log and unix socket in `dir`, one static
/// worker as `nobody`, in the foreground, no php.ini (`-n`); PHP's errors logged (to FastCGI
/// stderr), not displayed, as Debian's production php.ini has it. Stopped with its process
/// group on drop.
struct Fpm {
    child: Child,
}

impl Fpm {
    fn start(dir: &TempDir) -> Fpm {
        let fpm = "/usr/sbin/php-fpm8.2";
        assert!(
            std::path::Path::new(fpm).exists(),
            "{fpm} is missing: scripts/test.sh installs php8.2-fpm"
        );
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("fpm.conf"),
            format!(
                "[global]\npid = {d}/fpm.pid\nerror_log = {d}/fpm-error.log\ndaemonize = no\n\n\
                 [t]\nuser = nobody\ngroup = nogroup\nlisten = {d}/fpm.sock\nlisten.mode = 0666\n\
                 pm = static\npm.max_children = 1\n\
                 php_admin_flag[display_errors] = off\nphp_admin_flag[log_errors] = on\n"
            ),
        )
        .unwrap();
        let child = Command::new(fpm)
            .args(["-F", "-n", "-y"])
            .arg(dir.path().join("fpm.conf"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dir.path().join("fpm.sock").exists() {
            assert!(
                Instant::now() < deadline,
                "php-fpm did not start: {}",
                std::fs::read_to_string(dir.path().join("fpm-error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Fpm { child }
    }
}

impl Drop for Fpm {
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}

#[test]
fn open_basedir_under_php_fpm_behind_nginx_names_the_refused_file() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("fpm-basedir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let fpm = Fpm::start(&dir);
    let site = format!(
        "server {{\n  listen 127.0.0.1:@PORT@;\n  root @ROOT@/www;\n  location ~ \\.php$ {{\n    \
         fastcgi_pass unix:{}/fpm.sock;\n    include /etc/nginx/fastcgi_params;\n    \
         fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n  }}\n}}\n",
        dir.path().display()
    );
    let n = Nginx::start_with_site(&site);
    let www = n.root.path().join("www");
    std::fs::write(www.join("index.php"), PAGE).unwrap();
    let lib = n.root.path().join("lib/settings.php");
    std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
    std::fs::write(&lib, "<?php $x = 1;\n").unwrap();
    for p in [
        n.root.path().to_path_buf(),
        www.clone(),
        lib.parent().unwrap().to_path_buf(),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let url = n.url("/index.php");
    let json = probe(&url, n.pid(), true);
    let human = probe(&url, n.pid(), false);
    drop(fpm);
    let log = std::fs::read_to_string(n.root.path().join("logs/error.log")).unwrap_or_default();
    assert!(
        log.contains("open_basedir restriction in effect"),
        "nginx logged php-fpm's warning: {log}"
    );
    assert_refusal_named(&json, &human, lib.to_str().unwrap(), www.to_str().unwrap());
}
