//! What of a request may be printed without `--show-secrets`. Tokens, session ids and
//! passwords travel in a request's target and Host header; they are shown as `REDACTED`:
//!
//! - the values of the query string (`/a?token=REDACTED`, `/a?REDACTED`);
//! - the user information of an absolute-form target or a CONNECT's authority
//!   (`http://REDACTED@host/x`, `REDACTED@host:443`) and of a Host header;
//! - the values of path parameters (`/app;jsessionid=REDACTED`);
//! - the same in a line the server logged (a request line, a referer, a URL it names);
//! - the query words a CGI server passes to a script as its arguments (RFC 3875 4.4: a query
//!   without an unencoded `=` is split at `+` into argv), wherever an exec shows them.

use std::borrow::Cow;

use crate::event::{Arg, SyscallEvent};
use crate::syscalls::class;

const REDACTED: &[u8] = b"REDACTED";

/// A request target as it may be shown (see the module doc), unless `show_secrets`.
pub fn shown_target(target: &[u8], show_secrets: bool) -> Cow<'_, [u8]> {
    if show_secrets {
        return target.into();
    }
    let (head, query) = match target.iter().position(|&b| b == b'?') {
        Some(q) => (&target[..q], Some(&target[q + 1..])),
        None => (target, None),
    };
    let mut out = Vec::with_capacity(target.len() + 16);
    let path = match authority_span(head) {
        Some((start, end)) => {
            out.extend_from_slice(&head[..start]);
            push_authority(&mut out, &head[start..end]);
            &head[end..]
        }
        None => head,
    };
    push_path(&mut out, path);
    if let Some(q) = query {
        out.push(b'?');
        push_query(&mut out, q);
    }
    if out == target {
        target.into()
    } else {
        out.into()
    }
}

/// A Host header's value as it may be shown: without user information (`REDACTED@host`).
pub fn shown_host(host: &[u8], show_secrets: bool) -> Cow<'_, [u8]> {
    if show_secrets || !host.contains(&b'@') {
        return host.into();
    }
    let mut out = Vec::with_capacity(host.len());
    push_authority(&mut out, host);
    out.into()
}

/// An error-log line as it may be shown: every URL in it (a word that starts with `/` or
/// holds `://`: nginx's `request: "GET /x?token=…"`, Apache's `referer: http://…?…`) shown
/// as [`shown_target`] shows a target; any other word with a query (`index.php?q=…` in a
/// rewrite trace, `REQUEST_URI=/x?…`) with its query's values redacted; the word after
/// nginx's `args:` (a bare query) redacted whole. The rest as written.
pub fn shown_log_line(line: &[u8], show_secrets: bool) -> Cow<'_, [u8]> {
    if show_secrets
        || !line.iter().any(|&b| b == b'?' || b == b'@' || b == b';')
            && !line.windows(5).any(|w| w == b"args:")
    {
        return line.into();
    }
    let delimiter = |b: u8| b.is_ascii_whitespace() || b"\"'`()<>,[]".contains(&b);
    let mut out = Vec::with_capacity(line.len() + 16);
    let mut i = 0;
    let mut after_args = false;
    while i < line.len() {
        if delimiter(line[i]) {
            out.push(line[i]);
            i += 1;
            continue;
        }
        let end = line[i..]
            .iter()
            .position(|&b| delimiter(b))
            .map_or(line.len(), |n| i + n);
        let word = &line[i..end];
        let url = word.first() == Some(&b'/') || word.windows(3).any(|w| w == b"://");
        if after_args {
            push_query(&mut out, word);
        } else if url {
            out.extend_from_slice(&shown_target(word, false));
        } else if let Some(q) = word.iter().position(|&b| b == b'?') {
            out.extend_from_slice(&word[..=q]);
            push_query(&mut out, &word[q + 1..]);
        } else {
            out.extend_from_slice(word);
        }
        after_args = word == b"args:";
        i = end;
    }
    if out == line { line.into() } else { out.into() }
}

/// Where the authority of a target is: after `scheme://` in absolute form (up to the path),
/// or the whole target in authority form (CONNECT's `host:port`). None in origin form
/// (`/x`) and for `*`.
fn authority_span(head: &[u8]) -> Option<(usize, usize)> {
    if head.first() == Some(&b'/') || head == b"*" {
        return None;
    }
    let start = match head.windows(3).position(|w| w == b"://") {
        Some(i)
            if head[0].is_ascii_alphabetic()
                && head[..i]
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            i + 3
        }
        _ => 0,
    };
    let end = head[start..]
        .iter()
        .position(|&b| b == b'/')
        .map_or(head.len(), |j| start + j);
    Some((start, end))
}

