//! The JSON Lines wire format, schema version 1 (docs/json-format.md): every line type and
//! every field name, in one place. The JSON printer (output/json.rs) fills these types and
//! serializes them; the replayer of recordings (analyze/recorded.rs) deserializes the same
//! types. Plain data: nothing here knows events, requests or diagnoses; each side converts.
//!
//! Borrowed where the printer can lend (`Cow`), owned when read back. Optional fields are
//! `Option` or `#[serde(default)]`: a reader accepts lines with fields missing or added, as
//! the schema document promises, and field order is the order written.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const SCHEMA_VERSION: u32 = 1;

fn is_false(b: &bool) -> bool {
    !b
}

fn one() -> u64 {
    1
}

/// A field read leniently: `null` (or missing, with `#[serde(default)]`) is the default.
fn or_default<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// A list of strings read leniently: `null` is empty, and an item that is not a string is
/// skipped rather than making the whole line unreadable.
fn strings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items: Option<Vec<Value>> = Option::deserialize(d)?;
    Ok(items
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
        .collect())
}

/// An optional pid read leniently: anything but an integer in range reads as none.
fn opt_pid<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    let v: Option<Value> = Option::deserialize(d)?;
    Ok(v.and_then(|v| v.as_i64())
        .and_then(|n| i32::try_from(n).ok()))
}

/// An optional string read leniently: anything but a string reads as none.
fn opt_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'static, str>>, D::Error> {
    let v: Option<Value> = Option::deserialize(d)?;
    Ok(match v {
        Some(Value::String(s)) => Some(Cow::Owned(s)),
        _ => None,
    })
}

/// The first line: what is traced, by which version.
#[derive(Debug, Serialize, Deserialize)]
pub struct StartLine<'a> {
    #[serde(rename = "type")]
    pub kind: Cow<'a, str>,
    pub version: u32,
    pub tool: Cow<'a, str>,
    pub tool_version: Cow<'a, str>,
    pub ts: f64,
    pub mode: Cow<'a, str>,
    pub targets: Cow<'a, [i32]>,
    #[serde(default, skip_serializing_if = "<[String]>::is_empty")]
    pub command: Cow<'a, [String]>,
    /// This boot of this machine: `reqtrace analyze` knows from it that a recording was made
    /// here and its paths can be looked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// `attach --backend ebpf`: `"ebpf"`; absent for the ptrace tracer (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Cow<'a, str>>,
}

/// One syscall. `A` is how the arguments travel: the printer's borrowed arguments when
/// written, JSON values when read (their types come from the syscall table).
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(deserialize = "A: Deserialize<'de> + Default"))]
pub struct SyscallLine<'a, A> {
    #[serde(rename = "type")]
    pub kind: Cow<'a, str>,
    pub ts: f64,
    pub pid: i32,
    pub tid: i32,
    #[serde(default, deserialize_with = "or_default")]
    pub comm: Cow<'a, str>,
    pub syscall: Cow<'a, str>,
    #[serde(default, deserialize_with = "or_default")]
    pub args: A,
    pub path: Option<Cow<'a, str>>,
    /// The exact bytes of a path that is not valid UTF-8 (`path` is then lossy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path2: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path2_hex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat_kind: Option<Cow<'a, str>>,
    pub ret: i64,
    pub errno: Option<Cow<'a, str>>,
    pub error: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unfinished: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<usize>,
    pub request: Option<u64>,
}

/// Where a name appears in the server's configuration.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReferenceLine<'a> {
    pub file: Cow<'a, str>,
    pub line: u32,
    #[serde(default)]
    pub text: Cow<'a, str>,
}

/// One suspect of a request.
#[derive(Debug, Serialize, Deserialize)]
pub struct SuspectLine<'a> {
    /// The process that made the call (the request's `pid`, or a FastCGI backend's). Read
    /// back as the request's `pid` when missing (recordings before it was written).
    #[serde(default, deserialize_with = "opt_pid")]
    pub pid: Option<i32>,
    /// Its command name, when it was known (the process lived when it was diagnosed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string"
    )]
    pub process: Option<Cow<'a, str>>,
    pub syscall: Cow<'a, str>,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    pub errno: Cow<'a, str>,
    #[serde(default)]
    pub error: Cow<'a, str>,
    #[serde(default = "one")]
    pub count: u64,
    #[serde(default)]
    pub score: i32,
    #[serde(default)]
    pub reason: Cow<'a, str>,
    pub did_you_mean: Option<String>,
    #[serde(default, deserialize_with = "strings")]
    pub hints: Vec<String>,
    /// Each read on its own: one malformed reference is skipped, not the suspect.
    #[serde(default, deserialize_with = "or_default")]
    pub references: Vec<ReferenceOr<'a>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub noise: bool,
}

