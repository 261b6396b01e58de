//! Loading the kernel program with aya and talking to its maps: which syscalls to trace and
//! where their strings and buffers are (from the shared syscall table), the tracepoint
//! layouts (from tracefs), the thread groups to follow, the ring buffer and the per-CPU drop
//! counter. Everything is released with the `Ebpf` object: the tracepoint links are file
//! descriptors, so a reqtrace killed with SIGKILL leaves nothing attached.

use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{RawTracePoint, TracePoint};

use crate::error::Error;
use crate::event::capture::{self, Io};
use crate::event::select::{Select, Selection};
use crate::syscalls::ArgKind;
use crate::syscalls::table::Catalogue;

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/reqtrace.bpf.o"));

const MAX_NR: u64 = 512;
const C_TRACED: u32 = 1;
const C_PATH_SHIFT: u32 = 1;
const C_IO_BUF: u32 = 1 << 8;
const C_IO_IOV: u32 = 1 << 9;
const C_EXEC: u32 = 1 << 11;
const C_OUT_SHIFT: u32 = 12;
const C_OUT_STR: u32 = 1 << 15;

/// Where tracefs is, when mounted.
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

pub struct Loaded {
    /// Holds the programs and their links: dropping it detaches them (`detach`). The maps
    /// below were taken out of it and outlive it.
    bpf: Option<aya::Ebpf>,
    pub follow: HashMap<MapData, u32, u8>,
    pub events: RingBuf<MapData>,
    pub dropped: PerCpuArray<MapData, u64>,
}

/// The `calls` map's value for syscall `nr` (0: not traced).
pub fn call_bits(cat: &Catalogue, select: &Selection, nr: u64) -> u32 {
    if select.get(nr) == Select::Ignore {
        return 0;
    }
    let Some(spec) = cat.get(nr) else {
        return 0;
    };
    let mut bits = C_TRACED;
    for (i, k) in spec.args.iter().enumerate() {
        if matches!(k, ArgKind::Path | ArgKind::Str) {
            bits |= 1 << (C_PATH_SHIFT + i as u32);
        }
        // readlink's target, getcwd's directory: filled by the call, copied at its exit.
        if matches!(k, ArgKind::OutStr) {
            bits |= C_OUT_STR | (i as u32) << C_OUT_SHIFT;
        }
    }
    bits |= match (capture::io_of(spec.name), spec.name) {
        (Some(_), "readv" | "writev") => C_IO_IOV,
        (Some(Io::Read | Io::Write), "read" | "write" | "recvfrom" | "sendto") => C_IO_BUF,
        _ => 0,
    };
    // After a successful exec the memory that held the path is gone: the program takes it
    // from sched_process_exec.
    if matches!(spec.name, "execve" | "execveat") {
        bits |= C_EXEC;
    }
    bits
}

/// Where tracefs is mounted, or what to do about it.
fn tracefs() -> Result<&'static str, Error> {
    for d in TRACEFS {
        if let Err(e) = std::fs::metadata(format!("{d}/events"))
            && e.kind() == std::io::ErrorKind::PermissionDenied
        {
            return Err(privileges(&format!("reading {d}"), e));
        }
    }
    TRACEFS
        .into_iter()
        .find(|d| std::path::Path::new(d).join("events/raw_syscalls").is_dir())
        .ok_or_else(|| {
            Error::Sys(
                "--backend ebpf: tracefs is not mounted (no /sys/kernel/tracing/events): mount \
                 it with `mount -t tracefs nodev /sys/kernel/tracing` and retry, or use \
                 --backend ptrace"
                    .into(),
            )
        })
}

/// The byte offset of `field` in a tracepoint's record, from its tracefs format (0: absent).
fn field_offset(root: &str, event: &str, field: &str) -> u32 {
    let text = std::fs::read_to_string(format!("{root}/events/{event}/format")).unwrap_or_default();
    for line in text.lines() {
        let Some(decl) = line.trim().strip_prefix("field:") else {
            continue;
        };
        let name = decl.split(';').next().unwrap_or("");
        if name.split_whitespace().last() == Some(field)
            && let Some(off) = decl
                .split(';')
                .find_map(|p| p.trim().strip_prefix("offset:"))
        {
            return off.trim().parse().unwrap_or(0);
        }
    }
    0
}

/// The offset of `status` in x86_64's `struct thread_info` (the first member of
/// task_struct): after `flags` (and, since 5.11, `syscall_work`).
fn thread_info_status() -> u32 {
    // SAFETY: uname fills the struct we pass.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return 0;
    }
    let release: String = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if (major, minor) >= (5, 11) { 16 } else { 8 }
}

fn privileges(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Sys(format!(
        "--backend ebpf: {what} failed: {e}. Loading eBPF programs needs root, or \
         CAP_BPF and CAP_PERFMON (kernel 5.8 or later; older kernels: CAP_SYS_ADMIN), and a \
         kernel with BPF ring buffers (5.8+); run with sudo, or use --backend ptrace"
    ))
}

