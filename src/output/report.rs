//! The human report of a finished request: a headline `GET /home → 404 (pid 9573, 1.2 ms)`,
//! then its suspects, most likely first, each with its reason, did-you-mean, hints and
//! references; noise as a count. A healthy request is one quiet line (with `--all`, its noise
//! follows). Every byte that came from the traced server or its files is escaped: paths
//! quoted, free text (reasons, notes, configuration lines) with its quotes as written.

use std::fmt::Write;

use owo_colors::OwoColorize;

use crate::diagnose::Report;
use crate::http::redact::{self, shown_target};
use crate::syscalls::errno;

use super::{escape, explain};

fn paint(out: &mut String, text: &str, color: bool, style: fn(&str) -> String) {
    if color {
        out.push_str(&style(text));
    } else {
        out.push_str(text);
    }
}

/// Whether a request needs attention (`Report::needs_attention`).
pub fn needs_attention(r: &Report) -> bool {
    r.needs_attention()
}

pub fn format_report(r: &Report, color: bool, show_secrets: bool) -> String {
    let req = &r.request;
    let mut out = String::with_capacity(256);
    let method = req.method.as_deref().unwrap_or("?");
    let mut target = match (req.target.as_deref(), req.partial) {
        (Some(t), _) => escape::escaped(&shown_target(t, show_secrets)),
        (None, true) => "(request started before reqtrace attached)".into(),
        (None, false) => "(no request line seen)".into(),
    };
    // A malformed request says so where the URL is read, with what made it so.
    if let Some(why) = &req.malformed {
        let why = format!("(malformed request: {})", escape::escaped(why.as_bytes()));
        target = match req.target {
            Some(_) => format!("{target} {why}"),
            None => why,
        };
    }
    let status = req
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("no response ({})", req.end_reason.as_str()));
    let head = format!(
        "{} {} → {}",
        escape::escaped(method.as_bytes()),
        target,
        status
    );
    let attention = needs_attention(r);
    match (attention, req.status) {
        (true, _) => paint(&mut out, &head, color, |t| t.red().bold().to_string()),
        (false, _) => paint(&mut out, &head, color, |t| t.green().to_string()),
    }
    let _ = write!(
        out,
        " (pid {}, {:.1} ms, {} file syscalls",
        req.pid,
        req.duration_ms(),
        req.syscalls
    );
    if let Some(b) = &req.backend {
        match super::json::known_comm(&b.comm) {
            Some(c) => {
                let c = escape::escaped(c.as_bytes());
                let _ = write!(out, ", script run by {c} pid {}", b.pid);
            }
            None => {
                let _ = write!(out, ", script run by pid {}", b.pid);
            }
        }
    }
    if req.partial {
        out.push_str(", partial");
    }
    out.push_str(")\n");
    // A healthy request is one line, unless --all put its noise among the suspects.
    if !attention && !r.suspects.iter().any(|s| s.noise) {
        return out;
    }
    // A refusal no call shows (open_basedir) is the cause: named first.
    for n in r.notes.iter().filter(|n| n.is_refusal()) {
        let n = explain::note(n);
        let _ = writeln!(out, "  refused: {}", escape::text(n.as_bytes()));
    }
    for (i, s) in r.suspects.iter().enumerate() {
        let name = errno::name(s.errno).unwrap_or("E?");
        let mut line = format!(
            "  {}. {} {} = {} ({})",
            i + 1,
            s.syscall,
            escape::quoted(&s.path),
            name,
            errno::message(s.errno)
        );
        // Another process's call (a FastCGI backend's: php-fpm): whose it was.
        if s.pid != req.pid {
            match &s.process {
                Some(p) => {
                    let _ = write!(
                        line,
                        " in {} (pid {})",
                        escape::escaped(p.as_bytes()),
                        s.pid
                    );
                }
                None => {
                    let _ = write!(line, " in pid {}", s.pid);
                }
            }
        }
        paint(&mut out, &line, color, |t| t.bold().to_string());
        if s.count > 1 {
            let _ = write!(out, " ×{}", s.count);
        }
        out.push('\n');
        let _ = writeln!(out, "     why: {}", escape::text(s.reason.as_bytes()));
        if let Some(d) = &s.did_you_mean {
            out.push_str("     did you mean: ");
            paint(&mut out, &escape::quoted(d), color, |t| {
                t.green().to_string()
            });
            out.push_str(" (exists)\n");
        }
        for h in &s.hints {
            let h = explain::hint(h);
            let _ = writeln!(out, "     note: {}", escape::text(h.as_bytes()));
        }
        for rf in &s.references {
            let searched = s.searched.as_deref().unwrap_or_default();
            // A line found otherwise (the Alias that glued the path) does not hold the name.
            let holds = rf
                .text
                .to_ascii_lowercase()
                .as_bytes()
                .windows(searched.len().max(1))
                .any(|w| w == searched.to_ascii_lowercase());
            let what = if holds {
                format!("{} appears in", escape::quoted(searched))
            } else {
                "see".to_string()
            };
            let _ = writeln!(
                out,
                "     {what} {}:{}: {}",
                escape::escaped(rf.file.as_bytes()),
                rf.line,
                escape::text(rf.text.as_bytes())
            );
        }
    }
    for n in r.notes.iter().filter(|n| !n.is_refusal()) {
        let n = explain::note(n);
        let _ = writeln!(out, "  note: {}", escape::text(n.as_bytes()));
    }
    // What the server logged for it, as it logged it (redacted): the application's own
    // account, next to the calls.
    if attention {
        for l in &req.logged {
            let line = redact::shown_log_line(&l.line, show_secrets);
            let _ = writeln!(out, "  logged: {}", escape::text(&line));
        }
        if req.logged_more > 0 {
            let _ = writeln!(out, "  logged: … and {} more line(s)", req.logged_more);
        }
    }
    // A healthy request has nothing more to explain than the noise listed.
    let unexplained =
        attention && r.real_suspects() == 0 && r.notes.is_empty() && req.logged.is_empty();
    if unexplained && req.malformed.is_some() {
        out.push_str(
            "  no failing file syscall: the server refused the malformed request itself\n",
        );
    } else if unexplained {
        out.push_str("  no failing file syscall in this request (the cause is elsewhere: a handler, a proxy, the application)\n");
    }
    let listed: u64 = r.suspects.iter().filter(|s| s.noise).map(|s| s.count).sum();
    if r.noise > 0 && listed >= r.noise {
        let _ = writeln!(out, "  noise: {} normal failure(s), listed above", r.noise);
    } else if r.noise > 0 && listed > 0 {
        // At most MAX_SUSPECTS groups are listed, real suspects first.
        let _ = writeln!(
            out,
            "  noise: {} normal failure(s), {listed} of them listed above (the first groups)",
            r.noise
        );
    } else if r.noise > 0 {
        // In a request that succeeded, what the application handled is noise too.
        let handled = if req.status.is_some_and(|s| s < 400) {
            ", files the application handled"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  noise: {} normal failure(s) hidden (.htaccess probes, candidates tried before one was found{handled}); --all shows them",
            r.noise
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{Note, Suspect};
    use crate::http::correlate::Request;

    fn report() -> Report {
        let mut request = Request::new(1, 123, 123, 0.0);
        request.method = Some("GET".into());
        request.target = Some(b"/x.php".to_vec());
        request.status = Some(404);
        let suspect = |pid: i32, process: Option<&str>, path: &str| Suspect {
            pid,
            process: process.map(str::to_string),
            syscall: "newfstatat",
            path: path.as_bytes().to_vec(),
            errno: libc::ENOENT,
            count: 1,
            score: 50,
            reason: "r".into(),
            did_you_mean: None,
            hints: Vec::new(),
            references: Vec::new(),
            searched: None,
            noise: false,
        };
        Report {
            request,
            suspects: vec![
                suspect(456, Some("php-fpm8.2"), "/srv/wwww/x.php"),
                suspect(789, None, "/srv/a"),
                suspect(123, Some("nginx"), "/srv/b"),
            ],
            noise: 0,
            notes: vec![
                Note::ForbiddenByServer,
                Note::OpenBasedir {
                    path: b"/srv/lib/c.php".to_vec(),
                    allowed: b"/srv/www:/tmp".to_vec(),
                },
            ],
            logged_error: false,
        }
    }

    #[test]
    fn another_process_call_is_named_and_a_refusal_comes_first() {
        let text = format_report(&report(), false, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].starts_with(
                "  refused: PHP refused /srv/lib/c.php: it is outside open_basedir (/srv/www:/tmp)"
            ),
            "{text}"
        );
        assert!(
            lines[2].ends_with(
                "newfstatat \"/srv/wwww/x.php\" = ENOENT (No such file or directory) in php-fpm8.2 (pid 456)"
            ),
            "{text}"
        );
        assert!(text.contains("\"/srv/a\" = ENOENT (No such file or directory) in pid 789\n"));
        // The request's own process: not named again.
        assert!(text.contains("\"/srv/b\" = ENOENT (No such file or directory)\n"));
        assert_eq!(text.matches("PHP refused").count(), 1, "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&super::super::json::request_line(&report(), false)).unwrap();
        let s = &json["suspects"];
        assert_eq!(
            (s[0]["pid"].as_i64(), s[0]["process"].as_str()),
            (Some(456), Some("php-fpm8.2"))
        );
        assert_eq!(
            (s[1]["pid"].as_i64(), s[1].get("process")),
            (Some(789), None)
        );
    }
}
