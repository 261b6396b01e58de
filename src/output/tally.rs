//! `--summary`: failures by path, errno and syscall (strace -c, but by path) and requests by
//! status, counted while tracing and printed at exit: as a table, or inside the JSON summary
//! line. Bounded: past a number of distinct failures, further ones are counted together.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use crate::event::SyscallEvent;
use crate::syscalls::errno;

use super::escape;

/// Distinct (path, errno, syscall) rows kept; the rest are counted in `other`.
const MAX_ROWS: usize = 10_000;
/// Rows shown at exit.
pub const SHOWN: usize = 50;

#[derive(Debug, Default)]
pub struct Tally {
    failures: HashMap<(Vec<u8>, i32, &'static str), u64>,
    other: u64,
    statuses: BTreeMap<String, u64>,
}

/// One row of the failure table.
pub struct Row<'a> {
    pub path: &'a [u8],
    pub errno: i32,
    pub syscall: &'static str,
    pub count: u64,
}

impl Tally {
    pub fn failure(&mut self, ev: &SyscallEvent) {
        let (Some(e), Some(path)) = (ev.errno, &ev.path) else {
            return;
        };
        let key = (path.clone(), e, ev.name);
        if let Some(n) = self.failures.get_mut(&key) {
            *n += 1;
        } else if self.failures.len() < MAX_ROWS {
            self.failures.insert(key, 1);
        } else {
            self.other += 1;
        }
    }

    pub fn request(&mut self, status: Option<u16>) {
        let key = status.map_or_else(|| "none".to_string(), |s| s.to_string());
        *self.statuses.entry(key).or_default() += 1;
    }

    /// The most frequent failures first (then by path), at most `SHOWN`.
    pub fn rows(&self) -> Vec<Row<'_>> {
        let mut rows: Vec<Row> = self
            .failures
            .iter()
            .map(|((path, errno, syscall), &count)| Row {
                path,
                errno: *errno,
                syscall,
                count,
            })
            .collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.path.cmp(b.path)));
        rows.truncate(SHOWN);
        rows
    }

    /// Failures not shown in `rows` (beyond the first `SHOWN`, or beyond `MAX_ROWS`).
    pub fn not_shown(&self) -> u64 {
        let shown: u64 = self.rows().iter().map(|r| r.count).sum();
        self.failures.values().sum::<u64>() + self.other - shown
    }

    pub fn statuses(&self) -> &BTreeMap<String, u64> {
        &self.statuses
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "failures by path:\n  {:>7}  {:<12} {:<14} path",
            "count", "errno", "syscall"
        );
        for r in self.rows() {
            let _ = writeln!(
                out,
                "  {:>7}  {:<12} {:<14} {}",
                r.count,
                errno::name(r.errno).unwrap_or("E?"),
                r.syscall,
                escape::escaped(r.path)
            );
        }
        let rest = self.not_shown();
        if rest > 0 {
            let _ = writeln!(out, "  {rest:>7}  (other failures)");
        }
        if !self.statuses.is_empty() {
            let _ = writeln!(out, "requests by status:");
            for (status, n) in &self.statuses {
                let _ = writeln!(out, "  {n:>7}  {status}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ev(path: &str, errno: Option<i32>, name: &'static str) -> SyscallEvent {
        let spec = crate::syscalls::table::by_name(name).expect("a known syscall");
        let mut ev = SyscallEvent::new(0.0, 1, 1, Arc::from("x"), 0, spec);
        ev.path = Some(path.as_bytes().to_vec());
        ev.returned(errno.map_or(0, |e| -(e as i64)), errno);
        ev.shown = true;
        ev
    }

    #[test]
    fn failures_are_counted_by_path_errno_and_syscall() {
        let mut t = Tally::default();
        for _ in 0..3 {
            t.failure(&ev("/srv/www/index.phpp", Some(libc::ENOENT), "newfstatat"));
        }
        t.failure(&ev("/srv/www/index.phpp", Some(libc::ENOENT), "openat"));
        t.failure(&ev("/srv/www/secret", Some(libc::EACCES), "openat"));
        t.failure(&ev("/ok", None, "openat"));
        t.request(Some(404));
        t.request(Some(404));
        t.request(None);
        let rows = t.rows();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[0].path, rows[0].count, rows[0].syscall),
            (&b"/srv/www/index.phpp"[..], 3, "newfstatat")
        );
        assert_eq!(t.not_shown(), 0);
        assert_eq!(t.statuses().get("404"), Some(&2));
        assert_eq!(t.statuses().get("none"), Some(&1));
        let table = t.table();
        assert!(table.contains("ENOENT") && table.contains("requests by status"));
    }

    #[test]
    fn rows_beyond_the_bounds_are_counted_not_kept() {
        let mut t = Tally::default();
        for i in 0..MAX_ROWS + 5 {
            t.failure(&ev(&format!("/f{i}"), Some(libc::ENOENT), "openat"));
        }
        assert_eq!(t.rows().len(), SHOWN);
        assert_eq!(t.not_shown(), (MAX_ROWS + 5 - SHOWN) as u64);
    }
}
