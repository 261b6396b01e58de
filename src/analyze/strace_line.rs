//! The syntax of strace's output, one line at a time: the optional PID column (`-f` with `-o`,
//! or `[pid N]` on a terminal), the optional time stamp (`-t`, `-tt`, `-ttt`), and the body: a
//! complete call `name(args) = result`, its `<unfinished ...>` first half or `<... name
//! resumed>` second half, a signal, an exit. Also splitting argument lists, reading strace's
//! quoted strings back into bytes, and the `-y` decorations (`3</etc/passwd>`). Pure text in,
//! borrowed pieces out; what the calls mean is strace.rs's business.

/// One line, taken apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// The thread (strace's "pid" column is the thread id); `None` without `-f`.
    pub tid: Option<i32>,
    /// Seconds: since midnight for `-t`/`-tt` (`clock` true), since the epoch for `-ttt`.
    pub ts: Option<f64>,
    pub clock: bool,
    pub body: Body<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body<'a> {
    /// `name(args) = result`: `args` is the text between the parentheses, `result` what
    /// follows ` = ` (`-1 ENOENT (No such file or directory)`, `3</path>`, `?`).
    Call {
        name: &'a str,
        args: &'a str,
        result: &'a str,
    },
    /// `name(args <unfinished ...>`: `head` is `name(args` up to the marker.
    Unfinished { name: &'a str, head: &'a str },
    /// `<... name resumed>rest`.
    Resumed { name: &'a str, rest: &'a str },
    /// A call cut short by strace detaching (`<detached ...>`) or printed without a result.
    Cut { name: &'a str },
    /// `+++ exited with N +++`.
    Exited(i32),
    /// `+++ killed by SIGKILL +++` (the signal's name).
    Killed(&'a str),
    /// `--- SIGCHLD {...} ---`, `strace: Process N attached` and other lines that carry no
    /// call: understood, nothing to do.
    Note,
}

/// Why a line could not be taken apart.
pub type Why = &'static str;

/// Take one line apart.
pub fn parse(line: &str) -> Result<Line<'_>, Why> {
    let mut rest = line.trim_end_matches(['\n', '\r']);
    let mut tid = None;
    if let Some(r) = rest.strip_prefix("[pid ") {
        let end = r.find(']').ok_or("a [pid N] prefix without its ]")?;
        tid = Some(
            r[..end]
                .trim()
                .parse()
                .map_err(|_| "a bad [pid N] prefix")?,
        );
        rest = r[end + 1..].trim_start();
    } else if let Some((word, after)) = split_word(rest)
        && !word.is_empty()
        && word.bytes().all(|b| b.is_ascii_digit())
    {
        // A first column of digits alone is the PID (-f); a time stamp has ':' or '.'.
        tid = Some(word.parse().map_err(|_| "a PID out of range")?);
        rest = after;
    }
    let mut ts = None;
    let mut clock = false;
    if let Some((word, after)) = split_word(rest)
        && let Some((t, c)) = timestamp(word)
    {
        ts = Some(t);
        clock = c;
        rest = after;
    }
    Ok(Line {
        tid,
        ts,
        clock,
        body: body(rest)?,
    })
}

/// The first space-separated word and what follows it (trimmed).
fn split_word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let end = s.find(' ')?;
    Some((&s[..end], s[end..].trim_start()))
}

/// `HH:MM:SS[.frac]` (seconds since midnight, clock) or `SECS.frac` (the epoch, -ttt).
fn timestamp(w: &str) -> Option<(f64, bool)> {
    let digits_dot = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if w.contains(':') {
        let mut parts = w.split(':');
        let h: f64 = parts.next()?.parse().ok()?;
        let m: f64 = parts.next()?.parse().ok()?;
        let s = parts.next()?;
        if parts.next().is_some() || !digits_dot(s) {
            return None;
        }
        let s: f64 = s.parse().ok()?;
        return Some((h * 3600.0 + m * 60.0 + s, true));
    }
    if w.contains('.') && digits_dot(w) {
        return Some((w.parse().ok()?, false));
    }
    None
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn body(s: &str) -> Result<Body<'_>, Why> {
    if s.starts_with("--- ") || s.starts_with("strace: ") || s.is_empty() {
        return Ok(Body::Note);
    }
    if let Some(r) = s.strip_prefix("+++ ") {
        if let Some(code) = r.strip_prefix("exited with ") {
            let code = code.trim_end_matches(" +++").trim();
            return Ok(Body::Exited(code.parse().map_err(|_| "a bad exit status")?));
        }
        if let Some(sig) = r.strip_prefix("killed by ") {
            let sig = sig.split_whitespace().next().unwrap_or("");
            return Ok(Body::Killed(sig));
        }
        return Ok(Body::Note);
    }
    if let Some(r) = s.strip_prefix("<... ") {
        let end = r
            .find(" resumed>")
            .ok_or("a <... resumed> without its name")?;
        let name = &r[..end];
        if !is_name(name) {
            return Err("a <... resumed> without its name");
        }
        return Ok(Body::Resumed {
            name,
            rest: &r[end + " resumed>".len()..],
        });
    }
    let open = s
        .find('(')
        .ok_or("no call: expected name(arguments) = result")?;
    let name = &s[..open];
    if !is_name(name) {
        return Err("no call: expected name(arguments) = result");
    }
    if let Some(head) = s.strip_suffix("<unfinished ...>") {
        return Ok(Body::Unfinished {
            name,
            head: head.trim_end(),
        });
    }
    if s.ends_with("<detached ...>") {
        return Ok(Body::Cut { name });
    }
    let close = matching_paren(s, open).ok_or("unbalanced parentheses or quotes")?;
    let after = s[close + 1..].trim_start();
    let Some(result) = after.strip_prefix('=') else {
        // exit_group(0) and calls strace printed without a result.
        return if after.is_empty() {
            Ok(Body::Cut { name })
        } else {
            Err("no ' = ' after the arguments")
        };
    };
    Ok(Body::Call {
        name,
        args: &s[open + 1..close],
        result: result.trim(),
    })
}

