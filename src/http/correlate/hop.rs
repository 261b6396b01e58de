//! The FastCGI hop in the correlator: a web server's request that writes a BEGIN_REQUEST
//! waits for a leg; a backend worker thread that reads one starts a leg; the two are tied by
//! the leg's `REQUEST_URI` (else oldest first, see http/fastcgi.rs), and the leg's file calls
//! then belong to the request, each with the backend's pid. Calls a leg makes before its
//! request is found are kept with the leg (bounded, as a request's are) and moved over when it
//! is; a request finished while its leg runs is held until the leg ends (bounded in number and
//! in trace time). The two processes' stops reach the correlator in either order: a leg may
//! end before the web server's BEGIN_REQUEST write is seen, so ended legs are kept a while.

use crate::event::SyscallEvent;
use crate::event::capture::{self, Io};

use super::super::fastcgi::{self, End, Leg, PARAMS_CAP};
use super::{Backend, Correlator, HOLD_S, MAX_HELD, MAX_PARKED, Request};

impl Correlator {
    /// FastCGI bytes on a socket: a stream already known, or one that starts with a
    /// BEGIN_REQUEST record (written: the web server's end; read: the backend's). Returns
    /// whether the call was FastCGI (then it is nothing else: no HTTP request, no status).
    pub(super) fn fastcgi_io(
        &mut self,
        ev: &SyscallEvent,
        fd: i32,
        done: &mut Vec<Request>,
    ) -> bool {
        let key = (ev.pid, fd);
        let data = ev.data.as_deref().unwrap_or_default();
        let io = capture::io_of(ev.name);
        let begins = fastcgi::header(data).is_some_and(|h| h.kind == fastcgi::BEGIN_REQUEST);
        if !self.fcgi.contains(key) {
            // An HTTP connection is never a FastCGI stream, whatever a client sends on it.
            if !begins || self.conns.contains_key(&key) {
                return false;
            }
            match io {
                Some(Io::Write) => self.fcgi.open(key, End::Client),
                Some(Io::Read) => {
                    self.backends_seen = true;
                    self.fcgi.open(key, End::Server)
                }
                None => return false,
            };
        }
        let Some(stream) = self.fcgi.get_mut(key) else {
            return false;
        };
        match (stream.end, io) {
            (End::Client, Some(Io::Write)) if begins => self.sent_begin(ev.tid, done),
            (End::Server, Some(Io::Read)) if ev.ret > 0 => {
                let read = stream.read(data, ev.ret as usize);
                if read.begin {
                    self.leg_end(ev.tid, done);
                    let leg = Leg {
                        pid: ev.pid,
                        tid: ev.tid,
                        comm: ev.comm.clone(),
                        fd,
                        ts: ev.ts,
                        params: Vec::new(),
                        params_done: false,
                        link: None,
                    };
                    let calls = Request::new(0, ev.pid, ev.tid, ev.ts);
                    self.legs.insert(ev.tid, (leg, calls));
                }
                if let Some((leg, _)) = self.legs.get_mut(&ev.tid) {
                    let room = PARAMS_CAP.saturating_sub(leg.params.len());
                    leg.params
                        .extend_from_slice(&read.params[..read.params.len().min(room)]);
                    if read.params_end && !leg.params_done {
                        leg.params_done = true;
                        self.link_active(ev.tid, done);
                    }
                }
            }
            _ => {}
        }
        true
    }

    /// The web server's thread wrote a BEGIN_REQUEST for the request it serves.
    fn sent_begin(&mut self, tid: i32, done: &mut Vec<Request>) {
        let Some(&id) = self.current.get(&tid) else {
            return;
        };
        if self.awaiting.contains(&id) || self.open.get(&id).is_none_or(|r| r.backend.is_some()) {
            return;
        }
        // Requests whose leg never comes (an untraced backend) leave when they finish; the
        // bound is for what is left while they run.
        while self.awaiting.len() >= super::MAX_OPEN {
            self.awaiting.pop_front();
        }
        self.awaiting.push_back(id);
        // A leg already running (or over) whose request this may be.
        let tids: Vec<i32> = self
            .legs
            .iter()
            .filter(|(_, (l, _))| l.link.is_none())
            .map(|(t, _)| *t)
            .collect();
        for t in tids {
            self.link_active(t, done);
        }
        let mut i = 0;
        while i < self.parked.len() {
            let uri = self.parked[i].0.uri();
            match self.pick(uri.as_deref()) {
                Some(id) => {
                    let (leg, calls) = self.parked.remove(i).expect("in range");
                    self.link(id, &leg, calls, false, done);
                }
                None => i += 1,
            }
        }
    }

    /// Find the request of the leg thread `tid` serves, if it has none yet.
    pub(super) fn link_active(&mut self, tid: i32, done: &mut Vec<Request>) {
        let Some((leg, calls)) = self.legs.get(&tid) else {
            return;
        };
        // A leg is a backend's only once it read its PARAMS or made a file call: 16 bytes
        // that look like a BEGIN_REQUEST (a client can send them to a web server) are not.
        if leg.link.is_some() || (!leg.params_done && calls.syscalls == 0) {
            return;
        }
        let uri = leg.uri();
        let Some(id) = self.pick(uri.as_deref()) else {
            return;
        };
        let Some((leg, calls)) = self.legs.get_mut(&tid) else {
            return;
        };
        leg.link = Some(id);
        let leg = leg.clone();
        let calls = std::mem::replace(calls, Request::new(0, leg.pid, leg.tid, leg.ts));
        self.link(id, &leg, calls, true, done);
    }

