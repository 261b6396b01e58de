//! A php-fpm's configuration, for the reference search: its main file (from the master's
//! process title `php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)`, else `-y FILE` /
//! `--fpm-config FILE` on a command line started by hand, else the packaged default for its
//! version) and every pool file reached through `include=` (globs; relative to the prefix, as
//! php-fpm resolves them). The pool lines that name paths (`chroot`, `chdir`,
//! `php_admin_value[open_basedir]`, `php_value[include_path]`) are what a wrong name is found
//! in. INI syntax only as far as that needs: `;` comments, `key = value`, quotes. No document
//! trees: the scripts php-fpm runs are named by the web server (SCRIPT_FILENAME). Bounded by
//! the helpers of config/mod.rs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{MAX_CONFIG_FILES, ServerConfig, admit, glob, local, root_of, take};

/// Where a php-fpm built without `--prefix` looks (`-p` changes it).
const DEFAULT_PREFIX: &str = "/usr";

/// The main configuration file named by a php-fpm master's command line (`comm` is its
/// command name, `php-fpm8.2`, for the packaged default), and its prefix (`-p`).
fn main_file(cmdline: &[String], comm: &str) -> (PathBuf, PathBuf) {
    let mut prefix = PathBuf::from(DEFAULT_PREFIX);
    // php-fpm rewrites its title: `php-fpm: master process (FILE)`, one string.
    let title = cmdline.join(" ");
    let mut conf = title
        .find("master process (")
        .map(|i| &title[i + "master process (".len()..])
        .and_then(|rest| rest.rfind(')').map(|j| PathBuf::from(&rest[..j])));
    let mut it = cmdline.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-y" | "--fpm-config" => conf = it.next().map(PathBuf::from).or(conf),
            "-p" | "--prefix" => prefix = it.next().map(PathBuf::from).unwrap_or(prefix),
            a if a.starts_with("--fpm-config=") => {
                conf = Some(PathBuf::from(&a["--fpm-config=".len()..]));
            }
            a if a.starts_with("-y") && a.len() > 2 => conf = Some(PathBuf::from(&a[2..])),
            _ => {}
        }
    }
    let conf = match conf {
        Some(c) if c.is_relative() => prefix.join(c),
        Some(c) => c,
        // Debian's php8.2-fpm: /etc/php/8.2/fpm/php-fpm.conf; others: /etc/php-fpm.conf.
        None => match comm.strip_prefix("php-fpm") {
            Some(v) if !v.is_empty() => PathBuf::from(format!("/etc/php/{v}/fpm/php-fpm.conf")),
            _ => PathBuf::from("/etc/php-fpm.conf"),
        },
    };
    (conf, prefix)
}

/// The configuration of the php-fpm whose master has this command line and command name,
/// with its files under `under` (`/` on the traced machine itself).
pub fn fpm_config_under(under: &Path, cmdline: &[String], comm: &str) -> ServerConfig {
    let (conf, prefix) = main_file(cmdline, comm);
    let mut p = Parser {
        under: root_of(under),
        prefix,
        visited: HashSet::new(),
        cfg: ServerConfig::default(),
    };
    let main = local(&p.under, &conf);
    p.file(&main, 0);
    p.cfg
}

struct Parser {
    under: Option<PathBuf>,
    /// Where relative `include` paths start.
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
        for (key, value) in settings(&String::from_utf8_lossy(&data)) {
            // `include=/etc/php/8.2/fpm/pool.d/*.conf`; a value with a variable (`$pool`,
            // `${prefix}`) names no one file.
            if key == "include" && !value.contains('$') {
                let pattern = self.prefix.join(&value);
                for f in glob(&local(&self.under, &pattern)) {
                    self.file(&f, depth + 1);
                }
            }
            if self.cfg.files.len() >= MAX_CONFIG_FILES {
                return;
            }
        }
    }
}

/// The `key = value` settings of an INI text, in order: `;` comments and `[section]` headers
/// skipped, the value unquoted.
fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with([';', '#', '[']) {
                return None;
            }
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            // A comment after an unquoted value.
            let v = if v.starts_with('"') {
                v.trim_matches('"')
            } else {
                v.split(" ;").next().unwrap_or(v).trim()
            };
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testdir::TempDir;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_main_file_from_the_title_the_options_or_the_version() {
        let title = s(&["php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"]);
        assert_eq!(
            main_file(&title, "php-fpm8.2").0,
            PathBuf::from("/etc/php/8.2/fpm/php-fpm.conf")
        );
        let by_hand = s(&["php-fpm8.2", "-F", "-p", "/srv/fpm", "-y", "fpm.conf"]);
        assert_eq!(
            main_file(&by_hand, "php-fpm8.2"),
            (
                PathBuf::from("/srv/fpm/fpm.conf"),
                PathBuf::from("/srv/fpm")
            )
        );
        let long = s(&["php-fpm", "--fpm-config=/x/f.conf"]);
        assert_eq!(main_file(&long, "php-fpm").0, PathBuf::from("/x/f.conf"));
        assert_eq!(
            main_file(&s(&["php-fpm8.1"]), "php-fpm8.1").0,
            PathBuf::from("/etc/php/8.1/fpm/php-fpm.conf")
        );
        assert_eq!(
            main_file(&[], "php-fpm").0,
            PathBuf::from("/etc/php-fpm.conf")
        );
    }

    #[test]
    fn settings_skip_comments_sections_and_quotes() {
        let got = settings(
            "[global]\n; include=/nope\npid = /run/fpm.pid ; its pid\n[www]\nchroot = \"/srv/jail\"\nphp_admin_value[open_basedir] = /srv/www:/tmp\n",
        );
        assert_eq!(
            got,
            [
                ("pid".to_string(), "/run/fpm.pid".to_string()),
                ("chroot".into(), "/srv/jail".into()),
                (
                    "php_admin_value[open_basedir]".into(),
                    "/srv/www:/tmp".into()
                ),
            ]
        );
    }

    #[test]
    fn pools_are_included_and_searched() {
        let t = TempDir::new("fpm");
        t.write(
            "fpm.conf",
            "[global]\npid = run/fpm.pid\ninclude=pool.d/*.conf\n",
        );
        t.write(
            "pool.d/www.conf",
            "[www]\nuser = www-data\nchroot = /srv/jial\nchdir = /\nphp_admin_value[open_basedir] = /www\n",
        );
        t.write("pool.d/other.txt", "chroot = /srv/jial\n");
        let title = format!("php-fpm: master process ({})", t.p("fpm.conf").display());
        let cmd = vec![title, "-p".into(), t.path().display().to_string()];
        let cfg = fpm_config_under(Path::new("/"), &cmd, "php-fpm8.2");
        assert_eq!(cfg.files, [t.p("fpm.conf"), t.p("pool.d/www.conf")]);
        assert!(cfg.document_roots.is_empty());
        let refs = crate::diagnose::search::find_references(
            &cfg,
            b"jial",
            std::time::Duration::from_secs(1),
        );
        assert_eq!(refs.len(), 1, "{refs:?}");
        assert_eq!(
            (refs[0].line, refs[0].text.as_str()),
            (3, "chroot = /srv/jial")
        );
    }
}
