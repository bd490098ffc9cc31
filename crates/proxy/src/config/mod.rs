//! Configuration types: twemproxy's `nutcracker.yml` as it is, and memkeep-proxy's
//! own route tree (TOML). Plain typed structs; the binary reads and parses files.

mod check;
mod security;
mod tree;
mod window;

use std::collections::BTreeMap;
use std::fmt;

pub use security::{
    AuthMechanismSetting, BackendAuthSettings, BackendTlsSettings, ClientCertSetting,
    ListenerTlsSettings,
};
pub use tree::{
    BackendProtocol, EjectSettings, ListenerConfig, PartialFailureSetting, PolicySetting,
    PoolConfig, RouteConfig, RouteSpec, DEFAULT_DNS_MAX_TTL_MS, DEFAULT_DNS_MIN_TTL_MS,
    DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_OUTSTANDING, DEFAULT_MAX_PENDING,
    DEFAULT_MISSED_WRITES, DEFAULT_MISSED_WRITES_BYTES,
};
pub use window::{parse_window, DEFAULT_WARM_UP_AFTER_CHANGE};

/// A `nutcracker.yml`: pools by name.
pub type NutcrackerConfig = BTreeMap<String, NutcrackerPool>;

/// One twemproxy pool: every key of twemproxy 0.5's `nc_conf.c`, with its defaults
/// (`nc_conf.h`) and its meaning. The binary reads `nutcracker.yml` into it as
/// twemproxy reads it; [`NutcrackerPool::to_pool`] refuses only what memkeep-proxy
/// cannot serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NutcrackerPool {
    /// Where clients connect: an address as resolved from twemproxy's `host:port`
    /// (twemproxy resolves it when it reads the file, and so does the binary).
    pub listen: String,
    /// Key hash name (`fnv1a_64` by default).
    pub hash: String,
    /// Two bytes; only the key part between them is hashed.
    pub hash_tag: Option<String>,
    /// `ketama` (default), `modula` or `random`.
    pub distribution: String,
    /// Server request timeout in milliseconds. Absent or 0: wait forever (twemproxy
    /// sets no timer for a timeout that is not positive).
    pub timeout: Option<u64>,
    /// Listen backlog (512 by default; 0 is passed on to `listen(2)` as it is).
    pub backlog: u32,
    /// Read but never enforced by twemproxy (it resets the key to 0, "unlimited",
    /// whatever the file says), so memkeep-proxy enforces no limit from it either:
    /// a `nutcracker.yml` serves the same clients under both. The route tree's
    /// `max_connections` is a real limit.
    pub client_connections: Option<u32>,
    /// Turn on TCP keepalive on the connections to the servers (false by default).
    /// memkeep-proxy keeps it on for every server connection, so `true` is always
    /// met and `false` changes nothing.
    pub tcpkeepalive: bool,
    /// Connect to every server at start rather than on first use. memkeep-proxy
    /// always connects at start, so this changes nothing.
    pub preconnect: bool,
    /// Speak redis to the servers: refused, memkeep-proxy is memcached only.
    pub redis: bool,
    /// Redis password (twemproxy refuses it without `redis: true`).
    pub redis_auth: Option<String>,
    /// Redis database: read and ignored for a memcached pool, as twemproxy does.
    pub redis_db: Option<u32>,
    /// Connections to each server (1 by default; twemproxy refuses 0).
    pub server_connections: usize,
    /// Eject a failing server and rebuild the ring without it (false by default).
    pub auto_eject_hosts: bool,
    /// Milliseconds before an ejected server is tried again (30000 by default; 0:
    /// at the next request).
    pub server_retry_timeout: u64,
    /// Consecutive failures that eject a server (2 by default; 0 ejects at the
    /// first failure, as 1 does: twemproxy counts the failure before comparing).
    pub server_failure_limit: u32,
    /// `host:port:weight [name]` entries.
    pub servers: Vec<String>,
    /// memkeep's extension key `warm_up_after_change` (twemproxy refuses it): how
    /// long reads of keys whose server changed fall back to their previous server
    /// after a reload (see [`PoolConfig::warm_up_after_change`]).
    pub warm_up_after_change: std::time::Duration,
    /// memkeep's extension (refused by twemproxy): a DNS entry
    /// (`dns+srv://NAME` or `dns://NAME:PORT`) whose servers join `servers`.
    pub servers_from: Option<String>,
    /// memkeep's extension: the name server asked for `servers_from`.
    pub resolver: Option<String>,
    /// memkeep's extension: the least time between two lookups of `servers_from`.
    pub dns_min_ttl_ms: u64,
    /// memkeep's extension: the most time between two lookups of `servers_from`.
    pub dns_max_ttl_ms: u64,
}

