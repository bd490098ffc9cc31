//! memkeep-proxy's own route tree (TOML): pools of servers, named routes built from
//! the layers over pools and other routes, and listeners each serving one of them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::window::{default_warm_up_after_change, deserialize_window};
use super::{
    default_backlog, default_distribution, default_failure_limit, default_hash,
    default_retry_timeout, default_server_connections, BackendAuthSettings, BackendTlsSettings,
    ListenerTlsSettings, DEFAULT_WARM_UP_AFTER_CHANGE,
};

/// memkeep-proxy's own configuration: pools of servers, routes over them, and
/// listeners each serving a pool or a route.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Pools by name.
    pub pools: BTreeMap<String, PoolConfig>,
    /// Routes by name: layers over pools and other routes.
    #[serde(default)]
    pub routes: BTreeMap<String, RouteSpec>,
    /// Where clients connect, and what each listener serves.
    pub listeners: Vec<ListenerConfig>,
}

/// A set of memcached servers sharded by a ring.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// `host:port[:weight] [name]` entries, or DNS entries standing for the servers
    /// DNS names now: `dns+srv://NAME` (SRV records) or `dns://NAME:PORT` (every
    /// address of NAME, on PORT); see [`crate::discovery`].
    pub servers: Vec<String>,
    /// The name server (`address:port`) asked for the pool's DNS entries; the
    /// host's (`/etc/resolv.conf`) when absent.
    #[serde(default)]
    pub resolver: Option<String>,
    /// The least time between two lookups of a DNS entry, whatever its TTL, and
    /// the wait before asking again after a failed lookup (5000 by default).
    #[serde(default = "default_dns_min_ttl_ms")]
    pub dns_min_ttl_ms: u64,
    /// The most time between two lookups of a DNS entry, whatever its TTL (300000
    /// by default).
    #[serde(default = "default_dns_max_ttl_ms")]
    pub dns_max_ttl_ms: u64,
    /// Key hash name (`fnv1a_64` by default).
    #[serde(default = "default_hash")]
    pub hash: String,
    /// Distribution name (`ketama` by default).
    #[serde(default = "default_distribution")]
    pub distribution: String,
    /// Two characters; only the key part between them is hashed.
    #[serde(default)]
    pub hash_tag: Option<String>,
    /// Per-request timeout in milliseconds; none by default.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Connections to each server.
    #[serde(default = "default_server_connections")]
    pub connections: usize,
    /// Eject failing servers; off when absent.
    #[serde(default)]
    pub eject: Option<EjectSettings>,
    /// What a multi-get answers when one server's part fails.
    #[serde(default)]
    pub partial_failure: PartialFailureSetting,
    /// How many servers hold each key (1 by default): its first N distinct servers
    /// on the ring. A pool with more than one replica is named in the `to` list of a
    /// `replicate`, `failover` or `read_repair` route, where it stands for its N
    /// replicas.
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// The dialect spoken to the servers.
    #[serde(default)]
    pub protocol: BackendProtocol,
    /// TLS to the servers; plain TCP when absent.
    #[serde(default)]
    pub tls: Option<BackendTlsSettings>,
    /// A login sent on every connection to the servers.
    #[serde(default)]
    pub auth: Option<BackendAuthSettings>,
    /// Most requests each server may have accepted and not yet answered (queued or
    /// sent); past it requests to that server get `SERVER_ERROR out of memory ...`.
    #[serde(default = "default_max_pending")]
    pub max_pending: usize,
    /// Most bytes of requests queued for each server and not yet written to it;
    /// past it requests to that server get `SERVER_ERROR out of memory ...`.
    #[serde(default = "default_max_buffered_bytes")]
    pub max_buffered_bytes: usize,
    /// Most keys whose writes each server may be owed: when the pool is a copy
    /// under a `replicate` or `read_repair` route, the writes a server missed
    /// (it was down, stopped, or restarting) are queued, the last per key, and
    /// replayed when it answers again (hinted handoff). Past the bound a missed
    /// write is lost for that server and counted (`missed_writes_dropped`). 0 turns
    /// the queue off.
    #[serde(default = "default_missed_writes")]
    pub missed_writes: usize,
    /// Most bytes of keys and values queued for each server (see `missed_writes`).
    #[serde(default = "default_missed_writes_bytes")]
    pub missed_writes_bytes: usize,
    /// After the servers change (a reload adds or removes some), for this long a
    /// read that misses a key whose server changed is read from the key's previous
    /// server and copied to its new one; a removed server is kept for reads until
    /// then. `"5m"` by default; `0` turns it off. See docs/resize.md.
    #[serde(
        default = "default_warm_up_after_change",
        deserialize_with = "deserialize_window"
    )]
    pub warm_up_after_change: Duration,
}

