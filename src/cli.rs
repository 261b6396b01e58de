//! The command line (clap derive): subcommands, flags and their help, nothing else.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "reqtrace",
    version,
    about = "Why did this URL fail? Trace a live server's file syscalls and explain the failures.",
    after_help = format!(
        "Examples:\n  \
        reqtrace attach --apache --probe http://127.0.0.1/home\n      \
            why does /home fail? (the .phpp postmortem: suspect, did-you-mean, config line)\n  \
        reqtrace attach --apache --url '/home*'   report requests to /home... as they come\n  \
        reqtrace run -- ls /nonexistent      trace a command's file syscalls\n  \
        reqtrace analyze --fs-root / apache.log   explain an strace log\n\n\
        {}\n\nAttaching needs root or CAP_SYS_PTRACE. More: reqtrace COMMAND --help, \
        reqtrace man.",
        crate::error::ExitCode::help()
    )
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Attach to running processes (every thread, following forks) and trace them.
    #[command(after_help = "Examples:\n  \
        reqtrace attach --apache --probe http://127.0.0.1/home\n      \
            why does /home fail? (the .phpp postmortem: suspect, did-you-mean, config line)\n  \
        reqtrace attach --apache --url '/home*'   report requests to /home... as they come\n  \
        reqtrace attach 1234                 trace PID 1234 and its children\n  \
        reqtrace attach --fastcgi \"$(pgrep -o php-fpm)\" \"$(pgrep -o nginx)\"\n      \
            nginx and a php-fpm pool its configuration does not name\n  \
        reqtrace attach --failed 1234        only the calls that failed\n  \
        reqtrace attach --json 1234 | jq 'select(.errno==\"ENOENT\") | .path'\n  \
        reqtrace attach --duration 10 $(pgrep -d' ' apache2)\n\n\
        Exit codes: 0 done, 1 a --probe failed, 2 usage or attach error, 3 tracing failed.")]
    Attach {
        /// Process IDs to attach to (all their threads).
        #[arg(value_name = "PID")]
        pids: Vec<i32>,
        /// Attach to every apache2 / httpd process (master, workers, threads).
        #[arg(long)]
        apache: bool,
        /// Attach to every process with this command name (repeatable), e.g. nginx.
        #[arg(long = "name", value_name = "COMM")]
        names: Vec<String>,
        /// After attaching, send GET URL (http://host:port/path), wait for its record, print
        /// the report, detach; exit 0 when every probe got a status below 400, no suspects, no
        /// error logged for it, and a response naming no file that failed; 1 otherwise.
        /// Repeatable.
        #[arg(long = "probe", value_name = "URL")]
        probes: Vec<String>,
        /// How long to wait for each probe's response and record.
        #[arg(long, value_name = "SECS", default_value_t = 10.0)]
        probe_timeout: f64,
        /// Also attach this FastCGI backend (repeatable): a php-fpm master or worker, traced
        /// with its master and all its workers. Backends the traced web servers' configuration
        /// names (fastcgi_pass, ProxyPass, SetHandler "proxy:...") are found and attached
        /// without it; this is for pools it does not name.
        #[arg(long = "fastcgi", value_name = "PID")]
        backends: Vec<i32>,
        /// How to trace: ptrace (stops each traced thread at its syscalls) or ebpf (kernel
        /// tracepoints, x86_64; never stops the server; needs root or CAP_BPF+CAP_PERFMON,
        /// a mounted tracefs, and a reqtrace built with clang).
        #[arg(long, value_enum, default_value_t = Backend::Ptrace)]
        backend: Backend,
        #[command(flatten)]
        common: Common,
    },
    /// Start COMMAND under trace and exit with its exit status.
    #[command(after_help = "Examples:\n  \
        reqtrace run -- ls /nonexistent\n  \
        reqtrace run --json --failed -- apache2 -X -f /etc/apache2/apache2.conf\n\n\
        With --json on standard output, the command's own standard output goes to standard \
        error. A closed or failed output stops the printing, not the command.\n\n\
        Exit codes: the command's status (128+signal if killed); 2 usage or start error, 3 \
        tracing failed.")]
    Run {
        /// The command to run, and its arguments (after --).
        #[arg(required = true, last = true, value_name = "COMMAND")]
        command: Vec<String>,
        /// Stop at every syscall instead of installing a seccomp-bpf filter in the command
        /// (the filter lets untraced syscalls run without a stop, as strace --seccomp-bpf). The
        /// filtered command cannot run without reqtrace: an early stop ends it (SIGTERM, SIGKILL
        /// 3 s later) and it dies with reqtrace; with this option it is detached instead. Off
        /// with --no-follow too (children would carry the filter untraced).
        #[arg(long)]
        no_seccomp: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Read a recorded trace (reqtrace --json) or strace logs and report their requests and
    /// suspects, as a live run would.
    #[command(after_help = "Examples:\n  \
        reqtrace attach --apache --json --syscalls -o trace.jsonl   (on the server)\n  \
        reqtrace analyze trace.jsonl                 the report, read anywhere\n  \
        reqtrace analyze --url '/home*' --json trace.jsonl | jq .suspects\n  \
        strace -f -tt -s 512 -o apache.log -p \"$(pgrep -d' ' apache2)\"\n  \
        reqtrace analyze --fs-root / apache.log       with did-you-mean from this machine\n  \
        strace -ff -tt -s 512 -o trace -p 1234; reqtrace analyze trace   (trace.PID files)\n\n\
        Lines that cannot be parsed are counted and reported with their line numbers on stderr.\n\
        Exit codes: 0 read, 2 usage error, unreadable file or nothing recognisable in it.")]
    Analyze {
        /// Files to read: a trace from reqtrace --json, or strace logs (one file, several
        /// -ff per-PID files, or the -ff prefix); `-` for standard input.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// Look paths up under DIR for did-you-mean, permission hints and configuration
        /// references (`/` on the traced machine). Without it, a trace recorded on this very
        /// machine (same boot) is looked up here; anything else is explained only by what the
        /// recording says.
        #[arg(long, value_name = "DIR")]
        fs_root: Option<String>,
        /// The web server's main configuration file, read under --fs-root, where references
        /// are searched (default: /etc/apache2/apache2.conf, /etc/httpd/conf/httpd.conf).
        #[arg(long, value_name = "FILE")]
        config: Option<String>,
        #[command(flatten)]
        shown: Shown,
    },
    /// Print a shell completion script (generated from these very definitions).
    #[command(after_help = "Examples:\n  \
        reqtrace completions bash > /etc/bash_completion.d/reqtrace\n  \
        reqtrace completions zsh > \"${fpath[1]}/_reqtrace\"\n  \
        reqtrace completions fish > ~/.config/fish/completions/reqtrace.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print a man page (roff), generated from these very definitions: reqtrace(1), or one
    /// subcommand's page (reqtrace-attach(1), reqtrace-run(1), reqtrace-analyze(1)).
    #[command(after_help = "Examples:\n  \
        reqtrace man > /usr/local/share/man/man1/reqtrace.1\n  \
        reqtrace man attach > /usr/local/share/man/man1/reqtrace-attach.1")]
    Man {
        /// A subcommand whose page to print.
        #[arg(value_name = "SUBCOMMAND")]
        page: Option<String>,
    },
}

