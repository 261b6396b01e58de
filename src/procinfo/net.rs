//! Which process serves a TCP address: the listening sockets of /proc/net/tcp and tcp6 (state
//! 0A, TCP_LISTEN), the one the kernel would hand a connection to a given address, and the
//! processes that hold that socket among their fds (`socket:[inode]` in /proc/PID/fd).
//!
//! /proc/net is the network namespace of the reader: a connection made from here (a probe)
//! reaches a listener of this namespace, so that is the one to find.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A listening TCP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The address it is bound to (0.0.0.0 or :: for every address).
    pub addr: SocketAddr,
    /// Its inode: `socket:[inode]` in the holders' /proc/PID/fd.
    pub inode: u64,
}

/// TCP_LISTEN in the `st` column.
const LISTEN: &str = "0A";

/// Lines of /proc/net/tcp{,6} read at most (a busy host lists every connection).
const MAX_LINES: usize = 1_000_000;

/// Every listening TCP socket of this network namespace, IPv4 then IPv6.
pub fn tcp_listeners() -> Vec<Listener> {
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(f) = std::fs::File::open(file) else {
            continue;
        };
        out.extend(
            BufReader::new(f)
                .lines()
                .take(MAX_LINES)
                .map_while(Result::ok)
                .filter_map(|l| parse_line(&l)),
        );
    }
    out
}

/// One line of /proc/net/tcp or tcp6, if it is a listening socket:
/// `0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 12345 …`.
pub fn parse_line(line: &str) -> Option<Listener> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 || f[3] != LISTEN {
        return None;
    }
    let (ip, port) = f[1].split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let inode = f[9].parse().ok()?;
    Some(Listener {
        addr: SocketAddr::new(parse_ip(ip)?, port),
        inode,
    })
}

