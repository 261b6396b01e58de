//! Gatekeepers other than the mode bits, looked at once those allow the access: on the file
//! itself (immutable and append-only attributes, a sticky directory, a noexec mount, an NFSv4
//! ACL), then SELinux, AppArmor and a systemd sandbox (the worker's mounts compared with the
//! host's, from procinfo's reads of /proc/PID/mountinfo and /proc/1/mountinfo).

use std::collections::HashSet;
use std::ffi::CString;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::creds::{self, Creds};
use super::walk::parent_of;
use super::{Want, label_text, read_small, read_xattr};
use crate::diagnose::hint::{Hint, ProtectSystem};
use crate::procinfo;
use crate::syscalls::path::as_path;

/// Gatekeepers visible on the file itself: immutable / append-only attributes, a sticky
/// directory, a noexec mount, ACL flavours we do not evaluate.
pub(super) fn local_gatekeepers(
    path: &[u8],
    meta: &Metadata,
    want: Want,
    errno: i32,
    c: &Creds,
) -> Vec<Hint> {
    let mut out = Vec::new();
    if (want == Want::Write || errno == libc::EPERM)
        && (meta.is_file() || meta.is_dir())
        && let Some(flags) = inode_flags(path)
    {
        const FS_IMMUTABLE_FL: i32 = 0x10;
        const FS_APPEND_FL: i32 = 0x20;
        if flags & FS_IMMUTABLE_FL != 0 {
            out.push(Hint::Immutable {
                path: path.to_vec(),
            });
        } else if flags & FS_APPEND_FL != 0 {
            out.push(Hint::AppendOnly {
                path: path.to_vec(),
            });
        }
    }
    if errno == libc::EPERM {
        let parent = parent_of(path);
        if let Ok(pm) = std::fs::metadata(as_path(&parent))
            && pm.mode() & 0o1000 != 0
            && meta.uid() != c.uid
            && pm.uid() != c.uid
            && c.uid != 0
        {
            out.push(Hint::Sticky {
                mode: creds::mode(&pm),
                dir: parent,
                path: path.to_vec(),
                owner: creds::user(meta.uid()),
            });
        }
    }
    if want == Want::Exec && mount_flags(path).is_some_and(|f| f & libc::ST_NOEXEC != 0) {
        out.push(Hint::NoExecMount {
            path: path.to_vec(),
        });
    }
    if read_xattr(path, b"system.nfs4_acl").is_some() {
        out.push(Hint::Nfs4Acl {
            path: path.to_vec(),
        });
    }
    out
}

/// SELinux, AppArmor and a systemd sandbox; a closing hint when none is found.
pub(super) fn other_gatekeepers(path: &[u8], want: Want, pid: Option<i32>) -> Vec<Hint> {
    let mut out = Vec::new();
    let selinux = Path::new("/sys/fs/selinux").exists();
    if selinux {
        let domain = pid
            .and_then(procinfo::security_context)
            .map(|v| label_text(&v).trim().to_string())
            .filter(|s| !s.is_empty());
        out.push(Hint::Selinux {
            permissive: read_small("/sys/fs/selinux/enforce").is_some_and(|v| v.starts_with(b"0")),
            path: path.to_vec(),
            label: read_xattr(path, b"security.selinux").map(|v| label_text(&v)),
            domain,
        });
    }
    if let Some(pid) = pid {
        if !selinux && let Some(profile) = apparmor_profile(pid) {
            out.push(Hint::AppArmor { profile });
        }
        out.extend(sandbox_of_pid(pid, path, want));
    }
    if out.is_empty() {
        out.push(Hint::NoOtherGatekeeper {
            process: pid.is_some(),
        });
    }
    out
}

fn apparmor_profile(pid: i32) -> Option<String> {
    let raw = procinfo::apparmor_context(pid)?;
    let s = label_text(&raw).trim().to_string();
    if s.is_empty() || s == "unconfined" {
        None
    } else {
        Some(s)
    }
}

/// Sandbox hints for `pid` when it lives in another mount namespace than init.
pub(super) fn sandbox_of_pid(pid: i32, path: &[u8], want: Want) -> Vec<Hint> {
    let mine = procinfo::mount_namespace(pid);
    if mine.is_none() || mine == procinfo::mount_namespace(1) {
        return Vec::new();
    }
    let Some(worker) = procinfo::mountinfo(pid) else {
        return Vec::new();
    };
    let host = procinfo::host_mountinfo().unwrap_or_default();
    sandbox_hints(
        &String::from_utf8_lossy(&worker),
        &String::from_utf8_lossy(&host),
        path,
        want,
    )
}

