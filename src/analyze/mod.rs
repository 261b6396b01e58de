//! Traces read from files instead of live processes, as event sources: a recording made with
//! `reqtrace ... --json` (recorded.rs) or strace logs (strace.rs) become the same events a
//! live run produces and go through the same pipeline: the same filters (`--url`,
//! `--failed`, `--all`, `--trace`), correlation, diagnosis and printers. This module owns
//! finding the input files (`-` for stdin, strace `-ff` prefixes), telling the two formats
//! apart, and reporting unparsable lines. Where the diagnosis may look at files is decided
//! by app.rs from what [`Replay::boot_id`] says. A recording and strace logs are two
//! sources ([`Recording`], [`StraceLog`]) sharing how inputs are opened and ended. Memory is
//! bounded whatever the input: a line is kept up to [`MAX_LINE`] bytes, and unparsable
//! lines are counted, only the first few kept to be named.

pub mod recorded;
pub mod strace;
pub mod strace_line;

use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::event::select::Selection;
use crate::event::{End, Event, EventSink, Hub, Source, SourceEnd};

/// Unparsable lines listed on stderr at most (all are counted).
const MAX_LISTED: usize = 10;
/// Longest line read, in bytes: far longer than any line reqtrace writes (a request with ten
/// suspects and their references is a few KiB) or strace does (`-s 65536` escapes to about
/// 256 KiB), and short enough that an input without line ends (`/dev/zero`) costs 1 MiB, not
/// all the memory there is. The rest of a longer line is read and skipped.
pub const MAX_LINE: usize = 1 << 20;
/// Why a longer line is not parsed.
const TOO_LONG: &str = "longer than 1 MiB (the rest of it was skipped): not a line of a trace";

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
        if p.is_dir() {
            return Err(Error::Input(format!(
                "{f} is a directory: give a trace file, or the -o PREFIX given to strace -ff \
                 for its PREFIX.PID files"
            )));
        }
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

/// One line of an input.
enum Text {
    /// The line, as text (strace and JSON are ASCII/UTF-8; stray bytes become U+FFFD rather
    /// than an error).
    Line(String),
    /// A line longer than MAX_LINE, skipped.
    TooLong,
    /// Reading failed: the input ends here.
    Failed(io::Error),
}

/// Read one line into `buf` (cleared first), keeping at most MAX_LINE bytes of it and
/// skipping the rest up to its line end. `None` at the end of the input, else whether the
/// line was cut.
fn read_line(r: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    let (mut any, mut cut) = (false, false);
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(any.then_some(cut));
        }
        any = true;
        let (used, end) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        cut |= used > room;
        buf.extend_from_slice(&avail[..used.min(room)]);
        r.consume(used);
        if end {
            return Ok(Some(cut));
        }
    }
}

/// Lines of a reader, numbered from 1; a read error is the last item.
fn lines(r: Box<dyn BufRead>) -> impl Iterator<Item = (usize, Text)> {
    let mut r = r;
    let mut n = 0;
    let mut buf = Vec::new();
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        n += 1;
        match read_line(&mut *r, &mut buf) {
            Ok(None) => None,
            Ok(Some(true)) => Some((n, Text::TooLong)),
            Ok(Some(false)) => Some((n, Text::Line(String::from_utf8_lossy(&buf).into_owned()))),
            Err(e) => {
                failed = true;
                Some((n, Text::Failed(e)))
            }
        }
    })
}

type Lines = Box<dyn Iterator<Item = (usize, Text)>>;

/// The files given, opened: the first input's lines already read up to its first non-empty
/// line, which told the format.
struct Opened {
    inputs: Vec<Input>,
    first: Option<Lines>,
    shows: Selection,
    names: String,
    /// The first MAX_LISTED unparsable lines, with their input's name, and how many in all.
    listed: Vec<(String, strace::Unparsed)>,
    unparsed: u64,
    /// Why reading an input failed, if it did.
    read_error: Option<String>,
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

    /// Count the unparsable lines a reader found in input `i` (taken from `found`), keeping
    /// only the first few: a file of junk must not be kept line by line.
    fn unparsed(&mut self, i: usize, found: &mut Vec<strace::Unparsed>) {
        for u in found.drain(..) {
            self.unparsed += 1;
            if self.listed.len() < MAX_LISTED {
                self.listed.push((self.inputs[i].name.clone(), u));
            }
        }
    }

