//! Explaining a finished request: rank its failures (rank.rs) and weigh in what the server
//! logged for it (logged.rs), then for each suspect find the
//! near miss that was meant (nearmiss.rs), what denies access to whom (perms/), and where the
//! wrong name appears in the server's configuration (config/) and DocumentRoot (search.rs);
//! for the request, the notes that explain a failure no call does (notes.rs, and PHP's
//! open_basedir refusals in basedir.rs). A suspect is explained as the process that made its
//! call sees it: its credentials, its root (a php-fpm pool's chroot) and, for a FastCGI
//! backend, its configuration next to the web server's (fastcgi.rs). Suspects and
//! notes are data (hint.rs), worded by output/explain.rs. Runs on the output thread, never on
//! the tracer's: it reads the filesystem, bounded in time.

mod basedir;
pub mod config;
mod fastcgi;
#[cfg(test)]
mod fastcgi_tests;
pub mod hint;
pub mod logged;
pub mod nearmiss;
mod notes;
pub mod perms;
pub mod rank;
mod rooted;
pub mod search;
#[cfg(test)]
pub(crate) mod testdir;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::http::correlate::Request;
use crate::procinfo;
use rooted::Rooted;
use search::reference_name;

pub use config::ServerConfig;
pub use hint::{Hint, Note};
pub use search::Reference;

/// A suspect's other paths (the same name in other directories) tried for a near miss.
const MAX_OTHER_PATHS: usize = 8;
/// At most this many suspects are explained per request.
const MAX_SUSPECTS: usize = 10;
/// References are searched for the first few suspects only, each within this budget.
const REF_SUSPECTS: usize = 3;
const REF_BUDGET: Duration = Duration::from_millis(300);
/// A search result is reused this long (a failing URL under load repeats the same name).
const REF_TTL: Duration = Duration::from_secs(10);
/// A suspect's look at the file system (did-you-mean, hints) is reused this long for the
/// same path, errno, access and worker. A broken URL under load fails the same way thousands
/// of times a second: it is looked at once a second, not once a request (which made the
/// writer fall behind and drop events), and a fix shows within a second.
const LOOK_TTL: Duration = Duration::from_secs(1);
/// A worker's server (its master) is looked up in /proc at most this often.
const MASTER_TTL: Duration = Duration::from_secs(10);
/// Entries a cache holds before it is emptied: memory stays bounded whatever the traffic.
const MAX_CACHED: usize = 4096;

/// What a look at the file system said about one failure: (did_you_mean, hints).
type Look = (Option<Vec<u8>>, Vec<Hint>);
/// Whose failure (the worker, while it lives), which path as seen here, errno, access.
type LookKey = (Option<i32>, Vec<u8>, i32, perms::Want);
/// Which server, which backend (its master; 0 for none), the name searched, the
/// per-directory files the request read.
type RefKey = (i32, i32, Vec<u8>, Vec<PathBuf>);

/// A likely cause of a request's failure, explained.
#[derive(Debug, Clone)]
pub struct Suspect {
    /// The process that made the call: the request's web server worker, or the FastCGI
    /// backend (a php-fpm worker) it handed the request to.
    pub pid: i32,
    /// Its command name (`php-fpm8.2`), read while it lives; offline, as recorded.
    pub process: Option<String>,
    pub syscall: &'static str,
    pub path: Vec<u8>,
    pub errno: i32,
    pub count: u64,
    pub score: i32,
    pub reason: String,
    pub did_you_mean: Option<Vec<u8>>,
    pub hints: Vec<Hint>,
    pub references: Vec<Reference>,
    /// The name the references were searched for.
    pub searched: Option<Vec<u8>>,
    /// A normal failure, listed only with `--all`.
    pub noise: bool,
}

impl Report {
    /// Suspects that are not noise: what makes a request need attention.
    pub fn real_suspects(&self) -> usize {
        self.suspects.iter().filter(|s| !s.noise).count()
    }

