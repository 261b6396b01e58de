//! PHP through FastCGI for the tests: a private php-fpm 8.2 (its own configuration, pool,
//! unix socket, pid file and logs in a temp dir; never the system's pools or php.ini), and
//! the two web servers that talk to it: a private nginx (`fastcgi_pass`) and a private prefork
//! Apache with mod_proxy_fcgi (`ProxyPassMatch` or `SetHandler "proxy:…"`). Every server runs
//! in its own process group and is stopped, with its temp dir removed, on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;
use super::apache::Apache;

const PHP_FPM: &str = "/usr/sbin/php-fpm8.2";
const MOD_PROXY: &str = "/usr/lib/apache2/modules/mod_proxy.so";
const MOD_PROXY_FCGI: &str = "/usr/lib/apache2/modules/mod_proxy_fcgi.so";

/// The healthy page every pool serves at `www/x.php` (`/x.php` through the web servers).
pub const HEALTHY_PAGE: &str = "<?php echo \"hello from php-fpm\\n\";\n";
pub const HEALTHY_BODY: &str = "hello from php-fpm\n";

/// How to start a pool.
pub struct FpmOpts<'a> {
    /// The pool's `user` and `group` (the workers' credentials; the master stays root).
    pub user: &'a str,
    pub group: &'a str,
    /// Extra lines for the `[www]` pool (`chroot = @ROOT@/jail`, `chdir = /`,
    /// `php_admin_value[open_basedir] = @ROOT@/www`); `@ROOT@` is the pool's temp dir.
    pub pool: &'a str,
    /// Files written under the temp dir before the start (path relative to it, contents);
    /// `www/x.php` is always there (HEALTHY_PAGE) unless listed here.
    pub files: &'a [(&'a str, &'a str)],
}

impl Default for FpmOpts<'_> {
    fn default() -> Self {
        FpmOpts {
            user: "www-data",
            group: "www-data",
            pool: "",
            files: &[],
        }
    }
}

/// A private php-fpm master with one static pool `[www]` of two workers on `ROOT/fpm.sock`.
pub struct Fpm {
    pub root: TempDir,
    child: Child,
}

impl Fpm {
    pub fn start(opts: FpmOpts) -> Fpm {
        assert!(
            Path::new(PHP_FPM).exists(),
            "{PHP_FPM} is not installed: scripts/test.sh installs php8.2-fpm"
        );
        let root = TempDir::new("fpm");
        let r = root.path().to_str().unwrap().to_string();
        // Traversable by the pool user (www-data, nobody) whatever the test's umask.
        chmod(root.path(), 0o755);
        for d in ["run", "logs", "www"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
            chmod(&root.path().join(d), 0o755);
        }
        std::fs::write(root.path().join("www/x.php"), HEALTHY_PAGE).unwrap();
        for (rel, text) in opts.files {
            let p = root.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text.replace("@ROOT@", &r)).unwrap();
        }
        let pool = opts.pool.replace("@ROOT@", &r);
        // `listen.owner/group/mode`: the socket is www-data's 0660, so the web servers'
        // workers (www-data) may connect whatever the pool's own user is.
        // `log_errors` on and `display_errors` off as in production: PHP's warnings go to
        // the web server over FastCGI STDERR (and, with catch_workers_output, to the
        // master's error_log), not into the page.
        let conf = format!(
            "; A throwaway php-fpm for reqtrace's tests: everything under {r}.\n\
             [global]\n\
             pid = {r}/run/fpm.pid\n\
             error_log = {r}/logs/fpm.log\n\
             log_level = notice\n\
             \n\
             [www]\n\
             listen = {r}/fpm.sock\n\
             listen.owner = www-data\n\
             listen.group = www-data\n\
             listen.mode = 0660\n\
             user = {user}\n\
             group = {group}\n\
             pm = static\n\
             pm.max_children = 2\n\
             catch_workers_output = yes\n\
             php_admin_flag[log_errors] = on\n\
             php_admin_flag[display_errors] = off\n\
             {pool}\n",
            user = opts.user,
            group = opts.group,
        );
        std::fs::write(root.path().join("fpm.conf"), conf).unwrap();
        let child = Command::new(PHP_FPM)
            // -F: stay in the foreground (the test owns the master); -n: no php.ini, so
            // neither Debian's php.ini nor its conf.d (opcache, whose stat cache would hide
            // the script's look-ups) apply; PHP's built-in defaults log errors.
            .args(["-F", "-n", "-y"])
            .arg(root.path().join("fpm.conf"))
            // Without `chdir` the workers keep the master's working directory.
            .current_dir(root.path())
            // Its own process group: stopped as a whole on drop.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut f = Fpm { root, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(Path::new(&f.socket()).exists() && f.workers().len() == 2) {
            if let Ok(Some(status)) = f.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = f.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("php-fpm exited ({status}): {err}{}", f.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "php-fpm did not start: {}",
                f.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        f
    }

