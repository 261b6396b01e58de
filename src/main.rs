//! The `reqtrace` binary: parse the command line, run, map the result to an exit code.

use clap::Parser;

use std::io::Write;

use reqtrace::cli::{Cli, Command};
use reqtrace::error::ExitCode;

/// mimalloc instead of glibc's malloc: every event is allocated on a tracer thread and freed
/// on the writer thread, and glibc's free of another thread's chunk takes that arena's lock,
/// which the tracer then waits on (futex calls on the tracer's critical path).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `completions` and `man` print what clap generates from the definitions in cli.rs.
fn generate(command: &Command) -> Option<ExitCode> {
    let out = match command {
        Command::Completions { shell } => reqtrace::generate::completions(*shell),
        Command::Man { page } => match reqtrace::generate::man(page.as_deref()) {
            Ok(out) => out,
            Err(e) => {
                reqtrace::say!("reqtrace: {e}");
                return Some(ExitCode::Usage);
            }
        },
        _ => return None,
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&out).and_then(|()| stdout.flush());
    Some(ExitCode::Done)
}

fn main() {
    let cli = Cli::parse();
    let code = match generate(&cli.command) {
        Some(code) => code,
        None => match reqtrace::app::run(cli.command) {
            Ok(code) => code,
            Err(e) => {
                reqtrace::say!("reqtrace: {e}");
                e.exit_code()
            }
        },
    };
    std::process::exit(code.code());
}
