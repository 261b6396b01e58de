//! Reading /proc about processes: discovery, thread lists, comm, tgid, cwd, root, fd → path
//! links, command lines, the facts needed to explain an attach failure (TracerPid,
//! capabilities, Yama), and those the permission diagnosis needs (a worker's credentials, its
//! LSM labels, its mount namespace and mount table). Everything returns plain data; callers
//! decide what to cache. The only other reader of /proc is tracer/memory.rs (a tracee's
//! memory). Which process listens on a TCP address is in [`net`], on a unix socket path in
//! [`unix`].

pub mod net;
pub mod unix;

use std::os::unix::ffi::OsStringExt;

/// Thread ids of a process (/proc/PID/task), sorted; empty if the process is gone.
pub fn threads(pid: i32) -> Vec<i32> {
    let mut tids: Vec<i32> = match std::fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    tids.sort_unstable();
    tids
}

/// The short command name of a thread (/proc/TID/comm), without the trailing newline.
pub fn comm(tid: i32) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/comm")).ok()?;
    Some(s.trim_end_matches('\n').to_string())
}

/// The parts of /proc/PID/status reqtrace uses.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub name: String,
    pub state: String,
    pub tgid: i32,
    pub ppid: i32,
    pub tracer_pid: i32,
    pub euid: u32,
    pub cap_eff: u64,
}

pub fn status(pid: i32) -> Option<Status> {
    let st = procfs::process::Process::new(pid).ok()?.status().ok()?;
    Some(Status {
        name: st.name,
        state: st.state,
        tgid: st.tgid,
        ppid: st.ppid,
        tracer_pid: st.tracerpid,
        euid: st.euid,
        cap_eff: st.capeff,
    })
}

/// `PF_EXITING` and `PF_KTHREAD` of include/linux/sched.h, in /proc/TID/stat's `flags`.
const PF_EXITING: u32 = 0x0000_0004;
const PF_KTHREAD: u32 = 0x0020_0000;

/// The kernel's per-task flags (/proc/TID/stat field 9).
fn task_flags(tid: i32) -> Option<u32> {
    Some(procfs::process::Process::new(tid).ok()?.stat().ok()?.flags)
}

/// A kernel thread: it has no program of its own and ptrace refuses it (EPERM).
pub fn is_kernel_thread(tid: i32) -> bool {
    task_flags(tid).is_some_and(|f| f & PF_KTHREAD != 0)
}

/// A thread that has begun to exit (PF_EXITING) or has exited and is not reaped yet (a
/// zombie): ptrace refuses it (EPERM), and it will make no more syscalls.
pub fn is_exiting(tid: i32) -> bool {
    task_flags(tid).is_some_and(|f| f & PF_EXITING != 0)
        || status(tid).is_some_and(|s| s.state.starts_with(['Z', 'X']))
}

/// Effective identity of a process, as the kernel checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// Effective uid, gid and supplementary groups of `pid`, from /proc/PID/status.
pub fn creds(pid: i32) -> Option<Creds> {
    let st = procfs::process::Process::new(pid).ok()?.status().ok()?;
    Some(Creds {
        uid: st.euid,
        gid: st.egid,
        groups: st.groups,
    })
}

/// Thread group id of a thread, read from /proc/TID/status.
pub fn tgid(tid: i32) -> Option<i32> {
    status(tid).map(|s| s.tgid)
}

fn read_link_bytes(path: &str) -> Option<Vec<u8>> {
    std::fs::read_link(path)
        .ok()
        .map(|p| p.into_os_string().into_vec())
}

/// Current directory of a process, as the kernel names it from our root.
pub fn cwd(pid: i32) -> Option<Vec<u8>> {
    read_link_bytes(&format!("/proc/{pid}/cwd"))
}

/// Root directory of a process (differs from "/" after chroot).
pub fn root(pid: i32) -> Option<Vec<u8>> {
    read_link_bytes(&format!("/proc/{pid}/root"))
}

/// A process's mount namespace (/proc/PID/ns/mnt, e.g. `mnt:[4026531841]`): two processes
/// see the same mounts when these are equal.
pub fn mount_namespace(pid: i32) -> Option<Vec<u8>> {
    read_link_bytes(&format!("/proc/{pid}/ns/mnt"))
}

/// Files of /proc read at most this far (a mount table, a label).
const MAX_SMALL_FILE: u64 = 4 * 1024 * 1024;

