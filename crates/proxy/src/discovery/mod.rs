//! Pools whose servers come from DNS: a `servers` entry `dns+srv://NAME` stands for
//! the servers NAME's SRV records point to, `dns://NAME:PORT` for NAME's addresses
//! on PORT. [`Discovery`] resolves a configuration's entries, asks again on each
//! answer's TTL (bounded per pool), keeps the last good servers when a lookup fails
//! or names no server, and hands back the configuration to reload when an answer
//! changed; the caller reloads it as it would a changed file.
//!
//! The DNS client is this module's own (A, AAAA and SRV over UDP, TCP when
//! truncated, no cache): small, and it says exactly what an empty answer, a
//! missing name or a silent server was, which decides whether a pool changes.
//! Which name servers to ask is the caller's to say: a pool's `resolver`, else the
//! host's, which the binary reads from `/etc/resolv.conf` ([`nameservers`]).

mod client;
mod lookup;
mod refresh;
mod stats;
mod target;
pub mod wire;

pub use client::{DnsClient, LookupError};
pub use lookup::{lookup, Answer};
pub use refresh::Discovery;
pub use stats::{DiscoveryStats, PoolFigures};
pub use target::DnsTarget;

use std::net::{IpAddr, SocketAddr};

/// The name servers a `resolv.conf` text names (`nameserver ADDRESS` lines, port
/// 53), in order. Given the text: reading the file is the binary's business.
pub fn nameservers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        // A scoped IPv6 address (fe80::1%eth0) is not an IpAddr; it is skipped.
        .filter_map(|address| address.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn resolv_conf_name_servers_in_order() {
        let text = "# generated\nsearch svc.cluster.local\nnameserver 10.96.0.10\n\
                    nameserver ::1\nnameserver fe80::1%eth0\noptions ndots:5\n";
        assert_eq!(
            super::nameservers(text),
            vec![
                "10.96.0.10:53".parse().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }
}
