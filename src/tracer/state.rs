//! What the tracer remembers between stops per thread (the syscall in progress, comm), and
//! where the shared fd/cwd table (event::fds) looks on a miss: /proc. The tracee's own
//! close/dup/chdir/exec keep that table true, so steady-state tracing reads /proc rarely.

use std::sync::Arc;

use crate::event::fds::Lookup;
use crate::event::{Arg, Bytes};
use crate::procinfo;
use crate::syscalls::{Spec, StatKind};

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

impl Pending {
    /// The finished call as the event every source emits.
    pub fn into_event(
        self,
        ts: f64,
        (tgid, tid): (i32, i32),
        comm: Arc<str>,
        (rval, errno): (i64, Option<i32>),
        shown: bool,
    ) -> crate::event::SyscallEvent {
        let mut ev = crate::event::SyscallEvent::new(ts, tgid, tid, comm, self.nr, self.spec);
        ev.args = self.args;
        ev.path = self.path;
        ev.path2 = self.path2;
        ev.stat_kind = self.stat_kind;
        ev.returned(rval, errno);
        ev.shown = shown;
        ev.socket = self.socket;
        ev.data = self.data;
        ev
    }
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

/// The fd/cwd table's look-ups, answered from /proc: a live process can always be asked.
pub struct ProcLookup;

impl Lookup for ProcLookup {
    fn cwd(&mut self, pid: i32) -> Option<Bytes> {
        procinfo::cwd(pid)
    }
    fn root(&mut self, pid: i32) -> Option<Bytes> {
        procinfo::root(pid)
    }
    fn fd(&mut self, pid: i32, fd: i32) -> Option<Bytes> {
        procinfo::fd_path(pid, fd)
    }
}
