//! The seccomp-bpf filter for launch mode (`reqtrace run`), as `strace --seccomp-bpf` does it:
//! installed in the child before exec, it lets every syscall nobody asked for run without a
//! stop, and turns the traced ones into a PTRACE_EVENT_SECCOMP stop at entry. Attached
//! processes cannot be given such a filter (it must be installed by the process itself), so
//! attach mode stays on PTRACE_SYSCALL.
//!
//! seccomp(2): with SECCOMP_RET_TRACE and no tracer, "the system call is not executed and
//! returns a failure status with errno set to ENOSYS": a filtered process must keep its
//! tracer, which is why `run` stops the command rather than detach from it early.

/// BPF jump offsets are 8 bits: more traced syscalls than this cannot be listed one by one.
const MAX_LISTED: usize = 250;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jeq(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

/// The filter program: for the native architecture, RET_TRACE for each listed syscall
/// number, RET_ALLOW for the rest. Every call of another architecture (`int 0x80`, a 32-bit
/// binary) is RET_TRACE too: the tracer does not decode them, but counts them and says so,
/// which it could not do for calls that never stop. None when there are too many numbers
/// for one program.
pub fn filter(audit_arch: u32, numbers: &[u64]) -> Option<Vec<libc::sock_filter>> {
    if numbers.len() > MAX_LISTED {
        return None;
    }
    let n = numbers.len();
    // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
    let mut prog = vec![
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 4),
        jeq(audit_arch, 1, 0),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_TRACE),
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
    ];
    for (i, &nr) in numbers.iter().enumerate() {
        // Jump over the remaining comparisons and the ALLOW to the TRACE at the end.
        prog.push(jeq(nr as u32, (n - i) as u8, 0));
    }
    prog.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
    prog.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_TRACE));
    Some(prog)
}

/// Install `prog` in the calling process. Only async-signal-safe calls: this runs between
/// fork and exec. Without CAP_SYS_ADMIN the kernel requires no_new_privs first (which stops
/// setuid binaries from gaining privileges); as root it is not set, so `run -- apache2`
/// keeps working as it would untraced.
///
/// # Safety
/// `prog` must outlive the call; no allocation happens here.
pub unsafe fn install(prog: &[libc::sock_filter], need_no_new_privs: bool) -> bool {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl with valid arguments; fprog points to a live program.
    unsafe {
        if need_no_new_privs && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return false;
        }
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const libc::sock_fprog,
        ) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the program over a seccomp_data the way the kernel would, for a syscall number.
    fn run(prog: &[libc::sock_filter], arch: u32, nr: u32) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let ins = prog[pc];
            let code = ins.code as u32;
            match code {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                    acc = if ins.k == 0 { nr } else { arch };
                    pc += 1;
                }
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                    pc += 1 + if acc == ins.k { ins.jt } else { ins.jf } as usize;
                }
                c if c == libc::BPF_RET | libc::BPF_K => return ins.k,
                _ => panic!("unexpected instruction {code:#x}"),
            }
        }
    }

    #[test]
    fn traced_numbers_trace_and_the_rest_run() {
        let prog = filter(0xc000003e, &[2, 257, 4, 262]).unwrap();
        for nr in [2, 257, 4, 262] {
            assert_eq!(run(&prog, 0xc000003e, nr), libc::SECCOMP_RET_TRACE, "{nr}");
        }
        for nr in [0, 1, 3, 258, 1000] {
            assert_eq!(run(&prog, 0xc000003e, nr), libc::SECCOMP_RET_ALLOW, "{nr}");
        }
        // Another architecture's calls (AUDIT_ARCH_I386: int 0x80) all stop, to be counted.
        for nr in [2, 20, 1000] {
            assert_eq!(run(&prog, 0x40000003, nr), libc::SECCOMP_RET_TRACE, "{nr}");
        }
    }

    #[test]
    fn too_many_numbers_is_refused() {
        let many: Vec<u64> = (0..300).collect();
        assert!(filter(0xc000003e, &many).is_none());
        let ok: Vec<u64> = (0..MAX_LISTED as u64).collect();
        let prog = filter(0xc000003e, &ok).unwrap();
        assert_eq!(run(&prog, 0xc000003e, 0), libc::SECCOMP_RET_TRACE);
        assert_eq!(
            run(&prog, 0xc000003e, MAX_LISTED as u32 - 1),
            libc::SECCOMP_RET_TRACE
        );
        assert_eq!(
            run(&prog, 0xc000003e, MAX_LISTED as u32),
            libc::SECCOMP_RET_ALLOW
        );
    }
}
