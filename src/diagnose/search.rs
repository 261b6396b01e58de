//! Where a bad name is referenced: the postmortem's `grep -inR ".phpp" .`, done for the
//! engineer. Owns which name of a missing path is worth searching ([`reference_name`]), the
//! bounded, case-insensitive search of a server's configuration files, the per-directory
//! files (.htaccess) the request read, and document trees ([`find_references_in`]) for a name
//! as a whole file name or extension, skipping comment lines, and the lines it returns
//! ([`Reference`]). Every walk is capped in files, bytes, depth and time, never follows
//! symlinks to directories, and stays out of /proc, /sys and /dev.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::config::{MAX_DIR_ENTRIES, ServerConfig, absolute, is_pseudo_fs, read_regular};

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

/// Directories whose entries are the names of the standard hierarchy (var, lib, share, etc,
/// log, cache, www, php...): such a name, missing somewhere, is in every configuration's
/// paths (`/var/log/…`, `/usr/lib/…`), so searching it alone would list every line that
/// mentions it.
const COMMON_DIRS: &[&str] = &[
    "/",
    "/usr",
    "/var",
    "/usr/share",
    "/usr/lib",
    "/usr/local",
    "/var/lib",
    "/etc",
];

/// The name to look for where a missing or failing path is referenced: for a missing path,
/// its first missing component (`statc` in /srv/statc/site.css: the Alias typo, not the file
/// under it), unless that name is too common to mean anything on its own (shorter than 3
/// bytes, or a directory of the standard hierarchy, see [`COMMON_DIRS`]): then the path from
/// that component on (`Lib/Sub/autoload.php`, as an application's `require` names it).
/// Otherwise the file name. `path` is a local path (looked at here).
pub fn reference_name(path: &[u8], errno: i32) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let exists = |p: &[u8]| std::fs::symlink_metadata(std::ffi::OsStr::from_bytes(p)).is_ok();
    if errno == libc::ENOENT {
        let mut end = 0;
        while end < path.len() {
            // The next component: skip slashes, then up to the next slash.
            let start = end + path[end..].iter().take_while(|&&b| b == b'/').count();
            end = start + path[start..].iter().take_while(|&&b| b != b'/').count();
            if start == end {
                break;
            }
            if std::fs::metadata(std::ffi::OsStr::from_bytes(&path[..end])).is_err() {
                let name = &path[start..end];
                let common = name.len() < 3
                    || COMMON_DIRS.iter().any(|d| {
                        let lower = name.to_ascii_lowercase();
                        [name, lower.as_slice()]
                            .iter()
                            .any(|n| exists(&crate::syscalls::path::join(d.as_bytes(), n)))
                    });
                if common && end < path.len() {
                    return path[start..].to_vec();
                }
                return name.to_vec();
            }
        }
    }
    super::rank::basename(path).to_vec()
}

/// Case-insensitive (ASCII) search of `needle` in every config file, then in every regular
/// text file under each DocumentRoot, each group in path order. Stops at [`MAX_RESULTS`]
/// references, [`MAX_FILES`] files or when `budget` is spent, whichever comes first; skips
/// files over [`MAX_FILE_BYTES`], binary files, symlinks to directories, /proc, /sys and /dev.
pub fn find_references(cfg: &ServerConfig, needle: &[u8], budget: Duration) -> Vec<Reference> {
    find_references_in(cfg, &[], needle, budget)
}

