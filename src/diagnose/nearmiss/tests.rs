//! Near-miss unit tests, on throwaway directory trees (TempDir) and on fixed paths.

#[test]
fn the_urls_file_under_a_configured_root() {
    let roots = [PathBuf::from("/srv/www"), PathBuf::from("/srv/other")];
    let exists = |p: &[u8]| p == b"/srv/www/shop/cart.php";
    assert_eq!(
        url_under_roots(
            b"/srv/app/shop/cart.php",
            b"/shop/cart.php",
            &roots,
            &exists
        ),
        Some(b"/srv/www/shop/cart.php".to_vec())
    );
    // Not the URL's path joined somewhere, or nothing there: no guess.
    assert_eq!(
        url_under_roots(b"/srv/app/x.php", b"/shop/cart.php", &roots, &exists),
        None
    );
    assert_eq!(
        url_under_roots(b"/srv/app/y.php", b"/y.php", &roots, &exists),
        None
    );
    assert_eq!(url_under_roots(b"/srv/app/", b"/", &roots, &exists), None);
}

use super::*;
use crate::diagnose::testdir::TempDir;

#[test]
fn distance_basics() {
    assert_eq!(edit_distance(b"", b""), 0);
    assert_eq!(edit_distance(b"abc", b""), 3);
    assert_eq!(edit_distance(b"", b"ab"), 2);
    assert_eq!(edit_distance(b"index.phpp", b"index.php"), 1);
    assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
    assert_eq!(edit_distance(b"ab", b"ba"), 1); // transposition
    assert_eq!(edit_distance(b"indxe.php", b"index.php"), 1);
    assert_eq!(edit_distance(b"Logo", b"logo"), 1); // case-sensitive
    assert_eq!(edit_distance(&[0xff, 0xfe], &[0xfe, 0xff]), 1);
}

#[test]
fn distance_is_bounded() {
    let a = vec![b'a'; 1_000_000];
    let b = vec![b'b'; 1_000_000];
    let t = std::time::Instant::now();
    assert_eq!(edit_distance(&a, &b), MAX_DISTANCE_INPUT);
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn banded_distance_agrees() {
    // Deterministic pseudo-random strings over a small alphabet, so edits are common.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let la = (next() % 9) as usize;
        let lb = (next() % 9) as usize;
        let a: Vec<u8> = (0..la).map(|_| b"abc"[(next() % 3) as usize]).collect();
        let b: Vec<u8> = (0..lb).map(|_| b"abc"[(next() % 3) as usize]).collect();
        let full = edit_distance(&a, &b);
        for k in 0..5 {
            let want = (full <= k).then_some(full);
            assert_eq!(distance_within(&a, &b, k), want, "{a:?} {b:?} k={k}");
        }
    }
}

#[test]
fn the_incident_typo() {
    let t = TempDir::new("typo");
    t.touch("www/index.php");
    t.touch("www/index.html");
    t.touch("www/about.php");
    assert_eq!(
        did_you_mean(&t.b("www/index.phpp")),
        Some(t.b("www/index.php"))
    );
}

#[test]
fn case_and_extension() {
    let t = TempDir::new("case");
    t.touch("img/logo.png");
    t.touch("img/README");
    t.touch("pics/logo.jpg");
    t.touch("pics/logs.png");
    assert_eq!(
        did_you_mean(&t.b("img/logo.PNG")),
        Some(t.b("img/logo.png"))
    );
    assert_eq!(did_you_mean(&t.b("img/readme")), Some(t.b("img/README")));
    // Same stem, another extension, at distance 3.
    t.touch("other/logo.jpg");
    assert_eq!(
        did_you_mean(&t.b("other/logo.PNG")),
        Some(t.b("other/logo.jpg"))
    );
    // Smaller distance beats same stem: logs.png (1) over logo.jpg (3).
    assert_eq!(
        did_you_mean(&t.b("pics/logo.png")),
        Some(t.b("pics/logs.png"))
    );
}

#[test]
fn ties_prefer_same_stem_then_alphabetical() {
    let t = TempDir::new("ties");
    // Both at distance 1 from "data.cs": "data.css" shares the stem, "dat.cs" does not.
    t.touch("a/dat.cs");
    t.touch("a/data.css");
    assert_eq!(did_you_mean(&t.b("a/data.cs")), Some(t.b("a/data.css")));
    t.touch("b/abcf");
    t.touch("b/abce");
    assert_eq!(did_you_mean(&t.b("b/abcd")), Some(t.b("b/abce")));
}

#[test]
fn short_names_allow_one_edit() {
    let t = TempDir::new("short");
    t.touch("d/abc");
    t.touch("e/xyz");
    assert_eq!(did_you_mean(&t.b("d/abd")), Some(t.b("d/abc")));
    assert_eq!(did_you_mean(&t.b("d/abcde")), None); // two edits from a short name
    assert_eq!(did_you_mean(&t.b("e/xab")), None);
    assert_eq!(did_you_mean(&t.b("d/nothing-close")), None);
}

