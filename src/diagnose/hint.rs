//! What the diagnosis found, as data: a suspect's [`Hint`]s (why a path could not be reached)
//! and a request's [`Note`]s (what explains a failure no failing call does). Each variant holds
//! the paths (bytes), modes, owners, ids and errnos its sentence needs, never the sentence:
//! output/explain.rs owns the prose. [`Hint::map_paths`] and [`Note::map_paths`] rewrite every
//! path inside, e.g. from where a recorded machine's files are found here back to its own names.

use std::fs::Metadata;
use std::os::unix::fs::FileTypeExt;

use super::perms::Want;

/// A user or group id, with its name (from /etc/passwd or /etc/group) when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id {
    pub id: u32,
    pub name: Option<String>,
}

/// A file's permission bits and owners, as `ls -l` shows them (`0700 root:root`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mode {
    /// The permission bits, setuid, setgid and sticky included (`mode & 0o7777`).
    pub bits: u32,
    pub user: Id,
    pub group: Id,
}

/// What kind of file a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    RegularFile,
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    /// None of the above.
    Other,
}

impl FileKind {
    pub fn of(meta: &Metadata) -> FileKind {
        let ft = meta.file_type();
        if ft.is_file() {
            FileKind::RegularFile
        } else if ft.is_dir() {
            FileKind::Directory
        } else if ft.is_symlink() {
            FileKind::Symlink
        } else if ft.is_fifo() {
            FileKind::Fifo
        } else if ft.is_socket() {
            FileKind::Socket
        } else if ft.is_char_device() {
            FileKind::CharDevice
        } else if ft.is_block_device() {
            FileKind::BlockDevice
        } else {
            FileKind::Other
        }
    }
}

/// A symlink followed on the way: where it is, and its target as written in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub at: Vec<u8>,
    pub target: Vec<u8>,
}

/// A configuration line a hint names: the directive, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRef {
    /// As written (`Alias`, `alias`, `disable_symlinks`).
    pub directive: String,
    pub file: Vec<u8>,
    /// 1-based.
    pub line: u32,
    /// The line, trimmed.
    pub text: String,
}

/// systemd's ProtectSystem= level a read-only mount stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectSystem {
    /// `/` itself is read-only.
    Strict,
    /// /etc is read-only.
    Full,
    /// /usr, /boot or /efi is read-only.
    Yes,
}