impl NutcrackerPool {
    /// A pool listening on `listen` for `servers`, every other key at twemproxy's
    /// default.
    pub fn new(listen: impl Into<String>, servers: Vec<String>) -> Self {
        NutcrackerPool {
            listen: listen.into(),
            hash: default_hash(),
            hash_tag: None,
            distribution: default_distribution(),
            timeout: None,
            backlog: default_backlog(),
            client_connections: None,
            tcpkeepalive: false,
            preconnect: false,
            redis: false,
            redis_auth: None,
            redis_db: None,
            server_connections: default_server_connections(),
            auto_eject_hosts: false,
            server_retry_timeout: default_retry_timeout(),
            server_failure_limit: default_failure_limit(),
            servers,
            warm_up_after_change: DEFAULT_WARM_UP_AFTER_CHANGE,
            servers_from: None,
            resolver: None,
            dns_min_ttl_ms: DEFAULT_DNS_MIN_TTL_MS,
            dns_max_ttl_ms: DEFAULT_DNS_MAX_TTL_MS,
        }
    }
}

pub(crate) fn default_hash() -> String {
    "fnv1a_64".into()
}
pub(crate) fn default_distribution() -> String {
    "ketama".into()
}
pub(crate) fn default_backlog() -> u32 {
    512
}
pub(crate) fn default_server_connections() -> usize {
    1
}
pub(crate) fn default_retry_timeout() -> u64 {
    30_000
}
pub(crate) fn default_failure_limit() -> u32 {
    2
}

/// One server of a pool: where it is and how the ring sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Ring weight.
    pub weight: u32,
    /// Optional name; when given, the ring hashes it instead of the address.
    pub name: Option<String>,
}

impl ServerSpec {
    /// Parses twemproxy's `host:port:weight [name]` (the weight may be left out
    /// in memkeep's own config, meaning 1).
    pub fn parse(entry: &str) -> Result<Self, ConfigError> {
        let bad = || {
            ConfigError(format!(
                "bad server entry {entry:?}: want host:port:weight [name]"
            ))
        };
        let mut words = entry.split_whitespace();
        let address = words.next().ok_or_else(bad)?;
        let name = words.next().map(str::to_owned);
        if words.next().is_some() {
            return Err(bad());
        }
        let mut parts = address.rsplitn(3, ':').collect::<Vec<_>>();
        parts.reverse();
        let (host, port, weight) = match parts.as_slice() {
            [host, port, weight] => (*host, *port, weight.parse().map_err(|_| bad())?),
            [host, port] => (*host, *port, 1),
            _ => return Err(bad()),
        };
        Ok(ServerSpec {
            host: host.to_owned(),
            port: port.parse().map_err(|_| bad())?,
            weight,
            name,
        })
    }

