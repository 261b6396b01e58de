//! The writer thread's work per event: correlate (http/), print the syscall line if it is
//! shown, diagnose every request that finished (diagnose/) and print its record; keep the
//! counts for the summary, the `--summary` tally, `--count`, `--probe`'s verdicts and the
//! status line.

use std::collections::HashSet;

use crate::diagnose::{Diagnoser, rank};
use crate::event::{Event, SyscallEvent};
use crate::http::correlate::{Correlator, Request};
use crate::http::redact;
use crate::output::lines::{Kind, Lines};
use crate::output::{Printer, Summary, report, tally::Tally};
use crate::signals;
use crate::syscalls::class;

use super::{Closing, STATUS_EVERY, Seen, Settings};

pub(super) struct State {
    pub settings: Settings,
    correlator: Correlator,
    diag: Diagnoser,
    pub sum: Summary,
    done: Vec<Request>,
    /// Lines formatted since the last hand-over to the output thread.
    pub lines: Vec<(Kind, String)>,
    tally: Tally,
    /// Processes traced now (for the status line).
    live: HashSet<i32>,
    /// Events the sources reported lost.
    lost: u64,
}

impl State {
    pub fn new(settings: Settings) -> State {
        let diag = match settings.offline.clone() {
            Some(o) => Diagnoser::offline(settings.show_noise, o),
            None => Diagnoser::new(settings.show_noise),
        };
        State {
            settings,
            correlator: Correlator::new(),
            diag,
            sum: Summary::default(),
            done: Vec::new(),
            lines: Vec::new(),
            tally: Tally::default(),
            live: HashSet::new(),
            lost: 0,
        }
    }

    fn printer(&self) -> Printer {
        self.settings.printer
    }

