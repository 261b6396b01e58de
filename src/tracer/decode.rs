//! Decoding a syscall stop into data: at entry, read and resolve every argument (paths must be
//! read before the call runs: execve replaces the memory, chdir changes what a relative path
//! meant); at exit, fill the out-parameters (readlink, getcwd) and keep the process's fd/cwd
//! knowledge true. Returns data; printers do the formatting.

use crate::event::{Arg, Bytes, FlagKind};
use crate::syscalls::{ArgKind, Spec, class, flags, path};

use super::memory::MemReader;
use super::state::{Pending, Proc};

/// At most this many execve argv entries are read.
const MAX_ARGV: usize = 32;

/// A syscall as PTRACE_GET_SYSCALL_INFO reported it at entry, and whether it is printed.
pub struct Call {
    pub nr: u64,
    pub spec: &'static Spec,
    pub raw: [u64; 6],
    pub print: bool,
}

/// Decode the arguments of a syscall at its entry stop.
pub fn entry(mem: &mut MemReader, proc_: &mut Proc, pid: i32, tid: i32, call: Call) -> Pending {
    let Call {
        nr,
        spec,
        raw,
        print,
    } = call;
    let mut args = Vec::with_capacity(spec.args.len());
    let mut paths: [Option<Bytes>; 2] = [None, None];
    let mut npaths = 0;
    // What the next Path resolves against, set by a DirFd argument: the cwd (None) or the
    // directory fd's target. Looked up only when a path is relative.
    let mut dir_base: Option<Option<Bytes>> = None;
    let mut empty_path = false;
    let mut first_fd_path: Option<Bytes> = None;

    for (i, kind) in spec.args.iter().enumerate() {
        let v = raw[i];
        let arg = match kind {
            ArgKind::Int | ArgKind::Size => Arg::Int(v as i64),
            ArgKind::Fd => {
                let fd = v as i32;
                let target = proc_.fd(pid, fd).map(<[u8]>::to_vec);
                if first_fd_path.is_none()
                    && target.as_ref().is_some_and(|t| t.first() == Some(&b'/'))
                {
                    first_fd_path = target.clone();
                }
                Arg::Fd(fd, target)
            }
            ArgKind::DirFd => {
                let fd = v as i32;
                if fd == libc::AT_FDCWD {
                    dir_base = Some(None);
                    Arg::AtFdCwd
                } else {
                    let target = proc_.fd(pid, fd).map(<[u8]>::to_vec);
                    // An unknown dirfd target: an empty base, so relative paths stay unresolved.
                    dir_base = Some(Some(target.clone().unwrap_or_default()));
                    Arg::Fd(fd, target)
                }
            }
            ArgKind::Path => {
                let base = dir_base.take().flatten();
                let arg = read_str(mem, tid, v);
                if let Arg::Str { bytes, .. } = &arg {
                    empty_path |= bytes.is_empty();
                    if npaths < 2 {
                        paths[npaths] = resolve(proc_, pid, bytes, base.as_deref());
                    }
                }
                npaths += 1;
                arg
            }
            ArgKind::Str => read_str(mem, tid, v),
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
    // Like strace, show open's mode only when the kernel reads it (O_CREAT, O_TMPFILE).
    if matches!(spec.name, "open" | "openat") {
        let flags = raw[if spec.name == "open" { 1 } else { 2 }] as i32;
        // O_TMPFILE includes the O_DIRECTORY bit: compare the whole value.
        if flags & libc::O_CREAT == 0 && flags & libc::O_TMPFILE != libc::O_TMPFILE {
            args.pop();
        }
    }
    let [path, path2] = paths;
    let path = path.or(first_fd_path);
    Pending {
        nr,
        spec,
        raw,
        args,
        stat_kind: flags::stat_kind(spec.name, &raw, empty_path),
        path,
        path2,
        print,
        socket: false,
        data: None,
    }
}

/// The absolute path `raw` names: against `base` (a dirfd's target) or else the cwd, under
/// the root. The cached cwd and root are borrowed, not copied, and only looked at when
/// needed (an absolute path outside a chroot needs neither).
fn resolve(proc_: &mut Proc, pid: i32, raw: &[u8], base: Option<&[u8]>) -> Option<Bytes> {
    proc_.root(pid);
    if raw.first() != Some(&b'/') && base.is_none() {
        proc_.cwd(pid);
    }
    let root = proc_.cached_root();
    let base = base.or_else(|| proc_.cached_cwd());
    path::resolve(raw, base, root)
}

/// Complete a pending call at its exit stop: out-parameters, and what the call changed in the
/// process's fd table or cwd. Only successful calls change anything.
pub fn exit(
    mem: &mut MemReader,
    proc_: &mut Proc,
    (pid, tid): (i32, i32),
    p: &mut Pending,
    ret: i64,
    answered: Option<&mut bool>,
) {
    let ok = ret >= 0;
    if let Some(answered) = answered
        && p.spec.class & class::HTTP != 0
    {
        capture(mem, proc_, (pid, tid), p, ret, answered);
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
    let a = p.raw;
    match p.spec.name {
        "open" | "openat" | "openat2" | "creat" if ok => proc_.set_fd(ret as i32, p.path.clone()),
        // The fd is gone even when close reports EINTR/EIO: close(2) "the file descriptor is
        // released early". Only EBADF means there was nothing to release.
        "close" => proc_.set_fd(a[0] as i32, None),
        "close_range" if ok => proc_.close_range(a[0] as u32 as u64, a[1] as u32 as u64),
        "dup" if ok => proc_.dup_fd(pid, a[0] as i32, ret as i32),
        "dup2" | "dup3" if ok => proc_.dup_fd(pid, a[0] as i32, a[1] as i32),
        "fcntl" if ok && matches!(a[1] as i32, libc::F_DUPFD | libc::F_DUPFD_CLOEXEC) => {
            proc_.dup_fd(pid, a[0] as i32, ret as i32)
        }
        "chdir" if ok => proc_.set_cwd(p.path.clone()),
        "fchdir" if ok => {
            let target = proc_.fd(pid, a[0] as i32).map(<[u8]>::to_vec);
            proc_.set_cwd(target.filter(|t| t.first() == Some(&b'/')))
        }
        "chroot" if ok => proc_.forget_root(),
        // Remember that the new fd is a socket without asking /proc when it is read.
        "accept" | "accept4" if ok => proc_.set_fd(ret as i32, Some(b"socket:[accepted]".to_vec())),
        // Any other call that makes an fd (socket, accept, pipe via dup...) reuses a number we
        // may hold a stale name for; it was closed first, so the close above dropped it.
        _ => {}
    }
}

/// Calls that can be finished at their entry when only the correlator needs them.
pub fn complete_at_entry(name: &str) -> bool {
    matches!(name, "write" | "writev" | "sendto" | "sendmsg" | "close")
}

/// Finish such a call at its entry: keep a write's first bytes (its length as requested),
/// forget a closed fd. `answered` (the thread's "status line already written" flag) is
/// given when correlating.
pub fn entry_only(
    mem: &mut MemReader,
    proc_: &mut Proc,
    (pid, tid): (i32, i32),
    p: &mut Pending,
    answered: Option<&mut bool>,
) {
    let len = match p.spec.name {
        "close" => {
            proc_.set_fd(p.raw[0] as i32, None);
            return;
        }
        "write" | "sendto" => p.raw[2].min(i64::MAX as u64) as i64,
        _ => i64::MAX,
    };
    if let Some(answered) = answered {
        capture(mem, proc_, (pid, tid), p, len, answered);
    }
}

/// Bytes kept of a socket read: enough for a request line and the Host header.
const READ_CAP: usize = 1024;
/// Bytes kept of a socket write: a status line ("HTTP/1.1 404 Not Found").
const WRITE_CAP: usize = 64;
/// Bytes kept of an access-log write (the status fallback when the socket carries TLS).
const LOG_CAP: usize = 512;

/// Whether a file looks like an access log, whose lines carry `"GET /x HTTP/1.1" 404`.
fn looks_like_log(target: &[u8]) -> bool {
    target.first() == Some(&b'/')
        && (target.ends_with(b".log") || target.windows(6).any(|w| w == b"access"))
}

/// For socket reads and writes, keep only the first bytes the correlator needs: the start of
/// a request, or a status line; never bodies. Reads of regular files are not kept at all.
fn capture(
    mem: &mut MemReader,
    proc_: &mut Proc,
    (pid, tid): (i32, i32),
    p: &mut Pending,
    ret: i64,
    answered: &mut bool,
) {
    let name = p.spec.name;
    let is_read = matches!(name, "read" | "recvfrom" | "readv" | "recvmsg");
    let is_write = matches!(name, "write" | "sendto" | "writev" | "sendmsg");
    if !is_read && !is_write {
        return;
    }
    let Some(target) = proc_.fd(pid, p.raw[0] as i32) else {
        return;
    };
    p.socket = target.starts_with(b"socket:");
    let cap = match (p.socket, is_read) {
        (true, true) => {
            // A new read on a connection: whatever comes next is a new answer.
            *answered = false;
            READ_CAP
        }
        (true, false) => WRITE_CAP,
        // The access log is only the fallback for a status the socket did not show.
        (false, false) if !*answered && looks_like_log(target) => LOG_CAP,
        _ => return,
    };
    if ret <= 0 {
        return;
    }
    let want = (ret as usize).min(cap);
    // Where the first bytes are: the buffer, or the first iovec (of a msghdr).
    let first = match name {
        "readv" | "writev" => mem.read_words(tid, p.raw[1], 2),
        // struct msghdr { name, namelen, iov, iovlen, ... }: iov is the third word.
        "recvmsg" | "sendmsg" => mem
            .read_words(tid, p.raw[1], 4)
            .and_then(|h| mem.read_words(tid, h[2], 2)),
        _ => Some(vec![p.raw[1], want as u64]),
    };
    let Some(iov) = first else {
        return;
    };
    p.data = mem.read_bytes(tid, iov[0], want.min(iov[1] as usize));
    if p.socket && is_write && p.data.as_ref().is_some_and(|d| d.starts_with(b"HTTP/")) {
        *answered = true;
    }
}

fn ptr(v: u64) -> Arg {
    if v == 0 { Arg::Null } else { Arg::Ptr(v) }
}

fn read_str(mem: &mut MemReader, tid: i32, addr: u64) -> Arg {
    if addr == 0 {
        return Arg::Null;
    }
    match mem.read_cstr(tid, addr) {
        Some((bytes, truncated)) => Arg::Str { bytes, truncated },
        None => Arg::Unreadable(addr),
    }
}

fn str_array(mem: &mut MemReader, tid: i32, addr: u64) -> Arg {
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

fn open_how(mem: &mut MemReader, tid: i32, addr: u64) -> Arg {
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
