//! Real PHP applications for the tests: a private prefork Apache with mod_php (its own port,
//! ServerRoot files, logs, pid and PHP session directory in a temp dir; never the system's
//! configuration), serving either a small PHP site written by the test or a private copy of
//! DokuWiki as Debian packages it. Stopped (its whole process group) and removed on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// Where Debian's packages put what the helpers need (scripts/test.sh installs them).
const MOD_PHP: &str = "/usr/lib/apache2/modules/libphp8.2.so";
const DOKUWIKI: &str = "/usr/share/dokuwiki";
const DOKUWIKI_CONF: &str = "/etc/dokuwiki";
const DOKUWIKI_DATA: &str = "/var/lib/dokuwiki";

/// The page `start` of the DokuWiki copy says this (its HTML shows it when rendered).
pub const DOKUWIKI_START_TEXT: &str = "This wiki is the test bed of reqtrace.";

/// A private prefork Apache with mod_php.
pub struct PhpApache {
    pub root: TempDir,
    pub port: u16,
    child: Child,
}

impl PhpApache {
    /// Serve a small PHP site: `files` (path under the DocumentRoot, contents) written to
    /// `ROOT/www`, served at `/`.
    pub fn site(files: &[(&str, &str)]) -> PhpApache {
        let root = new_root("php-site");
        for (rel, text) in files {
            let p = root.path().join("www").join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
        }
        Self::start(root, "")
    }

    /// Serve a private copy of Debian's DokuWiki at `/dokuwiki/`, wired as the package wires
    /// it (code from /usr/share/dokuwiki, configuration from /etc/dokuwiki, data from
    /// /var/lib/dokuwiki, Apache configuration from /etc/dokuwiki/apache.conf), every one of
    /// those paths moved into the temp dir so a test can break its copy (rename a template)
    /// and DokuWiki writes its caches there, never in the system's. The page `start` exists.
    pub fn dokuwiki() -> PhpApache {
        let root = new_root("dokuwiki");
        prepare_dokuwiki(root.path());
        let r = root.path().to_str().unwrap().to_string();
        // The package's Apache stanza (Alias /dokuwiki, Options +FollowSymLinks,
        // AllowOverride All, Order/Allow from localhost), with the copy's paths.
        let apache_conf = std::fs::read_to_string(format!("{DOKUWIKI_CONF}/apache.conf"))
            .unwrap_or_else(|e| panic!("{DOKUWIKI_CONF}/apache.conf: {e} (reinstall dokuwiki)"))
            .replace(DOKUWIKI, &format!("{r}/dokuwiki"))
            .replace(DOKUWIKI_DATA, &format!("{r}/var"));
        std::fs::write(root.path().join("dokuwiki.conf"), apache_conf).unwrap();
        // Debian's apache2.conf grants /usr/share, where the package puts DokuWiki; the copy
        // needs the same grant, then the stanza above.
        let extra = format!(
            "<Directory \"{r}/dokuwiki\">\n    Require all granted\n</Directory>\n\
             Include \"{r}/dokuwiki.conf\"\n"
        );
        Self::start(root, &extra)
    }

    fn start(root: TempDir, extra: &str) -> PhpApache {
        assert!(
            Path::new("/usr/sbin/apache2").exists() && Path::new(MOD_PHP).exists(),
            "apache2 or mod_php ({MOD_PHP}) is not installed: scripts/test.sh installs them"
        );
        let port = super::free_port();
        let r = root.path().to_str().unwrap().to_string();
        let conf = format!(
            r#"# A throwaway prefork Apache with mod_php: its own port, logs, pid and PHP
# sessions under {r}; modules loaded here, never the system's configuration.
ServerRoot "/etc/apache2"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{r}/run/httpd.pid"
DefaultRuntimeDir "{r}/run"
Mutex file:{r}/run default
User www-data
Group www-data

LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_host_module /usr/lib/apache2/modules/mod_authz_host.so
LoadModule access_compat_module /usr/lib/apache2/modules/mod_access_compat.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule rewrite_module /usr/lib/apache2/modules/mod_rewrite.so
LoadModule php_module {MOD_PHP}

StartServers 2
MinSpareServers 1
MaxSpareServers 4
KeepAlive On
TypesConfig /etc/mime.types
ErrorLog "{r}/logs/error.log"
LogLevel warn
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog "{r}/logs/access.log" common

# As Debian's mods-available/php8.2.conf.
<FilesMatch ".+\.ph(?:ar|p|tml)$">
    SetHandler application/x-httpd-php
</FilesMatch>
# PHP's sessions in the temp dir, not /var/lib/php/sessions (same mode as Debian's).
php_admin_value session.save_path "{r}/sessions"

# As Debian's apache2.conf: nothing outside the DocumentRoot, no .htaccess above it.
<Directory />
    AllowOverride None
    Require all denied
</Directory>
DocumentRoot "{r}/www"
<Directory "{r}/www">
    AllowOverride All
    Require all granted
</Directory>
DirectoryIndex index.html index.php
{extra}"#
        );
        std::fs::write(root.path().join("httpd.conf"), conf).unwrap();
        let child = Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(root.path().join("httpd.conf"))
            .arg("-DFOREGROUND")
            // Its own process group: on shutdown Apache signals its whole group
            // (ap_unixd_killpg(getpgrp(), SIGTERM)), which must not be the test harness.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut a = PhpApache { root, port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = a.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = a.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "apache with mod_php exited ({status}): {err}{}",
                    a.error_log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "apache with mod_php did not start: {}",
                a.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        a
    }

