//! The DAC decision for EACCES and EPERM: mode bits and POSIX ACLs as the kernel evaluates
//! them (root's bypass included) on every directory searched and on the file, which one
//! denies the worker, or, when none does, that they allow it and what else to look at
//! (sandbox.rs). Without credentials, the modes that would matter.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use super::creds::{self, Creds, in_group};
use super::sandbox::{local_gatekeepers, other_gatekeepers};
use super::walk::{End, Walk, last_name, walk};
use super::{Want, read_xattr};
use crate::diagnose::hint::{FileKind, Hint};

/// Owner / group / other (or ACL) decision for `bits` (4 r, 2 w, 1 x).
struct Decision {
    allowed: bool,
    /// A POSIX ACL took part in the decision.
    acl: bool,
}

fn check(c: &Creds, path: &[u8], meta: &Metadata, bits: u32) -> Decision {
    let mode = meta.mode();
    if c.uid == 0 {
        // Root bypasses DAC, except that executing a non-directory needs some x bit.
        let allowed = bits & 1 == 0 || meta.is_dir() || mode & 0o111 != 0;
        return Decision {
            allowed,
            acl: false,
        };
    }
    if let Some(acl) = read_xattr(path, b"system.posix_acl_access").and_then(|v| parse_acl(&v)) {
        return Decision {
            allowed: acl_allows(&acl, c, meta, bits),
            acl: true,
        };
    }
    let granted = if c.uid == meta.uid() {
        (mode >> 6) & 7
    } else if in_group(c, meta.gid()) {
        (mode >> 3) & 7
    } else {
        mode & 7
    };
    Decision {
        allowed: granted & bits == bits,
        acl: false,
    }
}

pub(crate) const ACL_USER_OBJ: u16 = 0x01;
pub(crate) const ACL_USER: u16 = 0x02;
pub(crate) const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_GROUP: u16 = 0x08;
pub(crate) const ACL_MASK: u16 = 0x10;
pub(crate) const ACL_OTHER: u16 = 0x20;

/// (tag, perm, id) entries of a system.posix_acl_access value (version 2).
fn parse_acl(v: &[u8]) -> Option<Vec<(u16, u16, u32)>> {
    if v.len() < 4
        || !(v.len() - 4).is_multiple_of(8)
        || u32::from_le_bytes(v[..4].try_into().ok()?) != 2
    {
        return None;
    }
    Some(
        v[4..]
            .chunks_exact(8)
            .map(|e| {
                (
                    u16::from_le_bytes([e[0], e[1]]),
                    u16::from_le_bytes([e[2], e[3]]),
                    u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
                )
            })
            .collect(),
    )
}

/// The kernel's posix_acl_permission().
fn acl_allows(acl: &[(u16, u16, u32)], c: &Creds, meta: &Metadata, bits: u32) -> bool {
    let has = |perm: u16| u32::from(perm) & bits == bits;
    let mask = acl.iter().find(|e| e.0 == ACL_MASK).map_or(7, |e| e.1);
    if c.uid == meta.uid() {
        return acl.iter().any(|e| e.0 == ACL_USER_OBJ && has(e.1));
    }
    if let Some(e) = acl.iter().find(|e| e.0 == ACL_USER && e.2 == c.uid) {
        return has(e.1 & mask);
    }
    let mut matched = false;
    for e in acl {
        let member = match e.0 {
            ACL_GROUP_OBJ => in_group(c, meta.gid()),
            ACL_GROUP => in_group(c, e.2),
            _ => false,
        };
        if member {
            matched = true;
            if has(e.1 & mask) {
                return true;
            }
        }
    }
    if matched {
        return false;
    }
    acl.iter().any(|e| e.0 == ACL_OTHER && has(e.1))
}

pub(super) fn explain_denied(
    path: &[u8],
    errno: i32,
    creds: Option<&Creds>,
    want: Want,
    pid: Option<i32>,
) -> Vec<Hint> {
    let w = walk(path);
    let Some(c) = creds else {
        // No execute bit at all refuses everyone, root too: no credentials needed to say so
        // (a CGI child that failed its exec is gone before its credentials can be read).
        if want == Want::Exec
            && let End::Found { path: real, meta } = &w.end
            && meta.is_file()
            && meta.mode() & 0o111 == 0
        {
            return vec![Hint::NoExecuteBit {
                path: real.clone(),
                mode: creds::mode(meta),
            }];
        }
        return denied_without_creds(&w);
    };
    for (dir, meta) in &w.searched {
        let d = check(c, dir, meta, 1);
        if !d.allowed {
            return vec![denial(dir, meta, c, Want::Search, d.acl, true)];
        }
    }
    let mut out = Vec::new();
    match &w.end {
        End::Found { path: real, meta } => {
            if want == Want::Exec && !meta.is_file() {
                return vec![Hint::NotExecutable {
                    path: real.clone(),
                    kind: FileKind::of(meta),
                }];
            }
            let d = check(c, real, meta, want.bits());
            if !d.allowed {
                if c.uid == 0 {
                    return vec![Hint::NoExecuteBit {
                        path: real.clone(),
                        mode: creds::mode(meta),
                    }];
                }
                return vec![denial(real, meta, c, want, d.acl, false)];
            }
            out.push(Hint::ModeAllows {
                path: path.to_vec(),
                worker: creds::worker(c),
                want,
                acl: d.acl,
            });
            out.extend(local_gatekeepers(real, meta, want, errno, c));
            out.extend(other_gatekeepers(real, want, pid));
        }
        End::Missing {
            path: missing,
            parent,
            parent_meta: Some(pmeta),
            via: None,
            last: true,
        } => {
            // Creating a new entry needs write and search on the directory.
            let d = check(c, parent, pmeta, 3);
            if !d.allowed {
                return vec![Hint::CannotCreate {
                    dir: parent.clone(),
                    mode: creds::mode(pmeta),
                    acl: d.acl,
                    worker: creds::worker(c),
                    name: last_name(missing).to_vec(),
                }];
            }
            out.push(Hint::MayCreate {
                path: missing.clone(),
                dir: parent.clone(),
                worker: creds::worker(c),
            });
            out.extend(other_gatekeepers(parent, Want::Write, pid));
        }
        _ => out.extend(w.fallback()),
    }
    out
}

/// Who may not do what on `path`: by an ACL, or by the mode bits of a directory on the way
/// (`dir`) or of the file itself.
fn denial(path: &[u8], meta: &Metadata, c: &Creds, want: Want, acl: bool, dir: bool) -> Hint {
    let (path, mode, worker) = (path.to_vec(), creds::mode(meta), creds::worker(c));
    if acl {
        Hint::AclDenies {
            path,
            mode,
            worker,
            want,
        }
    } else if dir {
        Hint::CannotSearch {
            dir: path,
            mode,
            worker,
        }
    } else {
        Hint::ModeDenies {
            path,
            mode,
            worker,
            want,
        }
    }
}

/// Without credentials: show the modes that would matter for someone who is not the owner.
fn denied_without_creds(w: &Walk) -> Vec<Hint> {
    let mut out = vec![Hint::CredsUnknown];
    for (dir, meta) in &w.searched {
        if meta.mode() & 0o001 == 0 {
            out.push(Hint::OwnerAndGroupOnly {
                dir: dir.clone(),
                mode: creds::mode(meta),
            });
        }
    }
    if let End::Found { path, meta } = &w.end {
        out.push(Hint::ModeIs {
            path: path.clone(),
            mode: creds::mode(meta),
        });
    }
    out
}