/// A reference as written, or whatever stood in its place when read.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReferenceOr<'a> {
    Reference(ReferenceLine<'a>),
    Other(Value),
}

/// A finished request. `S` is how suspects travel: `SuspectLine`s when written, JSON values
/// when read (each read on its own, so that one malformed suspect is skipped, not the line).
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
pub struct RequestLine<'a, S> {
    #[serde(rename = "type")]
    pub kind: Cow<'a, str>,
    pub id: u64,
    pub pid: i32,
    pub tid: i32,
    pub method: Option<Cow<'a, str>>,
    pub target: Option<String>,
    pub host: Option<String>,
    /// Not a u16 when read: an out-of-range status reads as none, not as a broken line.
    pub status: Option<i64>,
    #[serde(default)]
    pub partial: bool,
    /// Only when its request line was malformed: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malformed: Option<Cow<'a, str>>,
    pub start_ts: f64,
    #[serde(default)]
    pub duration_ms: f64,
    /// Optional when read: a recording's counts replace what its syscall lines add up to.
    pub syscalls: Option<u64>,
    pub failed: Option<u64>,
    #[serde(default)]
    pub noise: u64,
    #[serde(default)]
    pub end: Cow<'a, str>,
    #[serde(default = "Vec::new", deserialize_with = "or_default")]
    pub suspects: Vec<S>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "strings"
    )]
    pub notes: Vec<String>,
    /// What the server wrote to its error log while serving it, redacted as the target is.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "log_lines"
    )]
    pub log: Vec<LogLine<'a>>,
    /// Lines it wrote beyond those listed.
    #[serde(default, skip_serializing_if = "is_zero", deserialize_with = "lenient")]
    pub log_more: u64,
    /// The FastCGI backend that ran its script, when its calls were followed there.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub backend: Option<BackendLine<'a>>,
}

/// A request's FastCGI backend: the worker (pid, command name if known) and the `SCRIPT_FILENAME` the
/// web server sent it (lossy UTF-8; `null` when the capture did not hold it).
#[derive(Debug, Serialize, Deserialize)]
pub struct BackendLine<'a> {
    pub pid: i32,
    /// `null` when the source does not know it (an strace log).
    pub process: Option<Cow<'a, str>>,
    pub script_filename: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A line of a request's `log`: the process that wrote it and the line, without its
/// newline (invalid UTF-8 replaced: it is read, not matched).
#[derive(Debug, Serialize, Deserialize)]
pub struct LogLine<'a> {
    pub pid: i32,
    pub ts: f64,
    pub line: Cow<'a, str>,
}

/// A field read leniently: a value of the wrong shape reads as the default (none, 0), not as
/// a broken line (a recording from another version, edited by hand).
fn lenient<'de, D: serde::Deserializer<'de>, T: Default + serde::de::DeserializeOwned>(
    d: D,
) -> Result<T, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(T::deserialize(v).unwrap_or_default())
}

/// Log lines read leniently: an item that is not a log line is skipped.
fn log_lines<'de, 'a, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<LogLine<'a>>, D::Error> {
    let items: Option<Vec<Value>> = Option::deserialize(d)?;
    Ok(items
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| LogLine::deserialize(v).ok())
        .collect())
}

/// A row of `--summary`'s failure table.
#[derive(Debug, Serialize, Deserialize)]
pub struct FailureLine<'a> {
    pub path: Cow<'a, str>,
    pub errno: Cow<'a, str>,
    pub syscall: Cow<'a, str>,
    pub count: u64,
}

/// The last line: counts.
#[derive(Debug, Serialize, Deserialize)]
pub struct SummaryLine<'a> {
    #[serde(rename = "type")]
    pub kind: Cow<'a, str>,
    pub syscalls: u64,
    pub failed: u64,
    pub by_errno: BTreeMap<String, u64>,
    pub processes: u64,
    pub threads: u64,
    pub dropped: u64,
    pub duration_s: f64,
    pub reason: Cow<'a, str>,
    pub requests: u64,
    pub requests_failed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Vec<FailureLine<'a>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_not_shown: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Cow<'a, BTreeMap<String, u64>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unparsed: Option<u64>,
    /// Syscalls through a non-native (32-bit) ABI, seen and not decoded; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compat_syscalls: Option<u64>,
}

/// A line's `type`, read first to know which type to read it as.
#[derive(Deserialize)]
pub struct Head<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Option<Cow<'a, str>>,
}

/// Serialize a line, newline-terminated.
pub fn to_line<T: Serialize>(line: &T) -> String {
    let mut s = serde_json::to_string(line).unwrap_or_default();
    s.push('\n');
    s
}

