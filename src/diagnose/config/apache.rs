//! An Apache server's configuration, for the reference search: found from its master's
//! command line (`-d`, `-f`, `-C`/`-c`, the Debian and Red Hat defaults), following
//! `Include`/`IncludeOptional` (globs, directories, quotes, `Define`d variables) to list its
//! files and DocumentRoots. Bounded by the helpers of config/mod.rs.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{
    MAX_CONFIG_FILES, ServerConfig, absolute, admit, base_name, glob, local, root_of,
    sorted_entries, take,
};

/// The configuration of the Apache whose master has this command line (argv, program first):
/// `-d` ServerRoot (default /etc/apache2, or /etc/httpd for a program named httpd), `-f` file
/// (relative to the ServerRoot; default apache2.conf or conf/httpd.conf there, then
/// /etc/apache2/apache2.conf, then /etc/httpd/conf/httpd.conf), `-C`/`-c` directives.
/// Missing or unreadable files give an empty or partial answer, never an error.
pub fn apache_config(cmdline: &[String]) -> ServerConfig {
    apache_config_under(Path::new("/"), cmdline)
}

/// [`apache_config`] for a server whose file system is found under `root` (a copy or a
/// mount of another machine's): every path the configuration names is looked up under
/// `root`, and the files and DocumentRoots returned are those local paths.
pub fn apache_config_under(under: &Path, cmdline: &[String]) -> ServerConfig {
    let mut root_arg: Option<String> = None;
    let mut file_arg: Option<String> = None;
    let mut before: Vec<String> = Vec::new();
    let mut after: Vec<String> = Vec::new();
    let mut defines: HashMap<String, String> = HashMap::new();
    let mut args = cmdline.iter().skip(1);
    while let Some(arg) = args.next() {
        let b = arg.as_bytes();
        if b.len() < 2 || b[0] != b'-' {
            continue;
        }
        let opt = b[1];
        if !matches!(
            opt,
            b'd' | b'f' | b'C' | b'c' | b'D' | b'e' | b'E' | b'k' | b'n'
        ) {
            continue; // flags without a value (-X, -S, -t, -v…)
        }
        let value = if arg.len() > 2 {
            arg.get(2..).map(str::to_string)
        } else {
            args.next().cloned()
        };
        let Some(value) = value else { break };
        match opt {
            b'd' => root_arg = Some(value),
            b'f' => file_arg = Some(value),
            b'C' => before.push(value),
            b'c' => after.push(value),
            b'D' => {
                defines.insert(value, String::new());
            }
            _ => {}
        }
    }
    let program = cmdline.first().map(String::as_str).unwrap_or("");
    let default_root = if base_name(program).starts_with("httpd") {
        "/etc/httpd"
    } else {
        "/etc/apache2"
    };
    let root = PathBuf::from(root_arg.as_deref().unwrap_or(default_root));
    let main = match &file_arg {
        Some(f) => vec![root.join(f)],
        None => {
            let mut v = Vec::new();
            if root_arg.is_some() {
                v.push(root.join("apache2.conf"));
                v.push(root.join("conf/httpd.conf"));
            }
            v.push(PathBuf::from("/etc/apache2/apache2.conf"));
            v.push(PathBuf::from("/etc/httpd/conf/httpd.conf"));
            v
        }
    };
    let under = root_of(under);
    let main: Vec<PathBuf> = main.iter().map(|f| local(&under, f)).collect();
    let mut p = Parser {
        under,
        server_root: root,
        defines,
        visited: HashSet::new(),
        cfg: ServerConfig::default(),
    };
    for line in &before {
        p.directive(line, 0);
    }
    if let Some(file) = main.iter().find(|f| f.is_file()) {
        p.file(file, 0);
    }
    for line in &after {
        p.directive(line, 0);
    }
    p.cfg
}

struct Parser {
    /// The file system root the configured paths live under (None: "/").
    under: Option<PathBuf>,
    server_root: PathBuf,
    defines: HashMap<String, String>,
    visited: HashSet<(u64, u64)>,
    cfg: ServerConfig,
}

impl Parser {
    fn file(&mut self, path: &Path, depth: usize) {
        let Some(meta) = admit(path, depth, &self.cfg) else {
            return;
        };
        if meta.is_dir() {
            // A directory includes every file in it, recursively, in name order.
            for entry in sorted_entries(path) {
                self.file(&entry, depth + 1);
            }
            return;
        }
        let Some(data) = take(path, &meta, &mut self.visited, &mut self.cfg) else {
            return;
        };
        let text = String::from_utf8_lossy(&data);
        let mut logical = String::new();
        for raw in text.lines() {
            let raw = raw.trim_end_matches('\r');
            // A backslash at the end of a line continues the directive.
            if let Some(head) = raw.strip_suffix('\\') {
                logical.push_str(head);
                logical.push(' ');
                continue;
            }
            logical.push_str(raw);
            let line = std::mem::take(&mut logical);
            self.directive(&line, depth);
            if self.cfg.files.len() >= MAX_CONFIG_FILES {
                return;
            }
        }
        if !logical.is_empty() {
            self.directive(&logical, depth);
        }
    }

