//! What the server's own error log said of a request, weighed into the ranking. The rule,
//! which names no application and no file: a failure that a warning or an error logged
//! during the request names (PHP's `include(/x): Failed to open stream`, nginx's `open()
//! "/x" failed`, Apache's `AH00132: file permissions deny server access: /x`) is the cause
//! the server or the application reported, and ranks first. In a request that succeeded
//! (a status below 400), a failure no such line names was handled by the application:
//! `file_exists` on an optional file, a cache miss, an autoloader or include_path fallback,
//! a relative form tried before an absolute one. It is counted as noise, not suspected.
//! A request that succeeded needs attention only when its server logged an error, or a
//! warning naming a file that failed.

use crate::http::correlate::Request;
use crate::http::errlog::{self, Gravity};

use super::rank::{Group, basename};

/// Why a failure in a successful request is noise.
pub const HANDLED: &str = "handled by the application: the request succeeded and no warning or error logged for it names this file";

/// A line the server logged for the request, read.
#[derive(Debug, Clone)]
pub struct Said {
    pub gravity: Gravity,
    pub paths: Vec<Vec<u8>>,
}

/// Read what the server logged for `req`.
pub fn read(req: &Request) -> Vec<Said> {
    req.logged
        .iter()
        .map(|l| Said {
            gravity: errlog::gravity(&l.line),
            paths: errlog::paths(&l.line),
        })
        .collect()
}

/// The gravest line naming a path of a group: any path it was seen under, or a path of the
/// same name that failed the same way in the request (the group stands for all of them).
fn naming(g: &Group, req: &Request, said: &[Said]) -> Option<Gravity> {
    let name = basename(&g.path);
    said.iter()
        .filter(|s| {
            errlog::names(&s.paths, &g.path)
                || g.paths.iter().any(|p| errlog::names(&s.paths, p))
                || req.failures.iter().any(|f| {
                    f.errno == g.errno
                        && basename(&f.path) == name
                        && errlog::names(&s.paths, &f.path)
                })
        })
        .map(|s| s.gravity)
        .max()
}

