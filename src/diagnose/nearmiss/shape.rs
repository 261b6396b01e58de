//! Near misses by shape: the path that was meant has the same names as the one that failed,
//! arranged differently. A person sees these at a glance; an edit distance on one component
//! does not:
//!
//! - a `/` lost (`/srv/barbaz.html` for `/srv/bar/baz.html`: an `Alias /foo/bar/ /srv/bar`
//!   whose target lacks its trailing slash glues the rest of the URL onto it) or added
//!   (`/srv/ba/r/x` for `/srv/bar/x`);
//! - a segment doubled (`/srv/www/www/x` for `/srv/www/x`: a root that already ends in the
//!   segment the URL or a rewrite adds again) or dropped (`/srv/x` for `/srv/www/x`);
//! - the same tail under another root of the server (a DocumentRoot, `root` or Alias target):
//!   the file was deployed to another site's tree.
//!
//! Each kind costs a few stats at most: the candidates come from the one listing of the
//! parent directory nearmiss.rs already made, or from the configuration; nothing is walked.
//! [`glued_by`] names the configuration line behind a lost `/`.

use std::path::PathBuf;

use super::Scan;
use crate::diagnose::config::ConfigLine;
use crate::diagnose::hint::{ConfigRef, Hint};
use crate::syscalls::path::{as_path, join};

/// Directory names of the parent that are a prefix of the missing name, tried at most.
pub(super) const MAX_GLUED: usize = 4;
/// Directories of the parent tried for a dropped segment, at most (in name order).
pub(super) const MAX_DROPPED: usize = 32;
/// Doubled runs of segments tried at most, and their longest length.
const MAX_DOUBLED: usize = 8;
const MAX_RUN: usize = 3;
/// Other roots tried at most, and tail lengths for a path under none of them.
const MAX_ROOTS: usize = 32;
const MAX_TAIL: usize = 3;

/// The path built from `comps`, absolute.
fn build<'a>(comps: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = b"/".to_vec();
    for c in comps {
        out = join(&out, c);
    }
    out
}

fn exists(p: &[u8]) -> bool {
    std::fs::metadata(as_path(p)).is_ok()
}

/// A near miss by shape for the path `comps`, whose component `idx` is the first missing one
/// (its existing parent is `parent`, listed in `scan`). Kinds are tried from the most to the
/// least specific: a lost `/`, an added `/`, a doubled segment, a dropped one.
pub(super) fn by_shape(comps: &[&[u8]], idx: usize, parent: &[u8], scan: &Scan) -> Option<Vec<u8>> {
    let name = comps[idx];
    let rest = &comps[idx + 1..];
    let with_rest = |mut p: Vec<u8>| {
        for c in rest {
            p = join(&p, c);
        }
        p
    };
    // A lost `/`: `barbaz.html` in a directory that has `bar/baz.html`.
    for prefix in &scan.prefixes {
        let tail = &name[prefix.len()..];
        let p = with_rest(join(&join(parent, prefix), tail));
        if exists(&p) {
            return Some(p);
        }
    }
    // An added `/`: `ba` then `r` where `bar` exists; or the existing parent's last name and
    // this one (`/srv/foo/bar.html` for `/srv/foobar.html`).
    if let Some(next) = rest.first() {
        let mut joined = name.to_vec();
        joined.extend_from_slice(next);
        let p = build(
            comps[..idx]
                .iter()
                .copied()
                .chain([joined.as_slice()])
                .chain(rest[1..].iter().copied()),
        );
        if exists(&p) {
            return Some(p);
        }
    }
    if idx > 0 {
        let mut joined = comps[idx - 1].to_vec();
        joined.extend_from_slice(name);
        let p = build(
            comps[..idx - 1]
                .iter()
                .copied()
                .chain([joined.as_slice()])
                .chain(rest.iter().copied()),
        );
        if exists(&p) {
            return Some(p);
        }
    }
    // A doubled run of segments (`www/www`, `a/b/a/b`) at or before the missing one.
    let mut tried = 0;
    for k in 1..=MAX_RUN {
        for i in 0..comps.len() {
            if i + 2 * k > comps.len() || i + k > idx || tried >= MAX_DOUBLED {
                break;
            }
            if comps[i..i + k] != comps[i + k..i + 2 * k] {
                continue;
            }
            tried += 1;
            let p = build(comps[..i + k].iter().chain(&comps[i + 2 * k..]).copied());
            if exists(&p) {
                return Some(p);
            }
        }
    }
    // A dropped segment: the name and the rest under exactly one directory of the parent. Two
    // or more would be a guess (an `index.php` in every site's directory).
    let mut found: Option<Vec<u8>> = None;
    for sub in &scan.subdirs {
        let p = with_rest(join(&join(parent, sub), name));
        if exists(&p) {
            if found.is_some() {
                return None;
            }
            found = Some(p);
        }
    }
    found
}

