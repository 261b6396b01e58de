//! Benchmark floor of the eBPF backend, not part of the product: reqtrace's own kernel
//! program, loaded and fed exactly as `reqtrace attach --backend ebpf` does, with less and
//! less of user space behind it, so `scripts/bench.sh` can measure each cost apart:
//!
//! - `--stage idle`: the program attached, following PID; the bench gives it a process that
//!   makes no syscalls, so what the server pays is the programs running on every syscall of
//!   the machine and returning at the followed check.
//! - `--stage drain`: following PID and its descendants; records read off the ring buffer
//!   every 20 ms and thrown away: the kernel side's whole cost plus reading the ring.
//! - `--stage decode`: each record also parsed and decoded into reqtrace's events (the fd
//!   table, paths resolved, /proc look-ups), which are then dropped: everything the source
//!   thread does; what is left of `reqtrace attach --backend ebpf` is the pipeline.
//!
//! Usage: `ebpf_floor --stage idle|drain|decode -o FILE PID`
//!
//! Writes `{"type":"start"}` to FILE once attached (the bench waits for it), runs until
//! SIGINT or SIGTERM, then prints one line on stderr (records, bytes, dropped in the kernel)
//! and exits 0; 2 on a usage error or when the program cannot be loaded.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

#[cfg(reqtrace_no_ebpf)]
fn main() -> ExitCode {
    eprintln!("ebpf_floor: {}", reqtrace::ebpf::NOT_BUILT);
    ExitCode::from(2)
}

#[cfg(not(reqtrace_no_ebpf))]
fn main() -> ExitCode {
    use reqtrace::ebpf::{decode::Decoder, load, record};
    use reqtrace::event::select::Selection;
    use reqtrace::event::{Event, EventSink};
    use reqtrace::syscalls::table::Catalogue;
    use reqtrace::tracer::TracerConfig;

    struct Count(u64);
    impl EventSink for Count {
        fn send(&mut self, _ev: Event) {
            self.0 += 1;
        }
    }

    let usage = || {
        eprintln!("usage: ebpf_floor --stage idle|drain|decode -o FILE PID");
        ExitCode::from(2)
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut stage, mut out, mut pid) = (None, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--stage" => stage = it.next().cloned(),
            "-o" => out = it.next().cloned(),
            p => pid = p.parse::<i32>().ok(),
        }
    }
    let (Some(stage), Some(out), Some(pid)) = (stage, out, pid) else {
        return usage();
    };
    if !["idle", "drain", "decode"].contains(&stage.as_str()) {
        return usage();
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores to an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    // The selection `reqtrace attach` uses by default: the file class, correlation on.
    let cat = Catalogue::new();
    let select = match Selection::new("file", false, &cat, true) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ebpf_floor: {e}");
            return ExitCode::from(2);
        }
    };
    let mut loaded = match load::load(&select, true) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ebpf_floor: {e}");
            return ExitCode::from(2);
        }
    };
    let mut followed = vec![pid];
    if stage != "idle" {
        followed.extend(reqtrace::procinfo::descendants(pid));
    }
    for &p in &followed {
        loaded.follow(p);
    }
    let mut decoder = Decoder::new(TracerConfig {
        follow: true,
        select,
        correlate: true,
        seccomp: false,
        stdout_to_stderr: false,
    });
    let mut sink = Count(0);
    let now = reqtrace::event::now();
    for &p in &followed {
        for tid in reqtrace::procinfo::threads(p) {
            decoder.adopt(now, p, tid, &mut sink);
        }
    }
    if let Err(e) = std::fs::write(&out, "{\"type\":\"start\"}\n") {
        eprintln!("ebpf_floor: {out}: {e}");
        return ExitCode::from(2);
    }
    let (mut records, mut bytes) = (0u64, 0u64);
    while !STOP.load(Ordering::SeqCst) {
        while let Some(item) = loaded.events.next() {
            records += 1;
            bytes += item.len() as u64;
            if stage == "decode"
                && let Some(rec) = record::parse(&item)
            {
                decoder.record(rec, &mut sink);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "ebpf_floor: {stage}: {records} records ({bytes} bytes), {} events decoded, {} lost \
         in the kernel",
        sink.0,
        loaded.dropped()
    );
    ExitCode::SUCCESS
}
