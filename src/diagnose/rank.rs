//! Ranking a request's failed file syscalls: which are normal noise (.htaccess probes,
//! DirectoryIndex candidates tried before the one that exists), which are one cause seen
//! several times (the URL path, the mapped path, the lstat walk; PHP's include_path probes),
//! and which most likely explain the response. Pure: a finished request in, ranked groups out
//! (the one question asked outside, whether a directory exists, is answered by the caller).
//! The forms one path takes (URL-path, cwd-relative, include_path) are in forms.rs.

mod forms;

use crate::http::correlate::{Failure, Request};

pub use forms::ACCESS_FILE;

use super::nearmiss::edit_distance;

/// One cause: failures grouped by (file name, errno).
#[derive(Debug, Clone)]
pub struct Group {
    /// The process that made the group's first call (a web server worker, or the backend it
    /// handed the request to: a php-fpm worker).
    pub pid: i32,
    pub syscall: &'static str,
    /// The path seen most often in the group (the mapped path, usually).
    pub path: Vec<u8>,
    pub errno: i32,
    pub count: u64,
    pub score: i32,
    pub reasons: Vec<String>,
    /// Why it is noise, when it is.
    pub noise: Option<&'static str>,
    pub first_ts: f64,
    pub write: bool,
    /// Every distinct path the group was seen under (the representative among them).
    pub paths: Vec<Vec<u8>>,
}

