//! Getting tracees: PTRACE_SEIZE every thread of a live process (and the threads born while
//! we attach), or start a command stopped and seize it before it execs. When the kernel says
//! no, say why, as strace does: already traced, not privileged, Yama.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use crate::error::Error;
use crate::procinfo;
use crate::signals;

use super::{Tracer, sys};

/// Seize every thread of `pid` and interrupt it so the trace loop can start it on
/// PTRACE_SYSCALL. Threads that appear while we attach are picked up by re-reading
/// /proc/PID/task until no new ones show up (a thread cloned by an already-seized thread is
/// auto-attached through PTRACE_O_TRACECLONE).
pub fn attach_process(tracer: &mut Tracer, pid: i32) -> Result<(), Error> {
    if pid <= 0 {
        return Err(Error::Usage(format!(
            "invalid PID {pid}: PIDs are positive numbers"
        )));
    }
    let Some(status) = procinfo::status(pid) else {
        return Err(Error::NoSuchProcess(pid));
    };
    if procinfo::self_and_ancestors().contains(&status.tgid) {
        return Err(Error::Attach {
            pid,
            why: "that is reqtrace itself or one of its parents (the shell that runs it); \
                  tracing it would deadlock"
                .into(),
        });
    }
    if status.state.starts_with('Z') {
        return Err(Error::Attach {
            pid,
            why: "it is a zombie (it has exited; its parent has not reaped it)".into(),
        });
    }
    let tgid = status.tgid;
    let options = tracer.options();
    let mut seized: Vec<i32> = Vec::new();
    loop {
        let new: Vec<i32> = procinfo::threads(tgid)
            .into_iter()
            .filter(|t| !seized.contains(t))
            .collect();
        if new.is_empty() {
            break;
        }
        for tid in new {
            match sys::seize(tid, options) {
                Ok(()) => {
                    seized.push(tid);
                    tracer.add_seized(tid, tgid);
                    let _ = sys::interrupt(tid);
                }
                // The thread exited between the listing and the seize.
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) && tid != tgid => seized.push(tid),
                // Auto-attached already (cloned by a thread we had seized).
                Err(e)
                    if e.raw_os_error() == Some(libc::EPERM)
                        && tracer.tracees.contains_key(&tid) =>
                {
                    seized.push(tid)
                }
                // Auto-attached already, its first stop not yet seen (the master forked
                // while we attached): it is ours.
                Err(e)
                    if e.raw_os_error() == Some(libc::EPERM)
                        && procinfo::status(tid)
                            .is_some_and(|s| s.tracer_pid == std::process::id() as i32) =>
                {
                    seized.push(tid)
                }
                Err(e) if seized.is_empty() => return Err(explain(pid, tid, e)),
                Err(_) => seized.push(tid),
            }
        }
    }
    if seized.is_empty() {
        return Err(Error::NoSuchProcess(pid));
    }
    Ok(())
}

