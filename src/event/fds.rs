//! What a process's paths and file descriptors mean, kept by every source the same way: per
//! process (thread group), its cwd, root and fd → target table, copied on fork, changed by
//! the process's own open/close/dup/fcntl/chdir/fchdir/chroot/accept. Pure bookkeeping: what
//! the table does not know it asks a [`Lookup`], which a live source fills from /proc and an
//! offline one leaves empty (a log only says what it says).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::event::{Arg, Bytes, FlagKind};
use crate::syscalls::{ArgKind, path};

/// A hasher for integer keys (tids, pids, fds), looked up on every stop: one multiplication
/// (Fibonacci hashing) instead of SipHash, whose flooding resistance buys nothing for keys
/// the kernel hands out.
#[derive(Default)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    // Each integer is mixed into what came before: a (pid, fd) key hashes both.
    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u32 as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by tid, pid or fd.
pub type IntMap<V> = HashMap<i32, V, BuildHasherDefault<IntHasher>>;
/// A map keyed by other integers the kernel or a counter hands out (request ids, (pid, fd)
/// pairs), hashed the same way.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// The name kept for a connection returned by accept/accept4 (or a new socket), so that its
/// reads are known to be socket I/O without asking anyone.
pub const ACCEPTED: &[u8] = b"socket:[accepted]";

/// Where the table's misses are answered: /proc for a live source, nowhere for a log.
pub trait Lookup {
    /// A path the table cannot resolve (its cwd or dirfd unknown) is kept as written rather
    /// than dropped. Offline: a log seldom names the cwd, and the path as written is better
    /// than none. Live: /proc always knows, so a miss means the process is gone.
    const KEEP_UNRESOLVED: bool = false;
    fn cwd(&mut self, _pid: i32) -> Option<Bytes> {
        None
    }
    fn root(&mut self, _pid: i32) -> Option<Bytes> {
        None
    }
    fn fd(&mut self, _pid: i32, _fd: i32) -> Option<Bytes> {
        None
    }
}

/// No look-ups: what the source itself said is all there is.
pub struct NoLookup;

impl Lookup for NoLookup {
    const KEEP_UNRESOLVED: bool = true;
}

/// One process (thread group): state shared by its threads.
#[derive(Debug, Default, Clone)]
pub struct Files {
    cwd: Option<Bytes>,
    root: Option<Bytes>,
    fds: IntMap<Bytes>,
    /// Number of traced threads in the group (kept by the tracer).
    pub threads: u32,
}

impl Files {
    pub fn cwd<L: Lookup>(&mut self, look: &mut L, pid: i32) -> Option<&[u8]> {
        if self.cwd.is_none() {
            self.cwd = look.cwd(pid);
        }
        self.cwd.as_deref()
    }

    pub fn root<L: Lookup>(&mut self, look: &mut L, pid: i32) -> Option<&[u8]> {
        if self.root.is_none() {
            self.root = look.root(pid);
        }
        self.root.as_deref()
    }

    pub fn set_cwd(&mut self, cwd: Option<Bytes>) {
        self.cwd = cwd;
    }

    /// What `fd` refers to: a path, or `socket:[…]`-style names; cached after the first look.
    pub fn fd<L: Lookup>(&mut self, look: &mut L, pid: i32, fd: i32) -> Option<&[u8]> {
        if fd < 0 {
            return None;
        }
        match self.fds.entry(fd) {
            std::collections::hash_map::Entry::Occupied(e) => Some(e.into_mut().as_slice()),
            std::collections::hash_map::Entry::Vacant(e) => {
                Some(e.insert(look.fd(pid, fd)?).as_slice())
            }
        }
    }

    /// What `fd` is known to refer to, without asking.
    pub fn known_fd(&self, fd: i32) -> Option<&[u8]> {
        self.fds.get(&fd).map(Vec::as_slice)
    }

    pub fn set_fd(&mut self, fd: i32, target: Option<Bytes>) {
        match target {
            Some(t) => {
                self.fds.insert(fd, t);
            }
            None => {
                self.fds.remove(&fd);
            }
        }
    }

