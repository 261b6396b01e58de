//! nginx end to end (Debian's nginx, installed by scripts/test.sh): `reqtrace attach --name
//! nginx` finds the master and its workers, ties their file syscalls (open with O_NONBLOCK,
//! the `index` and `try_files` lookups) to each request, and names the missing file with its
//! near miss and the configuration line, as it does for Apache; Apache's noise rules do not
//! hide anything here.

mod common;

use std::time::Duration;

use common::nginx::Nginx;
use common::*;
use serde_json::Value;

const T: Duration = Duration::from_secs(60);

fn record<'a>(lines: &'a [Value], target: &str) -> &'a Value {
    requests(lines)
        .into_iter()
        .find(|r| r["target"] == target)
        .unwrap_or_else(|| panic!("no record for {target}: {lines:#?}"))
}

#[test]
fn nginx_misses_are_named_with_near_miss_and_config_line() {
    let n = Nginx::start();
    let www = n.root.path().join("www");
    let site = n.root.path().join("conf.d/site.conf");
    let urls = [
        n.url("/hello.htm"),
        n.url("/"),
        n.url("/app/page"),
        n.url("/hello.html"),
    ];
    let mut args = vec!["attach", "--name", "nginx", "--json", "--syscalls"];
    for u in &urls {
        args.extend(["--probe", u.as_str()]);
    }
    let out = run_reqtrace(&args, T);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "three probes fail: {stderr}");
    let lines = json_lines(&out.stdout);
    let start = &lines[0];
    let targets = start["targets"].as_array().unwrap();
    for p in std::iter::once(n.pid()).chain(n.workers()) {
        assert!(targets.contains(&p.into()), "{p} attached: {start}");
    }

    // A missing file: the worker's open(O_RDONLY|O_NONBLOCK) fails.
    let r = record(&lines, "/hello.htm");
    assert_eq!(r["status"], 404, "{r:#}");
    let s = &r["suspects"][0];
    assert_eq!(s["path"], www.join("hello.htm").to_str().unwrap(), "{r:#}");
    assert_eq!(s["errno"], "ENOENT");
    assert_eq!(s["did_you_mean"], www.join("hello.html").to_str().unwrap());
    let opens: Vec<&Value> = syscalls(&lines)
        .into_iter()
        .filter(|c| c["request"] == r["id"] && c["path"] == s["path"])
        .collect();
    assert!(
        opens
            .iter()
            .any(|c| c["args"][2].as_str().unwrap_or("").contains("O_NONBLOCK")),
        "nginx opens with O_NONBLOCK: {opens:#?}"
    );

    // `index index.htm`: a 403 for the directory, the index lookup named, with its line.
    let r = record(&lines, "/");
    assert_eq!(r["status"], 403, "{r:#}");
    let s = &r["suspects"][0];
    assert_eq!(s["path"], www.join("index.htm").to_str().unwrap(), "{r:#}");
    assert_eq!(s["did_you_mean"], www.join("index.html").to_str().unwrap());
    assert_eq!(s["references"][0]["file"], site.to_str().unwrap(), "{r:#}");
    assert_eq!(s["references"][0]["text"], "index index.htm;");

    // try_files: the fallback's typo is among the suspects, explained.
    let r = record(&lines, "/app/page");
    assert_eq!(r["status"], 404, "{r:#}");
    let main = r["suspects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == www.join("app/main.htm").to_str().unwrap())
        .unwrap_or_else(|| panic!("the try_files fallback is a suspect: {r:#}"));
    assert_eq!(
        main["did_you_mean"],
        www.join("app/main.html").to_str().unwrap()
    );
    assert!(
        main["references"][0]["text"]
            .as_str()
            .unwrap()
            .contains("try_files $uri /app/main.htm"),
        "{r:#}"
    );

    // A file that exists: a clean 200, nothing hidden as (Apache's) noise.
    let r = record(&lines, "/hello.html");
    assert_eq!(r["status"], 200, "{r:#}");
    assert_eq!(r["suspects"], serde_json::json!([]));
    assert_eq!(r["noise"], 0, "{r:#}");
    assert!(r["syscalls"].as_u64().unwrap() >= 1, "{r:#}");

    // Detached: nginx serves on.
    for p in std::iter::once(n.pid()).chain(n.workers()) {
        assert_untraced_and_running(p);
    }
}
