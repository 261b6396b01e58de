//! aarch64 syscall numbers and constants.
//!
//! aarch64 uses the asm-generic syscall table, which has no legacy path calls (open, stat,
//! lstat, access, readlink, rename, mkdir, unlink, chmod, chown, mknod, utime(s), ...), nor
//! dup2, fork or vfork: glibc implements those with the *at variants, dup3 and clone, so
//! the tracer still sees everything through the rows listed here.

/// `AUDIT_ARCH_AARCH64` (`EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`): the value of
/// `ptrace_syscall_info.arch` for a native 64-bit syscall. libc does not export it. A 32-bit
/// (arm) tracee reports `AUDIT_ARCH_ARM` and uses different numbers.
pub const AUDIT_ARCH: u32 = 0xc000_00b7;

/// The kernel's `O_LARGEFILE` bit on arm64 (arch/arm64/include/uapi/asm/fcntl.h, which
/// also moves O_DIRECTORY, O_NOFOLLOW and O_DIRECT). glibc defines `O_LARGEFILE` as 0 on
/// 64-bit targets, so `libc::O_LARGEFILE` cannot be used to decode raw flags.
pub const O_LARGEFILE: u64 = 0o400000;

/// `(number, name)` for every syscall in `SPECS` that exists on aarch64, in number order.
pub const NUMBERS: &[(i64, &str)] = &[
    (libc::SYS_setxattr, "setxattr"),
    (libc::SYS_lsetxattr, "lsetxattr"),
    (libc::SYS_fsetxattr, "fsetxattr"),
    (libc::SYS_getxattr, "getxattr"),
    (libc::SYS_lgetxattr, "lgetxattr"),
    (libc::SYS_fgetxattr, "fgetxattr"),
    (libc::SYS_listxattr, "listxattr"),
    (libc::SYS_llistxattr, "llistxattr"),
    (libc::SYS_flistxattr, "flistxattr"),
    (libc::SYS_removexattr, "removexattr"),
    (libc::SYS_lremovexattr, "lremovexattr"),
    (libc::SYS_fremovexattr, "fremovexattr"),
    (libc::SYS_getcwd, "getcwd"),
    (libc::SYS_dup, "dup"),
    (libc::SYS_dup3, "dup3"),
    (libc::SYS_fcntl, "fcntl"),
    (libc::SYS_inotify_add_watch, "inotify_add_watch"),
    (libc::SYS_mknodat, "mknodat"),
    (libc::SYS_mkdirat, "mkdirat"),
    (libc::SYS_unlinkat, "unlinkat"),
    (libc::SYS_symlinkat, "symlinkat"),
    (libc::SYS_linkat, "linkat"),
    // Defined by libc for LP64 aarch64 only (ILP32 lacks it); reqtrace is LP64-only.
    (libc::SYS_renameat, "renameat"),
    (libc::SYS_umount2, "umount2"),
    (libc::SYS_mount, "mount"),
    (libc::SYS_pivot_root, "pivot_root"),
    (libc::SYS_statfs, "statfs"),
    (libc::SYS_fstatfs, "fstatfs"),
    (libc::SYS_truncate, "truncate"),
    (libc::SYS_ftruncate, "ftruncate"),
    (libc::SYS_faccessat, "faccessat"),
    (libc::SYS_chdir, "chdir"),
    (libc::SYS_fchdir, "fchdir"),
    (libc::SYS_chroot, "chroot"),
    (libc::SYS_fchmod, "fchmod"),
    (libc::SYS_fchmodat, "fchmodat"),
    (libc::SYS_fchownat, "fchownat"),
    (libc::SYS_fchown, "fchown"),
    (libc::SYS_openat, "openat"),
    (libc::SYS_close, "close"),
    (libc::SYS_quotactl, "quotactl"),
    (libc::SYS_read, "read"),
    (libc::SYS_write, "write"),
    (libc::SYS_readv, "readv"),
    (libc::SYS_writev, "writev"),
    (libc::SYS_sendfile, "sendfile"),
    (libc::SYS_readlinkat, "readlinkat"),
    (libc::SYS_newfstatat, "newfstatat"),
    (libc::SYS_fstat, "fstat"),
    (libc::SYS_utimensat, "utimensat"),
    (libc::SYS_acct, "acct"),
    (libc::SYS_exit, "exit"),
    (libc::SYS_exit_group, "exit_group"),
    (libc::SYS_socket, "socket"),
    (libc::SYS_accept, "accept"),
    (libc::SYS_connect, "connect"),
    (libc::SYS_sendto, "sendto"),
    (libc::SYS_recvfrom, "recvfrom"),
    (libc::SYS_sendmsg, "sendmsg"),
    (libc::SYS_recvmsg, "recvmsg"),
    (libc::SYS_clone, "clone"),
    (libc::SYS_execve, "execve"),
    (libc::SYS_swapon, "swapon"),
    (libc::SYS_swapoff, "swapoff"),
    (libc::SYS_accept4, "accept4"),
    (libc::SYS_wait4, "wait4"),
    (libc::SYS_fanotify_mark, "fanotify_mark"),
    (libc::SYS_name_to_handle_at, "name_to_handle_at"),
    (libc::SYS_open_by_handle_at, "open_by_handle_at"),
    (libc::SYS_renameat2, "renameat2"),
    (libc::SYS_execveat, "execveat"),
    (libc::SYS_statx, "statx"),
    (libc::SYS_open_tree, "open_tree"),
    (libc::SYS_move_mount, "move_mount"),
    (libc::SYS_fsconfig, "fsconfig"),
    (libc::SYS_fspick, "fspick"),
    (libc::SYS_clone3, "clone3"),
    (libc::SYS_close_range, "close_range"),
    (libc::SYS_openat2, "openat2"),
    (libc::SYS_faccessat2, "faccessat2"),
    (libc::SYS_mount_setattr, "mount_setattr"),
    // libc 0.2.191 defines SYS_fchmodat2 for x86_64 but not for aarch64. Syscalls numbered
    // 424 and up share one number on every architecture, so 452 is right here too; glibc
    // >= 2.39 calls it for fchmodat(..., AT_SYMLINK_NOFOLLOW).
    (452, "fchmodat2"),
];