/// Why a suspect's path could not be reached, or what else stands in the way. Paths are as
/// the diagnosis saw them until [`Hint::map_paths`] rewrites them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// ENOENT: the first missing name, with the symlinks followed to reach it.
    Missing { path: Vec<u8>, links: Vec<Link> },
    /// ENOENT through a dangling symlink; `missing` is the name that lacks, when it is not the
    /// target itself.
    DanglingLink {
        link: Vec<u8>,
        target: Vec<u8>,
        missing: Option<Vec<u8>>,
    },
    /// ENOENT, but the path exists when reqtrace looks.
    ExistsNow { path: Vec<u8> },
    /// The worker's root directory (/proc/PID/root) is not `/`.
    Chrooted { root: Vec<u8> },
    /// A component that is not a directory has more components after it.
    NotDirectory {
        path: Vec<u8>,
        kind: FileKind,
        links: Vec<Link>,
    },
    /// ENOTDIR on the last component: the call needed a directory.
    NeedsDirectory {
        path: Vec<u8>,
        kind: FileKind,
        links: Vec<Link>,
    },
    /// ELOOP where the path resolves: a final symlink the call refused to follow; `target`
    /// is `None` when the link could not be read.
    NoFollow {
        link: Vec<u8>,
        target: Option<Vec<u8>>,
    },
    /// ELOOP, but the path resolves without one now.
    NoLoopNow { path: Vec<u8> },
    /// A cycle of symlinks: `link`, then the targets that lead back to it.
    SymlinkLoop { link: Vec<u8>, chain: Vec<Vec<u8>> },
    /// More symlinks than the kernel follows, starting with this one.
    LinkChainTooLong {
        link: Vec<u8>,
        target: Vec<u8>,
        max: usize,
    },
    /// ELOOP with no symlink seen.
    TooManyLinks,
    /// reqtrace's own look at `path` failed; `errno` is `None` for a failure without one.
    CannotExamine { path: Vec<u8>, errno: Option<i32> },
    /// A directory on the way the worker may not search.
    CannotSearch {
        dir: Vec<u8>,
        mode: Mode,
        worker: Id,
    },
    /// The file's mode bits deny the worker the access it wanted.
    ModeDenies {
        path: Vec<u8>,
        mode: Mode,
        worker: Id,
        want: Want,
    },
    /// A POSIX ACL denies the worker `want` (`Search` for a directory on the way).
    AclDenies {
        path: Vec<u8>,
        mode: Mode,
        worker: Id,
        want: Want,
    },
    /// Executing something that is not a regular file.
    NotExecutable { path: Vec<u8>, kind: FileKind },
    /// A file without any execute bit: not even root may execute it.
    NoExecuteBit { path: Vec<u8>, mode: Mode },
    /// An exec of an existing file failed with ENOENT: the interpreter it names is missing.
    /// `shebang`: named on its `#!` line, else the ELF program interpreter (PT_INTERP, the
    /// dynamic loader); `crlf`: the `#!` line ends with a carriage return, which the kernel
    /// takes as part of the name (Windows line endings; `interpreter` is without it);
    /// `meant`: an existing interpreter near that name.
    MissingInterpreter {
        path: Vec<u8>,
        interpreter: Vec<u8>,
        shebang: bool,
        crlf: bool,
        meant: Option<Vec<u8>>,
    },
    /// The mode bits (and the POSIX ACL, with `acl`) allow what the call wanted.
    ModeAllows {
        path: Vec<u8>,
        worker: Id,
        want: Want,
        acl: bool,
    },
    /// Creating `name` needs write and search on `dir`, which the worker lacks.
    CannotCreate {
        dir: Vec<u8>,
        mode: Mode,
        acl: bool,
        worker: Id,
        /// A file name, not a path.
        name: Vec<u8>,
    },
    /// The missing file could be created in `dir` by the worker.
    MayCreate {
        path: Vec<u8>,
        dir: Vec<u8>,
        worker: Id,
    },
    /// The worker's credentials could not be read.
    CredsUnknown,
    /// Without credentials: a directory on the way others may not search.
    OwnerAndGroupOnly { dir: Vec<u8>, mode: Mode },
    /// Without credentials: the file's mode and owners.
    ModeIs { path: Vec<u8>, mode: Mode },
    /// chattr +i.
    Immutable { path: Vec<u8> },
    /// chattr +a.
    AppendOnly { path: Vec<u8> },
    /// EPERM in a sticky directory on a file someone else owns.
    Sticky {
        dir: Vec<u8>,
        mode: Mode,
        path: Vec<u8>,
        owner: Id,
    },
    /// Executing on a noexec mount.
    NoExecMount { path: Vec<u8> },
    /// An NFSv4 ACL, which reqtrace does not evaluate.
    Nfs4Acl { path: Vec<u8> },
    /// SELinux is on: the file's label (`None`: unlabelled) and the worker's domain.
    Selinux {
        permissive: bool,
        path: Vec<u8>,
        label: Option<String>,
        domain: Option<String>,
    },
    /// The worker runs under this AppArmor profile.
    AppArmor { profile: String },
    /// A mount the worker has and the host lacks, made inaccessible.
    Inaccessible { mount: Vec<u8> },
    /// The worker's own /tmp or /var/tmp.
    PrivateTmp { mount: Vec<u8> },
    /// /home, /root or /run/user read-only (`read_only`) or an empty tmpfs for the worker.
    ProtectHome { mount: Vec<u8>, read_only: bool },
    /// A system directory read-only for the worker, when it wanted to write.
    ProtectSystem {
        mount: Vec<u8>,
        level: ProtectSystem,
    },
    /// Another mount read-only for the worker, when it wanted to write.
    ReadOnlyMount { mount: Vec<u8> },
    /// A tmpfs only the worker sees.
    PrivateTmpfs { mount: Vec<u8> },
    /// No other gatekeeper found; `process` says a live worker's AppArmor profile and mount
    /// namespace were checked too.
    NoOtherGatekeeper { process: bool },
    /// A path glued by the configuration: `by` (an Alias) maps to `target` without a trailing
    /// slash, and the rest of the URL was appended right after it, giving `path`.
    GluedTarget {
        target: Vec<u8>,
        path: Vec<u8>,
        by: ConfigRef,
    },
    /// `link` is a symbolic link (to `target`, when it could be read) and the call refused to
    /// follow it (O_NOFOLLOW: ENOTDIR for a link to a directory, ELOOP for one to a file): the
    /// server was told not to follow symlinks, by `by` when found (nginx's `disable_symlinks`).
    SymlinkRefused {
        link: Vec<u8>,
        target: Option<Vec<u8>>,
        by: Option<ConfigRef>,
    },
    /// The path lies under nginx's compiled-in default root (`PREFIX/html`) and no `root` or
    /// `alias` line of the configuration serves from there: the location that served it has
    /// no `root` in effect.
    DefaultRoot { root: Vec<u8> },
    /// A hint known only as text: read back from a recorded trace.
    Recorded(String),
}

