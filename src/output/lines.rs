//! The last stage of output: a thread that does the blocking writes, so that a reader that
//! stalls (`| (sleep 30; cat)`) stops neither the correlator nor the tracer. Lines wait in a
//! bounded queue; when it is full, syscall lines are dropped first and request records last,
//! and every drop is counted. A closed or failed output is said once on stderr and handed
//! to `signals::output_closed` (attach detaches; run traces on, unprinted).

use std::collections::VecDeque;
use std::io::{self, BufWriter, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::signals;

/// Syscall lines waiting for the reader, at most (≈ 4 MiB of text).
const MAX_SYSCALL_LINES: usize = 16 * 1024;
/// Request records (and start/summary lines) waiting, at most.
const MAX_RECORDS: usize = 8 * 1024;

/// What a line is, which decides what goes first when the reader cannot keep up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Syscall,
    Record,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<(Kind, String)>,
    syscalls: usize,
    records: usize,
    dropped: u64,
    closed: bool,
    broken: bool,
}

type Shared = Arc<(Mutex<Queue>, Condvar)>;

pub struct Lines {
    shared: Shared,
    handle: Option<JoinHandle<()>>,
    /// Wait for room instead of dropping: reading a file (`analyze`) can wait for its reader,
    /// a traced server cannot.
    blocking: bool,
}

impl Lines {
    pub fn start(out: Box<dyn Write + Send>, blocking: bool) -> Lines {
        let shared: Shared = Arc::default();
        let theirs = shared.clone();
        let handle = std::thread::Builder::new()
            .name("reqtrace-output".into())
            .spawn(move || {
                let _ = signals::stop_signals().thread_block();
                write_loop(theirs, out)
            })
            .ok();
        Lines {
            shared,
            handle,
            blocking,
        }
    }

    /// Queue a line; never blocks.
    pub fn push(&self, kind: Kind, line: String) {
        self.push_all(&mut vec![(kind, line)]);
    }

