//! Why a worker could not reach a path: turns EACCES, EPERM, ENOTDIR, ELOOP and ENOENT into
//! [`Hint`]s naming the directory, file, symlink or gatekeeper responsible. This file owns the
//! entry point ([`explain`], dispatching on the errno), the access wanted ([`Want`]) and the
//! small readers the others share; the worker's identity is in creds.rs, the bounded path
//! walk in walk.rs, mode bits and ACLs in access.rs, the other gatekeepers (SELinux, AppArmor,
//! systemd sandboxing, immutable files, noexec mounts) in sandbox.rs. Reads the file system
//! (and, through procinfo, /proc), never writes; paths are bytes throughout.

mod access;
mod creds;
mod sandbox;
mod walk;

use std::ffi::CString;

use super::hint::{FileKind, Hint};
use crate::syscalls::path::as_path;
use walk::{End, walk};

pub use creds::{Creds, creds_of};

/// The access the failed call wanted on the last component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Want {
    Read,
    Write,
    Exec,
    /// Search (x) on a directory: chdir, or the directory as a path prefix.
    Search,
}

impl Want {
    /// The mode bits this access needs (4 r, 2 w, 1 x).
    fn bits(self) -> u32 {
        match self {
            Want::Read => 4,
            Want::Write => 2,
            Want::Exec | Want::Search => 1,
        }
    }
}

/// Longest path examined.
const MAX_PATH: usize = 4096;
/// Cap on xattr values and small /etc or /sys files read.
const MAX_XATTR: usize = 64 * 1024;
const MAX_SMALL_FILE: u64 = 4 * 1024 * 1024;

/// Hints explaining why `path` (absolute) failed with `errno` for a worker with `creds`
/// (read from /proc when `None` and `pid` is given) wanting `want`. Empty for other errnos and
/// relative paths. Never panics; every look is bounded.
pub fn explain(
    path: &[u8],
    errno: i32,
    creds: Option<&Creds>,
    want: Want,
    pid: Option<i32>,
) -> Vec<Hint> {
    if path.first() != Some(&b'/') || path.len() > MAX_PATH || path.contains(&0) {
        return Vec::new();
    }
    match errno {
        libc::EACCES | libc::EPERM => {
            let creds = creds.cloned().or_else(|| pid.and_then(creds_of));
            access::explain_denied(path, errno, creds.as_ref(), want, pid)
        }
        libc::ENOTDIR => explain_notdir(path),
        libc::ELOOP => explain_loop(path),
        libc::ENOENT => explain_missing(path, want, pid),
        _ => Vec::new(),
    }
}

fn explain_notdir(path: &[u8]) -> Vec<Hint> {
    let w = walk(path);
    match &w.end {
        End::Found { path: p, meta } if !meta.is_dir() => vec![Hint::NeedsDirectory {
            path: p.clone(),
            kind: FileKind::of(meta),
            links: w.links.clone(),
        }],
        _ => w.fallback(),
    }
}

fn explain_loop(path: &[u8]) -> Vec<Hint> {
    let w = walk(path);
    match &w.end {
        End::Found { .. } => {
            // Resolves fine: the caller must have refused to follow a final symlink.
            match std::fs::symlink_metadata(as_path(path)) {
                Ok(m) if m.file_type().is_symlink() => vec![Hint::NoFollow {
                    link: path.to_vec(),
                    target: std::fs::read_link(as_path(path))
                        .ok()
                        .map(|t| t.into_os_string().into_encoded_bytes()),
                }],
                _ => vec![Hint::NoLoopNow {
                    path: path.to_vec(),
                }],
            }
        }
        _ => w.fallback(),
    }
}

fn explain_missing(path: &[u8], want: Want, pid: Option<i32>) -> Vec<Hint> {
    let w = walk(path);
    match &w.end {
        End::Found { path: real, .. } => {
            let mut out = vec![Hint::ExistsNow {
                path: path.to_vec(),
            }];
            if let Some(pid) = pid {
                if let Some(root) = crate::procinfo::root(pid)
                    && root != b"/"
                {
                    out.push(Hint::Chrooted { root });
                }
                out.extend(sandbox::sandbox_of_pid(pid, real, want));
            }
            out
        }
        _ => w.fallback(),
    }
}