/// Weigh what was logged into the ranked groups of `req` (sorted again, noise last).
/// `watched`: what its worker logs reaches reqtrace (its error log is a file or a pipe
/// reqtrace sees written); only then does a success's unlogged failure count as handled: a
/// log reqtrace cannot see (syslog, a socket) names nothing, and proves nothing.
pub fn weigh(groups: &mut [Group], req: &Request, said: &[Said], watched: bool) {
    let succeeded = watched && req.status.is_some_and(|s| s < 400);
    for g in groups.iter_mut() {
        match naming(g, req, said) {
            Some(Gravity::Warning | Gravity::Error) => {
                g.noise = None;
                // Above anything the URL or the errno alone can earn.
                g.score += 100;
                // The generic "failed while serving the request" says less than this.
                g.reasons.retain(|r| !r.starts_with("failed while serving"));
                g.reasons
                    .insert(0, "the server's error log names it for this request".into());
            }
            Some(Gravity::Notice) if !succeeded && g.noise.is_none() => {
                g.score += 20;
                g.reasons
                    .push("a notice logged for this request names it".into());
            }
            _ if succeeded && g.noise.is_none() => {
                g.noise = Some(HANDLED);
                g.score = 0;
            }
            _ => {}
        }
    }
    groups.sort_by(|a, b| {
        a.noise
            .is_some()
            .cmp(&b.noise.is_some())
            .then(b.score.cmp(&a.score))
            .then(
                a.first_ts
                    .partial_cmp(&b.first_ts)
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
    });
}

/// Where the warnings and errors logged for `req` that name `path` say the code that asked
/// for it is (PHP's `in FILE on line N`), each once, at most 3.
pub fn locations(req: &Request, said: &[Said], path: &[u8]) -> Vec<(Vec<u8>, u32)> {
    let mut out: Vec<(Vec<u8>, u32)> = Vec::new();
    for (l, s) in req.logged.iter().zip(said) {
        if s.gravity >= Gravity::Warning
            && errlog::names(&s.paths, path)
            && let Some(loc) = errlog::location(&l.line)
            && !out.contains(&loc)
            && out.len() < 3
        {
            out.push(loc);
        }
    }
    out
}

/// Whether what was logged makes the request need attention whatever its status: an error
/// (PHP's fatal errors, a module's `[…:error]`).
pub fn alarming(said: &[Said]) -> bool {
    said.iter().any(|s| s.gravity == Gravity::Error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Logged;
    use crate::http::correlate::{Failure, Lookup};

    fn req(status: u16, fails: &[(&str, i32)], logged: &[&str]) -> Request {
        let mut r = Request::new(1, 1, 1, 0.0);
        r.target = Some(b"/doku.php".to_vec());
        r.status = Some(status);
        for (i, (p, e)) in fails.iter().enumerate() {
            r.failures.push(Failure {
                pid: 1,
                syscall: "openat",
                path: p.as_bytes().to_vec(),
                errno: *e,
                ts: i as f64,
                stat_kind: None,
                write: false,
            });
        }
        r.lookups.push(Lookup {
            path: b"/srv/app/doku.php".to_vec(),
            ts: 0.5,
        });
        for l in logged {
            r.logged.push(Logged {
                pid: 1,
                ts: 9.0,
                line: l.as_bytes().to_vec(),
            });
        }
        r
    }

    fn ranked(r: &Request) -> Vec<Group> {
        let mut g = super::super::rank::rank(r, &|_| false);
        weigh(&mut g, r, &read(r), true);
        g
    }

    #[test]
    fn a_success_with_nothing_logged_is_healthy() {
        let r = req(
            200,
            &[
                ("/root/x", libc::EACCES),
                ("/srv/app/cache/page.html", libc::ENOENT),
                ("/srv/app/conf/local.protected.php", libc::ENOENT),
            ],
            &[],
        );
        let g = ranked(&r);
        assert!(g.iter().all(|g| g.noise == Some(HANDLED)), "{g:#?}");
    }

    #[test]
    fn the_file_a_warning_names_comes_first_and_the_rest_is_handled() {
        let r = req(
            200,
            &[
                ("/srv/app/data/changes.log", libc::ENOENT),
                ("/srv/app/lib/tpl/main.php", libc::ENOENT),
                ("/srv/app/lib/tpl/main.php", libc::ENOENT),
            ],
            &[
                "[Tue Dec 01 17:00:00 2026] [php:warn] [pid 1] [client 127.0.0.1:1] PHP Warning:  include(/srv/app/lib/tpl/main.php): Failed to open stream: No such file or directory in /srv/app/inc/tpl.php on line 3",
            ],
        );
        let g = ranked(&r);
        assert_eq!(g[0].path, b"/srv/app/lib/tpl/main.php");
        assert!(g[0].noise.is_none());
        assert!(g[0].reasons[0].contains("error log"), "{:?}", g[0].reasons);
        assert!(g[1..].iter().all(|g| g.noise.is_some()), "{g:#?}");
        assert!(!alarming(&read(&r)));
    }

    #[test]
    fn in_a_failed_request_a_named_failure_outranks_the_url_match() {
        let r = req(
            500,
            &[
                ("/srv/app/doku.phpx", libc::ENOENT),
                ("/usr/share/php/Lib/autoload.php", libc::ENOENT),
            ],
            &[
                "PHP Fatal error:  Uncaught Error: Failed opening required 'Lib/autoload.php' (include_path='.:/usr/share/php')",
            ],
        );
        let g = ranked(&r);
        assert_eq!(g[0].path, b"/usr/share/php/Lib/autoload.php");
        // Not noise either: the status says something failed.
        assert!(g.iter().all(|g| g.noise.is_none()));
        assert!(alarming(&read(&r)));
    }

    #[test]
    fn what_the_application_logged_with_error_log_makes_a_success_need_attention() {
        // phpMyAdmin's config checks is_readable() on its secret, then error_log()s the
        // failure and renders its page (200); mod_php logs that line at [php:notice].
        let r = req(
            200,
            &[
                ("/var/lib/app/secret.inc.php", libc::EACCES),
                ("/usr/share/app/config.footer.inc.php", libc::ENOENT),
            ],
            &[
                "[Tue Dec 01 18:33:43.088079 2026] [php:notice] [pid 1:tid 1] [client 127.0.0.1:1] app: Failed to load /var/lib/app/secret.inc.php Check group www-data has read access",
            ],
        );
        let g = ranked(&r);
        assert_eq!(g[0].path, b"/var/lib/app/secret.inc.php");
        assert!(g[0].noise.is_none(), "{g:#?}");
        assert!(g[1].noise.is_some(), "{g:#?}");
    }

    #[test]
    fn without_a_watched_error_log_a_successs_failures_stay_suspects() {
        let r = req(200, &[("/srv/app/lib/missing.php", libc::ENOENT)], &[]);
        let mut g = super::super::rank::rank(&r, &|_| false);
        weigh(&mut g, &r, &read(&r), false);
        assert!(g.iter().all(|g| g.noise.is_none()), "{g:#?}");
    }

    #[test]
    fn a_deprecation_naming_a_file_does_not_make_it_a_suspect() {
        let r = req(
            200,
            &[("/srv/app/x.php", libc::ENOENT)],
            &["PHP Deprecated:  something in /srv/app/x.php on line 2"],
        );
        assert!(ranked(&r).iter().all(|g| g.noise.is_some()));
    }
}
