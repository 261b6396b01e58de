//! Symbolic links the server refused, and a request's notes. A request's notes say what explains
//! a failed request that no failing file call does; today a 403 only: a symbolic link the URL
//! names that Apache found and refused itself, else the server refusing by itself (an access
//! rule, a directory without index and listing). A suspect's [`Hint::SymlinkRefused`] says
//! which link a call refused to follow and the configuration line behind it (nginx's
//! `disable_symlinks`, [`symlink_refused`]). Notes and hints are data; output/explain.rs
//! words them.

use super::config::ConfigLine;
use super::hint::{ConfigRef, Hint, Note};
use super::rooted::Rooted;
use super::{Recorded, Suspect, rank};
use crate::http::correlate::Request;

/// The notes for a finished `request` whose suspects are `suspects`. Symbolic links are
/// looked at only live (`root` is `/`); offline, what the recording noted is kept.
pub(super) fn notes(
    request: &Request,
    suspects: &[Suspect],
    root: Option<&Rooted>,
    recorded: Option<&Recorded>,
) -> Vec<Note> {
    let mut notes = if suspects.iter().all(|s| s.noise) && request.status == Some(403) {
        match (root, recorded) {
            (Some(root), _) if root.is_slash() => symlink_notes(request),
            (_, Some(rec)) => rec.notes.clone(),
            _ => Vec::new(),
        }
    } else {
        Vec::new()
    };
    // A 403 that no refused file call explains: the server refused by itself. Missing files
    // are no reason for a 403 unless the URL named a directory none of whose index files
    // exist. A refused symlink is one (nginx answers an ELOOP under disable_symlinks with 403),
    // and so is a dangling one (Apache's AH00037, "link target not accessible", is a 403).
    if request.status == Some(403)
        && notes.is_empty()
        && !suspects.iter().any(|s| {
            !s.noise
                && (matches!(s.errno, libc::EACCES | libc::EPERM)
                    || s.hints.iter().any(|h| {
                        matches!(h, Hint::SymlinkRefused { .. } | Hint::DanglingLink { .. })
                    }))
        })
    {
        notes.push(Note::ForbiddenByServer);
    }
    notes
}

/// A 403 with no failing syscall: Apache looked a path up, found it, and refused it itself.
/// The usual reason is a symbolic link where Options FollowSymLinks (or
/// SymLinksIfOwnerMatch, with another owner) is off: Apache's AH00037.
fn symlink_notes(request: &Request) -> Vec<Note> {
    let mut notes: Vec<Note> = Vec::new();
    let url = request
        .target
        .as_deref()
        .map(rank::url_path)
        .unwrap_or_default();
    for l in &request.lookups {
        // Only what the URL names (a file or a directory on its way), not the server's own
        // lookups (/etc/localtime for the log's time stamp).
        let name = rank::basename(&l.path);
        if name.is_empty() || !url.windows(name.len()).any(|w| w == name) {
            continue;
        }
        let p = crate::syscalls::path::as_path(&l.path);
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            continue;
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let target = std::fs::read_link(p)
            .map(|t| t.into_os_string().into_encoded_bytes())
            .unwrap_or_default();
        let note = Note::RefusedSymlink {
            path: l.path.clone(),
            target,
        };
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    notes
}

/// The directives [`symlink_refused`] reads: nginx's, and where it serves from.
pub(super) const SYMLINK_DIRECTIVES: &[&str] = &["disable_symlinks", "root", "alias"];

/// For a call that failed on `path` with `errno`, the symbolic link it refused to follow, with
/// the line that told the server to (from `lines`: the configuration's `disable_symlinks`,
/// `root` and `alias` lines, read only when the path is such a link). Replaces the plain
/// [`Hint::NoFollow`] among `hints` (what perms/ says of an ELOOP).
///
/// nginx with `disable_symlinks on` opens each component of a path under its root with
/// `openat(dirfd, name, O_PATH|O_NOFOLLOW|O_DIRECTORY)` and the last one with O_NOFOLLOW. On a
/// symlink the kernel then answers ENOTDIR for a directory on the way (O_NOFOLLOW opens the
/// link itself, which is not a directory) and ELOOP for the last component; nothing else
/// makes an existing link to a directory "not a directory", so an ENOTDIR on such a link is a
/// refusal whether or not the line is found. nginx then answers 404 (ENOTDIR) or 403 (ELOOP).
pub(super) fn symlink_refused(
    path: &[u8],
    errno: i32,
    hints: &mut Vec<Hint>,
    lines: impl FnOnce() -> Vec<ConfigLine>,
) {
    if !matches!(errno, libc::ENOTDIR | libc::ELOOP) {
        return;
    }
    let p = crate::syscalls::path::as_path(path);
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return;
    };
    if !meta.file_type().is_symlink() {
        return;
    }
    // A link to a directory on the way (ENOTDIR), or a final link that resolves (ELOOP).
    match std::fs::metadata(p) {
        Ok(m) if errno == libc::ENOTDIR && m.is_dir() => {}
        Ok(_) if errno == libc::ELOOP => {}
        _ => return,
    }
    let by = refusing_line(path, &lines());
    // An ELOOP without the line says no more than perms/' NoFollow.
    if errno == libc::ELOOP && by.is_none() {
        return;
    }
    let target = std::fs::read_link(p)
        .ok()
        .map(|t| t.into_os_string().into_encoded_bytes());
    hints.retain(|h| !matches!(h, Hint::NoFollow { link, .. } if link == path));
    hints.insert(
        0,
        Hint::SymlinkRefused {
            link: path.to_vec(),
            target,
            by,
        },
    );
}

