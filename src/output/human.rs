//! The strace-like text printer: one line per syscall,
//! `[pid 9573] newfstatat(AT_FDCWD, "/x", 0x7ffd…, 0) = -1 ENOENT (No such file or directory)`,
//! with the absolute path appended when it differs from what the tracee passed. Colour is
//! decided once by the caller; every tracee-controlled byte goes through `escape`.

use std::fmt::Write;

use owo_colors::OwoColorize;

use crate::event::{Arg, SyscallEvent};
use crate::syscalls::errno;

use super::escape;

pub fn format_arg(out: &mut String, arg: &Arg) {
    match arg {
        Arg::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Arg::Fd(fd, Some(target)) => {
            let _ = write!(out, "{fd}<");
            escape::escape_into(out, target);
            out.push('>');
        }
        Arg::Fd(fd, None) => {
            let _ = write!(out, "{fd}");
        }
        Arg::AtFdCwd => out.push_str("AT_FDCWD"),
        Arg::Str { bytes, truncated } => {
            out.push_str(&escape::quoted(bytes));
            if *truncated {
                out.push_str("...");
            }
        }
        Arg::Unreadable(addr) => {
            let _ = write!(out, "{addr:#x} /* unreadable */");
        }
        Arg::Null => out.push_str("NULL"),
        Arg::Ptr(addr) => {
            let _ = write!(out, "{addr:#x}");
        }
        Arg::Sym(_) | Arg::Flags(..) => out.push_str(&arg.sym().unwrap_or_default()),
        Arg::StrArray { items, more } => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&escape::quoted(item));
            }
            if *more {
                out.push_str(", ...");
            }
            out.push(']');
        }
    }
}

/// Whether the absolute path is already visible in the arguments as written (an absolute
/// path string, or an fd shown with its target), so repeating it would be noise.
fn path_shown(ev: &SyscallEvent, path: &[u8]) -> bool {
    ev.args.iter().any(|a| match a {
        Arg::Str { bytes, .. } => bytes == path,
        Arg::Fd(_, Some(target)) => target == path,
        _ => false,
    })
}

/// One line, with its trailing newline.
pub fn format_syscall(ev: &SyscallEvent, color: bool) -> String {
    let mut line = String::with_capacity(128);
    let _ = write!(line, "[pid {:>5}] ", ev.tid);
    if color {
        let _ = write!(line, "{}", ev.name.bold());
    } else {
        line.push_str(ev.name);
    }
    line.push('(');
    for (i, a) in ev.args.iter().enumerate() {
        if i > 0 {
            line.push_str(", ");
        }
        format_arg(&mut line, a);
    }
    line.push_str(") = ");
    match ev.errno {
        _ if ev.unfinished => line.push('?'),
        Some(e) => {
            let name = errno::name(e)
                .map(str::to_string)
                .unwrap_or_else(|| format!("E{e}"));
            let text = format!("-1 {name} ({})", errno::message(e));
            if color {
                let _ = write!(line, "{}", text.red().bold());
            } else {
                line.push_str(&text);
            }
        }
        None => {
            let _ = write!(line, "{}", ev.ret);
        }
    }
    if let Some(p) = &ev.path
        && !path_shown(ev, p)
    {
        {
            line.push_str(" → ");
            if color {
                let _ = write!(line, "{}", escape::escaped(p).cyan());
            } else {
                escape::escape_into(&mut line, p);
            }
        }
    }
    line.push('\n');
    line
}