    /// Of the requests waiting for a leg, the one `uri` names, else the oldest.
    fn pick(&self, uri: Option<&[u8]>) -> Option<u64> {
        let waiting: Vec<&Request> = self
            .awaiting
            .iter()
            .filter_map(|id| {
                self.open
                    .get(id)
                    .or_else(|| self.held.iter().find(|r| r.id == *id))
            })
            .filter(|r| r.backend.is_none())
            .collect();
        uri.and_then(|u| {
            waiting
                .iter()
                .find(|r| r.target.as_deref().is_some_and(|t| fastcgi::same_uri(t, u)))
        })
        .or(waiting.first())
        .map(|r| r.id)
    }

    /// Tie a leg to request `id`: its calls so far join the request's.
    fn link(&mut self, id: u64, leg: &Leg, calls: Request, running: bool, done: &mut Vec<Request>) {
        self.awaiting.retain(|&x| x != id);
        let held = self.held.iter().position(|r| r.id == id);
        let req = match held {
            Some(i) => &mut self.held[i],
            None => match self.open.get_mut(&id) {
                Some(r) => r,
                None => return,
            },
        };
        req.backend = Some(Backend {
            pid: leg.pid,
            tid: leg.tid,
            comm: leg.comm.clone(),
            script_filename: fastcgi::Params::read(&leg.params).script_filename,
        });
        req.leg_open = running;
        req.merge_calls(calls);
        if let Some(i) = held
            && !running
        {
            done.push(self.held.remove(i));
        }
    }

    /// A file call by a thread that serves no HTTP request: its leg's, if it has one.
    pub(super) fn leg_call(&mut self, ev: &SyscallEvent, done: &mut Vec<Request>) -> Option<u64> {
        let (leg, calls) = self.legs.get_mut(&ev.tid)?;
        match leg.link {
            Some(id) => {
                let req = match self.held.iter_mut().find(|r| r.id == id) {
                    Some(r) => r,
                    None => self.open.get_mut(&id)?,
                };
                req.file_call(ev);
                Some(id)
            }
            None => {
                calls.file_call(ev);
                // Its params were not seen whole (cut by the capture): the oldest waiting
                // request is the best guess there is.
                if !leg.params_done {
                    self.link_active(ev.tid, done);
                }
                self.serving(ev.tid)
            }
        }
    }

    /// The leg thread `tid` serves is over (its connection closed, a new BEGIN_REQUEST, the
    /// thread exited).
    pub(super) fn leg_end(&mut self, tid: i32, done: &mut Vec<Request>) {
        let Some((leg, calls)) = self.legs.remove(&tid) else {
            return;
        };
        match leg.link {
            Some(id) => {
                if let Some(i) = self.held.iter().position(|r| r.id == id) {
                    let mut r = self.held.remove(i);
                    r.leg_open = false;
                    done.push(r);
                } else if let Some(r) = self.open.get_mut(&id) {
                    r.leg_open = false;
                }
            }
            None if leg.params_done || calls.syscalls > 0 => {
                if self.parked.len() >= MAX_PARKED {
                    self.parked.pop_front();
                }
                self.parked.push_back((leg, calls));
            }
            None => {}
        }
    }

    /// A FastCGI connection closed: on the backend's end, its leg is over.
    pub(super) fn fastcgi_close(&mut self, key: (i32, i32), done: &mut Vec<Request>) {
        if self.fcgi.close(key).is_some_and(|s| s.end == End::Server) {
            let tid = self
                .legs
                .iter()
                .find(|(_, (l, _))| (l.pid, l.fd) == key)
                .map(|(t, _)| *t);
            if let Some(tid) = tid {
                self.leg_end(tid, done);
            }
        }
    }

    /// Requests waiting for a leg (for tests: the list must not grow).
    #[cfg(test)]
    pub fn awaiting_len(&self) -> usize {
        self.awaiting.len()
    }

    /// Whether finished requests are held for their leg.
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Requests held for their leg longer than HOLD_S (trace time: the next event's, or the
    /// clock's when a live pipeline is idle) go out as they are.
    pub fn release_held(&mut self, now: f64, done: &mut Vec<Request>) {
        let mut i = 0;
        while i < self.held.len() {
            if self.held[i].end_ts + HOLD_S < now || self.held.len() >= MAX_HELD {
                let mut r = self.held.remove(i);
                r.leg_open = false;
                let id = r.id;
                self.awaiting.retain(|&x| x != id);
                done.push(r);
            } else {
                i += 1;
            }
        }
    }
}

impl Request {
    /// The calls a backend leg made before its request was found.
    fn merge_calls(&mut self, calls: Request) {
        self.syscalls += calls.syscalls;
        self.failed += calls.failed;
        for p in calls.processes {
            if !self.processes.contains(&p) && self.processes.len() < super::MAX_PROCESSES {
                self.processes.push(p);
            }
        }
        for f in calls.failures {
            if self.failures.len() < super::MAX_FAILURES {
                self.failures.push(f);
            }
        }
        for l in calls.lookups {
            if self.lookups.len() < super::MAX_LOOKUPS {
                self.lookups.push(l);
            }
        }
    }
}
