//! Wiring: turn the parsed command line into a tracer, a writer and an exit code.

use crate::cli::{ColorChoice, Command};
use std::io::IsTerminal;
use std::time::Duration;

use crate::error::{Error, ExitCode};
use crate::event::{ExitKind, now};
use crate::http::urlmatch::UrlFilter;
use crate::output::{self, Format, Pipeline, Summary, Writer, json};
use crate::probe::{self, ProbeUrl};
use crate::signals;
use crate::syscalls::{class, table};
use crate::tracer::pool::{self, Job};
use crate::tracer::{Outcome, STAT_ALL, STAT_FSTAT, STAT_LSTAT, STAT_STAT, Select, TracerConfig};

/// Resolve `--trace LIST` into a per-syscall-number selection. Bookkeeping calls (close, dup,
/// chdir, exec...) are always tracked so fd and cwd knowledge stays true; with `correlate`,
/// so is the socket I/O the HTTP correlator watches.
pub fn selection(
    list: &str,
    cat: &table::Catalogue,
    correlate: bool,
) -> Result<Vec<Select>, Error> {
    let max = cat.iter().map(|(nr, _)| nr).max().unwrap_or(0) as usize;
    let mut sel = vec![Select::Ignore; max + 1];
    let mut track = class::TRACK;
    if correlate {
        // The correlator needs a request's socket I/O and file calls whatever is printed.
        track |= class::HTTP | class::FILE | class::STAT | class::LSTAT | class::FSTAT;
    }
    for (nr, spec) in cat.iter() {
        if spec.class & track != 0 {
            sel[nr as usize] = Select::Track;
        }
    }
    let mut print = |nr: u64, flavours: u8| {
        let slot = &mut sel[nr as usize];
        *slot = match *slot {
            Select::Print(m) => Select::Print(m | flavours),
            _ => Select::Print(flavours),
        };
    };
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word == "all" {
            for (nr, _) in cat.iter() {
                print(nr, STAT_ALL);
            }
        } else if let Some(bits) = table::class_by_name(word) {
            // A flavour class (stat, lstat, fstat) prints only its flavour of the calls
            // that serve all three (newfstatat, statx).
            let flavours = [
                (class::STAT, STAT_STAT),
                (class::LSTAT, STAT_LSTAT),
                (class::FSTAT, STAT_FSTAT),
            ]
            .iter()
            .filter(|(c, _)| bits & c != 0)
            .fold(0, |m, (_, f)| m | f);
            let flavour_only = bits & !(class::STAT | class::LSTAT | class::FSTAT) == 0;
            for (nr, spec) in cat.iter() {
                if spec.class & bits != 0 {
                    print(nr, if flavour_only { flavours } else { STAT_ALL });
                }
            }
        } else if let Some(nr) = cat.number(word) {
            print(nr, STAT_ALL);
        } else {
            return Err(Error::Usage(format!(
                "--trace: unknown class or syscall '{word}': use file, stat, lstat, fstat, \
                 statfs, exec, desc, net, process, all, or a syscall name such as openat"
            )));
        }
    }
    Ok(sel)
}

