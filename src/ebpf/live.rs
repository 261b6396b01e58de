//! The eBPF source's life when the kernel program is built in: load and fill the maps,
//! follow the planned processes, then read the ring buffer every 20 ms until a stop is
//! asked or every followed process is gone; dropping the loaded object detaches.

use std::time::Instant;

use crate::error::Error;
use crate::event::{End, Event, EventSink, Hub, SourceEnd, now};
use crate::procinfo;
use crate::signals;

use super::{ALIVE_CHECK, Ebpf, POLL, load, record};

/// The reading thread's nice value. It decodes, correlates and formats every record
/// (the pipeline runs inline on it), and on a machine the server keeps busy the scheduler
/// gives it one share among the server's runnable workers: less than that work needs at a
/// few thousand requests a second on 2 CPUs, so the ring buffer filled and records were lost
/// (counted). A higher weight lets it take the CPU time the records cost instead of losing
/// them. Needs CAP_SYS_NICE (root has it); without it the thread keeps nice 0.
const READER_NICE: i32 = -10;

/// Records read before the stop request and liveness are looked at again.
const MAX_DRAIN: usize = 1 << 16;
/// How long the records still queued when a stop is asked are decoded; what is left after
/// it is counted as dropped (a stop must not wait on a backlog of 16 MiB for long).
const FINAL_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

pub fn start(e: &mut Ebpf, hub: &dyn Hub) -> Result<Vec<i32>, Error> {
    let ours = procinfo::self_and_ancestors();
    for &(pid, fatal) in &e.planned {
        if !fatal {
            continue;
        }
        let Some(status) = procinfo::status(pid) else {
            return Err(Error::NoSuchProcess(pid));
        };
        // As under ptrace; here it would trace its own reads of the ring buffer, forever.
        if ours.contains(&status.tgid) {
            return Err(Error::Attach {
                pid,
                why: "that is reqtrace itself or one of its parents (the shell that runs it)"
                    .into(),
            });
        }
    }
    let mut loaded = load::load(&e.cfg.select, e.cfg.follow)?;
    let mut pids: Vec<i32> = Vec::new();
    let mut add = |pid: i32, loaded: &mut load::Loaded| {
        if !ours.contains(&pid) && !pids.contains(&pid) && procinfo::status(pid).is_some() {
            loaded.follow(pid);
            pids.push(pid);
        }
    };
    for &(pid, _) in &e.planned {
        add(procinfo::tgid(pid).unwrap_or(pid), &mut loaded);
    }
    // Once the fork tracepoint is live: a child forked since the plan was made.
    if e.cfg.follow {
        for &(pid, _) in &e.planned {
            for d in procinfo::descendants(pid) {
                add(d, &mut loaded);
            }
        }
    }
    // A sink that waits for the pipeline rather than drop: no traced thread waits for us
    // (the kernel queues on the ring buffer, and counts what does not fit), so a burst the
    // pipeline is slow to take is held there, not lost here.
    let mut sink = hub.replay_sink();
    let ts = now();
    for &pid in &pids {
        for tid in procinfo::threads(pid) {
            e.decoder.adopt(ts, pid, tid, sink.as_mut());
        }
    }
    sink.flush();
    e.sink = Some(sink);
    e.loaded = Some(loaded);
    Ok(pids)
}

pub fn run(e: Box<Ebpf>) -> Result<SourceEnd, Error> {
    let Ebpf {
        mut decoder,
        sink,
        loaded,
        ..
    } = *e;
    let (Some(mut sink), Some(mut loaded)) = (sink, loaded) else {
        return Err(Error::Tracing("the eBPF source was not started".into()));
    };
    signals::register_tracer_thread();
    // SAFETY: setpriority on this thread's own tid; a failure (no CAP_SYS_NICE) leaves it
    // as it was.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, READER_NICE);
    }
    let mut reported = 0u64;
    let mut checked = Instant::now();
    let end = loop {
        let mut drain = |loaded: &mut load::Loaded, sink: &mut dyn EventSink| {
            // Bounded: under a load that fills the ring as fast as it is read, a stop must
            // still be seen.
            let mut emptied = false;
            for _ in 0..MAX_DRAIN {
                let Some(item) = loaded.events.next() else {
                    emptied = true;
                    break;
                };
                if let Some(rec) = record::parse(&item) {
                    decoder.record(rec, sink);
                }
            }
            let dropped = loaded.dropped();
            if dropped > reported {
                sink.send(Event::Lost {
                    count: dropped - reported,
                });
                reported = dropped;
            }
            sink.flush();
            emptied
        };
        let emptied = drain(&mut loaded, sink.as_mut());
        let reason = signals::stop_reason();
        let end = if reason != 0 {
            Some(signals::end_of(reason))
        } else if checked.elapsed() >= ALIVE_CHECK {
            checked = Instant::now();
            (!loaded.any_followed()).then_some(End::AllExited)
        } else {
            None
        };
        if let Some(end) = end {
            // What the kernel queued before the end belongs to the trace. The programs go
            // first, so that nothing more comes; then the backlog is decoded (one drain takes
            // at most MAX_DRAIN records, and a slow pipeline leaves more) for FINAL_DRAIN, and
            // what is left is counted, never lost silently.
            loaded.detach();
            let until = Instant::now() + FINAL_DRAIN;
            let mut done = emptied;
            while !done && Instant::now() < until {
                done = drain(&mut loaded, sink.as_mut());
            }
            let mut left = 0u64;
            while loaded.events.next().is_some() {
                left += 1;
            }
            if left > 0 {
                sink.send(Event::Lost { count: left });
                sink.flush();
                crate::say!(
                    "reqtrace: eBPF: {left} records still queued {} s after the end of the \
                     trace were not read, counted in dropped",
                    FINAL_DRAIN.as_secs()
                );
            }
            break end;
        }
        if emptied {
            std::thread::sleep(POLL);
        }
    };
    // Detach: the links and maps go with the object.
    drop(loaded);
    // Of the summary's `dropped`, what the kernel could not queue (the ring buffer was full:
    // reqtrace read too slowly) as opposed to what the pipeline dropped behind it.
    if reported > 0 {
        crate::say!(
            "reqtrace: eBPF: {reported} records lost in the kernel (ring buffer full), \
             counted in dropped"
        );
    }
    Ok(SourceEnd {
        end,
        processes: decoder.processes_seen,
        threads: decoder.threads_seen,
        dropped: sink.dropped(),
        compat: decoder.compat_calls(),
        end_ts: None,
        unparsed: None,
        exit: None,
        late_error: None,
    })
}
