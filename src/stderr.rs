//! Lines for the user on stderr, each written whole with one write(2). `eprintln!` writes a
//! formatted line piece by piece (stderr is unbuffered: one write per literal and per
//! argument, and one for the newline), so with `2>&1` another writer's line lands inside it
//! (`reqtrace: 1GET /home → 404 …`). Every message reqtrace prints on stderr goes through
//! [`line`] (the `say!` macro) or [`raw`].

use std::io::Write;

/// Format `args` and its newline into one buffer, then write it with one call.
pub fn line(args: std::fmt::Arguments) {
    let mut s = args.to_string();
    s.push('\n');
    raw(&s);
}

/// Write `s` as it is (the status line, which redraws itself without a newline) in one call.
pub fn raw(s: &str) {
    // A closed or full stderr must not stop reqtrace: there is nowhere else to say it.
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}

/// `eprintln!`, written whole: `say!("reqtrace: {x}")`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::stderr::line(format_args!($($arg)*))
    };
}
