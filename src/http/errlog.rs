//! What a web server's error log says of a request, read from one line of it:
//!
//! - Apache: `[Tue Dec 01 17:00:00.123456 2026] [php:warn] [pid 42] [client 127.0.0.1:5000]
//!   PHP Warning:  include(/srv/x.php): Failed to open stream: …, referer: …`
//! - nginx: `2026/12/01 17:00:00 [error] 42#42: *7 open() "/srv/x" failed (2: No such file
//!   or directory), client: 127.0.0.1, server: _, request: "GET /x HTTP/1.1", host: "…"`
//! - php-fpm and PHP's own log: `[01-Dec-2026 17:00:00] WARNING: [pool www] child 42 said
//!   into stderr: "…"`, `[01-Dec-2026 17:00:00 UTC] PHP Fatal error:  …`
//!
//! From a line: how grave it is, the request it names (nginx names it, Apache does not) and
//! the file paths its message names. Pure and total: a line in no known format is a line of
//! unknown gravity that names whatever paths it holds.

/// How grave a logged line is. PHP's own word wins over the server's level: nginx logs all
/// of a FastCGI backend's stderr at `[error]`, PHP's deprecations included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Gravity {
    /// notice, info, debug, PHP's Notice and Deprecated, or no level found.
    Notice,
    /// warn, PHP Warning.
    Warning,
    /// error, crit, alert, emerg, PHP Fatal error, Parse error.
    Error,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn gravity_of_word(w: &[u8]) -> Option<Gravity> {
    let w = w.to_ascii_lowercase();
    match w.as_slice() {
        b"emerg" | b"alert" | b"crit" | b"error" | b"fatal" => Some(Gravity::Error),
        b"warn" | b"warning" => Some(Gravity::Warning),
        b"notice" | b"info" | b"debug" => Some(Gravity::Notice),
        _ if w.starts_with(b"trace") => Some(Gravity::Notice),
        _ => None,
    }
}

/// The gravity of a line: PHP's words if it holds any (the gravest of them), else the
/// server's level (`[module:level]`, `[level]`, `LEVEL:`), else Notice.
pub fn gravity(line: &[u8]) -> Gravity {
    let php = [
        (&b"PHP Fatal error"[..], Gravity::Error),
        (b"PHP Parse error", Gravity::Error),
        (b"PHP Recoverable fatal error", Gravity::Error),
        (b"PHP Warning", Gravity::Warning),
        (b"PHP Notice", Gravity::Notice),
        (b"PHP Deprecated", Gravity::Notice),
    ];
    if let Some(g) = php
        .iter()
        .filter(|(w, _)| find(line, w).is_some())
        .map(|(_, g)| *g)
        .max()
    {
        return g;
    }
    // `[php:warn]`, `[core:error]`, `[error]`: the first bracketed word that is a level.
    let mut rest = line;
    while let Some(open) = rest.iter().position(|&b| b == b'[') {
        let inner = &rest[open + 1..];
        let Some(close) = inner.iter().position(|&b| b == b']') else {
            break;
        };
        let word = &inner[..close];
        let level = word.rsplit(|&b| b == b':').next().unwrap_or(word);
        if let Some(g) = gravity_of_word(level) {
            // mod_php logs what the application itself wrote with error_log() at
            // `[php:notice]`, with none of PHP's words (PHP's own notices say `PHP
            // Notice`, handled above). An application writes there what went wrong
            // (`Failed to load /x: check read access`), and the same line through
            // php-fpm reaches nginx's log at `[error]`: weigh it as a warning.
            if g == Gravity::Notice && word.starts_with(b"php") && level == b"notice" {
                return Gravity::Warning;
            }
            return g;
        }
        rest = &inner[close + 1..];
    }
    // php-fpm: `] WARNING: [pool www] …`.
    for w in line.split(|&b| b == b' ') {
        if let Some(word) = w.strip_suffix(b":")
            && word.len() > 3
            && word.iter().all(u8::is_ascii_uppercase)
            && let Some(g) = gravity_of_word(word)
        {
            return g;
        }
    }
    Gravity::Notice
}