/// Requests per server accepted and not yet answered, by default.
pub const DEFAULT_MAX_PENDING: usize = 10_000;
/// Keys of missed writes queued per server, by default.
pub const DEFAULT_MISSED_WRITES: usize = 10_000;
/// Bytes of missed writes queued per server, by default (64 MiB).
pub const DEFAULT_MISSED_WRITES_BYTES: usize = 64 * 1024 * 1024;
/// Bytes of requests queued per server, by default (64 MiB).
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 64 * 1024 * 1024;
/// Requests one client connection may have unanswered, by default.
pub const DEFAULT_MAX_OUTSTANDING: usize = 1024;

fn default_max_pending() -> usize {
    DEFAULT_MAX_PENDING
}

fn default_max_buffered_bytes() -> usize {
    DEFAULT_MAX_BUFFERED_BYTES
}

fn default_missed_writes() -> usize {
    DEFAULT_MISSED_WRITES
}

fn default_missed_writes_bytes() -> usize {
    DEFAULT_MISSED_WRITES_BYTES
}

fn default_max_outstanding() -> usize {
    DEFAULT_MAX_OUTSTANDING
}

fn default_replicas() -> usize {
    1
}

/// A DNS entry is asked again no sooner than this after the last lookup, by default.
pub const DEFAULT_DNS_MIN_TTL_MS: u64 = 5_000;
/// A DNS entry is asked again no later than this after the last lookup, by default.
pub const DEFAULT_DNS_MAX_TTL_MS: u64 = 300_000;

fn default_dns_min_ttl_ms() -> u64 {
    DEFAULT_DNS_MIN_TTL_MS
}

fn default_dns_max_ttl_ms() -> u64 {
    DEFAULT_DNS_MAX_TTL_MS
}

impl PoolConfig {
    /// A pool of `servers` (`host:port:weight [name]` entries) with every other
    /// setting at its default, as a TOML pool naming only its servers.
    pub fn new(servers: Vec<String>) -> Self {
        PoolConfig {
            servers,
            resolver: None,
            dns_min_ttl_ms: DEFAULT_DNS_MIN_TTL_MS,
            dns_max_ttl_ms: DEFAULT_DNS_MAX_TTL_MS,
            hash: default_hash(),
            distribution: default_distribution(),
            hash_tag: None,
            timeout_ms: None,
            connections: default_server_connections(),
            eject: None,
            partial_failure: PartialFailureSetting::default(),
            replicas: default_replicas(),
            protocol: BackendProtocol::default(),
            tls: None,
            auth: None,
            max_pending: DEFAULT_MAX_PENDING,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            missed_writes: DEFAULT_MISSED_WRITES,
            missed_writes_bytes: DEFAULT_MISSED_WRITES_BYTES,
            warm_up_after_change: DEFAULT_WARM_UP_AFTER_CHANGE,
        }
    }

    /// The request timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }

    /// Whether some of the servers are DNS entries, found by discovery.
    pub fn discovers(&self) -> bool {
        self.servers
            .iter()
            .any(|s| crate::discovery::DnsTarget::is_dns_entry(s))
    }

    /// The `resolver` setting, parsed.
    pub fn resolver(&self) -> Result<Option<SocketAddr>, String> {
        self.resolver
            .as_deref()
            .map(|r| {
                r.parse()
                    .map_err(|_| format!("resolver {r:?}: want address:port, e.g. 127.0.0.1:53"))
            })
            .transpose()
    }

    /// The least time between two lookups of a DNS entry.
    pub fn dns_min_ttl(&self) -> Duration {
        Duration::from_millis(self.dns_min_ttl_ms)
    }

    /// The most time between two lookups of a DNS entry.
    pub fn dns_max_ttl(&self) -> Duration {
        Duration::from_millis(self.dns_max_ttl_ms)
    }
}

/// The dialect the proxy speaks to a pool's servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendProtocol {
    /// Meta if the server answers meta's `mn` at the first connection, else text.
    #[default]
    Auto,
    /// memcached's meta protocol (1.6 and later, memkeepd): carries TTL and flags,
    /// which read-repair and warm-up need to copy an item faithfully.
    Meta,
    /// The classic text protocol, for servers older than memcached 1.6. Items read
    /// this way carry no TTL, so read-repair and warm-up cannot copy them.
    Text,
}

/// When to eject a server and what then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EjectSettings {
    /// Consecutive failures that eject a server.
    #[serde(default = "default_failure_limit")]
    pub failure_limit: u32,
    /// Milliseconds before an ejected server is probed.
    #[serde(default = "default_retry_timeout")]
    pub retry_timeout_ms: u64,
    /// Rebuild the ring without ejected servers (twemproxy); else their keys fail
    /// fast until they are back (put the pool under a `failover` route to serve
    /// them from another replica meanwhile).
    #[serde(default = "default_true")]
    pub rebuild_ring: bool,
}