/// Why the kernel refused PTRACE_SEIZE of thread `tid` of `pid`, in words that say what to
/// do. ptrace_attach gives EPERM for more than missing privileges: a kernel thread, and a
/// thread that is exiting (its exit_state is set), are refused whoever asks.
fn explain(pid: i32, tid: i32, e: std::io::Error) -> Error {
    let why = match e.raw_os_error() {
        Some(libc::ESRCH) => return Error::NoSuchProcess(pid),
        Some(libc::EPERM) => {
            let Some(st) = procinfo::status(tid) else {
                // Gone since (it was exiting when we asked), or /proc hides it from us
                // (mounted with hidepid): kill(pid, 0) tells them apart, ESRCH from EPERM.
                // SAFETY: signal 0 only checks that the process exists and may be signalled.
                let gone = unsafe { libc::kill(tid, 0) } != 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
                if gone {
                    return Error::NoSuchProcess(pid);
                }
                return Error::Attach {
                    pid,
                    why: "permission denied, and /proc does not show it to this user (mounted \
                          with hidepid?): run reqtrace as root or with CAP_SYS_PTRACE"
                        .into(),
                };
            };
            if procinfo::is_kernel_thread(tid) {
                "it is a kernel thread: it runs no program and makes no syscalls of its own, \
                 and the kernel lets no one trace it"
                    .into()
            } else if procinfo::is_exiting(tid) {
                "it was exiting while reqtrace attached (the kernel refuses to trace a process \
                 that is exiting); nothing is left to trace"
                    .into()
            } else if st.tracer_pid != 0
                // Unprivileged, another user's process would be refused traced or not: the
                // privilege is the problem to name, not the other tracer.
                && (procinfo::we_can_ptrace_others() || st.euid == our_euid())
            {
                let who = procinfo::comm(st.tracer_pid).unwrap_or_else(|| "?".into());
                format!(
                    "it is already traced by PID {} ({who}); a process can have one tracer: \
                     stop that one (strace, gdb) first, or leave this PID out (--probe URL \
                     without PIDs traces only the server behind URL)",
                    st.tracer_pid
                )
            } else if !procinfo::we_can_ptrace_others() {
                let yama = match procinfo::yama_ptrace_scope() {
                    Some(1) => {
                        " (and Yama's kernel.yama.ptrace_scope is 1: only a parent may trace)"
                    }
                    Some(2) => {
                        " (Yama's kernel.yama.ptrace_scope is 2: only CAP_SYS_PTRACE may trace)"
                    }
                    _ => "",
                };
                format!(
                    "permission denied: reqtrace is not root and has no CAP_SYS_PTRACE{yama}; \
                     run it with sudo (Apache workers change uid, so they need root anyway)"
                )
            } else if procinfo::yama_ptrace_scope() == Some(3) {
                "Yama's kernel.yama.ptrace_scope is 3: ptrace is disabled until reboot".into()
            } else {
                "permission denied although reqtrace has CAP_SYS_PTRACE, and it is neither a \
                 kernel thread nor exiting: a security module (SELinux, AppArmor) or a \
                 container boundary refused it"
                    .into()
            }
        }
        _ => format!("ptrace(PTRACE_SEIZE) failed: {e}"),
    };
    Error::Attach { pid, why }
}

fn our_euid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// Find a program the way execvp would, so "command not found" is reported before forking.
fn find_program(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &std::path::Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.contains('/') {
        let p = std::path::PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| executable(p))
}

