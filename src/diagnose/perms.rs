//! Why a worker could not reach a path: turns EACCES, EPERM, ENOTDIR, ELOOP and ENOENT into
//! sentences naming the directory, file, symlink or gatekeeper responsible. Owns the worker's
//! credentials ([`Creds`], from /proc/PID/status), a bounded re-resolution of the path as the
//! kernel does it (symlinks followed, at most 40), the DAC check (mode bits and POSIX ACLs, root's
//! bypass), and the look at other gatekeepers: SELinux labels, AppArmor profiles, a systemd
//! sandbox seen in /proc/PID/mountinfo, immutable files, noexec mounts. Reads the file system
//! and /proc, never writes; paths are bytes throughout.

use crate::syscalls::path::{as_path, join};
use std::collections::{HashSet, VecDeque};
use std::ffi::CString;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Effective identity of a process, as the kernel checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// Effective uid, gid and supplementary groups of `pid`, from /proc/PID/status.
pub fn creds_of(pid: i32) -> Option<Creds> {
    let st = procfs::process::Process::new(pid).ok()?.status().ok()?;
    Some(Creds {
        uid: st.euid,
        gid: st.egid,
        groups: st.groups,
    })
}

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
    fn bits(self) -> u32 {
        match self {
            Want::Read => 4,
            Want::Write => 2,
            Want::Exec | Want::Search => 1,
        }
    }
    fn verb(self) -> &'static str {
        match self {
            Want::Read => "read",
            Want::Write => "write",
            Want::Exec => "execute",
            Want::Search => "search",
        }
    }
}

/// Symlinks followed in one resolution before ELOOP, as in the kernel.
const MAX_LINKS: usize = 40;
/// Longest path examined.
const MAX_PATH: usize = 4096;
/// Cap on xattr values and small /proc or /etc files read.
const MAX_XATTR: usize = 64 * 1024;
const MAX_SMALL_FILE: u64 = 4 * 1024 * 1024;

