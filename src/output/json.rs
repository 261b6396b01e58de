//! The JSON Lines printer, schema version 1 (docs/json-format.md): events and records into the
//! wire types of src/wire.rs, which own every field name (the replayer of recordings reads the
//! same types). Paths that are not valid UTF-8 are written lossily (U+FFFD) and their exact
//! bytes are added in hex under `<field>_hex`.

use std::borrow::Cow;

use serde::Serialize;

use crate::diagnose::Report;
use crate::event::{Arg, SyscallEvent};
use crate::http::redact;
use crate::syscalls::errno;
use crate::wire::{
    self, BackendLine, FailureLine, LogLine, ReferenceLine, ReferenceOr, RequestLine, StartLine,
    SummaryLine, SuspectLine, SyscallLine,
};

use super::Summary;
use super::explain;

pub use crate::wire::SCHEMA_VERSION;

/// An errno's name, or `E<number>` for one without a name (the same key as in `by_errno`).
fn errno_name(e: i32) -> Cow<'static, str> {
    errno::name(e).map_or_else(|| Cow::Owned(format!("E{e}")), Cow::Borrowed)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `Some(hex)` only when the bytes are not valid UTF-8 (the lossy string lost information).
fn hex_if_lossy(bytes: Option<&Vec<u8>>) -> Option<String> {
    bytes
        .filter(|b| std::str::from_utf8(b).is_err())
        .map(|b| wire::hex(b))
}

/// One argument as JSON, serialized in place (no intermediate `Value`: this runs for every
/// printed syscall).
struct ArgOut<'a>(&'a Arg);

impl Serialize for ArgOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Arg::Int(v) => s.serialize_i64(*v),
            Arg::Fd(fd, _) => s.serialize_i32(*fd),
            Arg::AtFdCwd => s.serialize_str("AT_FDCWD"),
            Arg::Str { bytes, .. } => s.serialize_str(&String::from_utf8_lossy(bytes)),
            Arg::Unreadable(addr) | Arg::Ptr(addr) => s.collect_str(&format_args!("{addr:#x}")),
            Arg::Null => s.serialize_str("NULL"),
            Arg::Sym(_) | Arg::Flags(..) => s.serialize_str(&self.0.sym().unwrap_or_default()),
            Arg::StrArray { items, .. } => {
                s.collect_seq(items.iter().map(|i| String::from_utf8_lossy(i)))
            }
        }
    }
}

/// All arguments, as a JSON array.
struct ArgsOut<'a>(&'a [Arg]);

impl Serialize for ArgsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ArgOut))
    }
}

pub fn syscall_line(ev: &SyscallEvent, request: Option<u64>) -> String {
    wire::to_line(&SyscallLine {
        kind: "syscall".into(),
        ts: (ev.ts * 1e6).round() / 1e6,
        pid: ev.pid,
        tid: ev.tid,
        comm: Cow::Borrowed(&ev.comm),
        syscall: ev.name.into(),
        args: ArgsOut(&ev.args),
        path: ev.path.as_deref().map(String::from_utf8_lossy),
        path_hex: hex_if_lossy(ev.path.as_ref()),
        path2: ev.path2.as_deref().map(String::from_utf8_lossy),
        path2_hex: hex_if_lossy(ev.path2.as_ref()),
        stat_kind: ev.stat_kind.map(|k| k.as_str().into()),
        ret: ev.ret,
        errno: ev.errno.map(errno_name),
        error: ev.errno.map(|e| errno::message(e).into()),
        unfinished: ev.unfinished,
        unreadable: ev
            .args
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a, Arg::Unreadable(_)))
            .map(|(i, _)| i)
            .collect(),
        request,
    })
}

/// The first line: what is traced, by which version.
pub fn start_line(
    mode: &str,
    targets: &[i32],
    command: &[String],
    backend: Option<&str>,
) -> String {
    wire::to_line(&StartLine {
        kind: "start".into(),
        version: SCHEMA_VERSION,
        tool: "reqtrace".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        ts: crate::event::now(),
        mode: mode.into(),
        targets: targets.into(),
        command: command.into(),
        boot_id: crate::procinfo::boot_id(),
        backend: backend.map(Into::into),
    })
}