    fn dup_fd<L: Lookup>(&mut self, look: &mut L, pid: i32, from: i32, to: i32) {
        let target = self.fd(look, pid, from).map(<[u8]>::to_vec);
        self.set_fd(to, target);
    }

    /// exec closes O_CLOEXEC descriptors; rather than guess which, forget them all and let
    /// the look-up answer again.
    pub fn forget_fds(&mut self) {
        self.fds.clear();
    }

    /// The copy a forked child starts with: same cwd, root and descriptors.
    pub fn fork_copy(&self) -> Files {
        Files {
            threads: 0,
            ..self.clone()
        }
    }

    /// The absolute path `raw` names: against `base` (a dirfd's target) or else the cwd,
    /// under the root. The cwd and root are looked up only when needed (an absolute path
    /// outside a chroot needs neither).
    pub fn resolve<L: Lookup>(
        &mut self,
        look: &mut L,
        pid: i32,
        raw: &[u8],
        base: Option<&[u8]>,
    ) -> Option<Bytes> {
        self.root(look, pid);
        if raw.first() != Some(&b'/') && base.is_none() {
            self.cwd(look, pid);
        }
        let base = base.or(self.cwd.as_deref());
        path::resolve(raw, base, self.root.as_deref())
            .or_else(|| L::KEEP_UNRESOLVED.then(|| raw.to_vec()))
    }

    /// The absolute paths a call names, from its decoded arguments (`kinds` from the syscall
    /// table): each `Path` against the `DirFd` before it (an unknown dirfd target leaves a
    /// relative path unresolved) or the cwd; for a call without a path argument, the first
    /// fd argument that names a file (fstat, fchmod, read).
    pub fn paths<L: Lookup>(
        &mut self,
        look: &mut L,
        pid: i32,
        kinds: &[ArgKind],
        args: &[Arg],
    ) -> (Option<Bytes>, Option<Bytes>) {
        let mut paths: [Option<Bytes>; 2] = [None, None];
        let mut npaths = 0;
        // What the next Path resolves against, set by a DirFd argument: the cwd (None) or
        // the directory fd's target (empty when unknown).
        let mut dir_base: Option<Option<&[u8]>> = None;
        let mut first_fd_path: Option<&[u8]> = None;
        // An empty path names the dirfd itself only with AT_EMPTY_PATH (fstat through
        // newfstatat or statx, execveat, linkat's first path); otherwise the kernel fails it
        // with ENOENT before looking anything up (getname: "" is ENOENT): it names no file,
        // and least of all the cwd.
        let mut empty_names_dir = at_empty_path(kinds, args);
        for (kind, arg) in kinds.iter().zip(args) {
            match (kind, arg) {
                (ArgKind::DirFd, Arg::AtFdCwd) => dir_base = Some(None),
                (ArgKind::DirFd, Arg::Fd(_, target)) => {
                    dir_base = Some(Some(target.as_deref().unwrap_or_default()))
                }
                (ArgKind::Fd, Arg::Fd(_, Some(t)))
                    if first_fd_path.is_none() && t.first() == Some(&b'/') =>
                {
                    first_fd_path = Some(t);
                }
                (ArgKind::Path, arg) => {
                    let base = dir_base.take().flatten();
                    if let Arg::Str { bytes, .. } = arg
                        && npaths < 2
                        && (!bytes.is_empty() || empty_names_dir)
                    {
                        paths[npaths] = self.resolve(look, pid, bytes, base);
                    }
                    npaths += 1;
                    empty_names_dir = false;
                }
                _ => {}
            }
        }
        let [p, p2] = paths;
        (p.or_else(|| first_fd_path.map(<[u8]>::to_vec)), p2)
    }