/// Human hints explaining why `path` (absolute) failed with `errno` for a worker with `creds`
/// (read from /proc when `None` and `pid` is given) wanting `want`. Empty for other errnos and
/// relative paths. Never panics; every look is bounded.
pub fn explain(
    path: &[u8],
    errno: i32,
    creds: Option<&Creds>,
    want: Want,
    pid: Option<i32>,
) -> Vec<String> {
    if path.first() != Some(&b'/') || path.len() > MAX_PATH || path.contains(&0) {
        return Vec::new();
    }
    match errno {
        libc::EACCES | libc::EPERM => {
            let creds = creds.cloned().or_else(|| pid.and_then(creds_of));
            explain_denied(path, errno, creds.as_ref(), want, pid)
        }
        libc::ENOTDIR => explain_notdir(path),
        libc::ELOOP => explain_loop(path),
        libc::ENOENT => explain_missing(path, want, pid),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Path resolution

/// How resolving the path ended.
enum End {
    /// Everything exists; `path` is the resolved (symlink-free) path.
    Found { path: Vec<u8>, meta: Metadata },
    /// `path` (resolved) is the first name that does not exist, looked up in `parent`.
    /// `via` is the symlink whose target contained it; `last` says it was the final component.
    Missing {
        path: Vec<u8>,
        parent: Vec<u8>,
        parent_meta: Option<Metadata>,
        via: Option<usize>,
        last: bool,
    },
    /// `path` exists, is not a directory, and more components follow.
    NotDir { path: Vec<u8>, meta: Metadata },
    /// More than [`MAX_LINKS`] symlinks.
    Loop,
    /// Some other error looking at `path` (reqtrace's own EACCES, ENAMETOOLONG…).
    Error { path: Vec<u8>, err: std::io::Error },
}

struct Walk {
    /// Directories a lookup happened in, in order, each once, with their metadata.
    searched: Vec<(Vec<u8>, Metadata)>,
    /// Symlinks followed: (where the link is, its raw target).
    links: Vec<(Vec<u8>, Vec<u8>)>,
    end: End,
}

/// Resolves an absolute path the way the kernel does (following every symlink, the last one
/// included), recording the directories searched and the links followed.
fn walk(path: &[u8]) -> Walk {
    let mut searched: Vec<(Vec<u8>, Metadata)> = Vec::new();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut links: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut pending: VecDeque<(Vec<u8>, Option<usize>)> = VecDeque::new();
    push_components(&mut pending, path, None);

    let mut cur: Vec<u8> = b"/".to_vec();
    let mut cur_meta = std::fs::metadata("/").ok();
    while let Some((comp, via)) = pending.pop_front() {
        if comp == b"." {
            continue;
        }
        if comp == b".." {
            cur = parent_of(&cur);
            cur_meta = std::fs::metadata(as_path(&cur)).ok();
            continue;
        }
        if let Some(meta) = &cur_meta
            && seen.insert(cur.clone())
        {
            searched.push((cur.clone(), meta.clone()));
        }
        let next = join(&cur, &comp);
        let meta = match std::fs::symlink_metadata(as_path(&next)) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let last = pending.iter().all(|(c, _)| c == b".");
                return Walk {
                    searched,
                    links,
                    end: End::Missing {
                        path: next,
                        parent: cur,
                        parent_meta: cur_meta,
                        via,
                        last,
                    },
                };
            }
            Err(err) => {
                return Walk {
                    searched,
                    links,
                    end: End::Error { path: next, err },
                };
            }
        };
        if meta.file_type().is_symlink() {
            if links.len() >= MAX_LINKS {
                return Walk {
                    searched,
                    links,
                    end: End::Loop,
                };
            }
            let target = match std::fs::read_link(as_path(&next)) {
                Ok(t) => t.into_os_string().into_encoded_bytes(),
                Err(err) => {
                    return Walk {
                        searched,
                        links,
                        end: End::Error { path: next, err },
                    };
                }
            };
            links.push((next, target.clone()));
            if target.first() == Some(&b'/') {
                cur = b"/".to_vec();
                cur_meta = std::fs::metadata("/").ok();
            }
            let mut expansion = VecDeque::new();
            push_components(&mut expansion, &target, Some(links.len() - 1));
            if target.is_empty() {
                // An empty target resolves to nothing (ENOENT).
                expansion.push_back((Vec::new(), Some(links.len() - 1)));
            }
            while let Some(item) = expansion.pop_back() {
                pending.push_front(item);
            }
            continue;
        }
        if meta.is_dir() {
            cur = next;
            cur_meta = Some(meta);
            continue;
        }
        if !pending.is_empty() {
            return Walk {
                searched,
                links,
                end: End::NotDir { path: next, meta },
            };
        }
        return Walk {
            searched,
            links,
            end: End::Found { path: next, meta },
        };
    }
    // Ended on a directory (or "/").
    let end = match cur_meta {
        Some(meta) => End::Found { path: cur, meta },
        None => End::Error {
            err: std::io::Error::other("cannot stat"),
            path: cur,
        },
    };
    Walk {
        searched,
        links,
        end,
    }
}

/// Splits `path` into components tagged `via`; a trailing slash becomes a final "." so that
/// `file/` fails as ENOTDIR, as it does in the kernel.
fn push_components(out: &mut VecDeque<(Vec<u8>, Option<usize>)>, path: &[u8], via: Option<usize>) {
    for comp in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        out.push_back((comp.to_vec(), via));
    }
    if path.len() > 1 && path.ends_with(b"/") {
        out.push_back((b".".to_vec(), via));
    }
}

fn parent_of(path: &[u8]) -> Vec<u8> {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) | None => b"/".to_vec(),
        Some(i) => path[..i].to_vec(),
    }
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn links_note(links: &[(Vec<u8>, Vec<u8>)]) -> String {
    if links.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = links
        .iter()
        .take(4)
        .map(|(l, t)| format!("{} → {}", show(l), show(t)))
        .collect();
    format!(" (via {})", parts.join(", "))
}

// ---------------------------------------------------------------------------------------------
// ENOTDIR, ELOOP, ENOENT

fn kind_of(meta: &Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symlink"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else {
        "not a directory"
    }
}

