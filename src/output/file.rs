//! `-o FILE`: a trace names what a server touched (as root: /etc/shadow's readers, session
//! files, private paths), so it goes into a file that only we can read, in the place the user
//! named and nowhere else:
//!
//! - The directories on the way are walked one by one with `O_PATH|O_NOFOLLOW`: a symbolic
//!   link is followed only when root or we own it (`/var/run` → `/run`); one another user
//!   made could send the trace, and the truncation of an existing file, anywhere we can write.
//! - A new FILE is created `O_EXCL|O_NOFOLLOW`, 0600.
//! - An existing regular FILE is never written into: whoever made it (another user, in a
//!   sticky /tmp) or could read it (0644) may hold it open, and would read the trace through
//!   that descriptor whatever its mode becomes. A new 0600 file is created beside it and
//!   renamed over it. Root may do that in a sticky directory; another user cannot, and is
//!   refused with what to do. Only where no file can be made beside it is a file of our own
//!   that is already private (0600, one link) emptied and written in place.
//! - A symbolic link at FILE is refused; a FIFO or device is written to only when root or we
//!   own it (`/dev/null`), since its owner could read what goes through it.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::syscalls::errno;

/// Symbolic links followed on the way to FILE, at most (the kernel's MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// Open FILE for the trace as the module doc says; the error is the reason, for
/// `Error::Output`.
pub fn create_private(path: &str) -> Result<File, String> {
    let bytes = path.as_bytes();
    let (parent, name) = match bytes.iter().rposition(|&b| b == b'/') {
        Some(i) => (&bytes[..=i], &bytes[i + 1..]),
        None => (&b""[..], bytes),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return Err("it names a directory; give a file name".into());
    }
    // SAFETY: geteuid(2) has no arguments and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let dir = open_dir(parent, euid)?;
    let cname = cstr(name)?;
    // A name that appears or vanishes between the look and the open is looked at again.
    for _ in 0..3 {
        let st = match lstat_at(&dir, &cname) {
            Ok(st) => st,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => match create_excl(&dir, &cname) {
                Ok(f) => return Ok(f),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                Err(e) => return Err(e.to_string()),
            },
            Err(e) => return Err(e.to_string()),
        };
        return match st.st_mode & libc::S_IFMT {
            libc::S_IFLNK => Err("it is a symbolic link; refusing to write through it".into()),
            libc::S_IFDIR => Err("it is a directory; give a file name".into()),
            libc::S_IFREG => replace(&dir, &cname, &st, euid),
            _ => open_special(&dir, &cname, &st, euid),
        };
    }
    Err("it keeps appearing and vanishing while being opened; choose another path".into())
}

fn cstr(b: &[u8]) -> Result<CString, String> {
    CString::new(b).map_err(|_| "the path holds a NUL byte".to_string())
}

/// `user NAME (uid N)`, for messages.
fn owner(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("user {} (uid {uid})", u.name),
        _ => format!("uid {uid}"),
    }
}

fn trusted(uid: u32, euid: u32) -> bool {
    uid == 0 || uid == euid
}

fn fd_result(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_at(
    dir: libc::c_int,
    name: &CString,
    flags: i32,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated name; the result is checked.
    fd_result(unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC, mode) })
}

