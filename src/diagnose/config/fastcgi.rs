//! Where a web server passes requests to a FastCGI backend (php-fpm), from the files of its
//! configuration ([`ServerConfig::files`], found by the apache/nginx parsers), each address
//! with the file and line that names it: nginx's `fastcgi_pass` (an address, or the name of
//! an `upstream` block whose `server` lines hold the addresses); Apache's `ProxyPass`,
//! `ProxyPassMatch`, `SetHandler "proxy:…"` and `BalancerMember` with `unix:/path|fcgi://…`
//! or `fcgi://host:port`. Addresses built from variables (`$upstream`, `${FPM}`) name no one
//! backend and are skipped; so is an `upstream` that no `fastcgi_pass` uses (it may be
//! proxied to over HTTP).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::lines::words;
use super::{MAX_CONFIG_BYTES, ServerConfig, read_regular};

/// Addresses returned at most.
const MAX_TARGETS: usize = 256;

/// mod_proxy_fcgi's port when an `fcgi://` URL names none (DEFAULT_FCGI_PORT).
const APACHE_FCGI_PORT: u16 = 8000;

/// Where FastCGI requests go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FcgiAddr {
    /// A unix stream socket's path.
    Unix(PathBuf),
    /// A host (an IP literal without brackets, or a name) and port.
    Tcp(String, u16),
}

impl fmt::Display for FcgiAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FcgiAddr::Unix(p) => write!(f, "{}", p.display()),
            FcgiAddr::Tcp(h, port) if h.contains(':') => write!(f, "[{h}]:{port}"),
            FcgiAddr::Tcp(h, port) => write!(f, "{h}:{port}"),
        }
    }
}

/// A FastCGI address in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcgiTarget {
    pub addr: FcgiAddr,
    pub file: PathBuf,
    /// 1-based.
    pub line: u32,
    /// The directive that names the address (`fastcgi_pass`, `server` in an upstream,
    /// `ProxyPassMatch`, `SetHandler`…).
    pub directive: String,
}

/// Every FastCGI address `cfg`'s files name, in file order, each address once (where it is
/// first named). `nginx`: the files are nginx's, else Apache's.
pub fn fastcgi_targets(cfg: &ServerConfig, nginx: bool) -> Vec<FcgiTarget> {
    let mut out = if nginx {
        nginx_targets(cfg)
    } else {
        apache_targets(cfg)
    };
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.addr.clone()));
    out.truncate(MAX_TARGETS);
    out
}

/// One nginx directive: its words and the line of its first word.
struct Directive {
    words: Vec<String>,
    line: u32,
    /// The enclosing blocks' headers, outermost first (`["http", "upstream php"]`).
    blocks: Vec<Vec<String>>,
}

