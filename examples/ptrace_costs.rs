//! Benchmark aid, not part of the product: what one call of each kind a ptrace tracer can
//! make costs on this machine, the tracee held in a syscall-entry stop (no scheduling, no
//! wake-ups: the call alone). docs/performance.md uses it to tell designs apart before
//! building them: reading the registers once at each exit (PTRACE_GETREGS, or GETREGSET up
//! to `cs`) instead of PTRACE_GET_SYSCALL_INFO at each entry only pays if a GETREGS costs
//! less than the info calls it replaces, and a memory read's cost says whether reading
//! fewer bytes or making fewer reads is what counts.
//!
//! Usage: `ptrace_costs [CALLS]` (default 200000 of each). Prints one line per kind:
//! `name  ns/call`. Needs ptrace of its own child (any user, unless Yama scope 3).

#[cfg(target_arch = "x86_64")]
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
#[cfg(target_arch = "x86_64")]
use std::time::Instant;

#[cfg(target_arch = "x86_64")]
fn time(name: &str, n: u32, mut f: impl FnMut()) {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    let ns = t.elapsed().as_nanos() as f64 / f64::from(n);
    println!("{name:<34} {ns:>7.0} ns/call");
}

#[cfg(not(target_arch = "x86_64"))]
fn main() -> ExitCode {
    eprintln!("ptrace_costs: x86_64 only (it reads x86_64 registers)");
    ExitCode::from(2)
}

#[cfg(target_arch = "x86_64")]
fn main() -> ExitCode {
    let n: u32 = match std::env::args().nth(1).map(|s| s.parse()) {
        None => 200_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: ptrace_costs [CALLS]");
            return ExitCode::from(2);
        }
    };
    // SAFETY: the example is single-threaded here; the child only makes raw syscalls.
    let child = unsafe { libc::fork() };
    if child == 0 {
        loop {
            // SAFETY: getppid has no preconditions.
            unsafe { libc::syscall(libc::SYS_getppid) };
        }
    }
    if child < 0 {
        eprintln!("ptrace_costs: fork failed");
        return ExitCode::from(1);
    }
    let kill = || {
        // SAFETY: our own child.
        unsafe {
            libc::kill(child, libc::SIGKILL);
            libc::waitpid(child, std::ptr::null_mut(), libc::__WALL);
        }
    };
    let p = |req: libc::c_uint, addr: usize, data: usize| {
        // SAFETY: every request below takes no pointer or a pointer to a live local.
        unsafe { libc::ptrace(req, child, addr, data) }
    };
    let mut status = 0;
    // Seize, stop it, and let it run into a syscall-entry stop.
    if p(libc::PTRACE_SEIZE, 0, libc::PTRACE_O_TRACESYSGOOD as usize) != 0 {
        eprintln!(
            "ptrace_costs: PTRACE_SEIZE: {}",
            std::io::Error::last_os_error()
        );
        kill();
        return ExitCode::from(1);
    }
    p(libc::PTRACE_INTERRUPT, 0, 0);
    // SAFETY: waitpid with a valid status pointer.
    unsafe { libc::waitpid(child, &mut status, libc::__WALL) };
    p(libc::PTRACE_SYSCALL, 0, 0);
    // SAFETY: as above.
    unsafe { libc::waitpid(child, &mut status, libc::__WALL) };

    // SAFETY: plain C structs, valid when zeroed.
    let mut info: libc::ptrace_syscall_info = unsafe { std::mem::zeroed() };
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    let info_size = std::mem::size_of::<libc::ptrace_syscall_info>();
    time("PTRACE_GET_SYSCALL_INFO", n, || {
        p(
            libc::PTRACE_GET_SYSCALL_INFO,
            info_size,
            &mut info as *mut _ as usize,
        );
    });
    time("PTRACE_GETREGS", n, || {
        p(libc::PTRACE_GETREGS, 0, &mut regs as *mut _ as usize);
    });
    // user_regs_struct up to and including cs: the syscall number, arguments, result, ip.
    let upto_cs = 18 * 8;
    time("PTRACE_GETREGSET (up to cs)", n, || {
        let mut iov = libc::iovec {
            iov_base: &mut regs as *mut _ as *mut libc::c_void,
            iov_len: upto_cs,
        };
        p(
            libc::PTRACE_GETREGSET,
            libc::NT_PRSTATUS as usize,
            &mut iov as *mut _ as usize,
        );
    });
    let orig_rax = 15 * 8;
    time("PTRACE_PEEKUSER (one register)", n, || {
        p(libc::PTRACE_PEEKUSER, orig_rax, 0);
    });
    time("waitpid(WNOHANG), nothing pending", n, || {
        // SAFETY: as above.
        unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
    });
    p(libc::PTRACE_GETREGS, 0, &mut regs as *mut _ as usize);
    let page = regs.rsp & !4095;
    let mut buf = vec![0u8; 4096];
    for len in [64usize, 512, 4096] {
        time(&format!("process_vm_readv {len} bytes"), n, || {
            let local = libc::iovec {
                iov_base: buf.as_mut_ptr() as *mut libc::c_void,
                iov_len: len,
            };
            let remote = libc::iovec {
                iov_base: page as *mut libc::c_void,
                iov_len: len,
            };
            // SAFETY: the local iovec is our own buffer of at least `len` bytes.
            unsafe { libc::process_vm_readv(child, &local, 1, &remote, 1, 0) };
        });
    }
    if let Ok(f) = std::fs::File::open(format!("/proc/{child}/mem")) {
        time("pread /proc/PID/mem 64 bytes", n, || {
            let _ = f.read_at(&mut buf[..64], page);
        });
    }
    time("getppid (a plain syscall)", n, || {
        // SAFETY: no preconditions.
        unsafe { libc::syscall(libc::SYS_getppid) };
    });
    kill();
    ExitCode::SUCCESS
}
