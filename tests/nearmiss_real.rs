//! Near misses a person sees, on real servers (issue 12): an Apache `Alias` whose target lacks
//! its trailing slash glues the rest of the URL onto it, and the record names the file that
//! was meant and the Alias line; nginx's `disable_symlinks on` refuses a release symlink
//! (`root …/current/public` with `current` → `releases/1`), and the suspect says so with the
//! directive's line.

mod common;

use std::time::Duration;

use common::apache::Apache;
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

/// The line of `file` (1-based) whose text contains `needle`.
fn line_of(file: &std::path::Path, needle: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1
}

#[test]
fn alias_without_trailing_slash_names_the_meant_file_and_the_alias_line() {
    let a = Apache::start_with(
        "prefork",
        "LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so\n\
         Alias /foo/bar/ @ROOT@/bar\n\
         <Directory \"@ROOT@\">\n    Require all granted\n</Directory>\n",
    );
    let root = a.root.path();
    std::fs::create_dir_all(root.join("bar")).unwrap();
    std::fs::write(root.join("bar/baz.html"), "baz\n").unwrap();
    let conf = root.join("httpd.conf");
    let alias_line = line_of(&conf, "Alias /foo/bar/");

    let url = a.url("/foo/bar/baz.html");
    let pid = a.pid().to_string();
    let out = run_reqtrace(&["attach", "--json", "--probe", &url, &pid], T);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the probe fails: {stderr}");
    let lines = json_lines(&out.stdout);
    let r = record(&lines, "/foo/bar/baz.html");
    assert_eq!(r["status"], 404, "{r:#}");
    let glued = root.join("barbaz.html");
    let s = r["suspects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == glued.to_str().unwrap())
        .unwrap_or_else(|| panic!("the glued path is a suspect: {r:#}"));
    assert_eq!(
        s["did_you_mean"],
        root.join("bar/baz.html").to_str().unwrap(),
        "{r:#}"
    );
    // The Alias line, by file and line, among the references and in a hint.
    let refs = s["references"].as_array().unwrap();
    assert!(
        refs.iter()
            .any(|x| x["file"] == conf.to_str().unwrap() && x["line"] == alias_line),
        "the Alias line {}:{alias_line} is referenced: {r:#}",
        conf.display()
    );
    let where_ = format!("{}:{alias_line}", conf.display());
    assert!(
        s["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().contains(&where_)
                && h.as_str().unwrap().contains("without a trailing slash")),
        "a hint names {where_}: {r:#}"
    );

    // The human report says it too.
    let out = run_reqtrace(&["attach", "--probe", &url, &pid], T);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(root.join("bar/baz.html").to_str().unwrap()) && text.contains(&where_),
        "{text}"
    );
    // The Alias line does not hold the glued name: it is not said to.
    assert!(!text.contains("\"barbaz.html\" appears in"), "{text}");
}

#[test]
fn disable_symlinks_refusing_a_release_symlink_is_named_with_its_line() {
    let n = Nginx::start_with_site(
        "server {\n    listen 127.0.0.1:@PORT@;\n    root @ROOT@/app/current/public;\n    \
         disable_symlinks on;\n}\n",
    );
    let app = n.root.path().join("app");
    std::fs::create_dir_all(app.join("releases/1/public")).unwrap();
    std::fs::write(app.join("releases/1/public/index.html"), "release 1\n").unwrap();
    std::os::unix::fs::symlink("releases/1", app.join("current")).unwrap();
    // The last component a symlink too: nginx's open(O_NOFOLLOW) fails with ELOOP.
    std::os::unix::fs::symlink("index.html", app.join("releases/1/public/link.html")).unwrap();
    let site = n.root.path().join("conf.d/site.conf");

    let url = n.url("/index.html");
    let pid = n.pid().to_string();
    let out = run_reqtrace(&["attach", "--json", "--probe", &url, &pid], T);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the probe fails: {stderr}");
    let lines = json_lines(&out.stdout);
    let r = record(&lines, "/index.html");
    // nginx opens each directory under the root with O_PATH|O_NOFOLLOW|O_DIRECTORY: on the
    // symlink the kernel answers ENOTDIR, and nginx a 404.
    assert_eq!(r["status"], 404, "{r:#}");
    let s = &r["suspects"][0];
    assert_eq!(s["path"], app.join("current").to_str().unwrap(), "{r:#}");
    assert_eq!(s["errno"], "ENOTDIR", "{r:#}");
    let hint = s["hints"][0].as_str().unwrap_or_default();
    let where_ = format!("{}:4", site.display());
    assert!(
        hint.contains("symbolic link")
            && hint.contains("releases/1")
            && hint.contains("disable_symlinks")
            && hint.contains(&where_),
        "the first hint names the link and {where_}: {r:#}"
    );

    // Served from the release itself, a symlinked file is refused with ELOOP and a 403: the
    // refusal is the link, not "the server refused by itself".
    std::fs::remove_file(app.join("current")).unwrap();
    std::fs::rename(app.join("releases/1"), app.join("current")).unwrap();
    let url = n.url("/link.html");
    let out = run_reqtrace(&["attach", "--json", "--probe", &url, &pid], T);
    let lines = json_lines(&out.stdout);
    let r = record(&lines, "/link.html");
    assert_eq!(r["status"], 403, "{r:#}");
    let s = &r["suspects"][0];
    assert_eq!(
        s["path"],
        app.join("current/public/link.html").to_str().unwrap(),
        "{r:#}"
    );
    assert_eq!(s["errno"], "ELOOP", "{r:#}");
    let hint = s["hints"][0].as_str().unwrap_or_default();
    assert!(
        hint.contains("symbolic link (to index.html)") && hint.contains(&where_),
        "{r:#}"
    );
    assert!(r["notes"].as_array().is_none_or(|n| n.is_empty()), "{r:#}");
}