/// How `attach` traces (`--backend`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Ptrace,
    Ebpf,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// What is shown and how: shared by the live commands and `analyze`.
#[derive(Args, Debug, Clone)]
pub struct Shown {
    /// Print JSON Lines (schema: docs/json-format.md) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write the output to FILE (created 0600) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<String>,
    /// Only show calls that failed.
    #[arg(long)]
    pub failed: bool,
    /// What to show, comma separated: classes file (strace's %file), stat (every stat-family
    /// call: stat, lstat and fstat flavours, strace's %%stat), lstat or fstat (that flavour
    /// only), statfs, exec, desc, net, process, all; or syscall names (openat).
    #[arg(
        long = "trace",
        short = 'e',
        value_name = "LIST",
        default_value = "file"
    )]
    pub trace: String,
    /// Colour: auto (only on a terminal, NO_COLOR respected), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Only report requests whose URL path matches: a prefix, or a glob with * and ?.
    #[arg(long, value_name = "PATTERN")]
    pub url: Option<String>,
    /// List noise (.htaccess probes, recovered lookups) with the suspects.
    #[arg(long)]
    pub all: bool,
    /// Print requests as sent; by default the values of query strings and path parameters,
    /// user:password in targets and in Host, and the query words a CGI script gets as its
    /// arguments are shown as REDACTED (header values other than Host are never read into the
    /// output at all).
    #[arg(long)]
    pub show_secrets: bool,
    /// Print syscall lines too when reporting requests (--apache, --name, --url, --probe,
    /// analyze).
    #[arg(long)]
    pub syscalls: bool,
    /// At exit, a table of failures by path, errno and syscall, and of requests by status
    /// (in the summary line with --json).
    #[arg(long)]
    pub summary: bool,
}

