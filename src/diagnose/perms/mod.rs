//! Why a worker could not reach a path: turns EACCES, EPERM, ENOTDIR, ELOOP and ENOENT into
//! [`Hint`]s naming the directory, file, symlink or gatekeeper responsible. This file owns the
//! entry point ([`explain`], dispatching on the errno), the access wanted ([`Want`]) and the
//! small readers the others share; the worker's identity is in creds.rs, the bounded path
//! walk in walk.rs, mode bits and ACLs in access.rs, the other gatekeepers (SELinux, AppArmor,
//! systemd sandboxing, immutable files, noexec mounts) in sandbox.rs, the interpreter an exec
//! needs (ENOENT for a file that is there) in interp.rs. Reads the file system
//! (and, through procinfo, /proc), never writes; paths are bytes throughout.

pub(crate) mod access;
pub(crate) mod creds;
mod interp;
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
            // An exec of a file that is there: the interpreter it needs is not.
            if want == Want::Exec
                && let Some(h) = interp::missing_interpreter(real)
            {
                return vec![h];
            }
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
