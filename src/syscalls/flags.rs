//! Pure decoders for syscall argument values: flag sets, modes, fcntl commands and the like,
//! spelled and ordered the way strace prints them so reqtrace's output can be compared with
//! strace's line by line. Nothing here reads tracee memory; callers pass raw register values.
//!
//! Bit values come from `libc` wherever it has them, because some differ per architecture
//! (O_DIRECTORY, O_NOFOLLOW, O_DIRECT and O_LARGEFILE are laid out differently on arm64).
//! Values libc lacks are spelled out with the kernel header they come from.
//!
//! Flag decoders print known names joined with `|`, then any unknown bits as one hex number
//! (`O_RDONLY|0x40000000`), and `0` for an empty set.

use super::StatKind;

/// One named value of a flag set. A multi-bit entry (O_SYNC, O_TMPFILE, STATX_ALL) matches
/// only when all its bits are set, and consumes them, so it must precede its parts.
type Named = (u64, &'static str);

/// Widens a (non-negative) libc `c_int` flag for the tables below.
const fn c(v: libc::c_int) -> u64 {
    v as u64
}

fn push(out: &mut String, name: &str) {
    if !out.is_empty() {
        out.push('|');
    }
    out.push_str(name);
}

/// Appends the names of the entries of `table` present in `v`, in table order, and returns
/// the bits no entry claimed.
fn names(mut v: u64, table: &[Named], out: &mut String) -> u64 {
    for &(bits, name) in table {
        if bits != 0 && (v & bits) == bits {
            push(out, name);
            v &= !bits;
        }
    }
    v
}

/// Appends the leftover bits in hex, and turns an empty result into `0`.
fn finish(mut out: String, rest: u64) -> String {
    if rest != 0 {
        push(&mut out, &hex(rest));
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

/// Decodes `v` against `table` with hex leftovers: the common shape of every flag set.
fn flag_set(v: u64, table: &[Named]) -> String {
    let mut out = String::new();
    let rest = names(v, table, &mut out);
    finish(out, rest)
}

/// `0x1f`, and `0` (not `0x0`) for zero, like C's `%#x` which strace uses.
pub fn hex(v: u64) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

/// The kernel's `__O_SYNC` and `__O_TMPFILE`: the bits O_SYNC and O_TMPFILE add to O_DSYNC
/// and O_DIRECTORY (include/uapi/asm-generic/fcntl.h; same on x86_64 and arm64).
const O_SYNC_ONLY: u64 = 0o4000000;
const O_TMPFILE_ONLY: u64 = 0o20000000;

/// open(2) flags after the access mode, in strace's order (xlat/open_mode_flags.in): O_SYNC
/// before O_DSYNC and O_TMPFILE before O_DIRECTORY so the combined names win, and O_ASYNC
/// spelled FASYNC, last, as strace does.
static OPEN_FLAGS: &[Named] = &[
    (c(libc::O_CREAT), "O_CREAT"),
    (c(libc::O_EXCL), "O_EXCL"),
    (c(libc::O_NOCTTY), "O_NOCTTY"),
    (c(libc::O_TRUNC), "O_TRUNC"),
    (c(libc::O_APPEND), "O_APPEND"),
    (c(libc::O_NONBLOCK), "O_NONBLOCK"),
    (c(libc::O_SYNC), "O_SYNC"),
    (O_SYNC_ONLY, "__O_SYNC"),
    (c(libc::O_DSYNC), "O_DSYNC"),
    (c(libc::O_DIRECT), "O_DIRECT"),
    // libc::O_LARGEFILE is 0 on 64-bit glibc; the kernel bit differs per architecture.
    (crate::arch::O_LARGEFILE, "O_LARGEFILE"),
    (c(libc::O_NOFOLLOW), "O_NOFOLLOW"),
    (c(libc::O_NOATIME), "O_NOATIME"),
    (c(libc::O_CLOEXEC), "O_CLOEXEC"),
    (c(libc::O_PATH), "O_PATH"),
    (c(libc::O_TMPFILE), "O_TMPFILE"),
    (O_TMPFILE_ONLY, "__O_TMPFILE"),
    (c(libc::O_DIRECTORY), "O_DIRECTORY"),
    (c(libc::O_ASYNC), "FASYNC"),
];

/// open(2)/openat(2)/open_how flags: the access mode first (`O_RDONLY`, `O_WRONLY`, `O_RDWR`,
/// or `O_ACCMODE` for the invalid 3), then the other bits: `O_RDONLY|O_CLOEXEC`.
///
/// All 64 bits are decoded because `open_how.flags` is a u64; for a register holding an
/// `int`, pass it zero-extended.
pub fn open_flags(v: u64) -> String {
    let accmode = v & c(libc::O_ACCMODE);
    let mut out = String::from(match accmode {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    });
    let rest = names(v & !accmode, OPEN_FLAGS, &mut out);
    finish(out, rest)
}

/// AT_* flags in bit order. AT_EACCESS shares 0x200 with AT_REMOVEDIR; see [`at_flags_for`].
static AT_FLAGS: &[Named] = &[
    (c(libc::AT_SYMLINK_NOFOLLOW), "AT_SYMLINK_NOFOLLOW"),
    (c(libc::AT_REMOVEDIR), "AT_REMOVEDIR"),
    (c(libc::AT_SYMLINK_FOLLOW), "AT_SYMLINK_FOLLOW"),
    (c(libc::AT_NO_AUTOMOUNT), "AT_NO_AUTOMOUNT"),
    (c(libc::AT_EMPTY_PATH), "AT_EMPTY_PATH"),
    (c(libc::AT_STATX_FORCE_SYNC), "AT_STATX_FORCE_SYNC"),
    (c(libc::AT_STATX_DONT_SYNC), "AT_STATX_DONT_SYNC"),
    (c(libc::AT_RECURSIVE), "AT_RECURSIVE"),
];

/// AT_* flags written as names (`AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH`, as strace prints them)
/// back to their bits; names not in the table, and numbers, count as 0.
pub fn at_flags_from_names(text: &str) -> u64 {
    text.split('|')
        .map(str::trim)
        .filter_map(|n| AT_FLAGS.iter().find(|(_, name)| *name == n))
        .fold(0, |bits, (v, _)| bits | v)
}

/// AT_* flags (`AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH`), `0` for none. 0x200 is shown as
/// AT_REMOVEDIR; use [`at_flags_for`] to get the per-syscall meaning of shared bits.
///
/// The kernel takes an `int`, so only the low 32 bits are decoded.
pub fn at_flags(v: u64) -> String {
    flag_set(v & 0xffff_ffff, AT_FLAGS)
}

/// AT_* flags as strace shows them for syscall `name`: 0x200 is AT_EACCESS for faccessat2
/// and AT_HANDLE_FID for name_to_handle_at, and statx's flags start with the sync type
/// (`AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW`). Other calls get [`at_flags`].
pub fn at_flags_for(name: &str, v: u64) -> String {
    let v = v & 0xffff_ffff;
    // AT_REMOVEDIR, AT_EACCESS and AT_HANDLE_FID are all 0x200 (include/uapi/linux/fcntl.h).
    let shared = c(libc::AT_EACCESS);
    match name {
        "faccessat2" | "name_to_handle_at" if v & shared != 0 => {
            let mut out = String::from(if name == "faccessat2" {
                "AT_EACCESS"
            } else {
                "AT_HANDLE_FID"
            });
            let rest = names(v & !shared, AT_FLAGS, &mut out);
            finish(out, rest)
        }
        "statx" => {
            let sync = c(libc::AT_STATX_SYNC_TYPE);
            let mut out = String::from(match v & sync {
                0 => "AT_STATX_SYNC_AS_STAT",
                x if x == c(libc::AT_STATX_FORCE_SYNC) => "AT_STATX_FORCE_SYNC",
                x if x == c(libc::AT_STATX_DONT_SYNC) => "AT_STATX_DONT_SYNC",
                // Both bits: invalid, leave them to the generic decoder.
                _ => "",
            });
            let v = if out.is_empty() { v } else { v & !sync };
            let rest = names(v, AT_FLAGS, &mut out);
            finish(out, rest)
        }
        _ => at_flags(v),
    }
}

/// The name of a special directory fd: `Some("AT_FDCWD")` for -100 (compared as the `int`
/// the kernel sees, so both sign- and zero-extended registers match), `None` otherwise.
pub fn dirfd(v: u64) -> Option<&'static str> {
    (v as i32 == libc::AT_FDCWD).then_some("AT_FDCWD")
}

/// access(2) mode: `F_OK` for 0, else `R_OK|W_OK|X_OK` with unknown bits in hex.
pub fn access_mode(v: u64) -> String {
    static MODES: &[Named] = &[
        (c(libc::R_OK), "R_OK"),
        (c(libc::W_OK), "W_OK"),
        (c(libc::X_OK), "X_OK"),
    ];
    let v = v & 0xffff_ffff;
    if v == 0 {
        "F_OK".to_string()
    } else {
        flag_set(v, MODES)
    }
}

/// statx(2) masks in strace's order (xlat/statx_masks.in): the compound STATX_ALL and
/// STATX_BASIC_STATS first, so 0x7ff prints as `STATX_BASIC_STATS` and 0xfff as `STATX_ALL`.
static STATX_MASKS: &[Named] = &[
    (libc::STATX_ALL as u64, "STATX_ALL"),
    (libc::STATX_BASIC_STATS as u64, "STATX_BASIC_STATS"),
    (libc::STATX_TYPE as u64, "STATX_TYPE"),
    (libc::STATX_MODE as u64, "STATX_MODE"),
    (libc::STATX_NLINK as u64, "STATX_NLINK"),
    (libc::STATX_UID as u64, "STATX_UID"),
    (libc::STATX_GID as u64, "STATX_GID"),
    (libc::STATX_ATIME as u64, "STATX_ATIME"),
    (libc::STATX_MTIME as u64, "STATX_MTIME"),
    (libc::STATX_CTIME as u64, "STATX_CTIME"),
    (libc::STATX_INO as u64, "STATX_INO"),
    (libc::STATX_SIZE as u64, "STATX_SIZE"),
    (libc::STATX_BLOCKS as u64, "STATX_BLOCKS"),
    (libc::STATX_BTIME as u64, "STATX_BTIME"),
    (libc::STATX_MNT_ID as u64, "STATX_MNT_ID"),
    (libc::STATX_DIOALIGN as u64, "STATX_DIOALIGN"),
    (libc::STATX_MNT_ID_UNIQUE as u64, "STATX_MNT_ID_UNIQUE"),
    (libc::STATX_SUBVOL as u64, "STATX_SUBVOL"),
    (libc::STATX_WRITE_ATOMIC as u64, "STATX_WRITE_ATOMIC"),
    (libc::STATX_DIO_READ_ALIGN as u64, "STATX_DIO_READ_ALIGN"),
];

/// statx(2) mask: `STATX_BASIC_STATS`, `STATX_ALL`, `STATX_TYPE|STATX_MODE`,
/// `STATX_BASIC_STATS|STATX_MNT_ID`...
pub fn statx_mask(v: u64) -> String {
    flag_set(v & 0xffff_ffff, STATX_MASKS)
}

/// renameat2(2) flags: `RENAME_NOREPLACE|RENAME_EXCHANGE|RENAME_WHITEOUT`.
pub fn rename_flags(v: u64) -> String {
    static FLAGS: &[Named] = &[
        (libc::RENAME_NOREPLACE as u64, "RENAME_NOREPLACE"),
        (libc::RENAME_EXCHANGE as u64, "RENAME_EXCHANGE"),
        (libc::RENAME_WHITEOUT as u64, "RENAME_WHITEOUT"),
    ];
    flag_set(v & 0xffff_ffff, FLAGS)
}

/// `open_how.resolve` (openat2(2)): `RESOLVE_NO_XDEV|RESOLVE_BENEATH`... A u64 in the
/// kernel, so all bits are decoded.
pub fn resolve_flags(v: u64) -> String {
    static FLAGS: &[Named] = &[
        (libc::RESOLVE_NO_XDEV, "RESOLVE_NO_XDEV"),
        (libc::RESOLVE_NO_MAGICLINKS, "RESOLVE_NO_MAGICLINKS"),
        (libc::RESOLVE_NO_SYMLINKS, "RESOLVE_NO_SYMLINKS"),
        (libc::RESOLVE_BENEATH, "RESOLVE_BENEATH"),
        (libc::RESOLVE_IN_ROOT, "RESOLVE_IN_ROOT"),
        (libc::RESOLVE_CACHED, "RESOLVE_CACHED"),
    ];
    flag_set(v, FLAGS)
}

/// File mode bits in octal with a leading 0, like strace's `%#03o`: `0644`, `000`, `04755`.
pub fn mode(v: u64) -> String {
    format!("0{:02o}", v as u32)
}

/// mknod(2) mode: file type then permissions, `S_IFREG|0644`, `S_IFCHR|0620`; plain octal
/// when there are no type bits (or an invalid type).
pub fn mode_type(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let fmt = u64::from(libc::S_IFMT);
    let name = match (v & fmt) as libc::mode_t {
        libc::S_IFREG => "S_IFREG",
        libc::S_IFSOCK => "S_IFSOCK",
        libc::S_IFIFO => "S_IFIFO",
        libc::S_IFLNK => "S_IFLNK",
        libc::S_IFDIR => "S_IFDIR",
        libc::S_IFBLK => "S_IFBLK",
        libc::S_IFCHR => "S_IFCHR",
        _ => return mode(v),
    };
    format!("{name}|{}", mode(v & !fmt))
}

/// fcntl commands libc does not define for Linux (include/uapi/asm-generic/fcntl.h and
/// include/uapi/linux/fcntl.h; the same on x86_64 and arm64).
const F_SETSIG: libc::c_int = 10;
const F_GETSIG: libc::c_int = 11;
const F_SETOWN_EX: libc::c_int = 15;
const F_GETOWN_EX: libc::c_int = 16;
const F_GETOWNER_UIDS: libc::c_int = 17;
const F_DUPFD_QUERY: libc::c_int = 1027;
const F_CREATED_QUERY: libc::c_int = 1028;

/// fcntl(2) command name (`F_DUPFD_CLOEXEC`, `F_GETFL`...); unknown commands in decimal.
pub fn fcntl_cmd(v: u64) -> String {
    let cmd = v as libc::c_int;
    let name = match cmd {
        libc::F_DUPFD => "F_DUPFD",
        libc::F_GETFD => "F_GETFD",
        libc::F_SETFD => "F_SETFD",
        libc::F_GETFL => "F_GETFL",
        libc::F_SETFL => "F_SETFL",
        libc::F_GETLK => "F_GETLK",
        libc::F_SETLK => "F_SETLK",
        libc::F_SETLKW => "F_SETLKW",
        libc::F_SETOWN => "F_SETOWN",
        libc::F_GETOWN => "F_GETOWN",
        F_SETSIG => "F_SETSIG",
        F_GETSIG => "F_GETSIG",
        F_SETOWN_EX => "F_SETOWN_EX",
        F_GETOWN_EX => "F_GETOWN_EX",
        F_GETOWNER_UIDS => "F_GETOWNER_UIDS",
        libc::F_OFD_GETLK => "F_OFD_GETLK",
        libc::F_OFD_SETLK => "F_OFD_SETLK",
        libc::F_OFD_SETLKW => "F_OFD_SETLKW",
        libc::F_SETLEASE => "F_SETLEASE",
        libc::F_GETLEASE => "F_GETLEASE",
        libc::F_NOTIFY => "F_NOTIFY",
        F_DUPFD_QUERY => "F_DUPFD_QUERY",
        F_CREATED_QUERY => "F_CREATED_QUERY",
        libc::F_CANCELLK => "F_CANCELLK",
        libc::F_DUPFD_CLOEXEC => "F_DUPFD_CLOEXEC",
        libc::F_SETPIPE_SZ => "F_SETPIPE_SZ",
        libc::F_GETPIPE_SZ => "F_GETPIPE_SZ",
        libc::F_ADD_SEALS => "F_ADD_SEALS",
        libc::F_GET_SEALS => "F_GET_SEALS",
        _ => return cmd.to_string(),
    };
    name.to_string()
}

/// A user or group id: `-1` (the "leave unchanged" value of chown) for 0xffffffff, else
/// decimal.
pub fn id(v: u64) -> String {
    match v as u32 {
        u32::MAX => "-1".to_string(),
        id => id.to_string(),
    }
}

/// A device number as strace shows it: `makedev(0x1, 0x3)`, split with glibc's major()/minor()
/// (which agree with the kernel's 32-bit encoding for mknod's `unsigned int dev`).
pub fn dev(v: u64) -> String {
    let major = ((v >> 8) & 0xfff) | ((v >> 32) & !0xfff);
    let minor = (v & 0xff) | ((v >> 12) & !0xff);
    format!("makedev({}, {})", hex(major), hex(minor))
}

/// Which stat flavour a stat-family call is, from its name and flags: `stat`, `lstat` and
/// `fstat` are themselves; `newfstatat` (flags in `args[3]`) and `statx` (flags in `args[2]`)
/// are an fstat when AT_EMPTY_PATH is set and the path is empty (`empty_path`), an lstat with
/// AT_SYMLINK_NOFOLLOW, and a stat otherwise. Any other call is `None`.
pub fn stat_kind(name: &str, args: &[u64; 6], empty_path: bool) -> Option<StatKind> {
    let flags = match name {
        "stat" => return Some(StatKind::Stat),
        "lstat" => return Some(StatKind::Lstat),
        "fstat" => return Some(StatKind::Fstat),
        "newfstatat" => args[3],
        "statx" => args[2],
        _ => return None,
    };
    Some(if empty_path && flags & c(libc::AT_EMPTY_PATH) != 0 {
        StatKind::Fstat
    } else if flags & c(libc::AT_SYMLINK_NOFOLLOW) != 0 {
        StatKind::Lstat
    } else {
        StatKind::Stat
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(v: libc::c_int) -> u64 {
        v as u64
    }

    #[test]
    fn open_flags_common() {
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(open_flags(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(
            open_flags(o(libc::O_RDONLY | libc::O_CLOEXEC)),
            "O_RDONLY|O_CLOEXEC"
        );
        assert_eq!(
            open_flags(o(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC)),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(
            open_flags(o(libc::O_RDWR
                | libc::O_CREAT
                | libc::O_EXCL
                | libc::O_APPEND)),
            "O_RDWR|O_CREAT|O_EXCL|O_APPEND"
        );
        // What opendir() sends, as strace prints it.
        assert_eq!(
            open_flags(o(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_DIRECTORY)),
            "O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY"
        );
        assert_eq!(open_flags(3), "O_ACCMODE");
    }

    #[test]
    fn open_flags_compound_bits() {
        // O_SYNC contains O_DSYNC: one name, not two.
        assert_eq!(
            open_flags(o(libc::O_WRONLY | libc::O_SYNC)),
            "O_WRONLY|O_SYNC"
        );
        assert_eq!(
            open_flags(o(libc::O_WRONLY | libc::O_DSYNC)),
            "O_WRONLY|O_DSYNC"
        );
        // O_TMPFILE contains O_DIRECTORY.
        assert_eq!(
            open_flags(o(libc::O_RDWR | libc::O_TMPFILE)),
            "O_RDWR|O_TMPFILE"
        );
        assert_eq!(
            open_flags(o(libc::O_RDWR | libc::O_TMPFILE | libc::O_EXCL)),
            "O_RDWR|O_EXCL|O_TMPFILE"
        );
        assert_eq!(open_flags(O_TMPFILE_ONLY), "O_RDONLY|__O_TMPFILE");
        assert_eq!(open_flags(o(libc::O_ASYNC)), "O_RDONLY|FASYNC");
        assert_eq!(
            open_flags(o(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)),
            "O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH"
        );
        assert_eq!(
            open_flags(crate::arch::O_LARGEFILE | o(libc::O_CLOEXEC)),
            "O_RDONLY|O_LARGEFILE|O_CLOEXEC"
        );
        assert_eq!(
            open_flags(o(libc::O_DIRECT | libc::O_NOATIME | libc::O_NOCTTY)),
            "O_RDONLY|O_NOCTTY|O_DIRECT|O_NOATIME"
        );
    }

    #[test]
    fn open_flags_arch_values() {
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(open_flags(0o200000), "O_RDONLY|O_DIRECTORY");
            assert_eq!(open_flags(0o400000), "O_RDONLY|O_NOFOLLOW");
            assert_eq!(open_flags(0o100000), "O_RDONLY|O_LARGEFILE");
            assert_eq!(open_flags(0o40000), "O_RDONLY|O_DIRECT");
        }
        #[cfg(target_arch = "aarch64")]
        {
            assert_eq!(open_flags(0o40000), "O_RDONLY|O_DIRECTORY");
            assert_eq!(open_flags(0o100000), "O_RDONLY|O_NOFOLLOW");
            assert_eq!(open_flags(0o400000), "O_RDONLY|O_LARGEFILE");
            assert_eq!(open_flags(0o200000), "O_RDONLY|O_DIRECT");
        }
    }

    #[test]
    fn open_flags_unknown_bits() {
        assert_eq!(open_flags(0x4000_0000), "O_RDONLY|0x40000000");
        assert_eq!(
            open_flags(o(libc::O_WRONLY | libc::O_CREAT) | 0x4000_0000 | 0x1_0000_0000),
            "O_WRONLY|O_CREAT|0x140000000"
        );
    }

    #[test]
    fn at_flags_decoding() {
        assert_eq!(at_flags(0), "0");
        assert_eq!(at_flags(0x100), "AT_SYMLINK_NOFOLLOW");
        assert_eq!(at_flags(0x1000), "AT_EMPTY_PATH");
        assert_eq!(at_flags(0x1100), "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH");
        assert_eq!(at_flags(0x200), "AT_REMOVEDIR");
        assert_eq!(at_flags(0x400), "AT_SYMLINK_FOLLOW");
        assert_eq!(at_flags(0x800), "AT_NO_AUTOMOUNT");
        assert_eq!(at_flags(0x8000), "AT_RECURSIVE");
        assert_eq!(at_flags(0x2000), "AT_STATX_FORCE_SYNC");
        assert_eq!(at_flags(0x4000), "AT_STATX_DONT_SYNC");
        assert_eq!(at_flags(0x1), "0x1");
        assert_eq!(at_flags(0x10101), "AT_SYMLINK_NOFOLLOW|0x10001");
        // A sign-extended int: the upper half is not the kernel's.
        assert_eq!(at_flags(0xffff_ffff_0000_0100), "AT_SYMLINK_NOFOLLOW");
    }

    #[test]
    fn at_flags_per_syscall() {
        assert_eq!(at_flags_for("faccessat2", 0x200), "AT_EACCESS");
        assert_eq!(
            at_flags_for("faccessat2", 0x300),
            "AT_EACCESS|AT_SYMLINK_NOFOLLOW"
        );
        assert_eq!(at_flags_for("faccessat2", 0), "0");
        assert_eq!(
            at_flags_for("name_to_handle_at", 0x1200),
            "AT_HANDLE_FID|AT_EMPTY_PATH"
        );
        assert_eq!(at_flags_for("unlinkat", 0x200), "AT_REMOVEDIR");
        assert_eq!(at_flags_for("statx", 0), "AT_STATX_SYNC_AS_STAT");
        assert_eq!(
            at_flags_for("statx", 0x100),
            "AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW"
        );
        assert_eq!(
            at_flags_for("statx", 0x1000),
            "AT_STATX_SYNC_AS_STAT|AT_EMPTY_PATH"
        );
        assert_eq!(
            at_flags_for("statx", 0x2100),
            "AT_STATX_FORCE_SYNC|AT_SYMLINK_NOFOLLOW"
        );
        assert_eq!(at_flags_for("statx", 0x4000), "AT_STATX_DONT_SYNC");
        assert_eq!(
            at_flags_for("statx", 0x6000),
            "AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC"
        );
        assert_eq!(at_flags_for("newfstatat", 0x1000), "AT_EMPTY_PATH");
    }

    #[test]
    fn dirfd_names() {
        assert_eq!(dirfd(-100i64 as u64), Some("AT_FDCWD"));
        assert_eq!(dirfd(0xffff_ff9c), Some("AT_FDCWD"));
        assert_eq!(dirfd(3), None);
        assert_eq!(dirfd(100), None);
    }

    #[test]
    fn access_modes() {
        assert_eq!(access_mode(0), "F_OK");
        assert_eq!(access_mode(4), "R_OK");
        assert_eq!(access_mode(6), "R_OK|W_OK");
        assert_eq!(access_mode(7), "R_OK|W_OK|X_OK");
        assert_eq!(access_mode(1), "X_OK");
        assert_eq!(access_mode(0x10 | 2), "W_OK|0x10");
        assert_eq!(access_mode(0x10), "0x10");
    }

    #[test]
    fn statx_masks() {
        assert_eq!(statx_mask(0), "0");
        assert_eq!(statx_mask(0x7ff), "STATX_BASIC_STATS");
        assert_eq!(statx_mask(0xfff), "STATX_ALL");
        assert_eq!(statx_mask(0x17ff), "STATX_BASIC_STATS|STATX_MNT_ID");
        assert_eq!(statx_mask(0x3), "STATX_TYPE|STATX_MODE");
        assert_eq!(statx_mask(0x800 | 0x200), "STATX_SIZE|STATX_BTIME");
        assert_eq!(statx_mask(0x8000_0000), "0x80000000");
        assert_eq!(statx_mask(0x1 | 0x4000_0000), "STATX_TYPE|0x40000000");
    }

    #[test]
    fn rename_and_resolve() {
        assert_eq!(rename_flags(0), "0");
        assert_eq!(rename_flags(1), "RENAME_NOREPLACE");
        assert_eq!(rename_flags(2), "RENAME_EXCHANGE");
        assert_eq!(rename_flags(5), "RENAME_NOREPLACE|RENAME_WHITEOUT");
        assert_eq!(rename_flags(8), "0x8");
        assert_eq!(resolve_flags(0), "0");
        assert_eq!(resolve_flags(1), "RESOLVE_NO_XDEV");
        assert_eq!(
            resolve_flags(0x2 | 0x4),
            "RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS"
        );
        assert_eq!(resolve_flags(0x8), "RESOLVE_BENEATH");
        assert_eq!(resolve_flags(0x10 | 0x20), "RESOLVE_IN_ROOT|RESOLVE_CACHED");
        assert_eq!(resolve_flags(0x40), "0x40");
    }

    #[test]
    fn modes() {
        assert_eq!(mode(0o644), "0644");
        assert_eq!(mode(0), "000");
        assert_eq!(mode(0o4755), "04755");
        assert_eq!(mode(0o7), "007");
        assert_eq!(mode(0o10), "010");
        assert_eq!(mode(0o777), "0777");
        assert_eq!(mode_type(0o100644), "S_IFREG|0644");
        assert_eq!(mode_type(0o010600), "S_IFIFO|0600");
        assert_eq!(mode_type(0o020620), "S_IFCHR|0620");
        assert_eq!(mode_type(0o060660), "S_IFBLK|0660");
        assert_eq!(mode_type(0o140755), "S_IFSOCK|0755");
        assert_eq!(mode_type(0o040000), "S_IFDIR|000");
        assert_eq!(mode_type(0o644), "0644");
        assert_eq!(mode_type(0o170644), "0170644");
    }

    #[test]
    fn fcntl_cmds() {
        assert_eq!(fcntl_cmd(0), "F_DUPFD");
        assert_eq!(fcntl_cmd(1), "F_GETFD");
        assert_eq!(fcntl_cmd(2), "F_SETFD");
        assert_eq!(fcntl_cmd(3), "F_GETFL");
        assert_eq!(fcntl_cmd(4), "F_SETFL");
        assert_eq!(fcntl_cmd(5), "F_GETLK");
        assert_eq!(fcntl_cmd(6), "F_SETLK");
        assert_eq!(fcntl_cmd(7), "F_SETLKW");
        assert_eq!(fcntl_cmd(8), "F_SETOWN");
        assert_eq!(fcntl_cmd(9), "F_GETOWN");
        assert_eq!(fcntl_cmd(10), "F_SETSIG");
        assert_eq!(fcntl_cmd(11), "F_GETSIG");
        assert_eq!(fcntl_cmd(36), "F_OFD_GETLK");
        assert_eq!(fcntl_cmd(37), "F_OFD_SETLK");
        assert_eq!(fcntl_cmd(38), "F_OFD_SETLKW");
        assert_eq!(fcntl_cmd(1030), "F_DUPFD_CLOEXEC");
        assert_eq!(fcntl_cmd(1031), "F_SETPIPE_SZ");
        assert_eq!(fcntl_cmd(1032), "F_GETPIPE_SZ");
        assert_eq!(fcntl_cmd(1033), "F_ADD_SEALS");
        assert_eq!(fcntl_cmd(1034), "F_GET_SEALS");
        assert_eq!(fcntl_cmd(999), "999");
        assert_eq!(fcntl_cmd(u64::MAX), "-1");
    }

    #[test]
    fn ids_devs_hex() {
        assert_eq!(id(0), "0");
        assert_eq!(id(1000), "1000");
        assert_eq!(id(0xffff_ffff), "-1");
        assert_eq!(id(u64::MAX), "-1");
        assert_eq!(dev(0), "makedev(0, 0)");
        assert_eq!(dev(0x0103), "makedev(0x1, 0x3)");
        assert_eq!(dev(0x8800), "makedev(0x88, 0)");
        // Minor numbers above 255 live in bits 20..32.
        assert_eq!(
            dev((0x12 << 20) | (0x8 << 8) | 0x34),
            "makedev(0x8, 0x1234)"
        );
        assert_eq!(hex(0), "0");
        assert_eq!(hex(0x1f), "0x1f");
        assert_eq!(hex(u64::MAX), "0xffffffffffffffff");
    }

    #[test]
    fn at_flag_names_back_to_bits() {
        assert_eq!(
            at_flags_from_names("AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH"),
            c(libc::AT_SYMLINK_NOFOLLOW) | c(libc::AT_EMPTY_PATH)
        );
        assert_eq!(at_flags_from_names("0"), 0);
        assert_eq!(at_flags_from_names("AT_STATX_SYNC_AS_STAT"), 0);
    }

    #[test]
    fn stat_kinds() {
        let args = |i: usize, flags: u64| {
            let mut a = [0u64; 6];
            a[i] = flags;
            a
        };
        let nofollow = c(libc::AT_SYMLINK_NOFOLLOW);
        let empty = c(libc::AT_EMPTY_PATH);
        assert_eq!(stat_kind("stat", &[0; 6], false), Some(StatKind::Stat));
        assert_eq!(stat_kind("lstat", &[0; 6], false), Some(StatKind::Lstat));
        assert_eq!(stat_kind("fstat", &[0; 6], false), Some(StatKind::Fstat));
        assert_eq!(
            stat_kind("newfstatat", &args(3, 0), false),
            Some(StatKind::Stat)
        );
        assert_eq!(
            stat_kind("newfstatat", &args(3, nofollow), false),
            Some(StatKind::Lstat)
        );
        assert_eq!(
            stat_kind("newfstatat", &args(3, empty), true),
            Some(StatKind::Fstat)
        );
        // AT_EMPTY_PATH with a non-empty path is an ordinary stat.
        assert_eq!(
            stat_kind("newfstatat", &args(3, empty), false),
            Some(StatKind::Stat)
        );
        assert_eq!(
            stat_kind("newfstatat", &args(3, empty | nofollow), true),
            Some(StatKind::Fstat)
        );
        // newfstatat's flags are in args[3], not args[2].
        assert_eq!(
            stat_kind("newfstatat", &args(2, nofollow), false),
            Some(StatKind::Stat)
        );
        assert_eq!(stat_kind("statx", &args(2, 0), false), Some(StatKind::Stat));
        assert_eq!(
            stat_kind("statx", &args(2, nofollow), false),
            Some(StatKind::Lstat)
        );
        assert_eq!(
            stat_kind("statx", &args(2, empty), true),
            Some(StatKind::Fstat)
        );
        assert_eq!(
            stat_kind("statx", &args(3, nofollow), false),
            Some(StatKind::Stat)
        );
        assert_eq!(stat_kind("openat", &[0; 6], false), None);
        assert_eq!(stat_kind("statfs", &[0; 6], false), None);
    }
}