fn explain_notdir(path: &[u8]) -> Vec<String> {
    let w = walk(path);
    match &w.end {
        End::Found { path: p, meta } if !meta.is_dir() => vec![format!(
            "{} is {}, not a directory, and the call needed a directory (O_DIRECTORY, \
             opendir, chdir or a trailing slash){}",
            show(p),
            kind_of(meta),
            links_note(&w.links)
        )],
        _ => fallback(&w),
    }
}

fn explain_loop(path: &[u8]) -> Vec<String> {
    let w = walk(path);
    match &w.end {
        End::Found { .. } => {
            // Resolves fine: the caller must have refused to follow a final symlink.
            match std::fs::symlink_metadata(as_path(path)) {
                Ok(m) if m.file_type().is_symlink() => vec![format!(
                    "{} is a symlink and the call refused to follow it (O_NOFOLLOW); \
                     it points to {}",
                    show(path),
                    std::fs::read_link(as_path(path))
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_else(|_| "?".into())
                )],
                _ => vec![format!(
                    "{} resolves without a loop now; a symlink on the way may have changed \
                     since",
                    show(path)
                )],
            }
        }
        _ => fallback(&w),
    }
}

/// "X is a symlink loop: X → a → X", or the start of a too-long chain.
fn describe_loop(links: &[(Vec<u8>, Vec<u8>)]) -> String {
    // The first link met twice starts the cycle.
    for (i, (l, _)) in links.iter().enumerate() {
        if let Some(j) = links[i + 1..].iter().position(|(m, _)| m == l) {
            let cycle = &links[i..i + 1 + j];
            let mut chain: Vec<String> = vec![show(l)];
            chain.extend(cycle.iter().map(|(_, t)| show(t)));
            return format!("{} is a symlink loop: {}", show(l), chain.join(" → "));
        }
    }
    match links.first() {
        Some((l, t)) => format!(
            "{} → {} starts a chain of more than {MAX_LINKS} symlinks",
            show(l),
            show(t)
        ),
        None => "too many levels of symbolic links".to_string(),
    }
}

fn explain_missing(path: &[u8], want: Want, pid: Option<i32>) -> Vec<String> {
    let w = walk(path);
    match &w.end {
        End::Found { path: real, .. } => {
            let mut out = vec![format!(
                "{} exists now for reqtrace: it was created after the call failed, or the \
                 worker sees a different file system",
                show(path)
            )];
            if let Some(pid) = pid {
                if let Some(root) = worker_root(pid)
                    && root != b"/"
                {
                    out.push(format!("the worker is chrooted to {}", show(&root)));
                }
                out.extend(sandbox_of_pid(pid, real, want));
            }
            out
        }
        _ => fallback(&w),
    }
}

fn missing_msg(w: &Walk) -> Option<String> {
    let End::Missing { path, via, .. } = &w.end else {
        return None;
    };
    Some(match via {
        Some(i) => {
            let (link, target) = &w.links[*i];
            let target_abs = if target.first() == Some(&b'/') {
                target.clone()
            } else {
                join(&parent_of(link), target)
            };
            let mut s = format!(
                "{} is a symlink to {}, which does not exist",
                show(link),
                show(target)
            );
            if normalize(&target_abs) != *path {
                s.push_str(&format!(" ({} is missing)", show(path)));
            }
            s
        }
        None => format!("{} does not exist{}", show(path), links_note(&w.links)),
    })
}

/// Lexical normalization: no empty or "." components, ".." pops.
fn normalize(path: &[u8]) -> Vec<u8> {
    let mut out: Vec<&[u8]> = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    let mut s = Vec::new();
    for c in out {
        s.push(b'/');
        s.extend_from_slice(c);
    }
    if s.is_empty() {
        s.push(b'/');
    }
    s
}

