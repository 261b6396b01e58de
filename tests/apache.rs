//! End to end on a real Apache (installed by scripts/test.sh), prefork and event MPMs: the
//! postmortem's rewrite typo is named as the first suspect with its did-you-mean and the
//! configuration line; healthy requests have no suspects; keep-alive gives one record per
//! request; `--probe` exit codes; a permission problem is explained.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::apache::Apache;
use common::*;
use serde_json::Value;

/// One Apache test at a time: they share two cores, and `--apache` sees every Apache.
static SERIAL: Mutex<()> = Mutex::new(());

const T: Duration = Duration::from_secs(60);

fn probe(a: &Apache, path: &str, extra: &[&str]) -> (std::process::Output, Vec<Value>) {
    let pid = a.pid().to_string();
    let url = a.url(path);
    let mut args = vec!["attach", "--json", "--probe", &url];
    args.extend_from_slice(extra);
    args.push(&pid);
    let out = run_reqtrace(&args, T);
    let lines = json_lines(&out.stdout);
    (out, lines)
}

fn check_rewrite_typo(mpm: &str, extra: &[&str]) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start(mpm);
    let (out, lines) = probe(&a, "/home", extra);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a 404 probe fails: {stderr}");
    let reqs = requests(&lines);
    let home: Vec<_> = reqs.iter().filter(|r| r["target"] == "/home").collect();
    assert_eq!(
        home.len(),
        1,
        "one record for the probe: {reqs:#?}\n{stderr}"
    );
    let r = home[0];
    assert_eq!(r["method"], "GET");
    assert_eq!(r["status"], 404);
    assert_eq!(r["partial"], false);
    assert!(r["host"].as_str().unwrap().starts_with("127.0.0.1"));
    assert!(
        r["noise"].as_u64().unwrap() >= 1,
        ".htaccess probes are noise: {r:#}"
    );
    let s = &r["suspects"][0];
    let www = a.root.path().join("www");
    assert_eq!(s["path"], www.join("index.phpp").to_str().unwrap(), "{r:#}");
    assert_eq!(s["errno"], "ENOENT");
    assert_eq!(s["did_you_mean"], www.join("index.php").to_str().unwrap());
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .contains("rewritten to /index.phpp"),
        "{s:#}"
    );
    assert!(
        s["count"].as_u64().unwrap() >= 2,
        "one cause seen several times is one suspect"
    );
    let refs = s["references"].as_array().unwrap();
    let site = a.root.path().join("sites/site.conf");
    assert!(
        refs.iter().any(|x| x["file"] == site.to_str().unwrap()
            && x["line"] == 3
            && x["text"]
                .as_str()
                .unwrap()
                .contains("RewriteRule ^/home$ /index.phpp")),
        "{refs:#?}"
    );
    // Only one cause.
    assert_eq!(r["suspects"].as_array().unwrap().len(), 1, "{r:#}");
    // Syscall lines are not printed in report mode, but the summary counts the request.
    assert!(lines.iter().all(|l| l["type"] != "syscall"));
    let sum = lines.last().unwrap();
    assert_eq!(sum["type"], "summary");
    assert!(sum["requests"].as_u64().unwrap() >= 1);
    assert_untraced_and_running(a.pid());
    assert_eq!(
        a.get("/hello.html"),
        200,
        "the server still serves after detach"
    );
}

#[test]
fn prefork_rewrite_typo_is_the_first_suspect_with_did_you_mean_and_config_line() {
    check_rewrite_typo("prefork", &[]);
}

/// The processes spread over two tracer threads: the same record as with one.
#[test]
fn two_tracer_threads_give_the_same_diagnosis() {
    check_rewrite_typo("prefork", &["--threads", "2"]);
}

#[test]
fn event_mpm_rewrite_typo_is_the_first_suspect() {
    check_rewrite_typo("event", &[]);
}