    /// The master's PID (`--fastcgi PID`).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The pool's workers (the master's children), sorted.
    pub fn workers(&self) -> Vec<i32> {
        super::children(self.pid())
    }

    /// The unix socket the pool listens on.
    pub fn socket(&self) -> String {
        self.root.join("fpm.sock")
    }

    /// `ROOT/www`, the scripts' directory.
    pub fn www(&self) -> String {
        self.root.join("www")
    }

    /// A path in the temp dir, as a string.
    pub fn path(&self, rel: &str) -> String {
        self.root.join(rel)
    }

    /// The master's error log (with catch_workers_output, what the workers said too).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/fpm.log")).unwrap_or_default()
    }

    /// The pool file (references to `chroot`, `php_admin_value` point here).
    pub fn conf(&self) -> String {
        self.root.join("fpm.conf")
    }
}

impl Drop for Fpm {
    fn drop(&mut self) {
        // SIGTERM: php-fpm's fast shutdown (the master stops its workers and exits); then
        // whatever is left of the group is killed, so no worker outlives the test.
        let master = self.pid();
        let workers = self.workers();
        super::stop_server(&mut self.child);
        for w in workers {
            // Only a worker of this master's group still there (not a recycled PID).
            let group = std::fs::read_to_string(format!("/proc/{w}/stat"))
                .ok()
                .and_then(|s| {
                    let after = s.get(s.rfind(')')? + 2..)?.to_string();
                    after.split_whitespace().nth(2)?.parse::<i32>().ok()
                });
            if group == Some(master) {
                super::send_signal(w, libc::SIGKILL);
            }
        }
        let _ = std::fs::remove_file(self.socket());
    }
}

/// The body of a `location ~ \.php$` that passes to `fpm`: with `root ROOT;` when `root` is
/// given; SCRIPT_FILENAME as the usual snippets set it (`$document_root$fastcgi_script_name`;
/// Debian's fastcgi_params does not set it, its fastcgi.conf does).
pub fn php_location(fpm: &Fpm, root: Option<&str>) -> String {
    let root = root.map(|r| format!("root {r};\n")).unwrap_or_default();
    format!(
        "{root}include /etc/nginx/fastcgi_params;\n\
         fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\
         fastcgi_pass unix:{};\n",
        fpm.socket()
    )
}

/// A private nginx (master and one worker, `user www-data;`) in front of a pool.
pub struct FpmNginx {
    pub root: TempDir,
    pub port: u16,
    child: Child,
}

impl FpmNginx {
    /// The usual site: `root FPM/www;` at the server level, a PHP location that passes to
    /// `fpm` with that root.
    pub fn start(fpm: &Fpm) -> FpmNginx {
        let site = format!(
            "root {};\nlocation ~ \\.php$ {{\n{}}}\n",
            fpm.www(),
            php_location(fpm, None)
        );
        Self::with_server(&site)
    }

