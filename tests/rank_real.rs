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

/// The record of one probe of `path`.
fn probe(a: &Apache, path: &str) -> (std::process::Output, Value) {
    let pid = a.pid().to_string();
    let url = a.url(path);
    let out = run_reqtrace(&["attach", "--json", "--probe", &url, &pid], T);
    if std::env::var("RK_TRACE").is_ok() {
        let o = run_reqtrace(&["attach", "--syscalls", "--color", "never", "--probe", &url, &pid], T);
        eprintln!("{}", String::from_utf8_lossy(&o.stdout));
    }
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

#[test]
fn explore() {
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
    let (out, r) = probe(&a, "/app/probe.php");
    eprintln!("{r:#}\n{}", String::from_utf8_lossy(&out.stderr));
    panic!();
}

#[test]
fn explore2() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = php_apache("LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so\nAlias /app @ROOT@/app\n<Directory @ROOT@/app>\nAllowOverride All\nRequire all granted\n</Directory>\n");
    let www = a.root.path().join("www");
    std::fs::create_dir_all(www.join("idx")).unwrap();
    std::fs::create_dir_all(a.root.path().join("app")).unwrap();
    std::fs::create_dir_all(a.root.path().join("outside")).unwrap();
    std::fs::write(
        www.join("inc.php"),
        "<?php\nset_include_path('.:/usr/share/php');\nrequire 'Lib/Sub/autoload.php';\necho 'x';\n",
    )
    .unwrap();
    std::fs::write(
        www.join("idx/index.php"),
        "<?php\n@file_exists(__DIR__ . '/config.footer.inc.php');\n@file_exists(sys_get_temp_dir() . '/nosuchtmp');\necho 'x';\n",
    )
    .unwrap();
    std::fs::write(
        a.root.path().join("outside/htaccess"),
        "# the app's rules\nRewriteEngine On\nRewriteRule ^start$ index.phpp [L]\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(a.root.path().join("outside/htaccess"), a.root.path().join("app/.htaccess")).unwrap();
    for p in ["/inc.php", "/idx/", "/app/start"] {
        let (out, r) = probe(&a, p);
        eprintln!("=== {p}\n{r:#}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    panic!();
}
