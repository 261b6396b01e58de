//! Test fixture: a 64-bit program that also makes 32-bit syscalls through `int 0x80` (the
//! i386 ABI, with i386 numbers), which needs no 32-bit libraries. The kernel reports such a
//! call with `AUDIT_ARCH_I386` and numbers it in the i386 table, so a tracer that only knows
//! the x86_64 table must notice it rather than misread it.
//!
//! Usage: `fx_int80 DIR N [--fork]` where DIR is an existing directory.
//!
//! Makes, in this order:
//!   N x getpid() through `int 0x80` (i386 number 20; the result is checked against getpid)
//!   stat("DIR/int80-missing")  -> ENOENT (a native call, newfstatat on current glibc)
//! With `--fork` a child does the same first and the parent waits for it, so two processes
//! make 32-bit calls. Exits 0, or 1 if a 32-bit getpid returned something else (2 for bad
//! usage, or on an architecture other than x86_64). Nothing is printed on stdout.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;

/// getpid in the i386 syscall table (arch/x86/entry/syscalls/syscall_32.tbl).
#[cfg(target_arch = "x86_64")]
const I386_GETPID: i32 = 20;

/// One i386 syscall without arguments, through the `int 0x80` gate.
#[cfg(target_arch = "x86_64")]
fn int80(nr: i32) -> i32 {
    let ret: i32;
    // SAFETY: int 0x80 with a syscall number and no arguments; the kernel's compat entry
    // returns in eax and may zero r8-r11 (declared clobbered), preserving everything else.
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inlateout("eax") nr => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack),
        );
    }
    ret
}

#[cfg(not(target_arch = "x86_64"))]
fn int80(_nr: i32) -> i32 {
    eprintln!("fx_int80: int 0x80 exists on x86_64 only");
    std::process::exit(2);
}

#[cfg(not(target_arch = "x86_64"))]
const I386_GETPID: i32 = 20;

/// N 32-bit getpids, then one native stat of a missing file. True when every getpid was
/// right.
fn calls(dir: &[u8], n: u32) -> bool {
    let pid = std::process::id() as i32;
    let mut ok = true;
    for _ in 0..n {
        let got = int80(I386_GETPID);
        if got != pid {
            eprintln!("fx_int80: 32-bit getpid returned {got}, expected {pid}");
            ok = false;
        }
    }
    let mut p = dir.to_vec();
    p.extend_from_slice(b"/int80-missing");
    let path = CString::new(p).expect("DIR contains a NUL byte");
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a stat buffer on the stack.
    if unsafe { libc::stat(path.as_ptr(), &mut st) } == 0 {
        eprintln!("fx_int80: DIR/int80-missing exists");
        ok = false;
    }
    ok
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (Some(dir), Some(n)) = (args.first(), args.get(1)) else {
        eprintln!("usage: fx_int80 DIR N [--fork]");
        std::process::exit(2);
    };
    let Some(n) = n.to_str().and_then(|s| s.parse::<u32>().ok()) else {
        eprintln!("fx_int80: N must be a number");
        std::process::exit(2);
    };
    let fork = args.get(2).is_some_and(|a| a == "--fork");
    let dir = dir.as_bytes();
    if fork {
        // SAFETY: fork in a single-threaded program; the child only makes syscalls and exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let ok = calls(dir, n);
            // SAFETY: leave the child without running the parent's exit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child with a valid status pointer.
        unsafe { libc::waitpid(child, &mut status, 0) };
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            std::process::exit(1);
        }
    }
    std::process::exit(if calls(dir, n) { 0 } else { 1 });
}
