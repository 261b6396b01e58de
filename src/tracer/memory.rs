//! Reading the tracee's memory: one process_vm_readv per string or buffer, falling back to
//! /proc/TID/mem when process_vm_readv is refused (some hardened kernels or seccomp policies).
//! A pointer that cannot be read is reported as such, never a crash.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// Longest string read from a tracee: PATH_MAX, the longest path the kernel accepts.
pub const MAX_STR: usize = 4096;
const PAGE: u64 = 4096;

/// A reusable reader: owns the scratch buffer so reading a string allocates only the result.
pub struct MemReader {
    buf: Vec<u8>,
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
        }
    }

    /// Read up to `len` bytes at `addr`; returns how many bytes were readable (0 if none).
    /// The remote range is split at page boundaries so a partial read stops at the first
    /// unmapped page instead of failing whole: process_vm_readv(2) "won't perform a partial
    /// transfer that splits a single iovec element".
    fn read_into(&mut self, tid: i32, addr: u64, len: usize) -> usize {
        let len = len.min(self.buf.len());
        if len == 0 || addr == 0 {
            return 0;
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
        // ENOSYS / EPERM: the slower /proc/TID/mem route.
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

    /// Two pages of our own memory, the second made unreadable: strings can be placed to
    /// cross the page boundary or to run into the unreadable page.
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
                // SAFETY: the second page of the mapping made above.
                let r =
                    unsafe { libc::mprotect(p.add(PAGE as usize), PAGE as usize, libc::PROT_NONE) };
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

    #[test]
    fn an_unreadable_pointer_reads_nothing() {
        let pages = Pages::new(false);
        let mut m = MemReader::new();
        assert_eq!(m.read_cstr(me(), pages.0 as u64 + PAGE + 8), None);
        assert_eq!(m.read_cstr(me(), 1), None);
    }
}