#[test]
fn healthy_requests_have_no_suspects_and_the_probe_passes() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    // "/welcome" is rewritten to an existing /index.php: mod_rewrite's lookup of the
    // URL-path /index.php at the filesystem root fails, and that is normal.
    for path in ["/hello.html", "/", "/welcome"] {
        let (out, lines) = probe(&a, path, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reqs = requests(&lines);
        let r = reqs.iter().find(|r| r["target"] == path).expect("record");
        assert_eq!(r["status"], 200);
        assert_eq!(r["suspects"].as_array().unwrap().len(), 0, "{r:#}");
        assert!(r["syscalls"].as_u64().unwrap() >= 2);
    }
    // "/" tries index.html (missing) before index.php: a recovered candidate is noise,
    // listed with --all but not failing the probe.
    let (out, lines) = probe(&a, "/", &["--all"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = requests(&lines)
        .into_iter()
        .find(|r| r["target"] == "/")
        .unwrap()
        .clone();
    let noise: Vec<_> = r["suspects"].as_array().unwrap().iter().collect();
    assert!(
        noise
            .iter()
            .any(|s| s["path"].as_str().unwrap().ends_with("/www/index.html")
                && s["reason"].as_str().unwrap().starts_with("noise")),
        "{r:#}"
    );
}

#[test]
fn keepalive_gives_one_record_per_request_with_its_own_syscalls() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let child = a.attach_bg(&[
        "--json",
        "--syscalls",
        "--trace",
        "read,writev,accept4,close",
        "--url",
        "/",
        "--count",
        "2",
        "--duration",
        "20",
    ]);
    assert_eq!(a.get_keepalive(&["/home", "/hello.html"]), vec![404, 200]);
    let lines = finish_json(child, T);
    let reqs = requests(&lines);
    assert_eq!(reqs.len(), 2, "{lines:#?}");
    assert_eq!(
        (reqs[0]["target"].as_str(), reqs[0]["status"].as_u64()),
        (Some("/home"), Some(404))
    );
    assert_eq!(
        (reqs[1]["target"].as_str(), reqs[1]["status"].as_u64()),
        (Some("/hello.html"), Some(200))
    );
    assert_eq!(
        reqs[0]["pid"], reqs[1]["pid"],
        "same worker, same connection"
    );
    assert_eq!(
        reqs[0]["suspects"].as_array().unwrap().len(),
        1,
        "{:#}",
        reqs[0]
    );
    assert_eq!(reqs[1]["suspects"].as_array().unwrap().len(), 0);
    assert_eq!(lines.last().unwrap()["reason"], "--count reached, detached");
    assert_untraced_and_running(a.pid());
}

#[test]
fn apache_discovery_and_human_report() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let url = a.url("/home");
    let out = run_reqtrace(
        &["attach", "--apache", "--color", "never", "--probe", &url],
        T,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let www = a.root.path().join("www");
    assert!(text.contains("GET /home → 404"), "{text}");
    assert!(
        text.contains(&format!(
            "\"{}\" = ENOENT",
            www.join("index.phpp").display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "did you mean: \"{}\" (exists)",
            www.join("index.php").display()
        )),
        "{text}"
    );
    assert!(
        text.contains("site.conf:3: RewriteRule ^/home$ /index.phpp [L]"),
        "{text}"
    );
    assert!(text.contains("noise:"), "{text}");
    assert_untraced_and_running(a.pid());
}

#[test]
fn a_permission_problem_is_explained() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let secret = a.root.path().join("www/report.html");
    std::fs::write(&secret, "secret\n").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let (out, lines) = probe(&a, "/report.html", &[]);
    assert_eq!(out.status.code(), Some(1));
    let r = requests(&lines)
        .into_iter()
        .find(|r| r["target"] == "/report.html")
        .unwrap()
        .clone();
    assert_eq!(r["status"], 403);
    let s = &r["suspects"][0];
    assert_eq!(s["errno"], "EACCES", "{r:#}");
    assert_eq!(s["path"], secret.to_str().unwrap());
    let hints = s["hints"].to_string();
    assert!(
        hints.contains("0600") && hints.contains("www-data"),
        "{hints}"
    );
    // The refused open explains the 403: no "the server refused by itself" note.
    assert!(r.get("notes").is_none(), "{r:#}");
}

#[test]
fn probe_errors_are_usage_errors() {
    let out = run_reqtrace(&["attach", "--probe", "https://x/", "1"], T);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https is not supported"));
    let out = run_reqtrace(&["attach"], T);
    assert_eq!(out.status.code(), Some(2));
    let out = run_reqtrace(&["attach", "--name", "no-such-server-xyz"], T);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no running process named no-such-server-xyz")
    );
}