pub fn use_color(choice: ColorChoice, tty: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

fn reason_text(reason: i32) -> String {
    match reason {
        signals::REASON_DURATION => "duration reached, detached".into(),
        signals::REASON_OUTPUT_CLOSED => "output closed, detached".into(),
        signals::REASON_DONE => "probes done, detached".into(),
        signals::REASON_COUNT => "--count reached, detached".into(),
        sig if sig > 0 => format!("signal {sig} received, detached"),
        _ => "all traced processes exited".into(),
    }
}

/// What to attach to, from the command line.
struct Targets {
    pids: Vec<i32>,
    /// Found by name (--apache, --name): tolerate ones that vanish or are traced by others.
    discovered: Vec<i32>,
    /// The names they were found by.
    names: Vec<String>,
}

fn discover(pids: Vec<i32>, apache: bool, mut names: Vec<String>) -> Result<Targets, Error> {
    if apache {
        names.extend(["apache2".to_string(), "httpd".to_string()]);
    }
    let ours = crate::procinfo::self_and_ancestors();
    let discovered: Vec<i32> = crate::procinfo::find_by_comm(&names)
        .into_iter()
        .filter(|p| !pids.contains(p) && !ours.contains(p))
        .collect();
    if pids.is_empty() && discovered.is_empty() {
        return Err(if names.is_empty() {
            Error::Usage("give PIDs to attach to, or --apache, or --name COMM".into())
        } else {
            Error::Usage(format!(
                "no running process named {}: is the server running? (pgrep -l {})",
                names.join(" or "),
                names[0]
            ))
        });
    }
    Ok(Targets {
        pids,
        discovered,
        names,
    })
}

/// Run a parsed command; returns the process exit code.
pub fn run(command: Command) -> Result<ExitCode, Error> {
    let (common, targets, argv, probes, probe_timeout) = match command {
        Command::Attach {
            pids,
            apache,
            names,
            probes,
            probe_timeout,
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
            let report = apache || !names.is_empty();
            (
                common,
                Some((pids, apache, names, report)),
                Vec::new(),
                probes,
                probe_timeout,
            )
        }
        Command::Run { command, common } => (common, None, command, Vec::new(), 10.0),
        Command::Analyze {
            files,
            fs_root,
            config,
            shown,
        } => return crate::analyze::run(&files, fs_root, config, &shown),
        Command::Completions { .. } | Command::Man { .. } => {
            return Err(Error::Usage(
                "completions and man are handled by the binary".into(),
            ));
        }
    };
    let launch = targets.is_none();
    if let Some(d) = common.duration
        && !(d > 0.0 && d.is_finite())
    {
        return Err(Error::Usage(format!(
            "--duration {d}: give a positive number of seconds"
        )));
    }
    let report_mode =
        common.shown.url.is_some() || !probes.is_empty() || targets.as_ref().is_some_and(|t| t.3);
    let targets = match targets {
        Some((pids, apache, names, _)) => Some(discover(pids, apache, names)?),
        None => None,
    };
    let cat = table::Catalogue::new();
    let select = selection(&common.shown.trace, &cat, true)?;
    let (out, tty) = output::open_output(common.shown.output.as_deref())?;
    let format = if common.shown.json {
        Format::Json
    } else {
        Format::Human
    };
    let color = format == Format::Human && use_color(common.shown.color, tty);

    signals::install_handlers(launch);
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let pipeline = Pipeline {
        correlate: true,
        show_syscalls: !report_mode || common.shown.syscalls,
        url: common.shown.url.as_deref().map(UrlFilter::new),
        show_noise: common.shown.all,
        show_secrets: common.shown.show_secrets,
        summary: common.shown.summary,
        // Only when it cannot mix into the output: stderr a terminal, stdout not.
        status_line: std::io::stderr().is_terminal() && !tty,
        count: common.count,
        seen: (!probes.is_empty()).then_some(seen_tx),
        offline: None,
    };
    let writer = Writer::start(out, format, color, pipeline);
    let started = now();
    let cfg = TracerConfig {
        follow: !common.no_follow,
        select,
        failed_only: common.shown.failed,
        correlate: true,
        seccomp: launch && !common.no_seccomp,
    };
    let jobs = match &targets {
        None => vec![Job::Launch(argv.clone())],
        Some(t) => plan(t, cfg.follow),
    };
    // A launched command is one process tree: one thread. Otherwise spread the processes.
    let nthreads = if launch {
        1
    } else {
        common
            .threads
            .unwrap_or_else(default_threads)
            .clamp(1, 64)
            .min(jobs.len().max(1))
    };
    let mut shares: Vec<Vec<Job>> = vec![Vec::new(); nthreads];
    for (i, job) in jobs.into_iter().enumerate() {
        shares[i % nthreads].push(job);
    }
    let rescan = || match &targets {
        Some(t) => {
            let mut v = Vec::new();
            if cfg.follow {
                for &pid in &t.pids {
                    v.extend(crate::procinfo::descendants(pid));
                }
            }
            v.extend(crate::procinfo::find_by_comm(&t.names));
            let ours = crate::procinfo::self_and_ancestors();
            v.retain(|p| !ours.contains(p));
            v
        }
        None => Vec::new(),
    };
    let (pool, attached_to) = match pool::start(shares, &cfg, &writer, &rescan) {
        Ok(x) => x,
        Err(e) => {
            signals::disarm();
            writer.abort();
            return Err(e);
        }
    };
    if format == Format::Json {
        let mode = if launch { "run" } else { "attach" };
        writer
            .line_sender()
            .send_line(json::start_line(mode, &attached_to, &argv));
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
    let end = pool.join();
    signals::disarm();
    let outcome = end
        .outcome
        .map_err(|e| Error::Tracing(format!("waiting for tracees failed: {e}")))?;
    let reason = match outcome {
        Outcome::Detached(r) => reason_text(r),
        Outcome::AllGone(_) => reason_text(0),
    };
    writer.finish(Summary {
        processes: end.processes,
        threads: end.threads,
        dropped: end.dropped,
        duration_s: now() - started,
        reason,
        ..Summary::default()
    });
    if let Some(handle) = probe {
        let results = handle.join().unwrap_or_default();
        for r in &results {
            let verdict = if r.ok() { "ok" } else { "FAILED" };
            let what = match (&r.client, &r.seen) {
                (Err(e), _) => e.clone(),
                (Ok(s), Some(seen)) => format!("{s}, {} suspect(s)", seen.suspects),
                (Ok(s), None) => format!(
                    "{s}, but its request was not seen in the traced processes (is it the \
                     server behind that URL?)"
                ),
            };
            eprintln!("reqtrace: probe {}: {what}: {verdict}", r.url);
        }
        return Ok(if !results.is_empty() && results.iter().all(|r| r.ok()) {
            ExitCode::Done
        } else {
            ExitCode::ProbeFailed
        });
    }
    Ok(match outcome {
        Outcome::AllGone(Some(ExitKind::Code(c))) if launch => ExitCode::Command(c),
        Outcome::AllGone(Some(ExitKind::Signal(s))) if launch => ExitCode::Command(128 + s),
        _ => ExitCode::Done,
    })
}

/// Tracer threads when `--threads` is not given: one per 8 cores, at most 2. Measured on a
/// 16-core machine, two tracer threads kept 1.6x what one did and more gained nothing; on
/// small machines a second thread only competes with the server for the cores.
fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 8).clamp(1, 2)
}

/// What to attach: the PIDs given (a failure is fatal), then, when following forks, their
/// existing descendants (an Apache master's workers), then the processes found by name.
fn plan(t: &Targets, follow: bool) -> Vec<Job> {
    let mut pids = t.pids.clone();
    pids.sort_unstable();
    pids.dedup();
    let mut seen: std::collections::HashSet<i32> = pids.iter().copied().collect();
    let mut jobs: Vec<Job> = pids
        .iter()
        .map(|&pid| Job::Attach { pid, fatal: true })
        .collect();
    let mut others = Vec::new();
    if follow {
        for &pid in &pids {
            others.extend(crate::procinfo::descendants(pid));
        }
    }
    others.extend(&t.discovered);
    for pid in others {
        if seen.insert(pid) {
            jobs.push(Job::Attach { pid, fatal: false });
        }
    }
    jobs
}