/// The request an nginx line names (`request: "GET /x HTTP/1.1"`): its method and target.
pub fn request_named(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = find(line, b"request: \"")? + b"request: \"".len();
    let rest = &line[at..];
    let end = rest.iter().position(|&b| b == b'"')?;
    let mut words = rest[..end].split(|&b| b == b' ');
    let method = words.next().filter(|m| !m.is_empty())?;
    let target = words.next().filter(|t| !t.is_empty())?;
    Some((method, target))
}

/// The message of a line: without the context a server appends after it (nginx's `, client:
/// …, request: "…"`, Apache's `, referer: …`), which names URLs, not files.
fn message(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    for tail in [&b", client: "[..], b", referer: ", b", referrer: "] {
        if let Some(i) = find(line, tail) {
            end = end.min(i);
        }
    }
    &line[..end]
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || b"'\"`()[]{},;<>|=".contains(&b)
}

/// Whether a token that does not start with `/` is a file name: `dir/name`, or `name.ext`
/// whose extension starts with a letter (not `127.0.0.1`, not `1.5`).
fn relative_file(t: &[u8]) -> bool {
    // A date (`2026/12/01`) or a number holds no letter.
    if t.len() < 3
        || t.starts_with(b"-")
        || find(t, b"://").is_some()
        || !t.iter().any(u8::is_ascii_alphabetic)
    {
        return false;
    }
    // `HTTP/1.1`, `text/html` and the like: a version or a media type, not a file.
    if t.contains(&b'/') {
        return !t.starts_with(b"HTTP/") && t.iter().any(|&b| b == b'.' || b == b'/');
    }
    match t.iter().rposition(|&b| b == b'.') {
        Some(i) if i > 0 && i + 1 < t.len() => {
            t[i + 1].is_ascii_alphabetic() && t[i + 1..].iter().all(u8::is_ascii_alphanumeric)
        }
        _ => false,
    }
}

/// The file paths the message of a line names, absolute (`/srv/x.php`) or relative
/// (`lib/x.php`, `header.phpp`), in order, each once. A trailing `:` or `.` is not part of
/// a path (`include(/x): Failed`, `… in /x.php on line 3.`).
pub fn paths(line: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for raw in message(line).split(|&b| is_delimiter(b)) {
        // `/a:/b` (an open_basedir list) holds several paths.
        for mut t in split_colon_paths(raw) {
            // `/x.php:12` (PHP's file:line in a stack trace).
            if let Some(colon) = t.iter().rposition(|&b| b == b':')
                && colon + 1 < t.len()
                && t[colon + 1..].iter().all(u8::is_ascii_digit)
            {
                t = &t[..colon];
            }
            while let Some(s) = t.strip_suffix(b":").or_else(|| t.strip_suffix(b".")) {
                t = s;
            }
            let keep = (t.len() > 1 && t[0] == b'/' && !t.starts_with(b"//")) || relative_file(t);
            if keep && !out.iter().any(|p| p == t) {
                out.push(t.to_vec());
            }
        }
    }
    out
}

fn split_colon_paths(t: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..t.len() {
        if t[i] == b':' && t.get(i + 1) == Some(&b'/') && t.get(i + 2) != Some(&b'/') {
            out.push(&t[start..i]);
            start = i + 1;
        }
    }
    out.push(&t[start..]);
    out
}

/// Whether a line names `path`: the same absolute path, or a relative name it ends with on a
/// component boundary (PHP names an include as the script wrote it: `lib/x.php`).
pub fn names(named: &[Vec<u8>], path: &[u8]) -> bool {
    let path = path.strip_suffix(b"/").unwrap_or(path);
    named.iter().any(|n| {
        let n = n.strip_suffix(b"/").unwrap_or(n);
        if n.first() == Some(&b'/') {
            n == path
        } else {
            let n = n.strip_prefix(b"./").unwrap_or(n);
            path.len() > n.len() && path.ends_with(n) && path[path.len() - n.len() - 1] == b'/'
        }
    })
}

