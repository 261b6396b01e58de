//! The prose of hints and notes: every sentence the diagnosis's [`Hint`]s and [`Note`]s stand
//! for, worded here once for every printer (the human report and the JSON `hints` and `notes`
//! arrays print the same sentences). Paths are shown as lossy UTF-8; the printers escape what
//! they must.

use crate::diagnose::Note;
use crate::diagnose::hint::{FileKind, Hint, Id, Link, Mode, ProtectSystem};
use crate::diagnose::perms::Want;

/// Links shown at most in a "(via a → b, …)" note.
const SHOWN_LINKS: usize = 4;

/// What a 403 that no refused file call explains is noted with.
const FORBIDDEN_BY_SERVER: &str = "no file call was refused permission: the server refused \
     by itself, by an access rule (Require, Deny, an .htaccess) or because a directory has \
     none of its index files and listing is off; its error log says which (Apache, at level \
     error, which the default LogLevel warn shows: AH01630 or AH01797 for a rule, AH01276 for \
     a directory; nginx: \"access forbidden by rule\" or \"directory index ... is \
     forbidden\")";

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A user's or group's name, else its number.
fn name(id: &Id) -> String {
    id.name.clone().unwrap_or_else(|| id.id.to_string())
}

/// "www-data (33)"
fn who(id: &Id) -> String {
    format!("{} ({})", name(id), id.id)
}

/// "0700 root:root"
fn mode_owner(m: &Mode) -> String {
    format!("{:04o} {}:{}", m.bits, name(&m.user), name(&m.group))
}

fn kind(k: FileKind) -> &'static str {
    match k {
        FileKind::RegularFile => "a regular file",
        FileKind::Directory => "a directory",
        FileKind::Symlink => "a symlink",
        FileKind::Fifo => "a FIFO",
        FileKind::Socket => "a socket",
        FileKind::CharDevice => "a character device",
        FileKind::BlockDevice => "a block device",
        FileKind::Other => "not a directory",
    }
}

fn verb(w: Want) -> &'static str {
    match w {
        Want::Read => "read",
        Want::Write => "write",
        Want::Exec => "execute",
        Want::Search => "search",
    }
}

/// " (via a → b, c → d)", or nothing without links.
fn via(links: &[Link]) -> String {
    if links.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = links
        .iter()
        .take(SHOWN_LINKS)
        .map(|l| format!("{} → {}", show(&l.at), show(&l.target)))
        .collect();
    format!(" (via {})", parts.join(", "))
}