/// Load the program, fill its tables, attach its tracepoints. `follow`: children are
/// followed (forks add them in the kernel).
pub fn load(select: &Selection, follow: bool) -> Result<Loaded, Error> {
    // First: without them tracefs is not even readable, and would look unmounted.
    // CAP_BPF = 39, CAP_PERFMON = 38, CAP_SYS_ADMIN = 21.
    let capable = |c| crate::procinfo::has_capability(c);
    if !(capable(21) || (capable(39) && capable(38))) {
        return Err(privileges(
            "checking capabilities",
            "reqtrace has neither CAP_SYS_ADMIN nor CAP_BPF with CAP_PERFMON",
        ));
    }
    let root = tracefs()?;
    let mut bpf = aya::Ebpf::load(OBJECT).map_err(|e| privileges("loading the program", e))?;
    let cat = Catalogue::new();
    {
        let mut calls: Array<_, u32> = Array::try_from(
            bpf.map_mut("calls")
                .ok_or_else(|| Error::Sys("eBPF object without its calls map".into()))?,
        )
        .map_err(|e| privileges("opening the calls map", e))?;
        for nr in 0..MAX_NR {
            let bits = call_bits(&cat, select, nr);
            if bits != 0 {
                calls
                    .set(nr as u32, bits, 0)
                    .map_err(|e| privileges("filling the calls map", e))?;
            }
        }
        let mut config: Array<_, u32> = Array::try_from(
            bpf.map_mut("config")
                .ok_or_else(|| Error::Sys("eBPF object without its config map".into()))?,
        )
        .map_err(|e| privileges("opening the config map", e))?;
        let offsets = [
            field_offset(root, "sched/sched_process_fork", "child_pid"),
            field_offset(root, "sched/sched_process_exit", "group_dead"),
            field_offset(root, "sched/sched_process_exec", "old_pid"),
            u32::from(follow),
            thread_info_status(),
            field_offset(root, "sched/sched_process_exec", "filename"),
        ];
        for (i, v) in offsets.into_iter().enumerate() {
            config
                .set(i as u32, v, 0)
                .map_err(|e| privileges("filling the config map", e))?;
        }
    }
    for (prog, category, name) in [
        ("on_fork", "sched", "sched_process_fork"),
        ("on_exit", "sched", "sched_process_exit"),
        ("on_exec", "sched", "sched_process_exec"),
    ] {
        let tp: &mut TracePoint = bpf
            .program_mut(prog)
            .ok_or_else(|| Error::Sys(format!("eBPF object without program {prog}")))?
            .try_into()
            .map_err(|e| privileges("loading a program", e))?;
        tp.load()
            .map_err(|e| privileges(&format!("loading {prog}"), e))?;
        tp.attach(category, name)
            .map_err(|e| privileges(&format!("attaching to {category}/{name}"), e))?;
    }
    // No program on sys_enter: a call's arguments are still in its registers at its exit.
    let tp: &mut RawTracePoint = bpf
        .program_mut("sys_exit")
        .ok_or_else(|| Error::Sys("eBPF object without program sys_exit".into()))?
        .try_into()
        .map_err(|e| privileges("loading a program", e))?;
    tp.load().map_err(|e| privileges("loading sys_exit", e))?;
    tp.attach("sys_exit")
        .map_err(|e| privileges("attaching to the sys_exit raw tracepoint", e))?;
    let take = |bpf: &mut aya::Ebpf, name: &str| {
        bpf.take_map(name)
            .ok_or_else(|| Error::Sys(format!("eBPF object without map {name}")))
    };
    let follow = HashMap::try_from(take(&mut bpf, "follow")?)
        .map_err(|e| privileges("opening the follow map", e))?;
    let events = RingBuf::try_from(take(&mut bpf, "events")?)
        .map_err(|e| privileges("opening the ring buffer", e))?;
    let dropped = PerCpuArray::try_from(take(&mut bpf, "dropped")?)
        .map_err(|e| privileges("opening the drop counter", e))?;
    Ok(Loaded {
        bpf: Some(bpf),
        follow,
        events,
        dropped,
    })
}

impl Loaded {
    /// Follow thread group `tgid` (its threads' calls, and its children when following).
    pub fn follow(&mut self, tgid: i32) {
        let _ = self.follow.insert(tgid as u32, 1, 0);
    }

    /// Detach the programs: nothing more is recorded; the ring buffer keeps what it holds.
    pub fn detach(&mut self) {
        self.bpf = None;
    }

    /// Whether any followed process is left.
    pub fn any_followed(&self) -> bool {
        self.follow
            .keys()
            .any(|k| k.is_ok_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()))
    }

    /// Records dropped in the kernel so far (a full ring buffer), over every CPU.
    pub fn dropped(&self) -> u64 {
        self.dropped.get(&0, 0).map(|v| v.iter().sum()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calls_map_says_where_paths_and_bytes_are() {
        let cat = Catalogue::new();
        let sel = Selection::new("file", false, &cat, true).unwrap();
        let bits = |name: &str| call_bits(&cat, &sel, cat.number(name).unwrap());
        // openat(dirfd, path, ...): arg 1 is read; no buffer.
        assert_eq!(bits("openat"), C_TRACED | 1 << (C_PATH_SHIFT + 1));
        // rename(old, new): both.
        assert_eq!(
            bits("rename"),
            C_TRACED | 1 << C_PATH_SHIFT | 1 << (C_PATH_SHIFT + 1)
        );
        assert_eq!(bits("read"), C_TRACED | C_IO_BUF);
        assert_eq!(bits("writev"), C_TRACED | C_IO_IOV);
        assert_eq!(bits("execve") & C_EXEC, C_EXEC);
        // readlinkat(dirfd, path, buf, size): the target is copied from arg 2.
        assert_eq!(
            bits("readlinkat"),
            C_TRACED | 1 << (C_PATH_SHIFT + 1) | C_OUT_STR | 2 << C_OUT_SHIFT
        );
        assert_eq!(bits("getcwd"), C_TRACED | C_OUT_STR);
        // Not traced: never recorded.
        assert_eq!(call_bits(&cat, &sel, libc::SYS_getpid as u64), 0);
    }
}
