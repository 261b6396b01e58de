//! Where a bad name is referenced: the postmortem's `grep -inR ".phpp" .`, done for the engineer.
//! Owns finding an Apache server's configuration from its master's command line (`-d`, `-f`,
//! `-C`/`-c`, the Debian and Red Hat defaults), following `Include`/`IncludeOptional` (globs,
//! directories, quotes, `Define`d variables) to list its files and DocumentRoots, and the bounded,
//! case-insensitive search of those files and the document trees. Every walk is capped in files,
//! bytes, depth and time, never follows symlinks to directories, and stays out of /proc, /sys and
//! /dev.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One line that mentions the needle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reference {
    /// Absolute path (lossy UTF-8).
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    /// The line, control characters turned into spaces, trimmed, at most 200 characters (a
    /// window around the match, cut ends marked "…", when the line is longer).
    pub text: String,
}

/// What a web server's configuration says about where to look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerConfig {
    /// Configuration files, in the order Apache reads them, each once.
    pub files: Vec<PathBuf>,
    /// DocumentRoot values, absolute, each once, in order of appearance.
    pub document_roots: Vec<PathBuf>,
}

/// Config files read at most.
pub(crate) const MAX_CONFIG_FILES: usize = 500;
/// Include nesting (and directory-include recursion) at most.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Bytes of one config file read at most.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;
/// Entries read from one directory at most.
const MAX_DIR_ENTRIES: usize = 10_000;
/// Files searched at most by [`find_references`].
pub const MAX_FILES: usize = 5_000;
/// References returned at most by [`find_references`].
pub const MAX_RESULTS: usize = 50;
/// Files bigger than this are not searched.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// A NUL in this many first bytes marks a file as binary.
const BINARY_PROBE: usize = 8 * 1024;
/// Directory entries looked at in total by one search, and document tree depth.
const MAX_WALK_ENTRIES: usize = 200_000;
const MAX_WALK_DEPTH: usize = 64;
const MAX_TEXT_CHARS: usize = 200;

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

/// `Some(root)` unless it is "/" (then paths are used as they are).
pub(crate) fn root_of(root: &Path) -> Option<PathBuf> {
    (root != Path::new("/") && !root.as_os_str().is_empty()).then(|| root.to_path_buf())
}

/// Where an absolute path of the configured machine is found here.
pub(crate) fn local(under: &Option<PathBuf>, p: &Path) -> PathBuf {
    match under {
        Some(r) => {
            let rel = p.strip_prefix("/").unwrap_or(p);
            r.join(rel)
        }
        None => p.to_path_buf(),
    }
}

/// A configuration path worth looking at: within the include depth and file count, existing,
/// and not in /proc, /sys or /dev. Its metadata.
pub(crate) fn admit(path: &Path, depth: usize, cfg: &ServerConfig) -> Option<std::fs::Metadata> {
    if depth > MAX_INCLUDE_DEPTH || cfg.files.len() >= MAX_CONFIG_FILES {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    if std::fs::canonicalize(path).map_or(true, |real| is_pseudo_fs(&real)) {
        return None;
    }
    Some(meta)
}

/// A regular configuration file's bytes, the first time it is met (by device and inode);
/// it is then listed in `cfg.files`.
pub(crate) fn take(
    path: &Path,
    meta: &std::fs::Metadata,
    visited: &mut HashSet<(u64, u64)>,
    cfg: &mut ServerConfig,
) -> Option<Vec<u8>> {
    if !meta.is_file() || !visited.insert((meta.dev(), meta.ino())) {
        return None;
    }
    let data = read_regular(path, MAX_CONFIG_BYTES)?;
    cfg.files.push(absolute(path));
    Some(data)
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

/// Paths matching an absolute pattern with `*`, `?` and `[…]` in any component, as Apache's
/// Include does: intermediate wildcards match directories only, leading dots must be matched
/// explicitly, matches come in name order. Without wildcards, the path itself if it exists.
pub(crate) fn glob(pattern: &Path) -> Vec<PathBuf> {
    let bytes = pattern.as_os_str().as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
        return if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let comps: Vec<&[u8]> = bytes
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let mut current: Vec<PathBuf> = vec![PathBuf::from(if bytes.first() == Some(&b'/') {
        "/"
    } else {
        "."
    })];
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let mut next = Vec::new();
        for dir in &current {
            if !comp.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
                next.push(dir.join(OsStr::from_bytes(comp)));
                continue;
            }
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<Vec<u8>> = rd
                .take(MAX_DIR_ENTRIES)
                .filter_map(|e| Some(e.ok()?.file_name().as_bytes().to_vec()))
                .filter(|n| fnmatch(comp, n))
                .collect();
            names.sort();
            for n in names {
                let p = dir.join(OsStr::from_bytes(&n));
                if last || p.is_dir() {
                    next.push(p);
                }
            }
        }
        next.truncate(MAX_CONFIG_FILES * 2);
        current = next;
        if current.is_empty() {
            break;
        }
    }
    current.retain(|p| p.exists());
    current
}