/// The last line: counts.
pub fn summary_line(sum: &Summary, tally: Option<&super::tally::Tally>) -> String {
    wire::to_line(&SummaryLine {
        kind: "summary".into(),
        syscalls: sum.syscalls,
        failed: sum.failed,
        by_errno: sum
            .by_errno
            .iter()
            .map(|(e, n)| (errno_name(*e).into_owned(), *n))
            .collect(),
        processes: sum.processes,
        threads: sum.threads,
        dropped: sum.dropped,
        duration_s: (sum.duration_s * 1000.0).round() / 1000.0,
        reason: Cow::Borrowed(&sum.reason),
        requests: sum.requests,
        requests_failed: sum.requests_failed,
        failures: tally.map(|t| {
            t.rows()
                .into_iter()
                .map(|r| FailureLine {
                    path: String::from_utf8_lossy(r.path),
                    errno: errno_name(r.errno),
                    syscall: r.syscall.into(),
                    count: r.count,
                })
                .collect()
        }),
        failures_not_shown: tally.map(|t| t.not_shown()),
        statuses: tally.map(|t| Cow::Borrowed(t.statuses())),
        unparsed: sum.unparsed,
        compat_syscalls: (sum.compat > 0).then_some(sum.compat),
    })
}

/// A command name a source knew (an strace log names none: `?`).
pub fn known_comm(comm: &str) -> Option<&str> {
    (!comm.is_empty() && comm != "?").then_some(comm)
}

/// A finished request and its suspects.
pub fn request_line(r: &Report, show_secrets: bool) -> String {
    let req = &r.request;
    wire::to_line(&RequestLine {
        kind: "request".into(),
        id: req.id,
        pid: req.pid,
        tid: req.tid,
        method: req.method.as_deref().map(Cow::Borrowed),
        target: req
            .target
            .as_deref()
            .map(|t| lossy(&redact::shown_target(t, show_secrets))),
        host: req
            .host
            .as_deref()
            .map(|h| lossy(&redact::shown_host(h, show_secrets))),
        status: req.status.map(i64::from),
        partial: req.partial,
        malformed: req.malformed.as_deref().map(Cow::Borrowed),
        start_ts: (req.start_ts * 1e6).round() / 1e6,
        duration_ms: (req.duration_ms() * 1000.0).round() / 1000.0,
        syscalls: Some(req.syscalls),
        failed: Some(req.failed),
        noise: r.noise,
        end: req.end_reason.as_str().into(),
        suspects: r
            .suspects
            .iter()
            .map(|s| SuspectLine {
                pid: Some(s.pid),
                process: s.process.as_deref().map(Cow::Borrowed),
                syscall: s.syscall.into(),
                path: lossy(&s.path),
                path_hex: hex_if_lossy(Some(&s.path)),
                errno: errno_name(s.errno),
                error: errno::message(s.errno).into(),
                count: s.count,
                score: s.score,
                reason: Cow::Borrowed(&s.reason),
                did_you_mean: s.did_you_mean.as_deref().map(lossy),
                hints: s.hints.iter().map(explain::hint).collect(),
                references: s
                    .references
                    .iter()
                    .map(|rf| {
                        ReferenceOr::Reference(ReferenceLine {
                            file: Cow::Borrowed(&rf.file),
                            line: rf.line,
                            text: Cow::Borrowed(&rf.text),
                        })
                    })
                    .collect(),
                noise: s.noise,
            })
            .collect(),
        notes: r.notes.iter().map(explain::note).collect(),
        log: req
            .logged
            .iter()
            .map(|l| LogLine {
                pid: l.pid,
                ts: (l.ts * 1e6).round() / 1e6,
                line: lossy(&redact::shown_log_line(&l.line, show_secrets)).into(),
            })
            .collect(),
        log_more: req.logged_more,
        backend: req.backend.as_ref().map(|b| BackendLine {
            pid: b.pid,
            process: known_comm(&b.comm).map(Cow::Borrowed),
            // A balancer or a proxying rewrite can put the query into it.
            script_filename: b
                .script_filename
                .as_deref()
                .map(|f| lossy(&redact::shown_target(f, show_secrets))),
        }),
    })
}
