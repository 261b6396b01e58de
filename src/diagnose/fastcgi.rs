//! A request served through FastCGI, seen from the backend's side: a php-fpm worker's failing
//! calls are in the web server's request (the correlator puts them there, each with its pid),
//! and each is explained as that process sees it. Its root ([`chroot_of`]: a pool's `chroot`
//! makes every path it names relative to the jail), its configuration merged into the web
//! server's for the reference search ([`merged`]), "not found" said for a permission failure
//! ([`not_found_notes`]), and nginx's default root where a location has none
//! ([`default_root`]).

use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use super::Suspect;
use super::config::{ConfigLine, ServerConfig};
use super::hint::{Hint, Id, Note};
use super::rooted::Rooted;
use crate::http::correlate::Request;

/// What php-fpm says when it cannot open the script: for ENOENT, and for EACCES too.
const PRIMARY_SCRIPT_UNKNOWN: &[u8] = b"Primary script unknown";

/// Whether a process's command name is php-fpm's (`php-fpm8.2`, `php-fpm`).
pub(super) fn is_fpm(comm: Option<&str>) -> bool {
    comm.is_some_and(|c| c.starts_with("php-fpm"))
}

/// The root directory of a live process when it is not `/` (a php-fpm pool with `chroot`):
/// the paths it names are found under it.
pub(super) fn chroot_of(pid: i32) -> Option<Rooted> {
    let root = crate::procinfo::root(pid)?;
    (root != b"/" && root.first() == Some(&b'/'))
        .then(|| Rooted(PathBuf::from(std::ffi::OsString::from_vec(root))))
}

/// The web server's configuration with a backend's files added (each once): a wrong name may
/// be in either (nginx's `root` or `fastcgi_param SCRIPT_FILENAME`, Apache's
/// `ProxyPassMatch`; the pool's `chroot`, `chdir`, `php_admin_value`).
pub(super) fn merged(web: &ServerConfig, backend: &ServerConfig) -> ServerConfig {
    let mut cfg = web.clone();
    for f in &backend.files {
        if !cfg.files.contains(f) {
            cfg.files.push(f.clone());
        }
    }
    for d in &backend.document_roots {
        if !cfg.document_roots.contains(d) {
            cfg.document_roots.push(d.clone());
        }
    }
    cfg
}

/// php-fpm said "not found" while one of its calls was refused permission: a note per such
/// suspect (the first few), with the pool's user (`user_of` the suspect's pid). php-fpm said
/// so when a line logged for the request holds `Primary script unknown` (the web server logs
/// php-fpm's stderr: nginx's `FastCGI sent in stderr`, Apache's AH01071), or when the request
/// ended 404 and the refused call was php-fpm's.
pub(super) fn not_found_notes(
    req: &Request,
    suspects: &[Suspect],
    user_of: &mut dyn FnMut(i32) -> Option<Id>,
) -> Vec<Note> {
    let said = req.logged.iter().any(|l| {
        l.line
            .windows(PRIMARY_SCRIPT_UNKNOWN.len())
            .any(|w| w == PRIMARY_SCRIPT_UNKNOWN)
    });
    suspects
        .iter()
        .filter(|s| !s.noise && matches!(s.errno, libc::EACCES | libc::EPERM))
        .filter(|s| said || (req.status == Some(404) && is_fpm(s.process.as_deref())))
        .take(3)
        .map(|s| Note::DeniedReportedAsNotFound {
            path: s.path.clone(),
            errno: s.errno,
            user: user_of(s.pid),
        })
        .collect()
}

/// The directives [`default_root`] reads.
pub(super) const ROOT_DIRECTIVES: &[&str] = &["root", "alias"];

