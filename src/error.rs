//! The crate's error type and the exit codes. Every message names the problem and says what to
//! do next; every error maps to one documented exit code (README "Exit codes", `--help`), and
//! `main` turns the result of `app::run` into one.

use std::fmt;

/// How reqtrace exits: one variant per documented code. `main` exits with [`ExitCode::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 0: done: the traced processes exited, or reqtrace detached; `analyze` read its input.
    Done,
    /// 1: `attach --probe`: a probed request failed.
    ProbeFailed,
    /// 2: usage, input or attach error: nothing was traced (or nothing could be read).
    Usage,
    /// 3: tracing failed after attaching succeeded (waitpid failed, a tracer thread died).
    TracingFailed,
    /// `run`: the launched command's own exit status (0-255, 128+signal if it was killed),
    /// passed through unchanged.
    Command(i32),
}

impl ExitCode {
    /// The codes reqtrace chooses itself, in order (not the command's own status).
    pub const OWN: [ExitCode; 4] = [
        ExitCode::Done,
        ExitCode::ProbeFailed,
        ExitCode::Usage,
        ExitCode::TracingFailed,
    ];

    /// The number the process exits with.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Done => 0,
            ExitCode::ProbeFailed => 1,
            ExitCode::Usage => 2,
            ExitCode::TracingFailed => 3,
            ExitCode::Command(n) => n,
        }
    }

    /// What the code says, in one line (`--help`; the README's table says the same).
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Done => "done: the tracees exited or reqtrace detached; analyze: input read",
            ExitCode::ProbeFailed => {
                "--probe: a probed request failed (status >= 400, suspects, no response or record)"
            }
            ExitCode::Usage => {
                "usage, input or attach error (bad option, unreadable file, no such PID, attach \
                 refused)"
            }
            ExitCode::TracingFailed => {
                "tracing failed after attaching (waitpid error, a tracer thread died); tracees \
                 detached"
            }
            ExitCode::Command(_) => "run: the command's own exit status (128+signal if killed)",
        }
    }

    /// The "Exit codes" lines of `reqtrace --help`, generated from the variants so the two
    /// cannot drift.
    pub fn help() -> String {
        let mut s = String::from("Exit codes:\n");
        for c in Self::OWN {
            s += &format!("  {}  {}\n", c.code(), c.meaning());
        }
        s += &format!("  N  {}", ExitCode::Command(0).meaning());
        s
    }
}

#[derive(Debug)]
pub enum Error {
    /// Bad command-line input (an unknown --trace class, ...).
    Usage(String),
    /// An input named on the command line cannot be read (`analyze FILE`: missing,
    /// unreadable); the message names it and why.
    Input(String),
    /// No process with that PID.
    NoSuchProcess(i32),
    /// Attaching was refused; the message explains why.
    Attach { pid: i32, why: String },
    /// The command to launch could not be started.
    Launch { command: String, why: String },
    /// The output file could not be opened.
    Output { path: String, why: String },
    /// A system error before tracing started (a tracer thread could not be started).
    Sys(String),
    /// Tracing failed after attaching succeeded: waiting for the tracees failed (other than
    /// EINTR/ECHILD) or a tracer thread panicked. What was traced has been detached (a
    /// panicked thread's tracees by the kernel, when reqtrace exits).
    Tracing(String),
}

impl Error {
    /// The documented exit code for this error. No catch-all arm: a new variant must choose.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_)
            | Error::Input(_)
            | Error::NoSuchProcess(_)
            | Error::Attach { .. }
            | Error::Launch { .. }
            | Error::Output { .. }
            | Error::Sys(_) => ExitCode::Usage,
            Error::Tracing(_) => ExitCode::TracingFailed,
        }
    }
}