    /// Whether a request needs attention: an error status, no status, suspects, an error
    /// its server logged for it, or a refusal no call shows (PHP's open_basedir).
    pub fn needs_attention(&self) -> bool {
        self.real_suspects() > 0
            || self.request.status.is_none_or(|s| s >= 400)
            || self.logged_error
            || self.notes.iter().any(Note::is_refusal)
    }
}

/// A finished request with its diagnosis.
#[derive(Debug, Clone)]
pub struct Report {
    pub request: Request,
    pub suspects: Vec<Suspect>,
    /// Failures that are normal (.htaccess probes, recovered lookups): counted, not shown.
    pub noise: u64,
    /// What explains a failed request that no failing syscall does.
    pub notes: Vec<Note>,
    /// Its server logged an error for it (logged.rs).
    pub logged_error: bool,
}

/// What a recorded trace said of a request (`reqtrace analyze`): its suspects as explained on
/// the machine that recorded it.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub suspects: Vec<Suspect>,
    pub notes: Vec<Note>,
    pub noise: u64,
}

/// Where the file system a trace refers to can be looked at, when not live.
#[derive(Debug, Clone)]
pub struct Offline {
    /// The traced machine's `/` as seen here (`/` itself on the same machine); `None`: nowhere,
    /// so nothing is looked up and only the recording explains.
    pub root: Option<PathBuf>,
    /// The server's main configuration file (a path on the traced machine).
    pub config: Option<String>,
}

/// How the diagnoser looks at the file system.
enum View {
    /// The traced processes are alive here: /proc tells their credentials and configuration.
    Live,
    /// A recording: look under a root, if any, with a configuration given up front.
    Offline {
        root: Option<Rooted>,
        config: ServerConfig,
    },
}

/// A cached value younger than `ttl`.
fn fresh<K: std::hash::Hash + Eq, V: Clone>(
    map: &HashMap<K, (Instant, V)>,
    key: &K,
    ttl: Duration,
) -> Option<V> {
    map.get(key)
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, v)| v.clone())
}

/// Cache a value; a cache at MAX_CACHED entries is emptied first, so memory stays bounded
/// whatever the traffic.
fn remember<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, (Instant, V)>, key: K, v: V) {
    if map.len() >= MAX_CACHED {
        map.clear();
    }
    map.insert(key, (Instant::now(), v));
}

/// Apache's directive naming the per-directory configuration files.
const ACCESS_FILE_NAME: &[&str] = &["AccessFileName"];

/// The per-directory file names a configuration's `AccessFileName` lines give (Apache reads
/// each, in order, in every directory it walks), else Apache's default `.htaccess`.
fn access_file_names(lines: &[config::ConfigLine]) -> Vec<Vec<u8>> {
    let names: Vec<Vec<u8>> = lines
        .iter()
        .flat_map(|l| l.args.iter())
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .map(|a| a.as_bytes().to_vec())
        .collect();
    if names.is_empty() {
        vec![rank::ACCESS_FILE.to_vec()]
    } else {
        names
    }
}

/// What the recording explained of the same failure, where this run could not look.
fn fill_from(s: &mut Suspect, rec: &Recorded) {
    let Some(r) = rec
        .suspects
        .iter()
        .find(|r| r.path == s.path && r.errno == s.errno)
    else {
        return;
    };
    if s.did_you_mean.is_none() {
        s.did_you_mean = r.did_you_mean.clone();
    }
    if s.process.is_none() {
        s.process = r.process.clone();
    }
    if s.hints.is_empty() {
        s.hints = r.hints.clone();
    }
    if s.references.is_empty() && !r.references.is_empty() {
        s.references = r.references.clone();
        s.searched = r.searched.clone();
    }
}

