//! Traces recorded with `reqtrace ... --json` read back: syscall lines become events again,
//! tagged with the request the recorder tied them to (`request`), and request lines become
//! announced requests carrying what the recording explained, so the correlator rebuilds each
//! request from its own calls and the diagnosis can run again elsewhere. The schema is
//! docs/json-format.md, read through the same wire types the printer writes (src/wire.rs);
//! unknown fields are ignored, as that document promises.

use std::collections::HashMap;
use std::sync::Arc;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::diagnose::{Hint, Note, Recorded, Reference, Suspect};
use crate::event::select::Selection;
use crate::event::{Announced, Arg, Backend, Event, Logged, RequestEnd, SyscallEvent, Verdict};
use crate::syscalls::table::Catalogue;
use crate::syscalls::{ArgKind, StatKind, errno, table};
use crate::wire::{self, Head, ReferenceOr, RequestLine, StartLine, SuspectLine, SyscallLine};

use super::strace::Unparsed;

pub struct Reader {
    shows: Selection,
    cat: Catalogue,
    /// Added to this recording's request ids: each recording numbers its requests from 1, and
    /// the requests of two recordings read together must not mix.
    id_base: u64,
    comms: HashMap<String, Arc<str>>,
    pub unparsed: Vec<Unparsed>,
    pub lines: usize,
    pub understood: usize,
}

/// The `boot_id` of a recording's start line, if `line` is one.
pub fn boot_id(line: &str) -> Option<String> {
    let start: StartLine = serde_json::from_str(line).ok()?;
    (start.kind == "start").then_some(start.boot_id).flatten()
}

/// An errno from its name, or from `E<number>` for one without a name.
fn errno_of(name: &str) -> Option<i32> {
    errno::by_name(name).or_else(|| name.strip_prefix('E')?.parse().ok())
}

impl Reader {
    /// A reader of the `index`-th recording of those read together (0 for the first, whose
    /// request ids are kept as recorded; later ones are offset by `index << 32`).
    pub fn new(shows: Selection, index: usize) -> Reader {
        Reader {
            shows,
            cat: Catalogue::new(),
            id_base: (index as u64) << 32,
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
        let kind = Head::deserialize(&v).ok().and_then(|h| h.kind);
        let item = match kind.as_deref() {
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
        let line = SyscallLine::<Vec<Value>>::deserialize(v).ok()?;
        let Some(spec) = table::by_name(&line.syscall) else {
            // A call this version does not know: read, not used.
            return Some(None);
        };
        let comm = self
            .comms
            .entry(line.comm.to_string())
            .or_insert_with(|| Arc::from(line.comm.as_ref()))
            .clone();
        let nr = self.cat.number(spec.name);
        let mut ev = SyscallEvent::new(line.ts, line.pid, line.tid, comm, nr.unwrap_or(0), spec);
        ev.args = spec
            .args
            .iter()
            .zip(&line.args)
            .map(|(k, a)| arg(*k, a))
            .collect();
        ev.path = wire::bytes(line.path.as_deref(), line.path_hex.as_deref());
        ev.path2 = wire::bytes(line.path2.as_deref(), line.path2_hex.as_deref());
        ev.stat_kind = line.stat_kind.as_deref().and_then(StatKind::from_name);
        ev.returned(line.ret, line.errno.as_deref().and_then(errno_of));
        ev.unfinished = line.unfinished;
        ev.request = line.request.map(|id| id + self.id_base);
        // A call without a number on this architecture is read, never shown.
        let printed = nr.is_some_and(|nr| self.shows.printed(nr, ev.stat_kind));
        ev.shown = self.shows.shown(printed, ev.errno);
        Some(Some(Event::Syscall(Box::new(ev))))
    }

    fn request(&mut self, v: &Value) -> Option<Option<Event>> {
        let line = RequestLine::<Value>::deserialize(v).ok()?;
        let verdict = Recorded {
            suspects: line
                .suspects
                .iter()
                .filter_map(|s| suspect(s, line.pid))
                .collect(),
            notes: line.notes.into_iter().map(Note::Recorded).collect(),
            noise: line.noise,
        };
        let status = line.status.and_then(|s| u16::try_from(s).ok());
        Some(Some(Event::Request(Box::new(Announced {
            id: line.id + self.id_base,
            pid: line.pid,
            tid: line.tid,
            method: line.method.map(Cow::into_owned),
            target: line.target.map(String::into_bytes),
            host: line.host.map(String::into_bytes),
            status,
            partial: line.partial,
            malformed: line.malformed.map(Cow::into_owned),
            start_ts: line.start_ts,
            end_ts: line.start_ts + line.duration_ms / 1000.0,
            end: RequestEnd::from_name(&line.end),
            syscalls: line.syscalls,
            failed: line.failed,
            verdict: Some(Verdict(Arc::new(verdict))),
            logged: line
                .log
                .into_iter()
                .map(|l| Logged {
                    pid: l.pid,
                    ts: l.ts,
                    line: l.line.into_owned().into_bytes(),
                })
                .collect(),
            logged_more: line.log_more,
            backend: line.backend.map(|b| Backend {
                pid: b.pid,
                tid: b.pid,
                comm: Arc::from(b.process.as_deref().unwrap_or("?")),
                script_filename: b.script_filename.map(String::into_bytes),
            }),
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

/// A recorded suspect of a request answered by `pid`; `None` when it lacks what a suspect
/// needs (or names a syscall this version does not know): it is skipped, not the request.
fn suspect(v: &Value, pid: i32) -> Option<Suspect> {
    let line = SuspectLine::deserialize(v).ok()?;
    let syscall = table::by_name(&line.syscall)?.name;
    let path = wire::bytes(Some(&line.path), line.path_hex.as_deref())?;
    let references: Vec<Reference> = line
        .references
        .into_iter()
        .filter_map(|r| match r {
            ReferenceOr::Reference(r) => Some(Reference {
                file: r.file.into_owned(),
                line: r.line,
                text: r.text.into_owned(),
            }),
            ReferenceOr::Other(_) => None,
        })
        .collect();
    Some(Suspect {
        pid: line.pid.unwrap_or(pid),
        process: line.process.map(Cow::into_owned),
        syscall,
        errno: errno_of(&line.errno)?,
        count: line.count,
        score: line.score,
        reason: line.reason.into_owned(),
        did_you_mean: line.did_you_mean.map(String::into_bytes),
        hints: line.hints.into_iter().map(Hint::Recorded).collect(),
        searched: searched(&path, &references),
        references,
        path,
        noise: line.noise,
    })
}