    fn directive(&mut self, line: &str, depth: usize) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('<') {
            return;
        }
        let (name, rest) = match line.find(char::is_whitespace) {
            Some(i) => (&line[..i], line[i..].trim_start()),
            None => (line, ""),
        };
        let name = name.to_ascii_lowercase();
        if !matches!(
            name.as_str(),
            "include" | "includeoptional" | "serverroot" | "documentroot" | "define"
        ) {
            return;
        }
        let words = words(rest);
        let Some(first) = words.first() else { return };
        if name == "define" {
            let value = words.get(1).cloned().unwrap_or_default();
            if let Some(value) = self.expand_vars(&value) {
                self.defines.insert(first.clone(), value);
            }
            return;
        }
        // Lines whose variables we cannot resolve (Debian's ${APACHE_LOG_DIR}…) are skipped.
        let Some(arg) = self.expand_vars(first) else {
            return;
        };
        if arg.is_empty() {
            return;
        }
        match name.as_str() {
            "serverroot" => self.server_root = PathBuf::from(arg),
            "documentroot" => {
                let dir = local(&self.under, &absolute(&self.server_root.join(&arg)));
                if !self.cfg.document_roots.contains(&dir) {
                    self.cfg.document_roots.push(dir);
                }
            }
            _ => {
                let pattern = local(&self.under, &self.server_root.join(&arg));
                for f in glob(&pattern) {
                    self.file(&f, depth + 1);
                }
            }
        }
    }

    /// `${NAME}` replaced from `Define`s; `None` if one is unknown.
    fn expand_vars(&self, s: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after.find('}')?;
            out.push_str(self.defines.get(&after[..end])?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
}

/// Apache's ap_getword_conf: words split on white space, "double" or 'single' quotes group
/// (a backslash escapes the quote inside).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        let mut w = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            while let Some(ch) = chars.next() {
                if ch == '\\' && chars.peek() == Some(&c) {
                    w.push(c);
                    chars.next();
                } else if ch == c {
                    break;
                } else {
                    w.push(ch);
                }
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                w.push(ch);
                chars.next();
            }
        }
        out.push(w);
        if out.len() >= 8 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::MAX_INCLUDE_DEPTH;
    use super::*;
    use crate::diagnose::search::{MAX_FILE_BYTES, Reference, find_references};
    use crate::diagnose::testdir::TempDir;
    use std::time::{Duration, Instant};

    const LONG: Duration = Duration::from_secs(30);

    fn argv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The incident's server: a main file including sites/*.conf, a RewriteRule with the typo,
    /// a docroot file including the typo'd name.
    fn incident_tree(t: &TempDir) {
        t.write(
            "httpd.conf",
            format!(
                "# main\nServerRoot \"{root}\"\nInclude sites/*.conf\n\
                 IncludeOptional missing/*.conf\n\
                 ErrorLog ${{APACHE_LOG_DIR}}/error.log\nDefine web {root}/www\n\
                 DocumentRoot \"${{web}}\"\nDocumentRoot ${{UNKNOWN}}/x\n",
                root = t.path().display()
            ),
        );
        t.write(
            "sites/000-default.conf",
            "<VirtualHost *:80>\n    RewriteEngine On\n    RewriteRule ^/home$ /index.phpp [L]\n</VirtualHost>\n",
        );
        t.write(
            "sites/010-loop.conf",
            "Include httpd.conf\ninclude \"sites/000-default.conf\"\n",
        );
        t.write("sites/README", "not included: no .conf\n");
        t.write(
            "www/index.php",
            "<?php\n  include 'header.phpp';\necho 'hi';\n",
        );
        t.write("www/zzz/bin.dat", b"\0\0index.phpp\n");
        let mut big = vec![b'a'; (MAX_FILE_BYTES + 10) as usize];
        big.extend_from_slice(b"\nindex.phpp\n");
        t.write("www/big.txt", big);
        t.write("outside/index.phpp.txt", "index.phpp outside\n");
        std::os::unix::fs::symlink(t.p("outside"), t.p("www/linked")).unwrap();
    }

    #[test]
    fn the_incident() {
        let t = TempDir::new("incident");
        incident_tree(&t);
        let cfg = apache_config(&argv(&[
            "/usr/sbin/apache2",
            "-d",
            &t.s(""),
            "-f",
            "httpd.conf",
        ]));
        assert_eq!(
            cfg.files,
            vec![
                t.p("httpd.conf"),
                t.p("sites/000-default.conf"),
                t.p("sites/010-loop.conf")
            ]
        );
        assert_eq!(cfg.document_roots, vec![t.p("www")]);

        let refs = find_references(&cfg, b"INDEX.PHPP", LONG);
        assert_eq!(
            refs,
            vec![Reference {
                file: t.s("sites/000-default.conf"),
                line: 3,
                text: "RewriteRule ^/home$ /index.phpp [L]".into(),
            },]
        );
        let refs = find_references(&cfg, b".phpp", LONG);
        assert_eq!(refs.len(), 2, "{refs:?}");
        assert_eq!(refs[0].file, t.s("sites/000-default.conf"));
        assert_eq!(
            refs[1],
            Reference {
                file: t.s("www/index.php"),
                line: 2,
                text: "include 'header.phpp';".into(),
            }
        );
        let json = serde_json::to_string(&refs[1]).unwrap();
        assert!(json.contains("\"line\":2"), "{json}");
    }

    #[test]
    fn command_line_forms() {
        let t = TempDir::new("cmdline");
        incident_tree(&t);
        // Attached values, absolute -f.
        let cfg = apache_config(&argv(&[
            "apache2",
            &format!("-f{}", t.s("httpd.conf")),
            "-k",
            "start",
        ]));
        assert_eq!(cfg.files.len(), 3);
        // -d only: ServerRoot/apache2.conf.
        t.write(
            "apache2.conf",
            "DocumentRoot www\nInclude sites/000-default.conf\n",
        );
        let cfg = apache_config(&argv(&["apache2", "-DFOREGROUND", "-d", &t.s("")]));
        assert_eq!(
            cfg.files,
            vec![t.p("apache2.conf"), t.p("sites/000-default.conf")]
        );
        assert_eq!(cfg.document_roots, vec![t.p("www")]);
        // -C / -c directives.
        let cfg = apache_config(&argv(&[
            "httpd",
            "-d",
            &t.s(""),
            "-f",
            "nonexistent.conf",
            "-c",
            "DocumentRoot /srv/other",
        ]));
        assert!(cfg.files.is_empty());
        assert_eq!(cfg.document_roots, vec![PathBuf::from("/srv/other")]);
        // Odd command lines do not panic.
        let _ = apache_config(&[]);
        let _ = apache_config(&argv(&["apache2", "-f"]));
        let _ = apache_config(&argv(&["apache2", "-", "-d", "-f", "\u{ff}"]));
    }

    #[test]
    fn include_forms_and_loops() {
        let t = TempDir::new("include");
        let root = t.s("");
        t.write(
            "main.conf",
            format!(
                "ServerRoot {root}\nInclude main.conf\nINCLUDE conf.d\n\
                 Include \"my conf/*.co?f\"\nIncludeOptional nothing/here.conf\n\
                 Include a.conf\nInclude \\\n  b.conf\n"
            ),
        );
        t.write("a.conf", "Include b.conf\n");
        t.write("b.conf", "Include a.conf\nDocumentRoot 'docs'\n");
        t.write("conf.d/x.conf", "DocumentRoot /srv/x\n");
        t.write("conf.d/sub/y.load", "DocumentRoot /srv/y\n");
        t.write("my conf/site.conf", "DocumentRoot \"/srv/with space\"\n");
        t.write("my conf/.hidden.conf", "DocumentRoot /srv/hidden\n");
        let start = Instant::now();
        let cfg = apache_config(&argv(&["apache2", "-f", &t.s("main.conf")]));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(
            cfg.files,
            vec![
                t.p("main.conf"),
                t.p("conf.d/sub/y.load"),
                t.p("conf.d/x.conf"),
                t.p("my conf/site.conf"),
                t.p("a.conf"),
                t.p("b.conf"),
            ]
        );
        assert_eq!(
            cfg.document_roots,
            vec![
                PathBuf::from("/srv/y"),
                PathBuf::from("/srv/x"),
                PathBuf::from("/srv/with space"),
                t.p("docs"),
            ]
        );
    }

    #[test]
    fn deep_include_chain_is_cut() {
        let t = TempDir::new("deep");
        for i in 0..40 {
            t.write(
                &format!("c{i}.conf"),
                format!("Include {}\n", t.s(&format!("c{}.conf", i + 1))),
            );
        }
        let cfg = apache_config(&argv(&["apache2", "-f", &t.s("c0.conf")]));
        assert_eq!(cfg.files.len(), MAX_INCLUDE_DEPTH + 1);
    }

    #[test]
    fn apache_words() {
        assert_eq!(
            words(r#"  "a b" c 'd\'e'  "#),
            vec!["a b".to_string(), "c".into(), "d'e".into()]
        );
    }
}