fn default_true() -> bool {
    true
}

/// What a multi-get answers when one server's part fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartialFailureSetting {
    /// The whole reply is an error (twemproxy).
    #[default]
    Error,
    /// The failed server's keys read as misses.
    Miss,
}

/// When a replicated write is answered (see the `Replicate` layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySetting {
    /// When every replica answered; the worst reply wins.
    #[default]
    All,
    /// When more than half answered.
    Majority,
    /// With the first success; a copy that missed the write gets it replayed when
    /// it is back (its pool's `missed_writes` queue).
    FirstSuccess,
    /// With the first replica's reply; the others are written in the background.
    PrimaryThenAsync,
}

/// One named route: a layer over the pools and routes it names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RouteSpec {
    /// Mutations go to every target; reads to the first.
    Replicate {
        /// The replicas, primary first.
        to: Vec<String>,
        /// When the client is answered.
        #[serde(default)]
        policy: PolicySetting,
    },
    /// Requests go to the first target, and idempotent ones to the next while they
    /// fail.
    Failover {
        /// The targets, in the order they are tried.
        to: Vec<String>,
        /// Also try the next target when a get misses.
        #[serde(default)]
        on_miss: bool,
        /// Give up on a target after this many milliseconds (idempotent requests).
        #[serde(default)]
        attempt_timeout_ms: Option<u64>,
    },
    /// Gets read the targets, answer with a hit and write it back to the targets
    /// that missed it; everything else goes to the first target.
    ReadRepair {
        /// The replicas, in order of preference.
        to: Vec<String>,
        /// Read only the first N targets (all by default).
        #[serde(default)]
        read_from: Option<usize>,
    },
    /// Serve from `to` and copy a fraction of the requests to `shadow`.
    Shadow {
        /// What answers the client.
        to: String,
        /// Where copies go; their replies are ignored.
        shadow: String,
        /// The fraction copied, 0.0 to 1.0.
        fraction: f64,
    },
    /// Read `cold` first; its misses are read from `warm` and copied into `cold`.
    WarmUp {
        /// The pool being filled: takes every write.
        cold: String,
        /// The full pool: read on a miss.
        warm: String,
    },
    /// Keys starting with a prefix go to its target (longest prefix wins).
    Prefix {
        /// Prefix -> target.
        prefixes: BTreeMap<String, String>,
        /// Other keys, and requests without a key.
        default: String,
    },
    /// Mutations to `writes`, everything else to `reads`.
    Operation {
        /// Gets and every other non-mutation.
        reads: String,
        /// Stores, deletes, incr/decr, touch, flush_all.
        writes: String,
    },
}

impl RouteSpec {
    /// The pools and routes this route names, in order.
    pub fn targets(&self) -> Vec<&str> {
        match self {
            RouteSpec::Replicate { to, .. }
            | RouteSpec::Failover { to, .. }
            | RouteSpec::ReadRepair { to, .. } => to.iter().map(String::as_str).collect(),
            RouteSpec::Shadow { to, shadow, .. } => vec![to, shadow],
            RouteSpec::WarmUp { cold, warm } => vec![cold, warm],
            RouteSpec::Prefix { prefixes, default } => prefixes
                .values()
                .map(String::as_str)
                .chain([default.as_str()])
                .collect(),
            RouteSpec::Operation { reads, writes } => vec![reads, writes],
        }
    }

    /// Whether the route takes a list of replicas, where a pool with several
    /// replicas stands for all of them.
    pub fn takes_replicas(&self) -> bool {
        matches!(
            self,
            RouteSpec::Replicate { .. } | RouteSpec::Failover { .. } | RouteSpec::ReadRepair { .. }
        )
    }
}

/// One listener and the route it serves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// `host:port` to listen on.
    pub listen: String,
    /// The pool or route served (`pool` is accepted as another name for it).
    #[serde(alias = "pool")]
    pub route: String,
    /// Most client connections (unlimited when absent).
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// Listen backlog (512 by default).
    #[serde(default = "default_backlog")]
    pub backlog: u32,
    /// TLS for clients; plain TCP when absent.
    #[serde(default)]
    pub tls: Option<ListenerTlsSettings>,
    /// memcached's auth file (`user:password` lines): clients must log in (ASCII
    /// auth or SASL PLAIN) before anything else.
    #[serde(default)]
    pub authfile: Option<String>,
    /// Most requests one client connection may have unanswered: past it the proxy
    /// stops reading from that client until replies go out (memcached's way with a
    /// client that pipelines faster than it is served; counted as `conn_yields`).
    #[serde(default = "default_max_outstanding")]
    pub max_outstanding: usize,
}

