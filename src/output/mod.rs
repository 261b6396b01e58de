//! Printers only: a syscall line, a request record, the start and summary lines, as human
//! text (human.rs, report.rs, explain.rs) or JSON Lines (json.rs, into the wire types of
//! src/wire.rs, which own every field name); the line
//! queue to the real output (lines.rs); the `--summary` tally (tally.rs). What to print and
//! when is the pipeline's business (src/pipeline/); nothing here correlates or diagnoses.

pub mod escape;
pub mod explain;
pub mod file;
pub mod human;
pub mod json;
pub mod lines;
pub mod report;
pub mod tally;

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};

use crate::diagnose::Report;
use crate::error::Error;
use crate::event::SyscallEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// Counts for the closing summary line.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub syscalls: u64,
    pub failed: u64,
    pub by_errno: BTreeMap<i32, u64>,
    pub processes: u64,
    pub threads: u64,
    pub dropped: u64,
    /// Syscalls through a non-native (32-bit) ABI, seen and not decoded.
    pub compat: u64,
    pub duration_s: f64,
    pub reason: String,
    /// Requests reported, and how many of those needed attention.
    pub requests: u64,
    pub requests_failed: u64,
    /// Lines of a recording that could not be parsed (`reqtrace analyze`).
    pub unparsed: Option<u64>,
}

/// How records are printed: the format and its options.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub format: Format,
    pub color: bool,
    /// `--show-secrets`: print query strings as sent (redacted by default).
    pub show_secrets: bool,
}

impl Printer {
    /// A syscall line (`request`: the request it belongs to).
    pub fn syscall(&self, ev: &SyscallEvent, request: Option<u64>) -> String {
        match self.format {
            Format::Human => human::format_syscall(ev, self.color),
            Format::Json => json::syscall_line(ev, request),
        }
    }

    /// A finished request's record.
    pub fn record(&self, r: &Report) -> String {
        match self.format {
            Format::Human => report::format_report(r, self.color, self.show_secrets),
            Format::Json => json::request_line(r, self.show_secrets),
        }
    }

    /// The JSON start line (human output has none); `backend`: a tracer other than ptrace.
    pub fn start(
        &self,
        mode: &str,
        targets: &[i32],
        command: &[String],
        backend: Option<&str>,
    ) -> Option<String> {
        (self.format == Format::Json).then(|| json::start_line(mode, targets, command, backend))
    }

    /// The closing lines: one for the output (the JSON summary line, or the `--summary`
    /// table), and the human summary sentence for stderr.
    pub fn summary(
        &self,
        sum: &Summary,
        tally: Option<&tally::Tally>,
    ) -> (Option<String>, Option<String>) {
        match self.format {
            Format::Json => (Some(json::summary_line(sum, tally)), None),
            Format::Human => {
                let mut unparsed = match sum.unparsed {
                    Some(n) if n > 0 => format!(", {n} lines not parsed"),
                    _ => String::new(),
                };
                if sum.compat > 0 {
                    unparsed += &format!(", 32-bit syscalls not traced: {}", sum.compat);
                }
                let sentence = format!(
                    "reqtrace: {} requests ({} needing attention), {} syscalls shown ({} failed), {} processes, {} threads{unparsed}; {}",
                    sum.requests,
                    sum.requests_failed,
                    sum.syscalls,
                    sum.failed,
                    sum.processes,
                    sum.threads,
                    sum.reason
                );
                (tally.map(tally::Tally::table), Some(sentence))
            }
        }
    }

    /// The warning on stderr, once per process, when a process makes a 32-bit syscall.
    pub fn compat_warning(pid: i32, comm: &str) -> String {
        format!(
            "reqtrace: warning: process {pid} ({}) makes 32-bit syscalls (int 0x80, or a 32-bit \
             program): reqtrace decodes only 64-bit ones, so its 32-bit calls are not traced, \
             only counted (in the summary: compat_syscalls)",
            escape::escaped(comm.as_bytes())
        )
    }

    /// The warning on stderr when anything was dropped.
    pub fn dropped_warning(sum: &Summary) -> Option<String> {
        (sum.dropped > 0).then(|| {
            format!(
                "reqtrace: {} events or lines dropped because the output could not keep up",
                sum.dropped
            )
        })
    }
}

/// Open the output: stdout, or FILE as a new private file that no other user can read or
/// steer (file.rs).
pub fn open_output(path: Option<&str>) -> Result<(Box<dyn Write + Send>, bool), Error> {
    match path {
        None | Some("-") => {
            let tty = io::stdout().is_terminal();
            Ok((Box::new(io::stdout()), tty))
        }
        Some(p) => {
            let f = file::create_private(p).map_err(|why| Error::Output {
                path: p.to_string(),
                why,
            })?;
            Ok((Box::new(f), false))
        }
    }
}
