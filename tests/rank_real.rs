//! Issue 12, the wrong explanations seen on real PHP applications, on a real prefork Apache
//! with mod_php: a relative and an absolute form of one path is not a rewrite and shows the
//! form the application gave; index names only for index look-ups; PHP's include_path search
//! names the missing file; a RewriteRule typo in a symlinked `.htaccess` is referenced.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::apache::Apache;
use common::*;
use serde_json::Value;

/// One Apache at a time: two cores are shared.
static SERIAL: Mutex<()> = Mutex::new(());

const T: Duration = Duration::from_secs(60);

const PHP: &str = "
LoadModule php_module /usr/lib/apache2/modules/libphp8.2.so
<FilesMatch \\.php$>
    SetHandler application/x-httpd-php
</FilesMatch>
";

fn php_apache(extra: &str) -> Apache {
    assert!(
        std::path::Path::new("/usr/lib/apache2/modules/libphp8.2.so").exists(),
        "libapache2-mod-php8.2 is not installed: scripts/test.sh installs it"
    );
    Apache::start_with("prefork", &format!("{PHP}{extra}"))
}

/// The record of one probe of `path`, with `--all`: in a request that succeeded the
/// application's handled look-ups are noise, and these tests check how each is explained.
fn probe(a: &Apache, path: &str) -> (std::process::Output, Value) {
    let pid = a.pid().to_string();
    let url = a.url(path);
    let out = run_reqtrace(&["attach", "--json", "--all", "--probe", &url, &pid], T);
    let lines = json_lines(&out.stdout);
    let target = path.to_string();
    let r = requests(&lines)
        .into_iter()
        .find(|r| r["target"] == target.as_str())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no record of {path}: {lines:#?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    (out, r)
}

fn suspects(r: &Value) -> Vec<Value> {
    r["suspects"].as_array().cloned().unwrap_or_default()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Items 1 and 4: an application that tries a relative and an absolute form of one path is
/// not "rewritten", and the suspect shows the form the application meant; a missing
/// directory of the standard hierarchy (`var`) is not searched on its own.
#[test]
fn relative_and_absolute_forms_of_a_path_are_not_a_rewrite() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = php_apache("");
    let www = a.root.path().join("www");
    std::fs::create_dir_all(www.join("app/data")).unwrap();
    std::fs::write(
        www.join("app/probe.php"),
        "<?php
chdir('/');
$a = @file_exists('data/changes.log');
$b = @file_exists(__DIR__ . '/data/changes.log');
$c = @file_exists('/var/lib/nosuchapp/cache/x.cache');
chdir(__DIR__);
$d = @file_exists('var/lib/nosuchapp/cache/x.cache');
echo 'ok';
",
    )
    .unwrap();
    let (_, r) = probe(&a, "/app/probe.php");
    assert_eq!(r["status"], 200, "{r:#}");
    let sus = suspects(&r);
    for x in &sus {
        assert!(
            !s(&x["reason"]).contains("rewritten"),
            "no rewrite is configured: {r:#}"
        );
        for rf in x["references"].as_array().unwrap() {
            let t = s(&rf["text"]);
            assert!(
                t.contains("changes.log") || t.contains("nosuchapp"),
                "{r:#}"
            );
        }
    }
    let paths: Vec<&str> = sus.iter().map(|x| s(&x["path"])).collect();
    let log = www.join("app/data/changes.log");
    assert!(paths.contains(&log.to_str().unwrap()), "{r:#}");
    assert!(paths.contains(&"/var/lib/nosuchapp/cache/x.cache"), "{r:#}");
}

/// Item 2: files an application looks for in the directory the URL names are not
/// DirectoryIndex candidates unless named like one and tried before the index was found.
#[test]
fn only_index_lookups_are_called_directory_index() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = php_apache("");
    let www = a.root.path().join("www");
    std::fs::create_dir_all(www.join("idx")).unwrap();
    std::fs::write(
        www.join("idx/index.php"),
        "<?php\n@file_exists(__DIR__ . '/config.footer.inc.php');\n@file_exists(sys_get_temp_dir() . '/nosuchtmp');\necho 'x';\n",
    )
    .unwrap();
    for url in ["/idx/", "/"] {
        if url == "/" {
            std::fs::rename(www.join("idx/index.php"), www.join("index.php")).unwrap();
        }
        let (_, r) = probe(&a, url);
        assert_eq!(r["status"], 200, "{r:#}");
        let sus = suspects(&r);
        assert!(
            sus.iter()
                .any(|x| s(&x["path"]).ends_with("/config.footer.inc.php")),
            "{r:#}"
        );
        for x in &sus {
            assert!(!s(&x["reason"]).contains("DirectoryIndex"), "{url}: {r:#}");
        }
    }
}

