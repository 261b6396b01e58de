//! The bounded path walk: resolves an absolute path the way the kernel does (every symlink
//! followed, at most [`MAX_LINKS`]), recording the directories searched and the links
//! followed, and says how it ended ([`End`]); when that end alone explains a failure (a
//! missing name, a dangling link, a file where a directory was needed, a loop), as a hint.

use std::collections::{HashSet, VecDeque};
use std::fs::Metadata;

use crate::diagnose::hint::{FileKind, Hint, Link};
use crate::syscalls::path::{as_path, join};

/// Symlinks followed in one resolution before ELOOP, as in the kernel.
pub(super) const MAX_LINKS: usize = 40;

/// How resolving the path ended.
pub(super) enum End {
    /// Everything exists; `path` is the resolved (symlink-free) path.
    Found { path: Vec<u8>, meta: Metadata },
    /// `path` (resolved) is the first name that does not exist, looked up in `parent`.
    /// `via` is the symlink whose target contained it; `last` says it was the final component.
    Missing {
        path: Vec<u8>,
        parent: Vec<u8>,
        parent_meta: Option<Metadata>,
        via: Option<usize>,
        last: bool,
    },
    /// `path` exists, is not a directory, and more components follow.
    NotDir { path: Vec<u8>, meta: Metadata },
    /// More than [`MAX_LINKS`] symlinks.
    Loop,
    /// Some other error looking at `path` (reqtrace's own EACCES, ENAMETOOLONG…).
    Error { path: Vec<u8>, err: std::io::Error },
}

pub(super) struct Walk {
    /// Directories a lookup happened in, in order, each once, with their metadata.
    pub(super) searched: Vec<(Vec<u8>, Metadata)>,
    /// Symlinks followed, in order.
    pub(super) links: Vec<Link>,
    pub(super) end: End,
}

/// Resolves an absolute path the way the kernel does (following every symlink, the last one
/// included), recording the directories searched and the links followed.
pub(super) fn walk(path: &[u8]) -> Walk {
    let mut searched: Vec<(Vec<u8>, Metadata)> = Vec::new();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut links: Vec<Link> = Vec::new();
    let mut pending: VecDeque<(Vec<u8>, Option<usize>)> = VecDeque::new();
    push_components(&mut pending, path, None);

    let mut cur: Vec<u8> = b"/".to_vec();
    let mut cur_meta = std::fs::metadata("/").ok();
    while let Some((comp, via)) = pending.pop_front() {
        if comp == b"." {
            continue;
        }
        if comp == b".." {
            cur = parent_of(&cur);
            cur_meta = std::fs::metadata(as_path(&cur)).ok();
            continue;
        }
        if let Some(meta) = &cur_meta
            && seen.insert(cur.clone())
        {
            searched.push((cur.clone(), meta.clone()));
        }
        let next = join(&cur, &comp);
        let meta = match std::fs::symlink_metadata(as_path(&next)) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let last = pending.iter().all(|(c, _)| c == b".");
                return Walk {
                    searched,
                    links,
                    end: End::Missing {
                        path: next,
                        parent: cur,
                        parent_meta: cur_meta,
                        via,
                        last,
                    },
                };
            }
            Err(err) => {
                return Walk {
                    searched,
                    links,
                    end: End::Error { path: next, err },
                };
            }
        };
        if meta.file_type().is_symlink() {
            if links.len() >= MAX_LINKS {
                return Walk {
                    searched,
                    links,
                    end: End::Loop,
                };
            }
            let target = match std::fs::read_link(as_path(&next)) {
                Ok(t) => t.into_os_string().into_encoded_bytes(),
                Err(err) => {
                    return Walk {
                        searched,
                        links,
                        end: End::Error { path: next, err },
                    };
                }
            };
            links.push(Link {
                at: next,
                target: target.clone(),
            });
            if target.first() == Some(&b'/') {
                cur = b"/".to_vec();
                cur_meta = std::fs::metadata("/").ok();
            }
            let mut expansion = VecDeque::new();
            push_components(&mut expansion, &target, Some(links.len() - 1));
            if target.is_empty() {
                // An empty target resolves to nothing (ENOENT).
                expansion.push_back((Vec::new(), Some(links.len() - 1)));
            }
            while let Some(item) = expansion.pop_back() {
                pending.push_front(item);
            }
            continue;
        }
        if meta.is_dir() {
            cur = next;
            cur_meta = Some(meta);
            continue;
        }
        if !pending.is_empty() {
            return Walk {
                searched,
                links,
                end: End::NotDir { path: next, meta },
            };
        }
        return Walk {
            searched,
            links,
            end: End::Found { path: next, meta },
        };
    }
    // Ended on a directory (or "/").
    let end = match cur_meta {
        Some(meta) => End::Found { path: cur, meta },
        None => End::Error {
            err: std::io::Error::other("cannot stat"),
            path: cur,
        },
    };
    Walk {
        searched,
        links,
        end,
    }
}

