//! `reqtrace analyze`: traces read from files instead of live processes. A recording made
//! with `reqtrace ... --json` (recorded.rs) or strace logs (strace.rs) become the same events
//! and requests a live run produces, and go through the same writer: the same filters
//! (`--url`, `--failed`, `--all`, `--trace`), diagnosis and printers. This module owns finding
//! the input files (`-` for stdin, strace `-ff` prefixes), telling the two formats apart,
//! reporting unparsable lines, and where the diagnosis may look at files (`--fs-root`).

pub mod recorded;
pub mod strace;
pub mod strace_line;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::cli::Shown;
use crate::error::{Error, ExitCode};
use crate::event::{Event, SyscallEvent};
use crate::http::urlmatch::UrlFilter;
use crate::output::{self, Format, Pipeline, Summary, Writer};
use crate::syscalls::table::Catalogue;
use crate::tracer::Select;

/// Unparsable lines listed on stderr at most (all are counted).
const MAX_LISTED: usize = 10;
/// Events handed to the writer together.
const BATCH: usize = 512;

/// Which calls are printed: `--trace` and `--failed`, decided per event as the tracer does.
pub struct Shows {
    cat: Catalogue,
    select: Vec<Select>,
    failed_only: bool,
}

impl Shows {
    pub fn new(trace: &str, failed_only: bool) -> Result<Shows, Error> {
        let cat = Catalogue::new();
        let select = crate::app::selection(trace, &cat, false)?;
        Ok(Shows {
            cat,
            select,
            failed_only,
        })
    }

    /// This architecture's number of a syscall (0 when it has none).
    pub fn number(&self, name: &str) -> u64 {
        self.cat.number(name).unwrap_or(0)
    }

    pub fn shown(&self, ev: &SyscallEvent) -> bool {
        let Some(nr) = self.cat.number(ev.name) else {
            return false;
        };
        let Some(Select::Print(mask)) = self.select.get(nr as usize).copied() else {
            return false;
        };
        let flavour_ok = ev
            .stat_kind
            .is_none_or(|k| mask & crate::tracer::flavour_bit(k) != 0);
        flavour_ok && !(self.failed_only && ev.errno.is_none())
    }
}

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

/// The lines of `input`: those already opened to tell the format (the first input's), or the
/// file opened now.
fn source(first: &mut Option<Lines>, input: &Input) -> Result<Lines, Error> {
    match first.take() {
        Some(f) => Ok(f),
        None => Ok(Box::new(lines(open(input)?))),
    }
}

/// What the first non-empty line says the input is.
#[derive(PartialEq)]
enum Kind {
    Recorded { boot_id: Option<String> },
    Strace,
}

