//! errno names and messages, the way strace prints a failed call:
//! `= -1 ENOENT (No such file or directory)`.
//!
//! Names use strace's spelling of each Linux errno (EAGAIN not EWOULDBLOCK, EDEADLK not
//! EDEADLOCK, EOPNOTSUPP not ENOTSUP). Messages are glibc's `strerror` texts, kept in a
//! static table rather than calling `strerror` so the output does not depend on the libc or
//! locale reqtrace runs with. The kernel-internal codes 512..=531 (which a tracer can see at
//! syscall exit but a program never does) get strace's texts: its own wording for the four
//! restart codes, and glibc's "Unknown error N" for the rest, as strace prints them.

/// `(name, message)` for 0..=133, indexed by errno. Linux has no errno 41 or 58.
static LOW: [(Option<&str>, &str); 134] = [
    /*   0 */ (None, "Success"),
    /*   1 */ (Some("EPERM"), "Operation not permitted"),
    /*   2 */ (Some("ENOENT"), "No such file or directory"),
    /*   3 */ (Some("ESRCH"), "No such process"),
    /*   4 */ (Some("EINTR"), "Interrupted system call"),
    /*   5 */ (Some("EIO"), "Input/output error"),
    /*   6 */ (Some("ENXIO"), "No such device or address"),
    /*   7 */ (Some("E2BIG"), "Argument list too long"),
    /*   8 */ (Some("ENOEXEC"), "Exec format error"),
    /*   9 */ (Some("EBADF"), "Bad file descriptor"),
    /*  10 */ (Some("ECHILD"), "No child processes"),
    /*  11 */ (Some("EAGAIN"), "Resource temporarily unavailable"),
    /*  12 */ (Some("ENOMEM"), "Cannot allocate memory"),
    /*  13 */ (Some("EACCES"), "Permission denied"),
    /*  14 */ (Some("EFAULT"), "Bad address"),
    /*  15 */ (Some("ENOTBLK"), "Block device required"),
    /*  16 */ (Some("EBUSY"), "Device or resource busy"),
    /*  17 */ (Some("EEXIST"), "File exists"),
    /*  18 */ (Some("EXDEV"), "Invalid cross-device link"),
    /*  19 */ (Some("ENODEV"), "No such device"),
    /*  20 */ (Some("ENOTDIR"), "Not a directory"),
    /*  21 */ (Some("EISDIR"), "Is a directory"),
    /*  22 */ (Some("EINVAL"), "Invalid argument"),
    /*  23 */ (Some("ENFILE"), "Too many open files in system"),
    /*  24 */ (Some("EMFILE"), "Too many open files"),
    /*  25 */ (Some("ENOTTY"), "Inappropriate ioctl for device"),
    /*  26 */ (Some("ETXTBSY"), "Text file busy"),
    /*  27 */ (Some("EFBIG"), "File too large"),
    /*  28 */ (Some("ENOSPC"), "No space left on device"),
    /*  29 */ (Some("ESPIPE"), "Illegal seek"),
    /*  30 */ (Some("EROFS"), "Read-only file system"),
    /*  31 */ (Some("EMLINK"), "Too many links"),
    /*  32 */ (Some("EPIPE"), "Broken pipe"),
    /*  33 */ (Some("EDOM"), "Numerical argument out of domain"),
    /*  34 */ (Some("ERANGE"), "Numerical result out of range"),
    /*  35 */ (Some("EDEADLK"), "Resource deadlock avoided"),
    /*  36 */ (Some("ENAMETOOLONG"), "File name too long"),
    /*  37 */ (Some("ENOLCK"), "No locks available"),
    /*  38 */ (Some("ENOSYS"), "Function not implemented"),
    /*  39 */ (Some("ENOTEMPTY"), "Directory not empty"),
    /*  40 */ (Some("ELOOP"), "Too many levels of symbolic links"),
    /*  41 */ (None, "Unknown error 41"),
    /*  42 */ (Some("ENOMSG"), "No message of desired type"),
    /*  43 */ (Some("EIDRM"), "Identifier removed"),
    /*  44 */ (Some("ECHRNG"), "Channel number out of range"),
    /*  45 */ (Some("EL2NSYNC"), "Level 2 not synchronized"),
    /*  46 */ (Some("EL3HLT"), "Level 3 halted"),
    /*  47 */ (Some("EL3RST"), "Level 3 reset"),
    /*  48 */ (Some("ELNRNG"), "Link number out of range"),
    /*  49 */ (Some("EUNATCH"), "Protocol driver not attached"),
    /*  50 */ (Some("ENOCSI"), "No CSI structure available"),
    /*  51 */ (Some("EL2HLT"), "Level 2 halted"),
    /*  52 */ (Some("EBADE"), "Invalid exchange"),
    /*  53 */ (Some("EBADR"), "Invalid request descriptor"),
    /*  54 */ (Some("EXFULL"), "Exchange full"),
    /*  55 */ (Some("ENOANO"), "No anode"),
    /*  56 */ (Some("EBADRQC"), "Invalid request code"),
    /*  57 */ (Some("EBADSLT"), "Invalid slot"),
    /*  58 */ (None, "Unknown error 58"),
    /*  59 */ (Some("EBFONT"), "Bad font file format"),
    /*  60 */ (Some("ENOSTR"), "Device not a stream"),
    /*  61 */ (Some("ENODATA"), "No data available"),
    /*  62 */ (Some("ETIME"), "Timer expired"),
    /*  63 */ (Some("ENOSR"), "Out of streams resources"),
    /*  64 */ (Some("ENONET"), "Machine is not on the network"),
    /*  65 */ (Some("ENOPKG"), "Package not installed"),
    /*  66 */ (Some("EREMOTE"), "Object is remote"),
    /*  67 */ (Some("ENOLINK"), "Link has been severed"),
    /*  68 */ (Some("EADV"), "Advertise error"),
    /*  69 */ (Some("ESRMNT"), "Srmount error"),
    /*  70 */ (Some("ECOMM"), "Communication error on send"),
    /*  71 */ (Some("EPROTO"), "Protocol error"),
    /*  72 */ (Some("EMULTIHOP"), "Multihop attempted"),
    /*  73 */ (Some("EDOTDOT"), "RFS specific error"),
    /*  74 */ (Some("EBADMSG"), "Bad message"),
    /*  75 */ (Some("EOVERFLOW"), "Value too large for defined data type"),
    /*  76 */ (Some("ENOTUNIQ"), "Name not unique on network"),
    /*  77 */ (Some("EBADFD"), "File descriptor in bad state"),
    /*  78 */ (Some("EREMCHG"), "Remote address changed"),
    /*  79 */ (Some("ELIBACC"), "Can not access a needed shared library"),
    /*  80 */ (Some("ELIBBAD"), "Accessing a corrupted shared library"),
    /*  81 */ (Some("ELIBSCN"), ".lib section in a.out corrupted"),
    /*  82 */
    (
        Some("ELIBMAX"),
        "Attempting to link in too many shared libraries",
    ),
    /*  83 */ (Some("ELIBEXEC"), "Cannot exec a shared library directly"),
    /*  84 */
    (
        Some("EILSEQ"),
        "Invalid or incomplete multibyte or wide character",
    ),
    /*  85 */
    (
        Some("ERESTART"),
        "Interrupted system call should be restarted",
    ),
    /*  86 */ (Some("ESTRPIPE"), "Streams pipe error"),
    /*  87 */ (Some("EUSERS"), "Too many users"),
    /*  88 */ (Some("ENOTSOCK"), "Socket operation on non-socket"),
    /*  89 */ (Some("EDESTADDRREQ"), "Destination address required"),
    /*  90 */ (Some("EMSGSIZE"), "Message too long"),
    /*  91 */ (Some("EPROTOTYPE"), "Protocol wrong type for socket"),
    /*  92 */ (Some("ENOPROTOOPT"), "Protocol not available"),
    /*  93 */ (Some("EPROTONOSUPPORT"), "Protocol not supported"),
    /*  94 */ (Some("ESOCKTNOSUPPORT"), "Socket type not supported"),
    /*  95 */ (Some("EOPNOTSUPP"), "Operation not supported"),
    /*  96 */ (Some("EPFNOSUPPORT"), "Protocol family not supported"),
    /*  97 */
    (
        Some("EAFNOSUPPORT"),
        "Address family not supported by protocol",
    ),
    /*  98 */ (Some("EADDRINUSE"), "Address already in use"),
    /*  99 */ (Some("EADDRNOTAVAIL"), "Cannot assign requested address"),
    /* 100 */ (Some("ENETDOWN"), "Network is down"),
    /* 101 */ (Some("ENETUNREACH"), "Network is unreachable"),
    /* 102 */ (Some("ENETRESET"), "Network dropped connection on reset"),
    /* 103 */ (Some("ECONNABORTED"), "Software caused connection abort"),
    /* 104 */ (Some("ECONNRESET"), "Connection reset by peer"),
    /* 105 */ (Some("ENOBUFS"), "No buffer space available"),
    /* 106 */ (Some("EISCONN"), "Transport endpoint is already connected"),
    /* 107 */ (Some("ENOTCONN"), "Transport endpoint is not connected"),
    /* 108 */
    (
        Some("ESHUTDOWN"),
        "Cannot send after transport endpoint shutdown",
    ),
    /* 109 */ (Some("ETOOMANYREFS"), "Too many references: cannot splice"),
    /* 110 */ (Some("ETIMEDOUT"), "Connection timed out"),
    /* 111 */ (Some("ECONNREFUSED"), "Connection refused"),
    /* 112 */ (Some("EHOSTDOWN"), "Host is down"),
    /* 113 */ (Some("EHOSTUNREACH"), "No route to host"),
    /* 114 */ (Some("EALREADY"), "Operation already in progress"),
    /* 115 */ (Some("EINPROGRESS"), "Operation now in progress"),
    /* 116 */ (Some("ESTALE"), "Stale file handle"),
    /* 117 */ (Some("EUCLEAN"), "Structure needs cleaning"),
    /* 118 */ (Some("ENOTNAM"), "Not a XENIX named type file"),
    /* 119 */ (Some("ENAVAIL"), "No XENIX semaphores available"),
    /* 120 */ (Some("EISNAM"), "Is a named type file"),
    /* 121 */ (Some("EREMOTEIO"), "Remote I/O error"),
    /* 122 */ (Some("EDQUOT"), "Disk quota exceeded"),
    /* 123 */ (Some("ENOMEDIUM"), "No medium found"),
    /* 124 */ (Some("EMEDIUMTYPE"), "Wrong medium type"),
    /* 125 */ (Some("ECANCELED"), "Operation canceled"),
    /* 126 */ (Some("ENOKEY"), "Required key not available"),
    /* 127 */ (Some("EKEYEXPIRED"), "Key has expired"),
    /* 128 */ (Some("EKEYREVOKED"), "Key has been revoked"),
    /* 129 */ (Some("EKEYREJECTED"), "Key was rejected by service"),
    /* 130 */ (Some("EOWNERDEAD"), "Owner died"),
    /* 131 */ (Some("ENOTRECOVERABLE"), "State not recoverable"),
    /* 132 */ (Some("ERFKILL"), "Operation not possible due to RF-kill"),
    /* 133 */ (Some("EHWPOISON"), "Memory page has hardware error"),
];

