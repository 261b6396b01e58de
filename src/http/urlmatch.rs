//! `--url PATTERN`: which requests to report. A pattern with `*` or `?` is a glob over the
//! whole URL path (`*` also crosses `/`); otherwise it is a prefix.

#[derive(Debug, Clone)]
pub struct UrlFilter {
    pattern: Vec<u8>,
    glob: bool,
}

impl UrlFilter {
    pub fn new(pattern: &str) -> UrlFilter {
        UrlFilter {
            pattern: pattern.as_bytes().to_vec(),
            glob: pattern.contains(['*', '?']),
        }
    }

    /// `path`: the request's URL path (query dropped, decoded).
    pub fn matches(&self, path: &[u8]) -> bool {
        if self.glob {
            glob(&self.pattern, path)
        } else {
            path.starts_with(&self.pattern)
        }
    }
}

/// Iterative glob with backtracking on the last `*`: linear-ish, no recursion.
fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == s[i]) {
            p += 1;
            i += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, i));
            p += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&b| b == b'*')
}

/// Moved to `redact`, which owns what of a request may be shown; still reachable here.
pub use super::redact::shown_target;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_globs() {
        assert!(UrlFilter::new("/home").matches(b"/home"));
        assert!(UrlFilter::new("/ho").matches(b"/home/x"));
        assert!(!UrlFilter::new("/home").matches(b"/"));
        assert!(UrlFilter::new("*.php").matches(b"/a/b/index.php"));
        assert!(!UrlFilter::new("*.php").matches(b"/a/b/index.phpp"));
        assert!(UrlFilter::new("/img/?.png").matches(b"/img/a.png"));
        assert!(UrlFilter::new("/a*b*c").matches(b"/axxbyyc"));
        assert!(!UrlFilter::new("/a*b*c").matches(b"/axxbyy"));
    }
}