    /// What erases the status line (when there is one) before a line of reqtrace's own.
    pub fn clear_status(&self) -> &'static str {
        if self.settings.status_line {
            "\r\x1b[K"
        } else {
            ""
        }
    }

    pub fn event(&mut self, ev: Event) {
        match &ev {
            Event::Started { pid, .. } => {
                self.live.insert(*pid);
            }
            Event::Exited { pid, tid, .. } if pid == tid => {
                self.live.remove(pid);
            }
            Event::Lost { count } => self.lost += count,
            Event::Compat { pid, comm, .. } => {
                // On its own line, not inside the status line.
                crate::say!(
                    "{}{}",
                    self.clear_status(),
                    Printer::compat_warning(*pid, comm)
                );
            }
            _ => {}
        }
        let request = self.correlator.feed(&ev, &mut self.done);
        self.print(&ev, request);
        self.reports();
    }

    /// Count and format a syscall line (`request`: the request it belongs to).
    fn print(&mut self, ev: &Event, request: Option<u64>) {
        let Event::Syscall(ev) = ev else {
            return;
        };
        if !ev.shown {
            return;
        }
        if self.settings.summary {
            self.tally.failure(ev);
        }
        if self.settings.show_syscalls {
            self.sum.syscalls += 1;
            if let Some(e) = ev.errno {
                self.sum.failed += 1;
                *self.sum.by_errno.entry(e).or_default() += 1;
            }
            let redacted = self.exec_without_query_words(ev);
            let line = self
                .printer()
                .syscall(redacted.as_ref().unwrap_or(ev), request);
            self.lines.push((Kind::Syscall, line));
        }
    }

    /// An exec that got the query words of a request being served as arguments, with them
    /// REDACTED (unless --show-secrets): a CGI script gets a query without `=` as argv. Its
    /// exec is made by a process the request is not tied to (the worker's fork, mod_cgid's
    /// daemon), so every open request's words are looked for.
    fn exec_without_query_words(&self, ev: &SyscallEvent) -> Option<SyscallEvent> {
        if self.printer().show_secrets || ev.class & class::EXEC == 0 {
            return None;
        }
        let words: Vec<Vec<u8>> = self
            .correlator
            .open_requests()
            .filter_map(|r| r.target.as_deref())
            .flat_map(redact::cgi_argv_words)
            .collect();
        redact::exec_without_words(ev, &words)
    }

    /// Refresh the status line on stderr, at most once per STATUS_EVERY.
    pub fn status(&self, sink: &Lines, at: &mut std::time::Instant) {
        if let Some(line) = self.status_due(sink, at) {
            crate::stderr::raw(&line);
        }
    }

    /// The status line when it is due (at most once per STATUS_EVERY), for a caller that
    /// writes it where a stalled terminal blocks nobody else.
    pub fn status_due(&self, sink: &Lines, at: &mut std::time::Instant) -> Option<String> {
        if at.elapsed() < STATUS_EVERY {
            return None;
        }
        *at = std::time::Instant::now();
        Some(format!(
            "\r\x1b[Kreqtrace: {} processes traced, {} requests ({} needing attention), {} dropped",
            self.live.len(),
            self.sum.requests,
            self.sum.requests_failed,
            self.lost + sink.dropped()
        ))
    }

    /// Whether finished requests wait for their FastCGI leg (a live source then ticks).
    pub fn holding(&self) -> bool {
        self.correlator.holding()
    }

    /// Wall-clock time passed with no event (a live source): requests held for their
    /// FastCGI leg longer than the correlator's bound are reported.
    pub fn tick(&mut self, now: f64) {
        self.correlator.release_held(now, &mut self.done);
        self.reports();
    }

    /// The end, for either pipeline: the lines so far handed over, the status line cleared,
    /// every request still open finished and reported, the summary written (`close`);
    /// returns the closing lines for stderr.
    pub fn end(&mut self, sink: &Lines, c: Closing) -> Vec<String> {
        sink.push_all(&mut self.lines);
        crate::stderr::raw(self.clear_status());
        self.finish_all(c.end_ts.unwrap_or_else(crate::event::now));
        sink.push_all(&mut self.lines);
        let closing = self.close(sink, c);
        sink.push_all(&mut self.lines);
        closing
    }

    /// The end: every request still open is finished at `ts` and reported.
    fn finish_all(&mut self, ts: f64) {
        self.correlator.finish_all(ts, &mut self.done);
        self.reports();
    }

    /// Diagnose and print the requests finished so far.
    fn reports(&mut self) {
        for req in std::mem::take(&mut self.done) {
            // A request we know nothing of (no start seen, no status) is not worth a line.
            if req.method.is_none() && req.status.is_none() {
                continue;
            }
            if let Some(f) = &self.settings.url {
                match &req.target {
                    Some(t) if f.matches(&rank::url_path(t)) => {}
                    _ => continue,
                }
            }
            // --count N: once N are reported, the ones still in flight at detach are not.
            if self.settings.count.is_some_and(|n| self.sum.requests >= n) {
                continue;
            }
            if self.settings.summary {
                self.tally.request(req.status);
            }
            let r = self.diag.diagnose(req);
            self.sum.requests += 1;
            if report::needs_attention(&r) {
                self.sum.requests_failed += 1;
            }
            let text = self.printer().record(&r);
            self.lines.push((Kind::Record, text));
            if let Some(tx) = &self.settings.seen {
                let _ = tx.send(Seen {
                    method: r.request.method.clone(),
                    target: r.request.target.clone(),
                    status: r.request.status,
                    suspects: r.real_suspects(),
                    attention: r.needs_attention(),
                    failed_paths: {
                        let mut v: Vec<Vec<u8>> = Vec::new();
                        for f in &r.request.failures {
                            if v.len() >= super::MAX_FAILED_PATHS {
                                break;
                            }
                            if f.path.first() == Some(&b'/') && !v.contains(&f.path) {
                                v.push(f.path.clone());
                            }
                        }
                        v
                    },
                });
            }
            if self.settings.count.is_some_and(|n| self.sum.requests >= n) {
                signals::request_stop(signals::REASON_COUNT);
            }
        }
    }

    /// The closing lines: the summary (on the output for JSON, on stderr for text) and the
    /// dropped warning. The output's line is queued last whatever the queue holds; the
    /// stderr lines are returned, to be written once the output is finished (after the
    /// records, with `2>&1`).
    pub fn close(&mut self, sink: &Lines, c: Closing) -> Vec<String> {
        let sum = &mut self.sum;
        sum.processes = c.processes;
        sum.threads = c.threads;
        // Events the sources dropped, and lines the output queue dropped (nothing is queued
        // after this, and the summary itself is never dropped).
        sum.dropped = self.lost + c.dropped + sink.dropped();
        sum.compat = c.compat;
        sum.duration_s = c.duration_s;
        sum.reason = c.reason;
        sum.unparsed = c.unparsed;
        let tally = self.settings.summary.then_some(&self.tally);
        let (out, sentence) = self.settings.printer.summary(sum, tally);
        if let Some(line) = out {
            sink.push_last(line);
        }
        let mut stderr = Vec::new();
        if let Some(s) = sentence
            && !sink.broken()
        {
            stderr.push(s);
        }
        stderr.extend(Printer::dropped_warning(sum));
        stderr
    }
}