/// Start `argv` under trace: fork, the child stops itself with SIGSTOP, we seize it, then
/// SIGCONT lets it exec; so its very first syscall (the execve) is traced. This is strace's
/// startup_child sequence for PTRACE_SEIZE.
pub fn launch(tracer: &mut Tracer, argv: &[String]) -> Result<i32, Error> {
    let cmd = argv
        .first()
        .ok_or_else(|| Error::Usage("no command given after --".into()))?;
    let launch_err = |why: String| Error::Launch {
        command: cmd.clone(),
        why,
    };
    let prog = find_program(cmd)
        .ok_or_else(|| launch_err("command not found or not executable (check PATH)".into()))?;
    let prog_c = CString::new(prog.as_os_str().as_bytes())
        .map_err(|_| launch_err("the command contains a NUL byte".into()))?;
    let args_c: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| launch_err("an argument contains a NUL byte".into()))?;
    let mut arg_ptrs: Vec<*const libc::c_char> = args_c.iter().map(|a| a.as_ptr()).collect();
    arg_ptrs.push(std::ptr::null());
    let env_c: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let mut env_ptrs: Vec<*const libc::c_char> = env_c.iter().map(|a| a.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());

    // The seccomp filter (run mode): built before the fork, installed by the child itself.
    // Not without --follow: the children and threads would inherit the filter with no
    // tracer, and every traced call of theirs would fail with ENOSYS (strace, likewise,
    // turns --seccomp-bpf off without -f).
    let filter = if tracer.cfg.seccomp && tracer.cfg.follow {
        let numbers: Vec<u64> = tracer
            .cfg
            .select
            .select
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != crate::event::select::Select::Ignore)
            .map(|(nr, _)| nr as u64)
            .collect();
        super::seccomp::filter(crate::arch::AUDIT_ARCH, &numbers)
    } else {
        None
    };
    // no_new_privs is only needed (and only set) without CAP_SYS_ADMIN.
    let need_nnp = !procinfo::has_capability(21);
    // The child reports a failed filter install through this pipe (close-on-exec).
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 with a valid array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(launch_err(format!(
            "pipe failed: {}",
            std::io::Error::last_os_error()
        )));
    }
    let stdout_to_stderr = tracer.cfg.stdout_to_stderr;
    // SAFETY: between fork and exec the child only calls async-signal-safe functions
    // (signal, sigprocmask, dup2, prctl, write, raise, execve, _exit) on memory prepared
    // before the fork.
    // The dispositions the command gets (decided before the fork: nothing is looked up in
    // the child): what reqtrace inherited, ignored or default, whatever reqtrace set itself.
    let dispositions = signals::PASSED_ON.map(|sig| {
        let how = if signals::inherited_ignored(sig) {
            libc::SIG_IGN
        } else {
            libc::SIG_DFL
        };
        (sig, how)
    });
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(launch_err(format!(
            "fork failed: {}",
            std::io::Error::last_os_error()
        )));
    }
    if pid == 0 {
        unsafe {
            // The dispositions reqtrace inherited, not the ones it set itself (its ignored
            // SIGINT/SIGQUIT, its handlers); not the SIGPIPE the Rust runtime ignores (`run
            // -- yes | head` would make yes fail with EPIPE instead of dying quietly; std's
            // Command resets it too); no blocked signals.
            for (sig, how) in dispositions {
                libc::signal(sig, how);
            }
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            // Our stdout carries the trace (`run --json | jq`): the command writes its
            // own output to our stderr instead, where it is neither lost nor mixed in.
            if stdout_to_stderr {
                libc::dup2(2, 1);
            }
            // Installed before the stop: from here until the tracer seizes us only raise's
            // own syscalls run, none of them filtered (a filtered one would get ENOSYS).
            if let Some(prog) = &filter
                && !super::seccomp::install(prog, need_nnp)
            {
                libc::write(fds[1], b"x".as_ptr() as *const libc::c_void, 1);
            }
            libc::raise(libc::SIGSTOP);
            libc::execve(prog_c.as_ptr(), arg_ptrs.as_ptr(), env_ptrs.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid status pointer.
    unsafe { libc::waitpid(pid, &mut status, libc::WSTOPPED) };
    let mut byte = 0u8;
    // SAFETY: reading one byte from our pipe into a local; then closing both ends.
    let failed = unsafe {
        let n = libc::read(fds[0], &mut byte as *mut u8 as *mut libc::c_void, 1);
        libc::close(fds[0]);
        libc::close(fds[1]);
        n == 1
    };
    tracer.seccomp = filter.is_some() && !failed;
    if filter.is_some() && failed {
        crate::say!(
            "reqtrace: warning: the seccomp filter could not be installed; tracing every \
             syscall stop instead (slower)"
        );
    }
    if let Err(e) = sys::seize(pid, tracer.options()) {
        unsafe { libc::kill(pid, libc::SIGKILL) };
        return Err(launch_err(format!("ptrace(PTRACE_SEIZE) failed: {e}")));
    }
    tracer.add_seized(pid, pid);
    tracer.set_main_child(pid);
    let _ = sys::interrupt(pid);
    // SAFETY: plain kill of our own child.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real process that has exited and is not reaped yet (a zombie: its exit_state is
    /// set, as a thread's is while it exits during an attach): the kernel refuses the
    /// seize with EPERM, and the explanation says it was exiting, not that a security
    /// module refused.
    #[test]
    fn an_exiting_process_is_not_blamed_on_a_security_module() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !procinfo::status(pid).is_some_and(|s| s.state.starts_with('Z')) {
            assert!(std::time::Instant::now() < deadline, "{pid} never exited");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let e = sys::seize(pid, 0).expect_err("a zombie cannot be seized");
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        let msg = explain(pid, pid, e).to_string();
        child.wait().unwrap();
        assert!(msg.contains("exiting"), "{msg}");
        assert!(!msg.contains("security module"), "{msg}");
    }
}
