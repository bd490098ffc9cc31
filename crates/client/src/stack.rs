//! Turns a route tree into one service, the way memkeep-proxy assembles its
//! listeners: each pool is `Shard(ring) -> [Handoff -> Eject -> Timeout -> Backend] x N`
//! (one shard per replica), and each route puts `Replicate`, `Failover`,
//! `ReadRepair`, `Shadow`, `WarmUp`, `Route` over pools and other routes. Only
//! memkeep-proxy's own bookkeeping (stats counters, per-command metrics, TLS and
//! logins to the servers) is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use memkeep_protocol::{Request, Response};
use memkeep_proxy::backend::{Backend, BackendConfig, Dialect, QueueLimits};
use memkeep_proxy::config::{
    BackendProtocol, PartialFailureSetting, PolicySetting, PoolConfig, RouteConfig, RouteSpec,
    ServerSpec,
};
use memkeep_proxy::layer::eject::{Eject, EjectConfig, LiveSet};
use memkeep_proxy::layer::failover::FailoverLayer;
use memkeep_proxy::layer::handoff::{Handoff, MissedLimits};
use memkeep_proxy::layer::read_repair::ReadRepairLayer;
use memkeep_proxy::layer::replicate::{Policy, ReplicateLayer};
use memkeep_proxy::layer::route::{Route, RouteLayer};
use memkeep_proxy::layer::shadow::ShadowLayer;
use memkeep_proxy::layer::shard::{PartialFailure, Shard, ShardOptions};
use memkeep_proxy::layer::timeout::Timeout;
use memkeep_proxy::layer::warm_up::WarmUpLayer;
use memkeep_proxy::BoxError;
use memkeep_ring::{Distribution, Hash, Ring, Server};
use tower::util::BoxCloneSyncService;
use tower::Layer;

/// One routed stack, shared by every clone of the client.
pub(crate) type SharedService = BoxCloneSyncService<Request, Response, BoxError>;

/// The service `route` (a pool or a route of `config`) stands for. Starts the
/// backends' connection tasks: call inside a tokio runtime.
pub(crate) fn build(config: &RouteConfig, route: &str) -> Result<SharedService, String> {
    config.check().map_err(|e| e.to_string())?;
    let mut tree = Tree {
        config,
        handoff: BTreeSet::new(),
        pools: BTreeMap::new(),
        routes: BTreeMap::new(),
    };
    // The copies under a replicating route owe each other the writes they miss.
    for spec in config.routes.values() {
        if matches!(
            spec,
            RouteSpec::Replicate { .. } | RouteSpec::ReadRepair { .. }
        ) {
            for target in spec.targets() {
                tree.reached(target);
            }
        }
    }
    tree.target(route)
}

struct Tree<'c> {
    config: &'c RouteConfig,
    /// The pools whose servers queue and replay the writes they miss.
    handoff: BTreeSet<String>,
    /// Each pool's replica shards, built once.
    pools: BTreeMap<String, Vec<SharedService>>,
    routes: BTreeMap<String, SharedService>,
}