// ---------------------------------------------------------------------------------------------
// Small readers

fn read_small(path: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(MAX_SMALL_FILE).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// A label as text: up to its first NUL, lossy UTF-8.
fn label_text(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// An extended attribute of `path` (following symlinks), at most 64 KiB.
fn read_xattr(path: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let p = CString::new(path).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: valid NUL-terminated strings; buf is writable for buf.len() bytes.
        let r =
            unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            buf.truncate(r as usize);
            return Some(buf);
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::ERANGE)
            || buf.len() >= MAX_XATTR
        {
            return None;
        }
        buf.resize(MAX_XATTR, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::access::{ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER, ACL_USER, ACL_USER_OBJ};
    use super::*;
    use crate::diagnose::testdir::TempDir;
    use std::os::unix::fs::PermissionsExt;

    /// The hints as the printers show them.
    fn explain(
        path: &[u8],
        errno: i32,
        creds: Option<&Creds>,
        want: Want,
        pid: Option<i32>,
    ) -> Vec<String> {
        super::explain(path, errno, creds, want, pid)
            .iter()
            .map(crate::output::explain::hint)
            .collect()
    }

    fn user_name(uid: u32) -> String {
        creds::user(uid).name.unwrap_or_else(|| uid.to_string())
    }

    fn group_name(gid: u32) -> String {
        creds::group(gid).name.unwrap_or_else(|| gid.to_string())
    }

    fn www() -> Creds {
        Creds {
            uid: 33,
            gid: 33,
            groups: vec![33],
        }
    }

    #[test]
    fn directory_that_cannot_be_searched() {
        let t = TempDir::new("search");
        t.dir("www/private", 0o700);
        t.file("www/private/report.html", 0o644);
        let hints = explain(
            &t.b("www/private/report.html"),
            libc::EACCES,
            Some(&www()),
            Want::Read,
            None,
        );
        assert_eq!(hints.len(), 1, "{hints:?}");
        let owner = format!(
            "{}:{}",
            user_name(unsafe { libc::geteuid() }),
            group_name(unsafe { libc::getegid() })
        );
        assert_eq!(
            hints[0],
            format!(
                "{} is 0700 {owner}: {} (33) cannot search it",
                t.s("www/private"),
                user_name(33)
            )
        );
    }

    #[test]
    fn file_that_cannot_be_read() {
        let t = TempDir::new("file");
        t.dir("www", 0o755);
        t.file("www/report.html", 0o600);
        let hints = explain(
            &t.b("www/report.html"),
            libc::EACCES,
            Some(&www()),
            Want::Read,
            None,
        );
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(hints[0].starts_with(&format!("{} is 0600 ", t.s("www/report.html"))));
        assert!(hints[0].contains("workers run as") && hints[0].contains("(33)"));
        assert!(hints[0].ends_with("may not read it"));
        // Group membership grants it.
        let member = Creds {
            uid: 33,
            gid: 33,
            groups: vec![33, unsafe { libc::getegid() }],
        };
        std::fs::set_permissions(
            t.p("www/report.html"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        let hints = explain(
            &t.b("www/report.html"),
            libc::EACCES,
            Some(&member),
            Want::Read,
            None,
        );
        assert!(hints[0].starts_with("the mode bits allow"), "{hints:?}");
    }

    #[test]
    fn mode_bits_allow_then_other_gatekeepers() {
        let t = TempDir::new("allow");
        t.file("ok.html", 0o644);
        let hints = explain(
            &t.b("ok.html"),
            libc::EACCES,
            Some(&www()),
            Want::Read,
            None,
        );
        assert_eq!(
            hints[0],
            format!(
                "the mode bits allow {} (33) to read {}",
                user_name(33),
                t.s("ok.html")
            )
        );
        assert!(hints.len() >= 2, "{hints:?}");
        // Writing is not allowed by 0644 for others.
        let hints = explain(
            &t.b("ok.html"),
            libc::EACCES,
            Some(&www()),
            Want::Write,
            None,
        );
        assert!(hints[0].ends_with("may not write it"), "{hints:?}");
        // Root may read anything but not execute a file without x bits.
        let root = Creds {
            uid: 0,
            gid: 0,
            groups: vec![],
        };
        let hints = explain(&t.b("ok.html"), libc::EACCES, Some(&root), Want::Exec, None);
        assert!(hints[0].contains("not even root"), "{hints:?}");
        let hints = explain(&t.b("ok.html"), libc::EACCES, Some(&root), Want::Read, None);
        assert!(hints[0].starts_with("the mode bits allow"), "{hints:?}");
        // Executing a directory.
        let hints = explain(&t.b(""), libc::EACCES, Some(&www()), Want::Exec, None);
        assert!(
            hints[0].contains("a directory, which cannot be executed"),
            "{hints:?}"
        );
    }

    #[test]
    fn creating_in_a_read_only_directory() {
        let t = TempDir::new("create");
        t.dir("uploads", 0o755);
        let hints = explain(
            &t.b("uploads/new.jpg"),
            libc::EACCES,
            Some(&www()),
            Want::Write,
            None,
        );
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(hints[0].starts_with(&format!("{} is 0755 ", t.s("uploads"))));
        assert!(hints[0].ends_with("(33) cannot create new.jpg in it"));
    }

    #[test]
    fn posix_acl_is_evaluated() {
        let t = TempDir::new("acl");
        t.file("f", 0o644);
        // user::rw- user:33:--- group::r-- mask::r-- other::r--
        let mut v = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in [
            (ACL_USER_OBJ, 6u16, u32::MAX),
            (ACL_USER, 0, 33),
            (ACL_GROUP_OBJ, 4, u32::MAX),
            (ACL_MASK, 4, u32::MAX),
            (ACL_OTHER, 4, u32::MAX),
        ] {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&perm.to_le_bytes());
            v.extend_from_slice(&id.to_le_bytes());
        }
        let p = CString::new(t.b("f")).unwrap();
        let n = CString::new("system.posix_acl_access").unwrap();
        // SAFETY: valid strings and buffer.
        let r = unsafe { libc::setxattr(p.as_ptr(), n.as_ptr(), v.as_ptr().cast(), v.len(), 0) };
        if r != 0 {
            eprintln!(
                "no POSIX ACL support here: {}",
                std::io::Error::last_os_error()
            );
            return;
        }
        let hints = explain(&t.b("f"), libc::EACCES, Some(&www()), Want::Read, None);
        assert!(hints[0].contains("POSIX ACL that denies"), "{hints:?}");
        let other = Creds {
            uid: 34,
            gid: 34,
            groups: vec![],
        };
        let hints = explain(&t.b("f"), libc::EACCES, Some(&other), Want::Read, None);
        assert!(
            hints[0].starts_with("the mode bits and POSIX ACL allow"),
            "{hints:?}"
        );
    }

    #[test]
    fn not_a_directory() {
        let t = TempDir::new("notdir");
        t.file("index.php", 0o644);
        let hints = explain(&t.b("index.php/x"), libc::ENOTDIR, None, Want::Read, None);
        assert_eq!(
            hints,
            vec![format!(
                "{} is a regular file, not a directory",
                t.s("index.php")
            )]
        );
        let hints = explain(&t.b("index.php/"), libc::ENOTDIR, None, Want::Read, None);
        assert_eq!(
            hints,
            vec![format!(
                "{} is a regular file, not a directory",
                t.s("index.php")
            )]
        );
    }

    #[test]
    fn symlink_loops() {
        let t = TempDir::new("loop");
        std::os::unix::fs::symlink("b", t.p("a")).unwrap();
        std::os::unix::fs::symlink("a", t.p("b")).unwrap();
        let hints = explain(&t.b("a/x"), libc::ELOOP, None, Want::Read, None);
        assert_eq!(
            hints,
            vec![format!(
                "{} is a symlink loop: {} → b → a",
                t.s("a"),
                t.s("a")
            )]
        );
        std::os::unix::fs::symlink("self", t.p("self")).unwrap();
        let hints = explain(&t.b("self"), libc::ELOOP, None, Want::Read, None);
        assert_eq!(hints.len(), 1);
        assert!(hints[0].contains("symlink loop"), "{hints:?}");
        // A link that resolves fine: O_NOFOLLOW.
        t.file("real", 0o644);
        std::os::unix::fs::symlink("real", t.p("link")).unwrap();
        let hints = explain(&t.b("link"), libc::ELOOP, None, Want::Read, None);
        assert!(hints[0].contains("O_NOFOLLOW"), "{hints:?}");
        // EACCES through a loop does not hang either.
        let hints = explain(&t.b("a/x"), libc::EACCES, Some(&www()), Want::Read, None);
        assert!(hints[0].contains("symlink loop"), "{hints:?}");
    }

    #[test]
    fn missing_and_dangling() {
        let t = TempDir::new("missing");
        t.dir("srv/www", 0o755);
        t.dir("srv/releases", 0o755);
        std::os::unix::fs::symlink(t.p("srv/releases/42"), t.p("srv/www/current")).unwrap();
        let hints = explain(
            &t.b("srv/www/current/index.php"),
            libc::ENOENT,
            None,
            Want::Read,
            None,
        );
        assert_eq!(
            hints,
            vec![format!(
                "{} is a symlink to {}, which does not exist",
                t.s("srv/www/current"),
                t.s("srv/releases/42")
            )]
        );
        let hints = explain(
            &t.b("srv/www/img/a.png"),
            libc::ENOENT,
            None,
            Want::Read,
            None,
        );
        assert_eq!(
            hints,
            vec![format!("{} does not exist", t.s("srv/www/img"))]
        );
        // Relative dangling link whose parent is missing too.
        std::os::unix::fs::symlink("../nope/x", t.p("srv/www/rel")).unwrap();
        let hints = explain(&t.b("srv/www/rel"), libc::ENOENT, None, Want::Read, None);
        assert_eq!(
            hints,
            vec![format!(
                "{} is a symlink to ../nope/x, which does not exist ({} is missing)",
                t.s("srv/www/rel"),
                t.s("srv/nope")
            )]
        );
        // Exists for us (no pid to compare with).
        t.file("srv/www/here", 0o644);
        let hints = explain(&t.b("srv/www/here"), libc::ENOENT, None, Want::Read, None);
        assert!(hints[0].contains("exists now for reqtrace"), "{hints:?}");
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for p in [
            &b""[..],
            b"relative",
            b"/",
            b"/\xff\xfe/x",
            b"/a\0b",
            b"/proc/self/fd/999999/x",
            b"////",
            b"/..",
            b"/../../etc/passwd/x",
        ] {
            for errno in [
                libc::EACCES,
                libc::EPERM,
                libc::ENOTDIR,
                libc::ELOOP,
                libc::ENOENT,
                0,
                -1,
            ] {
                for want in [Want::Read, Want::Write, Want::Exec, Want::Search] {
                    let _ = explain(
                        p,
                        errno,
                        Some(&www()),
                        want,
                        Some(std::process::id() as i32),
                    );
                    let _ = explain(p, errno, None, want, Some(-1));
                }
            }
        }
        let mut long = b"/".to_vec();
        long.extend(std::iter::repeat_n(b'a', 100_000));
        assert!(explain(&long, libc::ENOENT, None, Want::Read, None).is_empty());
        assert_eq!(
            explain(b"/etc/passwd/x", libc::ENOTDIR, None, Want::Read, None),
            vec!["/etc/passwd is a regular file, not a directory".to_string()]
        );
    }
}