/// First kernel-internal errno (`ERESTARTSYS`, include/linux/errno.h).
const HIGH_BASE: i32 = 512;

/// `(name, message)` for 512..=531, indexed by `errno - 512`. 520 is unused.
static HIGH: [(Option<&str>, &str); 20] = [
    /* 512 */ (Some("ERESTARTSYS"), "To be restarted if SA_RESTART is set"),
    /* 513 */ (Some("ERESTARTNOINTR"), "To be restarted"),
    /* 514 */ (Some("ERESTARTNOHAND"), "To be restarted if no handler"),
    /* 515 */ (Some("ENOIOCTLCMD"), "Unknown error 515"),
    /* 516 */ (Some("ERESTART_RESTARTBLOCK"), "Interrupted by signal"),
    /* 517 */ (Some("EPROBE_DEFER"), "Unknown error 517"),
    /* 518 */ (Some("EOPENSTALE"), "Unknown error 518"),
    /* 519 */ (Some("ENOPARAM"), "Unknown error 519"),
    /* 520 */ (None, "Unknown error 520"),
    /* 521 */ (Some("EBADHANDLE"), "Unknown error 521"),
    /* 522 */ (Some("ENOTSYNC"), "Unknown error 522"),
    /* 523 */ (Some("EBADCOOKIE"), "Unknown error 523"),
    /* 524 */ (Some("ENOTSUPP"), "Unknown error 524"),
    /* 525 */ (Some("ETOOSMALL"), "Unknown error 525"),
    /* 526 */ (Some("ESERVERFAULT"), "Unknown error 526"),
    /* 527 */ (Some("EBADTYPE"), "Unknown error 527"),
    /* 528 */ (Some("EJUKEBOX"), "Unknown error 528"),
    /* 529 */ (Some("EIOCBQUEUED"), "Unknown error 529"),
    /* 530 */ (Some("ERECALLCONFLICT"), "Unknown error 530"),
    /* 531 */ (Some("ENOGRACE"), "Unknown error 531"),
];

