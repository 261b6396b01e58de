//! The ranking's unit tests: requests built by hand (failures and look-ups with their times),
//! ranked with nothing on the file system unless a test says otherwise.

use super::*;
use crate::http::correlate::Lookup;

/// Nothing exists: the ranking from the calls alone.
fn no_fs(_: &[u8]) -> bool {
    false
}

fn req(target: &str, status: u16, fails: &[(&str, i32)], ok: &[&str]) -> Request {
    let mut r = Request::new(1, 1, 1, 0.0);
    r.target = Some(target.as_bytes().to_vec());
    r.status = Some(status);
    for (i, (p, e)) in fails.iter().enumerate() {
        r.failures.push(Failure {
            pid: 1,
            syscall: "newfstatat",
            path: p.as_bytes().to_vec(),
            errno: *e,
            ts: i as f64,
            stat_kind: None,
            write: false,
        });
    }
    for p in ok {
        r.lookups.push(Lookup {
            path: p.as_bytes().to_vec(),
            ts: 100.0,
        });
    }
    r
}

#[test]
fn the_postmortem_rewrite_typo_is_one_suspect_first() {
    let r = req(
        "/home",
        404,
        &[
            ("/index.phpp", libc::ENOENT),
            ("/srv/www/index.phpp", libc::ENOENT),
            ("/srv/www/.htaccess", libc::ENOENT),
            ("/srv/www/index.phpp", libc::ENOENT),
        ],
        &["/srv", "/srv/www"],
    );
    let g = rank(&r, &no_fs);
    let real: Vec<_> = g.iter().filter(|g| g.noise.is_none()).collect();
    assert_eq!(real.len(), 1);
    assert_eq!(real[0].path, b"/srv/www/index.phpp");
    assert_eq!(real[0].count, 3);
    assert!(
        real[0].reasons[0].contains("rewritten to /index.phpp"),
        "{:?}",
        real[0].reasons
    );
    assert_eq!(g.iter().filter(|g| g.noise.is_some()).count(), 1);
}

#[test]
fn directory_index_candidates_before_the_found_one_are_noise() {
    let r = req(
        "/",
        200,
        &[("/srv/www/index.html", libc::ENOENT)],
        &["/srv/www/index.php"],
    );
    assert!(rank(&r, &no_fs).iter().all(|g| g.noise.is_some()));
    // ...but when none was found (403), they are the finding.
    let r = req("/", 403, &[("/srv/www/index.html", libc::ENOENT)], &[]);
    assert!(rank(&r, &no_fs).iter().all(|g| g.noise.is_none()));
}

#[test]
fn a_missing_include_in_a_200_is_a_suspect_and_include_path_probes_collapse() {
    let r = req(
        "/index.php",
        200,
        &[
            ("/srv/www/header.phpp", libc::ENOENT),
            ("/usr/share/php/header.phpp", libc::ENOENT),
            ("/srv/www/header.phpp", libc::ENOENT),
        ],
        &["/srv/www/index.php", "/srv/www/footer.php"],
    );
    let g = rank(&r, &no_fs);
    assert_eq!(g.len(), 1);
    assert!(g[0].noise.is_none());
    assert_eq!(g[0].path, b"/srv/www/header.phpp");
    assert_eq!(g[0].count, 3);
}

#[test]
fn the_failure_matching_the_url_ranks_above_others() {
    let r = req(
        "/report.html",
        403,
        &[
            ("/etc/locale.alias", libc::ENOENT),
            ("/srv/www/report.html", libc::EACCES),
        ],
        &[],
    );
    let g = rank(&r, &no_fs);
    assert_eq!(g[0].path, b"/srv/www/report.html");
    assert!(g[0].score > g[1].score);
}

#[test]
fn a_missing_directory_and_the_file_under_it_are_one_cause() {
    let r = req(
        "/static/site.css",
        404,
        &[
            ("/srv/statc/site.css", libc::ENOENT),
            ("/srv/statc", libc::ENOENT),
        ],
        &[],
    );
    let g = rank(&r, &no_fs);
    assert_eq!(g.len(), 1, "{g:#?}");
    assert_eq!(g[0].path, b"/srv/statc/site.css");
    assert_eq!(g[0].count, 2);
    assert!(
        g[0].reasons[0].contains("the file the URL names"),
        "{:?}",
        g[0].reasons
    );
}

