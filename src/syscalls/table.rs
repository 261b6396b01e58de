//! The syscall table: one [`Spec`] row per syscall reqtrace decodes (strace's `%file` set on
//! x86_64, plus the fd/cwd-tracking, network and process rows the tracer needs), the mapping
//! from this architecture's syscall numbers to those rows ([`Catalogue`]), and the `--trace`
//! class words.
//!
//! Rows are keyed by name, not number, so one table serves every architecture: the numbers
//! come from [`crate::arch::NUMBERS`]. A row whose syscall does not exist on the running
//! architecture (open, stat, ... on aarch64) is simply never looked up by number.

use super::ArgKind::{self, *};
use super::Spec;
use super::class::{DESC, EXEC, FILE, FSTAT, HTTP, LSTAT, NET, PROCESS, STAT, STATFS, TRACK};

const fn row(name: &'static str, class: u32, args: &'static [ArgKind]) -> Spec {
    Spec { name, class, args }
}

/// newfstatat and statx can be any of stat, lstat or fstat depending on their flags (since
/// glibc 2.33 all three are implemented with newfstatat), so they carry all three classes and
/// the tracer narrows them per call with [`super::flags::stat_kind`].
const STAT_ANY: u32 = STAT | LSTAT | FSTAT;

/// Every syscall reqtrace knows. Argument kinds follow the kernel prototypes (include/linux/
/// syscalls.h) in order; trailing arguments the kernel ignores are left out.
// One row per line so the table reads as a table; rustfmt would split the longer ones.
#[rustfmt::skip]
pub static SPECS: &[Spec] = &[
    // Opening files.
    row("open", DESC | FILE, &[Path, OpenFlags, Mode]),
    row("openat", DESC | FILE, &[DirFd, Path, OpenFlags, Mode]),
    row("openat2", DESC | FILE, &[DirFd, Path, OpenHow, Size]),
    row("creat", DESC | FILE, &[Path, Mode]),
    row("name_to_handle_at", DESC | FILE, &[DirFd, Path, Ptr, Ptr, AtFlags]),
    row("open_by_handle_at", DESC, &[Fd, Ptr, OpenFlags]),
    // stat family.
    row("stat", FILE | STAT, &[Path, Ptr]),
    row("lstat", FILE | LSTAT, &[Path, Ptr]),
    row("fstat", DESC | FSTAT, &[Fd, Ptr]),
    row("newfstatat", DESC | FILE | STAT_ANY, &[DirFd, Path, Ptr, AtFlags]),
    row("statx", DESC | FILE | STAT_ANY, &[DirFd, Path, AtFlags, StatxMask, Ptr]),
    // statfs family: strace splits %statfs and %fstatfs; reqtrace has one class for both.
    row("statfs", FILE | STATFS, &[Path, Ptr]),
    row("fstatfs", DESC | STATFS, &[Fd, Ptr]),
    // Permission checks and symlinks.
    row("access", FILE, &[Path, AccessMode]),
    row("faccessat", DESC | FILE, &[DirFd, Path, AccessMode]),
    row("faccessat2", DESC | FILE, &[DirFd, Path, AccessMode, AtFlags]),
    row("readlink", FILE, &[Path, OutStr, Size]),
    row("readlinkat", DESC | FILE, &[DirFd, Path, OutStr, Size]),
    // Program execution: a successful exec closes O_CLOEXEC fds, hence TRACK.
    row("execve", FILE | EXEC | PROCESS | TRACK, &[Path, StrArray, Ptr]),
    row("execveat", DESC | FILE | EXEC | PROCESS | TRACK, &[DirFd, Path, StrArray, Ptr, AtFlags]),
    // Working directory: chdir/fchdir change what relative paths mean, hence TRACK.
    row("chdir", FILE | TRACK, &[Path]),
    row("fchdir", DESC | TRACK, &[Fd]),
    row("getcwd", FILE, &[OutStr, Size]),
    row("chroot", FILE | TRACK, &[Path]),
    // Size.
    row("truncate", FILE, &[Path, Int]),
    row("ftruncate", DESC, &[Fd, Int]),
    // Directory entries.
    row("rename", FILE, &[Path, Path]),
    row("renameat", DESC | FILE, &[DirFd, Path, DirFd, Path]),
    row("renameat2", DESC | FILE, &[DirFd, Path, DirFd, Path, RenameFlags]),
    row("mkdir", FILE, &[Path, Mode]),
    row("mkdirat", DESC | FILE, &[DirFd, Path, Mode]),
    row("rmdir", FILE, &[Path]),
    row("unlink", FILE, &[Path]),
    row("unlinkat", DESC | FILE, &[DirFd, Path, AtFlags]),
    row("link", FILE, &[Path, Path]),
    row("linkat", DESC | FILE, &[DirFd, Path, DirFd, Path, AtFlags]),
    // The symlink target is stored verbatim, never resolved: Str, not Path.
    row("symlink", FILE, &[Str, Path]),
    row("symlinkat", DESC | FILE, &[Str, DirFd, Path]),
    row("mknod", FILE, &[Path, ModeType, Dev]),
    row("mknodat", DESC | FILE, &[DirFd, Path, ModeType, Dev]),
    // Ownership and permissions.
    row("chmod", FILE, &[Path, Mode]),
    row("fchmod", DESC, &[Fd, Mode]),
    row("fchmodat", DESC | FILE, &[DirFd, Path, Mode]),
    row("fchmodat2", DESC | FILE, &[DirFd, Path, Mode, AtFlags]),
    row("chown", FILE, &[Path, Id, Id]),
    row("lchown", FILE, &[Path, Id, Id]),
    row("fchown", DESC, &[Fd, Id, Id]),
    row("fchownat", DESC | FILE, &[DirFd, Path, Id, Id, AtFlags]),
    // Timestamps.
    row("utime", FILE, &[Path, Ptr]),
    row("utimes", FILE, &[Path, Ptr]),
    row("futimesat", DESC | FILE, &[DirFd, Path, Ptr]),
    row("utimensat", DESC | FILE, &[DirFd, Path, Ptr, AtFlags]),
    // Extended attributes.
    row("setxattr", FILE, &[Path, Str, Ptr, Size, Hex]),
    row("lsetxattr", FILE, &[Path, Str, Ptr, Size, Hex]),
    row("fsetxattr", DESC, &[Fd, Str, Ptr, Size, Hex]),
    row("getxattr", FILE, &[Path, Str, Ptr, Size]),
    row("lgetxattr", FILE, &[Path, Str, Ptr, Size]),
    row("fgetxattr", DESC, &[Fd, Str, Ptr, Size]),
    row("listxattr", FILE, &[Path, Ptr, Size]),
    row("llistxattr", FILE, &[Path, Ptr, Size]),
    row("flistxattr", DESC, &[Fd, Ptr, Size]),
    row("removexattr", FILE, &[Path, Str]),
    row("lremovexattr", FILE, &[Path, Str]),
    row("fremovexattr", DESC, &[Fd, Str]),
    // Mounts, swap, accounting and other administrative calls that take a path.
    row("mount", FILE, &[Str, Path, Str, Hex, Ptr]),
    row("umount2", FILE, &[Path, Hex]),
    row("pivot_root", FILE, &[Path, Path]),
    row("open_tree", DESC | FILE, &[DirFd, Path, Hex]),
    row("move_mount", DESC | FILE, &[DirFd, Path, DirFd, Path, Hex]),
    row("fspick", DESC | FILE, &[DirFd, Path, Hex]),
    row("fsconfig", DESC | FILE, &[Fd, Int, Str, Ptr, Int]),
    row("mount_setattr", DESC | FILE, &[DirFd, Path, AtFlags, Ptr, Size]),
    row("swapon", FILE, &[Path, Hex]),
    row("swapoff", FILE, &[Path]),
    row("acct", FILE, &[Path]),
    row("quotactl", FILE, &[Hex, Path, Id, Ptr]),
    row("uselib", FILE, &[Path]),
    row("inotify_add_watch", DESC | FILE, &[Fd, Path, Hex]),
    row("fanotify_mark", DESC | FILE, &[Fd, Hex, Hex, DirFd, Path]),
    // Descriptor table changes: the tracer must see these to keep fd -> path knowledge right.
    row("close", DESC | TRACK | HTTP, &[Fd]),
    row("close_range", DESC | TRACK, &[Fd, Fd, Hex]),
    row("dup", DESC | TRACK, &[Fd]),
    row("dup2", DESC | TRACK, &[Fd, Fd]),
    row("dup3", DESC | TRACK, &[Fd, Fd, OpenFlags]),
    row("fcntl", DESC | TRACK, &[Fd, FcntlCmd, Int]),
    // Plain I/O: kept for request/response correlation, not in any path class.
    row("read", DESC | HTTP, &[Fd, Ptr, Size]),
    row("write", DESC | HTTP, &[Fd, Ptr, Size]),
    row("readv", DESC | HTTP, &[Fd, Ptr, Size]),
    row("writev", DESC | HTTP, &[Fd, Ptr, Size]),
    // Network.
    row("socket", NET | DESC, &[Int, Int, Int]),
    row("connect", NET | DESC, &[Fd, Ptr, Size]),
    row("accept", NET | DESC | HTTP, &[Fd, Ptr, Ptr]),
    row("accept4", NET | DESC | HTTP, &[Fd, Ptr, Ptr, Hex]),
    row("sendto", NET | DESC | HTTP, &[Fd, Ptr, Size, Hex, Ptr, Size]),
    row("recvfrom", NET | DESC | HTTP, &[Fd, Ptr, Size, Hex, Ptr, Ptr]),
    row("sendmsg", NET | DESC | HTTP, &[Fd, Ptr, Hex]),
    row("recvmsg", NET | DESC | HTTP, &[Fd, Ptr, Hex]),
    row("sendfile", NET | DESC | HTTP, &[Fd, Fd, Ptr, Size]),
    // Process life cycle. clone's last two arguments are swapped between x86_64 (child_tid,
    // tls) and aarch64 (tls, child_tid); both are addresses, so Ptr fits either order.
    row("clone", PROCESS, &[Hex, Ptr, Ptr, Ptr, Ptr]),
    row("clone3", PROCESS, &[Ptr, Size]),
    row("fork", PROCESS, &[]),
    row("vfork", PROCESS, &[]),
    row("exit", PROCESS, &[Int]),
    row("exit_group", PROCESS, &[Int]),
    row("wait4", PROCESS, &[Int, Ptr, Hex, Ptr]),
];