fn entry(e: i32) -> Option<(Option<&'static str>, &'static str)> {
    match e {
        0..=133 => Some(LOW[e as usize]),
        512..=531 => Some(HIGH[(e - HIGH_BASE) as usize]),
        _ => None,
    }
}

/// The symbolic name of errno `e` ("ENOENT" for 2), or `None` for a number Linux does not
/// define (including 0).
pub fn name(e: i32) -> Option<&'static str> {
    entry(e).and_then(|(n, _)| n)
}

/// The errno named `name` ("ENOENT" gives 2), as strace spells it; also the aliases strace
/// never prints but people write (EWOULDBLOCK, EDEADLOCK, ENOTSUP).
pub fn by_name(name: &str) -> Option<i32> {
    match name {
        "EWOULDBLOCK" => return Some(libc::EAGAIN),
        "EDEADLOCK" => return Some(libc::EDEADLK),
        "ENOTSUP" => return Some(libc::EOPNOTSUPP),
        _ => {}
    }
    (1..=133)
        .chain(512..=531)
        .find(|&e| self::name(e) == Some(name))
}

/// glibc's `strerror` text for errno `e` ("No such file or directory" for 2); strace's text
/// for the kernel-internal restart codes; "Unknown error" for numbers outside the table
/// (glibc would append the number, which needs an allocation: callers that want it can add
/// it themselves).
pub fn message(e: i32) -> &'static str {
    entry(e).map_or("Unknown error", |(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_back_to_numbers() {
        assert_eq!(by_name("ENOENT"), Some(2));
        assert_eq!(by_name("EACCES"), Some(libc::EACCES));
        assert_eq!(by_name("EWOULDBLOCK"), Some(libc::EAGAIN));
        assert_eq!(by_name("ERESTARTSYS"), Some(512));
        assert_eq!(by_name("ENOPE"), None);
        for e in 1..=133 {
            if let Some(n) = name(e) {
                assert_eq!(by_name(n), Some(e));
            }
        }
    }

    #[test]
    fn common_names() {
        assert_eq!(name(2), Some("ENOENT"));
        assert_eq!(message(2), "No such file or directory");
        assert_eq!(name(libc::EACCES), Some("EACCES"));
        assert_eq!(name(libc::EAGAIN), Some("EAGAIN"));
        assert_eq!(name(libc::EWOULDBLOCK), Some("EAGAIN"));
        assert_eq!(name(libc::EDEADLK), Some("EDEADLK"));
        assert_eq!(name(libc::EDEADLOCK), Some("EDEADLK"));
        assert_eq!(name(libc::EOPNOTSUPP), Some("EOPNOTSUPP"));
        assert_eq!(name(libc::EHWPOISON), Some("EHWPOISON"));
        assert_eq!(name(0), None);
        assert_eq!(name(41), None);
        assert_eq!(name(58), None);
        assert_eq!(name(134), None);
        assert_eq!(name(-1), None);
        assert_eq!(message(0), "Success");
        assert_eq!(message(9999), "Unknown error");
        assert_eq!(message(-5), "Unknown error");
    }

    #[test]
    fn kernel_internal() {
        assert_eq!(name(512), Some("ERESTARTSYS"));
        assert_eq!(message(512), "To be restarted if SA_RESTART is set");
        assert_eq!(name(513), Some("ERESTARTNOINTR"));
        assert_eq!(message(513), "To be restarted");
        assert_eq!(name(514), Some("ERESTARTNOHAND"));
        assert_eq!(message(514), "To be restarted if no handler");
        assert_eq!(name(515), Some("ENOIOCTLCMD"));
        assert_eq!(message(515), "Unknown error 515");
        assert_eq!(name(516), Some("ERESTART_RESTARTBLOCK"));
        assert_eq!(message(516), "Interrupted by signal");
        assert_eq!(name(517), Some("EPROBE_DEFER"));
        assert_eq!(name(520), None);
        assert_eq!(name(524), Some("ENOTSUPP"));
        assert_eq!(name(531), Some("ENOGRACE"));
        assert_eq!(message(531), "Unknown error 531");
        assert_eq!(name(532), None);
        // Apart from the four restart codes strace has no text of its own: it prints glibc's.
        for e in (515..=531).filter(|&e| e != 516) {
            assert_eq!(message(e), format!("Unknown error {e}"));
        }
    }

    /// Each name is the libc constant of the same name for that number, checked against the
    /// constants themselves so a typo in the table cannot hide.
    #[test]
    fn names_match_libc_constants() {
        let consts: &[(i32, &str)] = &[
            (libc::EPERM, "EPERM"),
            (libc::ENOENT, "ENOENT"),
            (libc::ESRCH, "ESRCH"),
            (libc::EINTR, "EINTR"),
            (libc::EIO, "EIO"),
            (libc::ENXIO, "ENXIO"),
            (libc::E2BIG, "E2BIG"),
            (libc::ENOEXEC, "ENOEXEC"),
            (libc::EBADF, "EBADF"),
            (libc::ECHILD, "ECHILD"),
            (libc::EAGAIN, "EAGAIN"),
            (libc::ENOMEM, "ENOMEM"),
            (libc::EACCES, "EACCES"),
            (libc::EFAULT, "EFAULT"),
            (libc::ENOTBLK, "ENOTBLK"),
            (libc::EBUSY, "EBUSY"),
            (libc::EEXIST, "EEXIST"),
            (libc::EXDEV, "EXDEV"),
            (libc::ENODEV, "ENODEV"),
            (libc::ENOTDIR, "ENOTDIR"),
            (libc::EISDIR, "EISDIR"),
            (libc::EINVAL, "EINVAL"),
            (libc::ENFILE, "ENFILE"),
            (libc::EMFILE, "EMFILE"),
            (libc::ENOTTY, "ENOTTY"),
            (libc::ETXTBSY, "ETXTBSY"),
            (libc::EFBIG, "EFBIG"),
            (libc::ENOSPC, "ENOSPC"),
            (libc::ESPIPE, "ESPIPE"),
            (libc::EROFS, "EROFS"),
            (libc::EMLINK, "EMLINK"),
            (libc::EPIPE, "EPIPE"),
            (libc::EDOM, "EDOM"),
            (libc::ERANGE, "ERANGE"),
            (libc::EDEADLK, "EDEADLK"),
            (libc::ENAMETOOLONG, "ENAMETOOLONG"),
            (libc::ENOLCK, "ENOLCK"),
            (libc::ENOSYS, "ENOSYS"),
            (libc::ENOTEMPTY, "ENOTEMPTY"),
            (libc::ELOOP, "ELOOP"),
            (libc::ENOMSG, "ENOMSG"),
            (libc::EIDRM, "EIDRM"),
            (libc::ECHRNG, "ECHRNG"),
            (libc::EL2NSYNC, "EL2NSYNC"),
            (libc::EL3HLT, "EL3HLT"),
            (libc::EL3RST, "EL3RST"),
            (libc::ELNRNG, "ELNRNG"),
            (libc::EUNATCH, "EUNATCH"),
            (libc::ENOCSI, "ENOCSI"),
            (libc::EL2HLT, "EL2HLT"),
            (libc::EBADE, "EBADE"),
            (libc::EBADR, "EBADR"),
            (libc::EXFULL, "EXFULL"),
            (libc::ENOANO, "ENOANO"),
            (libc::EBADRQC, "EBADRQC"),
            (libc::EBADSLT, "EBADSLT"),
            (libc::EBFONT, "EBFONT"),
            (libc::ENOSTR, "ENOSTR"),
            (libc::ENODATA, "ENODATA"),
            (libc::ETIME, "ETIME"),
            (libc::ENOSR, "ENOSR"),
            (libc::ENONET, "ENONET"),
            (libc::ENOPKG, "ENOPKG"),
            (libc::EREMOTE, "EREMOTE"),
            (libc::ENOLINK, "ENOLINK"),
            (libc::EADV, "EADV"),
            (libc::ESRMNT, "ESRMNT"),
            (libc::ECOMM, "ECOMM"),
            (libc::EPROTO, "EPROTO"),
            (libc::EMULTIHOP, "EMULTIHOP"),
            (libc::EDOTDOT, "EDOTDOT"),
            (libc::EBADMSG, "EBADMSG"),
            (libc::EOVERFLOW, "EOVERFLOW"),
            (libc::ENOTUNIQ, "ENOTUNIQ"),
            (libc::EBADFD, "EBADFD"),
            (libc::EREMCHG, "EREMCHG"),
            (libc::ELIBACC, "ELIBACC"),
            (libc::ELIBBAD, "ELIBBAD"),
            (libc::ELIBSCN, "ELIBSCN"),
            (libc::ELIBMAX, "ELIBMAX"),
            (libc::ELIBEXEC, "ELIBEXEC"),
            (libc::EILSEQ, "EILSEQ"),
            (libc::ERESTART, "ERESTART"),
            (libc::ESTRPIPE, "ESTRPIPE"),
            (libc::EUSERS, "EUSERS"),
            (libc::ENOTSOCK, "ENOTSOCK"),
            (libc::EDESTADDRREQ, "EDESTADDRREQ"),
            (libc::EMSGSIZE, "EMSGSIZE"),
            (libc::EPROTOTYPE, "EPROTOTYPE"),
            (libc::ENOPROTOOPT, "ENOPROTOOPT"),
            (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
            (libc::ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT"),
            (libc::EOPNOTSUPP, "EOPNOTSUPP"),
            (libc::EPFNOSUPPORT, "EPFNOSUPPORT"),
            (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
            (libc::EADDRINUSE, "EADDRINUSE"),
            (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
            (libc::ENETDOWN, "ENETDOWN"),
            (libc::ENETUNREACH, "ENETUNREACH"),
            (libc::ENETRESET, "ENETRESET"),
            (libc::ECONNABORTED, "ECONNABORTED"),
            (libc::ECONNRESET, "ECONNRESET"),
            (libc::ENOBUFS, "ENOBUFS"),
            (libc::EISCONN, "EISCONN"),
            (libc::ENOTCONN, "ENOTCONN"),
            (libc::ESHUTDOWN, "ESHUTDOWN"),
            (libc::ETOOMANYREFS, "ETOOMANYREFS"),
            (libc::ETIMEDOUT, "ETIMEDOUT"),
            (libc::ECONNREFUSED, "ECONNREFUSED"),
            (libc::EHOSTDOWN, "EHOSTDOWN"),
            (libc::EHOSTUNREACH, "EHOSTUNREACH"),
            (libc::EALREADY, "EALREADY"),
            (libc::EINPROGRESS, "EINPROGRESS"),
            (libc::ESTALE, "ESTALE"),
            (libc::EUCLEAN, "EUCLEAN"),
            (libc::ENOTNAM, "ENOTNAM"),
            (libc::ENAVAIL, "ENAVAIL"),
            (libc::EISNAM, "EISNAM"),
            (libc::EREMOTEIO, "EREMOTEIO"),
            (libc::EDQUOT, "EDQUOT"),
            (libc::ENOMEDIUM, "ENOMEDIUM"),
            (libc::EMEDIUMTYPE, "EMEDIUMTYPE"),
            (libc::ECANCELED, "ECANCELED"),
            (libc::ENOKEY, "ENOKEY"),
            (libc::EKEYEXPIRED, "EKEYEXPIRED"),
            (libc::EKEYREVOKED, "EKEYREVOKED"),
            (libc::EKEYREJECTED, "EKEYREJECTED"),
            (libc::EOWNERDEAD, "EOWNERDEAD"),
            (libc::ENOTRECOVERABLE, "ENOTRECOVERABLE"),
            (libc::ERFKILL, "ERFKILL"),
            (libc::EHWPOISON, "EHWPOISON"),
        ];
        assert_eq!(consts.len(), 131);
        for &(e, n) in consts {
            assert_eq!(name(e), Some(n), "errno {e}");
        }
        // And nothing else in 1..=133 has a name.
        for e in 1..=133 {
            assert_eq!(
                name(e).is_some(),
                consts.iter().any(|&(c, _)| c == e),
                "errno {e}"
            );
        }
    }

    /// The messages are glibc's: compare with what std (which calls strerror_r) says here.
    #[cfg(target_env = "gnu")]
    #[test]
    fn messages_match_glibc() {
        for e in 1..=133 {
            let std_msg = std::io::Error::from_raw_os_error(e).to_string();
            let suffix = format!(" (os error {e})");
            let glibc = std_msg.strip_suffix(&suffix).unwrap_or(&std_msg);
            assert_eq!(message(e), glibc, "errno {e}");
        }
    }
}
