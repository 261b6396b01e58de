//! Output: a writer thread that formats events (human text or JSON Lines) and writes them
//! buffered, off the tracer's critical path. The tracer hands events over a bounded queue and
//! never blocks on a slow reader: when the queue is full the event is dropped and counted.
//! A closed pipe (`| head`) asks the tracer to detach and stop.

pub mod escape;
pub mod human;
pub mod json;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use crate::error::Error;
use crate::event::Event;
use crate::signals;
use crate::tracer::EventSink;

/// Events queued between tracer and writer before dropping starts.
const QUEUE: usize = 65536;

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
    pub duration_s: f64,
    pub reason: String,
}

enum Msg {
    Event(Event),
    Raw(String),
    Finish(Box<Summary>),
}

/// Open the output: stdout, or FILE created 0600 and never through a symlink planted there.
pub fn open_output(path: Option<&str>) -> Result<(Box<dyn Write + Send>, bool), Error> {
    match path {
        None | Some("-") => {
            let tty = io::stdout().is_terminal();
            Ok((Box::new(io::stdout()), tty))
        }
        Some(p) => {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(p)
                .map_err(|e| Error::Output {
                    path: p.to_string(),
                    why: if e.raw_os_error() == Some(libc::ELOOP) {
                        "it is a symbolic link; refusing to write through it".into()
                    } else {
                        e.to_string()
                    },
                })?;
            Ok((Box::new(f), false))
        }
    }
}

/// Writes preformatted lines into the same ordered queue.
pub struct LineSender(SyncSender<Msg>);

impl LineSender {
    pub fn send_line(&self, s: String) {
        let _ = self.0.send(Msg::Raw(s));
    }
}

/// The tracer's end of the queue.
pub struct Writer {
    tx: SyncSender<Msg>,
    handle: Option<JoinHandle<Summary>>,
    dropped: u64,
}

impl EventSink for Writer {
    fn send(&mut self, ev: Event) {
        // Only syscalls are printed; process events are for the correlator.
        if !matches!(ev, Event::Syscall(_)) {
            return;
        }
        match self.tx.try_send(Msg::Event(ev)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.dropped += 1,
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl Writer {
    pub fn start(out: Box<dyn Write + Send>, format: Format, color: bool) -> Writer {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let handle = std::thread::Builder::new()
            .name("reqtrace-writer".into())
            .spawn(move || {
                block_stop_signals();
                write_loop(rx, out, format, color)
            })
            .expect("spawning the writer thread");
        Writer {
            tx,
            handle: Some(handle),
            dropped: 0,
        }
    }

    /// A handle that writes whole lines as they are (the start line), usable while the
    /// tracer holds the writer.
    pub fn line_sender(&self) -> LineSender {
        LineSender(self.tx.clone())
    }

    /// Finish: write the summary, flush, and wait for the writer thread.
    pub fn finish(mut self, mut sum: Summary) -> Summary {
        sum.dropped += self.dropped;
        let _ = self.tx.send(Msg::Finish(Box::new(sum.clone())));
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(s)) => s,
            _ => sum,
        }
    }
}

/// The writer thread must not take the signals meant to wake the tracer thread.
fn block_stop_signals() {
    let _ = signals::stop_signals().thread_block();
}

fn write_loop(
    rx: Receiver<Msg>,
    out: Box<dyn Write + Send>,
    format: Format,
    color: bool,
) -> Summary {
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    let mut sum = Summary::default();
    let mut broken = false;
    let write = |out: &mut io::BufWriter<_>, s: &str, broken: &mut bool| {
        if *broken {
            return;
        }
        if let Err(e) = out.write_all(s.as_bytes()) {
            on_write_error(&e, broken);
        }
    };
    loop {
        // Flush whenever the queue runs dry: lines appear live, yet a busy trace is batched.
        let msg = match rx.try_recv() {
            Ok(m) => m,
            Err(mpsc::TryRecvError::Empty) => {
                if !broken && let Err(e) = out.flush() {
                    on_write_error(&e, &mut broken);
                }
                match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
        };
        match msg {
            Msg::Raw(s) => write(&mut out, &s, &mut broken),
            Msg::Event(Event::Syscall(ev)) => {
                sum.syscalls += 1;
                if let Some(e) = ev.errno {
                    sum.failed += 1;
                    *sum.by_errno.entry(e).or_default() += 1;
                }
                let line = match format {
                    Format::Human => human::format_syscall(&ev, color),
                    Format::Json => json::syscall_line(&ev),
                };
                write(&mut out, &line, &mut broken);
            }
            Msg::Event(_) => {}
            Msg::Finish(s) => {
                sum.processes = s.processes;
                sum.threads = s.threads;
                sum.dropped = s.dropped;
                sum.duration_s = s.duration_s;
                sum.reason = s.reason;
                match format {
                    Format::Json => write(&mut out, &json::summary_line(&sum), &mut broken),
                    Format::Human => {
                        if sum.dropped > 0 || !broken {
                            eprintln!(
                                "reqtrace: {} syscalls shown ({} failed), {} processes, {} threads; {}",
                                sum.syscalls, sum.failed, sum.processes, sum.threads, sum.reason
                            );
                        }
                    }
                }
                if sum.dropped > 0 {
                    eprintln!(
                        "reqtrace: {} events dropped because the output could not keep up",
                        sum.dropped
                    );
                }
                if !broken {
                    let _ = out.flush();
                }
                break;
            }
        }
    }
    sum
}

fn on_write_error(e: &io::Error, broken: &mut bool) {
    *broken = true;
    if e.kind() != io::ErrorKind::BrokenPipe {
        eprintln!("reqtrace: writing output failed: {e}; detaching");
    }
    signals::request_stop(signals::REASON_OUTPUT_CLOSED);
}
