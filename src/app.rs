//! Wiring: from the parsed command line, plain settings for a source (the ptrace tracer, or
//! a recording or strace logs), a printer and the pipeline between them; and the exit code.
//! The only module that knows both the command line and the sources.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::analyze::{Replay, open_replay};
use crate::cli::{Backend, ColorChoice, Command, Common, Shown};
use crate::diagnose::Offline;
use crate::ebpf::Ebpf;
use crate::error::{Error, ExitCode};
use crate::event::select::Selection;
use crate::event::{End, ExitKind, Source, SourceEnd, now};
use crate::http::urlmatch::UrlFilter;
use crate::output::{self, Format, Printer};
use crate::pipeline::{Closing, Pipeline, Settings};
use crate::probe::{self, ProbeUrl};
use crate::signals;
use crate::syscalls::table::Catalogue;
use crate::tracer::TracerConfig;
use crate::tracer::source::{Ptrace, Targets};

pub fn use_color(choice: ColorChoice, tty: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Run a parsed command; returns the process exit code.
pub fn run(command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Attach {
            pids,
            apache,
            mut names,
            probes,
            probe_timeout,
            backends,
            backend,
            common,
        } => {
            let probes = probes
                .iter()
                .map(|u| ProbeUrl::parse(u))
                .collect::<Result<Vec<_>, _>>()?;
            if !(probe_timeout > 0.0 && probe_timeout.is_finite()) {
                return Err(Error::Usage(
                    "--probe-timeout: give a positive number of seconds".into(),
                ));
            }
            check_duration(common.duration)?;
            // Report mode: requests, not syscall lines, unless --syscalls.
            let report = apache || !names.is_empty() || !probes.is_empty();
            if apache {
                names.extend(["apache2".to_string(), "httpd".to_string()]);
            }
            // Without PIDs, or with names, the probes say which server to trace.
            let listen = if !probes.is_empty() && (pids.is_empty() || !names.is_empty()) {
                probes
                    .iter()
                    .map(|p| {
                        p.addrs()
                            .map_err(|e| Error::Usage(format!("--probe {}: {e}", p.url)))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                Vec::new()
            };
            let cfg = tracer_config(&common, false, false)?;
            let threads = common.threads.unwrap_or_else(default_threads);
            let targets = Targets {
                pids,
                names,
                listen,
                backends,
                find_backends: Some(crate::backends::find),
            };
            let source = Ptrace::attach(cfg, targets, threads)?;
            let source: Box<dyn Source> = match backend {
                Backend::Ptrace => Box::new(source),
                Backend::Ebpf => Box::new(Ebpf::attach(&source)?),
            };
            let backend = (backend == Backend::Ebpf).then_some("ebpf");
            live(source, &common, report, probes, probe_timeout, &[], backend)
        }
        Command::Run {
            command,
            no_seccomp,
            common,
        } => {
            check_duration(common.duration)?;
            let cfg = tracer_config(&common, true, !no_seccomp)?;
            let source = Ptrace::launch(cfg, command.clone());
            live(
                Box::new(source),
                &common,
                false,
                Vec::new(),
                10.0,
                &command,
                None,
            )
        }
        Command::Analyze {
            files,
            fs_root,
            config,
            shown,
        } => analyze(&files, fs_root, config, &shown),
        Command::Completions { .. } | Command::Man { .. } => Err(Error::Usage(
            "completions and man are handled by the binary".into(),
        )),
    }
}

fn check_duration(duration: Option<f64>) -> Result<(), Error> {
    match duration {
        Some(d) if !(d > 0.0 && d.is_finite()) => Err(Error::Usage(format!(
            "--duration {d}: give a positive number of seconds"
        ))),
        _ => Ok(()),
    }
}

/// The tracer's settings from the command line; `launch`: `run`; `seccomp`: with its seccomp
/// filter.
fn tracer_config(common: &Common, launch: bool, seccomp: bool) -> Result<TracerConfig, Error> {
    let cat = Catalogue::new();
    Ok(TracerConfig {
        follow: !common.no_follow,
        select: Selection::new(&common.shown.trace, common.shown.failed, &cat, true)?,
        correlate: true,
        seccomp,
        stdout_to_stderr: launch && json_on_stdout(&common.shown),
    })
}

/// `--json` written on reqtrace's stdout. In `run`, the command's own stdout then goes to
/// reqtrace's stderr: stdout stays pure JSON for jq, and nothing the command prints is lost.
fn json_on_stdout(shown: &Shown) -> bool {
    shown.json && matches!(shown.output.as_deref(), None | Some("-"))
}

/// How records are printed, from the shared options; and whether the output is a terminal.
fn printer(shown: &Shown) -> Result<(Box<dyn std::io::Write + Send>, Printer, bool), Error> {
    let (out, tty) = output::open_output(shown.output.as_deref())?;
    let format = if shown.json {
        Format::Json
    } else {
        Format::Human
    };
    let printer = Printer {
        format,
        color: format == Format::Human && use_color(shown.color, tty),
        show_secrets: shown.show_secrets,
    };
    Ok((out, printer, tty))
}

/// Trace live processes (attach or run) into the pipeline; with probes, send them and
/// judge their records.
fn live(
    mut source: Box<dyn Source>,
    common: &Common,
    report_mode: bool,
    probes: Vec<ProbeUrl>,
    probe_timeout: f64,
    argv: &[String],
    backend: Option<&str>,
) -> Result<ExitCode, Error> {
    let launch = !argv.is_empty();
    let shown = &common.shown;
    let report_mode = report_mode || shown.url.is_some();
    let (out, printer, tty) = printer(shown)?;
    signals::install_handlers(launch);
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let settings = Settings {
        printer,
        show_syscalls: !report_mode || shown.syscalls,
        url: shown.url.as_deref().map(UrlFilter::new),
        show_noise: shown.all,
        summary: shown.summary,
        // Only when it cannot mix into the output: stderr a terminal, stdout not, and
        // not where the command writes its stdout (`run --json`).
        status_line: std::io::stderr().is_terminal() && !tty && !(launch && json_on_stdout(shown)),
        count: common.count,
        seen: (!probes.is_empty()).then_some(seen_tx),
        offline: None,
    };
    let pipeline = match source.pipeline_inline() {
        Some(clock) => Pipeline::start_inline(out, settings, clock),
        None => Pipeline::start(out, settings),
    };
    let started = now();
    let attached_to = match source.start(&pipeline) {
        Ok(pids) => pids,
        Err(e) => {
            signals::disarm();
            pipeline.abort();
            return Err(e);
        }
    };
    let mode = if launch { "run" } else { "attach" };
    if let Some(line) = printer.start(mode, &attached_to, argv, backend) {
        pipeline.send_line(line);
    }
    if let Some(d) = common.duration {
        signals::arm_duration(d);
    }
    let probe = (!probes.is_empty()).then(|| {
        let timeout = Duration::from_secs_f64(probe_timeout);
        std::thread::spawn(move || {
            // Only the tracer threads may take the stop signals.
            let _ = signals::stop_signals().thread_block();
            probe::run(probes, seen_rx, timeout)
        })
    });
    let end = source.run(&pipeline);
    signals::disarm();
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            // What was traced so far is still written, with its summary.
            pipeline.finish(Closing {
                duration_s: now() - started,
                reason: End::TracingFailed.text(),
                ..Closing::default()
            });
            return Err(e);
        }
    };
    pipeline.finish(closing(&end, now() - started));
    if let Some(e) = end.late_error {
        return Err(e);
    }
    if let Some(handle) = probe {
        let results = handle.join().unwrap_or_default();
        for r in &results {
            let verdict = if r.ok() { "ok" } else { "FAILED" };
            let what = match (&r.client, &r.seen) {
                (Ok(s), Some(_)) if r.named.is_some() => format!(
                    "{s}, but the response names {}, which failed in the request",
                    crate::output::escape::quoted(r.named.as_deref().unwrap_or_default())
                ),
                (Err(e), _) => e.clone(),
                (Ok(s), Some(seen)) if seen.attention && seen.suspects == 0 && *s < 400 => {
                    format!("{s}, 0 suspect(s), but the server logged an error for it")
                }
                (Ok(s), Some(seen)) => format!("{s}, {} suspect(s)", seen.suspects),
                (Ok(s), None) => format!(
                    "{s}, but its request was not seen in the traced processes (is it the \
                     server behind that URL?)"
                ),
            };
            crate::say!("reqtrace: probe {}: {what}: {verdict}", r.url);
        }
        return Ok(if !results.is_empty() && results.iter().all(|r| r.ok()) {
            ExitCode::Done
        } else {
            ExitCode::ProbeFailed
        });
    }
    Ok(match end.exit {
        Some(ExitKind::Code(c)) if launch => ExitCode::Command(c),
        Some(ExitKind::Signal(s)) if launch => ExitCode::Command(128 + s),
        _ => ExitCode::Done,
    })
}

