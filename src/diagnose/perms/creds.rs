//! Who the worker is and who owns a file: the worker's credentials ([`Creds`], read by
//! procinfo from /proc/PID/status), group membership as the kernel checks it, and user and
//! group names from /etc/passwd and /etc/group, held as [`Id`]s and [`Mode`]s in hints.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use crate::diagnose::hint::{Id, Mode};

pub use crate::procinfo::Creds;

/// Effective uid, gid and supplementary groups of `pid`, from /proc/PID/status.
pub fn creds_of(pid: i32) -> Option<Creds> {
    crate::procinfo::creds(pid)
}

/// Whether the credentials include group `gid` (primary or supplementary).
pub(super) fn in_group(c: &Creds, gid: u32) -> bool {
    c.gid == gid || c.groups.contains(&gid)
}

/// A uid with its name from /etc/passwd.
pub(crate) fn user(uid: u32) -> Id {
    Id {
        id: uid,
        name: name_from("/etc/passwd", uid),
    }
}

/// A gid with its name from /etc/group.
pub(crate) fn group(gid: u32) -> Id {
    Id {
        id: gid,
        name: name_from("/etc/group", gid),
    }
}

/// The worker's user.
pub(super) fn worker(c: &Creds) -> Id {
    user(c.uid)
}

/// A file's mode bits and owners.
pub(super) fn mode(meta: &Metadata) -> Mode {
    Mode {
        bits: meta.mode() & 0o7777,
        user: user(meta.uid()),
        group: group(meta.gid()),
    }
}

/// `name:x:ID:…` databases: the name of the first line whose third field is `id`.
fn name_from(file: &str, id: u32) -> Option<String> {
    let data = super::read_small(file)?;
    data.split(|&b| b == b'\n').find_map(|line| {
        let mut f = line.split(|&b| b == b':');
        let name = f.next()?;
        let _pw = f.next()?;
        let n: u32 = std::str::from_utf8(f.next()?).ok()?.trim().parse().ok()?;
        (n == id && !name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creds_of_self() {
        let c = creds_of(std::process::id() as i32).unwrap();
        // SAFETY: trivial getters.
        assert_eq!(c.uid, unsafe { libc::geteuid() });
        assert_eq!(c.gid, unsafe { libc::getegid() });
        assert_eq!(creds_of(-5), None);
    }

    #[test]
    fn names_fall_back_to_numbers() {
        // Without a name, output/explain.rs shows the number.
        assert_eq!(user(0).name.as_deref(), Some("root"));
        assert_eq!(
            user(4_000_000_000),
            Id {
                id: 4_000_000_000,
                name: None
            }
        );
        assert_eq!(group(4_000_000_001).name, None);
    }
}
