//! One missing file seen under several paths: which of them is a URL-path the server looked
//! up before mapping it (a rewrite's target), which is the form the application meant (an
//! absolute path and the same path tried relative to the cwd; PHP's include_path search),
//! and which failure is the target of a rewrite made by a per-directory file (.htaccess).
//! Pure: the request's calls, and an existence question the caller answers.

use crate::http::correlate::Request;

use super::{basename, dirname};

/// The per-directory configuration file Apache reads in every directory it walks
/// (AccessFileName's default).
pub const ACCESS_FILE: &[u8] = b".htaccess";

/// `inner` is strictly under directory `outer`.
pub fn under(outer: &[u8], inner: &[u8]) -> bool {
    let outer = outer.strip_suffix(b"/").unwrap_or(outer);
    inner.len() > outer.len() && inner.starts_with(outer) && inner[outer.len()] == b'/'
}

/// When `path` first failed in the request.
pub fn first_failure(req: &Request, path: &[u8]) -> Option<f64> {
    req.failures
        .iter()
        .filter(|f| f.path == path)
        .map(|f| f.ts)
        .reduce(f64::min)
}

/// Whether `short` is the URL-path the server looked up before mapping it to `long`
/// (`long` = some directory + `short`: a rewrite's target, tried as a file by mod_rewrite to
/// tell a file-system path from a URL-path, then mapped under the DocumentRoot).
///
/// The tail relation alone proves nothing: an application that tries a relative and an
/// absolute form of one path makes the same pair (`data/x` with the cwd at `/`, then
/// `/usr/share/app/data/x`; `/var/lib/app/x`, then `var/lib/app/x` from its own directory).
/// What tells them apart is *when*: the server looks the URL-path up while translating the
/// URL, before it touches anything under the directory it then maps it to (its .htaccess
/// walk, the script); an application looks its paths up from a script it has already opened
/// there. So `short` is a URL-path only if it failed before any call of the request reached
/// strictly under `long`'s leading directory.
pub fn is_url_path(req: &Request, short: &[u8], long: &[u8]) -> bool {
    if short.first() != Some(&b'/') || long.len() <= short.len() || !long.ends_with(short) {
        return false;
    }
    let dir = &long[..long.len() - short.len()];
    let Some(at) = first_failure(req, short) else {
        return false;
    };
    let earlier_under = |p: &[u8], ts: f64| ts < at && under(dir, p);
    !req.failures.iter().any(|f| earlier_under(&f.path, f.ts))
        && !req.lookups.iter().any(|l| earlier_under(&l.path, l.ts))
}

/// The number of trailing components two paths share (at least the file name, for paths of
/// one group).
fn common_tail(a: &[u8], b: &[u8]) -> usize {
    // From the end, without collecting: this runs for every pair of a group's paths in
    // every request diagnosed.
    a.rsplit(|&c| c == b'/')
        .filter(|c| !c.is_empty())
        .zip(b.rsplit(|&c| c == b'/').filter(|c| !c.is_empty()))
        .take_while(|(x, y)| x == y)
        .count()
}

/// `path` without its last `n` components (its "root" for a shared tail of `n` components).
fn strip_tail(path: &[u8], n: usize) -> &[u8] {
    let mut p = path;
    for _ in 0..n {
        p = dirname(p);
    }
    p
}

/// How many of the shared tail's directories exist under `path`'s root, leading ones first.
fn existing_dirs(path: &[u8], tail: usize, exists: &dyn Fn(&[u8]) -> bool) -> usize {
    (1..tail)
        .take_while(|&k| exists(strip_tail(path, tail - k)))
        .count()
}

/// Of two paths of one group that share a tail of directories (the same relative name under
/// two roots), the one the application meant:
/// - a URL-path and its mapped form: the mapped one (what the server served from);
/// - otherwise the one under which more of the shared directories exist (`data/x` tried from
///   cwd `/` and `/usr/share/app/data/x`: `/usr/share/app/data` exists, `/data` does not);
/// - then the one whose root is not the directory of a file the request opened (the script's
///   own directory, the cwd PHP set, where a relative form or include_path's `.` lands): an
///   absolute path the application was configured with, a library's include_path entry;
/// - then the shorter (a relative form joined to the cwd is the longer).
///
/// Paths that share only their file name (`include 'header.php'` tried under each
/// include_path entry) are not compared here: that is a search, not two forms of one path.
fn better<'a>(
    req: &Request,
    a: &'a [u8],
    b: &'a [u8],
    exists: &dyn Fn(&[u8]) -> bool,
) -> Option<&'a [u8]> {
    if a == b {
        return None;
    }
    let tail = common_tail(a, b);
    if tail < 2 {
        return None;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if is_url_path(req, short, long) {
        return Some(long);
    }
    let (ea, eb) = (
        existing_dirs(a, tail, exists),
        existing_dirs(b, tail, exists),
    );
    if ea != eb {
        return Some(if ea > eb { a } else { b });
    }
    let own = |p: &[u8]| {
        let root = strip_tail(p, tail);
        req.lookups.iter().any(|l| dirname(&l.path) == root)
    };
    match (own(a), own(b)) {
        (true, false) => Some(b),
        (false, true) => Some(a),
        _ => Some(short),
    }
}

