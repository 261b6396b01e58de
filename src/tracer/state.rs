//! What the tracer remembers between stops: per thread (the syscall in progress, comm) and
//! per process (cwd, root, fd → path). /proc is read only on a cache miss; the tracee's own
//! close/dup/chdir/exec keep the caches true, so steady-state tracing reads /proc rarely.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::event::{Arg, Bytes};
use crate::procinfo;
use crate::syscalls::{Spec, StatKind};

/// A hasher for the tracer's integer keys (tids, pids, fds), looked up on every stop: one
/// multiplication (Fibonacci hashing) instead of SipHash, whose flooding resistance buys
/// nothing for keys the kernel hands out.
#[derive(Default)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_i32(&mut self, n: i32) {
        self.0 = (n as u32 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by tid, pid or fd.
pub type IntMap<V> = HashMap<i32, V, BuildHasherDefault<IntHasher>>;

/// A syscall seen at entry, waiting for its exit stop.
#[derive(Debug)]
pub struct Pending {
    pub nr: u64,
    pub spec: &'static Spec,
    pub raw: [u64; 6],
    pub args: Vec<Arg>,
    pub path: Option<Bytes>,
    pub path2: Option<Bytes>,
    pub stat_kind: Option<StatKind>,
    /// Whether this call is printed (its class was asked for) or only tracked.
    pub print: bool,
    /// Filled at exit for socket I/O: see `decode::capture`.
    pub socket: bool,
    pub data: Option<Bytes>,
}

/// One traced thread.
#[derive(Debug)]
pub struct Tracee {
    pub tgid: i32,
    pub pending: Option<Box<Pending>>,
    comm: Option<Arc<str>>,
    /// In a group-stop (SIGSTOP/SIGTSTP) and resumed with PTRACE_LISTEN.
    pub group_stopped: bool,
    /// Between the entry and exit stops of a syscall that is not traced.
    pub in_ignored: bool,
    /// A status line was written on a socket since the thread last read one: its access-log
    /// line (the fallback for the status) need not be read.
    pub answered: bool,
}

impl Tracee {
    pub fn new(tgid: i32) -> Self {
        Tracee {
            tgid,
            pending: None,
            comm: None,
            group_stopped: false,
            in_ignored: false,
            answered: false,
        }
    }

    pub fn comm(&mut self, tid: i32) -> Arc<str> {
        self.comm
            .get_or_insert_with(|| Arc::from(procinfo::comm(tid).unwrap_or_default()))
            .clone()
    }

    /// exec changes the command name.
    pub fn forget_comm(&mut self) {
        self.comm = None;
    }
}

/// What a file descriptor refers to, as far as we know.
pub type FdTable = IntMap<Bytes>;

/// One traced process (thread group): state shared by its threads.
#[derive(Debug, Default, Clone)]
pub struct Proc {
    cwd: Option<Bytes>,
    root: Option<Bytes>,
    fds: FdTable,
    /// Number of traced threads in the group.
    pub threads: u32,
}

impl Proc {
    pub fn cwd(&mut self, pid: i32) -> Option<&[u8]> {
        if self.cwd.is_none() {
            self.cwd = procinfo::cwd(pid);
        }
        self.cwd.as_deref()
    }

    pub fn root(&mut self, pid: i32) -> Option<&[u8]> {
        if self.root.is_none() {
            self.root = procinfo::root(pid);
        }
        self.root.as_deref()
    }

    /// The cwd and root as last read (call `cwd` / `root` first to fill them).
    pub fn cached_cwd(&self) -> Option<&[u8]> {
        self.cwd.as_deref()
    }

    pub fn cached_root(&self) -> Option<&[u8]> {
        self.root.as_deref()
    }

    pub fn set_cwd(&mut self, cwd: Option<Bytes>) {
        self.cwd = cwd;
    }

    pub fn forget_root(&mut self) {
        self.root = None;
    }

    /// What `fd` refers to: a path, or `socket:[…]`-style names; cached after the first look.
    pub fn fd(&mut self, pid: i32, fd: i32) -> Option<&[u8]> {
        if fd < 0 {
            return None;
        }
        match self.fds.entry(fd) {
            std::collections::hash_map::Entry::Occupied(e) => Some(e.into_mut().as_slice()),
            std::collections::hash_map::Entry::Vacant(e) => {
                Some(e.insert(procinfo::fd_path(pid, fd)?).as_slice())
            }
        }
    }

    pub fn set_fd(&mut self, fd: i32, target: Option<Bytes>) {
        match target {
            Some(t) => {
                self.fds.insert(fd, t);
            }
            None => {
                self.fds.remove(&fd);
            }
        }
    }

    pub fn dup_fd(&mut self, pid: i32, from: i32, to: i32) {
        let target = self.fd(pid, from).map(<[u8]>::to_vec);
        self.set_fd(to, target);
    }

    pub fn close_range(&mut self, first: u64, last: u64) {
        self.fds
            .retain(|&fd, _| (fd as u64) < first || (fd as u64) > last);
    }

    /// exec closes O_CLOEXEC descriptors; rather than guess which, forget them all and let
    /// /proc answer again.
    pub fn forget_fds(&mut self) {
        self.fds.clear();
    }

    /// The copy a forked child starts with: same cwd, root and descriptors.
    pub fn fork_copy(&self) -> Proc {
        Proc {
            threads: 0,
            ..self.clone()
        }
    }
}