/// The URL's path: query and fragment dropped, absolute form reduced to its path,
/// percent-escapes decoded.
pub fn url_path(target: &[u8]) -> Vec<u8> {
    let mut t = target;
    if let Some(i) = t.windows(3).position(|w| w == b"://") {
        let rest = &t[i + 3..];
        t = rest
            .iter()
            .position(|&b| b == b'/')
            .map_or(b"/", |j| &rest[j..]);
    }
    let end = t
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(t.len());
    percent_decode(&t[..end])
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && i + 2 < s.len()
            && let (Some(h), Some(l)) = (hexval(s[i + 1]), hexval(s[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn hexval(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

pub fn basename(path: &[u8]) -> &[u8] {
    let p = path.strip_suffix(b"/").unwrap_or(path);
    p.rsplit(|&b| b == b'/').next().unwrap_or(p)
}

pub(crate) fn dirname(path: &[u8]) -> &[u8] {
    let p = path.strip_suffix(b"/").unwrap_or(path);
    p.iter().rposition(|&b| b == b'/').map_or(b"", |i| &p[..i])
}

fn stem(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b'.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Why a failure is normal, if it is.
fn noise_reason(
    f: &Failure,
    req: &Request,
    url: &[u8],
    access: &[Vec<u8>],
) -> Option<&'static str> {
    let name = basename(&f.path);
    if access.iter().any(|a| a.as_slice() == name)
        && matches!(f.errno, libc::ENOENT | libc::ENOTDIR)
    {
        return Some(".htaccess probe");
    }
    // What the dynamic loader looks for in every program a request runs (a CGI script's
    // interpreter, a command a PHP page runs): /etc/ld.so.preload, which few systems have,
    // and each library in the glibc-hwcaps subdirectories before the plain directory.
    if matches!(f.errno, libc::ENOENT | libc::ENOTDIR)
        && (f.path == b"/etc/ld.so.preload" || contains(&f.path, b"/glibc-hwcaps/"))
    {
        return Some("the dynamic loader's probe");
    }
    // A shared library looked for along a search path (LD_LIBRARY_PATH, RUNPATH, their
    // hardware subdirectories) and found later in another directory: the loader's search.
    if matches!(f.errno, libc::ENOENT | libc::ENOTDIR | libc::EACCES)
        && is_shared_library(name)
        && req
            .lookups
            .iter()
            .any(|l| l.ts > f.ts && basename(&l.path) == name)
    {
        return Some("the dynamic loader's probe");
    }
    // The URL-path looked up as if it were a file (mod_rewrite does this for a rewrite
    // target) before being mapped under the DocumentRoot, where it was found.
    if f.errno == libc::ENOENT
        && req
            .lookups
            .iter()
            .any(|l| forms::is_url_path(req, &f.path, &l.path))
    {
        return Some("the URL-path, found once mapped under the DocumentRoot");
    }
    // A lookup the server recovered from: a later candidate in the same directory was found
    // and the response was a success (DirectoryIndex, try_files, MultiViews).
    if req.status.is_some_and(|s| s < 400) && f.errno == libc::ENOENT {
        let url_last = basename(url);
        let dir_url = url.ends_with(b"/") || url.is_empty();
        let candidate = (dir_url && !contains(url, name)) || name == url_last;
        let dir = dirname(&f.path);
        let recovered = req.lookups.iter().any(|l| {
            l.ts >= f.ts
                && dirname(&l.path) == dir
                && basename(&l.path) != name
                && !basename(&l.path).is_empty()
        });
        if candidate && recovered {
            return Some("a later candidate was found");
        }
    }
    None
}

/// `libc.so.6`, `libfoo.so`, `libfoo-1.2.so.3.4`: a name the dynamic loader opens.
fn is_shared_library(name: &[u8]) -> bool {
    let Some(at) = name.windows(3).rposition(|w| w == b".so") else {
        return false;
    };
    let rest = &name[at + 3..];
    at > 0 && rest.iter().all(|&b| b == b'.' || b.is_ascii_digit()) && !rest.ends_with(b".")
}

/// Distinct paths of a group and how often each was seen.
type PathCounts = Vec<(Vec<u8>, u64)>;

/// The names DirectoryIndex and nginx's `index` are set to by default and by custom
/// (index.html, index.php, default.htm, Default.aspx): the configured list is not known to
/// the ranking, and a file of another name is not an index look-up.
fn is_index_name(name: &[u8]) -> bool {
    let stem = stem(name).to_ascii_lowercase();
    stem == b"index" || stem == b"default"
}

/// Whether a failed `path` was plausibly a DirectoryIndex candidate for a URL naming a
/// directory: an index name, in the directory the URL names, and tried before an index file
/// of that directory was found (after one is found the search stops and the handler runs:
/// what fails then is the application's).
fn index_candidate(req: &Request, path: &[u8], url: &[u8]) -> bool {
    let url_is_root = url.is_empty() || url == b"/";
    let dir = dirname(path);
    if !is_index_name(basename(path))
        || !(url_is_root || dir.ends_with(url.strip_suffix(b"/").unwrap_or(url)))
    {
        return false;
    }
    let at = forms::first_failure(req, path).unwrap_or(f64::MAX);
    !req.lookups
        .iter()
        .any(|l| l.ts < at && dirname(&l.path) == dir && is_index_name(basename(&l.path)))
}

/// Group, classify and score the failures of a request, most likely cause first. Noise
/// groups come last (score 0). `exists` tells whether a path exists (on the traced machine):
/// which form of a path the application meant may depend on it.
pub fn rank(req: &Request, exists: &dyn Fn(&[u8]) -> bool) -> Vec<Group> {
    rank_with(req, exists, &[ACCESS_FILE.to_vec()])
}

/// [`rank`], with the server's per-directory file names (`AccessFileName`; `.htaccess` by
/// default): their probes are noise, and a rewrite one of them made is recognised.
pub fn rank_with(req: &Request, exists: &dyn Fn(&[u8]) -> bool, access: &[Vec<u8>]) -> Vec<Group> {
    let url = req.target.as_deref().map(url_path).unwrap_or_default();
    let url_last = basename(&url).to_vec();
    let per_dir = forms::per_dir_rewrite(req, &url, &url_last, access);
    // Each group with the distinct paths it was seen under, and how often.
    let mut groups: Vec<(Group, PathCounts)> = Vec::new();
    for f in &req.failures {
        let noise = noise_reason(f, req, &url, access);
        let name = basename(&f.path);
        let slot = groups
            .iter_mut()
            .find(|(g, _)| g.errno == f.errno && basename(&g.path) == name && g.noise == noise);
        match slot {
            Some((g, paths)) => {
                g.count += 1;
                g.write |= f.write;
                match paths.iter_mut().find(|(p, _)| *p == f.path) {
                    Some((_, n)) => *n += 1,
                    None => paths.push((f.path.clone(), 1)),
                }
            }
            None => groups.push((
                Group {
                    pid: f.pid,
                    syscall: f.syscall,
                    path: f.path.clone(),
                    errno: f.errno,
                    count: 1,
                    score: 0,
                    reasons: Vec::new(),
                    noise,
                    first_ts: f.ts,
                    write: f.write,
                    paths: Vec::new(),
                },
                vec![(f.path.clone(), 1)],
            )),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (mut g, paths) in groups {
        // The representative: the path seen most often (on a tie the longer, mapped one),
        // unless another path is a form of it the application meant (forms.rs).
        if let Some(p) = forms::representative(req, &paths, exists) {
            g.path = p;
        }
        g.paths = paths.iter().map(|(p, _)| p.clone()).collect();
        if g.noise.is_none() {
            let ctx = Ctx {
                req,
                url: &url,
                url_last: &url_last,
                per_dir: per_dir.as_ref(),
                access,
            };
            score(&mut g, &paths, &ctx);
        }
        out.push(g);
    }
    out.sort_by(|a, b| {
        b.score.cmp(&a.score).then(
            a.first_ts
                .partial_cmp(&b.first_ts)
                .unwrap_or(std::cmp::Ordering::Equal),
        )
    });
    merge_related(out)
}

/// Whether two failures are one cause: a missing directory and a path under it, or two
/// permission failures in the same directory (the directory is what denies them).
fn same_cause(a: &Group, b: &Group) -> bool {
    if a.errno != b.errno || a.noise.is_some() || b.noise.is_some() {
        return false;
    }
    // Any form of one under any form of the other (an include_path search names the file
    // under one root and the missing directory under another).
    let under = |x: &Group, y: &Group| {
        x.paths
            .iter()
            .chain([&x.path])
            .any(|o| y.paths.iter().chain([&y.path]).any(|i| forms::under(o, i)))
    };
    match a.errno {
        libc::ENOENT | libc::ENOTDIR | libc::ELOOP => under(a, b) || under(b, a),
        // Two refusals in one directory, or a directory refused and a path under it: the
        // directory is what denies them (one unsearchable ancestor refuses both).
        libc::EACCES | libc::EPERM => {
            dirname(&a.path) == dirname(&b.path) || under(a, b) || under(b, a)
        }
        _ => false,
    }
}

/// Fold each group into a better-ranked one of the same cause (`groups` is sorted).
fn merge_related(groups: Vec<Group>) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::with_capacity(groups.len());
    for g in groups {
        match out.iter_mut().find(|kept| same_cause(kept, &g)) {
            Some(kept) => {
                // A missing directory ranked first, and a path under it: the suspect is the
                // deepest path (the file the application wanted, which is what a person
                // looks for), and the directory is named in the reason.
                if kept
                    .paths
                    .iter()
                    .any(|k| g.paths.iter().any(|p| forms::under(k, p)))
                {
                    let dir = String::from_utf8_lossy(&kept.path).into_owned();
                    let why = match kept.errno {
                        libc::ENOENT => format!("{dir} does not exist"),
                        _ => format!("{dir} fails the same way"),
                    };
                    if !kept.reasons.contains(&why) {
                        kept.reasons.push(why);
                    }
                    kept.path = g.path;
                    kept.syscall = g.syscall;
                }
                kept.paths.extend(g.paths);
                kept.count += g.count;
                kept.first_ts = kept.first_ts.min(g.first_ts);
            }
            None => out.push(g),
        }
    }
    out
}

/// What scoring a group needs of its request.
struct Ctx<'a> {
    req: &'a Request,
    url: &'a [u8],
    url_last: &'a [u8],
    /// A rewrite made by a per-directory file: (that file, when it was read, the target).
    per_dir: Option<&'a (Vec<u8>, f64, Vec<u8>)>,
    /// The per-directory file names (`AccessFileName`).
    access: &'a [Vec<u8>],
}

fn score(g: &mut Group, paths: &[(Vec<u8>, u64)], ctx: &Ctx) {
    let (url, url_last, status) = (ctx.url, ctx.url_last, ctx.req.status);
    let name = basename(&g.path).to_vec();
    let mut s = 10;
    let url_is_root = url.is_empty() || url == b"/";
    let url_dir = url.ends_with(b"/") || url.is_empty();
    let lossy = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    // The path the URL maps to, looked up before a per-directory file rewrote the URL: a
    // "pretty" URL that is not a file is normal; the rewrite's target is the finding.
    let mapped_before_rewrite = |at: f64| {
        !url_is_root
            && paths.iter().any(|(p, _)| {
                p.ends_with(url) && forms::first_failure(ctx.req, p).is_some_and(|t| t < at)
            })
    };
    if let Some((file, _, target)) = ctx
        .per_dir
        .filter(|(_, _, t)| paths.iter().any(|(p, _)| p == t))
    {
        s += 55;
        // A per-directory file sends a URL naming that directory to a file in it through
        // its DirectoryIndex as often as through a rewrite; the trace cannot tell which
        // directive did it (the config line shown with the suspect does), so the reason
        // names both rather than call an index lookup a rewrite.
        let trimmed = url.strip_suffix(b"/").unwrap_or(url);
        if url_dir && dirname(target).ends_with(trimmed) {
            g.reasons.push(format!(
                "the index file looked up for the directory the URL names, after {} was read \
                 (its DirectoryIndex or a rewrite there); it does not exist",
                lossy(file)
            ));
        } else {
            // A RewriteRule, a FallbackResource or an ErrorDocument there: the config line
            // shown with the suspect names which.
            g.reasons.push(format!(
                "{} sent the request to {}, which does not exist",
                lossy(file),
                lossy(target)
            ));
        }
    } else if let Some((file, _, _)) = ctx.per_dir.filter(|(_, at, _)| mapped_before_rewrite(*at)) {
        g.reasons.push(format!(
            "the path the URL maps to, before {} sent the request elsewhere",
            lossy(file)
        ));
    } else if !url_is_root && paths.iter().any(|(p, _)| p.ends_with(url)) {
        if status.is_some_and(|s| s >= 500) {
            // A missing file is answered with a 404: a 5xx came from something else (the
            // fallback the server tried next, a backend); this is only where it started.
            s += 15;
            g.reasons.push(
                "the file the URL maps to (a missing file gives a 404, not this error)".into(),
            );
        } else {
            s += 50;
            g.reasons.push("the file the URL maps to".into());
        }
    } else if !url_last.is_empty() && name == url_last {
        // Same file name, another directory: an Alias or a DocumentRoot that points
        // somewhere else.
        s += 40;
        g.reasons.push(format!(
            "the file the URL names, looked up in {}",
            String::from_utf8_lossy(dirname(&g.path))
        ));
    } else if url_dir
        && g.errno == libc::ENOENT
        && !contains(url, &name)
        && paths.iter().any(|(p, _)| index_candidate(ctx.req, p, url))
    {
        s += 35;
        g.reasons.push(
            "the index file looked up for the directory the URL names (DirectoryIndex, nginx's index)".into(),
        );
    } else {
        // A URL-path the server looked up before mapping it under the DocumentRoot (see
        // forms::is_url_path: a tail relation made before the server touched the mapped
        // directory, not an application's relative and absolute forms of one path). When it
        // is not the requested URL, a rewrite (or alias) produced it.
        if let Some(p) = forms::rewritten(ctx.req, paths) {
            s += 45;
            g.reasons.push(format!(
                "the URL was rewritten to {}, which does not exist",
                String::from_utf8_lossy(p)
            ));
        } else if forms::server_fallback(ctx.req, url, &g.path, g.first_ts, ctx.access) {
            // Below the URL's own file for a 404 (an ErrorDocument that is missing too is a
            // second problem), above it for a 5xx (a FallbackResource or rewrite to a missing
            // file loops through internal redirects until the server gives up: AH00124/5).
            s += if status.is_some_and(|s| s >= 500) {
                70
            } else {
                40
            };
            g.reasons.push(
                "where the server went when the file the URL maps to was missing \
                 (FallbackResource, ErrorDocument, a rewrite; nginx's try_files, error_page), \
                 and it does not exist either"
                    .into(),
            );
        }
    }
    if !url_last.is_empty() && name != url_last {
        if stem(&name) == stem(url_last) || edit_distance(&name, url_last) <= 2 {
            s += 30;
            g.reasons
                .push("its name resembles the URL's last segment".into());
        } else if contains(url, &name) {
            s += 25;
            g.reasons.push("its name appears in the URL".into());
        }
    }
    s += match g.errno {
        libc::EACCES | libc::EPERM => 20,
        libc::ENOENT | libc::ENOTDIR | libc::ELOOP => 10,
        _ => 5,
    };
    s += match (status, g.errno) {
        (Some(404 | 410), libc::ENOENT | libc::ENOTDIR) => 10,
        (Some(403), libc::EACCES | libc::EPERM) => 15,
        (Some(403), libc::ENOENT) => 5,
        (Some(500..), _) => 5,
        _ => 0,
    };
    if g.reasons.is_empty() {
        g.reasons.push(match status {
            Some(s) if s < 400 => {
                "failed while serving the request (a missing include or asset?)".into()
            }
            _ => "failed while serving the request".into(),
        });
    }
    g.score = s + (g.count.min(5) as i32);
}

#[cfg(test)]
mod tests;