    /// `host:port`, to connect to; an IPv6 address in brackets (twemproxy's
    /// `::1:11211:1` names host `::1`); a Unix socket's path alone.
    pub fn addr(&self) -> String {
        if self.is_unix() {
            self.host.clone()
        } else if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl ServerSpec {
    /// Whether the server is a Unix socket (its host is a path; its port 0).
    pub fn is_unix(&self) -> bool {
        self.host.starts_with('/')
    }
}

impl NutcrackerPool {
    /// The servers, parsed.
    pub fn server_specs(&self) -> Result<Vec<ServerSpec>, ConfigError> {
        self.servers.iter().map(|s| ServerSpec::parse(s)).collect()
    }

    /// This pool in memkeep's own terms; refuses what memkeep-proxy cannot do.
    pub fn to_pool(&self, name: &str) -> Result<PoolConfig, ConfigError> {
        if self.redis {
            return Err(ConfigError(format!(
                "pool {name}: redis is not supported (memkeep-proxy speaks memcached only)"
            )));
        }
        if self.redis_auth.is_some() {
            return Err(ConfigError(format!(
                "pool {name}: redis_auth is only valid for a redis pool"
            )));
        }
        if self.server_connections == 0 {
            return Err(ConfigError(format!(
                "pool {name}: server_connections cannot be 0"
            )));
        }
        if self.servers.is_empty() && self.servers_from.is_none() {
            return Err(ConfigError(format!("pool {name}: no servers")));
        }
        Ok(PoolConfig {
            servers: self
                .servers
                .iter()
                .chain(&self.servers_from)
                .cloned()
                .collect(),
            resolver: self.resolver.clone(),
            dns_min_ttl_ms: self.dns_min_ttl_ms,
            dns_max_ttl_ms: self.dns_max_ttl_ms,
            hash: self.hash.clone(),
            distribution: self.distribution.clone(),
            hash_tag: self.hash_tag.clone(),
            timeout_ms: self.timeout.filter(|&ms| ms > 0),
            connections: self.server_connections,
            eject: self.auto_eject_hosts.then_some(EjectSettings {
                failure_limit: self.server_failure_limit,
                retry_timeout_ms: self.server_retry_timeout,
                rebuild_ring: true,
            }),
            partial_failure: PartialFailureSetting::Error,
            replicas: 1,
            protocol: BackendProtocol::Auto,
            tls: None,
            auth: None,
            max_pending: DEFAULT_MAX_PENDING,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            missed_writes: DEFAULT_MISSED_WRITES,
            missed_writes_bytes: DEFAULT_MISSED_WRITES_BYTES,
            warm_up_after_change: self.warm_up_after_change,
        })
    }
}

/// A whole `nutcracker.yml` as a route tree: each pool under its own name, served
/// by its own listener.
pub fn nutcracker_tree(config: &NutcrackerConfig) -> Result<RouteConfig, ConfigError> {
    if config.is_empty() {
        return Err(ConfigError("no pools".into()));
    }
    let mut pools = BTreeMap::new();
    let mut listeners = Vec::new();
    for (name, pool) in config {
        pools.insert(name.clone(), pool.to_pool(name)?);
        listeners.push(ListenerConfig {
            listen: pool.listen.clone(),
            route: name.clone(),
            // Not a limit in twemproxy (see the field's doc).
            max_connections: None,
            backlog: pool.backlog,
            tls: None,
            authfile: None,
            max_outstanding: DEFAULT_MAX_OUTSTANDING,
        });
    }
    Ok(RouteConfig {
        pools,
        routes: BTreeMap::new(),
        listeners,
    })
}

/// A configuration that cannot be served; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_entries() {
        let s = ServerSpec::parse("127.0.0.1:11212:3 cache-b").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.weight, s.name.as_deref()),
            ("127.0.0.1", 11212, 3, Some("cache-b"))
        );
        assert_eq!(ServerSpec::parse("h:1").unwrap().weight, 1);
        assert!(ServerSpec::parse("h").is_err());
        assert!(ServerSpec::parse("h:x:1").is_err());
        assert_eq!(
            ServerSpec::parse("::1:11211:1").unwrap().addr(),
            "[::1]:11211"
        );
    }
}
