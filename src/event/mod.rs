//! The contract between every event source (the ptrace tracer, the strace-log and
//! recorded-JSON replayers) and the pipeline that correlates, diagnoses and prints: plain
//! data describing what a traced thread did, and the rules every source shares (select.rs:
//! what is shown; capture.rs: which bytes are kept; fds.rs: what paths and fds mean; sink.rs:
//! how events are handed over). Nothing here knows about ptrace, HTTP, colours or JSON.

pub mod capture;
pub mod fds;
pub mod select;
pub mod sink;
pub mod source;

use std::sync::Arc;

use crate::syscalls::{ArgKind, Spec, StatKind, flags};

pub use sink::{EventSink, Hub, SourceEnd};
pub use source::Source;

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
    /// The request the source itself tied this call to (a recording's `request` id); live
    /// sources leave it to the correlator.
    pub request: Option<u64>,
}

impl SyscallEvent {
    /// A call of `spec` (number `nr` on this architecture) by thread `tid` of process `pid`,
    /// not yet decoded: no arguments, no paths, returned 0, not shown. Every source builds
    /// its events from here and fills in what it knows.
    pub fn new(ts: f64, pid: i32, tid: i32, comm: Arc<str>, nr: u64, spec: &Spec) -> Self {
        SyscallEvent {
            ts,
            pid,
            tid,
            comm,
            nr,
            name: spec.name,
            class: spec.class,
            args: Vec::new(),
            path: None,
            path2: None,
            stat_kind: None,
            ret: 0,
            errno: None,
            unfinished: false,
            shown: false,
            socket: false,
            data: None,
            request: None,
        }
    }

    /// Set the result: `ret` as the kernel returned it (negative errno on failure).
    pub fn returned(&mut self, ret: i64, errno: Option<i32>) {
        self.ret = ret;
        self.errno = errno;
    }

    pub fn failed(&self) -> bool {
        self.errno.is_some()
    }
}

/// The stat flavour of a stat-family call from its decoded arguments: glibc >= 2.33 sends
/// stat, lstat and fstat all as newfstatat (AT_SYMLINK_NOFOLLOW means lstat, AT_EMPTY_PATH
/// with an empty path means fstat). The flags are a number from a live source, names from a
/// log; either way `flags::stat_kind` decides.
pub fn stat_kind(spec: &Spec, args: &[Arg]) -> Option<StatKind> {
    let mut raw = [0u64; 6];
    let mut empty_path = false;
    for (i, (kind, arg)) in spec.args.iter().zip(args).enumerate() {
        raw[i] = match arg {
            Arg::Flags(_, v) => *v,
            Arg::Sym(s) if *kind == ArgKind::AtFlags => flags::at_flags_from_names(s),
            _ => 0,
        };
        if *kind == ArgKind::Path {
            empty_path |= matches!(arg, Arg::Str { bytes, .. } if bytes.is_empty());
        }
    }
    flags::stat_kind(spec.name, &raw, empty_path)
}

/// How a traced process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    Code(i32),
    Signal(i32),
}

/// Why a request was finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestEnd {
    /// Not finished yet.
    Open,
    /// Its status line was written and the thread moved on.
    Response,
    /// The next request on the thread began before a response was seen.
    NextRequest,
    ConnectionClosed,
    WorkerExited,
    /// reqtrace stopped (or the input ended) while it was open.
    Detached,
    /// Too many requests were open: the oldest are given up.
    Abandoned,
    /// Read back from a recording that named no (known) reason.
    Recorded,
}

impl RequestEnd {
    pub const ALL: [RequestEnd; 7] = [
        RequestEnd::Response,
        RequestEnd::NextRequest,
        RequestEnd::ConnectionClosed,
        RequestEnd::WorkerExited,
        RequestEnd::Detached,
        RequestEnd::Abandoned,
        RequestEnd::Recorded,
    ];

    /// The name in the JSON `end` field and the human report.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestEnd::Open => "",
            RequestEnd::Response => "response",
            RequestEnd::NextRequest => "next request",
            RequestEnd::ConnectionClosed => "connection closed",
            RequestEnd::WorkerExited => "worker exited",
            RequestEnd::Detached => "detached",
            RequestEnd::Abandoned => "abandoned",
            RequestEnd::Recorded => "recorded",
        }
    }

    /// A recorded name back; one this version does not know is `Recorded`.
    pub fn from_name(s: &str) -> RequestEnd {
        RequestEnd::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .unwrap_or(RequestEnd::Recorded)
    }
}

