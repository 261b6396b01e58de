//! The JSON Lines printer, schema version 1 (docs/json-format.md). This file owns every JSON
//! field name. Paths that are not valid UTF-8 are written lossily (U+FFFD) and their exact
//! bytes are added in hex under `<field>_hex`.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Value, json};

use crate::diagnose::{Reference, Report};
use crate::event::{Arg, SyscallEvent};
use crate::syscalls::errno;

use super::Summary;
use super::{escape, explain};

pub const SCHEMA_VERSION: u32 = 1;

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
        .map(|b| escape::hex(b))
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

#[derive(Serialize)]
struct SyscallLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ts: f64,
    pid: i32,
    tid: i32,
    comm: &'a str,
    syscall: &'static str,
    args: ArgsOut<'a>,
    path: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path2: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path2_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stat_kind: Option<&'static str>,
    ret: i64,
    errno: Option<Cow<'static, str>>,
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    unfinished: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unreadable: Vec<usize>,
    request: Option<u64>,
}

pub fn syscall_line(ev: &SyscallEvent, request: Option<u64>) -> String {
    let line = SyscallLine {
        kind: "syscall",
        ts: (ev.ts * 1e6).round() / 1e6,
        pid: ev.pid,
        tid: ev.tid,
        comm: &ev.comm,
        syscall: ev.name,
        args: ArgsOut(&ev.args),
        path: ev.path.as_deref().map(String::from_utf8_lossy),
        path_hex: hex_if_lossy(ev.path.as_ref()),
        path2: ev.path2.as_deref().map(String::from_utf8_lossy),
        path2_hex: hex_if_lossy(ev.path2.as_ref()),
        stat_kind: ev.stat_kind.map(|k| k.as_str()),
        ret: ev.ret,
        errno: ev.errno.map(errno_name),
        error: ev.errno.map(errno::message),
        unfinished: ev.unfinished,
        unreadable: ev
            .args
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a, Arg::Unreadable(_)))
            .map(|(i, _)| i)
            .collect(),
        request,
    };
    let mut s = serde_json::to_string(&line).unwrap_or_default();
    s.push('\n');
    s
}

#[derive(Serialize)]
struct StartLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    version: u32,
    tool: &'static str,
    tool_version: &'static str,
    ts: f64,
    mode: &'a str,
    targets: &'a [i32],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    command: &'a [String],
    /// This boot of this machine: `reqtrace analyze` knows from it that a recording was made
    /// here and its paths can be looked at.
    #[serde(skip_serializing_if = "Option::is_none")]
    boot_id: Option<String>,
}

/// The first line: what is traced, by which version.
pub fn start_line(mode: &str, targets: &[i32], command: &[String]) -> String {
    let line = StartLine {
        kind: "start",
        version: SCHEMA_VERSION,
        tool: "reqtrace",
        tool_version: env!("CARGO_PKG_VERSION"),
        ts: crate::event::now(),
        mode,
        targets,
        command,
        boot_id: crate::procinfo::boot_id(),
    };
    let mut s = serde_json::to_string(&line).unwrap_or_default();
    s.push('\n');
    s
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    syscalls: u64,
    failed: u64,
    by_errno: serde_json::Map<String, Value>,
    processes: u64,
    threads: u64,
    dropped: u64,
    duration_s: f64,
    reason: &'a str,
    requests: u64,
    requests_failed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    failures: Option<Vec<FailureOut<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failures_not_shown: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statuses: Option<&'a std::collections::BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unparsed: Option<u64>,
}

/// A row of `--summary`'s failure table.
#[derive(Serialize)]
struct FailureOut<'a> {
    path: Cow<'a, str>,
    errno: Cow<'static, str>,
    syscall: &'static str,
    count: u64,
}

/// The last line: counts.
pub fn summary_line(sum: &Summary, tally: Option<&super::tally::Tally>) -> String {
    let line = SummaryLine {
        kind: "summary",
        syscalls: sum.syscalls,
        failed: sum.failed,
        by_errno: sum
            .by_errno
            .iter()
            .map(|(e, n)| (errno_name(*e).into_owned(), json!(n)))
            .collect(),
        processes: sum.processes,
        threads: sum.threads,
        dropped: sum.dropped,
        duration_s: (sum.duration_s * 1000.0).round() / 1000.0,
        reason: &sum.reason,
        requests: sum.requests,
        requests_failed: sum.requests_failed,
        failures: tally.map(|t| {
            t.rows()
                .into_iter()
                .map(|r| FailureOut {
                    path: String::from_utf8_lossy(r.path),
                    errno: errno_name(r.errno),
                    syscall: r.syscall,
                    count: r.count,
                })
                .collect()
        }),
        failures_not_shown: tally.map(|t| t.not_shown()),
        statuses: tally.map(|t| t.statuses()),
        unparsed: sum.unparsed,
    };
    let mut s = serde_json::to_string(&line).unwrap_or_default();
    s.push('\n');
    s
}

#[derive(Serialize)]
struct SuspectOut<'a> {
    syscall: &'static str,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_hex: Option<String>,
    errno: Cow<'static, str>,
    error: &'static str,
    count: u64,
    score: i32,
    reason: &'a str,
    did_you_mean: Option<String>,
    hints: Vec<String>,
    references: &'a [Reference],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    noise: bool,
}

#[derive(Serialize)]
struct RequestLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: u64,
    pid: i32,
    tid: i32,
    method: Option<&'a str>,
    target: Option<String>,
    host: Option<String>,
    status: Option<u16>,
    partial: bool,
    start_ts: f64,
    duration_ms: f64,
    syscalls: u64,
    failed: u64,
    noise: u64,
    end: &'static str,
    suspects: Vec<SuspectOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

/// A finished request and its suspects.
pub fn request_line(r: &Report, show_secrets: bool) -> String {
    let req = &r.request;
    let line = RequestLine {
        kind: "request",
        id: req.id,
        pid: req.pid,
        tid: req.tid,
        method: req.method.as_deref(),
        target: req
            .target
            .as_deref()
            .map(|t| lossy(&crate::http::urlmatch::shown_target(t, show_secrets))),
        host: req.host.as_deref().map(lossy),
        status: req.status,
        partial: req.partial,
        start_ts: (req.start_ts * 1e6).round() / 1e6,
        duration_ms: (req.duration_ms() * 1000.0).round() / 1000.0,
        syscalls: req.syscalls,
        failed: req.failed,
        noise: r.noise,
        end: req.end_reason.as_str(),
        suspects: r
            .suspects
            .iter()
            .map(|s| SuspectOut {
                syscall: s.syscall,
                path: lossy(&s.path),
                path_hex: hex_if_lossy(Some(&s.path)),
                errno: errno_name(s.errno),
                error: errno::message(s.errno),
                count: s.count,
                score: s.score,
                reason: &s.reason,
                did_you_mean: s.did_you_mean.as_deref().map(lossy),
                hints: s.hints.iter().map(explain::hint).collect(),
                references: &s.references,
                noise: s.noise,
            })
            .collect(),
        notes: r.notes.iter().map(explain::note).collect(),
    };
    let mut s = serde_json::to_string(&line).unwrap_or_default();
    s.push('\n');
    s
}