/// Issue 12: a missing `locale/en/lang.php` was "meant" as `locale/bn/lang.php`. Two-letter
/// names are codes (languages, countries, versions): one edit makes another valid code, so
/// only another case of the same code is a near miss.
#[test]
fn two_letter_codes_are_not_typos() {
    let t = TempDir::new("codes");
    t.touch("app/locale/bn/lang.php");
    t.touch("app/locale/DE/lang.php");
    t.touch("app/v1/api.php");
    assert_eq!(did_you_mean(&t.b("app/locale/en/lang.php")), None);
    assert_eq!(did_you_mean(&t.b("app/v2/api.php")), None);
    assert_eq!(did_you_mean(&t.b("app/locale/bm/lang.php")), None);
    // Only the case differs: that is the same code.
    assert_eq!(
        did_you_mean(&t.b("app/locale/de/lang.php")),
        Some(t.b("app/locale/DE/lang.php"))
    );
    // 5 bytes allow one edit, not two: `pt_PT` is not `pt_BR`. The stem counts: `en.php`
    // is as short a name as `en`.
    t.touch("app/l10n/pt_BR.php");
    t.touch("app/lang/bn.php");
    assert_eq!(did_you_mean(&t.b("app/l10n/pt_PT.php")), None);
    assert_eq!(did_you_mean(&t.b("app/lang/en.php")), None);
    assert_eq!(max_edits(2), 0);
    assert_eq!(max_edits(5), 1);
    assert_eq!(max_edits(6), 2);
}

#[test]
fn a_lost_slash() {
    // `Alias /foo/bar/ /srv/bar` glues `baz.html` onto `/srv/bar`.
    let t = TempDir::new("glued");
    t.touch("srv/bar/baz.html");
    t.touch("srv/bar/sub/x.css");
    t.touch("srv/ba.txt");
    assert_eq!(
        did_you_mean(&t.b("srv/barbaz.html")),
        Some(t.b("srv/bar/baz.html"))
    );
    // Glued onto a directory on the way, the rest following.
    assert_eq!(
        did_you_mean(&t.b("srv/barsub/x.css")),
        Some(t.b("srv/bar/sub/x.css"))
    );
    assert_eq!(did_you_mean(&t.b("srv/barnope.html")), None);
}

#[test]
fn an_added_slash() {
    let t = TempDir::new("split");
    t.touch("srv/bar/baz.html");
    t.touch("srv/foobar.html");
    std::fs::create_dir_all(t.p("srv/foo")).unwrap();
    // `ba/r` for `bar`.
    assert_eq!(
        did_you_mean(&t.b("srv/ba/r/baz.html")),
        Some(t.b("srv/bar/baz.html"))
    );
    // `foo/bar.html` for `foobar.html`, `foo/` existing.
    assert_eq!(
        did_you_mean(&t.b("srv/foo/bar.html")),
        Some(t.b("srv/foobar.html"))
    );
}

#[test]
fn a_doubled_segment() {
    let t = TempDir::new("doubled");
    t.touch("srv/www/x.html");
    t.touch("srv/a/b/y.html");
    assert_eq!(
        did_you_mean(&t.b("srv/www/www/x.html")),
        Some(t.b("srv/www/x.html"))
    );
    assert_eq!(
        did_you_mean(&t.b("srv/a/b/a/b/y.html")),
        Some(t.b("srv/a/b/y.html"))
    );
    assert_eq!(did_you_mean(&t.b("srv/www/www/z.html")), None);
}

#[test]
fn a_dropped_segment() {
    let t = TempDir::new("dropped");
    t.touch("srv/www/x.html");
    t.touch("srv/www/css/site.css");
    t.touch("srv/one/index.php");
    t.touch("srv/two/index.php");
    assert_eq!(
        did_you_mean(&t.b("srv/x.html")),
        Some(t.b("srv/www/x.html"))
    );
    assert_eq!(
        did_you_mean(&t.b("srv/css/site.css")),
        Some(t.b("srv/www/css/site.css"))
    );
    // Under two directories: a guess, not a near miss.
    assert_eq!(did_you_mean(&t.b("srv/index.php")), None);
}