/// How a source ended: the reason printed in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every traced process exited.
    AllExited,
    /// Detached on a signal (its number).
    Signal(i32),
    /// `--duration` reached.
    Duration,
    /// The output was closed (`| head`).
    OutputClosed,
    /// Every `--probe` got its record.
    ProbesDone,
    /// `--count` requests were reported.
    CountReached,
    /// A recording or log was read to its end.
    EndOfInput,
    /// Tracing failed after attaching (waitpid failed, a tracer thread died); what was
    /// traced was let go.
    TracingFailed,
}

impl End {
    pub fn text(self) -> String {
        match self {
            End::Duration => "duration reached, detached".into(),
            End::OutputClosed => "output closed, detached".into(),
            End::ProbesDone => "probes done, detached".into(),
            End::CountReached => "--count reached, detached".into(),
            End::Signal(sig) => format!("signal {sig} received, detached"),
            End::AllExited => "all traced processes exited".into(),
            End::EndOfInput => "end of input".into(),
            End::TracingFailed => "tracing failed".into(),
        }
    }
}

/// What a recording said of a request beyond its line and status (its suspects and notes):
/// carried through correlation untouched, for the diagnosis to fall back on. Opaque here on
/// purpose: the event contract and the correlator know nothing of diagnosis; the source that
/// made it and the diagnoser that reads it agree on the type inside.
#[derive(Clone)]
pub struct Verdict(pub Arc<dyn std::any::Any + Send + Sync>);

impl std::fmt::Debug for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verdict(..)")
    }
}

/// A request a source knows whole (a recording): its line, status and timing as recorded.
/// Its calls are the syscall events the source tagged with the same `id` before it.
#[derive(Debug, Clone)]
pub struct Announced {
    pub id: u64,
    pub pid: i32,
    pub tid: i32,
    pub method: Option<String>,
    pub target: Option<Bytes>,
    pub host: Option<Bytes>,
    pub status: Option<u16>,
    pub partial: bool,
    /// Why its request line was malformed, as recorded.
    pub malformed: Option<String>,
    pub start_ts: f64,
    pub end_ts: f64,
    pub end: RequestEnd,
    /// File syscalls and failures as counted by the recorder (it saw calls it did not print).
    pub syscalls: Option<u64>,
    pub failed: Option<u64>,
    pub verdict: Option<Verdict>,
    /// What the server logged for it, as recorded, and how many more lines it logged.
    pub logged: Vec<Logged>,
    pub logged_more: u64,
    /// Its FastCGI backend, as recorded.
    pub backend: Option<Backend>,
}

/// The FastCGI backend that served a request's script: its worker and what the web server
/// asked it for.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub pid: i32,
    pub tid: i32,
    /// Its command name (`php-fpm8.2`).
    pub comm: Arc<str>,
    /// As sent (Apache's `proxy:fcgi://HOST` prefix included), when the capture held it.
    pub script_filename: Option<Bytes>,
}

/// A line the server wrote to its error log while serving a request (the first
/// `capture::ERROR_LOG_CAP` bytes of its write), as written: redacted when printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub pid: i32,
    pub ts: f64,
    pub line: Bytes,
}

/// Everything a source reports.
#[derive(Debug, Clone)]
pub enum Event {
    Syscall(Box<SyscallEvent>),
    /// A request known whole to the source (`reqtrace analyze` of a recording).
    Request(Box<Announced>),
    /// `count` events were lost before this point (the pipeline fell behind).
    Lost {
        count: u64,
    },
    /// A process made its first syscall through another ABI than the native one: a 32-bit
    /// call (`int 0x80`, or a 32-bit program, on x86_64; arm32 on aarch64), numbered in
    /// another table and not decoded. Sent once per process; how many such calls there were
    /// comes with the source's end (`SourceEnd::compat`).
    Compat {
        ts: f64,
        pid: i32,
        tid: i32,
        comm: Arc<str>,
    },
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