/// [`find_references`], with the per-directory files (.htaccess) a request read searched
/// after the config files: a rewrite in an application's .htaccess is configuration too,
/// and it often lives outside every DocumentRoot (an Alias target) or is a symlink into
/// /etc (Debian's packages), where no walk finds it. Each is followed to its real file, and
/// its lines are shown under that file's path (the one to edit).
pub fn find_references_in(
    cfg: &ServerConfig,
    access_files: &[PathBuf],
    needle: &[u8],
    budget: Duration,
) -> Vec<Reference> {
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
    for f in access_files {
        if s.done() {
            return s.results;
        }
        if let Ok(real) = std::fs::canonicalize(f)
            && !is_pseudo_fs(&real)
        {
            s.scan(&real);
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
            if let Some(at) = find(line, &self.needle)
                && !is_comment(line)
            {
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

/// A whole-line comment: `#` (Apache, nginx, shell, PHP), `;` (ini files), `//`, `/*` and
/// a block comment's ` * ` continuation (PHP, JavaScript, CSS), `<!--` (HTML). A name in a
/// comment configures nothing: listing it would point at the wrong line.
fn is_comment(line: &[u8]) -> bool {
    let t = &line[line.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
    t.starts_with(b"#")
        || t.starts_with(b";")
        || t.starts_with(b"//")
        || t.starts_with(b"/*")
        || t.starts_with(b"<!--")
        || t == b"*"
        || t.starts_with(b"* ")
        || t.starts_with(b"*/")
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

/// Line `n` (1-based) of a file, as a reference shows it (trimmed, control characters as
/// spaces, at most 200 characters), reading at most the first 4 MiB of it.
pub fn line_of(file: &[u8], n: u32) -> Option<String> {
    use std::io::{BufRead, Read};
    if n == 0 {
        return None;
    }
    let f = std::fs::File::open(crate::syscalls::path::as_path(file)).ok()?;
    let reader = std::io::BufReader::new(f.take(4 * 1024 * 1024));
    let line = reader.split(b'\n').nth(n as usize - 1)?.ok()?;
    let text: String = String::from_utf8_lossy(&line)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .chars()
        .take(200)
        .collect();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::config::apache_config;
    use crate::diagnose::testdir::TempDir;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    const LONG: Duration = Duration::from_secs(30);

    fn argv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
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
            default_root: None,
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
            default_root: None,
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
            default_root: None,
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
    fn comment_lines_are_no_references() {
        let t = TempDir::new("comments");
        t.write(
            "www/a.php",
            "<?php\n// old: index.phpp\n# index.phpp\n/* index.phpp */\n * index.phpp\ninclude 'index.phpp';\n",
        );
        t.write(
            "site.conf",
            "#RewriteRule ^/ /index.phpp\nRewriteRule ^/home$ /index.phpp\n",
        );
        let cfg = ServerConfig {
            files: vec![t.p("site.conf")],
            document_roots: vec![t.p("www")],
            default_root: None,
        };
        let refs = find_references(&cfg, b"index.phpp", LONG);
        let lines: Vec<u32> = refs.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 6], "{refs:?}");
    }

    #[test]
    fn per_directory_files_are_searched_through_their_symlinks() {
        let t = TempDir::new("access");
        t.write(
            "etc/htaccess",
            "RewriteEngine On\nRewriteRule ^start$ index.phpp [L]\n",
        );
        std::fs::create_dir_all(t.p("app")).unwrap();
        std::os::unix::fs::symlink(t.p("etc/htaccess"), t.p("app/.htaccess")).unwrap();
        let cfg = ServerConfig::default();
        assert!(find_references(&cfg, b"index.phpp", LONG).is_empty());
        let refs = find_references_in(&cfg, &[t.p("app/.htaccess")], b"index.phpp", LONG);
        assert_eq!(refs.len(), 1, "{refs:?}");
        let real = std::fs::canonicalize(t.p("etc/htaccess")).unwrap();
        assert_eq!(refs[0].file, real.to_str().unwrap());
        assert_eq!(refs[0].line, 2);
    }

    #[test]
    fn common_directory_names_are_not_searched_alone() {
        let t = TempDir::new("refname");
        std::fs::create_dir_all(t.p("www")).unwrap();
        let base = t.p("www").into_os_string().into_encoded_bytes();
        let p = |tail: &str| [base.as_slice(), tail.as_bytes()].concat();
        // `var` and `lib` are in every configuration's paths: the path from there is searched.
        assert_eq!(
            reference_name(&p("/var/lib/app/x.cache"), libc::ENOENT),
            b"var/lib/app/x.cache"
        );
        assert_eq!(
            reference_name(&p("/Lib/Sub/autoload.php"), libc::ENOENT),
            b"Lib/Sub/autoload.php"
        );
        // A specific name (an Alias typo) is searched alone; an existing path by file name.
        assert_eq!(
            reference_name(&p("/statc/site.css"), libc::ENOENT),
            b"statc"
        );
        assert_eq!(reference_name(&p("/x.html"), libc::EACCES), b"x.html");
        assert_eq!(reference_name(&p("/x.html"), libc::ENOENT), b"x.html");
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
}
