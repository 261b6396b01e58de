//! What a web server's configuration says about where to look ([`ServerConfig`]: its files
//! and document trees), found by the parsers in apache.rs and nginx.rs (and a php-fpm's pool
//! files by fpm.rs), and the helpers they
//! share: admitting a configuration path (include depth, file count, no /proc, /sys or /dev),
//! reading each file once, include globs with shell patterns, and bounded reads of regular
//! files and directories, also used by the reference search (diagnose/search.rs); single
//! directives with their file and line (lines.rs); the FastCGI backends a configuration
//! passes requests to (fastcgi.rs).

pub mod apache;
pub mod fastcgi;
pub mod fpm;
pub mod lines;
pub mod nginx;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub use apache::{apache_config, apache_config_under};
pub use fpm::fpm_config_under;
pub use lines::{ConfigLine, directive_lines};
pub use nginx::nginx_config_under;

/// What a web server's configuration says about where to look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerConfig {
    /// Configuration files, in the order Apache reads them, each once.
    pub files: Vec<PathBuf>,
    /// DocumentRoot values, absolute, each once, in order of appearance.
    pub document_roots: Vec<PathBuf>,
    /// Where the server serves from where no `root` is in effect: nginx's `PREFIX/html`.
    pub default_root: Option<PathBuf>,
}

/// Config files read at most.
pub(crate) const MAX_CONFIG_FILES: usize = 500;
/// Include nesting (and directory-include recursion) at most.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Bytes of one config file read at most.
pub(crate) const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;
/// Entries read from one directory at most.
pub(crate) const MAX_DIR_ENTRIES: usize = 10_000;

/// `Some(root)` unless it is "/" (then paths are used as they are).
pub(crate) fn root_of(root: &Path) -> Option<PathBuf> {
    (root != Path::new("/") && !root.as_os_str().is_empty()).then(|| root.to_path_buf())
}

/// Where an absolute path of the configured machine is found here.
pub(crate) fn local(under: &Option<PathBuf>, p: &Path) -> PathBuf {
    match under {
        Some(r) => {
            let rel = p.strip_prefix("/").unwrap_or(p);
            r.join(rel)
        }
        None => p.to_path_buf(),
    }
}

/// A configuration path worth looking at: within the include depth and file count, existing,
/// and not in /proc, /sys or /dev. Its metadata.
pub(crate) fn admit(path: &Path, depth: usize, cfg: &ServerConfig) -> Option<std::fs::Metadata> {
    if depth > MAX_INCLUDE_DEPTH || cfg.files.len() >= MAX_CONFIG_FILES {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    if std::fs::canonicalize(path).map_or(true, |real| is_pseudo_fs(&real)) {
        return None;
    }
    Some(meta)
}

/// A regular configuration file's bytes, the first time it is met (by device and inode);
/// it is then listed in `cfg.files`.
pub(crate) fn take(
    path: &Path,
    meta: &std::fs::Metadata,
    visited: &mut HashSet<(u64, u64)>,
    cfg: &mut ServerConfig,
) -> Option<Vec<u8>> {
    if !meta.is_file() || !visited.insert((meta.dev(), meta.ino())) {
        return None;
    }
    let data = read_regular(path, MAX_CONFIG_BYTES)?;
    cfg.files.push(absolute(path));
    Some(data)
}

/// Paths matching an absolute pattern with `*`, `?` and `[…]` in any component, as Apache's
/// Include does: intermediate wildcards match directories only, leading dots must be matched
/// explicitly, matches come in name order. Without wildcards, the path itself if it exists.
pub(crate) fn glob(pattern: &Path) -> Vec<PathBuf> {
    let bytes = pattern.as_os_str().as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
        return if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let comps: Vec<&[u8]> = bytes
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let mut current: Vec<PathBuf> = vec![PathBuf::from(if bytes.first() == Some(&b'/') {
        "/"
    } else {
        "."
    })];
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let mut next = Vec::new();
        for dir in &current {
            if !comp.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
                next.push(dir.join(OsStr::from_bytes(comp)));
                continue;
            }
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<Vec<u8>> = rd
                .take(MAX_DIR_ENTRIES)
                .filter_map(|e| Some(e.ok()?.file_name().as_bytes().to_vec()))
                .filter(|n| fnmatch(comp, n))
                .collect();
            names.sort();
            for n in names {
                let p = dir.join(OsStr::from_bytes(&n));
                if last || p.is_dir() {
                    next.push(p);
                }
            }
        }
        next.truncate(MAX_CONFIG_FILES * 2);
        current = next;
        if current.is_empty() {
            break;
        }
    }
    current.retain(|p| p.exists());
    current
}

/// Shell-style match of one name: `*`, `?`, `[a-z]`, `[!…]`/`[^…]`, `\` escapes; a leading
/// dot in the name must be matched by a literal dot (FNM_PERIOD).
fn fnmatch(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pat.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(1),
            Some(b'[') => class_match(&pat[p..], name[n]).unwrap_or((name[n] == b'[').then_some(1)),
            Some(b'\\') if p + 1 < pat.len() => (pat[p + 1] == name[n]).then_some(2),
            Some(&c) => (c == name[n]).then_some(1),
            None => None,
        };
        match step {
            Some(len) => {
                p += len;
                n += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Whether `c` matches the bracket expression at the start of `pat`: `Some(Some(len))` with
/// the pattern bytes consumed, `Some(None)` for no match, `None` when the `[` is not closed
/// (it is then a literal).
fn class_match(pat: &[u8], c: u8) -> Option<Option<usize>> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let b = *pat.get(i)?;
        if b == b']' && !first {
            break;
        }
        first = false;
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|&e| e != b']') {
            let e = pat[i + 2];
            matched |= b <= c && c <= e;
            i += 3;
        } else {
            matched |= b == c;
            i += 1;
        }
    }
    Some((matched != negate).then_some(i + 1))
}

/// Every entry of a directory (up to the cap), sorted, as paths.
pub(crate) fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .take(MAX_DIR_ENTRIES)
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    v.sort();
    v
}

pub(crate) fn base_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

pub(crate) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Whether a canonical absolute path is in /proc, /sys or /dev.
pub(crate) fn is_pseudo_fs(path: &Path) -> bool {
    let mut c = path.components();
    c.next(); // RootDir
    matches!(
        c.next().map(|c| c.as_os_str().as_bytes()),
        Some(b"proc" | b"sys" | b"dev")
    )
}

/// Contents of a regular file of at most `max` bytes; `None` for anything else (a FIFO swapped
/// in cannot block: the open is non-blocking and the type is checked on the open file).
pub(crate) fn read_regular(path: &Path, max: u64) -> Option<Vec<u8>> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() || meta.len() > max {
        return None;
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(max).read_to_end(&mut buf).ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_patterns() {
        assert!(fnmatch(b"*.conf", b"a.conf"));
        assert!(!fnmatch(b"*.conf", b".a.conf"));
        assert!(fnmatch(b".*.conf", b".a.conf"));
        assert!(fnmatch(b"site?.conf", b"site1.conf"));
        assert!(fnmatch(b"[0-9]*", b"010-x"));
        assert!(!fnmatch(b"[!0-9]*", b"010-x"));
        assert!(fnmatch(b"a\\*", b"a*"));
        assert!(fnmatch(b"*", b"x"));
        assert!(fnmatch(b"[", b"["));
        assert!(fnmatch(b"a*b*c", b"aXbYbZc"));
        assert!(!fnmatch(b"a*b*c", b"aXbYbZ"));
    }
}
