//! Traces recorded with `reqtrace ... --json` read back: syscall lines become events again,
//! tagged with the request the recorder tied them to (`request`), and request lines become
//! announced requests carrying what the recording explained, so the correlator rebuilds each
//! request from its own calls and the diagnosis can run again elsewhere. The schema is
//! docs/json-format.md; unknown fields are ignored, as that document promises.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::diagnose::{Hint, Note, Recorded, Reference, Suspect};
use crate::event::select::Selection;
use crate::event::{Announced, Arg, Event, RequestEnd, SyscallEvent, Verdict};
use crate::syscalls::table::Catalogue;
use crate::syscalls::{ArgKind, StatKind, errno, table};

use super::strace::Unparsed;

pub struct Reader {
    shows: Selection,
    cat: Catalogue,
    comms: HashMap<String, Arc<str>>,
    pub unparsed: Vec<Unparsed>,
    pub lines: usize,
    pub understood: usize,
}

/// The `boot_id` of a recording's start line, if `line` is one.
pub fn boot_id(line: &str) -> Option<String> {
    let v: Value = serde_json::from_str(line).ok()?;
    (v.get("type")?.as_str()? == "start")
        .then(|| v.get("boot_id")?.as_str().map(str::to_string))
        .flatten()
}

fn bytes_of(v: &Value, field: &str) -> Option<Vec<u8>> {
    if let Some(hex) = v.get(format!("{field}_hex")).and_then(Value::as_str)
        && let Some(b) = unhex(hex)
    {
        return Some(b);
    }
    v.get(field)?.as_str().map(|s| s.as_bytes().to_vec())
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn errno_of(v: &Value) -> Option<i32> {
    let name = v.as_str()?;
    errno::by_name(name).or_else(|| name.strip_prefix('E')?.parse().ok())
}

fn int(v: &Value, field: &str) -> Option<i64> {
    v.get(field)?.as_i64()
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field)?.as_str().map(str::to_string)
}

impl Reader {
    pub fn new(shows: Selection) -> Reader {
        Reader {
            shows,
            cat: Catalogue::new(),
            comms: HashMap::new(),
            unparsed: Vec::new(),
            lines: 0,
            understood: 0,
        }
    }

    /// Read one line; what it gives goes to `out`.
    pub fn line(&mut self, lineno: usize, line: &str, out: &mut Vec<Event>) {
        self.lines += 1;
        if line.trim().is_empty() {
            return;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => return self.bad(lineno, "not JSON"),
        };
        let item = match v.get("type").and_then(Value::as_str) {
            Some("syscall") => self.syscall(&v),
            Some("request") => self.request(&v),
            Some("start" | "summary") => Some(None),
            _ => return self.bad(lineno, "a JSON line with no known \"type\""),
        };
        match item {
            Some(ev) => {
                self.understood += 1;
                out.extend(ev);
            }
            None => self.bad(lineno, "a line missing fields its type requires"),
        }
    }

    fn bad(&mut self, line: usize, why: &'static str) {
        self.unparsed.push(Unparsed { line, why });
    }

    /// `None`: a field the line needs is missing; `Some(None)`: understood, nothing to send.
    fn syscall(&mut self, v: &Value) -> Option<Option<Event>> {
        let name = v.get("syscall")?.as_str()?;
        let Some(spec) = table::by_name(name) else {
            // A call this version does not know: read, not used.
            return Some(None);
        };
        let comm = text(v, "comm").unwrap_or_default();
        let comm = self
            .comms
            .entry(comm.clone())
            .or_insert_with(|| Arc::from(comm.as_str()))
            .clone();
        let raw_args: &[Value] = v.get("args").and_then(Value::as_array).map_or(&[], |a| a);
        let args = spec
            .args
            .iter()
            .zip(raw_args)
            .map(|(k, a)| arg(*k, a))
            .collect();
        let nr = self.cat.number(spec.name).unwrap_or(0);
        let mut ev = SyscallEvent::new(
            v.get("ts")?.as_f64()?,
            int(v, "pid")? as i32,
            int(v, "tid")? as i32,
            comm,
            nr,
            spec,
        );
        ev.args = args;
        ev.path = bytes_of(v, "path");
        ev.path2 = bytes_of(v, "path2");
        ev.stat_kind = match v.get("stat_kind").and_then(Value::as_str) {
            Some("stat") => Some(StatKind::Stat),
            Some("lstat") => Some(StatKind::Lstat),
            Some("fstat") => Some(StatKind::Fstat),
            _ => None,
        };
        ev.returned(int(v, "ret")?, v.get("errno").and_then(errno_of));
        ev.unfinished = v.get("unfinished").and_then(Value::as_bool) == Some(true);
        ev.request = v.get("request").and_then(Value::as_u64);
        ev.shown = self
            .shows
            .shown(self.shows.printed(nr, ev.stat_kind), ev.errno);
        Some(Some(Event::Syscall(Box::new(ev))))
    }

