//! A pool's server entry that names DNS records instead of a server:
//! `dns+srv://NAME` (SRV records: targets, ports and weights) or `dns://NAME:PORT`
//! (A records, else AAAA: every address, on that port).

use std::fmt;

/// What a DNS entry asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DnsTarget {
    /// `dns+srv://NAME`: the SRV records of NAME.
    Srv {
        /// The name asked for, e.g. `_memcache._tcp.cache.svc.cluster.local`.
        name: String,
    },
    /// `dns://NAME:PORT`: the addresses of NAME, each on PORT.
    Host {
        /// The name asked for.
        name: String,
        /// The servers' port.
        port: u16,
    },
}

const SRV_SCHEME: &str = "dns+srv://";
const HOST_SCHEME: &str = "dns://";

impl DnsTarget {
    /// Whether a `servers` entry is a DNS entry (rather than `host:port`).
    pub fn is_dns_entry(entry: &str) -> bool {
        entry.starts_with(SRV_SCHEME) || entry.starts_with(HOST_SCHEME)
    }

    /// Parses a DNS entry; the message says what is wrong.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("bad DNS entry {entry:?}: {why}");
        let target = if let Some(name) = entry.strip_prefix(SRV_SCHEME) {
            DnsTarget::Srv {
                name: name.to_owned(),
            }
        } else if let Some(rest) = entry.strip_prefix(HOST_SCHEME) {
            let (name, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| bad("want dns://NAME:PORT"))?;
            let port = port
                .parse()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| bad("the port must be 1 to 65535"))?;
            DnsTarget::Host {
                name: name.to_owned(),
                port,
            }
        } else {
            return Err(bad("want dns+srv://NAME or dns://NAME:PORT"));
        };
        let name = target.name();
        let valid = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let bare = name.strip_suffix('.').unwrap_or(name);
        if bare.len() > 253 || !bare.split('.').all(valid) {
            return Err(bad(
                "the name must be a DNS name (letters, digits, - and _ in dot-separated labels)",
            ));
        }
        Ok(target)
    }

    /// The name asked for.
    pub fn name(&self) -> &str {
        match self {
            DnsTarget::Srv { name } | DnsTarget::Host { name, .. } => name,
        }
    }
}

impl fmt::Display for DnsTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsTarget::Srv { name } => write!(f, "{SRV_SCHEME}{name}"),
            DnsTarget::Host { name, port } => write!(f, "{HOST_SCHEME}{name}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_print_back() {
        for entry in [
            "dns+srv://_memcache._tcp.memkeepd.default.svc.cluster.local",
            "dns://cache.svc:11211",
            "dns://cache.example.:11211",
        ] {
            assert!(DnsTarget::is_dns_entry(entry));
            assert_eq!(DnsTarget::parse(entry).unwrap().to_string(), entry);
        }
        assert_eq!(
            DnsTarget::parse("dns://cache:2").unwrap(),
            DnsTarget::Host {
                name: "cache".into(),
                port: 2
            }
        );
        assert!(!DnsTarget::is_dns_entry("127.0.0.1:11211:1"));
    }

    #[test]
    fn bad_entries_say_why() {
        let cases = [
            ("dns://cache.svc", "dns://NAME:PORT"),
            ("dns://cache.svc:0", "port"),
            ("dns://cache.svc:x", "port"),
            ("dns+srv://", "DNS name"),
            ("dns+srv://a..b", "DNS name"),
            ("dns+srv://a b", "DNS name"),
            ("http://x", "want dns+srv"),
        ];
        for (entry, want) in cases {
            let error = DnsTarget::parse(entry).unwrap_err();
            assert!(error.contains(want), "{entry}: {error}");
        }
    }
}