/// Where a PHP message says the code that failed is: `in /x/file.php on line 27`, or the
/// `/x/file.php:27` of an uncaught error. The last one in the line (the call, after the file
/// it names).
pub fn location(line: &[u8]) -> Option<(Vec<u8>, u32)> {
    let number = |b: &[u8]| -> Option<u32> {
        let n: Vec<u8> = b
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .copied()
            .collect();
        std::str::from_utf8(&n).ok()?.parse().ok()
    };
    let mut found = None;
    let mut at = 0;
    while let Some(i) = find(&line[at..], b" on line ") {
        let end = at + i;
        let before = &line[..end];
        if let Some(start) = before
            .windows(5)
            .rposition(|w| w == b" in /")
            .map(|p| p + 4)
            && let Some(n) = number(&line[end + b" on line ".len()..])
        {
            found = Some((line[start..end].to_vec(), n));
        }
        at = end + 1;
    }
    if found.is_none() {
        // `in /x/file.php:12` (an uncaught Error's own location).
        for (i, w) in line.windows(5).enumerate() {
            if w == b" in /" {
                let rest = &line[i + 4..];
                let stop = rest
                    .iter()
                    .position(|&b| b.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                let word = &rest[..stop];
                if let Some(c) = word.iter().rposition(|&b| b == b':')
                    && let Some(n) = number(&word[c + 1..])
                {
                    found = Some((word[..c].to_vec(), n));
                }
            }
        }
    }
    found
}

/// Whether a line opens like nginx's error log: `YYYY/MM/DD HH:MM:SS [level]`.
pub fn is_nginx_line(d: &[u8]) -> bool {
    d.len() > 21
        && d[4] == b'/'
        && d[7] == b'/'
        && d[10] == b' '
        && d[13] == b':'
        && d[20] == b'['
        && d[..4].iter().all(u8::is_ascii_digit)
}

/// Whether a line looks like an error-log line of a known format (for a log that names no
/// fd: `strace -p` without -y): Apache's or PHP's `[date…]` opening, or nginx's
/// `YYYY/MM/DD HH:MM:SS [level]`.
pub fn looks_like_line(d: &[u8]) -> bool {
    let nginx = is_nginx_line(d);
    let bracketed = d.first() == Some(&b'[')
        && d.iter()
            .position(|&b| b == b']')
            .is_some_and(|i| i < 40 && gravity(d) != Gravity::Notice || find(d, b"PHP ").is_some());
    nginx || bracketed
}

#[cfg(test)]
mod tests {
    use super::*;

    const APACHE_PHP: &[u8] = b"[Tue Dec 01 17:00:00.123456 2026] [php:warn] [pid 42] [client 127.0.0.1:5000] PHP Warning:  include(/srv/www/lib/tpl/main.php): Failed to open stream: No such file or directory in /srv/www/inc/template.php on line 30, referer: http://h/x.php?a=/etc/shadow";
    const NGINX: &[u8] = b"2026/12/01 17:00:00 [error] 42#42: *7 open() \"/srv/www/x.html\" failed (2: No such file or directory), client: 127.0.0.1, server: _, request: \"GET /x.html?t=1 HTTP/1.1\", host: \"127.0.0.1:8080\"";

    #[test]
    fn gravity_from_php_words_then_the_servers_level() {
        assert_eq!(gravity(APACHE_PHP), Gravity::Warning);
        assert_eq!(gravity(NGINX), Gravity::Error);
        let deprecated = b"2026/12/01 17:00:00 [error] 42#42: *7 FastCGI sent in stderr: \"PHP message: PHP Deprecated:  x\"";
        assert_eq!(gravity(deprecated), Gravity::Notice);
        let both = b"[error] PHP message: PHP Notice: a; PHP message: PHP Fatal error: b";
        assert_eq!(gravity(both), Gravity::Error);
        assert_eq!(
            gravity(b"[Tue Dec 01 2026] [authz_core:error] [pid 1] AH01630: client denied"),
            Gravity::Error
        );
        assert_eq!(
            gravity(b"[01-Dec-2026 17:00:00] WARNING: [pool www] child 42 said into stderr"),
            Gravity::Warning
        );
        assert_eq!(
            gravity(b"[Tue Dec 01 2026] [mpm_prefork:notice] AH00163"),
            Gravity::Notice
        );
        assert_eq!(gravity(b"plain text"), Gravity::Notice);
    }

    #[test]
    fn an_applications_own_message_under_mod_php_is_a_warning() {
        // error_log() from phpMyAdmin's config.inc.php, as mod_php logs it.
        let app = b"[Tue Dec 01 18:33:43.088079 2026] [php:notice] [pid 9018:tid 9018] [client 127.0.0.1:33344] phpmyadmin: Failed to load /var/lib/phpmyadmin/blowfish_secret.inc.php Check group www-data has read access and open_basedir restrictions.";
        assert_eq!(gravity(app), Gravity::Warning);
        // PHP's own notices and deprecations stay notices.
        let notice = b"[Tue Dec 01 2026] [php:notice] [pid 1] PHP Notice:  Undefined index: a in /x.php on line 2";
        assert_eq!(gravity(notice), Gravity::Notice);
        let deprecated =
            b"[Tue Dec 01 2026] [php:notice] [pid 1] PHP Deprecated:  x in /x.php on line 2";
        assert_eq!(gravity(deprecated), Gravity::Notice);
        // Another module's notice is the server's, not the application's.
        assert_eq!(
            gravity(b"[Tue Dec 01 2026] [core:notice] [pid 1] AH00094: Command line"),
            Gravity::Notice
        );
    }

    #[test]
    fn paths_of_the_message_not_of_its_context() {
        assert_eq!(
            paths(APACHE_PHP),
            [
                &b"/srv/www/lib/tpl/main.php"[..],
                b"/srv/www/inc/template.php"
            ]
        );
        assert_eq!(paths(NGINX), [&b"/srv/www/x.html"[..]]);
        let relative = b"PHP Fatal error:  Uncaught Error: Failed opening required 'PhpMyAdmin/SqlParser/autoload.php' (include_path='.:/usr/share/php') in /usr/share/pma/index.php:12";
        let p = paths(relative);
        assert!(
            p.contains(&b"PhpMyAdmin/SqlParser/autoload.php".to_vec()),
            "{p:?}"
        );
        assert!(p.contains(&b"/usr/share/php".to_vec()), "{p:?}");
        assert!(p.contains(&b"/usr/share/pma/index.php".to_vec()), "{p:?}");
        let basedir = b"PHP Warning:  file_exists(): open_basedir restriction in effect. File(/etc/passwd) is not within the allowed path(s): (/var/www:/tmp) in /var/www/a.php on line 2";
        let p = paths(basedir);
        for want in [&b"/etc/passwd"[..], b"/var/www", b"/tmp", b"/var/www/a.php"] {
            assert!(p.contains(&want.to_vec()), "{p:?}");
        }
        // Client addresses, versions and numbers are not files.
        let p = paths(b"[client 127.0.0.1:5000] AH01071: Got error 'x' HTTP/1.1 1.5");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            paths(b"include(header.phpp): Failed"),
            [&b"header.phpp"[..]]
        );
    }

    #[test]
    fn a_line_names_a_path_whole_or_by_its_tail() {
        let named = paths(b"include(lib/x.php): Failed; /srv/a/b.txt");
        assert!(names(&named, b"/srv/www/lib/x.php"));
        assert!(!names(&named, b"/srv/www/blib/x.php"));
        assert!(names(&named, b"/srv/a/b.txt"));
        assert!(!names(&named, b"/other/srv/a/b.txt"));
    }

    #[test]
    fn where_php_says_the_failing_code_is() {
        assert_eq!(
            location(APACHE_PHP),
            Some((b"/srv/www/inc/template.php".to_vec(), 30))
        );
        let fatal = b"PHP Fatal error:  Uncaught Error: Failed opening required 'x.php' (include_path='.') in /srv/a/index.php:12";
        assert_eq!(location(fatal), Some((b"/srv/a/index.php".to_vec(), 12)));
        assert_eq!(location(NGINX), None);
    }

    #[test]
    fn the_request_an_nginx_line_names() {
        assert_eq!(
            request_named(NGINX),
            Some((&b"GET"[..], &b"/x.html?t=1"[..]))
        );
        assert_eq!(request_named(APACHE_PHP), None);
    }

    #[test]
    fn known_formats_are_recognised() {
        assert!(looks_like_line(APACHE_PHP));
        assert!(looks_like_line(NGINX));
        assert!(!looks_like_line(b"hello world\n"));
        assert!(!looks_like_line(b"[1, 2, 3]"));
    }

    #[test]
    fn never_panics_on_any_prefix() {
        for l in [APACHE_PHP, NGINX] {
            for i in 0..=l.len() {
                let _ = (gravity(&l[..i]), paths(&l[i..]), request_named(&l[..i]));
                let _ = looks_like_line(&l[..i]);
            }
        }
    }
}