/// `user:password@host:port` → `REDACTED@host:port` (the last `@` ends the user part).
fn push_authority(out: &mut Vec<u8>, auth: &[u8]) {
    match auth.iter().rposition(|&b| b == b'@') {
        Some(at) => {
            out.extend_from_slice(REDACTED);
            out.extend_from_slice(&auth[at..]);
        }
        None => out.extend_from_slice(auth),
    }
}

/// A path with the values of its `;name=value` parameters redacted, in every segment.
fn push_path(out: &mut Vec<u8>, path: &[u8]) {
    for (i, seg) in path.split(|&b| b == b'/').enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        for (j, part) in seg.split(|&b| b == b';').enumerate() {
            if j > 0 {
                out.push(b';');
            }
            match part.iter().position(|&b| b == b'=') {
                Some(eq) if j > 0 => {
                    out.extend_from_slice(&part[..=eq]);
                    out.extend_from_slice(REDACTED);
                }
                _ => out.extend_from_slice(part),
            }
        }
    }
}

/// A query string with every value redacted: `a=1&b` → `a=REDACTED&REDACTED`.
fn push_query(out: &mut Vec<u8>, query: &[u8]) {
    for (i, pair) in query.split(|&b| b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match pair.iter().position(|&b| b == b'=') {
            Some(eq) => {
                out.extend_from_slice(&pair[..=eq]);
                out.extend_from_slice(REDACTED);
            }
            None if pair.is_empty() => {}
            None => out.extend_from_slice(REDACTED),
        }
    }
}

/// The words a CGI server passes to a script as its arguments for `target` (RFC 3875 4.4:
/// a query string without an unencoded `=` is split at `+`, each word percent-decoded; empty
/// words left out). Nothing when the query holds an `=` or there is none.
pub fn cgi_argv_words(target: &[u8]) -> Vec<Vec<u8>> {
    let Some(q) = target.iter().position(|&b| b == b'?') else {
        return Vec::new();
    };
    let query = &target[q + 1..];
    if query.contains(&b'=') {
        return Vec::new();
    }
    query
        .split(|&b| b == b'+')
        .filter(|w| !w.is_empty())
        .map(percent_decoded)
        .collect()
}