/// The row for `name`, whether or not that syscall exists on this architecture.
///
/// A linear scan: the table is ~100 rows and this is only used while building the
/// [`Catalogue`] and parsing the command line; per-stop lookups go through
/// [`Catalogue::get`].
pub fn by_name(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name == name)
}

/// The class bits a `--trace` word selects: `file`, `stat` (stat, lstat and fstat flavours
/// together, like strace's `%%stat`), `lstat`, `fstat`, `statfs`, `desc`, `exec`, `net` or
/// `network`, `process`. strace's `%file` / `%%stat` spellings are accepted too.
pub fn class_by_name(name: &str) -> Option<u32> {
    // strace writes classes as %file; %%stat is its "every stat-like call" class.
    let word = name
        .strip_prefix("%%")
        .or_else(|| name.strip_prefix('%'))
        .unwrap_or(name);
    Some(match word {
        "file" => FILE,
        "stat" => STAT | LSTAT | FSTAT,
        "lstat" => LSTAT,
        "fstat" => FSTAT,
        "statfs" => STATFS,
        "desc" => DESC,
        "exec" => EXEC,
        "net" | "network" => NET,
        "process" => PROCESS,
        _ => return None,
    })
}

/// The syscalls of the running architecture that reqtrace knows, indexed by number.
///
/// Built once at start-up; [`Catalogue::get`] is then a bounds check and an index, which
/// matters because it runs on every syscall stop.
pub struct Catalogue {
    /// `by_nr[nr]` is the row for syscall number `nr`, if reqtrace knows it.
    by_nr: Vec<Option<&'static Spec>>,
}