/// Shell-style match of one name: `*`, `?`, `[a-z]`, `[!…]`/`[^…]`, `\` escapes; a leading
/// dot in the name must be matched by a literal dot (FNM_PERIOD).
fn fnmatch(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pat.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(1),
            Some(b'[') => class_match(&pat[p..], name[n]).unwrap_or((name[n] == b'[').then_some(1)),
            Some(b'\\') if p + 1 < pat.len() => (pat[p + 1] == name[n]).then_some(2),
            Some(&c) => (c == name[n]).then_some(1),
            None => None,
        };
        match step {
            Some(len) => {
                p += len;
                n += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Whether `c` matches the bracket expression at the start of `pat`: `Some(Some(len))` with
/// the pattern bytes consumed, `Some(None)` for no match, `None` when the `[` is not closed
/// (it is then a literal).
fn class_match(pat: &[u8], c: u8) -> Option<Option<usize>> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let b = *pat.get(i)?;
        if b == b']' && !first {
            break;
        }
        first = false;
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|&e| e != b']') {
            let e = pat[i + 2];
            matched |= b <= c && c <= e;
            i += 3;
        } else {
            matched |= b == c;
            i += 1;
        }
    }
    Some((matched != negate).then_some(i + 1))
}

/// Every entry of a directory (up to the cap), sorted, as paths.
fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .take(MAX_DIR_ENTRIES)
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    v.sort();
    v
}

pub(crate) fn base_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

pub(crate) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Whether a canonical absolute path is in /proc, /sys or /dev.
fn is_pseudo_fs(path: &Path) -> bool {
    let mut c = path.components();
    c.next(); // RootDir
    matches!(
        c.next().map(|c| c.as_os_str().as_bytes()),
        Some(b"proc" | b"sys" | b"dev")
    )
}

/// Contents of a regular file of at most `max` bytes; `None` for anything else (a FIFO swapped
/// in cannot block: the open is non-blocking and the type is checked on the open file).
fn read_regular(path: &Path, max: u64) -> Option<Vec<u8>> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() || meta.len() > max {
        return None;
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(max).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// Case-insensitive (ASCII) search of `needle` in every config file, then in every regular
/// text file under each DocumentRoot, each group in path order. Stops at [`MAX_RESULTS`]
/// references, [`MAX_FILES`] files or when `budget` is spent, whichever comes first; skips
/// files over [`MAX_FILE_BYTES`], binary files, symlinks to directories, /proc, /sys and /dev.
pub fn find_references(cfg: &ServerConfig, needle: &[u8], budget: Duration) -> Vec<Reference> {
    let mut s = Search {
        needle: needle.to_ascii_lowercase(),
        deadline: Instant::now().checked_add(budget),
        results: Vec::new(),
        files: 0,
        entries: 0,
        seen: HashSet::new(),
    };
    if s.needle.is_empty() {
        return Vec::new();
    }
    let mut configs: Vec<PathBuf> = cfg.files.iter().map(|p| absolute(p)).collect();
    configs.sort();
    configs.dedup();
    for f in &configs {
        if s.done() {
            return s.results;
        }
        if let Ok(real) = std::fs::canonicalize(f)
            && !is_pseudo_fs(&real)
        {
            s.scan(f);
        }
    }
    let mut roots: Vec<PathBuf> = cfg.document_roots.iter().map(|p| absolute(p)).collect();
    roots.sort();
    roots.dedup();
    for root in &roots {
        if s.done() {
            break;
        }
        s.walk(root);
    }
    s.results
}

struct Search {
    needle: Vec<u8>,
    deadline: Option<Instant>,
    results: Vec<Reference>,
    files: usize,
    entries: usize,
    /// (dev, ino) of files already searched: nested or repeated roots count once.
    seen: HashSet<(u64, u64)>,
}

impl Search {
    fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn done(&self) -> bool {
        self.results.len() >= MAX_RESULTS || self.files >= MAX_FILES || self.out_of_time()
    }

    /// Depth-first, entries in name order, not following symlinks to directories.
    fn walk(&mut self, root: &Path) {
        let Ok(real_root) = std::fs::canonicalize(root) else {
            return;
        };
        if is_pseudo_fs(&real_root) || !real_root.is_dir() {
            return;
        }
        // (shown path, real path, remaining entries)
        let mut stack: Vec<(PathBuf, PathBuf, std::vec::IntoIter<std::fs::DirEntry>)> =
            vec![(root.to_path_buf(), real_root.clone(), self.list(&real_root))];
        while let Some((shown, real, iter)) = stack.last_mut() {
            if self.done() {
                return;
            }
            let Some(entry) = iter.next() else {
                stack.pop();
                continue;
            };
            let name = entry.file_name();
            let (shown_child, real_child) = (shown.join(&name), real.join(&name));
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                if stack.len() < MAX_WALK_DEPTH && !is_pseudo_fs(&real_child) {
                    let list = self.list(&real_child);
                    stack.push((shown_child, real_child, list));
                }
            } else if ft.is_file() || (ft.is_symlink() && real_child.is_file()) {
                self.scan(&shown_child);
            }
        }
    }

    /// A directory's entries in name order, within the per-directory and total caps.
    fn list(&mut self, dir: &Path) -> std::vec::IntoIter<std::fs::DirEntry> {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Vec::new().into_iter();
        };
        let room = MAX_DIR_ENTRIES.min(MAX_WALK_ENTRIES.saturating_sub(self.entries));
        let mut v: Vec<std::fs::DirEntry> = Vec::new();
        for e in rd.take(room) {
            if v.len().is_multiple_of(1024) && self.out_of_time() {
                break;
            }
            if let Ok(e) = e {
                v.push(e);
            }
        }
        self.entries += v.len();
        v.sort_by_key(|e| e.file_name());
        v.into_iter()
    }

    fn scan(&mut self, path: &Path) {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
            return;
        }
        if !self.seen.insert((meta.dev(), meta.ino())) {
            return;
        }
        self.files += 1;
        let Some(data) = read_regular(path, MAX_FILE_BYTES) else {
            return;
        };
        if data[..data.len().min(BINARY_PROBE)].contains(&0) {
            return;
        }
        let lower = data.to_ascii_lowercase();
        if find(&lower, &self.needle).is_none() {
            return;
        }
        let file = absolute(path).to_string_lossy().into_owned();
        let mut start = 0usize;
        for (idx, line) in lower.split(|&b| b == b'\n').enumerate() {
            let end = start + line.len();
            if idx % 1024 == 1023 && self.out_of_time() {
                return;
            }
            if let Some(at) = find(line, &self.needle) {
                self.results.push(Reference {
                    file: file.clone(),
                    line: u32::try_from(idx + 1).unwrap_or(u32::MAX),
                    text: clean_text(&data[start..end], at),
                });
                if self.results.len() >= MAX_RESULTS {
                    return;
                }
            }
            start = end + 1;
        }
    }
}