/// The sentence a hint stands for.
pub fn hint(h: &Hint) -> String {
    match h {
        Hint::Missing { path, links } => format!("{} does not exist{}", show(path), via(links)),
        Hint::DanglingLink {
            link,
            target,
            missing,
        } => {
            let mut s = format!(
                "{} is a symlink to {}, which does not exist",
                show(link),
                show(target)
            );
            if let Some(m) = missing {
                s.push_str(&format!(" ({} is missing)", show(m)));
            }
            s
        }
        Hint::ExistsNow { path } => format!(
            "{} exists now for reqtrace: it was created after the call failed, or the \
             worker sees a different file system",
            show(path)
        ),
        Hint::Chrooted { root } => format!(
            "the process is chrooted to {}: the paths it names are found under {} here",
            show(root),
            show(root)
        ),
        Hint::DefaultRoot { root } => format!(
            "no root in effect for this location: nginx's default root {} was used (add a \
             root to the location or its server)",
            show(root)
        ),
        Hint::NotDirectory {
            path,
            kind: k,
            links,
        } => format!(
            "{} is {}, not a directory{}",
            show(path),
            kind(*k),
            via(links)
        ),
        Hint::NeedsDirectory {
            path,
            kind: k,
            links,
        } => format!(
            "{} is {}, not a directory, and the call needed a directory (O_DIRECTORY, \
             opendir, chdir or a trailing slash){}",
            show(path),
            kind(*k),
            via(links)
        ),
        Hint::NoFollow { link, target } => format!(
            "{} is a symlink and the call refused to follow it (O_NOFOLLOW); \
             it points to {}",
            show(link),
            target.as_deref().map_or_else(|| "?".to_string(), show)
        ),
        Hint::SymlinkRefused { link, target, by } => format!(
            "{} is a symbolic link{} and the server refused to follow it (O_NOFOLLOW): {}",
            show(link),
            target
                .as_deref()
                .map_or_else(String::new, |t| format!(" (to {})", show(t))),
            match by {
                Some(by) => format!(
                    "{} at {}:{} ({}) forbids following symlinks; point the root at the real \
                     path, or turn it off (or use if_not_owner with the link owned as its target)",
                    by.directive,
                    show(&by.file),
                    by.line,
                    by.text
                ),
                None => "nginx does so under disable_symlinks".to_string(),
            }
        ),
        Hint::GluedTarget { target, path, by } => format!(
            "{} at {}:{} ({}) maps to {} without a trailing slash, so the rest of the URL was \
             glued onto it ({}); end the target with / as the URL prefix does",
            by.directive,
            show(&by.file),
            by.line,
            by.text,
            show(target),
            show(path)
        ),
        Hint::NoLoopNow { path } => format!(
            "{} resolves without a loop now; a symlink on the way may have changed \
             since",
            show(path)
        ),
        Hint::SymlinkLoop { link, chain } => {
            let mut all: Vec<String> = vec![show(link)];
            all.extend(chain.iter().map(|t| show(t)));
            format!("{} is a symlink loop: {}", show(link), all.join(" → "))
        }
        Hint::LinkChainTooLong { link, target, max } => format!(
            "{} → {} starts a chain of more than {max} symlinks",
            show(link),
            show(target)
        ),
        Hint::TooManyLinks => "too many levels of symbolic links".to_string(),
        Hint::CannotExamine { path, errno } => {
            let err = match errno {
                Some(e) => std::io::Error::from_raw_os_error(*e).to_string(),
                None => "cannot stat".to_string(),
            };
            format!("reqtrace could not examine {}: {err}", show(path))
        }
        Hint::CannotSearch { dir, mode, worker } => format!(
            "{} is {}: {} cannot search it",
            show(dir),
            mode_owner(mode),
            who(worker)
        ),
        Hint::ModeDenies {
            path,
            mode,
            worker,
            want,
        } => format!(
            "{} is {}; workers run as {}, which may not {} it",
            show(path),
            mode_owner(mode),
            who(worker),
            verb(*want)
        ),
        Hint::AclDenies {
            path,
            mode,
            worker,
            want,
        } => format!(
            "{} is {} with a POSIX ACL that denies {} {} access (getfacl {})",
            show(path),
            mode_owner(mode),
            who(worker),
            verb(*want),
            show(path)
        ),
        Hint::NotExecutable { path, kind: k } => {
            format!("{} is {}, which cannot be executed", show(path), kind(*k))
        }
        Hint::MissingInterpreter {
            path,
            interpreter,
            shebang,
            crlf,
            meant,
        } => {
            let mut s = if *crlf {
                format!(
                    "{}'s #! line ends with a carriage return (Windows line endings): the \
                     kernel looks for the interpreter \"{}\\r\", which does not exist; remove \
                     the \\r (dos2unix, or sed -i 's/\\r$//')",
                    show(path),
                    show(interpreter)
                )
            } else if *shebang {
                format!(
                    "{}'s #! line names {}, which does not exist (the exec of a script whose \
                     interpreter is missing fails with ENOENT)",
                    show(path),
                    show(interpreter)
                )
            } else {
                format!(
                    "{} needs the program interpreter {}, which does not exist (a program \
                     built for another C library or system)",
                    show(path),
                    show(interpreter)
                )
            };
            if let Some(m) = meant.as_ref().filter(|_| !*crlf) {
                s.push_str(&format!("; did you mean {}?", show(m)));
            }
            s
        }
        Hint::NoExecuteBit { path, mode } => format!(
            "{} is {}: no execute bit is set, so not even root may execute it",
            show(path),
            mode_owner(mode)
        ),
        Hint::ModeAllows {
            path,
            worker,
            want,
            acl,
        } => format!(
            "the mode bits{} allow {} to {} {}",
            if *acl { " and POSIX ACL" } else { "" },
            who(worker),
            verb(*want),
            show(path)
        ),
        Hint::CannotCreate {
            dir,
            mode,
            acl,
            worker,
            name,
        } => format!(
            "{} is {}{}: {} cannot create {} in it",
            show(dir),
            mode_owner(mode),
            if *acl { " with a POSIX ACL" } else { "" },
            who(worker),
            show(name)
        ),
        Hint::MayCreate { path, dir, worker } => format!(
            "{} does not exist, and the mode bits allow {} to create it in {}",
            show(path),
            who(worker),
            show(dir)
        ),
        Hint::CredsUnknown => "the worker's credentials are unknown (no pid, or it is gone)".into(),
        Hint::OwnerAndGroupOnly { dir, mode } => format!(
            "{} is {}: only its owner and group may search it",
            show(dir),
            mode_owner(mode)
        ),
        Hint::ModeIs { path, mode } => format!("{} is {}", show(path), mode_owner(mode)),
        Hint::Immutable { path } => format!(
            "{} is immutable (chattr +i; see lsattr): nobody may change it",
            show(path)
        ),
        Hint::AppendOnly { path } => format!(
            "{} is append-only (chattr +a; see lsattr): it may only be appended to",
            show(path)
        ),
        Hint::Sticky {
            dir,
            mode,
            path,
            owner,
        } => format!(
            "{} is sticky ({}) and {} belongs to {}: only its owner may delete or rename it",
            show(dir),
            mode_owner(mode),
            show(path),
            name(owner)
        ),
        Hint::NoExecMount { path } => {
            format!("{} is on a file system mounted noexec", show(path))
        }
        Hint::Nfs4Acl { path } => format!(
            "{} has an NFSv4 ACL (nfs4_getfacl), which reqtrace does not evaluate",
            show(path)
        ),
        Hint::Selinux {
            permissive,
            path,
            label,
            domain,
        } => format!(
            "SELinux is {}: {} is labelled {}{}; look for an AVC denial (ausearch -m avc -ts recent)",
            if *permissive {
                "enabled but permissive (it logs, it does not deny)"
            } else {
                "enforcing"
            },
            show(path),
            label.as_deref().unwrap_or("(no label)"),
            domain
                .as_ref()
                .map(|d| format!(" and the worker runs as {d}"))
                .unwrap_or_default()
        ),
        Hint::AppArmor { profile } => format!(
            "the worker is confined by AppArmor profile {profile}; look for apparmor=\"DENIED\" \
             in the kernel log (journalctl -k)"
        ),
        Hint::Inaccessible { mount } => format!(
            "{} is made inaccessible to the worker (systemd ProtectHome= or InaccessiblePaths=)",
            show(mount)
        ),
        Hint::PrivateTmp { mount } => {
            let mps = show(mount);
            format!(
                "the worker has its own {mps} (systemd PrivateTmp=yes): files in the host's {mps} \
                 are not visible to it"
            )
        }
        Hint::ProtectHome { mount, read_only } => format!(
            "{} is {} for the worker (systemd ProtectHome=)",
            show(mount),
            if *read_only {
                "read-only"
            } else {
                "an empty tmpfs"
            }
        ),
        Hint::ProtectSystem { mount, level } => format!(
            "{} is read-only for the worker (systemd ProtectSystem={})",
            show(mount),
            match level {
                ProtectSystem::Strict => "strict",
                ProtectSystem::Full => "full",
                ProtectSystem::Yes => "yes",
            }
        ),
        Hint::ReadOnlyMount { mount } => format!(
            "{} is mounted read-only for the worker (systemd ReadOnlyPaths=?)",
            show(mount)
        ),
        Hint::PrivateTmpfs { mount } => format!(
            "{} is a tmpfs only the worker sees (systemd TemporaryFileSystem= or similar)",
            show(mount)
        ),
        Hint::NoOtherGatekeeper { process } => format!(
            "no other gatekeeper found (checked {})",
            if *process {
                "SELinux, ACLs, AppArmor, mount namespace"
            } else {
                "SELinux, ACLs"
            }
        ),
        Hint::Recorded(text) => text.clone(),
    }
}

