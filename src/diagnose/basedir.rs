//! PHP's `open_basedir` refusals, read from what the server logged for a request. PHP checks
//! a path against open_basedir before it calls the kernel, so the refusal leaves no failing
//! syscall at all: only its warning, `open_basedir restriction in effect. File(/x) is not
//! within the allowed path(s): (/a:/b)`, names the file. Under mod_php the worker logs it
//! itself; under php-fpm it arrives in the web server's error log inside the FastCGI stderr
//! message (nginx's `FastCGI sent in stderr: "PHP message: …"`, Apache's `AH01071: Got error
//! 'PHP message: …'`), several PHP messages to a line. Each refusal is a [`Note`] that names
//! the file first and makes the request need attention.

use super::hint::Note;
use crate::http::correlate::Request;

const MARK: &[u8] = b"open_basedir restriction in effect. File(";
const WITHIN: &[u8] = b") is not within the allowed path(s): (";
/// Refusals noted per request at most (a loop over a thousand files logs a thousand).
const MAX_NOTES: usize = 8;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The refusals one logged line reports: (file, allowed paths as PHP listed them).
pub(super) fn refusals(line: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = find(rest, MARK) {
        rest = &rest[i + MARK.len()..];
        let Some(j) = find(rest, WITHIN) else {
            break;
        };
        let path = rest[..j].to_vec();
        rest = &rest[j + WITHIN.len()..];
        // The list ends at `) in FILE on line N`; a path may hold a `)`, so the first `)`
        // is the end only when that is all there is.
        let end = find(rest, b") in ")
            .or_else(|| rest.iter().position(|&b| b == b')'))
            .unwrap_or(rest.len());
        let allowed = rest[..end].to_vec();
        rest = &rest[end..];
        if !path.is_empty() && !out.iter().any(|(p, _)| *p == path) {
            out.push((path, allowed));
        }
    }
    out
}

/// The open_basedir notes of a request, from its logged lines, each file once.
pub(super) fn notes(req: &Request) -> Vec<Note> {
    let mut out: Vec<Note> = Vec::new();
    for l in &req.logged {
        for (path, allowed) in refusals(&l.line) {
            if out.len() >= MAX_NOTES {
                return out;
            }
            if !out
                .iter()
                .any(|n| matches!(n, Note::OpenBasedir { path: p, .. } if *p == path))
            {
                out.push(Note::OpenBasedir { path, allowed });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod_php_nginx_and_apache_forms() {
        let mod_php = b"[Tue Dec 01 17:00:00 2026] [php:warn] [pid 7] [client 127.0.0.1:5] PHP Warning:  include(): open_basedir restriction in effect. File(/srv/lib/config.php) is not within the allowed path(s): (/srv/www:/tmp) in /srv/www/index.php on line 2";
        assert_eq!(
            refusals(mod_php),
            [(b"/srv/lib/config.php".to_vec(), b"/srv/www:/tmp".to_vec())]
        );
        // nginx relays php-fpm's stderr: two PHP messages glued in one line.
        let nginx = b"2026/12/01 17:00:00 [error] 8#8: *1 FastCGI sent in stderr: \"PHP message: PHP Warning:  include(): open_basedir restriction in effect. File(/srv/a (old)/x.php) is not within the allowed path(s): (/srv/www) in /srv/www/index.php on line 2PHP message: PHP Warning:  file_get_contents(): open_basedir restriction in effect. File(/etc/app.ini) is not within the allowed path(s): (/srv/www) in /srv/www/index.php on line 3\" while reading response header from upstream, client: 127.0.0.1";
        assert_eq!(
            refusals(nginx),
            [
                (b"/srv/a (old)/x.php".to_vec(), b"/srv/www".to_vec()),
                (b"/etc/app.ini".to_vec(), b"/srv/www".to_vec()),
            ]
        );
        // The script itself refused by the pool's open_basedir, through Apache's proxy_fcgi.
        let apache = b"[proxy_fcgi:error] [pid 9] [client 127.0.0.1:6] AH01071: Got error 'PHP message: PHP Warning:  Unknown: open_basedir restriction in effect. File(/srv/www/x.php) is not within the allowed path(s): (/var/www) in Unknown on line 0'";
        assert_eq!(
            refusals(apache),
            [(b"/srv/www/x.php".to_vec(), b"/var/www".to_vec())]
        );
        // Cut short, or something else: nothing, and no panic.
        for l in [
            &b"PHP Warning:  open_basedir restriction in effect. File(/x"[..],
            b"open_basedir restriction in effect. File() is not within the allowed path(s): (",
            b"PHP Warning:  include(/x): Failed to open stream",
        ] {
            assert!(refusals(l).is_empty(), "{:?}", String::from_utf8_lossy(l));
        }
    }
}