    /// Reading input `i` failed: it ends there, and analyze will exit 2 saying so.
    fn failed(&mut self, i: usize, e: &io::Error) {
        if self.read_error.is_none() {
            self.read_error = Some(format!(
                "cannot read {}: {e}; what was read before is reported above",
                self.inputs[i].name
            ));
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
    /// `understood`: lines that were recognised (blank lines are not); none at all is an
    /// error (exit 2), and so is a failed read.
    fn end(self, understood: usize) -> SourceEnd {
        for (name, u) in &self.listed {
            crate::say!(
                "reqtrace: {name}:{}: cannot parse this line: {}",
                u.line,
                u.why
            );
        }
        let more = self.unparsed - self.listed.len() as u64;
        if more > 0 {
            crate::say!("reqtrace: ... and {more} more lines that could not be parsed");
        }
        let late_error = match self.read_error {
            Some(e) => Some(Error::Input(e)),
            None if understood == 0 => Some(Error::Input(format!(
                "{}: nothing in it is a trace from reqtrace --json or an strace log{}",
                self.names,
                if self.unparsed == 0 {
                    " (it is empty, or blank lines only)"
                } else {
                    ""
                }
            ))),
            None => None,
        };
        SourceEnd {
            end: End::EndOfInput,
            processes: self.seen.procs.len() as u64,
            threads: self.seen.threads.len() as u64,
            dropped: 0,
            compat: 0,
            end_ts: self.seen.last_ts,
            unparsed: Some(self.unparsed),
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
    /// Each input's (device, inode) and name, to refuse an output that would overwrite one.
    ids: Vec<(u64, u64, String)>,
}

impl Replay {
    /// The input that `path` is (the same file, whatever its name), if any: writing the
    /// output there would truncate it before it is read.
    pub fn input_at(&self, path: &str) -> Option<&str> {
        let m = std::fs::metadata(path).ok()?;
        self.ids
            .iter()
            .find(|(dev, ino, _)| (*dev, *ino) == (m.dev(), m.ino()))
            .map(|(_, _, name)| name.as_str())
    }
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
    let ids = inputs
        .iter()
        .filter_map(|i| {
            let m = std::fs::metadata(i.path.as_deref().unwrap_or(Path::new("/dev/stdin"))).ok()?;
            Some((m.dev(), m.ino(), i.name.clone()))
        })
        .collect();
    let mut first = lines(open(&inputs[0])?).peekable();
    let boot_id = loop {
        match first.peek() {
            Some((_, Text::Line(l))) if l.trim().is_empty() => {
                first.next();
            }
            Some((_, Text::Line(l))) if l.trim_start().starts_with('{') => {
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
        listed: Vec::new(),
        unparsed: 0,
        read_error: None,
        seen: Seen::default(),
    };
    Ok(match boot_id {
        Some(boot_id) => Replay {
            source: Box::new(Recording(opened)),
            boot_id,
            strace_log: false,
            ids,
        },
        None => Replay {
            source: Box::new(StraceLog(opened)),
            boot_id: None,
            strace_log: true,
            ids,
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
                match l {
                    Text::Line(l) => rec.line(n, &l, &mut events),
                    Text::TooLong => rec.unparsed.push(too_long(n)),
                    Text::Failed(e) => o.failed(i, &e),
                }
                o.unparsed(i, &mut rec.unparsed);
                o.send(&mut *sink, &mut events);
            }
            understood += rec.understood;
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
                match l {
                    Text::Line(l) => reader.line(n, &l, tid, &mut events),
                    Text::TooLong => reader.unparsed.push(too_long(n)),
                    Text::Failed(e) => o.failed(0, &e),
                }
                o.unparsed(0, &mut reader.unparsed);
                o.send(&mut *sink, &mut events);
            }
        } else {
            // -ff files: one per thread, merged by time (stable, so a file's own order holds
            // where time stamps tie or are missing).
            for i in 0..o.inputs.len() {
                let tid = o.inputs[i].tid;
                for (n, l) in o.lines(i)? {
                    match l {
                        Text::Line(l) => reader.line(n, &l, tid, &mut events),
                        Text::TooLong => reader.unparsed.push(too_long(n)),
                        Text::Failed(e) => o.failed(i, &e),
                    }
                    o.unparsed(i, &mut reader.unparsed);
                }
                reader.finish();
            }
            events.sort_by(|a, b| ts_of(a).total_cmp(&ts_of(b)));
            o.send(&mut *sink, &mut events);
        }
        sink.flush();
        Ok(o.end(reader.understood))
    }
}

/// A line skipped for its length, as an unparsable line.
fn too_long(line: usize) -> strace::Unparsed {
    strace::Unparsed {
        line,
        why: TOO_LONG,
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
