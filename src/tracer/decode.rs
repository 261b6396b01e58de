//! Decoding a syscall stop into data: at entry, read and resolve every argument (paths must be
//! read before the call runs: execve replaces the memory, chdir changes what a relative path
//! meant); at exit, fill the out-parameters (readlink, getcwd), keep the first bytes of
//! socket I/O, and keep the process's fd/cwd knowledge true (the shared rules of event::fds
//! and event::capture). Returns data; printers do the formatting.

use crate::event::capture::{self, Io};
use crate::event::fds::Files;
use crate::event::{self, Arg, FlagKind};
use crate::syscalls::{ArgKind, Spec, class, flags};

use super::memory::Memory;
use super::state::{Pending, ProcLookup};

/// At most this many execve argv entries are read.
const MAX_ARGV: usize = 32;

/// A syscall as PTRACE_GET_SYSCALL_INFO reported it at entry, and whether it is printed.
pub struct Call {
    pub nr: u64,
    pub spec: &'static Spec,
    pub raw: [u64; 6],
    pub print: bool,
}

/// Decode the arguments of a syscall at its entry stop; the paths it names are resolved by
/// the shared fd/cwd table (event::fds), asking /proc on a miss.
pub fn entry<M: Memory>(mem: &mut M, files: &mut Files, pid: i32, tid: i32, call: Call) -> Pending {
    let Call {
        nr,
        spec,
        raw,
        print,
    } = call;
    let look = &mut ProcLookup;
    let mut args = Vec::with_capacity(spec.args.len());
    for (i, kind) in spec.args.iter().enumerate() {
        let v = raw[i];
        let arg = match kind {
            ArgKind::Int | ArgKind::Size => Arg::Int(v as i64),
            ArgKind::Fd => {
                let fd = v as i32;
                Arg::Fd(fd, files.fd(look, pid, fd).map(<[u8]>::to_vec))
            }
            ArgKind::DirFd => {
                let fd = v as i32;
                if fd == libc::AT_FDCWD {
                    Arg::AtFdCwd
                } else {
                    Arg::Fd(fd, files.fd(look, pid, fd).map(<[u8]>::to_vec))
                }
            }
            ArgKind::Path | ArgKind::Str => read_str(mem, tid, v),
            ArgKind::Ptr | ArgKind::OutStr => ptr(v),
            // Named by the printer, if the call is printed at all.
            ArgKind::OpenFlags => Arg::Flags(FlagKind::Open, v),
            ArgKind::Mode => Arg::Flags(FlagKind::Mode, v),
            ArgKind::ModeType => Arg::Flags(FlagKind::ModeType, v),
            ArgKind::AtFlags => Arg::Flags(FlagKind::At(spec.name), v),
            ArgKind::AccessMode => Arg::Flags(FlagKind::Access, v),
            ArgKind::StatxMask => Arg::Flags(FlagKind::StatxMask, v),
            ArgKind::RenameFlags => Arg::Flags(FlagKind::Rename, v),
            ArgKind::FcntlCmd => Arg::Flags(FlagKind::FcntlCmd, v),
            ArgKind::Hex => Arg::Flags(FlagKind::Hex, v),
            ArgKind::Id => Arg::Int(if v as u32 == u32::MAX {
                -1
            } else {
                v as u32 as i64
            }),
            ArgKind::Dev => Arg::Flags(FlagKind::Dev, v),
            ArgKind::OpenHow => open_how(mem, tid, v),
            ArgKind::StrArray => str_array(mem, tid, v),
        };
        args.push(arg);
    }
    let (path, path2) = files.paths(look, pid, spec.args, &args);
    let stat_kind = event::stat_kind(spec, &args);
    // Like strace, show open's mode only when the kernel reads it (O_CREAT, O_TMPFILE).
    if matches!(spec.name, "open" | "openat") {
        let flags = raw[if spec.name == "open" { 1 } else { 2 }] as i32;
        // O_TMPFILE includes the O_DIRECTORY bit: compare the whole value.
        if flags & libc::O_CREAT == 0 && flags & libc::O_TMPFILE != libc::O_TMPFILE {
            args.pop();
        }
    }
    Pending {
        nr,
        spec,
        raw,
        args,
        stat_kind,
        path,
        path2,
        print,
        socket: false,
        data: None,
    }
}

/// Complete a pending call at its exit stop: out-parameters, the first bytes of socket I/O,
/// and what the call changed in the process's fd table or cwd.
pub fn exit<M: Memory>(
    mem: &mut M,
    files: &mut Files,
    (pid, tid): (i32, i32),
    p: &mut Pending,
    ret: i64,
    answered: Option<&mut bool>,
) {
    let ok = ret >= 0;
    if let Some(answered) = answered
        && p.spec.class & class::HTTP != 0
    {
        capture(mem, files, (pid, tid), p, ret, answered);
    }
    if ok && ret > 0 {
        for (i, kind) in p.spec.args.iter().enumerate() {
            if *kind == ArgKind::OutStr {
                let mut len = ret as usize;
                if p.spec.name == "getcwd" {
                    len -= 1; // getcwd's return counts the NUL.
                }
                if let Some(bytes) = mem.read_bytes(tid, p.raw[i], len) {
                    p.args[i] = Arg::Str {
                        bytes,
                        truncated: false,
                    };
                }
            }
        }
    }
    files.apply(
        &mut ProcLookup,
        pid,
        p.spec.name,
        &p.args,
        p.path.as_ref(),
        ret,
        ok,
    );
}

