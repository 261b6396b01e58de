//! Wiring: turn the parsed command line into a tracer, a writer and an exit code.

use crate::cli::{ColorChoice, Command, Common};
use crate::error::{EXIT_OK, Error};
use crate::event::{ExitKind, now};
use crate::output::{self, Format, Summary, Writer, json};
use crate::signals;
use crate::syscalls::{class, table};
use crate::tracer::{Outcome, Select, Tracer, TracerConfig, attach};

/// Resolve `--trace LIST` into a per-syscall-number selection. Bookkeeping calls (close, dup,
/// chdir, exec...) are always tracked so fd and cwd knowledge stays true.
pub fn selection(list: &str, cat: &table::Catalogue) -> Result<Vec<Select>, Error> {
    let max = cat.iter().map(|(nr, _)| nr).max().unwrap_or(0) as usize;
    let mut sel = vec![Select::Ignore; max + 1];
    for (nr, spec) in cat.iter() {
        if spec.class & class::TRACK != 0 {
            sel[nr as usize] = Select::Track;
        }
    }
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word == "all" {
            for (nr, _) in cat.iter() {
                sel[nr as usize] = Select::Print;
            }
        } else if let Some(bits) = table::class_by_name(word) {
            for (nr, spec) in cat.iter() {
                if spec.class & bits != 0 {
                    sel[nr as usize] = Select::Print;
                }
            }
        } else if let Some(nr) = cat.number(word) {
            sel[nr as usize] = Select::Print;
        } else {
            return Err(Error::Usage(format!(
                "--trace: unknown class or syscall '{word}': use file, stat, lstat, fstat, \
                 statfs, exec, desc, net, process, all, or a syscall name such as openat"
            )));
        }
    }
    Ok(sel)
}

fn use_color(choice: ColorChoice, tty: bool) -> bool {
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
        sig if sig > 0 => format!("signal {sig} received, detached"),
        _ => "all traced processes exited".into(),
    }
}

/// Run a parsed command; returns the process exit code.
pub fn run(command: Command) -> Result<i32, Error> {
    let (common, pids, argv): (Common, Vec<i32>, Vec<String>) = match command {
        Command::Attach { pids, common } => (common, pids, Vec::new()),
        Command::Run { command, common } => (common, Vec::new(), command),
    };
    let launch = !argv.is_empty();
    if let Some(d) = common.duration
        && !(d > 0.0 && d.is_finite())
    {
        return Err(Error::Usage(format!(
            "--duration {d}: give a positive number of seconds"
        )));
    }
    let cat = table::Catalogue::new();
    let select = selection(&common.trace, &cat)?;
    let (out, tty) = output::open_output(common.output.as_deref())?;
    let format = if common.json {
        Format::Json
    } else {
        Format::Human
    };
    let color = format == Format::Human && use_color(common.color, tty);

    signals::install_handlers(launch);
    let mut writer = Writer::start(out, format, color);
    let started = now();
    let cfg = TracerConfig {
        follow: !common.no_follow,
        select,
        failed_only: common.failed,
    };
    let follow = cfg.follow;
    let lines = writer.line_sender();
    // The tracer borrows the writer; keep its results before giving the writer back.
    let (outcome, processes, threads) = {
        let mut tracer = Tracer::new(cfg, &cat, &mut writer);
        let mut targets = Vec::new();
        let attached: Result<(), Error> = if launch {
            attach::launch(&mut tracer, &argv, follow).map(|pid| targets.push(pid))
        } else {
            let mut dedup = pids.clone();
            dedup.sort_unstable();
            dedup.dedup();
            dedup
                .iter()
                .try_for_each(|&pid| attach::attach_process(&mut tracer, pid, follow))
                .map(|_| targets = dedup.clone())
        };
        if let Err(e) = attached {
            // Let go of whatever was attached before the failure.
            tracer.detach_all();
            drop(tracer);
            signals::disarm();
            writer.finish(Summary::default());
            return Err(e);
        }
        if format == Format::Json {
            let mode = if launch { "run" } else { "attach" };
            lines.send_line(json::start_line(mode, &targets, &argv));
        }
        if let Some(d) = common.duration {
            signals::arm_duration(d);
        }
        let outcome = tracer.run();
        (outcome, tracer.processes_seen, tracer.threads_seen)
    };
    signals::disarm();
    let outcome = outcome.map_err(|e| Error::Sys(format!("waiting for tracees failed: {e}")))?;
    let reason = match outcome {
        Outcome::Detached(r) => reason_text(r),
        Outcome::AllGone(_) => reason_text(0),
    };
    writer.finish(Summary {
        processes,
        threads,
        duration_s: now() - started,
        reason,
        ..Summary::default()
    });
    Ok(match outcome {
        Outcome::AllGone(Some(ExitKind::Code(c))) if launch => c,
        Outcome::AllGone(Some(ExitKind::Signal(s))) if launch => 128 + s,
        _ => EXIT_OK,
    })
}