/// What the pipeline is told at the end, from how the source ended.
fn closing(end: &SourceEnd, duration_s: f64) -> Closing {
    Closing {
        processes: end.processes,
        threads: end.threads,
        dropped: end.dropped,
        compat: end.compat,
        duration_s,
        reason: end.end.text(),
        end_ts: end.end_ts,
        unparsed: end.unparsed,
    }
}

/// `reqtrace analyze`: a recording or strace logs through the same pipeline, diagnosed
/// offline: files are looked at under `--fs-root`, or here when the recording was made on
/// this very boot, else not at all.
fn analyze(
    files: &[String],
    fs_root: Option<String>,
    config: Option<String>,
    shown: &Shown,
) -> Result<ExitCode, Error> {
    if let Some(r) = &fs_root
        && !Path::new(r).is_dir()
    {
        return Err(Error::Usage(format!(
            "--fs-root {r}: not a directory: give where the traced machine's / is found here"
        )));
    }
    let shows = Selection::new(&shown.trace, shown.failed, &Catalogue::new(), false)?;
    // The first line is read before the pipeline starts: a recording made on this machine
    // may be looked at here.
    let replay = open_replay(files, shows)?;
    // `-o` replaces or empties the file it names: on an input, before it is read.
    if let Some(o) = shown.output.as_deref().filter(|o| *o != "-")
        && let Some(input) = replay.input_at(o)
    {
        return Err(Error::Usage(format!(
            "-o {o} is also an input ({input}): writing there would empty it before it is \
             read; give another output file"
        )));
    }
    let Replay {
        mut source,
        boot_id,
        strace_log,
        ..
    } = replay;
    let root = match (&fs_root, boot_id.as_deref()) {
        (Some(r), _) => Some(PathBuf::from(r)),
        (None, Some(b)) if crate::procinfo::boot_id().as_deref() == Some(b) => {
            Some(PathBuf::from("/"))
        }
        _ => None,
    };
    let (out, printer, _) = printer(shown)?;
    let pipeline = Pipeline::start(
        out,
        Settings {
            printer,
            show_syscalls: shown.syscalls,
            url: shown.url.as_deref().map(UrlFilter::new),
            show_noise: shown.all,
            summary: shown.summary,
            status_line: false,
            count: None,
            seen: None,
            offline: Some(Offline { root, config }),
        },
    );
    let started = now();
    source.start(&pipeline)?;
    let end = source.run(&pipeline)?;
    let sum = pipeline.finish(closing(&end, now() - started));
    if strace_log && fs_root.is_none() && sum.requests_failed > 0 {
        // Nothing was looked up, and nothing says where the log comes from: often here.
        crate::say!(
            "reqtrace: note: no file was looked up for this strace log's suspects; if it comes from \
             this machine, --fs-root / adds did-you-mean, permission hints and configuration \
             references"
        );
    }
    match end.late_error {
        Some(e) => Err(e),
        None => Ok(ExitCode::Done),
    }
}

/// Tracer threads when `--threads` is not given: one per 8 cores, at most 2. Measured on a
/// 16-core machine, two tracer threads kept 1.6x what one did and more gained nothing; on
/// small machines a second thread only competes with the server for the cores.
fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 8).clamp(1, 2)
}
