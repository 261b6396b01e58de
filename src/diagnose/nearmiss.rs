//! Near misses: for a path that failed with ENOENT, the existing path that was most likely meant.
//! Two families: a near *name* (`index.phpp` → `index.php`, `logo.PNG` → `logo.png`,
//! `/srv/www/imgs/a.png` → `/srv/www/img/a.png`), here, with the edit distance the ranking code
//! shares; and a near *shape* (a `/` lost or added, a segment doubled or dropped, the same tail
//! under another configured root, and the configuration line that glued a path), in
//! nearmiss/shape.rs. Pure apart from a bounded look at the file system: one walk down the path,
//! one directory listing of at most [`MAX_ENTRIES`] names, and a few dozen stats at most.
//! Never looks inside /proc, /sys or /dev.

mod shape;

pub use shape::{glued_by, under_other_roots};

use crate::diagnose::config::ConfigLine;
use crate::diagnose::hint::Hint;
use std::path::PathBuf;

/// The directives that map a URL prefix to a directory of their choosing (Apache's and
/// nginx's `alias`, compared ignoring case): their targets are roots too, and the ones that
/// glue a path when they lack a trailing slash.
pub const ALIASES: &[&str] = &["Alias", "ScriptAlias", "AliasMatch", "ScriptAliasMatch"];

use crate::syscalls::path::{as_path, join, normalize};
use std::os::unix::ffi::OsStrExt;

/// At most this many entries of the parent directory are read.
pub const MAX_ENTRIES: usize = 10_000;
/// Inputs to [`edit_distance`] are cut to this many bytes.
pub const MAX_DISTANCE_INPUT: usize = 256;
/// Longer paths are not examined (Linux's PATH_MAX).
const MAX_PATH: usize = 4096;
/// Ranked candidates tried when the missing component is a directory.
const MAX_DIR_CANDIDATES: usize = 8;

/// The existing path most likely intended by `path`, an absolute path that failed with ENOENT.
///
/// Finds the first missing component, lists its (existing) parent directory and picks the closest
/// name: the same name in another case, then by edit distance relative to the name's length
/// ([`max_edits`]; ASCII case ignored), names with the same stem but another extension
/// (`index.phpp` / `index.php`, `logo.PNG` / `logo.jpg`) accepted at any distance; ties go to the
/// same stem, then alphabetical order. When the missing component is a directory, the remainder
/// of the path must exist under the candidate. When no name is near, the path's shape
/// (shape.rs: a glued or split component, a doubled or dropped segment). `None` when nothing
/// fits, when the path exists, goes through a dangling symlink or a non-directory, or lies
/// under /proc, /sys or /dev.
pub fn did_you_mean(path: &[u8]) -> Option<Vec<u8>> {
    if path.first() != Some(&b'/') || path.len() > MAX_PATH || path.contains(&0) {
        return None;
    }
    let comps: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if comps.first().is_some_and(|c| is_pseudo_fs_name(c)) {
        return None;
    }

    // Walk from / to the first component that does not exist.
    let mut parent: Vec<u8> = b"/".to_vec();
    let mut missing = None;
    for (i, comp) in comps.iter().enumerate() {
        let here = join(&parent, comp);
        match std::fs::metadata(as_path(&here)) {
            Ok(meta) => {
                if i + 1 < comps.len() && !meta.is_dir() {
                    return None; // ENOTDIR, not a near miss
                }
                parent = here;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A name that exists as a dangling symlink is not a typo in this path.
                if std::fs::symlink_metadata(as_path(&here)).is_ok() {
                    return None;
                }
                missing = Some(i);
                break;
            }
            Err(_) => return None, // ELOOP, EACCES, ENAMETOOLONG…
        }
    }
    let idx = missing?;
    let name = comps[idx];
    if name == b".." {
        return None;
    }
    // The parent exists; make sure it is not (a symlink into) a pseudo file system.
    let real_parent = std::fs::canonicalize(as_path(&parent)).ok()?;
    if is_pseudo_fs_path(real_parent.as_os_str().as_bytes()) {
        return None;
    }

    let scan = scan_dir(&parent, name);
    let rest = &comps[idx + 1..];
    let tries = if rest.is_empty() {
        scan.ranked.len()
    } else {
        MAX_DIR_CANDIDATES
    };
    for cand in scan.ranked.iter().take(tries) {
        let mut full = join(&parent, cand);
        for comp in rest {
            full = join(&full, comp);
        }
        if full.as_slice() != path && std::fs::metadata(as_path(&full)).is_ok() {
            return Some(full);
        }
    }
    // No name is near: maybe the path's shape is off.
    shape::by_shape(&comps, idx, &parent, &scan)
}