pub struct Diagnoser {
    show_noise: bool,
    view: View,
    /// Each server's configuration, by its master's PID: with several Apaches traced, a
    /// request's references come from the server that answered it.
    configs: HashMap<i32, ServerConfig>,
    /// The configuration used last, for a worker that is gone by the time it is asked.
    last: ServerConfig,
    refs_cache: HashMap<RefKey, (Instant, Vec<Reference>)>,
    /// Configuration lines by server and the first directive asked for.
    lines_cache: HashMap<(i32, &'static str), (Instant, Vec<config::ConfigLine>)>,
    looks: HashMap<LookKey, (Instant, Look)>,
    /// A worker's master PID and its command name, by worker PID.
    masters: HashMap<i32, (Instant, i32, Option<String>)>,
    /// A process's root when it is not `/` (a chrooted php-fpm pool), by PID.
    roots: HashMap<i32, (Instant, Option<Rooted>)>,
    /// The per-directory file names (AccessFileName) of a worker's server, by worker PID.
    access: HashMap<i32, (Instant, Vec<Vec<u8>>)>,
    /// Whether a worker's fd 2 is a log reqtrace captures, by PID.
    stderr: HashMap<i32, (Instant, bool)>,
}

impl Diagnoser {
    /// `show_noise`: list noise as suspects too (`--all`).
    pub fn new(show_noise: bool) -> Self {
        Diagnoser {
            show_noise,
            view: View::Live,
            configs: HashMap::new(),
            last: ServerConfig::default(),
            refs_cache: HashMap::new(),
            lines_cache: HashMap::new(),
            looks: HashMap::new(),
            masters: HashMap::new(),
            roots: HashMap::new(),
            access: HashMap::new(),
            stderr: HashMap::new(),
        }
    }

    /// A diagnoser for a recording (`reqtrace analyze`): no /proc, and the file system only
    /// under `offline.root`.
    pub fn offline(show_noise: bool, offline: Offline) -> Self {
        // Absolute, so that what is found under it starts with it.
        let root = offline
            .root
            .map(|r| Rooted(std::path::absolute(&r).unwrap_or(r)));
        let config = match &root {
            Some(r) => match offline.config {
                // The file's name says whose syntax it is: nginx.conf, or Apache's.
                Some(f) if config::base_name(&f).starts_with("nginx") => {
                    config::nginx_config_under(&r.0, &["nginx".into(), "-c".into(), f])
                }
                Some(f) => config::apache_config_under(&r.0, &["apache2".into(), "-f".into(), f]),
                None => {
                    let apache = config::apache_config_under(&r.0, &["apache2".into()]);
                    if apache.files.is_empty() {
                        config::nginx_config_under(&r.0, &["nginx".into()])
                    } else {
                        apache
                    }
                }
            },
            None => ServerConfig::default(),
        };
        let mut d = Diagnoser::new(show_noise);
        d.view = View::Offline { root, config };
        d
    }

    /// The configuration of the server `pid` belongs to: found from its Apache master's
    /// command line (empty for other servers). The master PID identifies the server.
    fn config_for(&mut self, pid: i32) -> (i32, ServerConfig) {
        let (master, comm) = match self.masters.get(&pid) {
            Some((at, master, comm)) if at.elapsed() < MASTER_TTL => (*master, comm.clone()),
            _ => {
                let master = procinfo::server_master(pid);
                let comm = procinfo::comm(master);
                if self.masters.len() >= MAX_CACHED {
                    self.masters.clear();
                }
                self.masters
                    .insert(pid, (Instant::now(), master, comm.clone()));
                (master, comm)
            }
        };
        match comm.as_deref() {
            Some("apache2" | "httpd") => {
                let cfg = self
                    .configs
                    .entry(master)
                    .or_insert_with(|| config::apache_config(&procinfo::cmdline(master)))
                    .clone();
                self.last = cfg.clone();
                (master, cfg)
            }
            Some("nginx") => {
                let cfg = self
                    .configs
                    .entry(master)
                    .or_insert_with(|| {
                        config::nginx_config_under(Path::new("/"), &procinfo::cmdline(master))
                    })
                    .clone();
                self.last = cfg.clone();
                (master, cfg)
            }
            // A FastCGI backend: its pool files, never the web server's fallback (`last`).
            Some(c) if fastcgi::is_fpm(Some(c)) => {
                let cfg = self
                    .configs
                    .entry(master)
                    .or_insert_with(|| {
                        config::fpm_config_under(Path::new("/"), &procinfo::cmdline(master), c)
                    })
                    .clone();
                (master, cfg)
            }
            Some(_) => (master, ServerConfig::default()),
            None => (0, self.last.clone()),
        }
    }