/// The `disable_symlinks` line (not `off`) that applies to `link`: one in a file whose `root`
/// or `alias` goes through the link or lies under it, else the first.
fn refusing_line(link: &[u8], lines: &[ConfigLine]) -> Option<ConfigRef> {
    let refusing: Vec<&ConfigLine> = lines
        .iter()
        .filter(|l| l.directive == "disable_symlinks" && l.args.first().is_some_and(|a| a != "off"))
        .collect();
    let serves = |l: &ConfigLine| {
        lines.iter().any(|r| {
            r.file == l.file
                && matches!(r.directive.as_str(), "root" | "alias")
                && r.args.first().is_some_and(|a| {
                    let a = a.as_bytes();
                    a.starts_with(link) || link.starts_with(a)
                })
        })
    };
    let line = refusing.iter().find(|l| serves(l)).or(refusing.first())?;
    Some(ConfigRef {
        directive: line.directive.clone(),
        file: line.file.as_os_str().as_encoded_bytes().to_vec(),
        line: line.line,
        text: line.text.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::ServerConfig;
    use crate::diagnose::config::directive_lines;
    use crate::diagnose::testdir::TempDir;

    const NAMES: &[&str] = SYMLINK_DIRECTIVES;

    #[test]
    fn a_release_symlink_refused_by_disable_symlinks() {
        let t = TempDir::new("nofollow");
        t.touch("srv/releases/1/public/index.html");
        std::os::unix::fs::symlink("releases/1", t.p("srv/current")).unwrap();
        t.write(
            "other.conf",
            "server {\n  root /elsewhere;\n  disable_symlinks if_not_owner;\n}\n",
        );
        t.write(
            "site.conf",
            format!(
                "server {{\n  root {}/srv/current/public;\n  disable_symlinks on;\n}}\n",
                t.path().display()
            ),
        );
        let cfg = ServerConfig {
            files: vec![t.p("other.conf"), t.p("site.conf")],
            document_roots: Vec::new(),
            default_root: None,
        };
        let link = t.b("srv/current");
        let mut hints = Vec::new();
        symlink_refused(&link, libc::ENOTDIR, &mut hints, || {
            directive_lines(&cfg, NAMES)
        });
        let by = ConfigRef {
            directive: "disable_symlinks".into(),
            file: t.b("site.conf"),
            line: 3,
            text: "disable_symlinks on;".into(),
        };
        assert_eq!(
            hints,
            [Hint::SymlinkRefused {
                link: link.clone(),
                target: Some(b"releases/1".to_vec()),
                by: Some(by.clone()),
            }]
        );
        // Without the configuration, an ENOTDIR on a link to a directory still is a refusal.
        let mut hints = Vec::new();
        symlink_refused(&link, libc::ENOTDIR, &mut hints, Vec::new);
        assert!(matches!(
            &hints[..],
            [Hint::SymlinkRefused { by: None, .. }]
        ));
        // A final link: ELOOP; perms/' NoFollow is replaced.
        std::os::unix::fs::symlink("releases/1/public/index.html", t.p("srv/page.html")).unwrap();
        let page = t.b("srv/page.html");
        let mut hints = vec![Hint::NoFollow {
            link: page.clone(),
            target: None,
        }];
        symlink_refused(&page, libc::ELOOP, &mut hints, || {
            directive_lines(&cfg, NAMES)
        });
        assert!(
            matches!(&hints[..], [Hint::SymlinkRefused { link, by: Some(_), .. }] if *link == page),
            "{hints:?}"
        );
        // Not a symlink, another errno, or `off`: nothing.
        for (p, errno) in [
            (t.b("srv/releases"), libc::ENOTDIR),
            (link.clone(), libc::ENOENT),
        ] {
            let mut hints = Vec::new();
            symlink_refused(&p, errno, &mut hints, || directive_lines(&cfg, NAMES));
            assert!(hints.is_empty(), "{hints:?}");
        }
        t.write("off.conf", "disable_symlinks off;\n");
        let off = ServerConfig {
            files: vec![t.p("off.conf")],
            document_roots: Vec::new(),
            default_root: None,
        };
        let mut hints = Vec::new();
        symlink_refused(&page, libc::ELOOP, &mut hints, || {
            directive_lines(&off, NAMES)
        });
        assert!(hints.is_empty(), "{hints:?}");
    }
}