#[test]
fn the_same_tail_under_another_root() {
    let t = TempDir::new("roots");
    t.touch("sites/a/www/img/logo.png");
    t.touch("sites/b/www/img/logo.png");
    t.touch("data/static/css/site.css");
    let roots = [t.p("sites/a/www"), t.p("sites/b/www"), t.p("sites/c")];
    // Under root c: the tail `img/logo.png` exists under a (first in order).
    assert_eq!(
        under_other_roots(&t.b("sites/c/img/logo.png"), &roots),
        Some(t.b("sites/a/www/img/logo.png"))
    );
    // Under none: the last components, at least two.
    let roots = [t.p("data/static")];
    assert_eq!(
        under_other_roots(&t.b("srv/old/css/site.css"), &roots),
        Some(t.b("data/static/css/site.css"))
    );
    assert_eq!(under_other_roots(&t.b("srv/old/site.css"), &roots), None);
    assert_eq!(under_other_roots(b"/", &roots), None);
    assert_eq!(under_other_roots(b"relative/x/y", &roots), None);
    assert_eq!(
        under_other_roots(&t.b("srv/../data/static/css/site.css"), &roots),
        None
    );
    // `/` and /proc are no roots.
    let roots = [PathBuf::from("/"), PathBuf::from("/proc")];
    assert_eq!(under_other_roots(b"/nope/self/status", &roots), None);
}

#[test]
fn the_alias_line_that_glued() {
    use crate::diagnose::ServerConfig;
    use crate::diagnose::config::directive_lines;
    use crate::diagnose::hint::ConfigRef;
    let t = TempDir::new("gluedby");
    t.touch("srv/bar/baz.html");
    t.write(
        "httpd.conf",
        format!(
            "Alias /x/ {root}/srv/barx/\nAlias /foo/bar/ {root}/srv/bar\n",
            root = t.path().display()
        ),
    );
    let cfg = ServerConfig {
        files: vec![t.p("httpd.conf")],
        document_roots: Vec::new(),
        default_root: None,
    };
    let (meant, hint) = near_miss(
        &t.b("srv/barbaz.html"),
        &cfg.document_roots,
        &mut || directive_lines(&cfg, ALIASES),
        &|p| p.to_vec(),
    );
    assert_eq!(meant, Some(t.b("srv/bar/baz.html")));
    assert_eq!(
        hint,
        Some(Hint::GluedTarget {
            target: t.b("srv/bar"),
            path: t.b("srv/barbaz.html"),
            by: ConfigRef {
                directive: "Alias".into(),
                file: t.b("httpd.conf"),
                line: 2,
                text: format!("Alias /foo/bar/ {}/srv/bar", t.path().display()),
            },
        })
    );
    // A near name is no glue; an AliasMatch's fixed part glues too.
    t.touch("srv/bar/bax.html");
    let (_, hint) = near_miss(
        &t.b("srv/bar/baz.htm"),
        &cfg.document_roots,
        &mut || directive_lines(&cfg, ALIASES),
        &|p| p.to_vec(),
    );
    assert_eq!(hint, None);
    t.write(
        "m.conf",
        format!("AliasMatch ^/m/(.*)$ {}/srv/bar$1\n", t.path().display()),
    );
    let cfg = ServerConfig {
        files: vec![t.p("m.conf")],
        document_roots: Vec::new(),
        default_root: None,
    };
    let (_, hint) = near_miss(
        &t.b("srv/barbaz.html"),
        &cfg.document_roots,
        &mut || directive_lines(&cfg, ALIASES),
        &|p| p.to_vec(),
    );
    assert!(matches!(hint, Some(Hint::GluedTarget { by, .. }) if by.line == 1));
    // The same tail under an Alias target, through the configuration.
    t.touch("old/pics/a.png");
    let (meant, _) = near_miss(
        &t.b("srv/www/pics/a.png"),
        &cfg.document_roots,
        &mut || directive_lines(&cfg, ALIASES),
        &|p| p.to_vec(),
    );
    assert_eq!(meant, None);
    t.write("r.conf", format!("Alias /p/ {}/old/\n", t.path().display()));
    let cfg = ServerConfig {
        files: vec![t.p("r.conf")],
        document_roots: vec![t.p("srv/www")],
        default_root: None,
    };
    let (meant, _) = near_miss(
        &t.b("srv/www/pics/a.png"),
        &cfg.document_roots,
        &mut || directive_lines(&cfg, ALIASES),
        &|p| p.to_vec(),
    );
    assert_eq!(meant, Some(t.b("old/pics/a.png")));
}

#[test]
fn missing_directory() {
    let t = TempDir::new("dir");
    t.touch("www/img/logo.png");
    t.touch("www/imag/other.png");
    // "imgs" → "img" (distance 1), and the rest exists there.
    assert_eq!(
        did_you_mean(&t.b("www/imgs/logo.png")),
        Some(t.b("www/img/logo.png"))
    );
    // "imga" → "img" and "imag" both at distance 1; only under "imag" does the rest exist.
    assert_eq!(
        did_you_mean(&t.b("www/imga/other.png")),
        Some(t.b("www/imag/other.png"))
    );
    // The rest exists under no candidate.
    assert_eq!(did_you_mean(&t.b("www/imgs/nothere.png")), None);
}

