//! The ptrace tracer as an event source: what to attach (the PIDs given, their existing
//! descendants, the processes found by name, the server that listens where a probe goes, the
//! FastCGI backends those servers pass requests to, with their workers) or the command to
//! launch, spread over tracer threads; started and joined through the `Source` seam with
//! plain settings from app.rs.

use std::net::SocketAddr;

use crate::error::Error;
use crate::event::{End, Hub, Source, SourceEnd};
use crate::procinfo;
use crate::signals;

use super::pool::{self, Job, Pool};
use super::{Outcome, TracerConfig};

/// What to trace, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// PIDs named by the user: a failure to attach one is fatal.
    pub pids: Vec<i32>,
    /// Command names to find (--apache, --name): ones that vanish or are traced by others
    /// are warnings.
    pub names: Vec<String>,
    /// Where each probe connects (its host's addresses, in the order it tries them). Without
    /// PIDs, or with names, the server listening there is what is traced: found by names,
    /// only those that listen there.
    pub listen: Vec<Vec<SocketAddr>>,
    /// FastCGI backends named by the user (`--fastcgi`, a php-fpm master or worker): a
    /// failure to attach one is fatal; its master and the master's workers are attached
    /// with it.
    pub backends: Vec<i32>,
    /// How the FastCGI backends of the servers to trace are found (from their
    /// configurations: given by app.rs, as a source reads none). `None`: not looked for.
    pub find_backends: Option<FindBackends>,
}

/// A FastCGI backend (php-fpm) that a traced web server passes requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The backend's master (the top of its chain of one command name): its workers are
    /// attached with it.
    pub pid: i32,
    /// Its command name (`php-fpm8.2`).
    pub comm: String,
    /// Where the server passes requests to it, as shown (a socket path, `host:port`).
    pub addr: String,
    /// The master of the web server that passes requests there.
    pub server: i32,
}

/// Finds the FastCGI backends of web servers (given as any of their PIDs) that are running
/// here, and says on stderr which addresses nothing listens on.
pub type FindBackends = fn(&[i32]) -> Vec<Backend>;

/// The ptrace source.
pub struct Ptrace {
    cfg: TracerConfig,
    /// `None`: launch `argv`.
    targets: Option<Targets>,
    argv: Vec<String>,
    threads: usize,
    /// Backend masters attached with their existing workers (found, or the masters of the
    /// `--fastcgi` PIDs), whatever `follow` says: the workers are what serves.
    backends: Vec<i32>,
    pool: Option<Pool>,
}

impl Ptrace {
    /// Attach to running processes: `targets` must name PIDs, find some by name, or probe
    /// an address a server here listens on (checked here, before anything is attached).
    /// `threads`: tracer threads wanted.
    pub fn attach(
        cfg: TracerConfig,
        mut targets: Targets,
        threads: usize,
    ) -> Result<Ptrace, Error> {
        // A probe names its server: that one and nothing else (not every Apache on the
        // host). PIDs given are kept as they are; the probe then only tests them.
        // Checked before anything is looked up: the descendants of "PID 0" are every process.
        if let Some(p) = targets
            .pids
            .iter()
            .chain(&targets.backends)
            .find(|&&p| p <= 0)
        {
            return Err(Error::Usage(format!(
                "invalid PID {p}: PIDs are positive numbers"
            )));
        }
        let mut probed = Vec::new();
        if !targets.listen.is_empty() && (targets.pids.is_empty() || !targets.names.is_empty()) {
            let mut found = Vec::new();
            // Several probes of one server (two URLs of one site) name it once.
            targets.listen.sort();
            targets.listen.dedup();
            for addrs in &targets.listen {
                let (addr, roots) = probed_server(addrs, &targets.names)?;
                found.extend(roots.iter().copied());
                probed.push((addr, roots));
            }
            targets.pids.extend(found);
            targets.pids.sort_unstable();
            targets.pids.dedup();
            targets.names.clear();
        }
        let servers: Vec<i32> = targets
            .pids
            .iter()
            .copied()
            .chain(discovered(&targets))
            .collect();
        if servers.is_empty() && targets.backends.is_empty() {
            return Err(if targets.names.is_empty() {
                Error::Usage(
                    "give PIDs to attach to, or --apache, or --name COMM, or --probe URL".into(),
                )
            } else {
                Error::Usage(format!(
                    "no running process named {}: is the server running? (pgrep -l {})",
                    targets.names.join(" or "),
                    targets.names[0]
                ))
            });
        }
        let mut found = match targets.find_backends {
            Some(find) => find(&servers),
            None => Vec::new(),
        };
        // A backend given as a PID, or whose master is, is not announced as found.
        let ours = procinfo::self_and_ancestors();
        let given: Vec<i32> = targets
            .pids
            .iter()
            .chain(&targets.backends)
            .map(|&p| procinfo::server_master(p))
            .collect();
        found.retain(|b| !given.contains(&b.pid) && !ours.contains(&b.pid));
        // A backend someone else traces (strace, a debugger, another reqtrace) cannot be
        // attached: one warning for its master and workers, and the server is traced alone.
        let mut warned = Vec::new();
        found.retain(|b| match procinfo::status(b.pid).map(|s| s.tracer_pid) {
            Some(0) => true,
            Some(_) if warned.contains(&b.pid) => false,
            Some(tracer) => {
                warned.push(b.pid);
                crate::say!(
                    "reqtrace: warning: {} (PID {}), the FastCGI backend of {} on {}, is \
                     already traced by PID {tracer} ({}): its side of the requests is not \
                     seen; stop that tracer first to see it",
                    b.comm,
                    b.pid,
                    described(&[b.server]),
                    b.addr,
                    procinfo::comm(tracer).unwrap_or_else(|| "?".into())
                );
                false
            }
            None => false,
        });
        announce(&probed, &found);
        let mut backends: Vec<i32> = found
            .iter()
            .map(|b| b.pid)
            .chain(targets.backends.iter().map(|&p| procinfo::server_master(p)))
            .collect();
        backends.retain(|p| !ours.contains(p));
        backends.sort_unstable();
        backends.dedup();
        Ok(Ptrace {
            cfg,
            targets: Some(targets),
            argv: Vec::new(),
            threads,
            backends,
            pool: None,
        })
    }