    /// The server block's body (after `listen`): `@ROOT@` is nginx's temp dir (its prefix).
    /// It goes to `ROOT/conf.d/site.conf`, one directive a line as written.
    pub fn with_server(body: &str) -> FpmNginx {
        assert!(
            Path::new("/usr/sbin/nginx").exists(),
            "nginx is not installed: scripts/test.sh installs it"
        );
        let root = TempDir::new("fpm-nginx");
        chmod(root.path(), 0o755);
        for d in ["logs", "conf.d", "tmp", "html"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
            chmod(&root.path().join(d), 0o755);
        }
        // As Debian's /usr/share/nginx/html: the prefix's default root holds a page.
        std::fs::write(root.path().join("html/index.html"), "Welcome to nginx!\n").unwrap();
        let r = root.path().to_str().unwrap().to_string();
        let port = super::free_port();
        let conf = format!(
            "# A throwaway nginx in front of php-fpm: everything under {r} (also its prefix, -p).\n\
             daemon off;\n\
             user www-data;\n\
             worker_processes 1;\n\
             pid {r}/nginx.pid;\n\
             error_log {r}/logs/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             \x20   access_log {r}/logs/access.log;\n\
             \x20   client_body_temp_path {r}/tmp/body;\n\
             \x20   proxy_temp_path {r}/tmp/proxy;\n\
             \x20   fastcgi_temp_path {r}/tmp/fastcgi;\n\
             \x20   uwsgi_temp_path {r}/tmp/uwsgi;\n\
             \x20   scgi_temp_path {r}/tmp/scgi;\n\
             \x20   include {r}/conf.d/*.conf;\n\
             }}\n"
        );
        std::fs::write(root.path().join("nginx.conf"), conf).unwrap();
        let site = format!(
            "server {{\n    listen 127.0.0.1:{port};\n{}}}\n",
            indent(&body.replace("@ROOT@", &r))
        );
        std::fs::write(root.path().join("conf.d/site.conf"), site).unwrap();
        let child = Command::new("/usr/sbin/nginx")
            .arg("-c")
            .arg(root.path().join("nginx.conf"))
            // The prefix: relative paths in the configuration, and the default `root html`
            // of a location without one, resolve under it.
            .arg("-p")
            .arg(format!("{r}/"))
            .arg("-e")
            .arg(root.path().join("logs/error.log"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let n = FpmNginx { root, port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() || n.workers().is_empty() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                n.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn workers(&self) -> Vec<i32> {
        super::children(self.pid())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/error.log")).unwrap_or_default()
    }

    /// The file holding the server block (references to `root` point here).
    pub fn site_conf(&self) -> String {
        self.root.join("conf.d/site.conf")
    }

    /// nginx's default root, `html` under its prefix: what a location without `root` serves.
    pub fn default_root(&self) -> String {
        self.root.join("html")
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        get(self.port, path)
    }
}

impl Drop for FpmNginx {
    fn drop(&mut self) {
        super::stop_server(&mut self.child);
    }
}

/// How Apache hands `.php` to the pool.
pub enum ApacheFcgi<'a> {
    /// `ProxyPassMatch "^/(.*\.php)$" "unix:SOCK|fcgi://localhost/DIR/$1"`, DIR as given
    /// (`@FPM@` is the pool's temp dir).
    ProxyPassMatch(&'a str),
    /// DocumentRoot FPM/www and `<FilesMatch "\.php$"> SetHandler "proxy:unix:SOCK|fcgi://localhost"`.
    SetHandler,
}

/// A private prefork Apache (tests/common/apache.rs) with mod_proxy and mod_proxy_fcgi in
/// front of `fpm`. Its configuration is `apache.root/httpd.conf`, these lines at its end.
pub fn apache_fcgi(fpm: &Fpm, how: ApacheFcgi) -> Apache {
    for m in [MOD_PROXY, MOD_PROXY_FCGI] {
        assert!(
            Path::new(m).exists(),
            "{m} is missing (apache2 installs it)"
        );
    }
    let sock = fpm.socket();
    let www = fpm.www();
    let handler = match how {
        ApacheFcgi::ProxyPassMatch(dir) => format!(
            "ProxyPassMatch \"^/(.*\\.php)$\" \"unix:{sock}|fcgi://localhost{}/$1\"\n",
            dir.replace("@FPM@", fpm.root.path().to_str().unwrap())
        ),
        ApacheFcgi::SetHandler => format!(
            "DocumentRoot \"{www}\"\n\
             <Directory \"{www}\">\n    Require all granted\n</Directory>\n\
             <FilesMatch \"\\.php$\">\n    SetHandler \"proxy:unix:{sock}|fcgi://localhost\"\n</FilesMatch>\n"
        ),
    };
    let extra = format!(
        "\n# PHP through php-fpm (tests/common/fpm.rs).\n\
         LoadModule proxy_module {MOD_PROXY}\n\
         LoadModule proxy_fcgi_module {MOD_PROXY_FCGI}\n\
         {handler}"
    );
    Apache::start_with("prefork", &extra)
}

/// One HTTP/1.0 GET to 127.0.0.1:PORT (so the body is not chunked): status and body.
pub fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
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

/// `chown OWNER PATH` (OWNER as chown takes it: `root:www-data`).
pub fn chown(p: &str, owner: &str) {
    let out = Command::new("chown").args([owner, p]).output().unwrap();
    assert!(
        out.status.success(),
        "chown {owner} {p}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The directory a process sees as `/` (`/proc/PID/root`): a chrooted worker's jail.
pub fn proc_root(pid: i32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/root")).unwrap()
}

fn indent(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 1;
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with('}') {
            depth -= 1;
        }
        out.push_str(&"    ".repeat(depth));
        out.push_str(l);
        out.push('\n');
        if l.ends_with('{') {
            depth += 1;
        }
    }
    out
}