/// The representative of a group's paths (with how often each was seen): the path seen most
/// often (on a tie the longer, the mapped one), unless another path is a form of the same
/// path that [`better`] prefers.
pub fn representative(
    req: &Request,
    paths: &[(Vec<u8>, u64)],
    exists: &dyn Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let mut rep: &[u8] = &paths
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(a.0.len().cmp(&b.0.len())))?
        .0;
    for (p, _) in paths {
        if let Some(b) = better(req, rep, p, exists) {
            rep = b;
        }
    }
    Some(rep.to_vec())
}

/// A URL-path in `paths` that a rewrite produced: one that is the tail of another path of the
/// group and [`is_url_path`].
pub fn rewritten<'a>(req: &Request, paths: &'a [(Vec<u8>, u64)]) -> Option<&'a [u8]> {
    paths
        .iter()
        .find(|(p, _)| paths.iter().any(|(q, _)| is_url_path(req, p, q)))
        .map(|(p, _)| p.as_slice())
}

/// A rewrite made by a per-directory file: the per-directory file of a directory D was read
/// (a successful open), and afterwards a path under D failed before anything else under D
/// was found (the server's look at the rewritten path, before any handler ran), other than
/// the URL's own path and the directories on the way to it. Returns (the per-directory file,
/// when it was read, the failed target). "Rewrite" in the wide sense: a RewriteRule, a
/// FallbackResource, an ErrorDocument or a DirectoryIndex there all look alike.
pub fn per_dir_rewrite(
    req: &Request,
    url: &[u8],
    url_last: &[u8],
    access: &[Vec<u8>],
) -> Option<(Vec<u8>, f64, Vec<u8>)> {
    let is_access = |p: &[u8]| access.iter().any(|a| a.as_slice() == basename(p));
    // A directory on the way to the URL's own path (`app/users` for `/app/users/42`): the
    // server's walk of the URL it was asked for, not a target it was sent to.
    let on_url_path = |p: &[u8]| {
        url.len() > 1
            && req
                .failures
                .iter()
                .map(|f| &f.path)
                .chain(req.lookups.iter().map(|l| &l.path))
                .any(|q| q.ends_with(url) && under(p, q))
    };
    for a in req.lookups.iter().filter(|l| is_access(&l.path)) {
        let dir = dirname(&a.path);
        let target = req.failures.iter().find(|f| {
            f.ts > a.ts
                && f.errno == libc::ENOENT
                && under(dir, &f.path)
                && basename(&f.path) != url_last
                && !is_access(&f.path)
                && !on_url_path(&f.path)
                // Nothing under D found in between but the target's own directories (the
                // walk to it): a found file means a handler ran, and what fails after is
                // the application's.
                && !req.lookups.iter().any(|l| {
                    l.ts > a.ts
                        && l.ts < f.ts
                        && !is_access(&l.path)
                        && under(dir, &l.path)
                        && !under(&l.path, &f.path)
                })
        });
        if let Some(f) = target {
            return Some((a.path.clone(), a.ts, f.path.clone()));
        }
    }
    None
}

/// When the file the URL maps to first failed (ENOENT or ENOTDIR), and under which path: the
/// earliest failure of a path ending with the URL's path. `None` for `/`.
pub fn url_file_failed<'a>(req: &'a Request, url: &[u8]) -> Option<(f64, &'a [u8])> {
    if url.len() < 2 {
        return None;
    }
    req.failures
        .iter()
        .filter(|f| matches!(f.errno, libc::ENOENT | libc::ENOTDIR) && f.path.ends_with(url))
        .min_by(|a, b| a.ts.total_cmp(&b.ts))
        .map(|f| (f.ts, f.path.as_slice()))
}

/// Whether `path`, first failing at `at`, is where the server went next when the file the URL
/// maps to was missing (a FallbackResource, an ErrorDocument, a rewrite in the server's
/// configuration): it failed after that file did, is not on that file's own path (the file,
/// a directory on the way to it, or under it), lies under the same document root, and nothing
/// else under that root was found in between but directories on `path`'s way and
/// per-directory files. A file found in between is a handler that ran (a front controller):
/// what fails after it is the application's.
pub fn server_fallback(
    req: &Request,
    url: &[u8],
    path: &[u8],
    at: f64,
    access: &[Vec<u8>],
) -> bool {
    let Some((missing_at, mapped)) = url_file_failed(req, url) else {
        return false;
    };
    let root = &mapped[..mapped.len() - url.len()];
    if at <= missing_at
        || path == mapped
        || under(path, mapped)
        || under(mapped, path)
        || root.is_empty()
        || !under(root, path)
    {
        return false;
    }
    let is_access = |p: &[u8]| access.iter().any(|a| a.as_slice() == basename(p));
    !req.lookups.iter().any(|l| {
        l.ts > missing_at
            && l.ts < at
            && under(root, &l.path)
            && !under(&l.path, path)
            && !under(&l.path, mapped)
            && !is_access(&l.path)
    })
}