    pub fn diagnose(&mut self, mut request: Request) -> Report {
        // What a recording said (`reqtrace analyze`): the replayer put a Recorded there.
        let recorded: Option<std::sync::Arc<Recorded>> = request
            .recorded
            .take()
            .and_then(|v| v.0.downcast::<Recorded>().ok());
        // The request's syscall lines were recorded too (calls with paths: reads and writes of
        // a `--trace net` recording are not): its failures can be ranked again. Without them
        // the recorded suspects are all there is.
        let with_syscalls = !request.failures.is_empty() || !request.lookups.is_empty();
        let said = logged::read(&request);
        let logged_error = logged::alarming(&said);
        if let Some(rec) = &recorded
            && !with_syscalls
        {
            // Nothing to rank again: the recording's own explanation is the report.
            let show_noise = self.show_noise;
            // The open_basedir refusals are read again from the recorded log lines (a
            // recorded note is text, which no longer tells a refusal).
            let notes = basedir::notes(&request)
                .into_iter()
                .chain(
                    rec.notes
                        .iter()
                        .filter(|n| !matches!(n, Note::Recorded(t) if t.contains("open_basedir")))
                        .cloned(),
                )
                .collect();
            return Report {
                request,
                suspects: rec
                    .suspects
                    .iter()
                    .filter(|s| show_noise || !s.noise)
                    .cloned()
                    .collect(),
                noise: rec.noise,
                notes,
                logged_error,
            };
        }
        // Live, paths are looked at as they are; offline, under the root (or not at all).
        let root: Option<Rooted> = match &self.view {
            View::Live => Some(Rooted(PathBuf::from("/"))),
            View::Offline { root, .. } => root.clone(),
        };
        let live = matches!(self.view, View::Live);
        // Paths are looked up as the tracer resolved them: a chrooted process's paths under
        // its root already (event::fds, as /proc/PID/root shows it).
        let exists = |p: &[u8]| {
            root.iter()
                .any(|r| crate::syscalls::path::as_path(&r.local(p)).exists())
        };
        let mut config: Option<(i32, ServerConfig)> = None;
        // The server's per-directory file names, read (cached) only when something failed.
        let access = if request.failures.is_empty() {
            vec![rank::ACCESS_FILE.to_vec()]
        } else {
            match fresh(&self.access, &request.pid, REF_TTL) {
                Some(names) => names,
                None => {
                    let (master, cfg) = self.server_config(&mut config, request.pid);
                    let names = access_file_names(&self.lines(master, &cfg, ACCESS_FILE_NAME));
                    remember(&mut self.access, request.pid, names.clone());
                    names
                }
            }
        };
        let mut groups = rank::rank_with(&request, &exists, &access);
        // Whether what the worker logs reaches reqtrace: it logged (in this trace), or, live,
        // its fd 2 (Apache's ErrorLog, nginx's error_log) is a file or a pipe reqtrace reads.
        let watched = request.log_watched
            || !request.logged.is_empty()
            || (live && self.stderr_logged(request.pid));
        logged::weigh(&mut groups, &request, &said, watched);
        let noise = groups
            .iter()
            .filter(|g| g.noise.is_some())
            .map(|g| g.count)
            .sum();
        // Read only when a suspect needs it: most requests have none. By process: a request
        // through FastCGI holds the web server's calls and php-fpm's.
        let mut creds: HashMap<i32, Option<perms::Creds>> = HashMap::new();
        let mut suspects = Vec::new();
        let show_noise = self.show_noise;
        for g in groups
            .into_iter()
            .filter(|g| show_noise || g.noise.is_none())
            .take(MAX_SUSPECTS)
        {
            let reason = match g.noise {
                Some(why) => format!("noise: {why}"),
                None => g.reasons.join("; "),
            };
            let mut s = Suspect {
                pid: g.pid,
                process: if live { procinfo::comm(g.pid) } else { None },
                syscall: g.syscall,
                path: g.path,
                errno: g.errno,
                count: g.count,
                score: g.score,
                reason,
                did_you_mean: None,
                hints: Vec::new(),
                references: Vec::new(),
                searched: None,
                noise: g.noise.is_some(),
            };
            // A chrooted process names paths inside its root: looked up there, and what is
            // found there named back in its terms.
            // A live trace resolves a chrooted process's paths under its root already (event::fds,
            // as /proc/PID/root shows it): such a path is the host's and looked up as it is.
            // Read only for a suspect (and cached): a healthy request reads nothing of /proc.
            let chrooted_in = if live && g.noise.is_none() {
                self.chroot_of(s.pid)
            } else {
                None
            };
            let chrooted_in = chrooted_in.as_ref();
            let jail = chrooted_in.filter(|j| {
                let r = j.0.as_os_str().as_encoded_bytes();
                !(s.path.starts_with(r) && s.path.get(r.len()) == Some(&b'/'))
            });
            if g.noise.is_none()
                && let Some(server_root) = &root
                && let Some(root) = jail.or(Some(server_root))
            {
                let here = root.local(&s.path);
                let want = match s.syscall {
                    "execve" | "execveat" => perms::Want::Exec,
                    "open" | "openat" | "openat2" | "creat" if g.write => perms::Want::Write,
                    "open" | "openat" | "openat2" | "access" | "faccessat" | "faccessat2" => {
                        perms::Want::Read
                    }
                    _ => perms::Want::Search,
                };
                // Whose access is denied is known only while the process lives: the process
                // that made the call (php-fpm's pool user, not the web server's).
                let pid = live.then_some(s.pid);
                let key: LookKey = (pid, here.clone(), s.errno, want);
                let look = match self.looks.get(&key) {
                    Some((at, look)) if at.elapsed() < LOOK_TTL => look.clone(),
                    _ => {
                        // A missing path: a near name or shape, and the line that glued it.
                        let (did_you_mean, glued) = if s.errno == libc::ENOENT {
                            let (master, cfg) = self.server_config(&mut config, request.pid);
                            let mut lines = || self.lines(master, &cfg, nearmiss::ALIASES);
                            // The configuration's paths are the web server's.
                            let local = |p: &[u8]| server_root.local(p);
                            let (dym, glued) =
                                nearmiss::near_miss(&here, &cfg.document_roots, &mut lines, &local);
                            // The URL's file under another root (a SCRIPT_FILENAME on a wrong
                            // prefix): what a person sees first.
                            // One name looked for along a search path (`env pyhton3` trying
                            // each PATH directory, an include_path): the near miss may be
                            // next to another of its paths than the one shown.
                            let dym = dym.or_else(|| {
                                g.paths
                                    .iter()
                                    .filter(|p| **p != s.path)
                                    .take(MAX_OTHER_PATHS)
                                    .find_map(|p| nearmiss::did_you_mean(&root.local(p)))
                            });
                            let dym = dym.or_else(|| {
                                let url = rank::url_path(request.target.as_deref()?);
                                let exists =
                                    |p: &[u8]| crate::syscalls::path::as_path(&local(p)).exists();
                                nearmiss::url_under_roots(
                                    &s.path,
                                    &url,
                                    &cfg.document_roots,
                                    &exists,
                                )
                                .map(|p| local(&p))
                            });
                            (dym, glued)
                        } else {
                            (None, None)
                        };
                        let creds = match pid {
                            Some(p) => creds.entry(p).or_insert_with(|| perms::creds_of(p)).clone(),
                            None => None,
                        };
                        let mut hints = perms::explain(&here, s.errno, creds.as_ref(), want, pid);
                        hints.extend(glued);
                        if s.errno == libc::ENOENT {
                            let (master, cfg) = self.server_config(&mut config, request.pid);
                            hints.extend(fastcgi::default_root(&here, &cfg, || {
                                self.lines(master, &cfg, fastcgi::ROOT_DIRECTIVES)
                            }));
                        }
                        notes::symlink_refused(&here, s.errno, &mut hints, || {
                            let (master, cfg) = self.server_config(&mut config, request.pid);
                            self.lines(master, &cfg, notes::SYMLINK_DIRECTIVES)
                        });
                        // Through a dangling symlink every name of the path exists (the
                        // link's too): the name meant is the target's.
                        let did_you_mean = did_you_mean.or_else(|| {
                            hints.iter().find_map(|h| match h {
                                Hint::DanglingLink { link, target, .. } => {
                                    nearmiss::through_link(&here, link, target)
                                }
                                _ => None,
                            })
                        });
                        let did_you_mean = did_you_mean.map(|p| root.remote(&p));
                        let mut hints: Vec<Hint> = hints
                            .into_iter()
                            .map(|mut h| {
                                // A jail's hints keep the paths reqtrace looked at (the
                                // host's: what `ls` there shows), said under the jail's name.
                                if jail.is_none() {
                                    h.map_paths(&|p| root.remote(p));
                                }
                                h
                            })
                            // "X does not exist" is what the suspect's line says already.
                            .filter(|h| !h.is_only_missing(&s.path))
                            .collect();
                        if let Some(j) = chrooted_in {
                            let chrooted = Hint::Chrooted {
                                root: j.0.as_os_str().as_encoded_bytes().to_vec(),
                            };
                            hints.retain(|h| *h != chrooted);
                            hints.insert(0, chrooted);
                        }
                        if self.looks.len() >= MAX_CACHED {
                            self.looks.clear();
                        }
                        let look = (did_you_mean, hints);
                        self.looks.insert(key, (Instant::now(), look.clone()));
                        look
                    }
                };
                (s.did_you_mean, s.hints) = look;
                if suspects.len() < REF_SUSPECTS {
                    let name = reference_name(&here, s.errno);
                    // The web server's configuration (the request's pid is its worker), and
                    // the backend's when the call was the backend's (php-fpm's pool files).
                    let (master, mut cfg) = self.server_config(&mut config, request.pid);
                    let mut backend = 0;
                    if live && s.pid != request.pid {
                        let (m, c) = self.config_for(s.pid);
                        if m != 0 && m != master && !c.files.is_empty() {
                            backend = m;
                            cfg = fastcgi::merged(&cfg, &c);
                        }
                    }
                    // The per-directory files the server read for this request (.htaccess,
                    // or what AccessFileName names, of each directory it walked): searched too.
                    let mut access: Vec<PathBuf> = request
                        .lookups
                        .iter()
                        .filter(|l| {
                            access
                                .iter()
                                .any(|n| rank::basename(&l.path) == n.as_slice())
                        })
                        .map(|l| {
                            crate::syscalls::path::as_path(&server_root.local(&l.path))
                                .to_path_buf()
                        })
                        .collect();
                    access.sort();
                    access.dedup();
                    s.references = self.references((master, backend), &cfg, &access, &name);
                    for r in &mut s.references {
                        r.file = String::from_utf8_lossy(&server_root.remote(r.file.as_bytes()))
                            .into_owned();
                    }
                    // The line that glued the path is not found by its name (the glued one).
                    for h in &s.hints {
                        if let Hint::GluedTarget { by, .. } = h {
                            let r = Reference {
                                file: String::from_utf8_lossy(&by.file).into_owned(),
                                line: by.line,
                                text: by.text.clone(),
                            };
                            if !s.references.contains(&r) {
                                s.references.insert(0, r);
                            }
                        }
                    }
                    // Where PHP said the code that asked for it is (`in FILE on line N` of a
                    // warning naming this file): the line that holds the wrong name.
                    for r in logged::locations(&request, &said, &s.path) {
                        let local = server_root.local(r.0.as_slice());
                        if let Some(text) = search::line_of(&local, r.1) {
                            let r = Reference {
                                file: String::from_utf8_lossy(&r.0).into_owned(),
                                line: r.1,
                                text,
                            };
                            if !s.references.contains(&r) {
                                s.references.insert(0, r);
                            }
                        }
                    }
                    s.searched = Some(name);
                }
            }
            if let Some(rec) = &recorded {
                fill_from(&mut s, rec);
            }
            suspects.push(s);
        }
        // What the recording named and this ranking does not see (its syscall lines were
        // filtered when recorded: --failed, --trace) is kept, not lost.
        if let Some(rec) = &recorded {
            for r in &rec.suspects {
                if (show_noise || !r.noise)
                    && !suspects
                        .iter()
                        .any(|s: &Suspect| s.path == r.path && s.errno == r.errno)
                {
                    suspects.push(r.clone());
                }
            }
        }
        // A refusal no call shows comes first: it is the cause (open_basedir).
        let mut notes = basedir::notes(&request);
        notes.extend(notes::notes(
            &request,
            &suspects,
            root.as_ref(),
            recorded.as_deref(),
        ));
        notes.extend(fastcgi::not_found_notes(&request, &suspects, &mut |pid| {
            let c = creds
                .entry(pid)
                .or_insert_with(|| live.then(|| perms::creds_of(pid)).flatten());
            c.as_ref().map(|c| perms::creds::user(c.uid))
        }));
        Report {
            request,
            suspects,
            noise,
            notes,
            logged_error,
        }
    }

