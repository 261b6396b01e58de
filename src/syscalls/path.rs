//! Turning a path argument into an absolute path, as the kernel would have looked it up at the
//! time of the call: relative paths against the dirfd or the cwd, absolute ones under the
//! tracee's root (after chroot). Purely lexical: `.` and `//` are dropped and `..` removes the
//! previous component, which is what the path means unless a symlink sits before the `..`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `dir` + "/" + `name` (one slash between them), as bytes.
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = dir.to_vec();
    if !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// Path bytes as a `Path`, for std::fs (Linux paths are bytes, not UTF-8).
pub fn as_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// Lexically normalise an absolute path.
pub fn normalize(path: &[u8]) -> Vec<u8> {
    // Most paths a server uses are already in this form: copied as they are, without
    // taking them apart (one call in every decoded file call).
    if is_normal(path) {
        return path.to_vec();
    }
    take_apart(path)
}

/// `normalize` the long way: component by component.
fn take_apart(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in path.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    for p in &parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    if path.ends_with(b"/") && out.len() > 1 {
        // Keep a trailing slash: `FILE/` fails with ENOTDIR where `FILE` would not.
        out.push(b'/');
    }
    out
}

/// Whether `normalize` would return `path` unchanged: absolute, no empty, `.` or `..`
/// component, at most one trailing slash.
fn is_normal(path: &[u8]) -> bool {
    let Some(body) = path.strip_prefix(b"/") else {
        return false;
    };
    if body.is_empty() {
        return true;
    }
    let body = body.strip_suffix(b"/").unwrap_or(body);
    !body.is_empty()
        && body
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// Resolve `raw` against `base` (the dirfd's path or the cwd) and `root` (the tracee's root
/// directory, None or "/" when not chrooted). An empty `raw` (AT_EMPTY_PATH) names `base`
/// itself. Returns None when the base is needed but unknown.
pub fn resolve(raw: &[u8], base: Option<&[u8]>, root: Option<&[u8]>) -> Option<Vec<u8>> {
    if raw.first() == Some(&b'/') {
        let norm = normalize(raw);
        return Some(match root {
            Some(r) if r != b"/" && !r.is_empty() => {
                let mut joined = r.to_vec();
                joined.extend_from_slice(&norm);
                normalize(&joined)
            }
            _ => norm,
        });
    }
    let base = base?;
    if base.first() != Some(&b'/') {
        // The dirfd is not a directory path (socket:[…], anon_inode:…).
        return None;
    }
    if raw.is_empty() {
        return Some(normalize(base));
    }
    let mut joined = base.to_vec();
    joined.push(b'/');
    joined.extend_from_slice(raw);
    Some(normalize(&joined))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The shortcut for paths already in normal form gives what taking them apart gives.
        #[test]
        fn the_shortcut_agrees(p in "(/|[a.]{0,3}){0,8}") {
            prop_assert_eq!(normalize(p.as_bytes()), take_apart(p.as_bytes()));
        }
    }

    use super::*;

    fn r(raw: &str, base: Option<&str>, root: Option<&str>) -> Option<String> {
        resolve(
            raw.as_bytes(),
            base.map(str::as_bytes),
            root.map(str::as_bytes),
        )
        .map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn absolute_paths_are_normalised() {
        assert_eq!(
            r("/srv/www/./header.phpp", None, None).as_deref(),
            Some("/srv/www/header.phpp")
        );
        assert_eq!(r("//a//b/../c", None, None).as_deref(), Some("/a/c"));
        assert_eq!(r("/", None, None).as_deref(), Some("/"));
        assert_eq!(r("/../..", None, None).as_deref(), Some("/"));
    }

    #[test]
    fn relative_paths_use_the_base() {
        assert_eq!(
            r("rel.txt", Some("/tmp/d/sub"), None).as_deref(),
            Some("/tmp/d/sub/rel.txt")
        );
        assert_eq!(r("../x", Some("/tmp/d"), None).as_deref(), Some("/tmp/x"));
        assert_eq!(r("x", None, None), None);
        assert_eq!(r("x", Some("socket:[12]"), None), None);
        assert_eq!(r("", Some("/etc"), None).as_deref(), Some("/etc"));
    }

    #[test]
    fn chroot_prefixes_absolute_paths() {
        assert_eq!(
            r("/etc/passwd", None, Some("/srv/jail")).as_deref(),
            Some("/srv/jail/etc/passwd")
        );
        assert_eq!(r("/etc", None, Some("/")).as_deref(), Some("/etc"));
    }

    #[test]
    fn trailing_slash_is_kept() {
        assert_eq!(
            r("/srv/www/index.php/", None, None).as_deref(),
            Some("/srv/www/index.php/")
        );
    }
}
