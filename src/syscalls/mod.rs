//! The syscall catalogue: which syscalls reqtrace knows, what class each belongs to, and how
//! each argument is to be decoded. Pure data plus small pure decoders (flags, errno names);
//! nothing here touches ptrace or formats output.

pub mod errno;
pub mod flags;
pub mod path;
pub mod table;

/// Classes a syscall belongs to (a bit set), selectable with `--trace`.
pub mod class {
    /// Takes a file name argument (strace's `%file`).
    pub const FILE: u32 = 1 << 0;
    /// stat family: stat, newfstatat, statx (strace's `%stat`).
    pub const STAT: u32 = 1 << 1;
    /// lstat family (strace's `%lstat`).
    pub const LSTAT: u32 = 1 << 2;
    /// fstat family (strace's `%fstat`).
    pub const FSTAT: u32 = 1 << 3;
    /// statfs family (strace's `%statfs`).
    pub const STATFS: u32 = 1 << 4;
    /// Takes or returns a file descriptor (strace's `%desc`).
    pub const DESC: u32 = 1 << 5;
    /// Program execution: execve, execveat.
    pub const EXEC: u32 = 1 << 6;
    /// Network: socket, accept, connect, send/recv families (strace's `%net`).
    pub const NET: u32 = 1 << 7;
    /// Process life cycle: fork, clone, exit, wait (strace's `%process`).
    pub const PROCESS: u32 = 1 << 8;
    /// Changes what a path or fd means for later calls (close, dup, chdir, fcntl F_DUPFD, ...):
    /// always stopped on by the tracer, printed only when another class selects it.
    pub const TRACK: u32 = 1 << 9;
    /// Socket I/O the HTTP correlator watches (accept, read/recv, write/send, close):
    /// stopped on when correlating, printed only when another class selects it.
    pub const HTTP: u32 = 1 << 10;
    /// Every class whose calls name a file or its metadata: the calls that belong to the
    /// request a thread is serving.
    pub const FILES: u32 = FILE | STAT | LSTAT | FSTAT;
}

/// How one argument of a syscall is decoded. Paired kinds (`DirFd` then `Path`) are resolved
/// together: a `Path` right after a `DirFd` is relative to it, otherwise to the cwd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// Signed integer shown in decimal.
    Int,
    /// Unsigned size or count shown in decimal.
    Size,
    /// A file descriptor (shown with its path when known).
    Fd,
    /// A directory fd for *at calls: AT_FDCWD (-100) is shown by name.
    DirFd,
    /// A NUL-terminated path name read from the tracee, resolved to an absolute path.
    Path,
    /// A NUL-terminated string that is not resolved (symlink contents, xattr names).
    Str,
    /// A pointer to memory the kernel fills (stat buffer, ...): shown as an address.
    Ptr,
    /// Output buffer filled with a string of `ret` bytes at exit (readlink, getcwd).
    OutStr,
    /// open(2)/openat(2) flags: O_RDONLY|O_CLOEXEC...
    OpenFlags,
    /// File mode bits, shown in octal (0644).
    Mode,
    /// mknod mode: file type plus permission bits (S_IFIFO|0644).
    ModeType,
    /// AT_* flags (AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH, AT_REMOVEDIR, ...).
    AtFlags,
    /// access(2) mode: F_OK or R_OK|W_OK|X_OK.
    AccessMode,
    /// statx(2) mask: STATX_TYPE|STATX_MODE... (STATX_BASIC_STATS, STATX_ALL).
    StatxMask,
    /// renameat2(2) flags: RENAME_NOREPLACE|RENAME_EXCHANGE|RENAME_WHITEOUT.
    RenameFlags,
    /// Pointer to struct open_how (openat2): flags, mode, resolve.
    OpenHow,
    /// NULL-terminated array of string pointers (execve argv).
    StrArray,
    /// A user or group id: -1 (0xffffffff) is shown as -1.
    Id,
    /// fcntl(2) command: F_DUPFD, F_GETFL...
    FcntlCmd,
    /// umount2 flags, xattr flags and other rare bit sets: shown in hex.
    Hex,
    /// A device number (mknod): makedev(major, minor).
    Dev,
}

/// One row of the catalogue: a syscall's name, classes and argument kinds.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub class: u32,
    pub args: &'static [ArgKind],
}

/// Flavour of a stat-family call, decided from its name and flags: glibc >= 2.33 sends
/// stat, lstat and fstat all as newfstatat (AT_SYMLINK_NOFOLLOW means lstat, AT_EMPTY_PATH
/// with an empty path means fstat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKind {
    Stat,
    Lstat,
    Fstat,
}

impl StatKind {
    /// From the name `as_str` gives (a recording's `stat_kind`).
    pub fn from_name(name: &str) -> Option<StatKind> {
        [StatKind::Stat, StatKind::Lstat, StatKind::Fstat]
            .into_iter()
            .find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatKind::Stat => "stat",
            StatKind::Lstat => "lstat",
            StatKind::Fstat => "fstat",
        }
    }
}