#[test]
fn a_refused_directory_and_a_path_under_it_are_one_cause() {
    let r = req(
        "/index.php",
        500,
        &[
            ("/srv/app/includes/libs/mime/defines.php", libc::EACCES),
            ("/srv/app/includes/libs/mime", libc::EACCES),
        ],
        &[],
    );
    let g = rank(&r, &|_| false);
    assert_eq!(g.len(), 1, "{g:#?}");
    assert_eq!(g[0].count, 2);
}

#[test]
fn permission_failures_in_one_directory_are_one_cause() {
    let r = req(
        "/private/a.html",
        403,
        &[
            ("/srv/www/private/a.html", libc::EACCES),
            ("/srv/www/private/.htaccess", libc::EACCES),
        ],
        &[],
    );
    let g = rank(&r, &no_fs);
    assert_eq!(g.len(), 1, "{g:#?}");
    assert_eq!(g[0].path, b"/srv/www/private/a.html");
}

#[test]
fn a_missing_directory_index_is_named_as_such() {
    let r = req(
        "/docs/",
        404,
        &[("/srv/www/docs/index.htm", libc::ENOENT)],
        &[],
    );
    let g = rank(&r, &no_fs);
    assert!(
        g[0].reasons[0].contains("DirectoryIndex"),
        "{:?}",
        g[0].reasons
    );
}

#[test]
fn a_rewrite_to_an_existing_file_is_healthy() {
    let r = req(
        "/home",
        200,
        &[("/index.php", libc::ENOENT)],
        &["/srv/www/index.php"],
    );
    assert!(rank(&r, &no_fs).iter().all(|g| g.noise.is_some()));
}

/// A request with failures and successful look-ups at given times.
fn timed(target: &str, status: u16, fails: &[(&str, f64)], ok: &[(&str, f64)]) -> Request {
    let mut r = req(target, status, &[], &[]);
    for (p, ts) in fails {
        r.failures.push(Failure {
            pid: 1,
            syscall: "newfstatat",
            path: p.as_bytes().to_vec(),
            errno: libc::ENOENT,
            ts: *ts,
            stat_kind: None,
            write: false,
        });
    }
    for (p, ts) in ok {
        r.lookups.push(Lookup {
            path: p.as_bytes().to_vec(),
            ts: *ts,
        });
    }
    r
}

