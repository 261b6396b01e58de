//! reqtrace: why did this URL fail? A ptrace-based tracer that attaches to live processes (or
//! launches one), decodes their file-related syscalls with errno results, and prints them as
//! strace-like text or JSON Lines. See docs/architecture.md for how the pieces fit.

pub mod analyze;
pub mod app;
pub mod arch;
pub mod backends;
pub mod cli;
pub mod diagnose;
pub mod ebpf;
pub mod error;
pub mod event;
pub mod generate;
pub mod http;
pub mod output;
pub mod pipeline;
pub mod probe;
pub mod procinfo;
pub mod signals;
pub mod stderr;
pub mod syscalls;
pub mod tracer;
pub mod wire;