    /// The master's PID (reqtrace attaches to it and its workers).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// A path inside the temp dir: `dokuwiki/lib/tpl/dokuwiki/main.php`, `www/index.php`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.path("logs/error.log")).unwrap_or_default()
    }

    /// One HTTP/1.0 GET (so the body is not chunked): status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf).to_string();
        let status = text
            .get(9..12)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line from {path}: {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

impl Drop for PhpApache {
    fn drop(&mut self) {
        super::stop_server(&mut self.child);
    }
}

/// Lay out a private copy of Debian's DokuWiki in `dir` (which must exist and be traversable
/// by www-data): its code in `DIR/dokuwiki`, its configuration in `DIR/etc`, its data in
/// `DIR/var/data` (owner www-data kept), Debian's preload.php and dokuwiki.php pointed at
/// them, and the page `start` (DOKUWIKI_START_TEXT). No web server configuration: whoever
/// serves `DIR/dokuwiki` (mod_php here, php-fpm in tests/fpm_apps.rs) brings its own.
pub fn prepare_dokuwiki(dir: &Path) {
    for p in [DOKUWIKI, DOKUWIKI_CONF, DOKUWIKI_DATA] {
        assert!(
            Path::new(p).exists(),
            "{p} is missing: DokuWiki is not installed (scripts/test.sh installs it)"
        );
    }
    let r = dir.to_str().unwrap().to_string();
    // The package's symlinks point out of /usr/share/dokuwiki: lib/plugins and lib/tpl
    // into /var/lib/dokuwiki/lib, .htaccess into /etc/dokuwiki; /etc/dokuwiki's
    // acl.auth.php and users.auth.php into /var/lib/dokuwiki/acl. Dereference them
    // (cp -L) so the copy owns its templates and plugins.
    copy(&format!("{DOKUWIKI}/"), &format!("{r}/dokuwiki"), true);
    copy(&format!("{DOKUWIKI_CONF}/"), &format!("{r}/etc"), true);
    std::fs::create_dir_all(format!("{r}/var")).unwrap();
    // The data directory keeps its owner (www-data) and modes.
    copy(
        &format!("{DOKUWIKI_DATA}/data/"),
        &format!("{r}/var/data"),
        false,
    );
    // Debian's inc/preload.php names /etc/dokuwiki (DOKU_MAIN_CONF, the farm) and
    // dokuwiki.php the savedir under /var/lib/dokuwiki: point them at the copy.
    let moved = |text: String| {
        text.replace(DOKUWIKI_CONF, &format!("{r}/etc"))
            .replace(DOKUWIKI_DATA, &format!("{r}/var"))
    };
    for f in ["dokuwiki/inc/preload.php", "etc/dokuwiki.php"] {
        let p = dir.join(f);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, moved(text)).unwrap();
    }
    let start = dir.join("var/data/pages/start.txt");
    std::fs::write(
        &start,
        format!("====== Welcome ======\n\n{DOKUWIKI_START_TEXT}\n"),
    )
    .unwrap();
    chown_www_data(&start);
}

/// A temp dir laid out for the server: run/, logs/, www/ and sessions/, traversable by
/// www-data whatever the test's umask.
fn new_root(tag: &str) -> TempDir {
    let root = TempDir::new(tag);
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in ["run", "logs", "www", "sessions"] {
        std::fs::create_dir_all(root.path().join(d)).unwrap();
        std::fs::set_permissions(root.path().join(d), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
    // Debian's /var/lib/php/sessions: root's, 1733 (www-data may create files, not list).
    std::fs::set_permissions(
        root.path().join("sessions"),
        std::fs::Permissions::from_mode(0o1733),
    )
    .unwrap();
    root
}

/// `cp -a SRC DST` (with `-L` when `deref`: symbolic links copied as what they point to).
fn copy(src: &str, dst: &str, deref: bool) {
    let flags = if deref { "-aL" } else { "-a" };
    let out = Command::new("cp").args([flags, src, dst]).output().unwrap();
    assert!(
        out.status.success(),
        "cp {flags} {src} {dst}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chown_www_data(p: &Path) {
    let out = Command::new("chown")
        .arg("www-data:")
        .arg(p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chown www-data {}: {}",
        p.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