impl Hint {
    /// Every path inside rewritten by `f` (file names and texts are left as they are).
    pub fn map_paths(&mut self, f: &dyn Fn(&[u8]) -> Vec<u8>) {
        let map = |p: &mut Vec<u8>| *p = f(p);
        let map_links = |links: &mut Vec<Link>| {
            for l in links {
                l.at = f(&l.at);
                l.target = f(&l.target);
            }
        };
        match self {
            Hint::Missing { path, links }
            | Hint::NotDirectory { path, links, .. }
            | Hint::NeedsDirectory { path, links, .. } => {
                map(path);
                map_links(links);
            }
            Hint::DanglingLink {
                link,
                target,
                missing,
            } => {
                map(link);
                map(target);
                if let Some(m) = missing {
                    map(m);
                }
            }
            Hint::NoFollow { link, target } => {
                map(link);
                if let Some(t) = target {
                    map(t);
                }
            }
            Hint::SymlinkRefused { link, target, by } => {
                map(link);
                if let Some(t) = target {
                    map(t);
                }
                if let Some(by) = by {
                    map(&mut by.file);
                }
            }
            Hint::MissingInterpreter {
                path,
                interpreter,
                meant,
                ..
            } => {
                map(path);
                map(interpreter);
                if let Some(m) = meant {
                    map(m);
                }
            }
            Hint::GluedTarget { target, path, by } => {
                map(target);
                map(path);
                map(&mut by.file);
            }
            Hint::SymlinkLoop { link, chain } => {
                map(link);
                chain.iter_mut().for_each(map);
            }
            Hint::LinkChainTooLong { link, target, .. } => {
                map(link);
                map(target);
            }
            Hint::MayCreate { path, dir, .. } | Hint::Sticky { dir, path, .. } => {
                map(path);
                map(dir);
            }
            Hint::ExistsNow { path }
            | Hint::NoLoopNow { path }
            | Hint::CannotExamine { path, .. }
            | Hint::ModeDenies { path, .. }
            | Hint::AclDenies { path, .. }
            | Hint::NotExecutable { path, .. }
            | Hint::NoExecuteBit { path, .. }
            | Hint::ModeAllows { path, .. }
            | Hint::ModeIs { path, .. }
            | Hint::Immutable { path }
            | Hint::AppendOnly { path }
            | Hint::NoExecMount { path }
            | Hint::Nfs4Acl { path }
            | Hint::Selinux { path, .. } => map(path),
            Hint::Chrooted { root: p }
            | Hint::DefaultRoot { root: p }
            | Hint::CannotSearch { dir: p, .. }
            | Hint::CannotCreate { dir: p, .. }
            | Hint::OwnerAndGroupOnly { dir: p, .. }
            | Hint::Inaccessible { mount: p }
            | Hint::PrivateTmp { mount: p }
            | Hint::ProtectHome { mount: p, .. }
            | Hint::ProtectSystem { mount: p, .. }
            | Hint::ReadOnlyMount { mount: p }
            | Hint::PrivateTmpfs { mount: p } => map(p),
            Hint::TooManyLinks
            | Hint::CredsUnknown
            | Hint::AppArmor { .. }
            | Hint::NoOtherGatekeeper { .. }
            | Hint::Recorded(_) => {}
        }
    }

    /// Whether this hint says only that `path` does not exist: what a suspect's own line
    /// already says.
    pub fn is_only_missing(&self, path: &[u8]) -> bool {
        matches!(self, Hint::Missing { path: p, links } if links.is_empty() && p == path)
    }
}

/// What explains a failed request that no failing file call does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A 403 that no refused file call explains: the server refused by itself.
    ForbiddenByServer,
    /// A 403 where the URL names a symbolic link that was found: Apache refused it (Options
    /// FollowSymLinks off, AH00037). `target` is empty when the link could not be read.
    RefusedSymlink { path: Vec<u8>, target: Vec<u8> },
    /// PHP refused to open `path` because it is outside its `open_basedir` (`allowed`, as
    /// PHP listed it): a refusal no file call shows. Read from what the server logged (PHP's
    /// warning, under mod_php or relayed from php-fpm's FastCGI stderr).
    OpenBasedir { path: Vec<u8>, allowed: Vec<u8> },
    /// php-fpm answered "not found" (`Primary script unknown`, a 404) while its call on
    /// `path` failed with EACCES or EPERM: php-fpm reports a permission failure as a missing
    /// script. `user` is the pool's user (the process that failed), when known.
    DeniedReportedAsNotFound {
        path: Vec<u8>,
        errno: i32,
        user: Option<Id>,
    },
    /// A note known only as text: read back from a recorded trace.
    Recorded(String),
}