#[test]
fn workers_born_after_attach_are_followed_graceful_restart_and_recycling() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Every worker exits after one connection: the master keeps forking new ones.
    let a = Apache::start_with("prefork", "MaxConnectionsPerChild 1\n");
    let before = a.workers();
    let child = a.attach_bg(&["--json", "--url", "/", "--count", "4", "--duration", "30"]);
    // A graceful restart (SIGUSR1) replaces every worker.
    send_signal(a.pid(), libc::SIGUSR1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while a.workers().iter().any(|w| before.contains(w)) || a.workers().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "graceful restart did not replace workers"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for path in ["/home", "/hello.html", "/home", "/hello.html"] {
        a.get(path);
    }
    let lines = finish_json(child, T);
    let reqs = requests(&lines);
    let got: Vec<(&str, u64)> = reqs
        .iter()
        .map(|r| (r["target"].as_str().unwrap(), r["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("/home", 404),
            ("/hello.html", 200),
            ("/home", 404),
            ("/hello.html", 200)
        ]
    );
    for r in &reqs {
        assert!(
            !before.contains(&(r["pid"].as_i64().unwrap() as i32)),
            "served by a new worker"
        );
    }
    // With one connection per worker, the four requests came from (mostly) different workers.
    let pids: std::collections::BTreeSet<i64> =
        reqs.iter().map(|r| r["pid"].as_i64().unwrap()).collect();
    assert!(pids.len() >= 2, "{pids:?}");
    assert_untraced_and_running(a.pid());
}

/// A reader that stalls must not stall the traced server: lines wait in a bounded queue and
/// the excess is dropped (syscall lines first) and counted.
#[test]
fn a_stalled_reader_does_not_stall_the_server() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let child = spawn_pipeline(
        &format!(
            "attach --syscalls --trace all --json --duration 6 {}",
            a.pid()
        ),
        "(sleep 8; wc -l)",
    );
    wait_traced_tree(a.pid());
    let started = std::time::Instant::now();
    for _ in 0..600 {
        assert_eq!(a.get("/hello.html"), 200);
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "600 requests took {took:?} behind a stalled reader"
    );
    let out = wait_output(child, T);
    // Everything queued meanwhile reached the reader once it read (or was counted as
    // dropped, which lines::tests checks): at least one line per request.
    let delivered: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(
        delivered >= 600,
        "{delivered} lines; {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_untraced_and_running(a.pid());
}

/// A broken URL under load: every request the server answered is recorded, each with its
/// suspect and did-you-mean, and nothing is dropped (a failure's look at the file system is
/// reused for a second, so explaining thousands of identical failures keeps up); a change
/// on disk shows in the records once that second is over.
#[test]
fn a_failing_url_under_load_is_explained_every_time_and_a_change_shows() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let dir = TempDir::new("load-explained");
    let out = dir.join("records.jsonl");
    let child = a.attach_bg(&["--json", "--url", "/home", "-o", &out]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (answered, errors) = a
        .load("/home", 4, Duration::from_secs(3), stop)
        .join()
        .unwrap();
    assert_eq!(errors, 0);
    assert!(answered > 100, "only {answered} requests answered");
    // A record is explained when the writer reaches it, which may be after the load ends:
    // change nothing on disk until every answered request's record is out.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let written = || {
        let text = std::fs::read(&out).unwrap_or_default();
        // Complete lines only: the last one may be half written.
        let end = text.iter().rposition(|&b| b == b'\n').unwrap_or(0);
        let complete = &text[..end];
        String::from_utf8_lossy(complete)
            .lines()
            .filter(|l| l.contains("\"type\":\"request\""))
            .count()
    };
    while written() < answered as usize {
        assert!(std::time::Instant::now() < deadline, "records fell behind");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Another near miss appears: index.phpx, one letter from the typo, like index.php.
    let www = a.root.path().join("www");
    std::fs::rename(www.join("index.php"), www.join("index.phpx")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(a.get("/home"), 404);
    send_signal(child.id() as i32, libc::SIGINT);
    finish_json(child, T); // exit 0; the records went to the file
    let lines = json_lines(&std::fs::read(&out).unwrap());
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["dropped"], 0, "{summary}");
    let mut reqs = requests(&lines);
    assert_eq!(reqs.len() as u64, answered + 1, "{summary}");
    reqs.sort_by(|x, y| {
        x["start_ts"]
            .as_f64()
            .partial_cmp(&y["start_ts"].as_f64())
            .unwrap()
    });
    let (last, load) = reqs.split_last().unwrap();
    let meant = |r: &Value| {
        r["suspects"][0]["did_you_mean"]
            .as_str()
            .map(str::to_string)
    };
    let before = www.join("index.php").to_string_lossy().into_owned();
    for r in load {
        assert_eq!(r["status"], 404, "{r}");
        assert_eq!(meant(r).as_deref(), Some(before.as_str()), "{r}");
        assert_eq!(r["suspects"][0]["references"][0]["line"], 3, "{r}");
    }
    let after = www.join("index.phpx").to_string_lossy().into_owned();
    assert_eq!(meant(last).as_deref(), Some(after.as_str()), "{last}");
    assert_untraced_and_running(a.pid());
}

/// Query strings carry tokens: their values are redacted unless --show-secrets, and no
/// header value but Host reaches the output.
#[test]
fn query_values_and_headers_are_not_printed() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let (out, lines) = probe(&a, "/hello.html?token=s3cret", &["--syscalls"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("s3cret"), "{text}");
    assert!(
        !text.contains("reqtrace-probe"),
        "the User-Agent header leaked: {text}"
    );
    let r = requests(&lines)[0];
    assert_eq!(r["target"], "/hello.html?token=REDACTED");
    let (_, lines) = probe(&a, "/hello.html?token=s3cret", &["--show-secrets"]);
    assert_eq!(requests(&lines)[0]["target"], "/hello.html?token=s3cret");
}

/// A 403 that no failing syscall explains: a symlink where FollowSymLinks is off (Apache
/// finds the file, then refuses it itself). The report says so instead of naming nothing.
#[test]
fn a_refused_symlink_is_noted() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start_with(
        "prefork",
        "<Directory \"@ROOT@/www/sub\">\n    Options -FollowSymLinks\n</Directory>\n",
    );
    let sub = a.root.path().join("www/sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::os::unix::fs::symlink(a.root.path().join("www/hello.html"), sub.join("link.html"))
        .unwrap();
    let n = the_403_note(&a, "/sub/link.html");
    assert!(
        n.contains("sub/link.html is a symbolic link") && n.contains("FollowSymLinks"),
        "{n}"
    );
}

/// A dangling symlink whose target is misspelt: Apache refuses it with a 403 (AH00037, "link
/// target not accessible"). The suspect names the link and its target, did you mean names
/// the file the target meant (for a file, and under a directory link), and the record
/// carries no "the server refused by itself" note: the link explains the 403.
#[test]
fn a_dangling_symlink_names_the_target_meant() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let root = a.root.path();
    std::fs::create_dir_all(root.join("pages")).unwrap();
    std::fs::create_dir_all(root.join("assets")).unwrap();
    std::fs::write(root.join("pages/guide.html"), "guide\n").unwrap();
    std::fs::write(root.join("assets/logo.png"), "png\n").unwrap();
    std::os::unix::fs::symlink("../pages/guid.html", root.join("www/guide.html")).unwrap();
    std::os::unix::fs::symlink(root.join("asets"), root.join("www/media")).unwrap();
    for (url, link, meant) in [
        ("/guide.html", "www/guide.html", "pages/guide.html"),
        ("/media/logo.png", "www/media", "assets/logo.png"),
    ] {
        let (out, lines) = probe(&a, url, &[]);
        assert_eq!(out.status.code(), Some(1), "{url}");
        let r = requests(&lines)[0];
        assert_eq!(r["status"], 403, "{r:#}");
        assert!(r["notes"].is_null(), "{r:#}");
        let s = &r["suspects"][0];
        let meant = root.join(meant);
        assert_eq!(s["did_you_mean"], meant.to_str().unwrap(), "{r:#}");
        let hint = s["hints"][0].as_str().unwrap_or_default();
        let link = root.join(link);
        assert!(
            hint.contains(&format!("{} is a symlink to", link.display()))
                && hint.contains("which does not exist"),
            "{r:#}"
        );
    }
}