    fn request(&mut self, v: &Value) -> Option<Option<Event>> {
        let id = v.get("id")?.as_u64()?;
        let start = v.get("start_ts")?.as_f64()?;
        let status = int(v, "status").and_then(|s| u16::try_from(s).ok());
        let end = start + v.get("duration_ms").and_then(Value::as_f64).unwrap_or(0.0) / 1000.0;
        let suspects = v
            .get("suspects")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(suspect).collect())
            .unwrap_or_default();
        let notes = v
            .get("notes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_str().map(|n| Note::Recorded(n.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let verdict = Recorded {
            suspects,
            notes,
            noise: int(v, "noise").unwrap_or(0) as u64,
        };
        Some(Some(Event::Request(Box::new(Announced {
            id,
            pid: int(v, "pid")? as i32,
            tid: int(v, "tid")? as i32,
            method: text(v, "method"),
            target: bytes_of(v, "target"),
            host: bytes_of(v, "host"),
            status,
            partial: v.get("partial").and_then(Value::as_bool) == Some(true),
            start_ts: start,
            end_ts: end,
            end: RequestEnd::from_name(v.get("end").and_then(Value::as_str).unwrap_or("")),
            syscalls: int(v, "syscalls").map(|n| n as u64),
            failed: int(v, "failed").map(|n| n as u64),
            verdict: Some(Verdict(Arc::new(verdict))),
        }))))
    }
}

/// A recorded argument, typed by the syscall table (JSON has numbers and strings only).
fn arg(kind: ArgKind, v: &Value) -> Arg {
    match (kind, v) {
        (ArgKind::Fd | ArgKind::DirFd, Value::String(s)) if s == "AT_FDCWD" => Arg::AtFdCwd,
        (ArgKind::Fd | ArgKind::DirFd, Value::Number(n)) => {
            Arg::Fd(n.as_i64().unwrap_or(-1) as i32, None)
        }
        (ArgKind::Path | ArgKind::Str | ArgKind::OutStr, Value::String(s)) if s == "NULL" => {
            Arg::Null
        }
        (ArgKind::Path | ArgKind::Str | ArgKind::OutStr, Value::String(s)) => Arg::Str {
            bytes: s.as_bytes().to_vec(),
            truncated: false,
        },
        (ArgKind::StrArray, Value::Array(items)) => Arg::StrArray {
            items: items
                .iter()
                .filter_map(|i| i.as_str().map(|s| s.as_bytes().to_vec()))
                .collect(),
            more: false,
        },
        (_, Value::Number(n)) => Arg::Int(n.as_i64().unwrap_or(0)),
        (_, Value::String(s)) => Arg::Sym(s.clone()),
        (_, other) => Arg::Sym(other.to_string()),
    }
}

/// The name the recorded references were found for: the last component of the path that
/// their lines mention (a misspelt directory, or the file name).
fn searched(path: &[u8], refs: &[Reference]) -> Option<Vec<u8>> {
    let first = refs.first()?.text.to_lowercase();
    path.rsplit(|&b| b == b'/')
        .filter(|c| c.len() >= 3)
        .find(|c| first.contains(&String::from_utf8_lossy(c).to_lowercase()))
        .map(<[u8]>::to_vec)
}

fn suspect(v: &Value) -> Option<Suspect> {
    let syscall = table::by_name(v.get("syscall")?.as_str()?)?.name;
    let mut s = Suspect {
        syscall,
        path: bytes_of(v, "path")?,
        errno: v.get("errno").and_then(errno_of)?,
        count: v.get("count").and_then(Value::as_u64).unwrap_or(1),
        score: int(v, "score").unwrap_or(0) as i32,
        reason: text(v, "reason").unwrap_or_default(),
        did_you_mean: text(v, "did_you_mean").map(String::into_bytes),
        hints: v
            .get("hints")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(|h| Hint::Recorded(h.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
        references: v
            .get("references")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| {
                        Some(Reference {
                            file: text(r, "file")?,
                            line: r.get("line")?.as_u64()? as u32,
                            text: text(r, "text").unwrap_or_default(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        searched: None,
        noise: v.get("noise").and_then(Value::as_bool) == Some(true),
    };
    s.searched = searched(&s.path, &s.references);
    Some(s)
}
