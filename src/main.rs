//! The `reqtrace` binary: parse the command line, run, map the result to an exit code.

use clap::Parser;

fn main() {
    let cli = reqtrace::cli::Cli::parse();
    let code = match reqtrace::app::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("reqtrace: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
