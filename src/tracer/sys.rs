//! Thin, typed wrappers over the raw ptrace and waitpid calls the tracer makes. Raw libc
//! rather than nix's wrappers because tracees receive real-time signals (glibc's SIGSETXID
//! and SIGCANCEL during setuid in threaded Apache workers) that nix's Signal enum cannot
//! represent, and a stop we cannot decode is a stop we cannot pass on.

use std::io;

pub const PTRACE_EVENT_FORK: i32 = 1;
pub const PTRACE_EVENT_VFORK: i32 = 2;
pub const PTRACE_EVENT_CLONE: i32 = 3;
pub const PTRACE_EVENT_EXEC: i32 = 4;
pub const PTRACE_EVENT_STOP: i32 = 128;

fn req(request: libc::c_uint, tid: i32, addr: usize, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: every request used here either takes no pointers or a pointer to a live local.
    let r = unsafe {
        libc::ptrace(
            request,
            tid,
            addr as *mut libc::c_void,
            data as *mut libc::c_void,
        )
    };
    if r == -1 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(0) {
            return Err(e);
        }
    }
    Ok(r)
}

pub fn seize(tid: i32, options: i32) -> io::Result<()> {
    req(libc::PTRACE_SEIZE, tid, 0, options as usize).map(drop)
}

pub fn interrupt(tid: i32) -> io::Result<()> {
    req(libc::PTRACE_INTERRUPT, tid, 0, 0).map(drop)
}

/// Resume until the next syscall stop, delivering `sig` (0 for none).
pub fn syscall(tid: i32, sig: i32) -> io::Result<()> {
    req(libc::PTRACE_SYSCALL, tid, 0, sig as usize).map(drop)
}

/// Resume a tracee in group-stop without letting it run: it stays stopped, but a SIGCONT
/// (or PTRACE_INTERRUPT) will report to us. ptrace(2): "PTRACE_LISTEN works only on tracees
/// attached by PTRACE_SEIZE."
/// Resume without stopping at syscalls (under a seccomp filter that stops the traced ones).
pub fn cont(tid: i32, sig: i32) -> io::Result<()> {
    req(libc::PTRACE_CONT, tid, 0, sig as usize).map(drop)
}

pub fn listen(tid: i32) -> io::Result<()> {
    req(libc::PTRACE_LISTEN, tid, 0, 0).map(drop)
}

pub fn detach(tid: i32, sig: i32) -> io::Result<()> {
    req(libc::PTRACE_DETACH, tid, 0, sig as usize).map(drop)
}

pub fn geteventmsg(tid: i32) -> io::Result<u64> {
    let mut msg: libc::c_ulong = 0;
    req(
        libc::PTRACE_GETEVENTMSG,
        tid,
        0,
        &mut msg as *mut libc::c_ulong as usize,
    )?;
    Ok(msg as u64)
}

/// What PTRACE_GET_SYSCALL_INFO said about a syscall stop.
#[derive(Debug, Clone, Copy)]
pub enum SyscallInfo {
    Entry {
        arch: u32,
        nr: u64,
        args: [u64; 6],
    },
    Exit {
        rval: i64,
        is_error: bool,
    },
    /// A PTRACE_EVENT_SECCOMP stop: a syscall entry our filter asked to see.
    Seccomp {
        arch: u32,
        nr: u64,
        args: [u64; 6],
    },
    Other,
}

pub fn syscall_info(tid: i32) -> io::Result<SyscallInfo> {
    // SAFETY: an all-zero ptrace_syscall_info is a valid value of this plain C struct.
    let mut info: libc::ptrace_syscall_info = unsafe { std::mem::zeroed() };
    req(
        libc::PTRACE_GET_SYSCALL_INFO,
        tid,
        std::mem::size_of::<libc::ptrace_syscall_info>(),
        &mut info as *mut _ as usize,
    )?;
    // SAFETY: the union member read is the one `op` says the kernel filled in.
    Ok(unsafe {
        match info.op {
            libc::PTRACE_SYSCALL_INFO_ENTRY => SyscallInfo::Entry {
                arch: info.arch,
                nr: info.u.entry.nr,
                args: info.u.entry.args,
            },
            libc::PTRACE_SYSCALL_INFO_SECCOMP => SyscallInfo::Seccomp {
                arch: info.arch,
                nr: info.u.seccomp.nr,
                args: info.u.seccomp.args,
            },
            libc::PTRACE_SYSCALL_INFO_EXIT => SyscallInfo::Exit {
                rval: info.u.exit.sval,
                is_error: info.u.exit.is_error != 0,
            },
            _ => SyscallInfo::Other,
        }
    })
}

/// A decoded waitpid status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Exited(i32),
    Signaled(i32),
    /// Syscall entry or exit stop (SIGTRAP | 0x80 with PTRACE_O_TRACESYSGOOD).
    Syscall,
    /// A PTRACE_EVENT_* stop, with the stop signal (PTRACE_EVENT_STOP carries the group-stop
    /// signal, or SIGTRAP for an interrupt / a new child's first stop).
    Event(i32, i32),
    /// Signal-delivery stop: the tracee is about to receive this signal.
    Signal(i32),
}

pub fn decode_status(status: i32) -> Stop {
    if libc::WIFEXITED(status) {
        Stop::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Stop::Signaled(libc::WTERMSIG(status))
    } else {
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xffff;
        if sig == libc::SIGTRAP | 0x80 {
            Stop::Syscall
        } else if event != 0 {
            Stop::Event(event, sig)
        } else {
            Stop::Signal(sig)
        }
    }
}

/// waitpid for any tracee (all kinds of children, __WALL). `__WNOTHREAD` keeps one tracer
/// thread from reaping the children of another. Err(EINTR) when a signal interrupted it.
pub fn wait_any(nohang: bool) -> io::Result<Option<(i32, Stop)>> {
    let mut status = 0;
    let mut flags = libc::__WALL | libc::__WNOTHREAD;
    if nohang {
        flags |= libc::WNOHANG;
    }
    // SAFETY: waitpid with a valid status pointer.
    let pid = unsafe { libc::waitpid(-1, &mut status, flags) };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        p => Ok(Some((p, decode_status(status)))),
    }
}

/// True for the signals whose PTRACE_EVENT_STOP is a group-stop (resume with PTRACE_LISTEN).
pub fn is_group_stop_signal(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}
