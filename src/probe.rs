//! `--probe URL`: after attaching, send the request ourselves (HTTP/1.1 over TCP), wait for
//! the traced server's record of it, and judge it: a post-deploy check for a pipeline. The
//! probe runs on its own thread so the tracer keeps serving stops meanwhile.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::pipeline::Seen;
use crate::signals;

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeUrl {
    pub url: String,
    pub host: String,
    pub port: u16,
    /// Path and query, as sent in the request line.
    pub target: String,
}

impl ProbeUrl {
    pub fn parse(url: &str) -> Result<ProbeUrl, Error> {
        let bad = |why: &str| Error::Usage(format!("--probe {url:?}: {why}"));
        let rest = if let Some(r) = url.strip_prefix("http://") {
            r
        } else if url.starts_with("https://") {
            return Err(bad(
                "https is not supported: probe the plain-HTTP port (reqtrace sees the same \
                 file syscalls either way)",
            ));
        } else {
            return Err(bad("give a URL like http://127.0.0.1:8080/home"));
        };
        let (authority, target) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad(
                "the path contains spaces or control characters: percent-encode them",
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p
                    .parse()
                    .map_err(|_| bad("the port is not a number from 1 to 65535"))?;
                (h, port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() || port == 0 {
            return Err(bad("no host (or port 0)"));
        }
        Ok(ProbeUrl {
            url: url.to_string(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            target: target.to_string(),
        })
    }

    /// The host's addresses in the order the probe tries them (the resolver's: `localhost`
    /// may give ::1 before 127.0.0.1). The probe connects to the first that accepts, the one
    /// a listener serves; the same order finds which server that is.
    pub fn addrs(&self) -> Result<Vec<SocketAddr>, String> {
        let mut out: Vec<SocketAddr> = Vec::new();
        for a in (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
        {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        if out.is_empty() {
            return Err(format!("cannot resolve {}", self.host));
        }
        Ok(out)
    }
}

/// What one probe found.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub url: String,
    /// The status the client received, or why there was none.
    pub client: Result<u16, String>,
    /// The traced server's record of the request, if it arrived in time.
    pub seen: Option<Seen>,
    /// A path whose call failed in the request and that the response's body names: the
    /// application telling the client what it could not find (`Could not find template
    /// /x/y.mustache`), on a page that may still answer 200.
    pub named: Option<Vec<u8>>,
}

impl ProbeResult {
    /// A pass: a status below 400 and a record that needs no attention (no suspects, no
    /// error the server logged for it).
    pub fn ok(&self) -> bool {
        self.named.is_none()
            && matches!(self.client, Ok(s) if s < 400)
            && self
                .seen
                .as_ref()
                .is_some_and(|s| !s.attention && s.status.is_none_or(|st| st < 400))
    }
}

/// The status and the body (at most 1 MiB of the response) of one GET.
fn send(p: &ProbeUrl, timeout: Duration) -> Result<(u16, Vec<u8>), String> {
    let mut failed = Vec::new();
    let mut conn = None;
    for addr in p.addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                conn = Some(s);
                break;
            }
            Err(e) => failed.push(format!("cannot connect to {addr}: {e}")),
        }
    }
    let Some(mut s) = conn else {
        return Err(failed.join("; "));
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: reqtrace-probe/{}\r\nConnection: close\r\n\r\n",
        p.target,
        p.host,
        p.port,
        env!("CARGO_PKG_VERSION")
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("sending failed: {e}"))?;
    // Read the whole (bounded) response so the server finishes the request normally.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    while buf.len() < 1 << 20 {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if buf.is_empty() => return Err(format!("no response: {e}")),
            Err(_) => break,
        }
    }
    let status = crate::http::parse::parse_status(&buf)
        .ok_or_else(|| String::from("the response is not HTTP/1.x"))?;
    let body = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(Vec::new(), |i| buf[i + 4..].to_vec());
    Ok((status, body))
}

/// The first of `paths` that `body` names whole: an absolute path of at least two components
/// (a bare `/x` would be found in any page).
fn named_in(body: &[u8], paths: &[Vec<u8>]) -> Option<Vec<u8>> {
    paths
        .iter()
        .filter(|p| p.len() >= 6 && p.iter().filter(|&&b| b == b'/').count() >= 2)
        .find(|p| body.windows(p.len()).any(|w| w == p.as_slice()))
        .cloned()
}

/// Send every probe in turn and wait (up to `timeout` each) for its record; then ask the
/// tracer to detach.
pub fn run(urls: Vec<ProbeUrl>, seen: Receiver<Seen>, timeout: Duration) -> Vec<ProbeResult> {
    let mut results = Vec::new();
    for p in urls {
        let sent = send(&p, timeout);
        let (client, body) = match sent {
            Ok((status, body)) => (Ok(status), body),
            Err(e) => (Err(e), Vec::new()),
        };
        let mut record: Option<Seen> = None;
        if client.is_ok() {
            let deadline = Instant::now() + timeout;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                match seen.recv_timeout(left) {
                    Ok(s)
                        if s.method.as_deref() == Some("GET")
                            && s.target.as_deref() == Some(p.target.as_bytes()) =>
                    {
                        record = Some(s);
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        let named = record
            .as_ref()
            .and_then(|s| named_in(&body, &s.failed_paths));
        results.push(ProbeResult {
            url: p.url,
            client,
            seen: record,
            named,
        });
    }
    signals::request_stop(signals::REASON_DONE);
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_naming_a_failed_path() {
        let paths = vec![
            b"/srv/app/templates/NoLocal.mustache".to_vec(),
            b"/x".to_vec(),
        ];
        let body =
            b"<p>Error: Could not find template NoLocal at /srv/app/templates/NoLocal.mustache</p>";
        assert_eq!(named_in(body, &paths), Some(paths[0].clone()));
        assert_eq!(named_in(b"<a href=\"/x\">", &paths), None);
        assert_eq!(named_in(b"all good", &paths), None);
    }

    #[test]
    fn urls() {
        let p = ProbeUrl::parse("http://127.0.0.1:8080/home?x=1").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.target.as_str()),
            ("127.0.0.1", 8080, "/home?x=1")
        );
        let p = ProbeUrl::parse("http://localhost").unwrap();
        assert_eq!((p.port, p.target.as_str()), (80, "/"));
        let p = ProbeUrl::parse("http://[::1]:81/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 81));
        assert!(ProbeUrl::parse("https://x/").is_err());
        assert!(ProbeUrl::parse("ftp://x/").is_err());
        assert!(ProbeUrl::parse("http://x:99999/").is_err());
        assert!(ProbeUrl::parse("http://x/a b").is_err());
        assert!(ProbeUrl::parse("http://:80/").is_err());
    }

    #[test]
    fn addresses_are_those_the_probe_tries() {
        let p = ProbeUrl::parse("http://127.0.0.1:8080/home").unwrap();
        assert_eq!(p.addrs().unwrap(), ["127.0.0.1:8080".parse().unwrap()]);
        let p = ProbeUrl::parse("http://[::1]:81/").unwrap();
        assert_eq!(p.addrs().unwrap(), ["[::1]:81".parse().unwrap()]);
    }
}