/// The kernel prints an address as its 32-bit words in the machine's byte order (`%08X` of
/// each `__be32`): 127.0.0.1 is `0100007F` on a little-endian machine.
fn parse_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        Some(
            u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16)
                .ok()?
                .to_ne_bytes(),
        )
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// The inodes of the listening sockets a connection to `dst` would reach, as the kernel
/// chooses (inet_lhash2_lookup, compute_score): a socket bound to the very address first (an
/// IPv4 one before an IPv6 one bound to the v4-mapped form), then one bound to every address
/// (0.0.0.0 before ::, which takes IPv4 connections unless it is IPV6_V6ONLY, a flag /proc
/// does not show). Several at the best rank (SO_REUSEPORT) are all returned. Empty: nothing
/// listens there (the connection would be refused).
pub fn accepting(listeners: &[Listener], dst: SocketAddr) -> Vec<u64> {
    let dst_ip = match dst.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let rank = |l: &Listener| -> Option<u8> {
        if l.addr.port() != dst.port() {
            return None;
        }
        match (dst_ip, l.addr.ip()) {
            (IpAddr::V4(d), IpAddr::V4(a)) if a == d => Some(4),
            (IpAddr::V4(d), IpAddr::V6(a)) if a.to_ipv4_mapped() == Some(d) => Some(3),
            (IpAddr::V4(_), IpAddr::V4(a)) if a.is_unspecified() => Some(2),
            (IpAddr::V4(_), IpAddr::V6(a)) if a.is_unspecified() => Some(1),
            (IpAddr::V6(d), IpAddr::V6(a)) if a == d => Some(4),
            (IpAddr::V6(_), IpAddr::V6(a)) if a.is_unspecified() => Some(1),
            _ => None,
        }
    };
    let best = listeners.iter().filter_map(rank).max();
    let mut out: Vec<u64> = listeners
        .iter()
        .filter(|l| best.is_some() && rank(l) == best)
        .map(|l| l.inode)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether `ip` is an address of this machine (in this network namespace): binding to it
/// works only then (EADDRNOTAVAIL otherwise). Binding a UDP socket sends nothing.
pub fn is_local(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// The processes (thread-group leaders) that hold one of the sockets `inodes` among their
/// fds, sorted. Another user's fds are readable only with CAP_SYS_PTRACE (root): without it,
/// their holders are not found.
pub fn socket_holders(inodes: &[u64]) -> Vec<i32> {
    if inodes.is_empty() {
        return Vec::new();
    }
    let names: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                return false;
            };
            fds.filter_map(Result::ok).any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|t| t.to_str().is_some_and(|t| names.iter().any(|n| n == t)))
            })
        })
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(addr: &str, inode: u64) -> Listener {
        Listener {
            addr: addr.parse().unwrap(),
            inode,
        }
    }

    #[test]
    fn proc_net_lines_are_read_as_the_kernel_writes_them() {
        // 127.0.0.1:8080, listening; the header and an established connection are not.
        let lo = u32::from_ne_bytes([127, 0, 0, 1]);
        let line = format!(
            "   0: {lo:08X}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0"
        );
        assert_eq!(parse_line(&line), Some(l("127.0.0.1:8080", 4242)));
        assert_eq!(
            parse_line(
                "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
            ),
            None
        );
        let established = line.replace(" 0A ", " 01 ");
        assert_eq!(parse_line(&established), None);
        // :: and ::ffff:127.0.0.1 in tcp6.
        let any6 = "   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1";
        assert_eq!(parse_line(any6), Some(l("[::]:80", 77)));
        let ffff = u32::from_ne_bytes([0, 0, 0xff, 0xff]);
        let mapped = format!(
            "   2: 0000000000000000{ffff:08X}{lo:08X}:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 78 1"
        );
        assert_eq!(parse_line(&mapped), Some(l("[::ffff:127.0.0.1]:80", 78)));
        assert_eq!(parse_line("   3: 0100007F:zz 0 0A 0 0 0 0 0 1"), None);
    }

    #[test]
    fn the_listener_is_chosen_as_the_kernel_would() {
        let all = [
            l("0.0.0.0:80", 1),
            l("[::]:80", 2),
            l("127.0.0.1:80", 3),
            l("[::ffff:127.0.0.2]:80", 4),
            l("[::1]:80", 5),
            l("127.0.0.1:81", 6),
        ];
        let at = |dst: &str| accepting(&all, dst.parse().unwrap());
        // The very address, before any wildcard.
        assert_eq!(at("127.0.0.1:80"), [3]);
        assert_eq!(at("[::ffff:127.0.0.1]:80"), [3]);
        assert_eq!(at("127.0.0.2:80"), [4]);
        assert_eq!(at("[::1]:80"), [5]);
        // Elsewhere: 0.0.0.0 before :: for IPv4, :: for IPv6.
        assert_eq!(at("127.0.0.3:80"), [1]);
        assert_eq!(at("[::2]:80"), [2]);
        assert_eq!(accepting(&all[1..2], "127.0.0.3:80".parse().unwrap()), [2]);
        // Another port: nothing; SO_REUSEPORT: every socket of the best rank.
        assert!(at("127.0.0.1:82").is_empty());
        let reuse = [l("0.0.0.0:80", 9), l("0.0.0.0:80", 8)];
        assert_eq!(accepting(&reuse, "10.1.1.1:80".parse().unwrap()), [8, 9]);
    }

    #[test]
    fn local_addresses_are_told_from_others() {
        assert!(is_local("127.0.0.1".parse().unwrap()));
        assert!(is_local("127.0.0.2".parse().unwrap()));
        assert!(is_local("0.0.0.0".parse().unwrap()));
        // TEST-NET-1 (RFC 5737): never assigned to a machine.
        assert!(!is_local("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn holders_of_a_real_listening_socket_are_found() {
        let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        let inodes = accepting(&tcp_listeners(), addr);
        assert_eq!(inodes.len(), 1, "{addr} not among {:?}", tcp_listeners());
        assert_eq!(
            socket_holders(&inodes),
            [std::process::id() as i32],
            "the test process holds {addr}"
        );
    }
}
