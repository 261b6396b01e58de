//! The crate's error type. Every message names the problem and says what to do next; every
//! error maps to a documented exit code (see README, "Exit codes").

use std::fmt;

/// Exit codes: 0 done, 1 reserved for "the traced request failed", 2 usage or attach error.
pub const EXIT_OK: i32 = 0;
pub const EXIT_REQUEST_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug)]
pub enum Error {
    /// Bad command-line input (an unknown --trace class, ...).
    Usage(String),
    /// No process with that PID.
    NoSuchProcess(i32),
    /// Attaching was refused; the message explains why.
    Attach { pid: i32, why: String },
    /// The command to launch could not be started.
    Launch { command: String, why: String },
    /// The output file could not be opened.
    Output { path: String, why: String },
    /// Any other system error.
    Sys(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        EXIT_USAGE
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "{m}"),
            Error::NoSuchProcess(pid) => write!(
                f,
                "no process with PID {pid}: check the PID (ps -e, pgrep NAME) and try again"
            ),
            Error::Attach { pid, why } => write!(f, "cannot attach to PID {pid}: {why}"),
            Error::Launch { command, why } => write!(f, "cannot run {command}: {why}"),
            Error::Output { path, why } => write!(f, "cannot write output to {path}: {why}"),
            Error::Sys(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}