    /// Launch `argv` under trace (one process tree: one tracer thread).
    pub fn launch(cfg: TracerConfig, argv: Vec<String>) -> Ptrace {
        Ptrace {
            cfg,
            targets: None,
            argv,
            threads: 1,
            backends: Vec::new(),
            pool: None,
        }
    }
}

impl Ptrace {
    /// The processes an attach would trace, as `start` plans them (the PIDs given, then
    /// their descendants when following, the FastCGI backends with their workers, the
    /// processes found by name): for a source that traces the same set another way (eBPF).
    /// With each, whether failing to trace it is fatal (a PID the user named).
    pub fn planned(&self) -> Vec<(i32, bool)> {
        let Some(t) = &self.targets else {
            return Vec::new();
        };
        plan(t, &self.backends, self.cfg.follow)
            .into_iter()
            .filter_map(|j| match j {
                Job::Attach { pid, fatal } => Some((pid, fatal)),
                Job::Launch(_) => None,
            })
            .collect()
    }

    /// The settings it was built with.
    pub fn config(&self) -> &TracerConfig {
        &self.cfg
    }
}

/// Processes found by name, without reqtrace itself, its ancestors and the PIDs given.
fn discovered(t: &Targets) -> Vec<i32> {
    let ours = procinfo::self_and_ancestors();
    procinfo::find_by_comm(&t.names)
        .into_iter()
        .filter(|p| !t.pids.contains(p) && !ours.contains(p))
        .collect()
}