impl Note {
    /// Every path inside rewritten by `f`.
    pub fn map_paths(&mut self, f: &dyn Fn(&[u8]) -> Vec<u8>) {
        match self {
            Note::RefusedSymlink { path, target } => {
                *path = f(path);
                *target = f(target);
            }
            Note::OpenBasedir { path, .. } | Note::DeniedReportedAsNotFound { path, .. } => {
                *path = f(path);
            }
            Note::ForbiddenByServer | Note::Recorded(_) => {}
        }
    }

    /// A refusal no failing call shows (open_basedir): named before the suspects, and the
    /// request needs attention whatever its status.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Note::OpenBasedir { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn under_img(p: &[u8]) -> Vec<u8> {
        match p.strip_prefix(b"/img") {
            Some(rest) if rest.starts_with(b"/") => rest.to_vec(),
            _ => p.to_vec(),
        }
    }

    fn root() -> Id {
        Id {
            id: 0,
            name: Some("root".into()),
        }
    }

    #[test]
    fn map_paths_reaches_every_path_and_nothing_else() {
        let mut h = Hint::Missing {
            path: b"/img/srv/www/img".to_vec(),
            links: vec![Link {
                at: b"/img/srv/www/current".to_vec(),
                target: b"/img/srv/releases/42".to_vec(),
            }],
        };
        h.map_paths(&under_img);
        assert_eq!(
            h,
            Hint::Missing {
                path: b"/srv/www/img".to_vec(),
                links: vec![Link {
                    at: b"/srv/www/current".to_vec(),
                    target: b"/srv/releases/42".to_vec(),
                }],
            }
        );
        let mut h = Hint::DanglingLink {
            link: b"/img/a".to_vec(),
            target: b"../nope/x".to_vec(),
            missing: Some(b"/img/nope".to_vec()),
        };
        h.map_paths(&under_img);
        assert_eq!(
            h,
            Hint::DanglingLink {
                link: b"/a".to_vec(),
                target: b"../nope/x".to_vec(),
                missing: Some(b"/nope".to_vec()),
            }
        );
        // A file name is not a path; other names and neighbours of the root stay.
        let mode = Mode {
            bits: 0o755,
            user: root(),
            group: root(),
        };
        let mut h = Hint::CannotCreate {
            dir: b"/img/uploads".to_vec(),
            mode: mode.clone(),
            acl: false,
            worker: root(),
            name: b"/img/x".to_vec(),
        };
        h.map_paths(&under_img);
        assert_eq!(
            h,
            Hint::CannotCreate {
                dir: b"/uploads".to_vec(),
                mode,
                acl: false,
                worker: root(),
                name: b"/img/x".to_vec(),
            }
        );
        let mut h = Hint::ExistsNow {
            path: b"/images/a".to_vec(),
        };
        h.map_paths(&under_img);
        assert_eq!(
            h,
            Hint::ExistsNow {
                path: b"/images/a".to_vec()
            }
        );
        let mut h = Hint::Recorded("/img/a is 0600 root:root".into());
        h.map_paths(&under_img);
        assert_eq!(h, Hint::Recorded("/img/a is 0600 root:root".into()));
        let mut n = Note::RefusedSymlink {
            path: b"/img/www/l".to_vec(),
            target: b"/img/data".to_vec(),
        };
        n.map_paths(&under_img);
        assert_eq!(
            n,
            Note::RefusedSymlink {
                path: b"/www/l".to_vec(),
                target: b"/data".to_vec(),
            }
        );
        let mut n = Note::ForbiddenByServer;
        n.map_paths(&under_img);
        assert_eq!(n, Note::ForbiddenByServer);
    }

    #[test]
    fn only_a_bare_missing_path_is_obvious() {
        let bare = Hint::Missing {
            path: b"/srv/x".to_vec(),
            links: Vec::new(),
        };
        assert!(bare.is_only_missing(b"/srv/x"));
        assert!(!bare.is_only_missing(b"/srv/y"));
        let via = Hint::Missing {
            path: b"/srv/x".to_vec(),
            links: vec![Link {
                at: b"/a".to_vec(),
                target: b"/srv".to_vec(),
            }],
        };
        assert!(!via.is_only_missing(b"/srv/x"));
        assert!(!Hint::Recorded("/srv/x does not exist".into()).is_only_missing(b"/srv/x"));
    }
}