/// A FallbackResource naming a missing file, in the server's configuration and in an
/// .htaccess: every pretty URL loops through internal redirects to a 500 (AH00125). The
/// fallback's target is the first suspect, with its near miss and the line naming it; the
/// URL's own missing file (normal for a pretty URL) comes after it.
#[test]
fn a_fallback_resource_typo_is_named_before_the_pretty_urls_own_path() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start_with(
        "prefork",
        "<Directory \"@ROOT@/www/shop\">\n    FallbackResource /shop/front.phpp\n</Directory>\n",
    );
    let www = a.root.path().join("www");
    for d in ["shop", "app"] {
        std::fs::create_dir_all(www.join(d)).unwrap();
    }
    std::fs::write(www.join("shop/front.php"), "front\n").unwrap();
    std::fs::write(www.join("app/router.html"), "router\n").unwrap();
    std::fs::write(
        www.join("app/.htaccess"),
        "FallbackResource /app/router.htm\n",
    )
    .unwrap();
    for (url, target, meant, file, directive) in [
        (
            "/shop/products/shoes",
            "shop/front.phpp",
            "shop/front.php",
            "httpd.conf",
            "FallbackResource /shop/front.phpp",
        ),
        (
            "/app/users/42",
            "app/router.htm",
            "app/router.html",
            "app/.htaccess",
            "FallbackResource /app/router.htm",
        ),
    ] {
        let (out, lines) = probe(&a, url, &[]);
        assert_eq!(out.status.code(), Some(1), "{url}");
        let r = requests(&lines)[0];
        assert_eq!(r["status"], 500, "{r:#}");
        let s = &r["suspects"][0];
        assert_eq!(s["path"], www.join(target).to_str().unwrap(), "{r:#}");
        assert_eq!(
            s["did_you_mean"],
            www.join(meant).to_str().unwrap(),
            "{r:#}"
        );
        let refs = s["references"].as_array().expect("references");
        assert!(
            refs.iter().any(|x| {
                x["file"].as_str().unwrap_or_default().ends_with(file)
                    && x["text"].as_str().unwrap_or_default() == directive
            }),
            "{r:#}"
        );
        let second = r["suspects"][1]["path"].as_str().unwrap_or_default();
        assert!(second.ends_with(url.rsplit('/').next().unwrap()), "{r:#}");
    }
}

