//! Reading the tracee's memory: one read per string or buffer, from the thread's
//! /proc/TID/mem kept open once it has been read twice, with process_vm_readv for a thread's
//! first read and whenever the file cannot be used. A pointer that cannot be read is
//! reported as such, never a crash.

use std::collections::hash_map::Entry;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::event::fds::IntMap;

/// Longest string read from a tracee: PATH_MAX, the longest path the kernel accepts.
pub const MAX_STR: usize = 4096;
const PAGE: u64 = 4096;
/// Threads whose /proc/TID/mem is kept open, at most, over every tracer thread: 512, and
/// never more than a quarter of our file descriptor limit (the rest is for the output, the
/// probes and the /proc look-ups, which must not fail with EMFILE).
const MAX_FILES: usize = 512;
/// The files open now, in the whole process (each tracer thread has its own reader).
static OPEN_FILES: AtomicUsize = AtomicUsize::new(0);

/// An open /proc/TID/mem, counted in OPEN_FILES while it is open.
struct MemFd(File);

impl MemFd {
    /// Open the thread's file if the process-wide bound allows one more.
    fn open(tid: i32, max: usize) -> Option<MemFd> {
        if OPEN_FILES.fetch_add(1, Ordering::Relaxed) >= max {
            OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        match File::open(format!("/proc/{tid}/mem")) {
            Ok(f) => Some(MemFd(f)),
            Err(_) => {
                OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }
}

impl Drop for MemFd {
    fn drop(&mut self) {
        OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
    }
}

fn max_files() -> usize {
    // SAFETY: getrlimit fills the struct it is given.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    usize::try_from(lim.rlim_cur / 4).map_or(MAX_FILES, |n| n.min(MAX_FILES))
}

/// A reusable reader: owns the scratch buffer so reading a string allocates only the result.
pub struct MemReader {
    buf: Vec<u8>,
    /// Per thread, where its reads go. Why a file at all: process_vm_readv checks ptrace
    /// access to the process at every call, a pread of an open /proc/TID/mem only at the
    /// open (examples/ptrace_costs.rs: 1.4 against 0.9 µs a read on the benchmark's machine,
    /// about 11 reads a request). Opened at a thread's second read (a thread gone is
    /// forgotten, so this map holds the traced threads at most), so a process that
    /// lives for one read (an exec'd helper) costs no open. One difference: the file reads
    /// a page mapped without read permission (PROT_NONE), as ptrace's PEEKDATA and
    /// debuggers do; process_vm_readv stops there. Unmapped memory stops both.
    files: IntMap<MemFile>,
    max_files: usize,
}

enum MemFile {
    /// Read once, with process_vm_readv.
    Seen,
    Open(MemFd),
    /// Could not be opened (or the bound is reached): process_vm_readv only.
    Refused,
}

impl Default for MemReader {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a call's strings and buffers are read from: a stopped tracee's memory (ptrace), or
/// what the eBPF program copied at the call's exit (src/ebpf). Decoding (decode.rs) is the
/// same for both.
pub trait Memory {
    /// A NUL-terminated string at `addr`, and whether it was cut (no NUL within the limit).
    fn read_cstr(&mut self, tid: i32, addr: u64) -> Option<(Vec<u8>, bool)>;
    /// Exactly `len` bytes at `addr`.
    fn read_bytes(&mut self, tid: i32, addr: u64, len: usize) -> Option<Vec<u8>>;
    /// Up to `len` bytes at `addr` (fewer where memory ends).
    fn read_upto(&mut self, tid: i32, addr: u64, len: usize) -> Vec<u8>;
    /// `count` native words at `addr`.
    fn read_words(&mut self, tid: i32, addr: u64, count: usize) -> Option<Vec<u64>>;
}

impl Memory for MemReader {
    fn read_cstr(&mut self, tid: i32, addr: u64) -> Option<(Vec<u8>, bool)> {
        MemReader::read_cstr(self, tid, addr)
    }
    fn read_bytes(&mut self, tid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
        MemReader::read_bytes(self, tid, addr, len)
    }
    fn read_upto(&mut self, tid: i32, addr: u64, len: usize) -> Vec<u8> {
        MemReader::read_upto(self, tid, addr, len)
    }
    fn read_words(&mut self, tid: i32, addr: u64, count: usize) -> Option<Vec<u64>> {
        MemReader::read_words(self, tid, addr, count)
    }
}

impl MemReader {
    pub fn new() -> Self {
        MemReader {
            buf: vec![0; MAX_STR],
            files: IntMap::default(),
            max_files: max_files(),
        }
    }

    /// The thread is gone or exec'd (a new address space): close its file.
    pub fn forget(&mut self, tid: i32) {
        self.files.remove(&tid);
    }

    /// Read through the thread's /proc/TID/mem, when it is open (or opened now, at the
    /// thread's second read). `None`: read some other way. A read that returns nothing
    /// (an unmapped address, or a file left from before an exec or from a reused tid, whose
    /// address space is gone) closes the file; process_vm_readv then tells which it was.
    fn read_file(&mut self, tid: i32, addr: u64, len: usize) -> Option<usize> {
        let slot = match self.files.entry(tid) {
            Entry::Vacant(v) => {
                v.insert(MemFile::Seen);
                return None;
            }
            Entry::Occupied(o) => o.into_mut(),
        };
        if matches!(slot, MemFile::Seen) {
            *slot = MemFd::open(tid, self.max_files).map_or(MemFile::Refused, MemFile::Open);
        }
        let MemFile::Open(MemFd(f)) = slot else {
            return None;
        };
        match f.read_at(&mut self.buf[..len], addr) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                *slot = MemFile::Seen;
                None
            }
        }
    }

    /// Read up to `len` bytes at `addr`; returns how many bytes were readable (0 if none).
    /// From the thread's open /proc/TID/mem when there is one (a pread stops at the first
    /// unmapped page too); otherwise with process_vm_readv, whose remote range is split at
    /// page boundaries so a partial read stops at the first unmapped page instead of failing
    /// whole: process_vm_readv(2) "won't perform a partial transfer that splits a single
    /// iovec element".
    fn read_into(&mut self, tid: i32, addr: u64, len: usize) -> usize {
        let len = len.min(self.buf.len());
        if len == 0 || addr == 0 {
            return 0;
        }
        if let Some(n) = self.read_file(tid, addr, len) {
            return n;
        }
        let mut remote = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 3];
        let mut n = 0;
        let mut cur = addr;
        let end = addr.saturating_add(len as u64);
        while cur < end && n < remote.len() {
            let page_end = (cur / PAGE + 1) * PAGE;
            let stop = page_end.min(end);
            remote[n] = libc::iovec {
                iov_base: cur as *mut libc::c_void,
                iov_len: (stop - cur) as usize,
            };
            n += 1;
            cur = stop;
        }
        let local = libc::iovec {
            iov_base: self.buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: local iovec points into our own buffer of at least `len` bytes; the
        // remote addresses are only read by the kernel on the tracee's behalf.
        let got = unsafe { libc::process_vm_readv(tid, &local, 1, remote.as_ptr(), n as u64, 0) };
        if got >= 0 {
            return got as usize;
        }
        let err = std::io::Error::last_os_error().raw_os_error();
        if err == Some(libc::EFAULT) || err == Some(libc::ESRCH) {
            return 0;
        }
        // ENOSYS / EPERM (process_vm_readv refused by a hardened kernel or a seccomp
        // policy): /proc/TID/mem for this read.
        match File::open(format!("/proc/{tid}/mem")) {
            Ok(f) => f.read_at(&mut self.buf[..len], addr).unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// Read a NUL-terminated string. `None` when the pointer cannot be read at all; the bool
    /// is true when no NUL was found within MAX_STR bytes (the string is cut there).
    ///
    /// The first read stops at the end of the string's page: a path is nearly always shorter
    /// than what is left of its page, and each page of the remote range costs the kernel a
    /// page-table walk and a pin (strace reads page by page too). The rest is read only when
    /// that page held no NUL.
    pub fn read_cstr(&mut self, tid: i32, addr: u64) -> Option<(Vec<u8>, bool)> {
        let first = (((addr / PAGE + 1) * PAGE).saturating_sub(addr) as usize).min(MAX_STR);
        let mut got = self.read_into(tid, addr, first);
        if got == first && first < MAX_STR && !self.buf[..got].contains(&0) {
            got = self.read_into(tid, addr, MAX_STR);
        }
        if got == 0 {
            return None;
        }
        let data = &self.buf[..got];
        match data.iter().position(|&b| b == 0) {
            Some(nul) => Some((data[..nul].to_vec(), false)),
            None => Some((data.to_vec(), true)),
        }
    }

    /// Read exactly `len` bytes (bounded by MAX_STR): `None` when not all were readable.
    pub fn read_bytes(&mut self, tid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
        let want = len.min(MAX_STR);
        let got = self.read_into(tid, addr, want);
        (got == want).then(|| self.buf[..got].to_vec())
    }

    /// Read up to `len` bytes, past MAX_STR too, in MAX_STR pieces: what was readable from
    /// `addr` on (a request head, bounded by its caller).
    pub fn read_upto(&mut self, tid: i32, addr: u64, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let want = (len - out.len()).min(MAX_STR);
            let got = self.read_into(tid, addr.saturating_add(out.len() as u64), want);
            out.extend_from_slice(&self.buf[..got]);
            if got < want {
                break;
            }
        }
        out
    }

    /// Read `count` native-endian u64 words (pointer arrays, struct fields).
    pub fn read_words(&mut self, tid: i32, addr: u64, count: usize) -> Option<Vec<u64>> {
        let bytes = self.read_bytes(tid, addr, count * 8)?;
        Some(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pages of our own memory, the second unmapped: strings can be placed to cross the
    /// page boundary or to run into the unreadable page.
    struct Pages(*mut u8);

    impl Pages {
        fn new(second_readable: bool) -> Pages {
            // SAFETY: an anonymous private mapping of two pages, unmapped in Drop.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    2 * PAGE as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            if !second_readable {
                // SAFETY: the second page of the mapping made above. Unmapped rather than
                // PROT_NONE: /proc/TID/mem reads a PROT_NONE page (FOLL_FORCE).
                let r = unsafe { libc::munmap(p.add(PAGE as usize), PAGE as usize) };
                assert_eq!(r, 0);
            }
            Pages(p as *mut u8)
        }

        /// Write `s` at `offset` into the first page; returns its address.
        fn put(&self, s: &[u8], offset: usize) -> u64 {
            assert!(offset + s.len() <= 2 * PAGE as usize);
            // SAFETY: within the mapping (asserted); the tests write only readable pages.
            unsafe {
                let dst = self.0.add(offset);
                std::ptr::copy_nonoverlapping(s.as_ptr(), dst, s.len());
                dst as u64
            }
        }
    }

    impl Drop for Pages {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `new`.
            unsafe { libc::munmap(self.0 as *mut libc::c_void, 2 * PAGE as usize) };
        }
    }

    fn me() -> i32 {
        // SAFETY: gettid has no preconditions.
        unsafe { libc::gettid() }
    }

    #[test]
    fn a_string_within_its_page_is_read_whole() {
        let pages = Pages::new(true);
        let addr = pages.put(b"/srv/www/index.php\0", 100);
        let mut m = MemReader::new();
        assert_eq!(
            m.read_cstr(me(), addr),
            Some((b"/srv/www/index.php".to_vec(), false))
        );
    }

    #[test]
    fn a_string_crossing_into_the_next_page_is_read_whole() {
        let pages = Pages::new(true);
        let s = b"/srv/www/a-path-that-crosses-the-page-boundary\0";
        let addr = pages.put(s, PAGE as usize - 10);
        let mut m = MemReader::new();
        assert_eq!(
            m.read_cstr(me(), addr),
            Some((s[..s.len() - 1].to_vec(), false))
        );
    }

    #[test]
    fn a_string_running_into_an_unreadable_page_is_cut_there() {
        let pages = Pages::new(false);
        let addr = pages.put(b"/srv/www/no-nul", PAGE as usize - 15);
        let mut m = MemReader::new();
        assert_eq!(
            m.read_cstr(me(), addr),
            Some((b"/srv/www/no-nul".to_vec(), true))
        );
        // The NUL is the last byte of the readable page.
        let addr = pages.put(b"/srv/x\0", PAGE as usize - 7);
        assert_eq!(m.read_cstr(me(), addr), Some((b"/srv/x".to_vec(), false)));
    }

    /// A thread's first read goes through process_vm_readv, the next ones through its
    /// /proc/TID/mem, which `forget` closes: the same bytes each way.
    #[test]
    fn reads_after_the_first_go_through_the_threads_mem_file() {
        let pages = Pages::new(false);
        let addr = pages.put(b"/srv/www/no-nul", PAGE as usize - 15);
        let whole = pages.put(b"/srv/www/index.php\0", 64);
        let mut m = MemReader::new();
        let cut = Some((b"/srv/www/no-nul".to_vec(), true));
        assert_eq!(m.read_bytes(me(), whole, 4), Some(b"/srv".to_vec()));
        assert!(matches!(m.files.get(&me()), Some(MemFile::Seen)));
        for _ in 0..2 {
            assert_eq!(m.read_cstr(me(), addr), cut);
            assert_eq!(
                m.read_cstr(me(), whole),
                Some((b"/srv/www/index.php".to_vec(), false))
            );
            assert!(matches!(m.files.get(&me()), Some(MemFile::Open(_))));
        }
        // Unmapped: nothing read, the file closed, and the next read opens it again.
        assert_eq!(m.read_cstr(me(), pages.0 as u64 + PAGE + 8), None);
        assert!(matches!(m.files.get(&me()), Some(MemFile::Seen)));
        assert_eq!(m.read_bytes(me(), whole, 4), Some(b"/srv".to_vec()));
        assert!(matches!(m.files.get(&me()), Some(MemFile::Open(_))));
        m.forget(me());
        assert!(!m.files.contains_key(&me()));
    }

    #[test]
    fn an_unreadable_pointer_reads_nothing() {
        let pages = Pages::new(false);
        let mut m = MemReader::new();
        assert_eq!(m.read_cstr(me(), pages.0 as u64 + PAGE + 8), None);
        assert_eq!(m.read_cstr(me(), 1), None);
    }
}
