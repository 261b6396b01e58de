//! Builds the eBPF backend's kernel program (src/ebpf/reqtrace.bpf.c) with clang when clang
//! and the libbpf headers are here; otherwise reqtrace builds without it (cfg
//! `reqtrace_no_ebpf`) and `--backend ebpf` says how to get it. `cargo build` never needs
//! clang.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(reqtrace_no_ebpf)");
    let src = "src/ebpf/reqtrace.bpf.c";
    println!("cargo::rerun-if-changed={src}");
    println!("cargo::rerun-if-env-changed=REQTRACE_CLANG");
    // Built once without clang, a target dir must notice when clang and the libbpf headers
    // arrive (scripts/test.sh installs them after scripts/demo.sh may have built).
    println!("cargo::rerun-if-changed=/usr/bin/clang");
    println!("cargo::rerun-if-changed=/usr/include/bpf/bpf_helpers.h");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("reqtrace.bpf.o");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let clang = std::env::var("REQTRACE_CLANG").unwrap_or_else(|_| "clang".into());
    // x86_64 only: the program reads the raw syscall numbers of that table.
    let built = arch == "x86_64"
        && Command::new(&clang)
            .args(["-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86"])
            .arg("-I/usr/include/x86_64-linux-gnu")
            .arg("-c")
            .arg(src)
            .arg("-o")
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success());
    if !built {
        println!(
            "cargo::warning=eBPF backend not built ({clang} -target bpf failed or is missing; \
             x86_64 only): install clang and libbpf-dev and rebuild for --backend ebpf"
        );
        println!("cargo::rustc-cfg=reqtrace_no_ebpf");
    }
}