fn lstat_at(dir: &OwnedFd, name: &CString) -> io::Result<libc::stat> {
    // SAFETY: all-zero is a valid `stat` (plain integers), filled in below.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated name and a stat buffer of the right type.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: all-zero is a valid `stat` (plain integers), filled in below.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: an open descriptor and a stat buffer of the right type.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// The directory `parent` names (`""`: the current one), reached without following a
/// symbolic link that someone other than root or us owns.
fn open_dir(parent: &[u8], euid: u32) -> Result<OwnedFd, String> {
    let start = |abs: bool| {
        let p = CString::new(if abs { "/" } else { "." }).unwrap_or_default();
        open_at(libc::AT_FDCWD, &p, libc::O_PATH | libc::O_DIRECTORY, 0)
    };
    let shown = |walked: &[u8]| String::from_utf8_lossy(walked).into_owned();
    let absolute = parent.first() == Some(&b'/');
    let mut dir = start(absolute).map_err(|e| e.to_string())?;
    // Components still to walk, the next one last.
    let mut todo: Vec<Vec<u8>> = parent
        .split(|&b| b == b'/')
        .rev()
        .map(<[u8]>::to_vec)
        .collect();
    // The path walked so far, for messages.
    let mut walked: Vec<u8> = if absolute { Vec::new() } else { b".".to_vec() };
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c.is_empty() || c == b"." {
            continue;
        }
        walked.push(b'/');
        walked.extend_from_slice(&c);
        // The component itself, never what it points to: what is checked below is what is
        // followed, even if the name is swapped meanwhile.
        let here = open_at(
            dir.as_raw_fd(),
            &cstr(&c)?,
            libc::O_PATH | libc::O_NOFOLLOW,
            0,
        )
        .map_err(|e| format!("{}: {e}", shown(&walked)))?;
        let st = fstat(&here).map_err(|e| format!("{}: {e}", shown(&walked)))?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => dir = here,
            libc::S_IFLNK => {
                if !trusted(st.st_uid, euid) {
                    return Err(format!(
                        "{} is a symbolic link owned by {}; refusing to follow it (a link another user made could send the trace anywhere): give the real path",
                        shown(&walked),
                        owner(st.st_uid)
                    ));
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(format!(
                        "{}: too many levels of symbolic links",
                        shown(&walked)
                    ));
                }
                let target = readlink(&here).map_err(|e| format!("{}: {e}", shown(&walked)))?;
                walked.truncate(walked.iter().rposition(|&b| b == b'/').unwrap_or(0));
                if target.first() == Some(&b'/') {
                    dir = start(true).map_err(|e| e.to_string())?;
                    walked.clear();
                }
                todo.extend(target.split(|&b| b == b'/').rev().map(<[u8]>::to_vec));
            }
            _ => return Err(format!("{} is not a directory", shown(&walked))),
        }
    }
    Ok(dir)
}

/// The target of the symbolic link `link` (an `O_PATH|O_NOFOLLOW` descriptor of it).
fn readlink(link: &OwnedFd) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: an empty NUL-terminated name (the descriptor itself, readlinkat(2)) and a
    // buffer of the length given.
    let n = unsafe {
        libc::readlinkat(
            link.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// A new file, 0600 (the umask can only take bits away), never through a link.
fn create_excl(dir: &OwnedFd, name: &CString) -> io::Result<File> {
    let fd = open_at(
        dir.as_raw_fd(),
        name,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
        0o600,
    )?;
    Ok(File::from(fd))
}

/// An existing regular file: a new private one renamed over it. When no file can be made
/// in its directory (not ours, read-only), a file of ours that is already private (no group
/// or other bits, no other name) is truncated in place instead.
fn replace(dir: &OwnedFd, name: &CString, st: &libc::stat, euid: u32) -> Result<File, String> {
    let refuse = |e: io::Error| {
        let why = e
            .raw_os_error()
            .map_or_else(|| e.to_string(), |n| errno::message(n).to_string());
        let mode = st.st_mode & 0o7777;
        if st.st_uid != euid {
            let anyone = if mode & 0o004 != 0 {
                format!(", as could any user (mode {mode:04o})")
            } else {
                String::new()
            };
            format!(
                "it belongs to {}, who could read the trace from it{anyone}, and it cannot be replaced by a private file here ({why}): remove it or choose another path",
                owner(st.st_uid)
            )
        } else {
            let links = if st.st_nlink > 1 {
                format!(", {} hard links", st.st_nlink)
            } else {
                String::new()
            };
            format!(
                "it is not private (mode {mode:04o}{links}) and cannot be replaced by a private file here ({why}): make it private (chmod 600) or choose another path"
            )
        }
    };
    let pid = std::process::id();
    let mut made = None;
    for n in 0..100 {
        // Unpredictable: another user who can write the directory must not be able to
        // take every name in advance and make `-o` fail.
        let mut salt = [0u8; 8];
        // SAFETY: getrandom fills the buffer it is given, at most its length.
        let got = unsafe { libc::getrandom(salt.as_mut_ptr().cast(), salt.len(), 0) };
        let salt = if got == salt.len() as isize {
            u64::from_ne_bytes(salt)
        } else {
            n
        };
        let tmp = cstr(format!(".reqtrace-{pid}-{salt:016x}.tmp").as_bytes())?;
        match create_excl(dir, &tmp) {
            Ok(f) => {
                made = Some((f, tmp));
                break;
            }
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EACCES | libc::EPERM | libc::EROFS)
                ) =>
            {
                return truncate_own(dir, name, st, euid).ok_or_else(|| refuse(e));
            }
            Err(e) => return Err(refuse(e)),
        }
    }
    let Some((f, tmp)) = made else {
        return Err(refuse(io::Error::from_raw_os_error(libc::EEXIST)));
    };
    let d = dir.as_raw_fd();
    // SAFETY: NUL-terminated names relative to an open directory.
    if unsafe { libc::renameat(d, tmp.as_ptr(), d, name.as_ptr()) } < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: as above; the temporary file is ours.
        unsafe { libc::unlinkat(d, tmp.as_ptr(), 0) };
        return Err(refuse(e));
    }
    Ok(f)
}