/// The same tail under another of the server's `roots` (local paths: DocumentRoots, `root`s,
/// Alias targets), for a missing absolute `path`. Under a root, the tail is what follows it
/// (`/srv/a/img/x.png` under `/srv/a` → `img/x.png`, tried under each other root); under
/// none, its last two or three components (a single file name would be found everywhere).
/// The first root in configuration order where the tail exists; at most [`MAX_ROOTS`] roots
/// and a few stats each.
pub fn under_other_roots(path: &[u8], roots: &[PathBuf]) -> Option<Vec<u8>> {
    let comps: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if path.first() != Some(&b'/') || comps.contains(&&b".."[..]) {
        return None;
    }
    let roots: Vec<Vec<&[u8]>> = roots
        .iter()
        .take(MAX_ROOTS)
        .map(|r| {
            r.as_os_str()
                .as_encoded_bytes()
                .split(|&b| b == b'/')
                .filter(|c| !c.is_empty() && *c != b".")
                .collect::<Vec<_>>()
        })
        // `/` is everyone's root; /proc, /sys and /dev are no one's.
        .filter(|r| !r.is_empty() && !matches!(r[0], b"proc" | b"sys" | b"dev"))
        .collect();
    let home = roots
        .iter()
        .filter(|r| r.len() < comps.len() && comps.starts_with(r))
        .max_by_key(|r| r.len());
    let tails: Vec<&[&[u8]]> = match home {
        Some(h) => vec![&comps[h.len()..]],
        None => (2..=MAX_TAIL.min(comps.len().saturating_sub(1)))
            .rev()
            .map(|n| &comps[comps.len() - n..])
            .collect(),
    };
    for tail in tails {
        for r in &roots {
            if Some(r) == home {
                continue;
            }
            let p = build(r.iter().chain(tail.iter()).copied());
            if p != path && exists(&p) {
                return Some(p);
            }
        }
    }
    None
}

/// Where `meant` is `path` with one `/` added inside it, if it is.
pub(super) fn glue_at(path: &[u8], meant: &[u8]) -> Option<usize> {
    if meant.len() != path.len() + 1 {
        return None;
    }
    let at = path.iter().zip(meant).position(|(a, b)| a != b)?;
    (at > 0 && meant[at] == b'/' && meant[at + 1..] == path[at..]).then_some(at)
}

/// When `meant` is `path` with one `/` added (`/srv/bar/baz.html` for `/srv/barbaz.html`), the
/// configuration line whose target is the glued prefix (`/srv/bar`) without its trailing
/// slash: an Alias (ScriptAlias, AliasMatch…, nginx's `alias`) maps a URL prefix ending in `/`
/// to it, and the rest of the URL lands right after it. `lines` are the configuration's alias
/// lines; `local` maps a path of the configured machine to where it is looked at here (the
/// same path, live).
pub fn glued_by(
    path: &[u8],
    meant: &[u8],
    lines: &[ConfigLine],
    local: &dyn Fn(&[u8]) -> Vec<u8>,
) -> Option<Hint> {
    let at = glue_at(path, meant)?;
    let prefix = &path[..at];
    let line = lines.iter().find(|l| {
        let Some(target) = l.args.last() else {
            return false;
        };
        // An AliasMatch's target goes on with `$1`: its fixed part is what glues.
        let fixed = target.split('$').next().unwrap_or("");
        !fixed.is_empty() && local(fixed.as_bytes()) == prefix
    })?;
    Some(Hint::GluedTarget {
        target: prefix.to_vec(),
        path: path.to_vec(),
        by: ConfigRef {
            directive: line.directive.clone(),
            file: line.file.as_os_str().as_encoded_bytes().to_vec(),
            line: line.line,
            text: line.text.clone(),
        },
    })
}
