//! Hostile input, property-tested (proptest; a bounded number of cases per run, so CI runs
//! it every time): the HTTP parsers, the correlator and the printers take bytes a traced
//! server controls. None may panic, corrupt JSON, or let a raw control byte reach a terminal.

use std::sync::Arc;

use proptest::prelude::*;
use reqtrace::event::{Arg, Event, SyscallEvent};
use reqtrace::http::correlate::Correlator;
use reqtrace::http::parse;
use reqtrace::output::{escape, human, json};
use reqtrace::syscalls::table;

fn event(name: &'static str, fd: i32, data: Option<Vec<u8>>, path: Option<Vec<u8>>) -> Event {
    let spec = table::by_name(name).unwrap();
    let mut ev = SyscallEvent::new(1.0, 10, 10, Arc::from("apache2"), 0, spec);
    ev.args = vec![
        Arg::Fd(fd, Some(b"socket:[1]".to_vec())),
        Arg::Str {
            bytes: path.clone().unwrap_or_default(),
            truncated: false,
        },
    ];
    ev.path = path;
    ev.ret = data.as_ref().map_or(-2, |d| d.len() as i64);
    ev.shown = true;
    ev.socket = data.is_some();
    ev.data = data;
    Event::Syscall(Box::new(ev))
}

/// Request-ish bytes: fragments of real requests mixed with garbage, so the parsers get
/// past their first check often.
fn requestish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        (
            "(GET|POST|HEAD|PUT|X) ",
            proptest::collection::vec(any::<u8>(), 0..300),
            " HTTP/1.(0|1)\r\n(Host: [a-z.:0-9]{0,20}\r\n)?(Content-Length: -?[0-9]{0,25}\r\n)?\r\n",
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(m, t, h, rest)| [m.into_bytes(), t, h.into_bytes(), rest].concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic_and_give_sane_results(buf in requestish()) {
        for r in parse::parse_requests(&buf) {
            prop_assert!(!r.method.is_empty() && r.method.len() <= 32);
            prop_assert!(!r.target.is_empty());
            prop_assert!(r.target.iter().all(|&b| b > b' ' && b != 0x7f));
        }
        if let Some(s) = parse::parse_status(&buf) {
            prop_assert!((100..=599).contains(&s));
        }
        let _ = parse::parse_access_log(&buf);
        let _ = parse::could_be_request_prefix(&buf);
    }

    #[test]
    fn the_correlator_survives_any_sequence(
        steps in proptest::collection::vec((0u8..6, requestish(), 3i32..6), 0..40)
    ) {
        let mut c = Correlator::new();
        let mut done = Vec::new();
        for (kind, data, fd) in steps {
            let ev = match kind {
                0 => event("read", fd, Some(data), None),
                1 => event("writev", fd, Some(data), None),
                2 => event("close", fd, None, None),
                3 => event("accept4", 3, None, None),
                4 => event("newfstatat", -100, None, Some(data)),
                _ => Event::Exited { ts: 2.0, pid: 10, tid: 10, how: reqtrace::event::ExitKind::Code(0) },
            };
            let _ = c.feed(&ev, &mut done);
        }
        c.finish_all(3.0, &mut done);
        prop_assert_eq!(c.open_count(), 0);
    }

    #[test]
    fn printers_give_valid_json_and_safe_text(path in proptest::collection::vec(any::<u8>(), 0..4200)) {
        let Event::Syscall(ev) = event("newfstatat", -100, None, Some(path.clone())) else {
            unreachable!()
        };
        let line = json::syscall_line(&ev, None);
        prop_assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        // The exact bytes come back: from the string when it is UTF-8, else from path_hex.
        let back = match v["path_hex"].as_str() {
            Some(hex) => (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect(),
            None => v["path"].as_str().unwrap().as_bytes().to_vec(),
        };
        prop_assert_eq!(back, path.clone());
        let text = human::format_syscall(&ev, false);
        prop_assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        prop_assert!(!text.trim_end().bytes().any(|b| b < 0x20 || b == 0x7f));
        prop_assert!(!escape::escaped(&path).chars().any(|c| c.is_control()));
    }

    #[test]
    fn analyze_readers_never_panic(line in straceish()) {
        let cat = reqtrace::syscalls::table::Catalogue::new();
        let shows = || reqtrace::event::select::Selection::new("all", false, &cat, false).unwrap();
        let mut r = reqtrace::analyze::strace::Reader::new(shows());
        let mut out = Vec::new();
        r.line(1, &line, Some(7), &mut out);
        r.line(2, &line, None, &mut out);
        let mut j = reqtrace::analyze::recorded::Reader::new(shows(), 0);
        j.line(1, &line, &mut out);
        j.line(2, &format!("{{\"type\":\"syscall\",{}", line), &mut out);
    }
}

/// strace-ish lines: real call shapes with hostile strings, resumed halves and junk.
fn straceish() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        (
            "[0-9]{0,7} ([0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6} )?",
            "(openat|read|writev|newfstatat|accept4|clone|close|execve|chdir|foo)",
            "\\(([0-9]{1,3}(<[^>]{0,20}>)?|AT_FDCWD(<[^>]{0,10}>)?), ",
            "\"([^\"\\\\]|\\\\[0-7xnrt\"\\\\]){0,40}\"(\\.\\.\\.)?",
            "(, [A-Z_|]{0,20})*(\\)| <unfinished \\.\\.\\.>)",
            "( = (-1 E[A-Z]{2,8} \\([a-z ]{0,10}\\)|[0-9]{1,4}(<[^>]{0,12}>)?|\\?))?",
        )
            .prop_map(|(a, b, c, d, e, f)| format!("{a}{b}{c}{d}{e}{f}")),
        "[0-9]{1,5} <\\.\\.\\. (read|openat) resumed>.{0,80}",
    ]
}