/// One mountinfo line: (mount point, root within its fs, fs type, read-only).
fn parse_mountinfo(text: &str) -> Vec<(Vec<u8>, Vec<u8>, String, bool)> {
    let mut out = Vec::new();
    for line in text.lines().take(100_000) {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if sep < 6 || fields.len() < sep + 2 {
            continue;
        }
        let ro = fields[5].split(',').any(|o| o == "ro");
        out.push((
            unescape_octal(fields[4]),
            unescape_octal(fields[3]),
            fields[sep + 1].to_string(),
            ro,
        ));
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape_octal(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|d| (b'0'..=b'7').contains(d))
        {
            let v = (u32::from(b[i + 1] - b'0') << 6)
                | (u32::from(b[i + 2] - b'0') << 3)
                | u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn under(path: &[u8], mount_point: &[u8]) -> bool {
    mount_point == b"/"
        || path == mount_point
        || (path.starts_with(mount_point) && path.get(mount_point.len()) == Some(&b'/'))
}

/// Mounts the worker has and the host lacks, read as systemd sandboxing, limited to those
/// covering `path` (ProtectSystem only matters when writing).
fn sandbox_hints(worker: &str, host: &str, path: &[u8], want: Want) -> Vec<Hint> {
    let host: HashSet<_> = parse_mountinfo(host).into_iter().collect();
    let mut out: Vec<Hint> = Vec::new();
    for m in parse_mountinfo(worker) {
        if host.contains(&m) {
            continue;
        }
        let (mp, root, fstype, ro) = &m;
        if !under(path, mp) {
            continue;
        }
        let rootstr = String::from_utf8_lossy(root);
        let mount = mp.clone();
        let hint = if rootstr.contains("inaccessible") {
            Hint::Inaccessible { mount }
        } else if (mp == b"/tmp" || mp == b"/var/tmp")
            && (fstype == "tmpfs" || rootstr.contains("systemd-private-"))
        {
            Hint::PrivateTmp { mount }
        } else if matches!(mp.as_slice(), b"/home" | b"/root" | b"/run/user")
            && (fstype == "tmpfs" || *ro)
        {
            Hint::ProtectHome {
                mount,
                read_only: *ro,
            }
        } else if matches!(mp.as_slice(), b"/" | b"/usr" | b"/etc" | b"/boot" | b"/efi") && *ro {
            if want != Want::Write {
                continue;
            }
            let level = match mp.as_slice() {
                b"/" => ProtectSystem::Strict,
                b"/etc" => ProtectSystem::Full,
                _ => ProtectSystem::Yes,
            };
            Hint::ProtectSystem { mount, level }
        } else if *ro {
            if want != Want::Write {
                continue;
            }
            Hint::ReadOnlyMount { mount }
        } else if fstype == "tmpfs" {
            Hint::PrivateTmpfs { mount }
        } else {
            continue;
        };
        if !out.contains(&hint) {
            out.push(hint);
        }
    }
    out
}

/// ext2-style inode flags (FS_IOC_GETFLAGS); only for regular files and directories.
fn inode_flags(path: &[u8]) -> Option<i32> {
    let p = CString::new(path).ok()?;
    // SAFETY: plain open; O_NONBLOCK so a file swapped for a FIFO cannot block us.
    let fd = unsafe {
        libc::open(
            p.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let mut flags: libc::c_int = 0;
    // SAFETY: fd is ours; st and flags are valid out-parameters.
    let ok = unsafe {
        libc::fstat(fd, &mut st) == 0
            && matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR)
            && libc::ioctl(fd, libc::FS_IOC_GETFLAGS, &mut flags) == 0
    };
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    ok.then_some(flags)
}

fn mount_flags(path: &[u8]) -> Option<libc::c_ulong> {
    let p = CString::new(path).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path, valid out-parameter.
    (unsafe { libc::statvfs(p.as_ptr(), &mut s) } == 0).then_some(s.f_flag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::hint::ProtectSystem;

    #[test]
    fn mountinfo_sandbox() {
        let host = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw
24 22 0:30 / /tmp rw,nosuid shared:3 - tmpfs tmpfs rw
";
        let worker = "\
522 500 254:0 / / ro,relatime master:1 - ext4 /dev/vda rw
523 522 0:21 / /proc rw,nosuid - proc proc rw
524 522 254:0 /tmp/systemd-private-abc-apache2.service-XyZ/tmp /tmp rw,relatime - ext4 /dev/vda rw
525 522 0:55 / /home ro,nosuid - tmpfs tmpfs ro
526 522 254:0 /srv/my\\040files /srv/my\\040files ro - ext4 /dev/vda rw
";
        let h = sandbox_hints(worker, host, b"/tmp/upload/x", Want::Read);
        assert_eq!(
            h,
            [Hint::PrivateTmp {
                mount: b"/tmp".to_vec()
            }]
        );
        let h = sandbox_hints(worker, host, b"/home/alice/public_html/x", Want::Read);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(matches!(h[0], Hint::ProtectHome { .. }), "{h:?}");
        let h = sandbox_hints(worker, host, b"/var/www/x", Want::Write);
        assert_eq!(
            h,
            [Hint::ProtectSystem {
                mount: b"/".to_vec(),
                level: ProtectSystem::Strict
            }]
        );
        assert!(sandbox_hints(worker, host, b"/var/www/x", Want::Read).is_empty());
        let h = sandbox_hints(worker, host, b"/srv/my files/a", Want::Write);
        assert!(
            h.contains(&Hint::ReadOnlyMount {
                mount: b"/srv/my files".to_vec()
            }),
            "{h:?}"
        );
        // Same namespace view: nothing.
        assert!(sandbox_hints(host, host, b"/tmp/x", Want::Write).is_empty());
        assert!(sandbox_hints("garbage\n\n- -", host, b"/tmp/x", Want::Write).is_empty());
    }
}