#[test]
fn existing_odd_and_refused_paths() {
    let t = TempDir::new("odd");
    t.touch("a/file");
    assert_eq!(did_you_mean(&t.b("a/file")), None); // exists
    assert_eq!(did_you_mean(&t.b("a/file/x")), None); // ENOTDIR
    assert_eq!(did_you_mean(b"relative/path"), None);
    assert_eq!(did_you_mean(b""), None);
    assert_eq!(did_you_mean(b"/"), None);
    assert_eq!(did_you_mean(b"/proc/self/statuss"), None);
    assert_eq!(did_you_mean(b"/sys/kernell"), None);
    assert_eq!(did_you_mean(b"/dev/nulll"), None);
    assert_eq!(did_you_mean(b"/a\0b"), None);
    // A symlink into /proc is refused too.
    std::os::unix::fs::symlink("/proc/self", t.path().join("p")).unwrap();
    assert_eq!(did_you_mean(&t.b("p/statuss")), None);
    // Symlink loop on the way: no panic, no answer.
    std::os::unix::fs::symlink("loop", t.path().join("loop")).unwrap();
    assert_eq!(did_you_mean(&t.b("loop/x")), None);
    // Dangling symlink: the name exists, so it is not a typo.
    std::os::unix::fs::symlink("nowhere", t.path().join("dangle")).unwrap();
    assert_eq!(did_you_mean(&t.b("dangle")), None);
    // A candidate that is itself a dangling symlink is not returned ("fila" sorts first).
    std::os::unix::fs::symlink("nowhere", t.path().join("a/fila")).unwrap();
    assert_eq!(did_you_mean(&t.b("a/filk")), Some(t.b("a/file")));
    // Huge path.
    let mut long = b"/".to_vec();
    long.extend(std::iter::repeat_n(b'a', 10_000));
    assert_eq!(did_you_mean(&long), None);
}

/// A dangling symlink whose target is misspelt: the target's near miss, relative or
/// absolute, with the rest of the path after a link to a directory.
#[test]
fn the_target_of_a_dangling_link() {
    let t = TempDir::new("link");
    t.touch("pages/guide.html");
    t.touch("assets/logo.png");
    t.touch("www/index.html");
    use std::os::unix::fs::symlink;
    symlink("../pages/guid.html", t.path().join("www/guide.html")).unwrap();
    symlink(t.path().join("asets"), t.path().join("www/media")).unwrap();
    symlink("../pages/nothing.txt", t.path().join("www/gone")).unwrap();
    // The path itself has no near miss: every name in it exists.
    assert_eq!(did_you_mean(&t.b("www/guide.html")), None);
    assert_eq!(
        through_link(
            &t.b("www/guide.html"),
            &t.b("www/guide.html"),
            b"../pages/guid.html"
        ),
        Some(t.b("pages/guide.html"))
    );
    let asets = t.b("asets");
    assert_eq!(
        through_link(&t.b("www/media/logo.png"), &t.b("www/media"), &asets),
        Some(t.b("assets/logo.png"))
    );
    // Nothing near the target's name.
    assert_eq!(
        through_link(&t.b("www/gone"), &t.b("www/gone"), b"../pages/nothing.txt"),
        None
    );
    assert_eq!(through_link(b"/x", b"/x", b""), None);
}

#[test]
fn invalid_utf8_names() {
    let t = TempDir::new("utf8");
    let mut good = t.b("caf");
    good.extend_from_slice(&[0xe9, b'.', b'p', b'h', b'p']); // "café.php" in Latin-1
    std::fs::write(as_path(&good), b"x").unwrap();
    let mut typo = t.b("caf");
    typo.extend_from_slice(&[0xe9, b'.', b'p', b'h', b'p', b'p']);
    assert_eq!(did_you_mean(&typo), Some(good));
}

#[test]
fn unreadable_and_huge_directories() {
    let t = TempDir::new("huge");
    let big = t.path().join("big");
    std::fs::create_dir(&big).unwrap();
    for i in 0..(MAX_ENTRIES + 500) {
        std::fs::write(big.join(format!("f{i:06}")), b"").unwrap();
    }
    // Only a bounded number of entries is read; whatever it finds must exist.
    if let Some(found) = did_you_mean(&t.b("big/f000000x")) {
        assert!(std::fs::metadata(as_path(&found)).is_ok());
    }
    // A directory we may not list (no effect when run as root): no panic.
    let shut = t.path().join("shut");
    std::fs::create_dir(&shut).unwrap();
    std::fs::write(shut.join("index.php"), b"").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shut, std::fs::Permissions::from_mode(0o300)).unwrap();
    let _ = did_you_mean(&t.b("shut/index.phpp"));
    std::fs::set_permissions(&shut, std::fs::Permissions::from_mode(0o700)).unwrap();
}
