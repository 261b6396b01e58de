//! Traces read from files instead of live processes, as event sources: a recording made with
//! `reqtrace ... --json` (recorded.rs) or strace logs (strace.rs) become the same events a
//! live run produces and go through the same pipeline: the same filters (`--url`,
//! `--failed`, `--all`, `--trace`), correlation, diagnosis and printers. This module owns
//! finding the input files (`-` for stdin, strace `-ff` prefixes), telling the two formats
//! apart, and reporting unparsable lines. Where the diagnosis may look at files is decided
//! by app.rs from what [`Replay::boot_id`] says. A recording and strace logs are two
//! sources ([`Recording`], [`StraceLog`]) sharing how inputs are opened and ended.

pub mod recorded;
pub mod strace;
pub mod strace_line;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::event::select::Selection;
use crate::event::{End, Event, EventSink, Hub, Source, SourceEnd};

/// Unparsable lines listed on stderr at most (all are counted).
const MAX_LISTED: usize = 10;

/// One input: its name for messages, and the PID of an `strace -ff` file.
struct Input {
    name: String,
    path: Option<PathBuf>,
    tid: Option<i32>,
}

/// The files to read: each as given, `-` for stdin, or an `strace -ff -o PREFIX` prefix
/// standing for its PREFIX.PID files.
fn inputs(files: &[String]) -> Result<Vec<Input>, Error> {
    let mut out = Vec::new();
    for f in files {
        if f == "-" {
            out.push(Input {
                name: "<stdin>".into(),
                path: None,
                tid: None,
            });
            continue;
        }
        let p = Path::new(f);
        if p.exists() {
            out.push(Input {
                name: f.clone(),
                path: Some(p.to_path_buf()),
                tid: ff_pid(p),
            });
            continue;
        }
        let per_pid = ff_files(p);
        if per_pid.is_empty() {
            return Err(Error::Input(format!(
                "{f}: no such file (nor {f}.PID files from strace -ff): give a trace from \
                 reqtrace --json, an strace log, or - for standard input"
            )));
        }
        for (pid, path) in per_pid {
            out.push(Input {
                name: path.display().to_string(),
                path: Some(path),
                tid: Some(pid),
            });
        }
    }
    Ok(out)
}

/// The PID an `strace -ff` file name ends with (`trace.1234`).
fn ff_pid(p: &Path) -> Option<i32> {
    let name = p.file_name()?.to_str()?;
    digits(name.rsplit_once('.')?.1)
}

/// A PID written in decimal digits only (no sign, no spaces).
fn digits(s: &str) -> Option<i32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `PREFIX.PID` files next to a prefix, by PID.
fn ff_files(prefix: &Path) -> Vec<(i32, PathBuf)> {
    let dir = match prefix.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(stem) = prefix.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<(i32, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let rest = name
                .to_str()?
                .strip_prefix(stem)?
                .strip_prefix('.')?
                .to_string();
            let pid = digits(&rest)?;
            Some((pid, e.path()))
        })
        .collect();
    v.sort();
    v
}

fn open(input: &Input) -> Result<Box<dyn BufRead>, Error> {
    match &input.path {
        None => Ok(Box::new(BufReader::new(std::io::stdin()))),
        Some(p) => {
            let f = std::fs::File::open(p)
                .map_err(|e| Error::Input(format!("cannot read {}: {e}", input.name)))?;
            Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
        }
    }
}

/// Lines of a reader, as text (strace and JSON are ASCII/UTF-8; stray bytes become U+FFFD
/// rather than an error), numbered from 1.
fn lines(r: Box<dyn BufRead>) -> impl Iterator<Item = (usize, String)> {
    let mut r = r;
    let mut n = 0;
    std::iter::from_fn(move || {
        let mut buf = Vec::new();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                n += 1;
                Some((n, String::from_utf8_lossy(&buf).into_owned()))
            }
        }
    })
}