/// Bytes that continue a file name: a match must not be part of a longer name, or
/// `index.htm` would be "found" in every `index.html`.
fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The first occurrence of `needle` in `hay` as a whole file name (or, for a needle starting
/// with a dot, as a whole extension).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    let first = needle[0];
    (0..=hay.len() - needle.len()).find(|&i| {
        hay[i] == first
            && &hay[i..i + needle.len()] == needle
            // An extension (".phpp") may follow a name; a name may not.
            && (i == 0 || first == b'.' || !name_byte(hay[i - 1]))
            && hay.get(i + needle.len()).is_none_or(|&b| !name_byte(b))
    })
}

/// A line for display: lossy UTF-8, control characters as spaces, trimmed, at most
/// [`MAX_TEXT_CHARS`] characters around byte offset `at` of the match.
fn clean_text(line: &[u8], at: usize) -> String {
    let at = at.min(line.len());
    let before = String::from_utf8_lossy(&line[..at]);
    let after = String::from_utf8_lossy(&line[at..]);
    let clean = |s: &str| -> Vec<char> {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let mut chars = clean(&before);
    let match_at = chars.len();
    chars.extend(clean(&after));
    // Trim, keeping track of the match.
    let lead = chars.iter().take_while(|c| c.is_whitespace()).count();
    let trail = chars.iter().rev().take_while(|c| c.is_whitespace()).count();
    let end = chars.len().saturating_sub(trail).max(lead);
    let chars = &chars[lead..end];
    let match_at = match_at.saturating_sub(lead).min(chars.len());
    if chars.len() <= MAX_TEXT_CHARS {
        return chars.iter().collect();
    }
    let start = match_at
        .saturating_sub(60)
        .min(chars.len() - MAX_TEXT_CHARS);
    let mut len = MAX_TEXT_CHARS - usize::from(start > 0);
    let cut_end = start + len < chars.len();
    if cut_end {
        len -= 1;
    }
    let mut s = String::new();
    if start > 0 {
        s.push('…');
    }
    s.extend(&chars[start..start + len]);
    if cut_end {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testdir::TempDir;

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
    fn budget_and_limits() {
        let t = TempDir::new("budget");
        for i in 0..300 {
            t.write(
                &format!("www/d{}/f{i}.html", i % 7),
                "<a href=\"/index.phpp\">home</a>\n",
            );
        }
        let cfg = ServerConfig {
            files: Vec::new(),
            document_roots: vec![t.p("www")],
        };
        let start = Instant::now();
        assert!(find_references(&cfg, b"index.phpp", Duration::ZERO).is_empty());
        assert!(start.elapsed() < Duration::from_secs(1));
        let refs = find_references(&cfg, b"index.phpp", LONG);
        assert_eq!(refs.len(), MAX_RESULTS);
        // Path order: d0 first, files sorted by name within it.
        assert!(refs[0].file.ends_with("/www/d0/f0.html"), "{:?}", refs[0]);
        assert!(refs[1].file.ends_with("/www/d0/f105.html"), "{:?}", refs[1]);
        // A small budget returns promptly.
        let start = Instant::now();
        let _ = find_references(&cfg, b"nothing-matches", Duration::from_millis(5));
        assert!(start.elapsed() < Duration::from_secs(2));
        // Empty needle: nothing.
        assert!(find_references(&cfg, b"", LONG).is_empty());
        // Same tree twice (nested roots) is searched once.
        let cfg = ServerConfig {
            files: Vec::new(),
            document_roots: vec![t.p("www/d1"), t.p("www")],
        };
        let refs = find_references(&cfg, b"f1.html", LONG);
        assert!(refs.is_empty());
        let refs = find_references(&cfg, b"/index.phpp", LONG);
        let mut files: Vec<&str> = refs.iter().map(|r| r.file.as_str()).collect();
        let n = files.len();
        files.sort();
        files.dedup();
        assert_eq!(files.len(), n);
    }

    #[test]
    fn refuses_pseudo_file_systems_and_odd_trees() {
        let t = TempDir::new("odd");
        std::os::unix::fs::symlink("/proc", t.p("proc-link")).unwrap();
        std::os::unix::fs::symlink("loop", t.p("loop")).unwrap();
        let mut bad = t.p("").into_os_string().into_encoded_bytes();
        bad.extend_from_slice(b"/caf\xe9.txt");
        std::fs::write(OsStr::from_bytes(&bad), "uses index.phpp\n").unwrap();
        let fifo = CStringPath::new(&t.p("fifo"));
        // SAFETY: valid path.
        unsafe { libc::mkfifo(fifo.0.as_ptr(), 0o644) };
        let cfg = ServerConfig {
            files: vec![
                PathBuf::from("/proc/self/status"),
                t.p("fifo"),
                t.p("missing"),
            ],
            document_roots: vec![
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
                PathBuf::from("/dev"),
                t.p("proc-link"),
                t.p(""),
                t.p("loop"),
            ],
        };
        let start = Instant::now();
        let refs = find_references(&cfg, b"index.phpp", LONG);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(refs.len(), 1, "{refs:?}");
        assert!(refs[0].file.ends_with("/caf\u{fffd}.txt"), "{refs:?}");
        // Pseudo file systems as config roots are refused too.
        let cfg = apache_config(&argv(&["apache2", "-d", "/proc/self", "-f", "."]));
        assert!(cfg.files.is_empty());
    }

    struct CStringPath(std::ffi::CString);
    impl CStringPath {
        fn new(p: &Path) -> Self {
            CStringPath(std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap())
        }
    }

    #[test]
    fn text_is_cleaned_and_windowed() {
        assert_eq!(clean_text(b"\t  a\x01b index.phpp \r", 7), "a b index.phpp");
        let mut line = vec![b'x'; 5000];
        line.extend_from_slice(b"index.phpp");
        line.extend(vec![b'y'; 5000]);
        let s = clean_text(&line, 5000);
        assert_eq!(s.chars().count(), MAX_TEXT_CHARS);
        assert!(
            s.starts_with('…') && s.ends_with('…') && s.contains("index.phpp"),
            "{s}"
        );
        let s = clean_text(&line[4990..], 10);
        assert!(!s.starts_with('…') && s.ends_with('…'));
        assert_eq!(clean_text(b"", 0), "");
        assert_eq!(clean_text(b"\xff\xfe", 1), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn shell_patterns() {
        assert!(fnmatch(b"*.conf", b"a.conf"));
        assert!(!fnmatch(b"*.conf", b".a.conf"));
        assert!(fnmatch(b".*.conf", b".a.conf"));
        assert!(fnmatch(b"site?.conf", b"site1.conf"));
        assert!(fnmatch(b"[0-9]*", b"010-x"));
        assert!(!fnmatch(b"[!0-9]*", b"010-x"));
        assert!(fnmatch(b"a\\*", b"a*"));
        assert!(fnmatch(b"*", b"x"));
        assert!(fnmatch(b"[", b"["));
        assert!(fnmatch(b"a*b*c", b"aXbYbZc"));
        assert!(!fnmatch(b"a*b*c", b"aXbYbZ"));
        assert_eq!(
            words(r#"  "a b" c 'd\'e'  "#),
            vec!["a b".to_string(), "c".into(), "d'e".into()]
        );
    }
}
