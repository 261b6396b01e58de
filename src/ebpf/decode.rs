//! From the kernel program's records to the events every source emits: the same decoding as
//! the ptrace tracer (tracer::decode, reading the record's copies instead of the tracee),
//! the same shared fd/cwd table with /proc look-ups, the same capture and selection rules,
//! and the thread bookkeeping (Started/Exec/Exited) the correlator needs.

use std::sync::Arc;

use crate::event::capture;
use crate::event::fds::{IntMap, Table};
use crate::event::select::Select;
use crate::event::{Event, EventSink, ExitKind};
use crate::procinfo;
use crate::syscalls::table::Catalogue;
use crate::tracer::TracerConfig;
use crate::tracer::decode;

use super::record::{Call, Captured, Record};

/// One traced thread as user space knows it.
struct Thread {
    tgid: i32,
    comm: Option<Arc<str>>,
    /// A status line was written since the thread last read a socket (tracer::state).
    answered: bool,
}

pub struct Decoder {
    cfg: TracerConfig,
    cat: Catalogue,
    procs: Table,
    threads: IntMap<Thread>,
    /// Children announced by a fork record, not yet seen: their parent's tid.
    parents: IntMap<i32>,
    /// Wall-clock seconds at monotonic zero: the kernel stamps records with CLOCK_MONOTONIC.
    epoch: f64,
    /// Per process, its syscalls through the 32-bit ABI (not decoded).
    compat: IntMap<u64>,
    pub processes_seen: u64,
    pub threads_seen: u64,
}

/// Seconds between the Unix epoch and CLOCK_MONOTONIC's zero.
fn monotonic_epoch() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    crate::event::now() - (ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

impl Decoder {
    pub fn new(cfg: TracerConfig) -> Decoder {
        Decoder {
            cfg,
            cat: Catalogue::new(),
            procs: Table::default(),
            threads: IntMap::default(),
            parents: IntMap::default(),
            epoch: monotonic_epoch(),
            compat: IntMap::default(),
            processes_seen: 0,
            threads_seen: 0,
        }
    }

    fn ts(&self, ns: u64) -> f64 {
        self.epoch + ns as f64 / 1e9
    }

    /// A thread traced from the start (attached), or first seen in a record.
    pub fn adopt(&mut self, ts: f64, tgid: i32, tid: i32, sink: &mut dyn EventSink) {
        if self.threads.contains_key(&tid) {
            return;
        }
        let parent = self.parents.remove(&tid);
        let parent_tgid = parent.and_then(|p| self.threads.get(&p)).map(|t| t.tgid);
        if self.procs.thread_started(tgid, parent_tgid) {
            self.processes_seen += 1;
        }
        self.threads_seen += 1;
        self.threads.insert(
            tid,
            Thread {
                tgid,
                comm: None,
                answered: false,
            },
        );
        sink.send(Event::Started {
            ts,
            pid: tgid,
            tid,
            parent,
        });
    }

    pub fn record(&mut self, rec: Record, sink: &mut dyn EventSink) {
        match rec {
            Record::Syscall(c) => self.call(&c, sink),
            Record::Compat { ts_ns, tgid, tid } => {
                let ts = self.ts(ts_ns);
                self.adopt(ts, tgid, tid, sink);
                let n = self.compat.entry(tgid).or_default();
                *n += 1;
                if *n == 1 {
                    let comm = Arc::from(procinfo::comm(tid).unwrap_or_default());
                    sink.send(Event::Compat {
                        ts,
                        pid: tgid,
                        tid,
                        comm,
                    });
                }
            }
            Record::Fork { tid, child, .. } => {
                self.parents.insert(child, tid);
            }
            Record::Exec {
                ts_ns,
                tgid,
                tid,
                former,
            } => {
                let ts = self.ts(ts_ns);
                self.adopt(ts, tgid, tid, sink);
                if former != tid
                    && former > 0
                    && let Some(t) = self.threads.remove(&former)
                {
                    self.procs.thread_gone(t.tgid);
                }
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.comm = None;
                }
                self.procs.get(tgid).forget_fds();
                sink.send(Event::Exec {
                    ts,
                    pid: tgid,
                    tid,
                    former_tid: former,
                });
            }
            Record::Exit {
                ts_ns, tgid, tid, ..
            } => {
                self.parents.remove(&tid);
                if let Some(t) = self.threads.remove(&tid) {
                    self.procs.thread_gone(t.tgid);
                    // The exit status is not read in the kernel: the correlator needs only
                    // that the thread is gone.
                    sink.send(Event::Exited {
                        ts: self.ts(ts_ns),
                        pid: tgid,
                        tid,
                        how: ExitKind::Code(0),
                    });
                }
            }
        }
    }

    /// Syscalls made through the 32-bit ABI, in every process followed.
    pub fn compat_calls(&self) -> u64 {
        self.compat.values().sum()
    }

    fn call(&mut self, c: &Call, sink: &mut dyn EventSink) {
        let Some(spec) = self.cat.get(c.nr) else {
            return;
        };
        let select = self.cfg.select.get(c.nr);
        if select == Select::Ignore {
            return;
        }
        let ts = self.ts(c.ts_ns);
        self.adopt(ts, c.tgid, c.tid, sink);
        let files = self.procs.get(c.tgid);
        // The record is read ~20 ms after the call: a connection closed since is gone from
        // /proc. A buffer that carries a request or status line, or FastCGI records (php-fpm
        // closes its connection as soon as it answered), was a socket's.
        if capture::io_of(spec.name).is_some()
            && c.data
                .is_some_and(|d| capture::looks_like_http(d) || capture::looks_like_fastcgi(d))
        {
            let fd = c.args[0] as i32;
            if files
                .fd(&mut crate::tracer::state::ProcLookup, c.tgid, fd)
                .is_none()
            {
                files.set_fd(fd, Some(crate::event::fds::ACCEPTED.to_vec()));
            }
        }
        let mut mem = Captured { call: c };
        let call = decode::Call {
            nr: c.nr,
            spec,
            raw: c.args,
            print: matches!(select, Select::Print(_)),
        };
        let mut p = decode::entry(&mut mem, files, c.tgid, c.tid, call);
        p.print = p.print && self.cfg.select.printed(c.nr, p.stat_kind);
        let Some(t) = self.threads.get_mut(&c.tid) else {
            return;
        };
        let answered = self.cfg.correlate.then_some(&mut t.answered);
        decode::exit(&mut mem, files, (c.tgid, c.tid), &mut p, c.ret, answered);
        // The kernel's IS_ERR_VALUE: a return in [-4095, -1] is an errno.
        let errno = (-4095..=-1).contains(&c.ret).then_some((-c.ret) as i32);
        let Some(shown) = decode::wanted(&self.cfg, &p, errno) else {
            return;
        };
        let comm = t
            .comm
            .get_or_insert_with(|| Arc::from(procinfo::comm(c.tid).unwrap_or_default()))
            .clone();
        let ev = p.into_event(ts, (c.tgid, c.tid), comm, (c.ret, errno), shown);
        sink.send(Event::Syscall(Box::new(ev)));
    }
}