    /// Whether `pid`'s fd 2 goes to a log reqtrace captures (a file or a pipe), looked up in
    /// /proc at most every MASTER_TTL.
    fn stderr_logged(&mut self, pid: i32) -> bool {
        if let Some(v) = fresh(&self.stderr, &pid, MASTER_TTL) {
            return v;
        }
        let v =
            procinfo::fd_path(pid, 2).is_some_and(|t| crate::event::capture::is_logged_stderr(&t));
        remember(&mut self.stderr, pid, v);
        v
    }

    /// `pid`'s root when it is not `/`, looked up in /proc at most every MASTER_TTL.
    fn chroot_of(&mut self, pid: i32) -> Option<Rooted> {
        if let Some(r) = fresh(&self.roots, &pid, MASTER_TTL) {
            return r;
        }
        let r = fastcgi::chroot_of(pid);
        remember(&mut self.roots, pid, r.clone());
        r
    }

    /// The configuration of the server that answered `pid`, looked up once per request.
    fn server_config(
        &mut self,
        got: &mut Option<(i32, ServerConfig)>,
        pid: i32,
    ) -> (i32, ServerConfig) {
        if let Some(c) = got {
            return c.clone();
        }
        let c = match &self.view {
            View::Offline { config, .. } => (0, config.clone()),
            View::Live => self.config_for(pid),
        };
        got.insert(c).clone()
    }