impl ListenerConfig {
    /// A listener on `listen` serving the pool or route `route`, every other setting
    /// at its default.
    pub fn new(listen: impl Into<String>, route: impl Into<String>) -> Self {
        ListenerConfig {
            listen: listen.into(),
            route: route.into(),
            max_connections: None,
            backlog: default_backlog(),
            tls: None,
            authfile: None,
            max_outstanding: DEFAULT_MAX_OUTSTANDING,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RouteConfig, String> {
        let config: RouteConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.check().map_err(|e| e.to_string())?;
        Ok(config)
    }

    const POOLS: &str = "[pools.a]\nservers = [\"127.0.0.1:1\"]\n\
                         [pools.b]\nservers = [\"127.0.0.1:2\"]\n\
                         [pools.r]\nservers = [\"127.0.0.1:3\", \"127.0.0.1:4\"]\nreplicas = 2\n";

    #[test]
    fn routes_parse_and_resolve() {
        let config = parse(&format!(
            "{POOLS}[routes.writes]\nkind = \"replicate\"\nto = [\"a\", \"b\"]\npolicy = \"majority\"\n\
             [routes.reads]\nkind = \"read_repair\"\nto = [\"r\"]\n\
             [routes.main]\nkind = \"operation\"\nreads = \"reads\"\nwrites = \"writes\"\n\
             [[listeners]]\nlisten = \"127.0.0.1:5\"\nroute = \"main\"\n\
             [[listeners]]\nlisten = \"127.0.0.1:6\"\npool = \"a\"\n"
        ))
        .unwrap();
        assert_eq!(
            config.routes["writes"],
            RouteSpec::Replicate {
                to: vec!["a".into(), "b".into()],
                policy: PolicySetting::Majority
            }
        );
        assert_eq!(config.listeners[1].route, "a");
    }

    #[test]
    fn limits_have_defaults_and_zero_is_refused() {
        let listen = "[[listeners]]\nlisten = \"127.0.0.1:5\"\nroute = \"a\"\n";
        let config = parse(&format!("{POOLS}{listen}")).unwrap();
        assert_eq!(config.pools["a"].max_pending, 10_000);
        assert_eq!(config.pools["a"].max_buffered_bytes, 64 << 20);
        assert_eq!(config.listeners[0].max_outstanding, 1024);
        let set =
            "[pools.a]\nservers = [\"127.0.0.1:1\"]\nmax_pending = 5\nmax_buffered_bytes = 9\n\
                   [[listeners]]\nlisten = \"127.0.0.1:5\"\nroute = \"a\"\nmax_outstanding = 7\n";
        let config = parse(set).unwrap();
        assert_eq!(
            (
                config.pools["a"].max_pending,
                config.pools["a"].max_buffered_bytes
            ),
            (5, 9)
        );
        assert_eq!(config.listeners[0].max_outstanding, 7);
        assert!(parse(&set.replace("max_pending = 5", "max_pending = 0"))
            .unwrap_err()
            .contains("max_pending and max_buffered_bytes must be at least 1"));
        assert!(
            parse(&set.replace("max_outstanding = 7", "max_outstanding = 0"))
                .unwrap_err()
                .contains("max_outstanding must be at least 1")
        );
    }

    #[test]
    fn bad_trees_are_refused_with_the_reason() {
        let listen = "[[listeners]]\nlisten = \"127.0.0.1:5\"\nroute = \"x\"\n";
        let cases = [
            (
                "[routes.x]\nkind = \"failover\"\nto = [\"nope\"]\n",
                "no pool or route named \"nope\"",
            ),
            (
                "[routes.x]\nkind = \"operation\"\nreads = \"x\"\nwrites = \"a\"\n",
                "leads back to itself",
            ),
            (
                "[routes.x]\nkind = \"operation\"\nreads = \"r\"\nwrites = \"a\"\n",
                "has replicas = 2",
            ),
            (
                "[routes.x]\nkind = \"shadow\"\nto = \"a\"\nshadow = \"b\"\nfraction = 2.0\n",
                "fraction",
            ),
            (
                "[routes.x]\nkind = \"mirror\"\nto = [\"a\"]\n",
                "unknown variant",
            ),
            (
                "[routes.x]\nkind = \"failover\"\nto = [\"a\"]\ntimeout = 3\n",
                "unknown field",
            ),
        ];
        for (routes, want) in cases {
            let error = parse(&format!("{POOLS}{routes}{listen}")).unwrap_err();
            assert!(error.contains(want), "{routes}: {error}");
        }
        let too_many = "[pools.a]\nservers = [\"127.0.0.1:1\"]\nreplicas = 2\n\
                        [[listeners]]\nlisten = \"127.0.0.1:5\"\nroute = \"a\"\n";
        assert!(parse(too_many)
            .unwrap_err()
            .contains("replicas = 2 but it has 1 servers"));
    }
}
