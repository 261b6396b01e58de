//! The records the kernel program (reqtrace.bpf.c) puts on its ring buffer, read back from
//! bytes, and the memory they stand for: a call's path strings and the first bytes of its
//! buffer, copied at the call's exit, answered to the shared decoder (tracer::decode) as if
//! it read the tracee. No aya here: the layout is plain bytes, checked by unit tests.

use crate::tracer::memory::Memory;

/// `struct rec` and `struct note` kinds.
pub const K_SYSCALL: u32 = 1;
pub const K_FORK: u32 = 2;
pub const K_EXIT: u32 = 3;
pub const K_EXEC: u32 = 4;
pub const K_COMPAT: u32 = 5;

/// As in reqtrace.bpf.c: `struct rec`'s fixed part, and its buffer's regions: path 1 at 0,
/// path 2 at PATH_LEN, the bytes at DATA_AT after paths or at 0 without. Only what was read
/// is sent: a record ends where its last region's bytes end.
pub const HDR_LEN: usize = 112;
pub const NOTE_LEN: usize = 24;
pub const PATH_LEN: usize = 512;
pub const DATA_AT: usize = 2 * PATH_LEN;
/// Bytes of a read or write buffer the program copies (READ_CAP: a request line and Host).
pub const DATA_LEN: usize = 1024;
const UNREADABLE: u16 = 0xffff;

/// One record, borrowing its bytes from the ring buffer: decoding copies what it keeps,
/// once (a copy here too was two allocations per path and buffer, a tenth of the source's
/// time).
#[derive(Debug, Clone, PartialEq)]
pub enum Record<'a> {
    Syscall(Call<'a>),
    /// `tid` of process `tgid` forked or cloned `child`.
    Fork {
        ts_ns: u64,
        tgid: i32,
        tid: i32,
        child: i32,
    },
    /// A thread exited; `group_dead`: the last of its process.
    Exit {
        ts_ns: u64,
        tgid: i32,
        tid: i32,
        group_dead: bool,
    },
    /// A thread called exec (`former`: its tid before, for a non-leader exec).
    Exec {
        ts_ns: u64,
        tgid: i32,
        tid: i32,
        former: i32,
    },
    /// A syscall through the 32-bit ABI: not decoded.
    Compat {
        ts_ns: u64,
        tgid: i32,
        tid: i32,
    },
}

/// A path string read at exit: the argument it came from, and its bytes (`None`:
/// unreadable).
pub type PathArg<'a> = (usize, Option<&'a [u8]>);

/// A finished syscall as the kernel program saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call<'a> {
    pub ts_ns: u64,
    pub tgid: i32,
    pub tid: i32,
    pub nr: u64,
    pub ret: i64,
    pub args: [u64; 6],
    /// The first iovec of readv/writev (zero otherwise).
    pub iov: [u64; 2],
    /// Path strings read at exit, at most two.
    pub paths: [Option<PathArg<'a>>; 2],
    /// The first bytes of the buffer the call read or wrote.
    pub data: Option<&'a [u8]>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap_or_default())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap_or_default())
}
fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(b[at..at + 2].try_into().unwrap_or_default())
}

/// A record from its bytes; `None` for a short or unknown one (never a panic).
pub fn parse(b: &[u8]) -> Option<Record<'_>> {
    if b.len() < NOTE_LEN {
        return None;
    }
    let kind = u32_at(b, 0);
    let tgid = u32_at(b, 4) as i32;
    let tid = u32_at(b, 8) as i32;
    let aux = u32_at(b, 12);
    let ts_ns = u64_at(b, 16);
    match kind {
        K_FORK => Some(Record::Fork {
            ts_ns,
            tgid,
            tid,
            child: aux as i32,
        }),
        K_EXIT => Some(Record::Exit {
            ts_ns,
            tgid,
            tid,
            group_dead: aux != 0,
        }),
        K_EXEC => Some(Record::Exec {
            ts_ns,
            tgid,
            tid,
            former: aux as i32,
        }),
        K_COMPAT => Some(Record::Compat { ts_ns, tgid, tid }),
        K_SYSCALL if b.len() >= HDR_LEN => {
            let mut args = [0u64; 6];
            for (i, a) in args.iter_mut().enumerate() {
                *a = u64_at(b, 40 + 8 * i);
            }
            let buf = &b[HDR_LEN..];
            let region = |at: usize, len: usize| buf.get(at..at + len);
            let mut paths = [None, None];
            for (slot, path) in paths.iter_mut().enumerate() {
                let idx = b[110 + slot] as usize;
                if idx >= 6 {
                    continue;
                }
                let len = u16_at(b, 104 + 2 * slot);
                let bytes = if len == UNREADABLE {
                    None
                } else {
                    region(slot * PATH_LEN, (len as usize).min(PATH_LEN))
                };
                *path = Some((idx, bytes));
            }
            let dlen = u16_at(b, 108) as usize;
            // A call without paths (read, write) has its bytes at the buffer's start.
            let at = if paths.iter().all(Option::is_none) {
                0
            } else {
                DATA_AT
            };
            let data = (dlen > 0 && dlen != UNREADABLE as usize)
                .then(|| region(at, dlen.min(DATA_LEN)))
                .flatten();
            Some(Record::Syscall(Call {
                ts_ns,
                tgid,
                tid,
                nr: u64_at(b, 24),
                ret: u64_at(b, 32) as i64,
                args,
                iov: [u64_at(b, 88), u64_at(b, 96)],
                paths,
                data,
            }))
        }
        _ => None,
    }
}

