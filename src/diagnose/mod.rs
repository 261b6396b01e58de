//! Explaining a finished request: rank its failures (rank.rs), then for each suspect find the
//! near miss that was meant (nearmiss.rs), what denies access to whom (perms.rs), and where the
//! wrong name appears in the server's configuration and DocumentRoot (refs.rs). Runs on the
//! output thread, never on the tracer's: it reads the filesystem, bounded in time.

pub mod nearmiss;
pub mod perms;
pub mod rank;
pub mod refs;
#[cfg(test)]
mod testdir;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::http::correlate::Request;
use crate::procinfo;

pub use refs::{Reference, ServerConfig};

/// At most this many suspects are explained per request.
const MAX_SUSPECTS: usize = 10;
/// References are searched for the first few suspects only, each within this budget.
const REF_SUSPECTS: usize = 3;
const REF_BUDGET: Duration = Duration::from_millis(300);
/// A search result is reused this long (a failing URL under load repeats the same name).
const REF_TTL: Duration = Duration::from_secs(10);

/// A likely cause of a request's failure, explained.
#[derive(Debug, Clone)]
pub struct Suspect {
    pub syscall: &'static str,
    pub path: Vec<u8>,
    pub errno: i32,
    pub count: u64,
    pub score: i32,
    pub reason: String,
    pub did_you_mean: Option<Vec<u8>>,
    pub hints: Vec<String>,
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
}

/// A finished request with its diagnosis.
#[derive(Debug, Clone)]
pub struct Report {
    pub request: Request,
    pub suspects: Vec<Suspect>,
    /// Failures that are normal (.htaccess probes, recovered lookups): counted, not shown.
    pub noise: u64,
    /// What explains a failed request that no failing syscall does.
    pub notes: Vec<String>,
}

/// The name to look for in the configuration: for a missing path, its first missing
/// component (`statc` in /srv/statc/site.css: the Alias typo, not the file under it);
/// otherwise the file name.
fn reference_name(path: &[u8], errno: i32) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    if errno == libc::ENOENT {
        let mut end = 0;
        while end < path.len() {
            // The next component: skip slashes, then up to the next slash.
            let start = end + path[end..].iter().take_while(|&&b| b == b'/').count();
            end = start + path[start..].iter().take_while(|&&b| b != b'/').count();
            if start == end {
                break;
            }
            if std::fs::metadata(std::ffi::OsStr::from_bytes(&path[..end])).is_err() {
                return path[start..end].to_vec();
            }
        }
    }
    rank::basename(path).to_vec()
}

/// A 403 with no failing syscall: Apache looked a path up, found it, and refused it itself.
/// The usual reason is a symbolic link where Options FollowSymLinks (or
/// SymLinksIfOwnerMatch, with another owner) is off: Apache's AH00037.
fn symlink_notes(request: &Request) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    let url = request
        .target
        .as_deref()
        .map(rank::url_path)
        .unwrap_or_default();
    for l in &request.lookups {
        // Only what the URL names (a file or a directory on its way), not the server's own
        // lookups (/etc/localtime for the log's time stamp).
        let name = rank::basename(&l.path);
        if name.is_empty() || !url.windows(name.len()).any(|w| w == name) {
            continue;
        }
        let p = crate::syscalls::path::as_path(&l.path);
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            continue;
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let target = std::fs::read_link(p)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default();
        let note = format!(
            "{} is a symbolic link (to {target}) and no lookup failed: Apache refuses \
             symlinks where Options FollowSymLinks is off, or SymLinksIfOwnerMatch and the \
             owners differ (AH00037 in its error log at LogLevel info)",
            String::from_utf8_lossy(&l.path)
        );
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    notes
}

pub struct Diagnoser {
    show_noise: bool,
    /// Each server's configuration, by its master's PID: with several Apaches traced, a
    /// request's references come from the server that answered it.
    configs: HashMap<i32, ServerConfig>,
    /// The configuration used last, for a worker that is gone by the time it is asked.
    last: ServerConfig,
    refs_cache: HashMap<(i32, Vec<u8>), (Instant, Vec<Reference>)>,
}

impl Diagnoser {
    /// `show_noise`: list noise as suspects too (`--all`).
    pub fn new(show_noise: bool) -> Self {
        Diagnoser {
            show_noise,
            configs: HashMap::new(),
            last: ServerConfig::default(),
            refs_cache: HashMap::new(),
        }
    }

    /// The configuration of the server `pid` belongs to: found from its Apache master's
    /// command line (empty for other servers). The master PID identifies the server.
    fn config_for(&mut self, pid: i32) -> (i32, ServerConfig) {
        let master = procinfo::server_master(pid);
        let comm = procinfo::comm(master);
        match comm.as_deref() {
            Some("apache2" | "httpd") => {
                let cfg = self
                    .configs
                    .entry(master)
                    .or_insert_with(|| refs::apache_config(&procinfo::cmdline(master)))
                    .clone();
                self.last = cfg.clone();
                (master, cfg)
            }
            Some(_) => (master, ServerConfig::default()),
            None => (0, self.last.clone()),
        }
    }

    pub fn diagnose(&mut self, request: Request) -> Report {
        let groups = rank::rank(&request);
        let noise = groups
            .iter()
            .filter(|g| g.noise.is_some())
            .map(|g| g.count)
            .sum();
        // Read only when a suspect needs it: most requests have none.
        let mut creds: Option<Option<perms::Creds>> = None;
        let mut config: Option<(i32, ServerConfig)> = None;
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
            if g.noise.is_none() {
                if s.errno == libc::ENOENT {
                    s.did_you_mean = nearmiss::did_you_mean(&s.path);
                }
                let want = match s.syscall {
                    "execve" | "execveat" => perms::Want::Exec,
                    "open" | "openat" | "openat2" | "creat" if g.write => perms::Want::Write,
                    "open" | "openat" | "openat2" | "access" | "faccessat" | "faccessat2" => {
                        perms::Want::Read
                    }
                    _ => perms::Want::Search,
                };
                let obvious = format!("{} does not exist", String::from_utf8_lossy(&s.path));
                let creds = creds.get_or_insert_with(|| perms::creds_of(request.pid));
                s.hints = perms::explain(&s.path, s.errno, creds.as_ref(), want, Some(request.pid))
                    .into_iter()
                    .filter(|h| *h != obvious)
                    .collect();
                if suspects.len() < REF_SUSPECTS {
                    let name = reference_name(&s.path, s.errno);
                    let (master, cfg) = match &config {
                        Some(c) => c.clone(),
                        None => config.insert(self.config_for(request.pid)).clone(),
                    };
                    s.references = self.references(master, &cfg, &name);
                    s.searched = Some(name);
                }
            }
            suspects.push(s);
        }
        let notes = if suspects.iter().all(|s| s.noise) && request.status == Some(403) {
            symlink_notes(&request)
        } else {
            Vec::new()
        };
        Report {
            request,
            suspects,
            noise,
            notes,
        }
    }

    fn references(&mut self, server: i32, cfg: &ServerConfig, name: &[u8]) -> Vec<Reference> {
        // Very short names ("a", "js") would match everywhere.
        if name.len() < 3 || (cfg.files.is_empty() && cfg.document_roots.is_empty()) {
            return Vec::new();
        }
        let key = (server, name.to_vec());
        if let Some((at, refs)) = self.refs_cache.get(&key)
            && at.elapsed() < REF_TTL
        {
            return refs.clone();
        }
        let refs = refs::find_references(cfg, name, REF_BUDGET);
        self.refs_cache.insert(key, (Instant::now(), refs.clone()));
        refs
    }
}