impl Tree<'_> {
    /// Marks the pools a name leads to as owed their missed writes.
    fn reached(&mut self, name: &str) {
        if self.config.pools.contains_key(name) {
            self.handoff.insert(name.to_owned());
        } else if let Some(route) = self.config.routes.get(name) {
            for target in route.targets() {
                self.reached(target);
            }
        }
    }

    /// The replicas a name stands for: a pool's replica shards, or one route.
    fn replicas(&mut self, name: &str) -> Result<Vec<SharedService>, String> {
        if let Some(pool) = self.config.pools.get(name) {
            if !self.pools.contains_key(name) {
                let views = pool_views(name, pool, self.handoff.contains(name))?;
                self.pools.insert(name.to_owned(), views);
            }
            return Ok(self.pools[name].clone());
        }
        if let Some(route) = self.routes.get(name) {
            return Ok(vec![route.clone()]);
        }
        let spec = self
            .config
            .routes
            .get(name)
            .ok_or_else(|| format!("no pool or route named {name:?}"))?;
        let route = self.route(spec)?;
        self.routes.insert(name.to_owned(), route.clone());
        Ok(vec![route])
    }

    /// The one service a name stands for (its primary shard for a replicated pool).
    fn target(&mut self, name: &str) -> Result<SharedService, String> {
        Ok(self.replicas(name)?.swap_remove(0))
    }

    /// Every replica of every name in the list, in order.
    fn list(&mut self, names: &[String]) -> Result<Vec<SharedService>, String> {
        let mut all = Vec::new();
        for name in names {
            all.extend(self.replicas(name)?);
        }
        Ok(all)
    }

    fn route(&mut self, spec: &RouteSpec) -> Result<SharedService, String> {
        Ok(match spec {
            RouteSpec::Replicate { to, policy } => {
                let layer = ReplicateLayer::new(match policy {
                    PolicySetting::All => Policy::All,
                    PolicySetting::Majority => Policy::Majority,
                    PolicySetting::FirstSuccess => Policy::FirstSuccess,
                    PolicySetting::PrimaryThenAsync => Policy::PrimaryThenAsync,
                });
                SharedService::new(layer.layer(self.list(to)?))
            }
            RouteSpec::Failover {
                to,
                on_miss,
                attempt_timeout_ms,
            } => {
                let mut layer = FailoverLayer::new().on_miss(*on_miss);
                if let Some(ms) = attempt_timeout_ms {
                    layer = layer.attempt_timeout(Duration::from_millis(*ms));
                }
                SharedService::new(layer.layer(self.list(to)?))
            }
            RouteSpec::ReadRepair { to, read_from } => {
                let mut layer = ReadRepairLayer::new();
                if let Some(n) = read_from {
                    layer = layer.read_from(*n);
                }
                SharedService::new(layer.layer(self.list(to)?))
            }
            RouteSpec::Shadow {
                to,
                shadow,
                fraction,
            } => {
                let layer = ShadowLayer::new(self.target(shadow)?, *fraction);
                SharedService::new(layer.layer(self.target(to)?))
            }
            RouteSpec::WarmUp { cold, warm } => {
                let layer = WarmUpLayer::new(self.target(warm)?);
                SharedService::new(layer.layer(self.target(cold)?))
            }
            RouteSpec::Prefix { prefixes, default } => {
                let routes = prefixes
                    .iter()
                    .map(|(prefix, to)| Ok((prefix.clone().into_bytes(), self.target(to)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                SharedService::new(Route::by_prefix(routes, self.target(default)?))
            }
            RouteSpec::Operation { reads, writes } => {
                let services = vec![self.target(reads)?, self.target(writes)?];
                SharedService::new(RouteLayer::by_operation(0, 1).layer(services))
            }
        })
    }
}

/// The ring a pool's settings describe, over all of its servers (as memkeep-proxy
/// and twemproxy build it, so each key lands on the same server).
fn ring_builder(
    name: &str,
    pool: &PoolConfig,
) -> Result<(memkeep_ring::Builder, Vec<ServerSpec>), String> {
    let specs = pool
        .servers
        .iter()
        .map(|s| ServerSpec::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("pool {name}: {e}"))?;
    if specs.is_empty() {
        return Err(format!("pool {name}: no servers"));
    }
    let hash: Hash = pool
        .hash
        .parse()
        .map_err(|e| format!("pool {name}: hash: {e}"))?;
    let distribution: Distribution = pool
        .distribution
        .parse()
        .map_err(|e| format!("pool {name}: distribution: {e}"))?;
    let servers: Vec<Server> = specs
        .iter()
        .map(|s| Server::twemproxy(&s.host, s.port, s.weight, s.name.as_deref()))
        .collect();
    let mut builder = Ring::builder(servers).hash(hash).distribution(distribution);
    if let Some(tag) = &pool.hash_tag {
        if tag.len() != 2 {
            return Err(format!("pool {name}: hash_tag must be two characters"));
        }
        builder = builder.hash_tag(tag.as_bytes());
    }
    Ok((builder, specs))
}

/// A pool's shards, one per replica; with `handoff`, each server's missed writes
/// are queued and replayed.
fn pool_views(name: &str, pool: &PoolConfig, handoff: bool) -> Result<Vec<SharedService>, String> {
    if pool.tls.is_some() || pool.auth.is_some() {
        return Err(format!(
            "pool {name}: TLS and logins to the servers are not supported by memkeep-client"
        ));
    }
    let limits = MissedLimits {
        keys: pool.missed_writes,
        bytes: pool.missed_writes_bytes,
    };
    let handoff = handoff && limits.keys > 0;
    let (builder, specs) = ring_builder(name, pool)?;
    let live = LiveSet::new(specs.len());
    let servers: Vec<SharedService> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let backend = Backend::new(spec.addr(), backend_config(pool));
            let timed = match pool.timeout() {
                Some(limit) => SharedService::new(Timeout::new(backend, limit)),
                None => SharedService::new(backend),
            };
            let server = match pool.eject {
                Some(eject) => {
                    let config = EjectConfig {
                        failure_limit: eject.failure_limit,
                        retry_timeout: Duration::from_millis(eject.retry_timeout_ms),
                    };
                    let publish = eject.rebuild_ring.then(|| (live.clone(), i));
                    SharedService::new(Eject::new(timed, config, publish))
                }
                None => timed,
            };
            // Outermost: a request refused while the server catches up never
            // reached it, and is not counted as its failure.
            if handoff {
                let owed = Handoff::new(server, format!("{name}:{}", spec.addr()), limits);
                SharedService::new(owed)
            } else {
                server
            }
        })
        .collect();
    (0..pool.replicas.max(1))
        .map(|replica| {
            let options = ShardOptions {
                partial_failure: match pool.partial_failure {
                    PartialFailureSetting::Error => PartialFailure::Error,
                    PartialFailureSetting::Miss => PartialFailure::Miss,
                },
                replica,
                ..ShardOptions::default()
            };
            let ring_error = |e: memkeep_ring::BuildError| format!("pool {name}: {e}");
            let shard = match pool.eject {
                Some(e) if e.rebuild_ring => {
                    Shard::following(builder.clone(), live.subscribe(), servers.clone(), options)
                        .map_err(ring_error)?
                }
                _ => Shard::new(
                    builder.clone().build().map_err(ring_error)?,
                    servers.clone(),
                    options,
                ),
            };
            Ok(SharedService::new(shard))
        })
        .collect()
}

fn backend_config(pool: &PoolConfig) -> BackendConfig {
    BackendConfig {
        connections: pool.connections.max(1),
        request_timeout: pool.timeout(),
        dialect: match pool.protocol {
            BackendProtocol::Auto => Dialect::Detect,
            BackendProtocol::Meta => Dialect::Meta,
            BackendProtocol::Text => Dialect::Text,
        },
        queue: QueueLimits {
            max_pending: pool.max_pending,
            max_buffered_bytes: pool.max_buffered_bytes,
        },
        ..BackendConfig::default()
    }
}
