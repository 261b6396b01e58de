//! Which FastCGI backends (php-fpm) the web servers to be traced pass requests to: each
//! server's configuration, found as the diagnosis finds it (its master's command line,
//! following includes: `diagnose::config`), names FastCGI addresses
//! (`diagnose::config::fastcgi`); the process listening on each (a unix socket path in
//! /proc/net/unix, a TCP address in /proc/net/tcp) is found through the sockets it holds,
//! and from it its master. An address nothing listens on is a warning that names the
//! configuration line: requests passed there fail (nginx 502, Apache 503).
//!
//! The tracer gets this as a plain function (`tracer::source::FindBackends`): a source reads
//! no configuration.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::diagnose::config::fastcgi::{self, FcgiAddr, FcgiTarget};
use crate::diagnose::config::{ServerConfig, apache_config, nginx_config_under};
use crate::procinfo::{self, net, unix};
use crate::tracer::source::Backend;

/// The FastCGI backends of the web servers `pids` (masters or workers of Apache or nginx;
/// other processes have none), each backend master once per server and address. Says on
/// stderr which configured addresses nothing listens on.
pub fn find(pids: &[i32]) -> Vec<Backend> {
    let mut masters: Vec<i32> = pids.iter().map(|&p| procinfo::server_master(p)).collect();
    masters.sort_unstable();
    masters.dedup();
    let ours = procinfo::self_and_ancestors();
    let mut out = Vec::new();
    let (mut tcp, mut unix_l) = (None, None);
    for server in masters {
        let Some((cfg, nginx)) = config_of(server) else {
            continue;
        };
        let who = procinfo::comm(server).unwrap_or_default();
        for t in fastcgi::fastcgi_targets(&cfg, nginx) {
            let inodes = match &t.addr {
                FcgiAddr::Unix(path) => {
                    let l = unix_l.get_or_insert_with(unix::unix_listeners);
                    unix::listening_at(l, path)
                }
                FcgiAddr::Tcp(host, port) => {
                    let Some(addrs) = local_addrs(host, *port) else {
                        // Another machine's backend (or a name not resolved here): nothing
                        // here to trace, and nothing to say.
                        continue;
                    };
                    let l = tcp.get_or_insert_with(net::tcp_listeners);
                    let mut v: Vec<u64> =
                        addrs.iter().flat_map(|a| net::accepting(l, *a)).collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                }
            };
            if inodes.is_empty() {
                warn_nothing_listens(&t, &who, server, nginx);
                continue;
            }
            let mut found: Vec<i32> = net::socket_holders(&inodes)
                .into_iter()
                // Init and socket activation hold sockets for a service they start.
                .filter(|&p| p != 1 && !ours.contains(&p))
                .map(procinfo::server_master)
                .filter(|&m| m != server)
                .collect();
            found.sort_unstable();
            found.dedup();
            for pid in found {
                out.push(Backend {
                    pid,
                    comm: procinfo::comm(pid).unwrap_or_default(),
                    addr: t.addr.to_string(),
                    server,
                });
            }
        }
    }
    out
}

/// The configuration of the web server whose master is `master`, and whether it is nginx's;
/// `None` for anything but Apache and nginx.
fn config_of(master: i32) -> Option<(ServerConfig, bool)> {
    let cmdline = procinfo::cmdline(master);
    match procinfo::comm(master)?.as_str() {
        "apache2" | "httpd" => Some((apache_config(&cmdline), false)),
        "nginx" => Some((nginx_config_under(Path::new("/"), &cmdline), true)),
        _ => None,
    }
}

/// The addresses of this machine a backend `host:port` is, if it is one here: an IP
/// literal of this machine, or `localhost`. Other names are not resolved: a lookup could
/// wait on DNS before anything is attached, and such a backend is usually on another host.
fn local_addrs(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    let ips: Vec<IpAddr> = if host.eq_ignore_ascii_case("localhost") {
        vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]
    } else {
        vec![host.parse().ok()?]
    };
    let local: Vec<SocketAddr> = ips
        .into_iter()
        .filter(|ip| net::is_local(*ip))
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    (!local.is_empty()).then_some(local)
}

/// A configured backend address with nothing listening: the likely cause of the server's
/// 502/503 answers, said with the line that names it.
fn warn_nothing_listens(t: &FcgiTarget, server: &str, pid: i32, nginx: bool) {
    let answer = if nginx {
        "nginx answers 502 Bad Gateway"
    } else {
        "Apache answers 503 Service Unavailable"
    };
    let what = match &t.addr {
        FcgiAddr::Unix(p) if p.exists() => format!(
            "nothing listens on {} (a socket file is there, but no process accepts on it: \
             php-fpm stopped, or moved)",
            t.addr
        ),
        FcgiAddr::Unix(_) => format!("nothing listens on {} (no such socket file)", t.addr),
        FcgiAddr::Tcp(..) => format!("nothing listens on {}", t.addr),
    };
    crate::say!(
        "reqtrace: warning: {what}, where {server} (PID {pid}) passes FastCGI requests ({}): \
         requests sent there fail ({answer}); start the backend (php-fpm) with this listen \
         address in its pool, or fix the address",
        fastcgi::place(t)
    );
}