/// The index of the `)` closing the `(` at `open`, skipping quoted strings and nested
/// brackets.
fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'"' => i = end_of_string(b, i)?,
            // A -y decoration (`3</a(b>`) may hold anything up to its '>'.
            b'<' if i > 0 && b[i - 1].is_ascii_alphanumeric() => {
                if let Some(e) = decoration_end(b, i) {
                    i = e;
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (b[i] == b')').then_some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the closing quote of the string opening at `start`.
fn end_of_string(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Split an argument list on its top-level commas (not those inside strings, [], {}, ()).
/// Each argument is trimmed; an empty list gives no arguments.
pub fn split_args(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => match end_of_string(b, i) {
                Some(e) => i = e,
                None => break,
            },
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            // `-y` decorations hold anything but are closed by '>' (TCP:[a->b]).
            b'<' if i > 0 && b[i - 1].is_ascii_alphanumeric() => {
                if let Some(e) = decoration_end(b, i) {
                    i = e;
                }
            }
            b',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = s[start..].trim();
    if !last.is_empty() || !out.is_empty() {
        out.push(last);
    }
    out
}

/// The '>' closing a `-y` decoration opened at `open` (brackets inside it nest).
fn decoration_end(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate().skip(open + 1) {
        match c {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'>' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// A quoted string argument: its bytes, and whether strace cut it (`"..."...`).
pub fn string(arg: &str) -> Option<(Vec<u8>, bool)> {
    let b = arg.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let end = end_of_string(b, 0)?;
    let truncated = arg[end + 1..].starts_with("...");
    Some((unescape(&b[1..end]), truncated))
}

/// strace's escapes back to bytes: \n \r \t \v \f \" \\, octal \NNN, hex \xHH.
pub fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'f' => out.push(0x0c),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'e' => out.push(0x1b),
            b'x' => {
                let hex: Vec<u8> = b[i..]
                    .iter()
                    .take(2)
                    .take_while(|d| d.is_ascii_hexdigit())
                    .copied()
                    .collect();
                i += hex.len();
                let v = std::str::from_utf8(&hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(v.unwrap_or(b'x'));
            }
            b'0'..=b'7' => {
                let mut v: u32 = u32::from(c - b'0');
                let mut n = 1;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    out
}

/// A number with an optional `-y` decoration: `3`, `3</etc/passwd>`, `8<TCP:[1.2.3.4:80]>`,
/// `0x2 (flags O_RDWR)` (the value only).
pub fn number(arg: &str) -> Option<(i64, Option<&str>)> {
    let (num, deco) = match arg.find('<') {
        Some(i) if arg.ends_with('>') => (&arg[..i], Some(&arg[i + 1..arg.len() - 1])),
        _ => (arg.split(' ').next().unwrap_or(arg), None),
    };
    let v = if let Some(h) = num.strip_prefix("0x") {
        i64::from_str_radix(h, 16)
            .ok()
            .or_else(|| u64::from_str_radix(h, 16).ok().map(|u| u as i64))?
    } else {
        num.parse().ok()?
    };
    Some((v, deco))
}

/// A call's result: `-1 ENOENT (...)` gives (-1, Some("ENOENT")); `3</path>` gives (3, None,
/// Some("/path")); `?` gives `None` (the call never returned, as exit does).
pub fn result(r: &str) -> Option<(i64, Option<&str>, Option<&str>)> {
    if r.starts_with('?') {
        return None;
    }
    // The number, and its -y decoration up to the '>' that closes it (paths hold spaces).
    let digits = r
        .find(|c: char| !(c.is_ascii_hexdigit() || c == '-' || c == 'x'))
        .unwrap_or(r.len());
    let first = if r[digits..].starts_with('<') {
        match decoration_end(r.as_bytes(), digits) {
            Some(e) => &r[..=e],
            None => r,
        }
    } else {
        &r[..digits]
    };
    let (v, deco) = number(first)?;
    let errno = if v == -1 {
        r.split(' ')
            .nth(1)
            .filter(|w| w.starts_with('E') && is_name(w))
    } else {
        None
    };
    Some((v, errno, deco))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_stat_with_pid_and_time() {
        let l = parse(r#"16323 03:12:29.632669 newfstatat(AT_FDCWD, "/index.phpp", 0x7fffab46ce00, 0) = -1 ENOENT (No such file or directory)"#).unwrap();
        assert_eq!(l.tid, Some(16323));
        assert!(l.clock);
        assert!((l.ts.unwrap() - (3.0 * 3600.0 + 12.0 * 60.0 + 29.632669)).abs() < 1e-6);
        let Body::Call { name, args, result } = l.body else {
            panic!("{:?}", l.body)
        };
        assert_eq!(name, "newfstatat");
        assert_eq!(
            split_args(args),
            ["AT_FDCWD", "\"/index.phpp\"", "0x7fffab46ce00", "0"]
        );
        assert_eq!(super::result(result), Some((-1, Some("ENOENT"), None)));
    }

    #[test]
    fn unfinished_resumed_and_markers() {
        let l = parse("16323 03:12:28.611005 accept4(3,  <unfinished ...>").unwrap();
        assert_eq!(
            l.body,
            Body::Unfinished {
                name: "accept4",
                head: "accept4(3,"
            }
        );
        let l =
            parse("[pid  16323] <... accept4 resumed>{sa_family=AF_INET}, [16], SOCK_CLOEXEC) = 8")
                .unwrap();
        assert_eq!(l.tid, Some(16323));
        assert_eq!(
            l.body,
            Body::Resumed {
                name: "accept4",
                rest: "{sa_family=AF_INET}, [16], SOCK_CLOEXEC) = 8"
            }
        );
        assert_eq!(
            parse("1 +++ exited with 3 +++").unwrap().body,
            Body::Exited(3)
        );
        assert_eq!(
            parse("1 +++ killed by SIGKILL +++").unwrap().body,
            Body::Killed("SIGKILL")
        );
        assert_eq!(
            parse("1 --- SIGCHLD {si_signo=SIGCHLD} ---").unwrap().body,
            Body::Note
        );
        assert_eq!(
            parse("1 accept4(3,  <detached ...>").unwrap().body,
            Body::Cut { name: "accept4" }
        );
        assert_eq!(
            parse("1 exit_group(0) = ?").unwrap().body,
            Body::Call {
                name: "exit_group",
                args: "0",
                result: "?"
            }
        );
    }

    #[test]
    fn epoch_time_without_pid() {
        let l = parse(r#"1732590748.610492 chdir("/") = 0"#).unwrap();
        assert_eq!(l.tid, None);
        assert!(!l.clock);
        assert!((l.ts.unwrap() - 1732590748.610492).abs() < 1e-3);
    }

    #[test]
    fn strings_with_escapes_parens_and_commas() {
        let l = parse(r#"7 write(6, "a \"b\" (c), d\n\33\x7f\0", 12) = 12"#).unwrap();
        let Body::Call { args, .. } = l.body else {
            panic!()
        };
        let a = split_args(args);
        assert_eq!(a.len(), 3);
        assert_eq!(
            string(a[1]).unwrap(),
            (b"a \"b\" (c), d\n\x1b\x7f\0".to_vec(), false)
        );
        assert_eq!(string(r#""abc"..."#).unwrap(), (b"abc".to_vec(), true));
    }

    #[test]
    fn decorations() {
        let l = parse(
            r#"5 read(8<TCP:[127.0.0.1:80->127.0.0.1:5555]>, "GET / HTTP/1.1\r\n", 8000) = 16"#,
        )
        .unwrap();
        let Body::Call { args, result, .. } = l.body else {
            panic!()
        };
        let a = split_args(args);
        assert_eq!(a.len(), 3);
        assert_eq!(
            number(a[0]),
            Some((8, Some("TCP:[127.0.0.1:80->127.0.0.1:5555]")))
        );
        assert_eq!(super::result(result), Some((16, None, None)));
        assert_eq!(
            super::result("9</tmp/a b>"),
            Some((9, None, Some("/tmp/a b")))
        );
        assert_eq!(super::result("0x2 (flags O_RDWR)"), Some((2, None, None)));
        // Brackets and parentheses inside a decoration are not syntax.
        let l = parse(r#"5 read(3</tmp/x)y>, "a", 1) = 1"#).unwrap();
        let Body::Call { args, .. } = l.body else {
            panic!()
        };
        assert_eq!(split_args(args), ["3</tmp/x)y>", "\"a\"", "1"]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "hello",
            "12 03:00:00.1 open(\"/x\", O_RDONLY",
            "12 <... open",
            "[pid 12",
            "open(\"/x\") garbage",
            "\u{0}\u{1}",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