/// Whether a file's mode and links keep it to its owner.
fn private(st: &libc::stat, euid: u32) -> bool {
    st.st_uid == euid && st.st_mode & 0o077 == 0 && st.st_nlink == 1
}

/// The file `st` describes, truncated, when it is ours and private (checked again on what was
/// opened, before truncating).
fn truncate_own(dir: &OwnedFd, name: &CString, st: &libc::stat, euid: u32) -> Option<File> {
    if !private(st, euid) {
        return None;
    }
    // O_NONBLOCK: if a FIFO was swapped in meanwhile, the open fails rather than waits (the
    // checks below then refuse it); on a regular file it changes nothing.
    let fd = open_at(
        dir.as_raw_fd(),
        name,
        libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
        0,
    )
    .ok()?;
    let now = fstat(&fd).ok()?;
    let same = (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino);
    if !same || now.st_mode & libc::S_IFMT != libc::S_IFREG || !private(&now, euid) {
        return None;
    }
    let f = File::from(fd);
    f.set_len(0).ok()?;
    Some(f)
}

/// A FIFO, a device, a socket: written to only when root or we own it.
fn open_special(dir: &OwnedFd, name: &CString, st: &libc::stat, euid: u32) -> Result<File, String> {
    let foreign = |uid: u32| {
        format!(
            "it is a special file (FIFO or device) that belongs to {}, who could read the trace from it; choose another path",
            owner(uid)
        )
    };
    if !trusted(st.st_uid, euid) {
        return Err(foreign(st.st_uid));
    }
    let fd = open_at(
        dir.as_raw_fd(),
        name,
        libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NOCTTY,
        0,
    )
    .map_err(|e| e.to_string())?;
    // What was opened, not what was looked at: it may have been swapped in between.
    let now = fstat(&fd).map_err(|e| e.to_string())?;
    if now.st_mode & libc::S_IFMT == libc::S_IFREG {
        return Err("it was replaced by a regular file while being opened; try again".into());
    }
    if !trusted(now.st_uid, euid) {
        return Err(foreign(now.st_uid));
    }
    Ok(File::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("reqtrace-file-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_fifo_of_another_user_is_refused_and_ours_is_written() {
        let d = tmp("fifo");
        let fifo = d.join("f");
        let c = CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&fifo, Some(65534), None).unwrap();
            let e = create_private(fifo.to_str().unwrap()).unwrap_err();
            assert!(e.contains("special file") && e.contains("65534"), "{e}");
        }
        assert!(create_private("/dev/null").is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn link_loops_and_odd_names_end_in_an_error() {
        let d = tmp("loop");
        std::os::unix::fs::symlink(d.join("b"), d.join("a")).unwrap();
        std::os::unix::fs::symlink(d.join("a"), d.join("b")).unwrap();
        let e = create_private(d.join("a/out").to_str().unwrap()).unwrap_err();
        assert!(e.contains("too many levels"), "{e}");
        for p in ["", ".", "..", "/", "x/"] {
            assert!(create_private(p).is_err(), "{p:?}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_file_of_ours_is_replaced_by_a_private_one_and_nothing_is_left_beside_it() {
        let d = tmp("replace");
        let p = d.join("t");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let ino = std::fs::metadata(&p).unwrap().ino();
        drop(create_private(p.to_str().unwrap()).unwrap());
        let m = std::fs::metadata(&p).unwrap();
        assert_ne!(m.ino(), ino);
        assert_eq!((m.mode() & 0o777, m.len()), (0o600, 0));
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }
}