/// CGI scripts that fail in the process forked to run them, not in the worker: an
/// interpreter misspelt on the `#!` line (the exec of a script that is there fails with
/// ENOENT), Windows line endings (the `\r` is part of the interpreter's name), no execute
/// bit, and a script whose shell cannot open the file it sources. Each is the request's
/// first suspect, made by the child (another pid than the worker), with what explains it.
/// prefork's mod_cgi forks the child from the worker serving the request.
#[test]
fn cgi_scripts_failing_in_the_forked_child_are_explained() {
    check_cgi(
        "prefork",
        "LoadModule cgi_module /usr/lib/apache2/modules/mod_cgi.so\n",
    );
}

/// The event MPM's mod_cgid (Debian's default CGI) forks the child from its own daemon,
/// which serves no request: the child is tied to the request whose script it execs.
#[test]
fn cgid_scripts_failing_in_the_daemons_child_are_explained() {
    check_cgi(
        "event",
        "LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so\n\
         ScriptSock \"@ROOT@/run/cgisock\"\n",
    );
}

fn check_cgi(mpm: &str, module: &str) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start_with(
        mpm,
        &format!(
            "{module}LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so\n\
             ScriptAlias /cgi-bin/ \"@ROOT@/cgi/\"\n\
             <Directory \"@ROOT@/cgi\">\n    Options +ExecCGI\n    Require all granted\n</Directory>\n"
        ),
    );
    let cgi = a.root.path().join("cgi");
    std::fs::create_dir_all(&cgi).unwrap();
    let script = |name: &str, body: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        let p = cgi.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let print = "echo 'Content-type: text/plain'; echo; echo hi";
    script("typo.cgi", &format!("#!/bin/shh\n{print}\n"), 0o755);
    script("win.cgi", &format!("#!/bin/sh\r\n{print}\r\n"), 0o755);
    script("noexec.cgi", &format!("#!/bin/sh\n{print}\n"), 0o644);
    let settings = cgi.join("settings.sh");
    std::fs::write(&settings, "X=1\n").unwrap();
    let sources = cgi.join("setings.sh");
    script(
        "conf.cgi",
        &format!("#!/bin/sh\n. {} || exit 1\n{print}\n", sources.display()),
        0o755,
    );
    // `env` looks its misspelt interpreter up along PATH: one name, several directories; the
    // near miss is next to one of them.
    script(
        "envtypo.cgi",
        &format!("#!/usr/bin/env shh\n{print}\n"),
        0o755,
    );
    let (_, lines) = probe(&a, "/cgi-bin/envtypo.cgi", &[]);
    let r = requests(&lines)[0];
    let env_searched = r["suspects"].as_array().unwrap().iter().any(|s| {
        s["syscall"] == "execve"
            && s["path"].as_str().unwrap_or_default().ends_with("/shh")
            && s["did_you_mean"]
                .as_str()
                .unwrap_or_default()
                .ends_with("/sh")
    });
    assert!(env_searched, "{r:#}");
    let cgi_path = |n: &str| cgi.join(n).to_str().unwrap().to_string();
    for (name, syscall, errno, path, hint) in [
        (
            "typo.cgi",
            "execve",
            "ENOENT",
            cgi_path("typo.cgi"),
            "#! line names /bin/shh, which does not exist",
        ),
        (
            "win.cgi",
            "execve",
            "ENOENT",
            cgi_path("win.cgi"),
            "ends with a carriage return",
        ),
        (
            "noexec.cgi",
            "execve",
            "EACCES",
            cgi_path("noexec.cgi"),
            "no execute bit is set",
        ),
        (
            "conf.cgi",
            "",
            "ENOENT",
            sources.to_str().unwrap().to_string(),
            "",
        ),
    ] {
        let (out, lines) = probe(&a, &format!("/cgi-bin/{name}"), &[]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let r = requests(&lines)[0];
        assert_eq!(r["status"], 500, "{r:#}");
        let s = &r["suspects"][0];
        assert_eq!(s["path"], path.as_str(), "{r:#}");
        assert_eq!(s["errno"], errno, "{r:#}");
        assert!(s["pid"].is_number(), "{r:#}");
        assert_ne!(s["pid"], r["pid"], "made by the forked child: {r:#}");
        if !syscall.is_empty() {
            assert_eq!(s["syscall"], syscall, "{r:#}");
        }
        if hint.is_empty() {
            assert_eq!(s["did_you_mean"], settings.to_str().unwrap(), "{r:#}");
        } else {
            let hints = s["hints"].to_string();
            assert!(hints.contains(hint), "{name}: {r:#}");
        }
    }
}