/// What a call's record holds, answered as memory at the addresses it came from: the path
/// strings at their arguments' addresses, the first iovec at readv/writev's second
/// argument, the copied bytes at the buffer. Anything else was not copied: unreadable.
pub struct Captured<'a, 'b> {
    pub call: &'a Call<'b>,
}

impl Captured<'_, '_> {
    /// Where the copied bytes start.
    fn data_addr(&self) -> u64 {
        if self.call.iov != [0, 0] {
            self.call.iov[0]
        } else {
            self.call.args[1]
        }
    }
}

impl Memory for Captured<'_, '_> {
    fn read_cstr(&mut self, _tid: i32, addr: u64) -> Option<(Vec<u8>, bool)> {
        self.call
            .paths
            .iter()
            .flatten()
            .find(|(i, _)| self.call.args[*i] == addr)
            .and_then(|(_, b)| b.map(<[u8]>::to_vec))
            // The program reads PATH_LEN bytes, NUL included: one that long was cut.
            .map(|b| {
                let cut = b.len() >= PATH_LEN - 1;
                (b, cut)
            })
    }

    fn read_bytes(&mut self, _tid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
        let data = self.call.data?;
        (addr == self.data_addr() && len <= data.len()).then(|| data[..len].to_vec())
    }

    fn read_upto(&mut self, _tid: i32, addr: u64, len: usize) -> Vec<u8> {
        match self.call.data {
            Some(d) if addr == self.data_addr() => d[..len.min(d.len())].to_vec(),
            _ => Vec::new(),
        }
    }

    fn read_words(&mut self, _tid: i32, addr: u64, count: usize) -> Option<Vec<u64>> {
        (self.call.iov != [0, 0] && addr == self.call.args[1] && count <= 2)
            .then(|| self.call.iov[..count].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(nr: u64, ret: i64, args: [u64; 6], path: &[u8], data: &[u8]) -> Vec<u8> {
        let at = if path.is_empty() { 0 } else { DATA_AT };
        let mut b = vec![0u8; HDR_LEN + at + data.len()];
        b[0..4].copy_from_slice(&K_SYSCALL.to_ne_bytes());
        b[4..8].copy_from_slice(&7u32.to_ne_bytes());
        b[8..12].copy_from_slice(&8u32.to_ne_bytes());
        b[24..32].copy_from_slice(&nr.to_ne_bytes());
        b[32..40].copy_from_slice(&ret.to_ne_bytes());
        for (i, a) in args.iter().enumerate() {
            b[40 + 8 * i..48 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        b[104..106].copy_from_slice(&(path.len() as u16).to_ne_bytes());
        let at = if path.is_empty() { 0 } else { DATA_AT };
        b[106..108].copy_from_slice(&UNREADABLE.to_ne_bytes());
        b[108..110].copy_from_slice(&(data.len() as u16).to_ne_bytes());
        b[110] = if path.is_empty() { 0xff } else { 1 };
        b[111] = 0xff;
        b[HDR_LEN..HDR_LEN + path.len()].copy_from_slice(path);
        b[HDR_LEN + at..].copy_from_slice(data);
        b
    }

    #[test]
    fn a_record_reads_back_as_memory() {
        let b = rec(257, -2, [0xffff_ff9c, 0x1000, 0, 0, 0, 0], b"/x.phpp", b"");
        let Some(Record::Syscall(c)) = parse(&b) else {
            panic!("not parsed")
        };
        assert_eq!((c.tgid, c.tid, c.nr, c.ret), (7, 8, 257, -2));
        assert_eq!(c.paths, [Some((1, Some(&b"/x.phpp"[..]))), None]);
        let mut m = Captured { call: &c };
        assert_eq!(m.read_cstr(8, 0x1000), Some((b"/x.phpp".to_vec(), false)));
        assert_eq!(m.read_cstr(8, 0x2000), None);
        let b = rec(0, 5, [4, 0x3000, 100, 0, 0, 0], b"", b"GET /");
        let Some(Record::Syscall(c)) = parse(&b) else {
            panic!("not parsed")
        };
        let mut m = Captured { call: &c };
        assert_eq!(m.read_bytes(8, 0x3000, 5), Some(b"GET /".to_vec()));
        assert_eq!(m.read_bytes(8, 0x3000, 6), None);
        assert_eq!(m.read_upto(8, 0x3000, 100), b"GET /".to_vec());
    }

    #[test]
    fn short_or_unknown_records_are_skipped() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[9u8; 200]), None);
        let mut b = rec(0, 0, [0; 6], b"", b"");
        b.truncate(50);
        assert_eq!(parse(&b), None);
    }
}