/// Calls that can be finished at their entry when only the correlator needs them.
/// Whether a finished call becomes an event, the same rule for every live source: `Some`
/// (with whether it is shown) when `--trace`/`--failed` show it or the correlator needs it.
pub fn wanted(cfg: &super::TracerConfig, p: &Pending, errno: Option<i32>) -> Option<bool> {
    let shown = cfg.select.shown(p.print, errno);
    let closes_socket =
        matches!(p.args.first(), Some(Arg::Fd(_, Some(t))) if capture::is_socket(t));
    let for_correlator = cfg.correlate
        && capture::for_correlator(
            p.spec.name,
            p.spec.class,
            p.socket,
            p.data.is_some(),
            closes_socket,
        );
    (shown || for_correlator).then_some(shown)
}

pub fn complete_at_entry(name: &str) -> bool {
    matches!(name, "write" | "writev" | "sendto" | "sendmsg" | "close")
}

/// Finish such a call at its entry: keep a write's first bytes (its length as requested),
/// forget a closed fd. `answered` (the thread's "status line already written" flag) is
/// given when correlating.
pub fn entry_only<M: Memory>(
    mem: &mut M,
    files: &mut Files,
    (pid, tid): (i32, i32),
    p: &mut Pending,
    answered: Option<&mut bool>,
) {
    let len = match p.spec.name {
        "close" => {
            files.apply(&mut ProcLookup, pid, "close", &p.args, None, 0, true);
            return;
        }
        "write" | "sendto" => p.raw[2].min(i64::MAX as u64) as i64,
        _ => i64::MAX,
    };
    if let Some(answered) = answered {
        capture(mem, files, (pid, tid), p, len, answered);
    }
}

/// For socket reads and writes, keep only the first bytes the correlator needs (the capture
/// policy, event::capture): the start of a request, or a status line; never bodies.
fn capture<M: Memory>(
    mem: &mut M,
    files: &mut Files,
    (pid, tid): (i32, i32),
    p: &mut Pending,
    ret: i64,
    answered: &mut bool,
) {
    let Some(io) = capture::io_of(p.spec.name) else {
        return;
    };
    let fd = p.raw[0] as i32;
    let target = files.fd(&mut ProcLookup, pid, fd);
    p.socket = target.is_some_and(capture::is_socket);
    if p.socket && io == Io::Read {
        // A new read on a connection: whatever comes next is a new answer.
        *answered = false;
    }
    let Some(cap) = capture::cap(io, fd, target, *answered) else {
        return;
    };
    if ret <= 0 {
        return;
    }
    let want = (ret as usize).min(cap);
    // Where the first bytes are: the buffer, or the first iovec (of a msghdr).
    let first = match p.spec.name {
        "readv" | "writev" => mem.read_words(tid, p.raw[1], 2),
        // struct msghdr { name, namelen, iov, iovlen, ... }: iov is the third word.
        "recvmsg" | "sendmsg" => mem
            .read_words(tid, p.raw[1], 4)
            .and_then(|h| mem.read_words(tid, h[2], 2)),
        // read, recvfrom, write, sendto: (fd, buf, count, ...).
        _ => Some(vec![p.raw[1], p.raw[2]]),
    };
    let Some(iov) = first else {
        return;
    };
    let available = (ret as usize).min(iov[1] as usize);
    p.data = mem.read_bytes(tid, iov[0], want.min(available));
    // A request line or Host header that goes on past the first bytes: read on, keep only
    // those two lines (rare: most heads fit in the first READ_CAP bytes).
    if p.socket
        && io == Io::Read
        && let Some(first) = &p.data
        && let Some(n) = capture::head_wanted(first, available)
    {
        p.data = Some(capture::head(&mem.read_upto(tid, iov[0], n)));
    }
    if p.socket && io == Io::Write && p.data.as_ref().is_some_and(|d| d.starts_with(b"HTTP/")) {
        *answered = true;
    }
}

fn ptr(v: u64) -> Arg {
    if v == 0 { Arg::Null } else { Arg::Ptr(v) }
}

fn read_str<M: Memory>(mem: &mut M, tid: i32, addr: u64) -> Arg {
    if addr == 0 {
        return Arg::Null;
    }
    match mem.read_cstr(tid, addr) {
        Some((bytes, truncated)) => Arg::Str { bytes, truncated },
        None => Arg::Unreadable(addr),
    }
}

fn str_array<M: Memory>(mem: &mut M, tid: i32, addr: u64) -> Arg {
    if addr == 0 {
        return Arg::Null;
    }
    let Some(ptrs) = mem.read_words(tid, addr, MAX_ARGV + 1) else {
        return Arg::Unreadable(addr);
    };
    let mut items = Vec::new();
    let mut more = true;
    for &p in &ptrs {
        if p == 0 {
            more = false;
            break;
        }
        if items.len() == MAX_ARGV {
            break;
        }
        match mem.read_cstr(tid, p) {
            Some((s, _)) => items.push(s),
            None => items.push(format!("{p:#x}").into_bytes()),
        }
    }
    Arg::StrArray { items, more }
}

fn open_how<M: Memory>(mem: &mut M, tid: i32, addr: u64) -> Arg {
    match mem.read_words(tid, addr, 3) {
        Some(w) => Arg::Sym(format!(
            "{{flags={}, mode={}, resolve={}}}",
            flags::open_flags(w[0]),
            flags::mode(w[1]),
            flags::resolve_flags(w[2])
        )),
        None if addr == 0 => Arg::Null,
        None => Arg::Unreadable(addr),
    }
}
