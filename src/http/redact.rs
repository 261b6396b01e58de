//! What of a request may be printed without `--show-secrets`. Tokens, session ids and
//! passwords travel in a request's target and Host header; they are shown as `REDACTED`:
//!
//! - the values of the query string (`/a?token=REDACTED`, `/a?REDACTED`);
//! - the user information of an absolute-form target or a CONNECT's authority
//!   (`http://REDACTED@host/x`, `REDACTED@host:443`) and of a Host header;
//! - the values of path parameters (`/app;jsessionid=REDACTED`);
//! - the query words a CGI server passes to a script as its arguments (RFC 3875 4.4: a query
//!   without an unencoded `=` is split at `+` into argv), wherever an exec shows them.

use std::borrow::Cow;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str, show: bool) -> String {
        String::from_utf8(shown_target(s.as_bytes(), show).into_owned()).unwrap()
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
}