    /// The lines of `server`'s configuration with these directives, read again at most every
    /// [`REF_TTL`]: a scanner's thousands of missing paths do not reread the files each.
    fn lines(
        &mut self,
        server: i32,
        cfg: &ServerConfig,
        names: &'static [&'static str],
    ) -> Vec<config::ConfigLine> {
        let key = (server, names.first().copied().unwrap_or_default());
        if let Some(lines) = fresh(&self.lines_cache, &key, REF_TTL) {
            return lines;
        }
        let lines = config::directive_lines(cfg, names);
        remember(&mut self.lines_cache, key, lines.clone());
        lines
    }

    fn references(
        &mut self,
        (server, backend): (i32, i32),
        cfg: &ServerConfig,
        access: &[PathBuf],
        name: &[u8],
    ) -> Vec<Reference> {
        // Very short names ("a", "js") would match everywhere.
        if name.len() < 3
            || (cfg.files.is_empty() && cfg.document_roots.is_empty() && access.is_empty())
        {
            return Vec::new();
        }
        let key = (server, backend, name.to_vec(), access.to_vec());
        if let Some((at, refs)) = self.refs_cache.get(&key)
            && at.elapsed() < REF_TTL
        {
            return refs.clone();
        }
        let refs = search::find_references_in(cfg, access, name, REF_BUDGET);
        // A scanner trying thousands of missing names must not grow this without bound.
        if self.refs_cache.len() >= MAX_CACHED {
            self.refs_cache.clear();
        }
        self.refs_cache.insert(key, (Instant::now(), refs.clone()));
        refs
    }
}
