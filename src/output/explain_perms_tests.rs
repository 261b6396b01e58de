//! The sentences a user reads when the diagnosis explains a refused or missing file: the
//! permission walk of `diagnose::perms` on real files in a temporary directory, rendered by
//! `output::explain`. Here, not in diagnose/, because diagnosis returns data and never depends
//! on the printers.

use crate::diagnose::perms::access::{ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER, ACL_USER, ACL_USER_OBJ};
use crate::diagnose::perms::{Creds, Want, creds};
use crate::diagnose::testdir::TempDir;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;

/// The hints as the printers show them.
fn explain(
    path: &[u8],
    errno: i32,
    creds: Option<&Creds>,
    want: Want,
    pid: Option<i32>,
) -> Vec<String> {
    crate::diagnose::perms::explain(path, errno, creds, want, pid)
        .iter()
        .map(super::hint)
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