/// Run `reqtrace analyze`.
pub fn run(
    files: &[String],
    fs_root: Option<String>,
    config: Option<String>,
    shown: &Shown,
) -> Result<ExitCode, Error> {
    let inputs = inputs(files)?;
    if inputs.iter().filter(|i| i.path.is_none()).count() > 1 {
        return Err(Error::Usage(
            "standard input (-) can be read only once".into(),
        ));
    }
    if let Some(r) = &fs_root
        && !Path::new(r).is_dir()
    {
        return Err(Error::Usage(format!(
            "--fs-root {r}: not a directory: give where the traced machine's / is found here"
        )));
    }
    let shows = Shows::new(&shown.trace, shown.failed)?;
    // The first input decides the format; its first line is read before the writer starts,
    // because a recording made on this machine may be looked at here.
    let mut first = lines(open(&inputs[0])?).peekable();
    let kind = loop {
        match first.peek() {
            Some((_, l)) if l.trim().is_empty() => {
                first.next();
            }
            Some((_, l)) if l.trim_start().starts_with('{') => {
                break Kind::Recorded {
                    boot_id: recorded::boot_id(l),
                };
            }
            _ => break Kind::Strace,
        }
    };
    let root = match (&fs_root, &kind) {
        (Some(r), _) => Some(PathBuf::from(r)),
        (None, Kind::Recorded { boot_id: Some(b) })
            if crate::procinfo::boot_id().as_deref() == Some(b.as_str()) =>
        {
            Some(PathBuf::from("/"))
        }
        _ => None,
    };
    let (out, tty) = output::open_output(shown.output.as_deref())?;
    let format = if shown.json {
        Format::Json
    } else {
        Format::Human
    };
    let color = format == Format::Human && crate::app::use_color(shown.color, tty);
    let writer = Writer::start(
        out,
        format,
        color,
        Pipeline {
            correlate: kind == Kind::Strace,
            show_syscalls: shown.syscalls,
            url: shown.url.as_deref().map(UrlFilter::new),
            show_noise: shown.all,
            show_secrets: shown.show_secrets,
            summary: shown.summary,
            status_line: false,
            count: None,
            seen: None,
            offline: Some(crate::diagnose::Offline { root, config }),
        },
    );
    let mut first: Option<Lines> = Some(Box::new(first));
    let mut unparsed: Vec<(String, strace::Unparsed)> = Vec::new();
    let mut understood = 0usize;
    let mut seen = Seen::default();
    match kind {
        Kind::Recorded { .. } => {
            for input in &inputs {
                let src = source(&mut first, input)?;
                let mut rec = recorded::Reader::new(Shows::new(&shown.trace, shown.failed)?);
                let mut events = Vec::new();
                for (n, l) in src {
                    match rec.line(n, &l) {
                        recorded::Item::Syscall(ev, id) => {
                            seen.note(&ev);
                            events.push((ev, id));
                        }
                        recorded::Item::Request(r) => {
                            seen.procs.insert(r.pid);
                            seen.threads.insert(r.tid);
                            writer.replay(std::mem::take(&mut events), vec![*r]);
                        }
                        recorded::Item::Nothing => {}
                    }
                    if events.len() >= BATCH {
                        writer.replay(std::mem::take(&mut events), Vec::new());
                    }
                }
                writer.replay(events, Vec::new());
                understood += rec.understood;
                unparsed.extend(rec.unparsed.into_iter().map(|u| (input.name.clone(), u)));
            }
        }
        Kind::Strace => {
            let mut reader = strace::Reader::new(shows);
            if inputs.len() == 1 {
                // One log: streamed.
                let mut events = Vec::new();
                for (n, l) in first.take().into_iter().flatten() {
                    reader.line(n, &l, inputs[0].tid, &mut events);
                    if events.len() >= BATCH {
                        events.iter().for_each(|e| seen.note(e));
                        writer.feed(std::mem::take(&mut events));
                    }
                }
                events.iter().for_each(|e| seen.note(e));
                writer.feed(events);
                unparsed.extend(
                    reader
                        .unparsed
                        .drain(..)
                        .map(|u| (inputs[0].name.clone(), u)),
                );
            } else {
                // -ff files: one per thread, merged by time (stable, so a file's own order
                // holds where time stamps tie or are missing).
                let mut all: Vec<Event> = Vec::new();
                for input in &inputs {
                    let src = source(&mut first, input)?;
                    for (n, l) in src {
                        reader.line(n, &l, input.tid, &mut all);
                    }
                    reader.finish();
                    unparsed.extend(reader.unparsed.drain(..).map(|u| (input.name.clone(), u)));
                }
                all.sort_by(|a, b| ts_of(a).total_cmp(&ts_of(b)));
                all.iter().for_each(|e| seen.note(e));
                for chunk in all.chunks(BATCH) {
                    writer.feed(chunk.to_vec());
                }
            }
            understood = reader.lines.saturating_sub(unparsed.len());
        }
    }
    let listed = unparsed.len().min(MAX_LISTED);
    for (name, u) in &unparsed[..listed] {
        eprintln!(
            "reqtrace: {name}:{}: cannot parse this line: {}",
            u.line, u.why
        );
    }
    if unparsed.len() > listed {
        eprintln!(
            "reqtrace: ... and {} more lines that could not be parsed",
            unparsed.len() - listed
        );
    }
    let sum = writer.finish(Summary {
        processes: seen.procs.len() as u64,
        threads: seen.threads.len() as u64,
        reason: "end of input".into(),
        end_ts: seen.last_ts,
        unparsed: Some(unparsed.len() as u64),
        ..Summary::default()
    });
    let _ = sum;
    if understood == 0 && !unparsed.is_empty() {
        return Err(Error::Usage(format!(
            "{}: nothing in it is a trace from reqtrace --json or an strace log",
            files.join(" ")
        )));
    }
    Ok(ExitCode::Done)
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
        if let Event::Syscall(s) = ev {
            self.procs.insert(s.pid);
            self.threads.insert(s.tid);
            self.last_ts = Some(self.last_ts.map_or(s.ts, |t| t.max(s.ts)));
        }
    }
}

fn ts_of(ev: &Event) -> f64 {
    match ev {
        Event::Syscall(s) => s.ts,
        Event::Started { ts, .. } | Event::Exec { ts, .. } | Event::Exited { ts, .. } => *ts,
    }
}
