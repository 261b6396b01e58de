//! Paths of a traced machine whose file system is looked at under a root directory here
//! (`reqtrace analyze --fs-root DIR`; `/` itself when live): a path of that machine as a local
//! path ([`Rooted::local`]) and back ([`Rooted::remote`]), which is how the paths found here
//! (did-you-mean, hints, references) are named as the traced machine names them.

use std::path::{Path, PathBuf};

/// Paths of the traced machine, mapped under a root directory and back.
#[derive(Debug, Clone)]
pub(super) struct Rooted(pub(super) PathBuf);

impl Rooted {
    pub(super) fn is_slash(&self) -> bool {
        self.0 == Path::new("/")
    }

    /// `/srv/x` of the traced machine as a local path.
    pub(super) fn local(&self, path: &[u8]) -> Vec<u8> {
        if self.is_slash() {
            return path.to_vec();
        }
        crate::syscalls::path::join(
            self.0.as_os_str().as_encoded_bytes(),
            path.strip_prefix(b"/").unwrap_or(path),
        )
    }

    /// A local path back as the traced machine's.
    pub(super) fn remote(&self, path: &[u8]) -> Vec<u8> {
        let root = self.0.as_os_str().as_encoded_bytes();
        let root = root.strip_suffix(b"/").unwrap_or(root);
        match path.strip_prefix(root) {
            Some(rest) if !self.is_slash() && (rest.is_empty() || rest[0] == b'/') => {
                if rest.is_empty() {
                    b"/".to_vec()
                } else {
                    rest.to_vec()
                }
            }
            _ => path.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::hint::{Hint, Id, Mode};

    #[test]
    fn only_a_leading_root_is_removed() {
        let r = Rooted(PathBuf::from("/img/"));
        assert_eq!(r.local(b"/srv/img/a"), b"/img/srv/img/a");
        assert_eq!(r.remote(b"/img/srv/img/a"), b"/srv/img/a");
        assert_eq!(r.remote(b"/images/a"), b"/images/a");
        let root = Id {
            id: 0,
            name: Some("root".into()),
        };
        let mut h = Hint::ModeIs {
            path: b"/img/srv/img/logo.png".to_vec(),
            mode: Mode {
                bits: 0o600,
                user: root.clone(),
                group: root,
            },
        };
        h.map_paths(&|p| r.remote(p));
        assert!(
            matches!(&h, Hint::ModeIs { path, .. } if path == b"/srv/img/logo.png"),
            "{h:?}"
        );
        let slash = Rooted(PathBuf::from("/"));
        assert_eq!(slash.remote(b"/a/b"), b"/a/b");
        assert_eq!(slash.remote(b"/a"), b"/a");
    }
}