type Lines = Box<dyn Iterator<Item = (usize, String)>>;

/// The files given, opened: the first input's lines already read up to its first non-empty
/// line, which told the format.
struct Opened {
    inputs: Vec<Input>,
    first: Option<Lines>,
    shows: Selection,
    names: String,
    unparsed: Vec<(String, strace::Unparsed)>,
    seen: Seen,
}

impl Opened {
    /// The lines of input `i`: those already opened to tell the format, or the file opened
    /// now.
    fn lines(&mut self, i: usize) -> Result<Lines, Error> {
        match self.first.take() {
            Some(f) if i == 0 => Ok(f),
            _ => Ok(Box::new(lines(open(&self.inputs[i])?))),
        }
    }

    /// Events to the sink, counted for the summary.
    fn send(&mut self, sink: &mut dyn EventSink, evs: &mut Vec<Event>) {
        for ev in evs.drain(..) {
            self.seen.note(&ev);
            sink.send(ev);
        }
    }

    /// The end: unparsable lines named on stderr (the first few), and what the summary says.
    /// `understood`: lines that were recognised; none at all (and some not) is an error.
    fn end(self, understood: usize) -> SourceEnd {
        let listed = self.unparsed.len().min(MAX_LISTED);
        for (name, u) in &self.unparsed[..listed] {
            eprintln!(
                "reqtrace: {name}:{}: cannot parse this line: {}",
                u.line, u.why
            );
        }
        if self.unparsed.len() > listed {
            eprintln!(
                "reqtrace: ... and {} more lines that could not be parsed",
                self.unparsed.len() - listed
            );
        }
        let late_error = (understood == 0 && !self.unparsed.is_empty()).then(|| {
            Error::Usage(format!(
                "{}: nothing in it is a trace from reqtrace --json or an strace log",
                self.names
            ))
        });
        SourceEnd {
            end: End::EndOfInput,
            processes: self.seen.procs.len() as u64,
            threads: self.seen.threads.len() as u64,
            dropped: 0,
            compat: 0,
            end_ts: self.seen.last_ts,
            unparsed: Some(self.unparsed.len() as u64),
            exit: None,
            late_error,
        }
    }
}

/// A recording or strace logs, opened and recognised.
pub struct Replay {
    /// The source that reads them.
    pub source: Box<dyn Source>,
    /// A recording's boot id (its start line's `boot_id`): the machine and boot it was made
    /// on. `None` for strace logs and recordings without one.
    pub boot_id: Option<String>,
    /// strace logs, which say nothing of the machine they come from (no boot id, no recorded
    /// explanations): without `--fs-root` nothing in them is looked up.
    pub strace_log: bool,
}

/// Open `files` and tell their format from the first non-empty line: a recording (JSON) or
/// strace logs. `shows`: what is printed (`--trace`, `--failed`).
pub fn open_replay(files: &[String], shows: Selection) -> Result<Replay, Error> {
    let inputs = inputs(files)?;
    if inputs.iter().filter(|i| i.path.is_none()).count() > 1 {
        return Err(Error::Usage(
            "standard input (-) can be read only once".into(),
        ));
    }
    let mut first = lines(open(&inputs[0])?).peekable();
    let boot_id = loop {
        match first.peek() {
            Some((_, l)) if l.trim().is_empty() => {
                first.next();
            }
            Some((_, l)) if l.trim_start().starts_with('{') => {
                break Some(recorded::boot_id(l));
            }
            _ => break None,
        }
    };
    let opened = Opened {
        inputs,
        first: Some(Box::new(first)),
        shows,
        names: files.join(" "),
        unparsed: Vec::new(),
        seen: Seen::default(),
    };
    Ok(match boot_id {
        Some(boot_id) => Replay {
            source: Box::new(Recording(opened)),
            boot_id,
            strace_log: false,
        },
        None => Replay {
            source: Box::new(StraceLog(opened)),
            boot_id: None,
            strace_log: true,
        },
    })
}