/// The sentence for how the walk ended, when that alone explains the failure.
fn fallback(w: &Walk) -> Vec<String> {
    match &w.end {
        End::Missing { .. } => missing_msg(w).into_iter().collect(),
        End::NotDir { path, meta } => vec![format!(
            "{} is {}, not a directory{}",
            show(path),
            kind_of(meta),
            links_note(&w.links)
        )],
        End::Loop => vec![describe_loop(&w.links)],
        End::Error { path, err } => {
            vec![format!("reqtrace could not examine {}: {err}", show(path))]
        }
        End::Found { .. } => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// EACCES / EPERM

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

fn in_group(c: &Creds, gid: u32) -> bool {
    c.gid == gid || c.groups.contains(&gid)
}

const ACL_USER_OBJ: u16 = 0x01;
const ACL_USER: u16 = 0x02;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_GROUP: u16 = 0x08;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;

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

/// "0700 root:root"
fn mode_owner(meta: &Metadata) -> String {
    format!(
        "{:04o} {}:{}",
        meta.mode() & 0o7777,
        user_name(meta.uid()),
        group_name(meta.gid())
    )
}

/// "www-data (33)"
fn who(c: &Creds) -> String {
    format!("{} ({})", user_name(c.uid), c.uid)
}

fn explain_denied(
    path: &[u8],
    errno: i32,
    creds: Option<&Creds>,
    want: Want,
    pid: Option<i32>,
) -> Vec<String> {
    let w = walk(path);
    let Some(c) = creds else {
        return denied_without_creds(&w);
    };
    for (dir, meta) in &w.searched {
        let d = check(c, dir, meta, 1);
        if !d.allowed {
            return vec![denial(dir, meta, c, "search", d.acl, true)];
        }
    }
    let mut out = Vec::new();
    match &w.end {
        End::Found { path: real, meta } => {
            if want == Want::Exec && !meta.is_file() {
                return vec![format!(
                    "{} is {}, which cannot be executed",
                    show(real),
                    kind_of(meta)
                )];
            }
            let d = check(c, real, meta, want.bits());
            if !d.allowed {
                if c.uid == 0 {
                    return vec![format!(
                        "{} is {}: no execute bit is set, so not even root may execute it",
                        show(real),
                        mode_owner(meta)
                    )];
                }
                return vec![denial(real, meta, c, want.verb(), d.acl, false)];
            }
            out.push(format!(
                "the mode bits{} allow {} to {} {}",
                if d.acl { " and POSIX ACL" } else { "" },
                who(c),
                want.verb(),
                show(path)
            ));
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
                return vec![format!(
                    "{} is {}{}: {} cannot create {} in it",
                    show(parent),
                    mode_owner(pmeta),
                    if d.acl { " with a POSIX ACL" } else { "" },
                    who(c),
                    show(last_name(missing))
                )];
            }
            out.push(format!(
                "{} does not exist, and the mode bits allow {} to create it in {}",
                show(missing),
                who(c),
                show(parent)
            ));
            out.extend(other_gatekeepers(parent, Want::Write, pid));
        }
        _ => out.extend(fallback(&w)),
    }
    out
}

fn last_name(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

fn denial(path: &[u8], meta: &Metadata, c: &Creds, verb: &str, acl: bool, dir: bool) -> String {
    if acl {
        return format!(
            "{} is {} with a POSIX ACL that denies {} {verb} access (getfacl {})",
            show(path),
            mode_owner(meta),
            who(c),
            show(path)
        );
    }
    if dir {
        format!(
            "{} is {}: {} cannot {verb} it",
            show(path),
            mode_owner(meta),
            who(c)
        )
    } else {
        format!(
            "{} is {}; workers run as {}, which may not {verb} it",
            show(path),
            mode_owner(meta),
            who(c)
        )
    }
}

/// Without credentials: show the modes that would matter for someone who is not the owner.
fn denied_without_creds(w: &Walk) -> Vec<String> {
    let mut out = vec!["the worker's credentials are unknown (no pid, or it is gone)".to_string()];
    for (dir, meta) in &w.searched {
        if meta.mode() & 0o001 == 0 {
            out.push(format!(
                "{} is {}: only its owner and group may search it",
                show(dir),
                mode_owner(meta)
            ));
        }
    }
    if let End::Found { path, meta } = &w.end {
        out.push(format!("{} is {}", show(path), mode_owner(meta)));
    }
    out
}

/// Gatekeepers visible on the file itself: immutable / append-only attributes, a sticky
/// directory, a noexec mount, ACL flavours we do not evaluate.
fn local_gatekeepers(
    path: &[u8],
    meta: &Metadata,
    want: Want,
    errno: i32,
    c: &Creds,
) -> Vec<String> {
    let mut out = Vec::new();
    if (want == Want::Write || errno == libc::EPERM)
        && (meta.is_file() || meta.is_dir())
        && let Some(flags) = inode_flags(path)
    {
        const FS_IMMUTABLE_FL: i32 = 0x10;
        const FS_APPEND_FL: i32 = 0x20;
        if flags & FS_IMMUTABLE_FL != 0 {
            out.push(format!(
                "{} is immutable (chattr +i; see lsattr): nobody may change it",
                show(path)
            ));
        } else if flags & FS_APPEND_FL != 0 {
            out.push(format!(
                "{} is append-only (chattr +a; see lsattr): it may only be appended to",
                show(path)
            ));
        }
    }
    if errno == libc::EPERM {
        let parent = parent_of(path);
        if let Ok(pm) = std::fs::metadata(as_path(&parent))
            && pm.mode() & 0o1000 != 0
            && meta.uid() != c.uid
            && pm.uid() != c.uid
            && c.uid != 0
        {
            out.push(format!(
                "{} is sticky ({}) and {} belongs to {}: only its owner may delete or rename it",
                show(&parent),
                mode_owner(&pm),
                show(path),
                user_name(meta.uid())
            ));
        }
    }
    if want == Want::Exec && mount_flags(path).is_some_and(|f| f & libc::ST_NOEXEC != 0) {
        out.push(format!("{} is on a file system mounted noexec", show(path)));
    }
    if read_xattr(path, b"system.nfs4_acl").is_some() {
        out.push(format!(
            "{} has an NFSv4 ACL (nfs4_getfacl), which reqtrace does not evaluate",
            show(path)
        ));
    }
    out
}

/// SELinux, AppArmor and a systemd sandbox; a closing line when none is found.
fn other_gatekeepers(path: &[u8], want: Want, pid: Option<i32>) -> Vec<String> {
    let mut out = Vec::new();
    let mut checked = vec!["SELinux", "ACLs"];
    let selinux = Path::new("/sys/fs/selinux").exists();
    if selinux {
        let label = read_xattr(path, b"security.selinux")
            .map(|v| show(trim_nul(&v)))
            .unwrap_or_else(|| "(no label)".into());
        let domain = pid
            .and_then(|p| read_small(&format!("/proc/{p}/attr/current")))
            .map(|v| show(trim_nul(&v)).trim().to_string())
            .filter(|s| !s.is_empty());
        let permissive = read_small("/sys/fs/selinux/enforce").is_some_and(|v| v.starts_with(b"0"));
        out.push(format!(
            "SELinux is {}: {} is labelled {}{}; look for an AVC denial (ausearch -m avc -ts recent)",
            if permissive {
                "enabled but permissive (it logs, it does not deny)"
            } else {
                "enforcing"
            },
            show(path),
            label,
            domain
                .map(|d| format!(" and the worker runs as {d}"))
                .unwrap_or_default()
        ));
    }
    if let Some(pid) = pid {
        checked.push("AppArmor");
        checked.push("mount namespace");
        if !selinux && let Some(profile) = apparmor_profile(pid) {
            out.push(format!(
                "the worker is confined by AppArmor profile {profile}; look for apparmor=\"DENIED\" \
                 in the kernel log (journalctl -k)"
            ));
        }
        out.extend(sandbox_of_pid(pid, path, want));
    }
    if out.is_empty() {
        out.push(format!(
            "no other gatekeeper found (checked {})",
            checked.join(", ")
        ));
    }
    out
}

fn apparmor_profile(pid: i32) -> Option<String> {
    let raw = read_small(&format!("/proc/{pid}/attr/apparmor/current"))
        .or_else(|| read_small(&format!("/proc/{pid}/attr/current")))?;
    let s = show(trim_nul(&raw)).trim().to_string();
    if s.is_empty() || s == "unconfined" {
        None
    } else {
        Some(s)
    }
}

fn worker_root(pid: i32) -> Option<Vec<u8>> {
    std::fs::read_link(format!("/proc/{pid}/root"))
        .ok()
        .map(|p| p.into_os_string().into_encoded_bytes())
}

/// Sandbox hints for `pid` when it lives in another mount namespace than init.
fn sandbox_of_pid(pid: i32, path: &[u8], want: Want) -> Vec<String> {
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/mnt")).ok();
    let mine = ns(&pid.to_string());
    if mine.is_none() || mine == ns("1") {
        return Vec::new();
    }
    let Some(worker) = read_small(&format!("/proc/{pid}/mountinfo")) else {
        return Vec::new();
    };
    let host = read_small("/proc/1/mountinfo")
        .or_else(|| read_small("/proc/self/mountinfo"))
        .unwrap_or_default();
    sandbox_hints(&show(&worker), &show(&host), path, want)
}

/// One mountinfo line: (mount point, root within its fs, fs type, read-only).
fn parse_mountinfo(text: &str) -> Vec<(Vec<u8>, Vec<u8>, String, bool)> {
    let mut out = Vec::new();
    for line in text.lines().take(100_000) {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if sep < 6 || fields.len() < sep + 2 {
            continue;
        }
        let ro = fields[5].split(',').any(|o| o == "ro");
        out.push((
            unescape_octal(fields[4]),
            unescape_octal(fields[3]),
            fields[sep + 1].to_string(),
            ro,
        ));
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape_octal(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|d| (b'0'..=b'7').contains(d))
        {
            let v = (u32::from(b[i + 1] - b'0') << 6)
                | (u32::from(b[i + 2] - b'0') << 3)
                | u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn under(path: &[u8], mount_point: &[u8]) -> bool {
    mount_point == b"/"
        || path == mount_point
        || (path.starts_with(mount_point) && path.get(mount_point.len()) == Some(&b'/'))
}

/// Mounts the worker has and the host lacks, read as systemd sandboxing, limited to those
/// covering `path` (ProtectSystem only matters when writing).
fn sandbox_hints(worker: &str, host: &str, path: &[u8], want: Want) -> Vec<String> {
    let host: HashSet<_> = parse_mountinfo(host).into_iter().collect();
    let mut out: Vec<String> = Vec::new();
    for m in parse_mountinfo(worker) {
        if host.contains(&m) {
            continue;
        }
        let (mp, root, fstype, ro) = &m;
        if !under(path, mp) {
            continue;
        }
        let rootstr = show(root);
        let mps = show(mp);
        let hint = if rootstr.contains("inaccessible") {
            format!(
                "{mps} is made inaccessible to the worker (systemd ProtectHome= or InaccessiblePaths=)"
            )
        } else if (mp == b"/tmp" || mp == b"/var/tmp")
            && (fstype == "tmpfs" || rootstr.contains("systemd-private-"))
        {
            format!(
                "the worker has its own {mps} (systemd PrivateTmp=yes): files in the host's {mps} \
                 are not visible to it"
            )
        } else if matches!(mp.as_slice(), b"/home" | b"/root" | b"/run/user")
            && (fstype == "tmpfs" || *ro)
        {
            format!(
                "{mps} is {} for the worker (systemd ProtectHome=)",
                if *ro { "read-only" } else { "an empty tmpfs" }
            )
        } else if matches!(mp.as_slice(), b"/" | b"/usr" | b"/etc" | b"/boot" | b"/efi") && *ro {
            if want != Want::Write {
                continue;
            }
            let level = match mp.as_slice() {
                b"/" => "strict",
                b"/etc" => "full",
                _ => "yes",
            };
            format!("{mps} is read-only for the worker (systemd ProtectSystem={level})")
        } else if *ro {
            if want != Want::Write {
                continue;
            }
            format!("{mps} is mounted read-only for the worker (systemd ReadOnlyPaths=?)")
        } else if fstype == "tmpfs" {
            format!(
                "{mps} is a tmpfs only the worker sees (systemd TemporaryFileSystem= or similar)"
            )
        } else {
            continue;
        };
        if !out.contains(&hint) {
            out.push(hint);
        }
    }
    out
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

fn trim_nul(v: &[u8]) -> &[u8] {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    &v[..end]
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

/// ext2-style inode flags (FS_IOC_GETFLAGS); only for regular files and directories.
fn inode_flags(path: &[u8]) -> Option<i32> {
    let p = CString::new(path).ok()?;
    // SAFETY: plain open; O_NONBLOCK so a file swapped for a FIFO cannot block us.
    let fd = unsafe {
        libc::open(
            p.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let mut flags: libc::c_int = 0;
    // SAFETY: fd is ours; st and flags are valid out-parameters.
    let ok = unsafe {
        libc::fstat(fd, &mut st) == 0
            && matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR)
            && libc::ioctl(fd, libc::FS_IOC_GETFLAGS, &mut flags) == 0
    };
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    ok.then_some(flags)
}

fn mount_flags(path: &[u8]) -> Option<libc::c_ulong> {
    let p = CString::new(path).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path, valid out-parameter.
    (unsafe { libc::statvfs(p.as_ptr(), &mut s) } == 0).then_some(s.f_flag)
}

/// Name of a uid from /etc/passwd, else the number.
fn user_name(uid: u32) -> String {
    name_from("/etc/passwd", uid).unwrap_or_else(|| uid.to_string())
}

/// Name of a gid from /etc/group, else the number.
fn group_name(gid: u32) -> String {
    name_from("/etc/group", gid).unwrap_or_else(|| gid.to_string())
}

/// `name:x:ID:…` databases: the name of the first line whose third field is `id`.
fn name_from(file: &str, id: u32) -> Option<String> {
    let data = read_small(file)?;
    data.split(|&b| b == b'\n').find_map(|line| {
        let mut f = line.split(|&b| b == b':');
        let name = f.next()?;
        let _pw = f.next()?;
        let n: u32 = std::str::from_utf8(f.next()?).ok()?.trim().parse().ok()?;
        (n == id && !name.is_empty()).then(|| show(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testdir::TempDir;
    use std::os::unix::fs::PermissionsExt;

    fn www() -> Creds {
        Creds {
            uid: 33,
            gid: 33,
            groups: vec![33],
        }
    }

    #[test]
    fn creds_of_self() {
        let c = creds_of(std::process::id() as i32).unwrap();
        // SAFETY: trivial getters.
        assert_eq!(c.uid, unsafe { libc::geteuid() });
        assert_eq!(c.gid, unsafe { libc::getegid() });
        assert_eq!(creds_of(-5), None);
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

    #[test]
    fn mountinfo_sandbox() {
        let host = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw
24 22 0:30 / /tmp rw,nosuid shared:3 - tmpfs tmpfs rw
";
        let worker = "\
522 500 254:0 / / ro,relatime master:1 - ext4 /dev/vda rw
523 522 0:21 / /proc rw,nosuid - proc proc rw
524 522 254:0 /tmp/systemd-private-abc-apache2.service-XyZ/tmp /tmp rw,relatime - ext4 /dev/vda rw
525 522 0:55 / /home ro,nosuid - tmpfs tmpfs ro
526 522 254:0 /srv/my\\040files /srv/my\\040files ro - ext4 /dev/vda rw
";
        let h = sandbox_hints(worker, host, b"/tmp/upload/x", Want::Read);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h[0].contains("PrivateTmp"), "{h:?}");
        let h = sandbox_hints(worker, host, b"/home/alice/public_html/x", Want::Read);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h[0].contains("ProtectHome"), "{h:?}");
        let h = sandbox_hints(worker, host, b"/var/www/x", Want::Write);
        assert_eq!(
            h,
            vec!["/ is read-only for the worker (systemd ProtectSystem=strict)"]
        );
        assert!(sandbox_hints(worker, host, b"/var/www/x", Want::Read).is_empty());
        let h = sandbox_hints(worker, host, b"/srv/my files/a", Want::Write);
        assert!(
            h.iter()
                .any(|s| s.starts_with("/srv/my files is mounted read-only")),
            "{h:?}"
        );
        // Same namespace view: nothing.
        assert!(sandbox_hints(host, host, b"/tmp/x", Want::Write).is_empty());
        assert!(sandbox_hints("garbage\n\n- -", host, b"/tmp/x", Want::Write).is_empty());
    }

    #[test]
    fn names_fall_back_to_numbers() {
        assert_eq!(user_name(0), "root");
        assert_eq!(user_name(4_000_000_000), "4000000000");
        assert_eq!(group_name(4_000_000_001), "4000000001");
    }
}
