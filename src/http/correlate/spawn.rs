//! Processes a request starts, in the correlator: a process forked while its parent works
//! for a request (prefork's mod_cgi child that execs the script, a shell the script runs,
//! PHP's exec() under mod_php or in a php-fpm worker serving a FastCGI leg), and its
//! descendants, make their file calls for that request until they exit. mod_cgid's daemon
//! (the event and worker MPMs' CGI) forks the script's process itself, serving no request:
//! such a process is tied to the request whose script it execs. The map is bounded as the
//! open requests are; an entry goes when its process exits or outlives its request.

use crate::event::SyscallEvent;

use super::{Correlator, MAX_OPEN};

impl Correlator {
    /// A new process (not a thread) `pid`, forked by thread `parent`: the parent's request
    /// (the one it serves, its FastCGI leg's, or the one it was itself started for) is its.
    pub(super) fn process_started(&mut self, pid: i32, parent: i32) {
        let id = self
            .serving(parent)
            .or_else(|| self.spawned.get(&parent).copied());
        if let Some(id) = id.filter(|id| self.open.contains_key(id))
            && self.spawned.len() < MAX_OPEN
        {
            self.spawned.insert(pid, id);
        }
    }

    /// A file call of a process serving no request itself: the request it was started for,
    /// or the one whose script it execs (then it is that request's from now on). `None`:
    /// neither (a FastCGI leg's call, or nobody's).
    pub(super) fn spawned_call(&mut self, ev: &SyscallEvent) -> Option<u64> {
        let id = match self.spawned.get(&ev.pid) {
            Some(&id) => id,
            None => {
                let id = self.exec_for_request(ev)?;
                if self.spawned.len() >= MAX_OPEN {
                    return None;
                }
                self.spawned.insert(ev.pid, id);
                id
            }
        };
        let Some(r) = self.open.get_mut(&id) else {
            // Its request is over (the process outlived it): its calls are its own.
            self.spawned.remove(&ev.pid);
            return None;
        };
        r.file_call(ev);
        Some(id)
    }

    /// The open request whose file a process that serves none execs: no fork ties mod_cgid's
    /// child to the worker thread serving the request, but the worker looked the script up,
    /// and the child execs that same path. The oldest such request (two requests for one
    /// script at once are told apart by nothing in the trace; either is the right script).
    fn exec_for_request(&self, ev: &SyscallEvent) -> Option<u64> {
        if !matches!(ev.name, "execve" | "execveat") || self.legs.contains_key(&ev.tid) {
            return None;
        }
        let path = ev.path.as_ref()?;
        self.open
            .values()
            .filter(|r| r.lookups.iter().any(|l| l.path == *path))
            .map(|r| r.id)
            .min()
    }
}