    /// Queue lines (taken from `lines`) under one lock and one wake-up of the output thread.
    /// Blocking (`analyze`), each line waits for room in its own queue: checking for room
    /// once per batch let the lines past the limit be dropped (a batch is up to
    /// BATCH_LINES and more at the end), which lost lines a reader of a file must get.
    pub fn push_all(&self, lines: &mut Vec<(Kind, String)>) {
        if lines.is_empty() {
            return;
        }
        let (lock, cv) = &*self.shared;
        let Ok(mut q) = lock.lock() else { return };
        for (kind, line) in lines.drain(..) {
            while self.blocking && !q.broken && q.full(kind) {
                cv.notify_one();
                drop(q);
                std::thread::sleep(std::time::Duration::from_millis(1));
                q = match lock.lock() {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
            q.push(kind, line);
        }
        cv.notify_one();
    }
}

impl Lines {
    /// Queue the last line of the output (the summary), whatever the queue holds: it is the
    /// one line that says what was dropped, so it is never dropped itself. One line past the
    /// bound costs nothing; nothing is queued after it.
    pub fn push_last(&self, line: String) {
        let (lock, cv) = &*self.shared;
        let Ok(mut q) = lock.lock() else { return };
        if !q.broken {
            q.records += 1;
            q.items.push_back((Kind::Record, line));
        }
        cv.notify_one();
    }
}

impl Queue {
    /// Whether a line of this kind would be dropped now.
    fn full(&self, kind: Kind) -> bool {
        match kind {
            Kind::Syscall => self.syscalls >= MAX_SYSCALL_LINES,
            Kind::Record => self.records >= MAX_RECORDS,
        }
    }

    fn push(&mut self, kind: Kind, line: String) {
        let q = self;
        if q.broken {
            return;
        }
        match kind {
            Kind::Syscall if q.syscalls >= MAX_SYSCALL_LINES => {
                q.dropped += 1;
                return;
            }
            Kind::Record if q.records >= MAX_RECORDS => {
                // Make room by dropping a waiting syscall line; only when there is none is
                // a record lost.
                match q.items.iter().position(|(k, _)| *k == Kind::Syscall) {
                    Some(i) => {
                        q.items.remove(i);
                        q.syscalls -= 1;
                        q.dropped += 1;
                    }
                    None => {
                        q.dropped += 1;
                        return;
                    }
                }
            }
            _ => {}
        }
        match kind {
            Kind::Syscall => q.syscalls += 1,
            Kind::Record => q.records += 1,
        }
        q.items.push_back((kind, line));
    }
}

impl Lines {
    /// Lines dropped so far because the reader could not keep up.
    pub fn dropped(&self) -> u64 {
        self.shared.0.lock().map(|q| q.dropped).unwrap_or(0)
    }

    /// Whether the output is closed or failed (nothing more will be written).
    pub fn broken(&self) -> bool {
        self.shared.0.lock().map(|q| q.broken).unwrap_or(true)
    }

    /// Write out what is queued and stop the thread.
    pub fn finish(mut self) {
        {
            let (lock, cv) = &*self.shared;
            if let Ok(mut q) = lock.lock() {
                q.closed = true;
            }
            cv.notify_one();
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn write_loop(shared: Shared, out: Box<dyn Write + Send>) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let (lock, cv) = &*shared;
    loop {
        let (batch, closed) = {
            let Ok(mut q) = lock.lock() else { return };
            while q.items.is_empty() && !q.closed {
                q = match cv.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
            q.syscalls = 0;
            q.records = 0;
            (std::mem::take(&mut q.items), q.closed)
        };
        let mut failed = None;
        for (_, line) in &batch {
            if let Err(e) = out.write_all(line.as_bytes()) {
                failed = Some(e);
                break;
            }
        }
        // Flush when the queue ran dry: lines appear live, yet a busy trace is batched.
        if failed.is_none()
            && let Err(e) = out.flush()
        {
            failed = Some(e);
        }
        if let Some(e) = failed {
            if let Ok(mut q) = lock.lock() {
                q.broken = true;
                q.items.clear();
            }
            let detaching = signals::output_closed();
            let next = if detaching {
                "detaching"
            } else {
                "nothing more is printed; the command runs on to its end"
            };
            // A reader that closed the pipe (`| head`) in attach mode is the usual end of
            // a trace, not worth a word; in run mode the trace goes on unseen: say so.
            if e.kind() != io::ErrorKind::BrokenPipe {
                crate::say!("reqtrace: writing output failed: {e}; {next}");
            } else if !detaching {
                crate::say!("reqtrace: output closed (broken pipe); {next}");
            }
            return;
        }
        if closed && lock.lock().map(|q| q.items.is_empty()).unwrap_or(true) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A writer that blocks until told to go on: a reader that stalls.
    struct Stalled {
        go: mpsc::Receiver<()>,
        out: Arc<Mutex<Vec<u8>>>,
        waited: bool,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if !self.waited {
                let _ = self.go.recv();
                self.waited = true;
            }
            self.out.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_reader_loses_syscall_lines_first_and_records_last() {
        let (go_tx, go_rx) = mpsc::channel();
        let text = Arc::new(Mutex::new(Vec::new()));
        let lines = Lines::start(
            Box::new(Stalled {
                go: go_rx,
                out: text.clone(),
                waited: false,
            }),
            false,
        );
        // The first line is taken by the writer thread, which then blocks on the reader.
        lines.push(Kind::Record, "first\n".into());
        std::thread::sleep(std::time::Duration::from_millis(100));
        for i in 0..MAX_SYSCALL_LINES + 10 {
            lines.push(Kind::Syscall, format!("s{i}\n"));
        }
        assert_eq!(
            lines.dropped(),
            10,
            "syscall lines beyond the bound are dropped"
        );
        for i in 0..MAX_RECORDS + 3 {
            lines.push(Kind::Record, format!("r{i}\n"));
        }
        // Records made room by evicting waiting syscall lines: no record lost.
        assert_eq!(lines.dropped(), 13);
        go_tx.send(()).unwrap();
        lines.finish();
        let text = String::from_utf8(text.lock().unwrap().clone()).unwrap();
        let records = text.lines().filter(|l| l.starts_with('r')).count();
        assert_eq!(records, MAX_RECORDS + 3);
        assert!(text.starts_with("first\n"));
        assert!(text.ends_with(&format!("r{}\n", MAX_RECORDS + 2)));
    }

    /// A blocking queue (`analyze`) handed one batch larger than its bound while the reader
    /// stalls: every line waits for room, none is dropped (the check for room was made once
    /// per batch, and the lines past the bound were dropped).
    #[test]
    fn a_blocking_queue_loses_nothing_of_a_batch_larger_than_its_bound() {
        let (go_tx, go_rx) = mpsc::channel();
        let text = Arc::new(Mutex::new(Vec::new()));
        let lines = Lines::start(
            Box::new(Stalled {
                go: go_rx,
                out: text.clone(),
                waited: false,
            }),
            true,
        );
        lines.push(Kind::Record, "first\n".into());
        std::thread::sleep(std::time::Duration::from_millis(100));
        let n = MAX_SYSCALL_LINES + 500;
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            go_tx.send(()).unwrap();
        });
        let mut batch: Vec<(Kind, String)> =
            (0..n).map(|i| (Kind::Syscall, format!("s{i}\n"))).collect();
        lines.push_all(&mut batch);
        releaser.join().unwrap();
        assert_eq!(lines.dropped(), 0);
        lines.finish();
        let text = String::from_utf8(text.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().filter(|l| l.starts_with('s')).count(), n);
    }

    #[test]
    fn the_last_line_is_kept_when_records_are_dropped() {
        let (go_tx, go_rx) = mpsc::channel();
        let text = Arc::new(Mutex::new(Vec::new()));
        let lines = Lines::start(
            Box::new(Stalled {
                go: go_rx,
                out: text.clone(),
                waited: false,
            }),
            false,
        );
        lines.push(Kind::Record, "first\n".into());
        std::thread::sleep(std::time::Duration::from_millis(100));
        for i in 0..MAX_RECORDS + 5 {
            lines.push(Kind::Record, format!("r{i}\n"));
        }
        assert_eq!(lines.dropped(), 5);
        lines.push_last("summary\n".into());
        assert_eq!(lines.dropped(), 5, "the last line is never dropped");
        go_tx.send(()).unwrap();
        lines.finish();
        let text = String::from_utf8(text.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with(&format!("r{}\nsummary\n", MAX_RECORDS - 1)));
    }
}