/// Probe `path`, which must fail with a 403 whose record carries exactly one note: that note.
fn the_403_note(a: &Apache, path: &str) -> String {
    let (out, lines) = probe(a, path, &[]);
    assert_eq!(out.status.code(), Some(1));
    let r = requests(&lines)[0];
    assert_eq!(r["status"], 403, "{r:#}");
    let notes = r["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{r:#}");
    notes[0].as_str().unwrap().to_string()
}

/// A 403 from an access rule, on a URL whose file does not exist: the missing file is no
/// reason for a 403, and the record says the server refused by itself. A 403 for a real
/// permission problem gets no such note (see a_permission_problem_is_explained).
#[test]
fn a_403_by_an_access_rule_is_noted() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start_with(
        "prefork",
        "<Location \"/private\">\n    Require all denied\n</Location>\n",
    );
    let n = the_403_note(&a, "/private/report.html");
    assert!(
        n.contains("the server refused by itself") && n.contains("Require"),
        "{n}"
    );
}

/// `--summary`: failures by path/errno/syscall and requests by status, in the JSON summary
/// line and as a table.
#[test]
fn summary_counts_failures_by_path_and_requests_by_status() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Apache::start("prefork");
    let home = a.url("/home");
    let hello = a.url("/hello.html");
    let pid = a.pid().to_string();
    let out = run_reqtrace(
        &[
            "attach",
            "--json",
            "--summary",
            "--probe",
            &home,
            "--probe",
            &home,
            "--probe",
            &hello,
            &pid,
        ],
        T,
    );
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out.stdout);
    let sum = lines.last().unwrap();
    assert_eq!(sum["statuses"]["404"], 2, "{sum}");
    assert_eq!(sum["statuses"]["200"], 1, "{sum}");
    let typo = a.root.path().join("www/index.phpp");
    let rows = sum["failures"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|r| r["path"] == typo.to_str().unwrap() && r["syscall"] == "newfstatat")
        .expect("the typo's row");
    assert_eq!(row["errno"], "ENOENT");
    assert_eq!(
        row["count"], 4,
        "two stats per request, two requests: {rows:#?}"
    );

    let out = run_reqtrace(
        &[
            "attach",
            "--summary",
            "--color",
            "never",
            "--probe",
            &home,
            &pid,
        ],
        T,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("failures by path:") && text.contains("requests by status:"),
        "{text}"
    );
    assert!(
        text.contains(&format!("ENOENT       newfstatat     {}", typo.display())),
        "{text}"
    );
}
