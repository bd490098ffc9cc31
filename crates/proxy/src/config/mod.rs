//! Configuration types: twemproxy's `nutcracker.yml` as it is, and memkeep-proxy's
//! own route tree (TOML). Plain typed structs; the binary reads and parses files.

mod check;
mod security;
mod tree;

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

pub use security::{
    AuthMechanismSetting, BackendAuthSettings, BackendTlsSettings, ClientCertSetting,
    ListenerTlsSettings,
};
pub use tree::{
    BackendProtocol, EjectSettings, ListenerConfig, PartialFailureSetting, PolicySetting,
    PoolConfig, RouteConfig, RouteSpec, DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_OUTSTANDING,
    DEFAULT_MAX_PENDING,
};

/// A `nutcracker.yml`: pools by name.
pub type NutcrackerConfig = BTreeMap<String, NutcrackerPool>;

/// One twemproxy pool, with twemproxy's keys and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NutcrackerPool {
    /// Where clients connect: `host:port` (a Unix socket path is not supported).
    pub listen: String,
    /// Key hash name (`fnv1a_64` by default).
    #[serde(default = "default_hash")]
    pub hash: String,
    /// Two characters; only the key part between them is hashed.
    #[serde(default)]
    pub hash_tag: Option<String>,
    /// `ketama` (default), `modula` or `random`.
    #[serde(default = "default_distribution")]
    pub distribution: String,
    /// Server request timeout in milliseconds; none by default (wait forever).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Listen backlog (512 by default).
    #[serde(default = "default_backlog")]
    pub backlog: u32,
    /// Connect to every server at start rather than on first use. memkeep-proxy
    /// always connects at start, so this changes nothing.
    #[serde(default)]
    pub preconnect: bool,
    /// Speak redis to the servers: refused, memkeep-proxy is memcached only.
    #[serde(default)]
    pub redis: bool,
    /// Redis password: refused with `redis`.
    #[serde(default)]
    pub redis_auth: Option<String>,
    /// Redis database: refused with `redis`.
    #[serde(default)]
    pub redis_db: Option<u32>,
    /// Connections to each server (1 by default).
    #[serde(default = "default_server_connections")]
    pub server_connections: usize,
    /// Most client connections to this pool (unlimited by default).
    #[serde(default)]
    pub client_connections: Option<usize>,
    /// Eject a failing server and rebuild the ring without it (false by default).
    #[serde(default)]
    pub auto_eject_hosts: bool,
    /// Milliseconds before an ejected server is tried again (30000 by default).
    #[serde(default = "default_retry_timeout")]
    pub server_retry_timeout: u64,
    /// Consecutive failures that eject a server (2 by default).
    #[serde(default = "default_failure_limit")]
    pub server_failure_limit: u32,
    /// `host:port:weight [name]` entries.
    pub servers: Vec<String>,
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

    /// `host:port`, to connect to.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl NutcrackerPool {
    /// The servers, parsed.
    pub fn server_specs(&self) -> Result<Vec<ServerSpec>, ConfigError> {
        self.servers.iter().map(|s| ServerSpec::parse(s)).collect()
    }

    /// This pool in memkeep's own terms; refuses what memkeep-proxy cannot do.
    pub fn to_pool(&self, name: &str) -> Result<PoolConfig, ConfigError> {
        if self.redis || self.redis_auth.is_some() || self.redis_db.is_some() {
            return Err(ConfigError(format!(
                "pool {name}: redis is not supported (memkeep-proxy speaks memcached only)"
            )));
        }
        if self.servers.is_empty() {
            return Err(ConfigError(format!("pool {name}: no servers")));
        }
        Ok(PoolConfig {
            servers: self.servers.clone(),
            hash: self.hash.clone(),
            distribution: self.distribution.clone(),
            hash_tag: self.hash_tag.clone(),
            timeout_ms: self.timeout,
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
            max_connections: pool.client_connections,
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
    }
}