/// The server a probe to `addrs` reaches (tried in order, as the probe connects): the
/// listening socket the kernel would pick, the processes holding it, and from each the top
/// of its chain of ancestors with the same command name (Apache's or nginx's master, whose
/// workers are attached with it). A holder that passed the socket to a child with another
/// name (init, systemd's socket activation, a supervisor) is not the server. With `names`,
/// only a server of those names. The address that answered and the servers' masters (said
/// on stderr by [`announce`]); an error says what listens, or that nothing does.
fn probed_server(addrs: &[SocketAddr], names: &[String]) -> Result<(SocketAddr, Vec<i32>), Error> {
    let shown = |a: &[SocketAddr]| {
        a.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let listeners = procinfo::net::tcp_listeners();
    // As the probe connects: the first address with a listener. One that is not on this
    // machine may reach another one's server before any here: nothing here can be named.
    let mut chosen = None;
    for a in addrs {
        if !procinfo::net::is_local(a.ip()) {
            return Err(Error::Usage(format!(
                "--probe: {a} is not an address of this machine: reqtrace traces servers \
                 running here; probe the server on its own machine (http://127.0.0.1:{}/…), \
                 or give its PIDs",
                a.port()
            )));
        }
        let inodes = procinfo::net::accepting(&listeners, *a);
        if !inodes.is_empty() {
            chosen = Some((*a, inodes));
            break;
        }
    }
    let Some((addr, inodes)) = chosen else {
        let port = addrs.first().map_or(0, SocketAddr::port);
        return Err(Error::Usage(format!(
            "--probe: nothing listens on {} on this machine: start the server, or probe the \
             address and port it listens on (ss -ltn 'sport = :{port}' lists the listeners); \
             reqtrace only traces servers running here",
            shown(addrs)
        )));
    };
    let ours = procinfo::self_and_ancestors();
    let holders: Vec<i32> = procinfo::net::socket_holders(&inodes)
        .into_iter()
        .filter(|p| !ours.contains(p))
        .collect();
    let comm = |p: i32| procinfo::comm(p).unwrap_or_default();
    let parent = |p: i32| procinfo::status(p).map_or(0, |s| s.ppid);
    let is_ancestor = |a: i32, mut p: i32| {
        for _ in 0..4096 {
            p = parent(p);
            if p <= 0 {
                return false;
            }
            if p == a {
                return true;
            }
        }
        false
    };
    // Init and supervisors hold sockets they hand to a service: not servers. (A server's
    // master and workers share one name: no ancestry is walked for them.)
    let named: Vec<(i32, String)> = holders.iter().map(|&p| (p, comm(p))).collect();
    let servers: Vec<i32> = named
        .iter()
        .filter(|(h, c)| *h != 1 && !named.iter().any(|(g, gc)| gc != c && is_ancestor(*h, *g)))
        .map(|(h, _)| *h)
        .collect();
    if servers.is_empty() {
        let why = if holders.is_empty() && !procinfo::we_can_ptrace_others() {
            "but which process holds it cannot be seen: another user's open files \
             (/proc/PID/fd) are visible only to root or with CAP_SYS_PTRACE; run reqtrace with \
             sudo"
                .to_string()
        } else if holders.is_empty() {
            "but no process that reqtrace can see holds it (the server is stopping, or it runs \
             in another PID namespace or container): give its PID if it is visible here"
                .to_string()
        } else {
            format!(
                "held only by PID {} ({}), which hands it to the server it starts (socket \
                 activation): make the server start, or give its PID",
                holders[0],
                comm(holders[0])
            )
        };
        return Err(Error::Usage(format!(
            "--probe: a socket takes connections to {addr}, {why}"
        )));
    }
    let mut roots: Vec<i32> = servers
        .iter()
        .map(|&p| procinfo::server_master(p))
        .collect();
    roots.sort_unstable();
    roots.dedup();
    let nested: Vec<i32> = roots
        .iter()
        .copied()
        .filter(|&r| roots.iter().any(|&o| o != r && is_ancestor(o, r)))
        .collect();
    roots.retain(|r| !nested.contains(r) && !ours.contains(r));
    if !names.is_empty() {
        let all = roots.clone();
        roots.retain(|&r| names.contains(&comm(r)));
        if roots.is_empty() {
            return Err(Error::Usage(format!(
                "--probe: {addr} is served by {}, not by a process named {}: drop \
                 --apache/--name to trace that server, or probe the address the {} server \
                 listens on",
                described(&all),
                names.join(" or "),
                names[0]
            )));
        }
    }
    Ok((addr, roots))
}

/// `apache2 (PID 12), nginx (PID 34)`.
fn described(pids: &[i32]) -> String {
    pids.iter()
        .map(|&p| format!("{} (PID {p})", procinfo::comm(p).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Say once what will be traced beyond what was named: the server each probe reaches, and
/// the FastCGI backends the servers pass requests to (`… which passes PHP to php-fpm8.2
/// (PID 456) on /run/php/x.sock: tracing both`).
fn announce(probed: &[(SocketAddr, Vec<i32>)], found: &[Backend]) {
    // The backends of some servers, each once with every address it is reached on.
    let passes = |servers: &[i32]| -> Option<(String, usize)> {
        let mut seen: Vec<(i32, String, Vec<String>)> = Vec::new();
        for b in found.iter().filter(|b| servers.contains(&b.server)) {
            match seen.iter_mut().find(|(p, _, _)| *p == b.pid) {
                Some((_, _, addrs)) if !addrs.contains(&b.addr) => addrs.push(b.addr.clone()),
                Some(_) => {}
                None => seen.push((b.pid, b.comm.clone(), vec![b.addr.clone()])),
            }
        }
        if seen.is_empty() {
            return None;
        }
        let what = if seen.iter().all(|(_, c, _)| c.contains("php")) {
            "PHP"
        } else {
            "FastCGI requests"
        };
        let to = seen
            .iter()
            .map(|(p, c, a)| format!("{c} (PID {p}) on {}", a.join(" and ")))
            .collect::<Vec<_>>()
            .join(", ");
        Some((format!("passes {what} to {to}"), seen.len()))
    };
    let mut told: Vec<i32> = Vec::new();
    for (addr, roots) in probed {
        told.extend(roots);
        match passes(roots) {
            None => crate::say!(
                "reqtrace: {addr} is served by {}: tracing that server only",
                described(roots)
            ),
            Some((passes, n)) => crate::say!(
                "reqtrace: {addr} is served by {}, which {passes}: tracing {}",
                described(roots),
                if roots.len() + n == 2 {
                    "both"
                } else {
                    "them all"
                }
            ),
        }
    }
    let mut others: Vec<i32> = found
        .iter()
        .map(|b| b.server)
        .filter(|s| !told.contains(s))
        .collect();
    others.sort_unstable();
    others.dedup();
    for server in others {
        if let Some((passes, n)) = passes(&[server]) {
            crate::say!(
                "reqtrace: {} {passes}: tracing {} too",
                described(&[server]),
                if n == 1 { "it" } else { "them" }
            );
        }
    }
}

/// What to attach: the PIDs given and the `--fastcgi` PIDs (a failure is fatal), then, when
/// following forks, the existing descendants of the PIDs given (an Apache master's workers),
/// the backend masters and all their workers, then the processes found by name.
fn plan(t: &Targets, backends: &[i32], follow: bool) -> Vec<Job> {
    let mut pids = t.pids.clone();
    pids.extend(&t.backends);
    pids.sort_unstable();
    pids.dedup();
    let mut seen: std::collections::HashSet<i32> = pids.iter().copied().collect();
    let mut jobs: Vec<Job> = pids
        .iter()
        .map(|&pid| Job::Attach { pid, fatal: true })
        .collect();
    let mut others = Vec::new();
    if follow {
        for &pid in &pids {
            others.extend(procinfo::descendants(pid));
        }
    }
    for &pid in backends {
        others.push(pid);
        others.extend(procinfo::descendants(pid));
    }
    others.extend(discovered(t));
    for pid in others {
        if seen.insert(pid) {
            jobs.push(Job::Attach { pid, fatal: false });
        }
    }
    jobs
}

impl Source for Ptrace {
    /// One tracer thread does the pipeline's work itself, when no stop is pending: on a
    /// machine the traced server keeps busy, a writer thread cost as much again in being
    /// woken, preempted and switched as in its work, and freed every event on another
    /// thread than the one that made it (docs/performance.md, issue 15). The traced
    /// processes wait for that work only when a stop comes in the middle of it. Several
    /// tracer threads (`--threads`) keep the writer thread rather than take turns at a lock.
    fn pipeline_inline(&self) -> Option<crate::event::source::InlineClock> {
        (self.threads <= 1).then_some(crate::event::source::InlineClock::Blocking)
    }

    fn start(&mut self, hub: &dyn Hub) -> Result<Vec<i32>, Error> {
        let jobs = match &self.targets {
            None => vec![Job::Launch(self.argv.clone())],
            Some(t) => plan(t, &self.backends, self.cfg.follow),
        };
        let nthreads = self.threads.clamp(1, 64).min(jobs.len().max(1));
        let mut shares: Vec<Vec<Job>> = vec![Vec::new(); nthreads];
        for (i, job) in jobs.into_iter().enumerate() {
            shares[i % nthreads].push(job);
        }
        let follow = self.cfg.follow;
        let targets = self.targets.clone();
        let backends = self.backends.clone();
        let rescan = move || match &targets {
            Some(t) => {
                let mut v = Vec::new();
                if follow {
                    for &pid in t.pids.iter().chain(&t.backends) {
                        v.extend(procinfo::descendants(pid));
                    }
                }
                for &pid in &backends {
                    v.push(pid);
                    v.extend(procinfo::descendants(pid));
                }
                v.extend(procinfo::find_by_comm(&t.names));
                let ours = procinfo::self_and_ancestors();
                v.retain(|p| !ours.contains(p));
                v
            }
            None => Vec::new(),
        };
        let (pool, pids) = pool::start(shares, &self.cfg, hub, &rescan)?;
        self.pool = Some(pool);
        Ok(pids)
    }

    fn run(self: Box<Self>, _hub: &dyn Hub) -> Result<SourceEnd, Error> {
        let Some(pool) = self.pool else {
            return Err(Error::Tracing("the tracer was not started".into()));
        };
        let end = pool.join();
        // A failure still ends with what was counted: the summary is written, then the error.
        let (end_reason, exit, late_error) = match end.outcome {
            Ok(Outcome::Detached(r)) => (signals::end_of(r), None, None),
            Ok(Outcome::AllGone(exit)) => (End::AllExited, exit, None),
            Err(e) => (
                End::TracingFailed,
                None,
                Some(Error::Tracing(format!("waiting for tracees failed: {e}"))),
            ),
        };
        Ok(SourceEnd {
            end: end_reason,
            processes: end.processes,
            threads: end.threads,
            dropped: end.dropped,
            compat: end.compat,
            end_ts: None,
            unparsed: None,
            exit,
            late_error,
        })
    }
}