    /// What a finished call changes for later ones: fds opened, accepted, duplicated and
    /// closed; the cwd; the root. `path` is the call's resolved path; `ok`: it succeeded.
    /// close is applied whatever it returned: close(2), "the file descriptor is released
    /// early", even on EINTR/EIO; only EBADF means there was nothing to release.
    #[allow(clippy::too_many_arguments)]
    pub fn apply<L: Lookup>(
        &mut self,
        look: &mut L,
        pid: i32,
        name: &str,
        args: &[Arg],
        path: Option<&Bytes>,
        ret: i64,
        ok: bool,
    ) {
        let num = |i: usize| -> Option<i32> {
            match args.get(i)? {
                Arg::Fd(fd, _) => Some(*fd),
                Arg::Int(v) => Some(*v as i32),
                _ => None,
            }
        };
        let new_fd = ret as i32;
        match name {
            "close" => {
                if let Some(fd) = num(0) {
                    self.set_fd(fd, None);
                }
            }
            _ if !ok => {}
            "open" | "openat" | "openat2" | "creat" => {
                self.set_fd(new_fd, path.filter(|p| p.first() == Some(&b'/')).cloned())
            }
            "close_range" => {
                if let (Some(first), Some(last)) = (num(0), num(1)) {
                    let (first, last) = (first as u32 as u64, last as u32 as u64);
                    self.fds
                        .retain(|&fd, _| (fd as u64) < first || (fd as u64) > last);
                }
            }
            "dup" => {
                if let Some(old) = num(0) {
                    self.dup_fd(look, pid, old, new_fd);
                }
            }
            "dup2" | "dup3" => {
                if let (Some(old), Some(new)) = (num(0), num(1)) {
                    self.dup_fd(look, pid, old, new);
                }
            }
            "fcntl" if is_dupfd(args.get(1)) => {
                if let Some(old) = num(0) {
                    self.dup_fd(look, pid, old, new_fd);
                }
            }
            "chdir" => self.set_cwd(path.filter(|p| p.first() == Some(&b'/')).cloned()),
            "fchdir" => {
                let target = num(0)
                    .and_then(|fd| self.fd(look, pid, fd))
                    .filter(|t| t.first() == Some(&b'/'))
                    .map(<[u8]>::to_vec);
                self.set_cwd(target);
            }
            "chroot" => self.root = None,
            // Remember that the new fd is a socket without asking anyone when it is read.
            "accept" | "accept4" => self.set_fd(new_fd, Some(ACCEPTED.to_vec())),
            // Any other call that makes an fd reuses a number we may hold a stale name for;
            // it was closed first, so the close above dropped it.
            _ => {}
        }
    }
}

/// Whether a call's AT_* flags argument has AT_EMPTY_PATH (a number from a live source,
/// names from a log).
fn at_empty_path(kinds: &[ArgKind], args: &[Arg]) -> bool {
    let bit = libc::AT_EMPTY_PATH as u64;
    kinds.iter().zip(args).any(|(kind, arg)| {
        *kind == ArgKind::AtFlags
            && match arg {
                Arg::Flags(_, v) => v & bit != 0,
                Arg::Int(v) => *v as u64 & bit != 0,
                Arg::Sym(s) => crate::syscalls::flags::at_flags_from_names(s) & bit != 0,
                _ => false,
            }
    })
}

/// Whether an fcntl command argument is F_DUPFD or F_DUPFD_CLOEXEC (as a number from a live
/// source, as a name from a log).
fn is_dupfd(cmd: Option<&Arg>) -> bool {
    match cmd {
        Some(Arg::Flags(FlagKind::FcntlCmd, v)) => {
            matches!(*v as i32, libc::F_DUPFD | libc::F_DUPFD_CLOEXEC)
        }
        Some(Arg::Sym(s)) => s == "F_DUPFD" || s == "F_DUPFD_CLOEXEC",
        _ => false,
    }
}

/// Every traced process's [`Files`], by thread-group id.
#[derive(Debug, Default)]
pub struct Table {
    procs: IntMap<Files>,
}

impl Table {
    pub fn get(&mut self, tgid: i32) -> &mut Files {
        self.procs.entry(tgid).or_default()
    }