impl From<&Error> for ExitCode {
    fn from(e: &Error) -> ExitCode {
        e.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Input(m) => write!(f, "{m}"),
            Error::NoSuchProcess(pid) => write!(
                f,
                "no process with PID {pid}: check the PID (ps -e, pgrep NAME) and try again"
            ),
            Error::Attach { pid, why } => write!(f, "cannot attach to PID {pid}: {why}"),
            Error::Launch { command, why } => write!(f, "cannot run {command}: {why}"),
            Error::Output { path, why } => write!(f, "cannot write output to {path}: {why}"),
            Error::Sys(m) | Error::Tracing(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(m: &str) -> String {
        m.to_string()
    }

    /// Every variant of Error, once each: extend it with the enum (the match in `exit_code`
    /// has no catch-all, so a new variant does not compile until it picks a code).
    fn every_error() -> Vec<(Error, ExitCode)> {
        vec![
            (Error::Usage(s("--trace: unknown")), ExitCode::Usage),
            (Error::Input(s("cannot read x: denied")), ExitCode::Usage),
            (Error::NoSuchProcess(4_000_000), ExitCode::Usage),
            (
                Error::Attach {
                    pid: 1,
                    why: s("not privileged"),
                },
                ExitCode::Usage,
            ),
            (
                Error::Launch {
                    command: s("nope"),
                    why: s("command not found"),
                },
                ExitCode::Usage,
            ),
            (
                Error::Output {
                    path: s("/x/out"),
                    why: s("No such file or directory"),
                },
                ExitCode::Usage,
            ),
            (
                Error::Sys(s("cannot start a tracer thread: EAGAIN")),
                ExitCode::Usage,
            ),
            (
                Error::Tracing(s("waiting for tracees failed: a tracer thread panicked")),
                ExitCode::TracingFailed,
            ),
        ]
    }

    #[test]
    fn every_error_maps_to_its_documented_code() {
        for (e, want) in every_error() {
            assert_eq!(e.exit_code(), want, "{e:?}");
            assert_eq!(ExitCode::from(&e), want, "{e:?}");
            // Only `run`'s command chooses a code of its own; an error never does.
            assert!(ExitCode::OWN.contains(&e.exit_code()), "{e:?}");
        }
        assert_eq!(ExitCode::Usage.code(), 2);
        assert_eq!(ExitCode::TracingFailed.code(), 3);
    }

    #[test]
    fn the_codes_are_distinct_and_numbered_in_order() {
        let codes: Vec<i32> = ExitCode::OWN.iter().map(|c| c.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3]);
        assert_eq!(ExitCode::Command(0).code(), 0);
        assert_eq!(ExitCode::Command(128 + 15).code(), 143);
    }

    #[test]
    fn input_errors_keep_their_message() {
        let e = Error::Input(s(
            "cannot read trace.jsonl: Permission denied (os error 13)",
        ));
        assert_eq!(
            e.to_string(),
            "cannot read trace.jsonl: Permission denied (os error 13)"
        );
    }

    /// `reqtrace --help` names every code with its meaning (it is generated from the enum).
    #[test]
    fn help_names_every_code() {
        let help = ExitCode::help();
        for c in ExitCode::OWN {
            let line = format!("  {}  {}", c.code(), c.meaning());
            assert!(help.contains(&line), "{c:?} missing from:\n{help}");
        }
        assert!(help.contains(&format!("  N  {}", ExitCode::Command(0).meaning())));
    }

    /// The README's "Exit codes" table has a row for every code.
    #[test]
    fn readme_documents_every_code() {
        let readme = include_str!("../README.md");
        let table = readme
            .split("## Exit codes")
            .nth(1)
            .expect("README has an Exit codes section");
        let table = table.split("\n## ").next().unwrap();
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
        for c in ExitCode::OWN {
            let row = format!("| {} |", c.code());
            assert!(
                rows.iter().any(|r| r.starts_with(&row)),
                "README's Exit codes table has no row for {c:?}"
            );
        }
        assert!(rows.iter().any(|r| r.starts_with("| N |")));
        // And no row for a code the enum does not have.
        for r in rows.iter().skip(1) {
            let code = r.split('|').nth(1).unwrap().trim();
            if code == "---" || code == "N" {
                continue;
            }
            let n: i32 = code.parse().unwrap_or_else(|_| panic!("row {r:?}"));
            assert!(
                ExitCode::OWN.iter().any(|c| c.code() == n),
                "README documents exit code {n}, which ExitCode does not have"
            );
        }
    }
}