fn reasons(g: &[Group]) -> String {
    g.iter()
        .flat_map(|g| g.reasons.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn a_relative_and_an_absolute_form_of_a_path_are_not_a_rewrite() {
    // `data/changes.log` from cwd `/`, then `/srv/app/data/changes.log`, from a script
    // already opened under /srv/app: the shorter is no URL-path; the form whose
    // directory exists is the one meant.
    let r = timed(
        "/p.php",
        200,
        &[
            ("/data/changes.log", 2.0),
            ("/srv/app/data/changes.log", 3.0),
        ],
        &[("/srv/app/p.php", 1.0)],
    );
    let g = rank(&r, &|p| p == b"/srv/app/data");
    assert_eq!(g.len(), 1, "{g:#?}");
    assert_eq!(g[0].path, b"/srv/app/data/changes.log");
    assert!(!reasons(&g).contains("rewritten"), "{g:#?}");
    // The configured absolute path, then its relative form joined to the script's
    // directory (tried more often): the absolute form is shown, with or without a look
    // at the file system.
    let r = timed(
        "/p.php",
        200,
        &[
            ("/var/lib/dokuwki/x", 2.0),
            ("/srv/app/var/lib/dokuwki/x", 3.0),
            ("/srv/app/var/lib/dokuwki/x", 4.0),
        ],
        &[("/srv/app/p.php", 1.0)],
    );
    for exists in [&no_fs as &dyn Fn(&[u8]) -> bool, &|p: &[u8]| {
        p == b"/var" || p == b"/var/lib"
    }] {
        let g = rank(&r, exists);
        assert_eq!(g.len(), 1, "{g:#?}");
        assert_eq!(g[0].path, b"/var/lib/dokuwki/x", "{g:#?}");
        assert!(!reasons(&g).contains("rewritten"), "{g:#?}");
    }
}

#[test]
fn only_index_names_tried_before_the_index_was_found_are_index_lookups() {
    let r = timed(
        "/",
        200,
        &[
            ("/srv/www/index.html", 1.0),
            ("/srv/www/config.footer.inc.php", 3.0),
            ("/tmp/twig/cache", 4.0),
        ],
        &[("/srv/www/index.php", 2.0)],
    );
    let g = rank(&r, &no_fs);
    assert!(!reasons(&g).contains("DirectoryIndex"), "{g:#?}");
    let r = timed("/docs/", 404, &[("/srv/www/docs/notes.txt", 1.0)], &[]);
    assert!(!reasons(&rank(&r, &no_fs)).contains("DirectoryIndex"));
    let r = timed("/docs/", 404, &[("/srv/www/docs/Default.aspx", 1.0)], &[]);
    assert!(reasons(&rank(&r, &no_fs)).contains("DirectoryIndex"));
}

#[test]
fn an_include_path_search_names_the_library_file_not_a_directory() {
    // A missing directory ranked first (seen more often) and the file under it: the
    // suspect is the file, the directory is in the reason.
    let r = timed(
        "/inc.php",
        500,
        &[
            ("/usr/share/php/Lib", 1.0),
            ("/usr/share/php/Lib", 2.0),
            ("/usr/share/php/Lib", 3.0),
            ("/usr/share/php/Lib/Sub/autoload.php", 4.0),
        ],
        &[("/srv/www/inc.php", 0.5)],
    );
    let g = rank(&r, &no_fs);
    assert_eq!(g.len(), 1, "{g:#?}");
    assert_eq!(g[0].path, b"/usr/share/php/Lib/Sub/autoload.php");
    assert_eq!(g[0].count, 4);
    assert!(
        reasons(&g).contains("/usr/share/php/Lib does not exist"),
        "{g:#?}"
    );
    // The relative name under '.' (the script's directory, tried twice) and under the
    // include_path entry: the library's entry is named.
    let r = timed(
        "/inc.php",
        500,
        &[
            ("/srv/www/Lib/Sub/autoload.php", 1.0),
            ("/usr/share/php/Lib/Sub/autoload.php", 2.0),
            ("/srv/www/Lib/Sub/autoload.php", 3.0),
            ("/srv/www/Lib", 4.0),
        ],
        &[("/srv/www/inc.php", 0.5)],
    );
    let g = rank(&r, &no_fs);
    assert_eq!(g.len(), 1, "{g:#?}");
    assert_eq!(g[0].path, b"/usr/share/php/Lib/Sub/autoload.php");
}

#[test]
fn a_rewrite_by_a_per_directory_file_names_its_target_first() {
    let r = timed(
        "/app/start",
        404,
        &[
            ("/srv/app/start", 1.0),
            ("/srv/app/start", 3.0),
            ("/srv/app/index.phpp", 4.0),
        ],
        &[("/srv/app", 2.5), ("/srv/app/.htaccess", 2.0)],
    );
    let g = rank(&r, &no_fs);
    assert_eq!(g[0].path, b"/srv/app/index.phpp", "{g:#?}");
    assert!(
        g[0].reasons[0].contains("/srv/app/.htaccess sent the request to"),
        "{g:#?}"
    );
    assert!(g[0].score > g[1].score);
}

/// DirectoryIndex set in a per-directory file is not a rewrite: the reason says the index
/// file was looked up for the directory, and names the file that was read before.
#[test]
fn an_index_named_by_a_per_directory_file_is_not_called_a_rewrite() {
    let r = timed(
        "/docs/",
        404,
        &[("/srv/www/docs/home.htm", 3.0)],
        &[("/srv/www/docs", 1.0), ("/srv/www/docs/.htaccess", 2.0)],
    );
    let g = rank(&r, &no_fs);
    assert_eq!(g[0].path, b"/srv/www/docs/home.htm", "{g:#?}");
    let why = &g[0].reasons[0];
    assert!(
        why.contains("index file") && why.contains(", after /srv/www/docs/.htaccess was read"),
        "{g:#?}"
    );
    assert!(!why.contains("rewritten by"), "{g:#?}");
}

/// A FallbackResource (or rewrite) to a missing file loops through internal redirects
/// to a 500: the fallback's target is first, the URL's own missing file (a pretty URL)
/// after it.
#[test]
fn a_missing_fallback_in_a_500_comes_before_the_urls_own_file() {
    let mut fails = vec![("/srv/www/products/shoes", 1.0), ("/srv/www/products", 1.5)];
    for i in 0..10 {
        fails.push(("/srv/www/front.phpp", 3.0 + i as f64));
    }
    let r = timed("/products/shoes", 500, &fails, &[("/srv/www", 2.0)]);
    let g = rank(&r, &no_fs);
    assert_eq!(g[0].path, b"/srv/www/front.phpp", "{g:#?}");
    assert!(reasons(&g[..1]).contains("where the server went"), "{g:#?}");
    assert!(g[0].score > g[1].score, "{g:#?}");
}

/// The same shape in a 404 (an ErrorDocument that is missing too): the URL's own file
/// explains the 404 and stays first; the ErrorDocument comes next, said so.
#[test]
fn a_missing_error_document_in_a_404_comes_after_the_urls_own_file() {
    let r = timed(
        "/blog/nothing.html",
        404,
        &[
            ("/srv/www/blog/nothing.html", 1.0),
            ("/srv/www/errors/nf.html", 3.0),
        ],
        &[("/srv/www/blog", 0.5)],
    );
    let g = rank(&r, &no_fs);
    assert_eq!(g[0].path, b"/srv/www/blog/nothing.html", "{g:#?}");
    assert_eq!(g[1].path, b"/srv/www/errors/nf.html", "{g:#?}");
    assert!(
        reasons(&g[1..2]).contains("where the server went"),
        "{g:#?}"
    );
}

/// A front controller found after the URL's file was missing ran: what fails after it is
/// the application's, not where the server went.
#[test]
fn a_failure_after_a_front_controller_ran_is_not_the_servers_fallback() {
    let r = timed(
        "/products/shoes",
        500,
        &[
            ("/srv/www/products/shoes", 1.0),
            ("/srv/www/cache/page.tpl", 3.0),
        ],
        &[("/srv/www/index.php", 2.0)],
    );
    let g = rank(&r, &no_fs);
    assert!(!reasons(&g).contains("where the server went"), "{g:#?}");
}

/// A per-directory file read while the server walks to the URL's own path: a directory
/// on that path failing after it is not the target of a rewrite; the fallback named by
/// the per-directory file is.
#[test]
fn a_directory_on_the_urls_way_is_not_a_per_directory_rewrite_target() {
    let r = timed(
        "/app/users/42",
        500,
        &[
            ("/srv/app/users/42", 1.0),
            ("/srv/app/users", 2.5),
            ("/srv/app/router.htm", 4.0),
            ("/srv/app/router.htm", 5.0),
        ],
        &[("/srv/app", 1.5), ("/srv/app/.htaccess", 2.0)],
    );
    let g = rank(&r, &no_fs);
    assert_eq!(g[0].path, b"/srv/app/router.htm", "{g:#?}");
    assert!(
        g[0].reasons[0].contains("/srv/app/.htaccess sent the request to /srv/app/router.htm"),
        "{g:#?}"
    );
    assert!(!reasons(&g[1..]).contains("sent the request"), "{g:#?}");
}

#[test]
fn shared_library_names() {
    for n in ["libc.so.6", "libfoo.so", "libssl.so.3", "libx-1.2.so.3.4"] {
        assert!(is_shared_library(n.as_bytes()), "{n}");
    }
    for n in [
        ".so",
        "notes.sock",
        "index.php",
        "libc.so.",
        "lib.soap",
        "x.so.6a",
    ] {
        assert!(!is_shared_library(n.as_bytes()), "{n}");
    }
}

/// The loader's search along LD_LIBRARY_PATH before it finds the library: noise; a
/// library never found is not.
#[test]
fn a_library_found_later_elsewhere_is_the_loaders_search() {
    let mut r = timed(
        "/cgi-bin/x.cgi",
        500,
        &[
            ("/opt/app/lib/x86_64/libc.so.6", 1.0),
            ("/opt/app/lib/libc.so.6", 2.0),
            ("/opt/app/lib/libgone.so.1", 3.5),
        ],
        &[("/lib/x86_64-linux-gnu/libc.so.6", 3.0)],
    );
    r.failures[0].errno = libc::EACCES;
    let g = rank(&r, &no_fs);
    let real: Vec<_> = g.iter().filter(|g| g.noise.is_none()).collect();
    assert_eq!(real.len(), 1, "{g:#?}");
    assert_eq!(real[0].path, b"/opt/app/lib/libgone.so.1");
}

#[test]
fn url_paths() {
    assert_eq!(url_path(b"/a%20b?q=1#x"), b"/a b");
    assert_eq!(url_path(b"http://h:80/x/y?z"), b"/x/y");
    assert_eq!(url_path(b"%zz"), b"%zz");
}
