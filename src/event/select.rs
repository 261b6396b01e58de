//! Which syscalls a source stops on and which it prints: `--trace LIST` and `--failed`
//! resolved once into a per-number table, and the one rule that decides whether a call is
//! shown. Every source (the ptrace tracer, the strace-log and recorded-JSON replayers) asks
//! this table; none decides on its own.

use crate::error::Error;
use crate::syscalls::table::Catalogue;
use crate::syscalls::{StatKind, class, table};

/// Per syscall number: ignore it, follow it silently (fd/cwd bookkeeping, the correlator's
/// socket I/O and file calls), or print it. `Print` carries the stat flavours to print
/// (`STAT_ALL` for every call): `--trace lstat` selects newfstatat but prints only its
/// lstat-flavoured calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    Ignore,
    Track,
    Print(u8),
}

/// Flavour bits of `Select::Print`.
pub const STAT_STAT: u8 = 1;
pub const STAT_LSTAT: u8 = 2;
pub const STAT_FSTAT: u8 = 4;
pub const STAT_ALL: u8 = 7;

/// The `Select::Print` bit of a stat flavour.
pub fn flavour_bit(kind: StatKind) -> u8 {
    match kind {
        StatKind::Stat => STAT_STAT,
        StatKind::Lstat => STAT_LSTAT,
        StatKind::Fstat => STAT_FSTAT,
    }
}

/// `--trace` and `--failed`, resolved: what is stopped on, and what is shown.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Indexed by syscall number.
    pub select: Vec<Select>,
    pub failed_only: bool,
}

impl Selection {
    /// Resolve `--trace LIST`. Bookkeeping calls (close, dup, chdir, exec...) are always
    /// tracked so fd and cwd knowledge stays true; with `correlate`, so are the socket I/O
    /// and the file calls the HTTP correlator watches.
    pub fn new(
        list: &str,
        failed_only: bool,
        cat: &Catalogue,
        correlate: bool,
    ) -> Result<Selection, Error> {
        Ok(Selection {
            select: selection(list, cat, correlate)?,
            failed_only,
        })
    }

    /// What to do with syscall `nr` at its entry.
    pub fn get(&self, nr: u64) -> Select {
        self.select
            .get(nr as usize)
            .copied()
            .unwrap_or(Select::Ignore)
    }

    /// Whether a call is printed, before its result is known: its number was asked for, and
    /// for a stat-family call, its flavour.
    pub fn printed(&self, nr: u64, stat_kind: Option<StatKind>) -> bool {
        match self.get(nr) {
            Select::Print(mask) => stat_kind.is_none_or(|k| mask & flavour_bit(k) != 0),
            _ => false,
        }
    }

    /// Whether a finished call is shown: printed, and failed when `--failed` asks for that.
    pub fn shown(&self, printed: bool, errno: Option<i32>) -> bool {
        printed && !(self.failed_only && errno.is_none())
    }
}

fn selection(list: &str, cat: &Catalogue, correlate: bool) -> Result<Vec<Select>, Error> {
    let max = cat.iter().map(|(nr, _)| nr).max().unwrap_or(0) as usize;
    let mut sel = vec![Select::Ignore; max + 1];
    let mut track = class::TRACK;
    if correlate {
        // The correlator needs a request's socket I/O and file calls whatever is printed.
        track |= class::HTTP | class::FILES;
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