/// The most edits a name of `len` bytes may be from the one that was meant. Short names are
/// codes (`en`, `de`, `js`, `v1`) where one edit makes another valid code, not a typo: a
/// missing `locale/en/` is not `locale/bn/`, a missing `v2/` is not `v1/`. So names of 2
/// bytes or less only match in another case (distance 0 once case is ignored), names up to 5
/// bytes allow one edit, longer ones two: about one edit in three bytes at most, which still
/// catches the usual slips (`index.phpp`, `indxe.php`, `imgs`, `main.htm`).
fn max_edits(len: usize) -> usize {
    match len {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// For `path`, which failed through the dangling symlink `link` (its `target` as written in
/// it): the existing path most likely meant by the target. [`did_you_mean`] gives nothing
/// for `path` itself, whose names all exist (the link's among them); the typo is in the
/// target. What `path` has after the link is joined to the target, so a link to a misspelt
/// directory (`media` → `asets`, for `media/logo.png`) is answered with the file under the
/// directory meant (`assets/logo.png`). A relative target is taken from the link's directory.
pub fn through_link(path: &[u8], link: &[u8], target: &[u8]) -> Option<Vec<u8>> {
    if target.is_empty() || link.first() != Some(&b'/') {
        return None;
    }
    let mut meant = if target.first() == Some(&b'/') {
        target.to_vec()
    } else {
        let dir = match link.iter().rposition(|&b| b == b'/') {
            Some(0) | None => &b"/"[..],
            Some(i) => &link[..i],
        };
        join(dir, target)
    };
    if let Some(rest) = path.strip_prefix(link).filter(|r| r.first() == Some(&b'/')) {
        meant.extend_from_slice(rest);
    }
    did_you_mean(&normalize(&meant))
}

/// [`did_you_mean`] with the server's configuration: else the same tail under another of its
/// roots (`roots`: DocumentRoots and `root`s, and the targets of the [`ALIASES`] lines), and
/// for a lost `/`, the Alias line that glued it ([`glued_by`]). `lines` gives the
/// configuration's [`ALIASES`] lines, asked only when the path has no near name or its near
/// miss is a lost `/`; `local` maps the configured machine's paths to where they are looked
/// at (the same path, live).
pub fn near_miss(
    path: &[u8],
    roots: &[PathBuf],
    lines: &mut dyn FnMut() -> Vec<ConfigLine>,
    local: &dyn Fn(&[u8]) -> Vec<u8>,
) -> (Option<Vec<u8>>, Option<Hint>) {
    if let Some(meant) = did_you_mean(path) {
        let glued =
            shape::glue_at(path, &meant).and_then(|_| glued_by(path, &meant, &lines(), local));
        return (Some(meant), glued);
    }
    if path.first() != Some(&b'/') || path.len() > MAX_PATH {
        return (None, None);
    }
    let mut roots = roots.to_vec();
    for l in lines() {
        if let Some(target) = l.args.last() {
            let target = target.split('$').next().unwrap_or("");
            if target.starts_with('/') {
                let here = local(target.as_bytes());
                roots.push(PathBuf::from(std::ffi::OsStr::from_bytes(&here)));
            }
        }
    }
    (under_other_roots(path, &roots), None)
}

/// The file a URL names, under another root the server serves: a path that is the URL's path
/// joined to the wrong directory (a FastCGI `SCRIPT_FILENAME` built on a wrong prefix, a
/// `root` pointing elsewhere) when the URL's path exists under a configured root. `url`: the
/// decoded URL path; `exists` looks a path up (in the web server's view).
pub fn url_under_roots(
    path: &[u8],
    url: &[u8],
    roots: &[PathBuf],
    exists: &dyn Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    if url.len() < 2 || url.first() != Some(&b'/') || url.ends_with(b"/") || !path.ends_with(url) {
        return None;
    }
    roots.iter().take(32).find_map(|r| {
        let root = r.as_os_str().as_bytes();
        let root = root.strip_suffix(b"/").unwrap_or(root);
        let mut candidate = root.to_vec();
        candidate.extend_from_slice(url);
        (candidate != path && exists(&candidate)).then_some(candidate)
    })
}

/// Damerau-Levenshtein distance (optimal string alignment: insertions, deletions,
/// substitutions and transpositions of adjacent bytes all cost 1), case-sensitive.
/// Each input is cut to its first [`MAX_DISTANCE_INPUT`] bytes, so the cost is bounded.
pub fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let a = &a[..a.len().min(MAX_DISTANCE_INPUT)];
    let b = &b[..b.len().min(MAX_DISTANCE_INPUT)];
    if a.is_empty() {
        return b.len();
    }
    if b.is_empty() {
        return a.len();
    }
    // Three rows: i-2, i-1, i.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// [`edit_distance`] if it is at most `k`, computed only in the band |i - j| ≤ k (so
/// O(len × k)) and abandoned as soon as a whole row exceeds `k`.
fn distance_within(a: &[u8], b: &[u8], k: usize) -> Option<usize> {
    let a = &a[..a.len().min(MAX_DISTANCE_INPUT)];
    let b = &b[..b.len().min(MAX_DISTANCE_INPUT)];
    let (n, m) = (a.len(), b.len());
    if n.abs_diff(m) > k {
        return None;
    }
    if n == 0 || m == 0 {
        return Some(n.max(m));
    }
    const INF: usize = usize::MAX / 4;
    let mut prev2 = vec![INF; m + 1];
    let mut prev: Vec<usize> = (0..=m).map(|j| if j <= k { j } else { INF }).collect();
    let mut cur = vec![INF; m + 1];
    for i in 1..=n {
        let lo = i.saturating_sub(k).max(1);
        let hi = (i + k).min(m);
        cur[0] = if i <= k { i } else { INF };
        cur[lo - 1] = if lo == 1 { cur[0] } else { INF };
        let mut row_min = cur[0];
        for j in lo..=hi {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if hi < m {
            cur[hi + 1] = INF;
        }
        if row_min > k {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[m] <= k).then_some(prev[m])
}

/// Same-stem candidates are ranked by distance up to this; farther ones tie just above it.
const SAME_STEM_RANK_CAP: usize = 8;

/// What one listing of the missing name's parent directory offers.
#[derive(Default)]
struct Scan {
    /// Names close enough to the missing one, best first.
    ranked: Vec<Vec<u8>>,
    /// Directories (or symlinks) whose name is a proper prefix of the missing name, longest
    /// first: `bar` for `barbaz.html`, where a `/` may have been lost.
    prefixes: Vec<Vec<u8>>,
    /// Directories (or symlinks) of the parent, in name order, at most [`shape::MAX_DROPPED`]:
    /// where a dropped segment may have been.
    subdirs: Vec<Vec<u8>>,
}

/// One bounded listing of `dir`, for a `missing` name in it.
fn scan_dir(dir: &[u8], missing: &[u8]) -> Scan {
    let Ok(entries) = std::fs::read_dir(as_path(dir)) else {
        return Scan::default();
    };
    let want = missing.to_ascii_lowercase();
    let want_stem = stem(&want);
    // Measured on the stem: `en.php` is as short a name as `en`.
    let limit = max_edits(want_stem.len());
    let mut prefixes = Vec::new();
    let mut subdirs = Vec::new();
    // (distance, different stem, name)
    let mut scored: Vec<(usize, bool, Vec<u8>)> = Vec::new();
    for entry in entries.take(MAX_ENTRIES) {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().as_bytes().to_vec();
        if name == missing {
            continue;
        }
        // d_type, no stat: a symlink may lead to a directory, which a later stat settles.
        if entry
            .file_type()
            .is_ok_and(|t| t.is_dir() || t.is_symlink())
        {
            if missing.len() > name.len() && missing.starts_with(&name) {
                prefixes.push(name.clone());
            }
            subdirs.push(name.clone());
        }
        let lower = name.to_ascii_lowercase();
        let same_stem = stem(&lower) == want_stem && !want_stem.is_empty();
        // Distance can't be below the length difference: skip the work for far names.
        if !same_stem && lower.len().abs_diff(want.len()) > limit {
            continue;
        }
        let d = if same_stem {
            distance_within(&want, &lower, SAME_STEM_RANK_CAP).unwrap_or(SAME_STEM_RANK_CAP + 1)
        } else {
            match distance_within(&want, &lower, limit) {
                Some(d) => d,
                None => continue,
            }
        };
        scored.push((d, !same_stem, name));
    }
    scored.sort();
    prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
    prefixes.truncate(shape::MAX_GLUED);
    subdirs.sort();
    subdirs.truncate(shape::MAX_DROPPED);
    Scan {
        ranked: scored.into_iter().map(|(_, _, name)| name).collect(),
        prefixes,
        subdirs,
    }
}

/// The name without its last extension (`index.php` → `index`); dotfiles keep their name.
fn stem(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b'.') {
        Some(0) | None => name,
        Some(i) => &name[..i],
    }
}

fn is_pseudo_fs_name(first: &[u8]) -> bool {
    matches!(first, b"proc" | b"sys" | b"dev")
}

/// Whether an absolute, canonical path is /proc, /sys, /dev or under one of them.
fn is_pseudo_fs_path(path: &[u8]) -> bool {
    path.split(|&b| b == b'/')
        .find(|c| !c.is_empty())
        .is_some_and(is_pseudo_fs_name)
}

#[cfg(test)]
mod tests;