/// Options of the live commands (attach, run).
#[derive(Args, Debug, Clone)]
pub struct Common {
    #[command(flatten)]
    pub shown: Shown,
    /// Stop after SECS seconds and exit 0: attach detaches everything; run ends its command
    /// under its seccomp filter (SIGTERM, SIGKILL 3 s later) and detaches it without one.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Do not follow forks, vforks and new threads.
    #[arg(long)]
    pub no_follow: bool,
    /// Stop after N reported requests (1 or more) and exit 0, as --duration stops.
    #[arg(long, value_name = "N", value_parser = requests_count)]
    pub count: Option<u64>,
    /// Tracer threads to spread the attached processes over, 1 to 64 (default: 1 per 8
    /// cores, at most 2). Each thread owns the processes it attached and the children they
    /// fork.
    #[arg(long, value_name = "N", value_parser = tracer_threads)]
    pub threads: Option<usize>,
}

/// `--count N`: a number of requests to wait for; 0 would wait for none and never stop.
fn requests_count(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("give 1 or more: the number of requests to report before detaching".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}: give a number of requests, 1 or more")),
    }
}

/// `--threads N`: at least one tracer thread, and no more than reqtrace starts (64).
fn tracer_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=64) => Ok(n),
        Ok(_) => Err("give a number of tracer threads from 1 to 64".into()),
        Err(e) => Err(format!("{e}: give a number of tracer threads from 1 to 64")),
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;
    use clap::CommandFactory;

    /// `reqtrace --help` lists every exit code of the enum with its meaning.
    #[test]
    fn help_lists_every_exit_code() {
        let help = Cli::command().render_long_help().to_string();
        for c in ExitCode::OWN {
            assert!(
                help.contains(&format!("  {}  {}", c.code(), c.meaning())),
                "{c:?} missing from --help:\n{help}"
            );
        }
        assert!(help.contains(&format!("  N  {}", ExitCode::Command(0).meaning())));
    }

    /// A subcommand's help that names exit codes names only codes the enum has.
    #[test]
    fn subcommand_help_names_only_real_codes() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut seen = Vec::new();
        for sub in cmd.get_subcommands() {
            let Some(after) = sub.get_after_help() else {
                continue;
            };
            let after = after.to_string();
            let Some((_, codes)) = after.split_once("Exit codes:") else {
                continue;
            };
            seen.push(sub.get_name().to_string());
            for word in codes.split([' ', ',', '.', '\n']) {
                if let Ok(n) = word.parse::<i32>() {
                    assert!(
                        ExitCode::OWN.iter().any(|c| c.code() == n),
                        "{}: exit code {n} is not an ExitCode",
                        sub.get_name()
                    );
                }
            }
        }
        assert_eq!(
            seen,
            ["attach", "run", "analyze"],
            "these name their exit codes"
        );
    }
}