/// A missing path (`here`, as looked up) under nginx's default root (`cfg.default_root`),
/// which no `root` or `alias` line of the configuration (`lines`) serves from: the location
/// that served it had no `root` in effect, and nginx fell back on `PREFIX/html`. Best effort:
/// relative `root` lines are taken as under the prefix, lines with variables are ignored.
pub(super) fn default_root(
    here: &[u8],
    cfg: &ServerConfig,
    lines: impl FnOnce() -> Vec<ConfigLine>,
) -> Option<Hint> {
    let root = cfg.default_root.as_ref()?;
    let root_b = root.as_os_str().as_encoded_bytes();
    let under = |dir: &[u8], p: &[u8]| {
        let dir = dir.strip_suffix(b"/").unwrap_or(dir);
        p.starts_with(dir) && p.get(dir.len()) == Some(&b'/')
    };
    if !under(root_b, here) {
        return None;
    }
    let prefix = root.parent().map(PathBuf::from).unwrap_or_default();
    let configured = lines().iter().any(|l| {
        l.args.first().is_some_and(|a| {
            let dir = prefix.join(a);
            let dir = dir.as_os_str().as_encoded_bytes();
            !a.contains('$') && (under(dir, here) || under(root_b, dir) || dir == root_b)
        })
    });
    (!configured).then(|| Hint::DefaultRoot {
        root: root_b.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::config::directive_lines;
    use crate::diagnose::testdir::TempDir;
    use crate::event::Logged;

    fn suspect(pid: i32, path: &str, errno: i32, process: Option<&str>) -> Suspect {
        Suspect {
            pid,
            process: process.map(str::to_string),
            syscall: "newfstatat",
            path: path.as_bytes().to_vec(),
            errno,
            count: 1,
            score: 10,
            reason: String::new(),
            did_you_mean: None,
            hints: Vec::new(),
            references: Vec::new(),
            searched: None,
            noise: false,
        }
    }

    fn nobody() -> Option<Id> {
        Some(Id {
            id: 65534,
            name: Some("nobody".into()),
        })
    }

    #[test]
    fn a_permission_failure_php_fpm_called_not_found() {
        let mut req = Request::new(1, 10, 10, 0.0);
        req.status = Some(404);
        let denied = [suspect(
            20,
            "/srv/www/x.php",
            libc::EACCES,
            Some("php-fpm8.2"),
        )];
        let mut user = |pid: i32| (pid == 20).then(nobody).flatten();
        // php-fpm's own 404, its stderr not captured: still said.
        let n = not_found_notes(&req, &denied, &mut user);
        assert_eq!(
            n,
            [Note::DeniedReportedAsNotFound {
                path: b"/srv/www/x.php".to_vec(),
                errno: libc::EACCES,
                user: nobody(),
            }]
        );
        // The web server's own EACCES on a 404 without php-fpm's words: not this note.
        let own = [suspect(10, "/srv/www/x.php", libc::EACCES, Some("nginx"))];
        assert!(not_found_notes(&req, &own, &mut user).is_empty());
        // With the line nginx logged, whoever failed; not for an ENOENT.
        req.logged.push(Logged {
            pid: 10,
            ts: 0.1,
            line: b"2026/12/01 [error] 8#8: *1 FastCGI sent in stderr: \"Primary script unknown\" while reading response header from upstream".to_vec(),
        });
        req.status = Some(200);
        assert_eq!(not_found_notes(&req, &own, &mut user).len(), 1);
        let missing = [suspect(
            20,
            "/srv/www/x.php",
            libc::ENOENT,
            Some("php-fpm8.2"),
        )];
        assert!(not_found_notes(&req, &missing, &mut user).is_empty());
    }

    #[test]
    fn nginx_default_root_when_no_root_serves_the_path() {
        let t = TempDir::new("defroot");
        t.write(
            "nginx.conf",
            "server {\n  location ~ \\.php$ {\n    fastcgi_pass unix:/run/fpm.sock;\n  }\n}\n",
        );
        let mut cfg = ServerConfig {
            files: vec![t.p("nginx.conf")],
            document_roots: Vec::new(),
            default_root: Some(t.p("prefix/html")),
        };
        let lines = |cfg: &ServerConfig| directive_lines(cfg, ROOT_DIRECTIVES);
        let x = t.b("prefix/html/x.php");
        assert_eq!(
            default_root(&x, &cfg, || lines(&cfg)),
            Some(Hint::DefaultRoot {
                root: t.b("prefix/html")
            })
        );
        // Elsewhere: nothing.
        assert_eq!(default_root(&t.b("srv/x.php"), &cfg, || lines(&cfg)), None);
        // A root that serves from there (relative to the prefix, or absolute): nothing.
        for root in ["html", &t.s("prefix/html")] {
            t.write("nginx.conf", format!("server {{\n  root {root};\n}}\n"));
            assert_eq!(default_root(&x, &cfg, || lines(&cfg)), None, "{root}");
        }
        cfg.default_root = None;
        assert_eq!(default_root(&x, &cfg, Vec::new), None);
    }
}