fn percent_decoded(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && let (Some(h), Some(l)) = (
                s.get(i + 1).and_then(|&b| hex(b)),
                s.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// Whether an argument is one of `words`. Apache puts a backslash before the shell's special
/// characters of each word (ap_escape_shell_cmd), so backslashes are left out on both sides.
fn is_word(arg: &[u8], words: &[Vec<u8>]) -> bool {
    let plain = |s: &[u8]| {
        s.iter()
            .copied()
            .filter(|&b| b != b'\\')
            .collect::<Vec<u8>>()
    };
    let arg = plain(arg);
    !arg.is_empty() && words.iter().any(|w| plain(w) == arg)
}

/// An exec whose arguments (after the program name) hold some of `words`, the query words of
/// a request being served, with those arguments REDACTED; None when it holds none. Only an
/// exec is looked at: that is how a CGI script gets them.
pub fn exec_without_words(ev: &SyscallEvent, words: &[Vec<u8>]) -> Option<SyscallEvent> {
    if ev.class & class::EXEC == 0 || words.is_empty() {
        return None;
    }
    let hit = |items: &[Vec<u8>]| items.iter().skip(1).any(|i| is_word(i, words));
    if !ev
        .args
        .iter()
        .any(|a| matches!(a, Arg::StrArray { items, .. } if hit(items)))
    {
        return None;
    }
    let mut out = ev.clone();
    for a in &mut out.args {
        if let Arg::StrArray { items, .. } = a {
            for i in items.iter_mut().skip(1) {
                if is_word(i, words) {
                    *i = REDACTED.to_vec();
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str, show: bool) -> String {
        String::from_utf8(shown_target(s.as_bytes(), show).into_owned()).unwrap()
    }

    #[test]
    fn urls_in_a_logged_line_are_redacted() {
        let nginx = b"2026/12/01 [error] 7#7: *1 open() \"/srv/x\" failed, client: 127.0.0.1, request: \"GET /x?token=s3cret HTTP/1.1\", referrer: \"http://u:pw@h/a;jsessionid=zz?q=1\"";
        let shown = shown_log_line(nginx, false);
        let text = String::from_utf8_lossy(&shown);
        for secret in ["s3cret", "pw", "zz", "q=1"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("\"/srv/x\""), "{text}");
        assert!(text.contains("GET /x?token=REDACTED HTTP/1.1"), "{text}");
        assert_eq!(shown_log_line(nginx, true), &nginx[..]);
        let more = b"rewrite 'x' -> 'index.php?q=x&token=S2' redirect to `/login?next=/x&token=S3` REQUEST_URI=/x.php?token=S4, args: \"token=S5\"";
        let text = String::from_utf8_lossy(&shown_log_line(more, false)).into_owned();
        for secret in ["S2", "S3", "S4", "S5"] {
            assert!(!text.contains(secret), "{secret}: {text}");
        }
        assert!(
            text.contains("index.php?q=REDACTED&token=REDACTED"),
            "{text}"
        );
        let plain = b"[php:warn] PHP Warning:  include(/srv/a.php): Failed";
        assert!(matches!(shown_log_line(plain, false), Cow::Borrowed(_)));
    }

    #[test]
    fn query_values_are_redacted() {
        assert_eq!(t("/a?token=abc&x=1", false), "/a?token=REDACTED&x=REDACTED");
        assert_eq!(t("/a?secret", false), "/a?REDACTED");
        assert_eq!(t("/a?token=abc", true), "/a?token=abc");
        assert_eq!(t("/home", false), "/home");
        assert_eq!(t("/a?", false), "/a?");
        assert!(matches!(shown_target(b"/home", false), Cow::Borrowed(_)));
    }

    #[test]
    fn credentials_in_authorities_are_redacted() {
        assert_eq!(
            t("http://user:SECRET@host/x?q=1", false),
            "http://REDACTED@host/x?q=REDACTED"
        );
        assert_eq!(t("http://user:SECRET@host", false), "http://REDACTED@host");
        assert_eq!(
            t("HTTP://a@b@host:8080/", false),
            "HTTP://REDACTED@host:8080/"
        );
        assert_eq!(t("http://host/x@y", false), "http://host/x@y");
        assert_eq!(t("user:SECRET@host:443", false), "REDACTED@host:443");
        assert_eq!(t("host:443", false), "host:443");
        assert_eq!(t("/users/@me", false), "/users/@me");
        assert_eq!(t("/go?to=http://u:p@h/", false), "/go?to=REDACTED");
        assert_eq!(t("*", false), "*");
        assert_eq!(
            t("http://user:SECRET@host/x", true),
            "http://user:SECRET@host/x"
        );
        assert_eq!(
            shown_host(b"user:pass@host:80", false).as_ref(),
            b"REDACTED@host:80"
        );
        assert_eq!(shown_host(b"host:80", false).as_ref(), b"host:80");
        assert_eq!(
            shown_host(b"user:pass@host", true).as_ref(),
            b"user:pass@host"
        );
    }

    #[test]
    fn path_parameter_values_are_redacted() {
        assert_eq!(
            t("/app;jsessionid=ABC/x.jsp?a=1", false),
            "/app;jsessionid=REDACTED/x.jsp?a=REDACTED"
        );
        assert_eq!(
            t("/a;x=1;y=2/b;z=", false),
            "/a;x=REDACTED;y=REDACTED/b;z=REDACTED"
        );
        assert_eq!(t("/a;b.txt", false), "/a;b.txt");
        assert_eq!(t("/a=b;c", false), "/a=b;c");
        assert_eq!(
            t("http://u:p@h/app;jsessionid=ABC", false),
            "http://REDACTED@h/app;jsessionid=REDACTED"
        );
        assert_eq!(t("/app;jsessionid=ABC", true), "/app;jsessionid=ABC");
    }

    #[test]
    fn cgi_argv_words_follow_rfc_3875() {
        let w = |s: &str| cgi_argv_words(s.as_bytes());
        assert_eq!(w("/x.cgi?a+b%26c"), vec![b"a".to_vec(), b"b&c".to_vec()]);
        assert_eq!(w("/x.cgi?a++b+"), vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(w("/x.cgi?a=1+b").is_empty());
        assert!(w("/x.cgi").is_empty());
        assert!(w("/x.cgi?").is_empty());
        assert_eq!(w("/x?%zz%4"), vec![b"%zz%4".to_vec()]);
    }

    #[test]
    fn only_the_query_words_of_an_exec_are_redacted() {
        let spec = crate::syscalls::table::by_name("execve").unwrap();
        let mut ev = SyscallEvent::new(0.0, 1, 1, "x".into(), libc::SYS_execve as u64, spec);
        let argv = |v: &[&str]| Arg::StrArray {
            items: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
            more: false,
        };
        ev.args = vec![argv(&["/w/x.cgi", "S1", "b\\&c", "-v"])];
        let words = cgi_argv_words(b"/x.cgi?S1+b%26c+x.cgi");
        let out = exec_without_words(&ev, &words).unwrap();
        assert!(matches!(&out.args[0], Arg::StrArray { items, .. }
            if items == &[b"/w/x.cgi".to_vec(), REDACTED.to_vec(), REDACTED.to_vec(), b"-v".to_vec()]));
        assert!(exec_without_words(&ev, &cgi_argv_words(b"/x.cgi?other")).is_none());
        assert!(exec_without_words(&ev, &[]).is_none());
    }
}
