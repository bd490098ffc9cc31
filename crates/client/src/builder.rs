//! A client described in code rather than in a config file. The builder writes the
//! route tree memkeep-proxy would be given for the same setup
//! ([`Builder::route_config`]), so both place and copy keys alike.

use std::collections::BTreeMap;
use std::time::Duration;

use memkeep_proxy::config::{
    BackendProtocol, EjectSettings, ListenerConfig, PartialFailureSetting, PolicySetting,
    PoolConfig, RouteConfig, RouteSpec, DEFAULT_DNS_MAX_TTL_MS, DEFAULT_DNS_MIN_TTL_MS,
    DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_OUTSTANDING, DEFAULT_MAX_PENDING,
    DEFAULT_MISSED_WRITES, DEFAULT_MISSED_WRITES_BYTES,
};

use crate::{Client, Error};

/// The pool's name in the route tree the builder writes.
const POOL: &str = "pool";

/// Builds a [`Client`] over a list of servers: sharded by a ketama ring (twemproxy's
/// defaults), optionally keeping each key on several of them.
#[derive(Debug, Clone)]
pub struct Builder {
    servers: Vec<String>,
    replicas: usize,
    hash: String,
    distribution: String,
    timeout: Option<Duration>,
    connections: usize,
    eject: Option<EjectSettings>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            servers: Vec::new(),
            replicas: 1,
            hash: "fnv1a_64".into(),
            distribution: "ketama".into(),
            timeout: None,
            connections: 1,
            eject: None,
        }
    }
}

impl Builder {
    /// The servers, as `host:port[:weight] [name]` (twemproxy's server entries).
    pub fn servers<S: Into<String>>(mut self, servers: impl IntoIterator<Item = S>) -> Self {
        self.servers = servers.into_iter().map(Into::into).collect();
        self
    }

    /// Keep each key on `n` servers (its first `n` distinct servers on the ring):
    /// writes go to all of them and succeed once one of them took the write; a
    /// read that fails or misses on one is answered by another and the missing
    /// copy is written back (read-repair); writes a server missed while down are
    /// replayed to it when it answers again (handoff).
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n;
        self
    }

    /// The key hash (`fnv1a_64` by default; any twemproxy hash name).
    pub fn hash(mut self, name: impl Into<String>) -> Self {
        self.hash = name.into();
        self
    }

    /// The distribution (`ketama` by default, `modula`, `random`, ...).
    pub fn distribution(mut self, name: impl Into<String>) -> Self {
        self.distribution = name.into();
        self
    }

    /// Fail a request whose reply takes longer than this (none by default).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Connections to each server (1 by default; each is pipelined).
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n;
        self
    }

    /// Take a server out of the ring after `failures` consecutive failures, and try
    /// it again after `retry` (twemproxy's `auto_eject_hosts`).
    pub fn eject(mut self, failures: u32, retry: Duration) -> Self {
        self.eject = Some(EjectSettings {
            failure_limit: failures,
            retry_timeout_ms: retry.as_millis().try_into().unwrap_or(u64::MAX),
            rebuild_ring: true,
        });
        self
    }

    /// The route tree memkeep-proxy would be given for this client (one listener,
    /// on a placeholder address, serving it).
    pub fn route_config(&self) -> RouteConfig {
        let pool = PoolConfig {
            servers: self.servers.clone(),
            resolver: None,
            dns_min_ttl_ms: DEFAULT_DNS_MIN_TTL_MS,
            dns_max_ttl_ms: DEFAULT_DNS_MAX_TTL_MS,
            hash: self.hash.clone(),
            distribution: self.distribution.clone(),
            hash_tag: None,
            timeout_ms: self
                .timeout
                .map(|t| t.as_millis().try_into().unwrap_or(u64::MAX)),
            connections: self.connections,
            eject: self.eject,
            partial_failure: PartialFailureSetting::Error,
            replicas: self.replicas,
            protocol: BackendProtocol::Auto,
            tls: None,
            auth: None,
            max_pending: DEFAULT_MAX_PENDING,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            missed_writes: DEFAULT_MISSED_WRITES,
            missed_writes_bytes: DEFAULT_MISSED_WRITES_BYTES,
            // An embedded client is rebuilt, never reloaded: no change to warm up after.
            warm_up_after_change: std::time::Duration::ZERO,
        };
        let mut routes = BTreeMap::new();
        let served = if self.replicas > 1 {
            let to = vec![POOL.to_owned()];
            routes.insert(
                "writes".to_owned(),
                RouteSpec::Replicate {
                    to: to.clone(),
                    // Answered once one copy took the write: a copy that missed
                    // it is owed it (handoff) and repaired on read, so a server
                    // down does not fail writes.
                    policy: PolicySetting::FirstSuccess,
                },
            );
            routes.insert(
                "reads".to_owned(),
                RouteSpec::ReadRepair {
                    to,
                    read_from: None,
                },
            );
            routes.insert(
                "main".to_owned(),
                RouteSpec::Operation {
                    reads: "reads".into(),
                    writes: "writes".into(),
                },
            );
            "main"
        } else {
            POOL
        };
        RouteConfig {
            pools: BTreeMap::from([(POOL.to_owned(), pool)]),
            routes,
            listeners: vec![ListenerConfig {
                listen: "127.0.0.1:11211".into(),
                route: served.into(),
                max_connections: None,
                backlog: 512,
                tls: None,
                authfile: None,
                max_outstanding: DEFAULT_MAX_OUTSTANDING,
            }],
        }
    }

    /// The client. Starts its connections in the background: call inside a tokio
    /// runtime. Fails only on a configuration that cannot be served (no servers,
    /// more replicas than servers, an unknown hash); servers that are down are
    /// retried in the background.
    pub fn build(&self) -> Result<Client, Error> {
        if self.servers.is_empty() {
            return Err(Error::Config("no servers".into()));
        }
        Client::from_config(&self.route_config())
    }
}
