//! The contract between the tracer and everything downstream (printers, and later the HTTP
//! correlator): plain data describing what a traced thread did. Nothing here knows about
//! ptrace, colours or JSON.

use std::sync::Arc;

use crate::syscalls::StatKind;

/// Raw bytes from the tracee (paths are bytes on Linux, not necessarily UTF-8).
pub type Bytes = Vec<u8>;

/// One decoded argument. Printers decide how each looks.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A signed number (sizes, counts, plain ints).
    Int(i64),
    /// A file descriptor, with the path it referred to at the time of the call when known.
    Fd(i32, Option<Bytes>),
    /// The special dirfd AT_FDCWD.
    AtFdCwd,
    /// A string read from the tracee; `truncated` when it had no NUL within the read limit.
    Str { bytes: Bytes, truncated: bool },
    /// A string pointer that could not be read (unmapped, or the tracee is gone).
    Unreadable(u64),
    /// A NULL pointer.
    Null,
    /// A pointer shown as an address (stat buffers and other out-parameters).
    Ptr(u64),
    /// Symbolic flags, a mode or a command already decoded to names: `O_RDONLY|O_CLOEXEC`, `0644`
    /// (what a recorded trace or an strace log gives).
    Sym(String),
    /// A flag word or mode as the tracee passed it, named only when printed (`Arg::sym`): most
    /// decoded calls are never printed, only correlated.
    Flags(FlagKind, u64),
    /// An array of strings (execve argv); `more` when it was cut short.
    StrArray { items: Vec<Bytes>, more: bool },
}

/// How a [`Arg::Flags`] value is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    Open,
    Mode,
    ModeType,
    /// AT_* flags, whose shared bits mean different things per syscall (its name).
    At(&'static str),
    Access,
    StatxMask,
    Rename,
    FcntlCmd,
    Hex,
    Dev,
}

impl Arg {
    /// The symbolic text of a `Sym` or `Flags` argument: `O_RDONLY|O_CLOEXEC`, `0644`.
    pub fn sym(&self) -> Option<std::borrow::Cow<'_, str>> {
        use crate::syscalls::flags;
        use std::borrow::Cow;
        match self {
            Arg::Sym(s) => Some(Cow::Borrowed(s)),
            Arg::Flags(kind, v) => Some(Cow::Owned(match *kind {
                FlagKind::Open => flags::open_flags(*v),
                FlagKind::Mode => flags::mode(*v),
                FlagKind::ModeType => flags::mode_type(*v),
                FlagKind::At(name) => flags::at_flags_for(name, *v),
                FlagKind::Access => flags::access_mode(*v),
                FlagKind::StatxMask => flags::statx_mask(*v),
                FlagKind::Rename => flags::rename_flags(*v),
                FlagKind::FcntlCmd => flags::fcntl_cmd(*v),
                FlagKind::Hex => flags::hex(*v),
                FlagKind::Dev => flags::dev(*v),
            })),
            _ => None,
        }
    }
}

/// A completed (or cut short) system call of a traced thread.
#[derive(Debug, Clone)]
pub struct SyscallEvent {
    /// Wall-clock time of the syscall's return, seconds since the Unix epoch.
    pub ts: f64,
    pub pid: i32,
    pub tid: i32,
    pub comm: Arc<str>,
    /// Syscall number and name as the kernel saw them.
    pub nr: u64,
    pub name: &'static str,
    /// Class bits of the syscall (see `syscalls::class`).
    pub class: u32,
    pub args: Vec<Arg>,
    /// The primary path, absolute, resolved against dirfd/cwd/root at the time of the call.
    pub path: Option<Bytes>,
    /// The second path of two-path calls (rename, link), absolute.
    pub path2: Option<Bytes>,
    /// stat / lstat / fstat, for stat-family calls.
    pub stat_kind: Option<StatKind>,
    /// The return value; negative errno on failure.
    pub ret: i64,
    /// The errno on failure (ret in [-4095, -1], or the kernel's is_error).
    pub errno: Option<i32>,
    /// The thread's syscall exit was never seen (it exited, exec'd or we detached).
    pub unfinished: bool,
    /// Selected for printing by `--trace` / `--failed`; other events are only for the
    /// correlator.
    pub shown: bool,
    /// Socket I/O: the fd is a socket (reads and writes the correlator watches).
    pub socket: bool,
    /// The first bytes moved by a socket read/write (a request line, a status line) or an
    /// access-log write. Never printed: it may hold what a client sent.
    pub data: Option<Bytes>,
}

impl SyscallEvent {
    pub fn failed(&self) -> bool {
        self.errno.is_some()
    }
}

/// How a traced process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    Code(i32),
    Signal(i32),
}

/// Everything the tracer reports.
#[derive(Debug, Clone)]
pub enum Event {
    Syscall(Box<SyscallEvent>),
    /// A thread or process began to be traced (attached, forked, cloned).
    Started {
        ts: f64,
        pid: i32,
        tid: i32,
        parent: Option<i32>,
    },
    /// A thread called exec; `former_tid` is the tid it had before (non-leader exec).
    Exec {
        ts: f64,
        pid: i32,
        tid: i32,
        former_tid: i32,
    },
    /// A thread exited or was killed.
    Exited {
        ts: f64,
        pid: i32,
        tid: i32,
        how: ExitKind,
    },
}

/// Seconds since the Unix epoch, as f64 (microsecond resolution is what matters).
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