/// The sentence a note stands for.
pub fn note(n: &Note) -> String {
    match n {
        Note::ForbiddenByServer => FORBIDDEN_BY_SERVER.to_string(),
        Note::RefusedSymlink { path, target } => format!(
            "{} is a symbolic link (to {}) and no lookup failed: Apache refuses \
             symlinks where Options FollowSymLinks is off, or SymLinksIfOwnerMatch and the \
             owners differ (AH00037 in its error log, at level error)",
            show(path),
            show(target)
        ),
        Note::OpenBasedir { path, allowed } => format!(
            "PHP refused {}: it is outside open_basedir ({}), so no file call was made for \
             it (PHP's \"open_basedir restriction in effect\"); add its directory to \
             open_basedir (php_admin_value, .user.ini or the pool) or move the file",
            show(path),
            show(allowed)
        ),
        Note::DeniedReportedAsNotFound { path, errno, user } => format!(
            "php-fpm reports a permission failure as \"not found\" (404, \"Primary script \
             unknown\"): {} failed with {} for the pool's user {}; the file may well exist",
            show(path),
            crate::syscalls::errno::name(*errno).unwrap_or("E?"),
            user.as_ref().map_or_else(|| "(not known)".to_string(), who)
        ),
        Note::Recorded(text) => text.clone(),
    }
}

