//! Single directives of a server's configuration, with where they are: the lines whose
//! directive is one of a few names (`Alias`, `root`, `disable_symlinks`…), each with its file,
//! line number, text and arguments. Used by the diagnosis to name the line behind a near miss
//! (the Alias whose target lacks its trailing slash) or a refusal (nginx's
//! `disable_symlinks`). Both syntaxes are read line by line, which is how both are written in
//! practice: the first word is the directive (any case, for Apache), the rest its arguments,
//! quotes removed, a trailing `;` or `{` dropped, `#` comments skipped. Reads only the files
//! the configuration already lists, each bounded like the parsers' reads.

use std::path::PathBuf;

use super::{MAX_CONFIG_BYTES, ServerConfig, read_regular};

/// Lines returned at most by [`directive_lines`].
const MAX_LINES: usize = 1_000;
/// A line's text is kept up to this many characters.
const MAX_TEXT: usize = 200;

/// One directive of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLine {
    pub file: PathBuf,
    /// 1-based.
    pub line: u32,
    /// The directive's name as written (`Alias`, `alias`, `DocumentRoot`).
    pub directive: String,
    /// Its arguments, unquoted, without a trailing `;`.
    pub args: Vec<String>,
    /// The line, trimmed, at most [`MAX_TEXT`] characters.
    pub text: String,
}

/// Every line of `cfg`'s files whose directive is one of `names` (compared ignoring ASCII
/// case), in file order, at most [`MAX_LINES`].
pub fn directive_lines(cfg: &ServerConfig, names: &[&str]) -> Vec<ConfigLine> {
    let mut out = Vec::new();
    for file in &cfg.files {
        let Some(data) = read_regular(file, MAX_CONFIG_BYTES) else {
            continue;
        };
        let text = String::from_utf8_lossy(&data);
        for (i, raw) in text.lines().enumerate() {
            let words = words(raw);
            let Some(first) = words.first() else { continue };
            if !names.iter().any(|n| n.eq_ignore_ascii_case(first)) {
                continue;
            }
            out.push(ConfigLine {
                file: file.clone(),
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                directive: first.clone(),
                args: words[1..].to_vec(),
                text: raw.trim().chars().take(MAX_TEXT).collect(),
            });
            if out.len() >= MAX_LINES {
                return out;
            }
        }
    }
    out
}

/// A line's words: white space separates, quotes group, `#` outside quotes starts a comment,
/// `;`, `{` and `}` end the directive (nginx).
pub(crate) fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.trim_start().chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if word.is_empty() => break,
            (None, ';' | '{' | '}') => break,
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            (None, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testdir::TempDir;

    #[test]
    fn words_of_both_syntaxes() {
        assert_eq!(
            words("  Alias /foo/ \"/srv/my bar\" # x"),
            ["Alias", "/foo/", "/srv/my bar"]
        );
        assert_eq!(words("root /srv/app;  # comment"), ["root", "/srv/app"]);
        assert_eq!(words("location /x/ {"), ["location", "/x/"]);
        assert_eq!(words("# Alias /a /b"), Vec::<String>::new());
        assert_eq!(
            words("disable_symlinks on from=$document_root;"),
            ["disable_symlinks", "on", "from=$document_root"]
        );
    }

    #[test]
    fn lines_with_their_place() {
        let t = TempDir::new("lines");
        t.write(
            "a.conf",
            "# Alias /no /no\nalias  /x/ /srv/x\nDocumentRoot /srv/www\n",
        );
        t.write(
            "b.conf",
            "server {\n    root /srv/app;\n    disable_symlinks on;\n}\n",
        );
        let cfg = ServerConfig {
            files: vec![t.p("a.conf"), t.p("b.conf")],
            document_roots: Vec::new(),
            default_root: None,
        };
        let got = directive_lines(&cfg, &["Alias", "root"]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].line, got[0].directive.as_str()), (2, "alias"));
        assert_eq!(got[0].args, ["/x/", "/srv/x"]);
        assert_eq!(got[1].file, t.p("b.conf"));
        assert_eq!((got[1].line, got[1].text.as_str()), (2, "root /srv/app;"));
        let d = directive_lines(&cfg, &["disable_symlinks"]);
        assert_eq!(d[0].args, ["on"]);
    }
}
