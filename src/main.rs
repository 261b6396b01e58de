//! The `reqtrace` binary: parse the command line, run, map the result to an exit code.

use clap::Parser;

use std::io::Write;

use clap::CommandFactory;
use reqtrace::cli::{Cli, Command, Shell};
use reqtrace::error::ExitCode;

/// mimalloc instead of glibc's malloc: every event is allocated on a tracer thread and freed
/// on the writer thread, and glibc's free of another thread's chunk takes that arena's lock,
/// which the tracer then waits on (futex calls on the tracer's critical path).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `completions` and `man` print what clap generates from the definitions in cli.rs.
fn generate(command: &Command) -> Option<ExitCode> {
    let mut cmd = Cli::command();
    // Rendered into memory, then written: clap_complete panics when a write fails, and a
    // reader that closes early (| head) must not make reqtrace panic.
    let mut out: Vec<u8> = Vec::new();
    match command {
        Command::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(shell, &mut cmd, "reqtrace", &mut out);
        }
        Command::Man { page } => {
            let page = match page {
                None => cmd,
                Some(name) => {
                    cmd.build();
                    let Some(sub) = cmd.find_subcommand(name) else {
                        reqtrace::say!(
                            "reqtrace: no subcommand {name:?}: try attach, run or analyze"
                        );
                        return Some(ExitCode::Usage);
                    };
                    // clap names are 'static; this process prints one page and exits.
                    let full: &'static str = Box::leak(format!("reqtrace-{name}").into_boxed_str());
                    sub.clone().name(full)
                }
            };
            let _ = clap_mangen::Man::new(page).render(&mut out);
        }
        _ => return None,
    }
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