/// Splits `path` into components tagged `via`; a trailing slash becomes a final "." so that
/// `file/` fails as ENOTDIR, as it does in the kernel.
fn push_components(out: &mut VecDeque<(Vec<u8>, Option<usize>)>, path: &[u8], via: Option<usize>) {
    for comp in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        out.push_back((comp.to_vec(), via));
    }
    if path.len() > 1 && path.ends_with(b"/") {
        out.push_back((b".".to_vec(), via));
    }
}

pub(super) fn parent_of(path: &[u8]) -> Vec<u8> {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) | None => b"/".to_vec(),
        Some(i) => path[..i].to_vec(),
    }
}

pub(super) fn last_name(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Lexical normalization: no empty or "." components, ".." pops.
fn normalize(path: &[u8]) -> Vec<u8> {
    let mut out: Vec<&[u8]> = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    let mut s = Vec::new();
    for c in out {
        s.push(b'/');
        s.extend_from_slice(c);
    }
    if s.is_empty() {
        s.push(b'/');
    }
    s
}

impl Walk {
    /// The hint for how the walk ended, when that alone explains the failure.
    pub(super) fn fallback(&self) -> Vec<Hint> {
        match &self.end {
            End::Missing { .. } => self.missing().into_iter().collect(),
            End::NotDir { path, meta } => vec![Hint::NotDirectory {
                path: path.clone(),
                kind: FileKind::of(meta),
                links: self.links.clone(),
            }],
            End::Loop => vec![self.describe_loop()],
            End::Error { path, err } => vec![Hint::CannotExamine {
                path: path.clone(),
                errno: err.raw_os_error(),
            }],
            End::Found { .. } => Vec::new(),
        }
    }

    /// What is missing: a name, or the target of a dangling link.
    fn missing(&self) -> Option<Hint> {
        let End::Missing { path, via, .. } = &self.end else {
            return None;
        };
        Some(match via {
            Some(i) => {
                let Link { at, target } = &self.links[*i];
                let target_abs = if target.first() == Some(&b'/') {
                    target.clone()
                } else {
                    join(&parent_of(at), target)
                };
                Hint::DanglingLink {
                    link: at.clone(),
                    target: target.clone(),
                    missing: (normalize(&target_abs) != *path).then(|| path.clone()),
                }
            }
            None => Hint::Missing {
                path: path.clone(),
                links: self.links.clone(),
            },
        })
    }

    /// "X is a symlink loop: X → a → X", or the start of a too-long chain.
    fn describe_loop(&self) -> Hint {
        let links = &self.links;
        // The first link met twice starts the cycle.
        for (i, l) in links.iter().enumerate() {
            if let Some(j) = links[i + 1..].iter().position(|m| m.at == l.at) {
                let cycle = &links[i..i + 1 + j];
                return Hint::SymlinkLoop {
                    link: l.at.clone(),
                    chain: cycle.iter().map(|c| c.target.clone()).collect(),
                };
            }
        }
        match links.first() {
            Some(l) => Hint::LinkChainTooLong {
                link: l.at.clone(),
                target: l.target.clone(),
                max: MAX_LINKS,
            },
            None => Hint::TooManyLinks,
        }
    }
}