    /// A thread joins `tgid`; a new process starts as a copy of `parent`'s (fork keeps the
    /// cwd, root and descriptors). Returns whether the process is new.
    pub fn thread_started(&mut self, tgid: i32, parent: Option<i32>) -> bool {
        let new = !self.procs.contains_key(&tgid);
        if new {
            let copy = parent
                .filter(|&p| p != tgid)
                .and_then(|p| self.procs.get(&p))
                .map(Files::fork_copy)
                .unwrap_or_default();
            self.procs.insert(tgid, copy);
        }
        if let Some(p) = self.procs.get_mut(&tgid) {
            p.threads += 1;
        }
        new
    }

    /// `child` was forked by `parent`: it has the parent's cwd, root and descriptors, except
    /// what it is already known to have (a log may show the child's calls before the
    /// parent's fork returns).
    pub fn inherit(&mut self, parent: i32, child: i32) {
        let Some(from) = self.procs.get(&parent).map(Files::fork_copy) else {
            return;
        };
        let to = self.get(child);
        for (fd, target) in from.fds {
            to.fds.entry(fd).or_insert(target);
        }
        if to.cwd.is_none() {
            to.cwd = from.cwd;
        }
        if to.root.is_none() {
            to.root = from.root;
        }
    }

    /// How many traced threads `tgid` has (0 for a process not in the table).
    pub fn threads(&self, tgid: i32) -> u32 {
        self.procs.get(&tgid).map_or(0, |p| p.threads)
    }

    /// A thread of `tgid` is gone; the process goes with its last thread.
    pub fn thread_gone(&mut self, tgid: i32) {
        if let Some(p) = self.procs.get_mut(&tgid) {
            p.threads = p.threads.saturating_sub(1);
            if p.threads == 0 {
                self.procs.remove(&tgid);
            }
        }
    }