fn read_capped(path: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(MAX_SMALL_FILE).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// A process's mount table as it sees it (/proc/PID/mountinfo, at most 4 MiB).
pub fn mountinfo(pid: i32) -> Option<Vec<u8>> {
    read_capped(&format!("/proc/{pid}/mountinfo"))
}

/// The host's mount table: init's (/proc/1/mountinfo), else this process's own
/// (/proc/self/mountinfo) when init's cannot be read.
pub fn host_mountinfo() -> Option<Vec<u8>> {
    read_capped("/proc/1/mountinfo").or_else(|| read_capped("/proc/self/mountinfo"))
}

/// A process's LSM security context as raw bytes (/proc/PID/attr/current: an SELinux domain
/// such as `system_u:system_r:httpd_t:s0`, or the AppArmor profile on kernels without the
/// per-LSM directory), possibly NUL- or newline-terminated.
pub fn security_context(pid: i32) -> Option<Vec<u8>> {
    read_capped(&format!("/proc/{pid}/attr/current"))
}

/// A process's AppArmor context as raw bytes (/proc/PID/attr/apparmor/current, else
/// /proc/PID/attr/current), e.g. `/usr/sbin/apache2 (enforce)` or `unconfined`.
pub fn apparmor_context(pid: i32) -> Option<Vec<u8>> {
    read_capped(&format!("/proc/{pid}/attr/apparmor/current")).or_else(|| security_context(pid))
}

/// What an open file descriptor refers to (a path, or `socket:[123]`, `pipe:[…]`, …).
pub fn fd_path(pid: i32, fd: i32) -> Option<Vec<u8>> {
    read_link_bytes(&format!("/proc/{pid}/fd/{fd}"))
}

/// Yama's /proc/sys/kernel/yama/ptrace_scope, if Yama is enabled.
pub fn yama_ptrace_scope() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// CAP_SYS_PTRACE is capability number 19.
const CAP_SYS_PTRACE: u32 = 19;

/// Whether this process has capability number `cap` in its effective set.
pub fn has_capability(cap: u32) -> bool {
    status(std::process::id() as i32)
        .map(|s| s.cap_eff & (1 << cap) != 0)
        .unwrap_or(false)
}

/// Whether this process may ptrace processes of other users (root or CAP_SYS_PTRACE).
pub fn we_can_ptrace_others() -> bool {
    has_capability(CAP_SYS_PTRACE)
}

/// This process and all its ancestors: a tracer must never trace these (it would deadlock
/// the shell or terminal that waits for it).
pub fn self_and_ancestors() -> Vec<i32> {
    let mut out = Vec::new();
    let mut pid = std::process::id() as i32;
    while pid > 0 && out.len() < 4096 {
        out.push(pid);
        pid = match status(pid) {
            Some(s) => s.ppid,
            None => break,
        };
    }
    out
}

/// Live processes (thread-group leaders) whose comm is one of `names`; zombies skipped.
pub fn find_by_comm(names: &[String]) -> Vec<i32> {
    let mut out: Vec<i32> = match std::fs::read_dir("/proc") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| {
                comm(pid).is_some_and(|c| names.contains(&c))
                    && status(pid).is_some_and(|s| !s.state.starts_with('Z') && s.tgid == pid)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort_unstable();
    out
}

/// The command line of a process (/proc/PID/cmdline), arguments split.
pub fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The top of the chain of ancestors sharing `pid`'s comm (an Apache master for a worker).
pub fn server_master(pid: i32) -> i32 {
    let Some(name) = comm(pid) else {
        return pid;
    };
    let mut cur = pid;
    for _ in 0..64 {
        let Some(parent) = status(cur).map(|s| s.ppid).filter(|&p| p > 1) else {
            break;
        };
        if comm(parent).as_deref() != Some(name.as_str()) {
            break;
        }
        cur = parent;
    }
    cur
}

/// Existing descendants of `pid` (children, grandchildren...), found through each process's
/// PPid; live ones only.
pub fn descendants(pid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(i32, i32)> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|p| {
            let s = status(p)?;
            (!s.state.starts_with('Z')).then_some((p, s.ppid))
        })
        .collect();
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(child, parent) in &parents {
            if parent == p && !out.contains(&child) && out.len() < 100_000 {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out.sort_unstable();
    out
}

/// This boot's random id (/proc/sys/kernel/random/boot_id): the same machine, not rebooted.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
