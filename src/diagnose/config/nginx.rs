//! An nginx server's configuration, for the reference search: the main file from the master's
//! command line (`-c`, `-p`; Debian's defaults otherwise), every file reached through
//! `include` (globs; relative to the main file's directory, as nginx resolves them), and the
//! `root` and `alias` directories as document trees. nginx syntax only as far as that needs:
//! `#` comments, quotes, and directives ended by `;` or `{`. Bounded like the Apache parser,
//! by the helpers of config/mod.rs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{MAX_CONFIG_FILES, ServerConfig, absolute, admit, glob, local, root_of, take};

/// Debian's nginx is built with this prefix and configuration file.
const DEFAULT_PREFIX: &str = "/usr/share/nginx";
const DEFAULT_CONF: &str = "/etc/nginx/nginx.conf";

/// The arguments of an nginx master's command line. nginx rewrites its process title to
/// `nginx: master process nginx -c FILE`, one string in /proc/PID/cmdline: split it back.
fn arguments(cmdline: &[String]) -> Vec<String> {
    let words: Vec<String> = if cmdline.len() == 1 {
        cmdline[0].split_whitespace().map(str::to_string).collect()
    } else {
        cmdline.to_vec()
    };
    match words
        .windows(2)
        .position(|w| w[0] == "master" && w[1] == "process")
    {
        Some(i) => words[i + 2..].to_vec(),
        None => words,
    }
}

/// The configuration of the nginx whose master has this command line, with its files under
/// `under` (`/` on the traced machine itself).
pub fn nginx_config_under(under: &Path, cmdline: &[String]) -> ServerConfig {
    let args = arguments(cmdline);
    let mut prefix = PathBuf::from(DEFAULT_PREFIX);
    let mut conf: Option<PathBuf> = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-p" => prefix = it.next().map(PathBuf::from).unwrap_or(prefix),
            "-c" => conf = it.next().map(PathBuf::from),
            _ => {}
        }
    }
    let conf = match conf {
        Some(c) if c.is_relative() => prefix.join(c),
        Some(c) => c,
        None => PathBuf::from(DEFAULT_CONF),
    };
    let mut p = Parser {
        under: root_of(under),
        conf_dir: conf
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf),
        prefix,
        visited: HashSet::new(),
        cfg: ServerConfig::default(),
    };
    let main = local(&p.under, &conf);
    p.file(&main, 0);
    // nginx's compiled-in `root html`, relative to the prefix: what a location without a
    // `root` (and a server without one) serves from.
    p.cfg.default_root = Some(local(&p.under, &absolute(&p.prefix.join("html"))));
    p.cfg
}

struct Parser {
    under: Option<PathBuf>,
    /// Where relative `include` paths start (the main file's directory).
    conf_dir: PathBuf,
    /// Where relative `root` paths start.
    prefix: PathBuf,
    visited: HashSet<(u64, u64)>,
    cfg: ServerConfig,
}

impl Parser {
    fn file(&mut self, path: &Path, depth: usize) {
        let Some(meta) = admit(path, depth, &self.cfg) else {
            return;
        };
        let Some(data) = take(path, &meta, &mut self.visited, &mut self.cfg) else {
            return;
        };
        for directive in directives(&String::from_utf8_lossy(&data)) {
            match directive.first().map(String::as_str) {
                Some("include") if directive.len() > 1 => {
                    let pattern = self.conf_dir.join(&directive[1]);
                    for f in glob(&local(&self.under, &pattern)) {
                        self.file(&f, depth + 1);
                    }
                }
                // A path with variables ($document_root...) names no one directory.
                Some("root" | "alias") if directive.len() > 1 && !directive[1].contains('$') => {
                    let dir = local(&self.under, &absolute(&self.prefix.join(&directive[1])));
                    if !self.cfg.document_roots.contains(&dir) {
                        self.cfg.document_roots.push(dir);
                    }
                }
                _ => {}
            }
            if self.cfg.files.len() >= MAX_CONFIG_FILES {
                return;
            }
        }
    }
}

/// The directives of a configuration text, each as its words (quotes removed): a directive
/// ends at `;`, and a block's opening `{` ends its header; `}` and `#` comments are skipped.
fn directives(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, words: &mut Vec<String>| {
        if !word.is_empty() {
            words.push(std::mem::take(word));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                flush(&mut word, &mut words);
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' | '\'' => {
                while let Some(ch) = chars.next() {
                    if ch == '\\' {
                        if let Some(n) = chars.next() {
                            word.push(n);
                        }
                    } else if ch == c {
                        break;
                    } else {
                        word.push(ch);
                    }
                }
            }
            ';' | '{' | '}' => {
                flush(&mut word, &mut words);
                if !words.is_empty() {
                    out.push(std::mem::take(&mut words));
                }
            }
            c if c.is_whitespace() => flush(&mut word, &mut words),
            c => word.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testdir::TempDir;

    #[test]
    fn title_and_options() {
        let one = vec!["nginx: master process /usr/sbin/nginx -c /x/n.conf -p /x/".to_string()];
        assert_eq!(
            arguments(&one),
            ["/usr/sbin/nginx", "-c", "/x/n.conf", "-p", "/x/"]
        );
        let plain: Vec<String> = ["nginx", "-g", "daemon off;"].map(String::from).into();
        assert_eq!(arguments(&plain), plain);
    }

    #[test]
    fn directives_with_comments_quotes_and_blocks() {
        let d = directives(
            "http { include \"conf.d/*.conf\"; # include nope;\n server { root /srv/a; location / { try_files $uri =404; } } }",
        );
        assert_eq!(
            d,
            vec![
                vec!["http".to_string()],
                vec!["include".into(), "conf.d/*.conf".into()],
                vec!["server".into()],
                vec!["root".into(), "/srv/a".into()],
                vec!["location".into(), "/".into()],
                vec!["try_files".into(), "$uri".into(), "=404".into()],
            ]
        );
    }

    #[test]
    fn includes_roots_and_the_reference_search() {
        let t = TempDir::new("nginx");
        t.write("nginx.conf", "http {\n  include sites/*.conf;\n}\n");
        t.write(
            "sites/a.conf",
            "server {\n  root www;\n  index index.htm;\n  location /x/ { alias /nope/$1; }\n}\n",
        );
        std::fs::create_dir_all(t.p("prefix/www")).unwrap();
        let cmd = vec![format!(
            "nginx: master process nginx -c {} -p {}",
            t.p("nginx.conf").display(),
            t.p("prefix").display()
        )];
        let cfg = nginx_config_under(Path::new("/"), &cmd);
        assert_eq!(cfg.files, [t.p("nginx.conf"), t.p("sites/a.conf")]);
        assert_eq!(cfg.document_roots, [t.p("prefix/www")]);
        let refs = crate::diagnose::search::find_references(
            &cfg,
            b"index.htm",
            std::time::Duration::from_secs(1),
        );
        assert_eq!(refs.len(), 1, "{refs:?}");
        assert_eq!(refs[0].line, 3);
        assert!(refs[0].file.ends_with("sites/a.conf"));
    }
}