    pub fn clear(&mut self) {
        self.procs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &str) -> Arg {
        Arg::Str {
            bytes: b.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn opens_dups_closes_and_chdirs() {
        let mut t = Table::default();
        let mut look = NoLookup;
        assert!(t.thread_started(10, None));
        let f = t.get(10);
        f.set_cwd(Some(b"/srv".to_vec()));
        let kinds = [ArgKind::DirFd, ArgKind::Path, ArgKind::OpenFlags];
        let args = [Arg::AtFdCwd, s("www"), Arg::Flags(FlagKind::Open, 0)];
        let (p, _) = f.paths(&mut look, 10, &kinds, &args);
        assert_eq!(p.as_deref(), Some(&b"/srv/www"[..]));
        f.apply(&mut look, 10, "openat", &args, p.as_ref(), 3, true);
        // Relative to the dirfd just opened.
        let args = [Arg::Fd(3, Some(b"/srv/www".to_vec())), s("a.php")];
        let (p, _) = f.paths(&mut look, 10, &kinds[..2], &args);
        assert_eq!(p.as_deref(), Some(&b"/srv/www/a.php"[..]));
        f.apply(
            &mut look,
            10,
            "fcntl",
            &[Arg::Fd(3, None), Arg::Sym("F_DUPFD_CLOEXEC".into())],
            None,
            7,
            true,
        );
        assert_eq!(f.known_fd(7), Some(&b"/srv/www"[..]));
        f.apply(&mut look, 10, "close", &[Arg::Fd(3, None)], None, -4, false);
        assert_eq!(f.known_fd(3), None);
        f.apply(&mut look, 10, "fchdir", &[Arg::Fd(7, None)], None, 0, true);
        let (p, _) = f.paths(&mut look, 10, &[ArgKind::Path], &[s("x")]);
        assert_eq!(p.as_deref(), Some(&b"/srv/www/x"[..]));
        f.apply(&mut look, 10, "accept4", &[Arg::Fd(4, None)], None, 9, true);
        assert!(crate::event::capture::is_socket(f.known_fd(9).unwrap()));
        // A fork starts with the parent's table; a thread shares it.
        assert!(t.thread_started(11, Some(10)));
        assert!(!t.thread_started(11, Some(10)));
        assert_eq!(t.get(11).known_fd(7), Some(&b"/srv/www"[..]));
        t.thread_gone(11);
        assert_eq!(t.get(11).threads, 1);
        // A child already seen keeps what it knows and gains what it inherited.
        t.get(12).set_fd(7, Some(b"/own".to_vec()));
        t.inherit(10, 12);
        assert_eq!(t.get(12).known_fd(7), Some(&b"/own"[..]));
        let parents = t.get(10).known_fd(9).map(<[u8]>::to_vec);
        assert_eq!(t.get(12).known_fd(9).map(<[u8]>::to_vec), parents);
        assert!(parents.is_some());
    }

    /// `newfstatat(AT_FDCWD, "", buf, 0)` fails with ENOENT: the empty path names no file
    /// (it was once taken for the cwd, an existing directory reported missing). With
    /// AT_EMPTY_PATH it is an fstat of the dirfd; linkat's flag is about its first path only.
    #[test]
    fn an_empty_path_names_the_dirfd_only_with_at_empty_path() {
        let mut look = NoLookup;
        let mut f = Files::default();
        f.set_cwd(Some(b"/srv/www".to_vec()));
        let stat = [
            ArgKind::DirFd,
            ArgKind::Path,
            ArgKind::Ptr,
            ArgKind::AtFlags,
        ];
        let flags = |v: i32| Arg::Flags(FlagKind::At("newfstatat"), v as u64);
        let (p, _) = f.paths(
            &mut look,
            1,
            &stat,
            &[Arg::AtFdCwd, s(""), Arg::Ptr(8), flags(0)],
        );
        assert_eq!(p, None);
        let nofollow = flags(libc::AT_SYMLINK_NOFOLLOW);
        let (p, _) = f.paths(
            &mut look,
            1,
            &stat,
            &[Arg::AtFdCwd, s(""), Arg::Ptr(8), nofollow],
        );
        assert_eq!(p, None);
        // From a log: the flags by name.
        let args = [Arg::AtFdCwd, s(""), Arg::Ptr(8), Arg::Sym("0".into())];
        assert_eq!(f.paths(&mut look, 1, &stat, &args).0, None);
        let dir = Arg::Fd(3, Some(b"/etc/ld.so.cache".to_vec()));
        let args = [dir.clone(), s(""), Arg::Ptr(8), flags(libc::AT_EMPTY_PATH)];
        let (p, _) = f.paths(&mut look, 1, &stat, &args);
        assert_eq!(p.as_deref(), Some(&b"/etc/ld.so.cache"[..]));
        let args = [dir, s(""), Arg::Ptr(8), Arg::Sym("AT_EMPTY_PATH".into())];
        let (p, _) = f.paths(&mut look, 1, &stat, &args);
        assert_eq!(p.as_deref(), Some(&b"/etc/ld.so.cache"[..]));
        // openat has no such flag: "" is ENOENT.
        let open = [ArgKind::DirFd, ArgKind::Path, ArgKind::OpenFlags];
        let args = [Arg::AtFdCwd, s(""), Arg::Flags(FlagKind::Open, 0)];
        assert_eq!(f.paths(&mut look, 1, &open, &args).0, None);
        let link = [
            ArgKind::DirFd,
            ArgKind::Path,
            ArgKind::DirFd,
            ArgKind::Path,
            ArgKind::AtFlags,
        ];
        let args = [
            Arg::Fd(4, Some(b"/tmp/f".to_vec())),
            s(""),
            Arg::AtFdCwd,
            s(""),
            Arg::Flags(FlagKind::At("linkat"), libc::AT_EMPTY_PATH as u64),
        ];
        let (p, p2) = f.paths(&mut look, 1, &link, &args);
        assert_eq!((p.as_deref(), p2), (Some(&b"/tmp/f"[..]), None));
    }

    #[test]
    fn unresolved_paths_kept_only_offline() {
        struct Live;
        impl Lookup for Live {}
        let mut f = Files::default();
        assert_eq!(f.resolve(&mut Live, 1, b"x", None), None);
        assert_eq!(
            f.resolve(&mut NoLookup, 1, b"x", None).as_deref(),
            Some(&b"x"[..])
        );
    }
}