/// Item 3: PHP's include_path search for a missing library names the library's file under
/// the include_path entry, not the application's own directory nor a directory; references
/// skip comments and do not list every line with "lib" in it.
#[test]
fn an_include_path_search_names_the_missing_library_file() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = php_apache("");
    let www = a.root.path().join("www");
    std::fs::write(
        www.join("inc.php"),
        "<?php\n// needs Lib/Sub/autoload.php from the distribution\nset_include_path('.:/usr/share/php');\nrequire 'Lib/Sub/autoload.php';\necho 'x';\n",
    )
    .unwrap();
    let (_, r) = probe(&a, "/inc.php");
    assert_eq!(r["status"], 500, "{r:#}");
    let sus: Vec<Value> = suspects(&r)
        .into_iter()
        .filter(|x| x["noise"] != true)
        .collect();
    assert_eq!(sus.len(), 1, "one cause: {r:#}");
    assert_eq!(
        s(&sus[0]["path"]),
        "/usr/share/php/Lib/Sub/autoload.php",
        "{r:#}"
    );
    let refs = sus[0]["references"].as_array().unwrap();
    assert_eq!(refs.len(), 1, "{r:#}");
    assert_eq!(
        s(&refs[0]["text"]),
        "require 'Lib/Sub/autoload.php';",
        "{r:#}"
    );
    assert_eq!(refs[0]["line"], 4);
}

/// Item 5: a RewriteRule typo in an application's .htaccess (a symlink to a file outside
/// every DocumentRoot, as Debian's DokuWiki has it), under an Alias: the rewrite's target is
/// the first suspect, with the rule's file and line.
#[test]
fn a_rewrite_typo_in_a_symlinked_htaccess_is_first_with_its_line() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = php_apache(
        "LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
Alias /app @ROOT@/app
<Directory @ROOT@/app>
    AllowOverride All
    Require all granted
</Directory>
",
    );
    let root = a.root.path();
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("app/index.php"), "<?php echo 'app';\n").unwrap();
    std::fs::write(
        root.join("etc/htaccess"),
        "# the app's rules: index.phpp in a comment is no reference\nRewriteEngine On\nRewriteRule ^start$ index.phpp [L]\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(root.join("etc/htaccess"), root.join("app/.htaccess")).unwrap();
    let (out, r) = probe(&a, "/app/start");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(r["status"], 404, "{r:#}");
    let first = &suspects(&r)[0];
    assert_eq!(
        s(&first["path"]),
        root.join("app/index.phpp").to_str().unwrap(),
        "{r:#}"
    );
    let real = std::fs::canonicalize(root.join("etc/htaccess")).unwrap();
    let refs = first["references"].as_array().unwrap();
    assert!(
        refs.iter().any(|x| s(&x["file"]) == real.to_str().unwrap()
            && x["line"] == 3
            && s(&x["text"]) == "RewriteRule ^start$ index.phpp [L]"),
        "{r:#}"
    );
    assert!(
        refs.iter()
            .all(|x| x["line"] != 1 || s(&x["file"]) != real.to_str().unwrap())
    );
}

/// Item 5 with `AccessFileName .acl`: the per-directory files searched are the ones the
/// configuration names, not only `.htaccess`.
#[test]
fn a_rewrite_typo_in_the_access_file_the_configuration_names_is_referenced() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = php_apache(
        "LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
AccessFileName .acl
Alias /app @ROOT@/app
<Directory @ROOT@/app>
    AllowOverride All
    Require all granted
</Directory>
",
    );
    let root = a.root.path();
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(root.join("app/index.php"), "<?php echo 'app';\n").unwrap();
    std::fs::write(
        root.join("app/.acl"),
        "RewriteEngine On\nRewriteRule ^start$ index.phpp [L]\n",
    )
    .unwrap();
    let (out, r) = probe(&a, "/app/start");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(r["status"], 404, "{r:#}");
    let first = &suspects(&r)[0];
    assert_eq!(
        s(&first["path"]),
        root.join("app/index.phpp").to_str().unwrap(),
        "{r:#}"
    );
    let acl = root.join("app/.acl");
    let refs = first["references"].as_array().unwrap();
    assert!(
        refs.iter()
            .any(|x| s(&x["file"]) == acl.to_str().unwrap() && x["line"] == 2),
        "the RewriteRule in .acl: {r:#}"
    );
}

/// A server whose error log reqtrace cannot see (`ErrorLog syslog`: the workers' fd 2 is not a
/// file or a pipe): a 200's failures cannot be told from handled look-ups by what was logged,
/// so they stay suspects (a missing include is not hidden as "handled").
#[test]
fn without_a_visible_error_log_a_missing_include_in_a_200_is_still_a_suspect() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = php_apache("ErrorLog syslog:local7\n");
    let www = a.root.path().join("www");
    std::fs::write(
        www.join("inc.php"),
        "<?php include __DIR__ . '/header.phpp'; echo 'x';\n",
    )
    .unwrap();
    let (out, r) = probe(&a, "/inc.php");
    assert_eq!(r["status"], 200, "{r:#}");
    assert!(r["log"].is_null(), "nothing logged is seen: {r:#}");
    // (syslog(3) falls back to /dev/console when /dev/log is missing: another suspect here.)
    assert!(
        suspects(&r)
            .iter()
            .any(|x| x["noise"] != true && s(&x["path"]).ends_with("/header.phpp")),
        "the missing include is a suspect: {r:#}"
    );
    assert_eq!(out.status.code(), Some(1), "{r:#}");
}
