//! A server as the ring sees it: the identity string its points are hashed from,
//! and its weight. The addresses themselves belong to the caller.

/// One server of a pool: the bytes its ring points are derived from, and its weight.
///
/// Two servers hashed from the same identity land on the same points, so the
/// identity, not the address, decides where keys go: twemproxy lets you name servers
/// so that a replacement machine can take over its predecessor's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    identity: String,
    weight: u32,
}

/// memcached's default port: twemproxy and libmemcached leave it out of the identity.
pub const DEFAULT_PORT: u16 = 11211;

impl Server {
    /// A server identified by `identity` (used verbatim), with `weight`.
    pub fn new(identity: impl Into<String>, weight: u32) -> Self {
        Server {
            identity: identity.into(),
            weight,
        }
    }

    /// A server as twemproxy identifies a `servers:` entry `host:port:weight [name]`:
    /// the name if one is given, else `host` when the port is 11211, else
    /// `host:port`. libmemcached's ketama uses the same rule (without names).
    pub fn twemproxy(host: &str, port: u16, weight: u32, name: Option<&str>) -> Self {
        let identity = match name {
            Some(name) => name.to_owned(),
            None if port == DEFAULT_PORT => host.to_owned(),
            None => format!("{host}:{port}"),
        };
        Server { identity, weight }
    }

    /// The identity string the ring hashes.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The weight: a share of the keys proportional to it (ketama, modula,
    /// rendezvous).
    pub fn weight(&self) -> u32 {
        self.weight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twemproxy_identity_rules() {
        assert_eq!(
            Server::twemproxy("10.0.0.1", 11211, 1, None).identity(),
            "10.0.0.1"
        );
        assert_eq!(
            Server::twemproxy("10.0.0.1", 11212, 1, None).identity(),
            "10.0.0.1:11212"
        );
        assert_eq!(
            Server::twemproxy("10.0.0.1", 11212, 3, Some("cache-a")).identity(),
            "cache-a"
        );
    }
}