/// Hex of bytes, lower case: the `*_hex` fields.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A `*_hex` field back to bytes.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The exact bytes of a field written lossily with its `*_hex` companion.
pub fn bytes(text: Option<&str>, hex: Option<&str>) -> Option<Vec<u8>> {
    hex.and_then(unhex)
        .or_else(|| text.map(|t| t.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_round_trips() {
        let line = RequestLine {
            kind: "request".into(),
            id: 3,
            pid: 10,
            tid: 11,
            method: Some("GET".into()),
            target: Some("/home".into()),
            host: None,
            status: Some(404),
            partial: false,
            malformed: None,
            start_ts: 1.5,
            duration_ms: 0.7,
            syscalls: Some(10),
            failed: Some(3),
            noise: 2,
            end: "response".into(),
            suspects: vec![SuspectLine {
                pid: Some(12),
                process: Some("php-fpm8.2".into()),
                syscall: "newfstatat".into(),
                path: "/srv/www/index.phpp".into(),
                path_hex: None,
                errno: "ENOENT".into(),
                error: "No such file or directory".into(),
                count: 3,
                score: 90,
                reason: "the URL was rewritten".into(),
                did_you_mean: Some("/srv/www/index.php".into()),
                hints: vec![],
                references: vec![ReferenceOr::Reference(ReferenceLine {
                    file: "/etc/apache2/site.conf".into(),
                    line: 3,
                    text: "RewriteRule ^/home$ /index.phpp [L]".into(),
                })],
                noise: false,
            }],
            notes: vec![],
            log: vec![],
            log_more: 0,
            backend: None,
        };
        let text = to_line(&line);
        assert!(
            text.starts_with("{\"type\":\"request\",\"id\":3,"),
            "{text}"
        );
        let back: RequestLine<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.status, Some(404));
        let s: SuspectLine = serde_json::from_value(back.suspects[0].clone()).unwrap();
        assert_eq!(s.count, 3);
        assert_eq!(
            (s.pid, s.process.as_deref()),
            (Some(12), Some("php-fpm8.2"))
        );
        assert!(matches!(&s.references[0], ReferenceOr::Reference(r) if r.line == 3));
    }

    #[test]
    fn missing_optional_fields_read_as_defaults() {
        let r: RequestLine<Value> =
            serde_json::from_str(r#"{"type":"request","id":1,"pid":2,"tid":2,"start_ts":0}"#)
                .unwrap();
        assert_eq!((r.status, r.syscalls, r.suspects.len()), (None, None, 0));
        let s: SuspectLine = serde_json::from_str(
            r#"{"syscall":"open","path":"/x","errno":"EACCES","references":[{"file":1}]}"#,
        )
        .unwrap();
        assert_eq!(s.count, 1);
        assert_eq!((s.pid, s.process), (None, None));
        assert!(matches!(s.references[0], ReferenceOr::Other(_)));
        // A pid or process of the wrong type reads as none, not as a broken suspect.
        let s: SuspectLine = serde_json::from_str(
            r#"{"pid":"x","process":7,"syscall":"open","path":"/x","errno":"EACCES"}"#,
        )
        .unwrap();
        assert_eq!((s.pid, s.process), (None, None));
        // null and odd items read as nothing, not as a broken line.
        let r: RequestLine<Value> = serde_json::from_str(
            r#"{"type":"request","id":1,"pid":2,"tid":2,"start_ts":0,"suspects":null,"notes":[null,"n",3]}"#,
        )
        .unwrap();
        assert_eq!((r.suspects.len(), r.notes), (0, vec!["n".to_string()]));
        // A backend or log_more of the wrong shape reads as none, not as a broken line.
        let r: RequestLine<Value> = serde_json::from_str(
            r#"{"type":"request","id":1,"pid":2,"tid":2,"start_ts":0,"backend":{"pid":"x"},"log_more":-1,"log":[{"pid":2,"ts":1,"line":"l"},7]}"#,
        )
        .unwrap();
        assert!(r.backend.is_none());
        assert_eq!((r.log_more, r.log.len()), (0, 1));
        let l: SyscallLine<Vec<Value>> = serde_json::from_str(
            r#"{"type":"syscall","ts":1,"pid":2,"tid":2,"comm":null,"syscall":"open","path":"/x","ret":0,"errno":null,"error":null,"request":null}"#,
        )
        .unwrap();
        assert!(l.args.is_empty() && l.comm.is_empty());
        assert_eq!(hex(b"\xff\x00a"), "ff0061");
        assert_eq!(bytes(Some("x"), Some("ff00")), Some(vec![0xff, 0]));
        assert_eq!(bytes(Some("x"), Some("f")), Some(b"x".to_vec()));
    }
}