fn nginx_targets(cfg: &ServerConfig) -> Vec<FcgiTarget> {
    let mut upstreams: HashMap<String, Vec<(FcgiAddr, PathBuf, u32)>> = HashMap::new();
    // fastcgi_pass arguments that name no address: upstream names, resolved at the end (an
    // upstream may be defined in a file read later).
    let mut passes: Vec<(String, PathBuf, u32)> = Vec::new();
    for file in &cfg.files {
        let Some(data) = read_regular(file, MAX_CONFIG_BYTES) else {
            continue;
        };
        for d in nginx_directives(&String::from_utf8_lossy(&data)) {
            let name = d.words.first().map(String::as_str);
            let arg = d.words.get(1).map(String::as_str);
            match (name, arg) {
                (Some("fastcgi_pass"), Some(a)) => {
                    passes.push((a.to_string(), file.clone(), d.line))
                }
                (Some("server"), Some(a)) => {
                    let Some(up) = d
                        .blocks
                        .last()
                        .filter(|b| b.first().map(String::as_str) == Some("upstream"))
                        .and_then(|b| b.get(1))
                    else {
                        continue;
                    };
                    if let Some(addr) = nginx_addr(a) {
                        upstreams
                            .entry(up.clone())
                            .or_default()
                            .push((addr, file.clone(), d.line));
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for (arg, file, line) in passes {
        if let Some(addr) = nginx_addr(&arg) {
            out.push(FcgiTarget {
                addr,
                file,
                line,
                directive: "fastcgi_pass".into(),
            });
        } else if let Some(servers) = upstreams.get(&arg) {
            for (addr, f, l) in servers {
                out.push(FcgiTarget {
                    addr: addr.clone(),
                    file: f.clone(),
                    line: *l,
                    directive: format!("server (upstream {arg})"),
                });
            }
        }
    }
    out
}

/// An nginx address: `unix:/path`, `host:port`, `[v6]:port`. Anything with a variable, and
/// a bare name (an upstream's), is not one.
fn nginx_addr(a: &str) -> Option<FcgiAddr> {
    if a.contains('$') {
        return None;
    }
    if let Some(p) = a.strip_prefix("unix:") {
        return p.starts_with('/').then(|| FcgiAddr::Unix(PathBuf::from(p)));
    }
    host_port(a, None)
}

/// `host:port` or `[v6]:port` (a bare `host` takes `default`).
fn host_port(a: &str, default: Option<u16>) -> Option<FcgiAddr> {
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default?,
    };
    (!host.is_empty() && !host.contains(['$', '/', '{']))
        .then(|| FcgiAddr::Tcp(host.to_string(), port))
}

/// nginx's directives with their lines and enclosing blocks: a directive ends at `;`, a
/// block's header at `{`; quotes group, `#` starts a comment.
fn nginx_directives(text: &str) -> Vec<Directive> {
    let mut out = Vec::new();
    let mut blocks: Vec<Vec<String>> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut line = 1u32;
    let mut first_line = 1u32;
    let mut chars = text.chars();
    let push_word = |word: &mut String, words: &mut Vec<String>, first_line: &mut u32, line| {
        if !word.is_empty() {
            if words.is_empty() {
                *first_line = line;
            }
            words.push(std::mem::take(word));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                push_word(&mut word, &mut words, &mut first_line, line);
                line += 1;
            }
            '#' if word.is_empty() => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '"' | '\'' => {
                if word.is_empty() && words.is_empty() {
                    first_line = line;
                }
                while let Some(ch) = chars.next() {
                    match ch {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        ch if ch == c => break,
                        ch => {
                            if ch == '\n' {
                                line += 1;
                            }
                            word.push(ch);
                        }
                    }
                }
            }
            ';' | '{' | '}' => {
                push_word(&mut word, &mut words, &mut first_line, line);
                if c == '}' {
                    blocks.pop();
                    words.clear();
                    continue;
                }
                if !words.is_empty() {
                    let d = std::mem::take(&mut words);
                    if c == '{' {
                        out.push(Directive {
                            words: d.clone(),
                            line: first_line,
                            blocks: blocks.clone(),
                        });
                        blocks.push(d);
                    } else {
                        out.push(Directive {
                            words: d,
                            line: first_line,
                            blocks: blocks.clone(),
                        });
                    }
                } else if c == '{' {
                    blocks.push(Vec::new());
                }
            }
            c if c.is_whitespace() => push_word(&mut word, &mut words, &mut first_line, line),
            c => word.push(c),
        }
    }
    out
}

fn apache_targets(cfg: &ServerConfig) -> Vec<FcgiTarget> {
    let mut out = Vec::new();
    for file in &cfg.files {
        let Some(data) = read_regular(file, MAX_CONFIG_BYTES) else {
            continue;
        };
        let text = String::from_utf8_lossy(&data);
        let mut logical = String::new();
        let mut first = 0u32;
        for (i, raw) in text.lines().enumerate() {
            let raw = raw.trim_end_matches('\r');
            if logical.is_empty() {
                first = u32::try_from(i + 1).unwrap_or(u32::MAX);
            }
            // A backslash at the end of a line continues the directive.
            if let Some(head) = raw.strip_suffix('\\') {
                logical.push_str(head);
                logical.push(' ');
                continue;
            }
            logical.push_str(raw);
            let w = words(&std::mem::take(&mut logical));
            let Some(name) = w.first() else { continue };
            let known = [
                "ProxyPass",
                "ProxyPassMatch",
                "SetHandler",
                "BalancerMember",
            ];
            let Some(directive) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) else {
                continue;
            };
            // The URL is one of the arguments: after the path (ProxyPass /x URL), alone in a
            // <Location> (ProxyPass URL), the handler (SetHandler proxy:URL); the options
            // after it (key=value) are not URLs.
            for arg in &w[1..] {
                let url = arg.strip_prefix("proxy:").unwrap_or(arg);
                if let Some(addr) = apache_addr(url) {
                    out.push(FcgiTarget {
                        addr,
                        file: file.clone(),
                        line: first,
                        directive: (*directive).to_string(),
                    });
                    break;
                }
            }
        }
    }
    out
}

/// mod_proxy's FastCGI worker URLs: `unix:/path|fcgi://host/…` (the socket is the path; the
/// host after `fcgi://` is only a label) and `fcgi://host[:port]/…`. Other schemes are not
/// FastCGI; a variable in the address names no one backend.
fn apache_addr(url: &str) -> Option<FcgiAddr> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("unix:") {
        let (sock, rest) = url.split_once('|')?;
        if !rest.to_ascii_lowercase().starts_with("fcgi://") {
            return None;
        }
        let path = &sock[5..];
        return (path.starts_with('/') && !path.contains('$'))
            .then(|| FcgiAddr::Unix(PathBuf::from(path)));
    }
    let rest = lower.starts_with("fcgi://").then(|| &url[7..])?;
    let authority = rest.split('/').next().unwrap_or("");
    host_port(authority, Some(APACHE_FCGI_PORT))
}

/// Where `t` is named, for messages: `FILE:LINE (DIRECTIVE)`.
pub fn place(t: &FcgiTarget) -> String {
    format!("{}:{} ({})", shown(&t.file), t.line, t.directive)
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testdir::TempDir;

    fn unix(p: &str) -> FcgiAddr {
        FcgiAddr::Unix(p.into())
    }
    fn tcp(h: &str, p: u16) -> FcgiAddr {
        FcgiAddr::Tcp(h.into(), p)
    }

    #[test]
    fn nginx_passes_addresses_and_upstreams() {
        let t = TempDir::new("fcgi-nginx");
        t.write(
            "a.conf",
            "# fastcgi_pass unix:/commented.sock;\n\
             upstream php { server unix:/run/php/a.sock weight=2; server 127.0.0.1:9001; }\n\
             upstream web {\n  server 127.0.0.1:8080;\n}\n\
             server {\n  location ~ \\.php$ {\n    fastcgi_pass unix:/run/php/x.sock;\n  }\n\
             location /b { fastcgi_pass 127.0.0.1:9000; }\n\
             location /c { fastcgi_pass php; }\n\
             location /d { fastcgi_pass $backend; }\n\
             location /e { proxy_pass http://web; }\n\
             location /f { fastcgi_pass \"[::1]:9002\"; }\n}\n",
        );
        t.write("b.conf", "server { fastcgi_pass unix:/run/php/x.sock; }\n");
        let cfg = ServerConfig {
            files: vec![t.p("a.conf"), t.p("b.conf")],
            document_roots: Vec::new(),
            default_root: None,
        };
        let got = fastcgi_targets(&cfg, true);
        let addrs: Vec<&FcgiAddr> = got.iter().map(|t| &t.addr).collect();
        assert_eq!(
            addrs,
            [
                &unix("/run/php/x.sock"),
                &tcp("127.0.0.1", 9000),
                &unix("/run/php/a.sock"),
                &tcp("127.0.0.1", 9001),
                &tcp("::1", 9002),
            ]
        );
        assert_eq!(
            (got[0].line, got[0].directive.as_str()),
            (8, "fastcgi_pass")
        );
        assert_eq!(got[0].file, t.p("a.conf"));
        assert_eq!(
            (got[2].line, got[2].directive.as_str()),
            (2, "server (upstream php)")
        );
        assert_eq!(got[4].addr.to_string(), "[::1]:9002");
    }

    #[test]
    fn apache_proxy_urls() {
        let t = TempDir::new("fcgi-apache");
        t.write(
            "a.conf",
            "#ProxyPass /x unix:/commented.sock|fcgi://localhost/\n\
             ProxyPassMatch ^/(.*\\.php)$ unix:/run/php/x.sock|fcgi://localhost/srv/www/$1\n\
             <FilesMatch \\.php$>\n  SetHandler \"proxy:unix:/run/php/y.sock|fcgi://localhost\"\n</FilesMatch>\n\
             <Location /b>\n  ProxyPass fcgi://127.0.0.1:9000/srv/b/ timeout=5\n</Location>\n\
             ProxyPass /c fcgi://localhost/\n\
             ProxyPass /h http://127.0.0.1:8080/\n\
             ProxyPass /u unix:/run/web.sock|http://localhost/\n\
             ProxyPass /v \"fcgi://${FPM_HOST}:9000/\"\n\
             proxypass /w \\\n   fcgi://127.0.0.2:9003/\n",
        );
        let cfg = ServerConfig {
            files: vec![t.p("a.conf")],
            document_roots: Vec::new(),
            default_root: None,
        };
        let got = fastcgi_targets(&cfg, false);
        let addrs: Vec<&FcgiAddr> = got.iter().map(|t| &t.addr).collect();
        assert_eq!(
            addrs,
            [
                &unix("/run/php/x.sock"),
                &unix("/run/php/y.sock"),
                &tcp("127.0.0.1", 9000),
                &tcp("localhost", 8000),
                &tcp("127.0.0.2", 9003),
            ]
        );
        assert_eq!(
            place(&got[1]),
            format!("{}:4 (SetHandler)", t.p("a.conf").display())
        );
        assert_eq!((got[0].line, got[4].line), (2, 13));
    }
}
