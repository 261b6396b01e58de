//! A throwaway nginx for the tests: its own config (tests/nginx/nginx.conf.in), port, root,
//! logs and temp paths in a temp dir, in the foreground, stopped on drop.
#![allow(dead_code)]

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

pub struct Nginx {
    pub root: TempDir,
    pub port: u16,
    child: Child,
}

impl Nginx {
    /// Start nginx (master and two workers) serving `www/` with the site's typos: `index
    /// index.htm` where index.html exists, a try_files fallback to the misspelt /app/main.htm.
    pub fn start() -> Nginx {
        Self::start_site(None)
    }

    /// Like `start`, with this text (`@ROOT@`, `@PORT@` replaced) as the site's configuration
    /// instead of tests/nginx/site.conf.in.
    pub fn start_with_site(site: &str) -> Nginx {
        Self::start_site(Some(site))
    }

    fn start_site(site: Option<&str>) -> Nginx {
        assert!(
            std::path::Path::new("/usr/sbin/nginx").exists(),
            "nginx is not installed: scripts/test.sh installs it"
        );
        let root = TempDir::new("nginx");
        for d in ["logs", "www/app", "conf.d", "tmp"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        let here = env!("CARGO_MANIFEST_DIR");
        let port = super::free_port();
        let r = root.path().to_str().unwrap();
        for (src, dst) in [
            ("nginx.conf.in", "nginx.conf"),
            ("site.conf.in", "conf.d/site.conf"),
        ] {
            let text = match site {
                Some(text) if dst == "conf.d/site.conf" => text.to_string(),
                _ => std::fs::read_to_string(format!("{here}/tests/nginx/{src}")).unwrap(),
            }
            .replace("@ROOT@", r)
            .replace("@PORT@", &port.to_string());
            std::fs::write(root.path().join(dst), text).unwrap();
        }
        for (f, body) in [
            ("www/index.html", "home\n"),
            ("www/hello.html", "hello\n"),
            ("www/app/main.html", "app\n"),
        ] {
            std::fs::write(root.path().join(f), body).unwrap();
        }
        let child = Command::new("/usr/sbin/nginx")
            .arg("-c")
            .arg(root.path().join("nginx.conf"))
            .arg("-p")
            .arg(root.path())
            // Before reading its configuration nginx opens its compiled-in error log; -e
            // points that at the temp dir too.
            .arg("-e")
            .arg(root.path().join("logs/error.log"))
            // Its own process group, like the test Apache: signals meant for it stay there.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let n = Nginx { root, port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() || n.workers().len() < 2 {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(n.root.path().join("logs/error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
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
}

impl Drop for Nginx {
    fn drop(&mut self) {
        super::stop_server(&mut self.child);
    }
}
