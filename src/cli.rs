//! The command line (clap derive): subcommands, flags and their help, nothing else.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "reqtrace",
    version,
    about = "Why did this URL fail? Trace a live server's file syscalls and explain the failures.",
    after_help = "Exit codes: 0 done, 1 the traced request failed (coming), 2 usage or attach error.\n\
                  Attaching needs root or CAP_SYS_PTRACE."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Attach to running processes (every thread, following forks) and trace them.
    #[command(after_help = "Examples:\n  \
        reqtrace attach 1234                 trace PID 1234 and its children\n  \
        reqtrace attach --failed 1234        only the calls that failed\n  \
        reqtrace attach --json 1234 | jq 'select(.errno==\"ENOENT\") | .path'\n  \
        reqtrace attach --duration 10 $(pgrep -d' ' apache2)")]
    Attach {
        /// Process IDs to attach to (all their threads).
        #[arg(required = true, value_name = "PID")]
        pids: Vec<i32>,
        #[command(flatten)]
        common: Common,
    },
    /// Start COMMAND under trace and exit with its exit status.
    #[command(after_help = "Examples:\n  \
        reqtrace run -- ls /nonexistent\n  \
        reqtrace run --json --failed -- apache2 -X -f /etc/apache2/apache2.conf")]
    Run {
        /// The command to run, and its arguments (after --).
        #[arg(required = true, last = true, value_name = "COMMAND")]
        command: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Print JSON Lines (schema: docs/json-format.md) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write the trace to FILE (created 0600) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<String>,
    /// Only show calls that failed.
    #[arg(long)]
    pub failed: bool,
    /// What to trace: classes (file, stat, lstat, fstat, statfs, exec, desc, net, process) or
    /// syscall names, comma separated.
    #[arg(
        long = "trace",
        short = 'e',
        value_name = "LIST",
        default_value = "file"
    )]
    pub trace: String,
    /// Detach everything and exit 0 after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Colour: auto (only on a terminal, NO_COLOR respected), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Do not follow forks, vforks and new threads.
    #[arg(long)]
    pub no_follow: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