#[cfg(test)]
#[path = "explain_perms_tests.rs"]
mod perms_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn id(id: u32, name: &str) -> Id {
        Id {
            id,
            name: Some(name.into()),
        }
    }

    fn mode(bits: u32) -> Mode {
        Mode {
            bits,
            user: id(0, "root"),
            group: id(0, "root"),
        }
    }

    /// The sentences below are those the diagnosis printed before hints were data
    /// (docs/json-format.md's example and the old unit tests).
    #[test]
    fn hints_read_as_before() {
        let www = id(33, "www-data");
        let cases: Vec<(Hint, &str)> = vec![
            (
                Hint::ModeDenies {
                    path: b"/tmp/tmp.zap9FJ5bdj/www/private.html".to_vec(),
                    mode: mode(0o600),
                    worker: www.clone(),
                    want: Want::Read,
                },
                "/tmp/tmp.zap9FJ5bdj/www/private.html is 0600 root:root; workers run as \
                 www-data (33), which may not read it",
            ),
            (
                Hint::CannotSearch {
                    dir: b"/srv/www/private".to_vec(),
                    mode: Mode {
                        bits: 0o700,
                        user: id(1000, "alice"),
                        group: Id {
                            id: 4_000_000_001,
                            name: None,
                        },
                    },
                    worker: www.clone(),
                },
                "/srv/www/private is 0700 alice:4000000001: www-data (33) cannot search it",
            ),
            (
                Hint::AclDenies {
                    path: b"/srv/f".to_vec(),
                    mode: mode(0o644),
                    worker: www.clone(),
                    want: Want::Search,
                },
                "/srv/f is 0644 root:root with a POSIX ACL that denies www-data (33) search \
                 access (getfacl /srv/f)",
            ),
            (
                Hint::ModeAllows {
                    path: b"/srv/ok.html".to_vec(),
                    worker: www.clone(),
                    want: Want::Read,
                    acl: true,
                },
                "the mode bits and POSIX ACL allow www-data (33) to read /srv/ok.html",
            ),
            (
                Hint::CannotCreate {
                    dir: b"/srv/uploads".to_vec(),
                    mode: mode(0o755),
                    acl: false,
                    worker: www.clone(),
                    name: b"new.jpg".to_vec(),
                },
                "/srv/uploads is 0755 root:root: www-data (33) cannot create new.jpg in it",
            ),
            (
                Hint::NotDirectory {
                    path: b"/etc/passwd".to_vec(),
                    kind: FileKind::RegularFile,
                    links: Vec::new(),
                },
                "/etc/passwd is a regular file, not a directory",
            ),
            (
                Hint::Missing {
                    path: b"/srv/www/img".to_vec(),
                    links: vec![Link {
                        at: b"/srv/www/current".to_vec(),
                        target: b"/srv/releases/42".to_vec(),
                    }],
                },
                "/srv/www/img does not exist (via /srv/www/current → /srv/releases/42)",
            ),
            (
                Hint::DanglingLink {
                    link: b"/srv/www/rel".to_vec(),
                    target: b"../nope/x".to_vec(),
                    missing: Some(b"/srv/nope".to_vec()),
                },
                "/srv/www/rel is a symlink to ../nope/x, which does not exist (/srv/nope is \
                 missing)",
            ),
            (
                Hint::SymlinkLoop {
                    link: b"/t/a".to_vec(),
                    chain: vec![b"b".to_vec(), b"a".to_vec()],
                },
                "/t/a is a symlink loop: /t/a → b → a",
            ),
            (
                Hint::CannotExamine {
                    path: b"/x".to_vec(),
                    errno: Some(libc::EACCES),
                },
                "reqtrace could not examine /x: Permission denied (os error 13)",
            ),
            (
                Hint::ProtectSystem {
                    mount: b"/".to_vec(),
                    level: ProtectSystem::Strict,
                },
                "/ is read-only for the worker (systemd ProtectSystem=strict)",
            ),
            (
                Hint::Selinux {
                    permissive: false,
                    path: b"/srv/x".to_vec(),
                    label: None,
                    domain: Some("system_u:system_r:httpd_t:s0".into()),
                },
                "SELinux is enforcing: /srv/x is labelled (no label) and the worker runs as \
                 system_u:system_r:httpd_t:s0; look for an AVC denial (ausearch -m avc -ts \
                 recent)",
            ),
            (
                Hint::NoOtherGatekeeper { process: false },
                "no other gatekeeper found (checked SELinux, ACLs)",
            ),
            (
                Hint::Recorded("as recorded, \u{1b} and all".into()),
                "as recorded, \u{1b} and all",
            ),
        ];
        for (h, want) in cases {
            assert_eq!(hint(&h), want, "{h:?}");
        }
        // Invalid UTF-8 in a path is shown lossily.
        let h = Hint::ExistsNow {
            path: b"/caf\xe9".to_vec(),
        };
        assert!(hint(&h).starts_with("/caf\u{fffd} exists now for reqtrace: "));
        // Only the first links are listed.
        let links: Vec<Link> = (0..6)
            .map(|i| Link {
                at: format!("/l{i}").into_bytes(),
                target: format!("t{i}").into_bytes(),
            })
            .collect();
        let h = Hint::Missing {
            path: b"/m".to_vec(),
            links,
        };
        assert_eq!(
            hint(&h),
            "/m does not exist (via /l0 → t0, /l1 → t1, /l2 → t2, /l3 → t3)"
        );
    }

    #[test]
    fn notes_read_as_before() {
        assert!(note(&Note::ForbiddenByServer).starts_with(
            "no file call was refused permission: the server refused by itself, by an access \
             rule (Require, Deny, an .htaccess)"
        ));
        assert_eq!(
            note(&Note::RefusedSymlink {
                path: b"/srv/www/sub/link.html".to_vec(),
                target: b"../real.html".to_vec(),
            }),
            "/srv/www/sub/link.html is a symbolic link (to ../real.html) and no lookup failed: \
             Apache refuses symlinks where Options FollowSymLinks is off, or \
             SymLinksIfOwnerMatch and the owners differ (AH00037 in its error log, at level \
             error)"
        );
        assert_eq!(note(&Note::Recorded("kept".into())), "kept");
    }
}