/// Traces recorded with `reqtrace --json`, as a source.
struct Recording(Opened);

impl Source for Recording {
    fn start(&mut self, _hub: &dyn Hub) -> Result<Vec<i32>, Error> {
        Ok(Vec::new())
    }

    fn run(self: Box<Self>, hub: &dyn Hub) -> Result<SourceEnd, Error> {
        let mut o = self.0;
        let mut sink = hub.replay_sink();
        let mut understood = 0;
        let mut events = Vec::new();
        for i in 0..o.inputs.len() {
            let mut rec = recorded::Reader::new(o.shows.clone(), i);
            for (n, l) in o.lines(i)? {
                rec.line(n, &l, &mut events);
                o.send(&mut *sink, &mut events);
            }
            understood += rec.understood;
            let name = o.inputs[i].name.clone();
            o.unparsed
                .extend(rec.unparsed.into_iter().map(|u| (name.clone(), u)));
        }
        sink.flush();
        Ok(o.end(understood))
    }
}

/// strace logs (one file, or `-ff` per-PID files), as a source.
struct StraceLog(Opened);

impl Source for StraceLog {
    fn start(&mut self, _hub: &dyn Hub) -> Result<Vec<i32>, Error> {
        Ok(Vec::new())
    }

    fn run(self: Box<Self>, hub: &dyn Hub) -> Result<SourceEnd, Error> {
        let mut o = self.0;
        let mut sink = hub.replay_sink();
        let mut reader = strace::Reader::new(o.shows.clone());
        let mut events = Vec::new();
        if o.inputs.len() == 1 {
            // One log: streamed.
            let tid = o.inputs[0].tid;
            for (n, l) in o.lines(0)? {
                reader.line(n, &l, tid, &mut events);
                o.send(&mut *sink, &mut events);
            }
            let name = o.inputs[0].name.clone();
            o.unparsed
                .extend(reader.unparsed.drain(..).map(|u| (name.clone(), u)));
        } else {
            // -ff files: one per thread, merged by time (stable, so a file's own order holds
            // where time stamps tie or are missing).
            for i in 0..o.inputs.len() {
                let tid = o.inputs[i].tid;
                for (n, l) in o.lines(i)? {
                    reader.line(n, &l, tid, &mut events);
                }
                reader.finish();
                let name = o.inputs[i].name.clone();
                o.unparsed
                    .extend(reader.unparsed.drain(..).map(|u| (name.clone(), u)));
            }
            events.sort_by(|a, b| ts_of(a).total_cmp(&ts_of(b)));
            o.send(&mut *sink, &mut events);
        }
        sink.flush();
        let understood = reader.lines.saturating_sub(o.unparsed.len());
        Ok(o.end(understood))
    }
}

/// Processes, threads and the last time stamp seen, for the summary.
#[derive(Default)]
struct Seen {
    procs: std::collections::HashSet<i32>,
    threads: std::collections::HashSet<i32>,
    last_ts: Option<f64>,
}

impl Seen {
    fn note(&mut self, ev: &Event) {
        match ev {
            Event::Syscall(s) => {
                self.procs.insert(s.pid);
                self.threads.insert(s.tid);
                self.last_ts = Some(self.last_ts.map_or(s.ts, |t| t.max(s.ts)));
            }
            // A recording's request names its worker even when its calls were not recorded.
            Event::Request(r) => {
                self.procs.insert(r.pid);
                self.threads.insert(r.tid);
            }
            _ => {}
        }
    }
}

fn ts_of(ev: &Event) -> f64 {
    match ev {
        Event::Syscall(s) => s.ts,
        Event::Started { ts, .. }
        | Event::Exec { ts, .. }
        | Event::Exited { ts, .. }
        | Event::Compat { ts, .. } => *ts,
        Event::Request(r) => r.start_ts,
        Event::Lost { .. } => 0.0,
    }
}