impl Catalogue {
    /// Joins [`crate::arch::NUMBERS`] with [`SPECS`]. A number whose name has no row is
    /// skipped (the unit tests make sure there is none).
    pub fn new() -> Catalogue {
        let len = crate::arch::NUMBERS
            .iter()
            .map(|&(nr, _)| nr as usize + 1)
            .max()
            .unwrap_or(0);
        let mut by_nr = vec![None; len];
        for &(nr, name) in crate::arch::NUMBERS {
            if let Some(spec) = by_name(name) {
                by_nr[nr as usize] = Some(spec);
            }
        }
        Catalogue { by_nr }
    }

    /// The row for syscall number `nr` (as found in `ptrace_syscall_info.entry.nr`), or
    /// `None` for a syscall reqtrace does not decode.
    pub fn get(&self, nr: u64) -> Option<&'static Spec> {
        usize::try_from(nr)
            .ok()
            .and_then(|i| self.by_nr.get(i).copied().flatten())
    }

    /// This architecture's number for syscall `name`, or `None` if it has no such syscall
    /// (e.g. `open` on aarch64) or reqtrace does not know it.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.iter().find(|(_, s)| s.name == name).map(|(nr, _)| nr)
    }

    /// Every known syscall of this architecture with its number, in number order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &'static Spec)> {
        self.by_nr
            .iter()
            .enumerate()
            .filter_map(|(nr, s)| s.map(|s| (nr as u64, s)))
    }
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::NUMBERS;
    use std::collections::HashSet;

    #[test]
    fn every_number_has_a_row() {
        for &(nr, name) in NUMBERS {
            assert!(by_name(name).is_some(), "{name} ({nr}) has no SPECS row");
        }
    }

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for s in SPECS {
            assert!(seen.insert(s.name), "duplicate SPECS row {}", s.name);
        }
        let mut seen = HashSet::new();
        let mut nrs = HashSet::new();
        for &(nr, name) in NUMBERS {
            assert!(seen.insert(name), "duplicate NUMBERS name {name}");
            assert!(nrs.insert(nr), "duplicate NUMBERS number {nr}");
            assert!(nr >= 0, "negative number for {name}");
        }
    }

    #[test]
    fn at_most_six_args() {
        for s in SPECS {
            assert!(s.args.len() <= 6, "{} has {} args", s.name, s.args.len());
        }
    }

    #[test]
    fn catalogue_lookups() {
        let cat = Catalogue::new();
        assert_eq!(cat.get(libc::SYS_openat as u64).unwrap().name, "openat");
        assert_eq!(cat.get(libc::SYS_close as u64).unwrap().name, "close");
        assert_eq!(cat.get(libc::SYS_execve as u64).unwrap().name, "execve");
        assert_eq!(cat.number("openat"), Some(libc::SYS_openat as u64));
        assert_eq!(cat.number("newfstatat"), Some(libc::SYS_newfstatat as u64));
        assert_eq!(cat.number("no_such_call"), None);
        assert!(cat.get(u64::MAX).is_none());
        assert!(cat.get(100_000).is_none());
        assert_eq!(cat.iter().count(), NUMBERS.len());
        // Every number maps back to the row of its own name.
        for (nr, spec) in cat.iter() {
            assert_eq!(cat.number(spec.name), Some(nr));
        }
    }

    #[test]
    fn numbers_match_libc() {
        let cat = Catalogue::new();
        let expect: &[(i64, &str)] = &[
            (libc::SYS_read, "read"),
            (libc::SYS_write, "write"),
            (libc::SYS_close, "close"),
            (libc::SYS_openat, "openat"),
            (libc::SYS_openat2, "openat2"),
            (libc::SYS_newfstatat, "newfstatat"),
            (libc::SYS_statx, "statx"),
            (libc::SYS_readlinkat, "readlinkat"),
            (libc::SYS_execve, "execve"),
            (libc::SYS_execveat, "execveat"),
            (libc::SYS_chdir, "chdir"),
            (libc::SYS_fchdir, "fchdir"),
            (libc::SYS_dup3, "dup3"),
            (libc::SYS_fcntl, "fcntl"),
            (libc::SYS_close_range, "close_range"),
            (libc::SYS_unlinkat, "unlinkat"),
            (libc::SYS_socket, "socket"),
            (libc::SYS_connect, "connect"),
            (libc::SYS_clone, "clone"),
            (libc::SYS_clone3, "clone3"),
            (libc::SYS_exit_group, "exit_group"),
            (libc::SYS_wait4, "wait4"),
        ];
        for &(nr, name) in expect {
            assert_eq!(cat.number(name), Some(nr as u64), "{name}");
            assert_eq!(cat.get(nr as u64).map(|s| s.name), Some(name));
        }
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(cat.number("open"), Some(libc::SYS_open as u64));
            assert_eq!(cat.number("stat"), Some(libc::SYS_stat as u64));
            assert_eq!(cat.number("fork"), Some(libc::SYS_fork as u64));
        }
        #[cfg(target_arch = "aarch64")]
        {
            assert_eq!(cat.number("open"), None);
            assert_eq!(cat.number("stat"), None);
        }
    }

    #[test]
    fn arg_shapes() {
        let s = by_name("openat").unwrap();
        assert_eq!(s.args, &[DirFd, Path, OpenFlags, Mode]);
        assert_eq!(by_name("statx").unwrap().args[2], AtFlags);
        assert_eq!(by_name("newfstatat").unwrap().args[3], AtFlags);
        assert_eq!(by_name("symlinkat").unwrap().args, &[Str, DirFd, Path]);
        // A Path must never be preceded by a DirFd it does not belong to, and every DirFd is
        // followed by its Path, except fanotify_mark whose path is optional but still paired.
        for s in SPECS {
            for (i, k) in s.args.iter().enumerate() {
                if *k == DirFd {
                    assert_eq!(
                        s.args.get(i + 1),
                        Some(&Path),
                        "{}: DirFd without Path",
                        s.name
                    );
                }
            }
        }
    }

    #[test]
    fn classes() {
        assert_eq!(class_by_name("file"), Some(FILE));
        assert_eq!(class_by_name("%file"), Some(FILE));
        assert_eq!(class_by_name("stat"), Some(STAT | LSTAT | FSTAT));
        assert_eq!(class_by_name("%%stat"), Some(STAT | LSTAT | FSTAT));
        assert_eq!(class_by_name("lstat"), Some(LSTAT));
        assert_eq!(class_by_name("%fstat"), Some(FSTAT));
        assert_eq!(class_by_name("statfs"), Some(STATFS));
        assert_eq!(class_by_name("desc"), Some(DESC));
        assert_eq!(class_by_name("exec"), Some(EXEC));
        assert_eq!(class_by_name("net"), Some(NET));
        assert_eq!(class_by_name("%network"), Some(NET));
        assert_eq!(class_by_name("process"), Some(PROCESS));
        assert_eq!(class_by_name("bogus"), None);
        assert_eq!(class_by_name("%"), None);
        assert_eq!(class_by_name(""), None);

        // Every row that takes a path is in FILE, and every TRACK row is the brief's list.
        for s in SPECS {
            if s.args.contains(&Path) {
                assert!(
                    s.class & FILE != 0,
                    "{} takes a path but is not FILE",
                    s.name
                );
            }
        }
        let track: Vec<&str> = SPECS
            .iter()
            .filter(|s| s.class & TRACK != 0)
            .map(|s| s.name)
            .collect();
        assert_eq!(
            track,
            [
                "execve",
                "execveat",
                "chdir",
                "fchdir",
                "chroot",
                "close",
                "close_range",
                "dup",
                "dup2",
                "dup3",
                "fcntl"
            ]
        );
        assert!(by_name("read").unwrap().class == DESC | HTTP);
        assert!(by_name("newfstatat").unwrap().class & STAT != 0);
    }
}
