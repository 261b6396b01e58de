//! Architecture-specific data: the `AUDIT_ARCH_*` value the kernel reports in
//! `ptrace_syscall_info.arch` for native syscalls, this architecture's syscall numbers for
//! the calls in [`crate::syscalls::table::SPECS`], and the few open(2) flag bits whose values
//! differ between architectures. Everything else in reqtrace is architecture-neutral.
//!
//! Only 64-bit x86_64 and aarch64 are supported; anything else fails to build here rather
//! than misdecoding syscalls at run time.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

#[cfg(not(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    target_pointer_width = "64"
)))]
compile_error!("reqtrace supports only 64-bit x86_64 and aarch64 Linux");
