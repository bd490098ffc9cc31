//! Pool stacks: `Shard(ring) -> [Eject -> Timeout -> Backend] x N`, boxed once. A
//! pool with several replicas gives one shard per replica over the same servers.

use std::sync::Arc;
use std::time::Duration;

use memkeep_admin::{Measure, RequestMetrics};
use memkeep_protocol::{Request, Response};
use memkeep_proxy::backend::{Backend, BackendConfig, Dialect, QueueLimits};
use memkeep_proxy::config::{BackendProtocol, PartialFailureSetting, PoolConfig, ServerSpec};
use memkeep_proxy::layer::eject::{Eject, EjectConfig, LiveSet};
use memkeep_proxy::layer::handoff::{Handoff, MissedLimits};
use memkeep_proxy::layer::shard::{PartialFailure, Shard, ShardOptions};
use memkeep_proxy::layer::timeout::Timeout;
use memkeep_proxy::BoxError;
use memkeep_ring::{Distribution, Hash, Ring, Server};
use tower::util::BoxCloneSyncService;

/// One stack of the tree: pools and routes hold many of them and are shared by every
/// connection, so `Sync`.
pub type SharedService = BoxCloneSyncService<Request, Response, BoxError>;

/// The ring a pool's settings describe, over all of its servers.
pub fn ring_builder(
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
    // Build once now so a bad ring is refused at start.
    builder
        .clone()
        .build()
        .map_err(|e| format!("pool {name}: {e}"))?;
    Ok((builder, specs))
}

/// A pool's servers and its shards.
pub struct PoolStack {
    /// One shard per replica: view `i` sends each key to its replica `i`.
    pub views: Vec<SharedService>,
    /// The servers, in configuration order.
    pub servers: Vec<ServerState>,
}

/// What `stats` shows of one server.
#[derive(Clone)]
pub struct ServerState {
    /// `host:port [name]` as configured.
    pub spec: ServerSpec,
    /// Its connections.
    pub backend: Backend,
    /// Its breaker, when the pool ejects.
    pub eject: Option<Eject<SharedService>>,
    /// The writes it missed and is owed, when its pool is a replicated copy.
    pub handoff: Option<Handoff<SharedService>>,
    /// The requests the proxy sent it: in flight, by command, with latency and
    /// failure causes (for `stats`, the stats port and the admin listener).
    pub metrics: Arc<RequestMetrics>,
}

impl ServerState {
    /// `up`, `down` (no connection) or `ejected`.
    pub fn state(&self) -> &'static str {
        if self.eject.as_ref().is_some_and(Eject::is_ejected) {
            "ejected"
        } else if self.backend.is_up() {
            "up"
        } else {
            "down"
        }
    }
}

/// The pool's shards; with `handoff`, each server's missed writes are queued and
/// replayed (the pool is a copy under a replicating route). Starts the backends'
/// connection tasks: call inside the runtime.
pub fn pool_stack(name: &str, pool: &PoolConfig, handoff: bool) -> Result<PoolStack, String> {
    let limits = MissedLimits {
        keys: pool.missed_writes,
        bytes: pool.missed_writes_bytes,
    };
    let handoff = handoff && limits.keys > 0;
    let (builder, specs) = ring_builder(name, pool)?;
    let security = super::security::backends(name, pool)?;
    let live = LiveSet::new(specs.len());
    let backends: Vec<Backend> = specs
        .iter()
        .map(|spec| {
            Backend::new(
                spec.addr(),
                BackendConfig {
                    connections: pool.connections.max(1),
                    request_timeout: pool.timeout(),
                    security: security.clone(),
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
                },
            )
        })
        .collect();
    let mut servers = Vec::with_capacity(specs.len());
    let services: Vec<SharedService> = backends
        .iter()
        .zip(&specs)
        .enumerate()
        .map(|(i, (backend, spec))| {
            let metrics = Arc::new(super::monitor::backend_metrics());
            let mut state = ServerState {
                spec: spec.clone(),
                backend: backend.clone(),
                eject: None,
                handoff: None,
                metrics: metrics.clone(),
            };
            let backend = backend.clone();
            // Boxed once here and once at the top of the server's stack: the
            // layers in between are measured without boxing again.
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
                    let ejecting = Eject::new(timed, config, publish);
                    state.eject = Some(ejecting.clone());
                    SharedService::new(Measure::new(ejecting, metrics))
                }
                None => SharedService::new(Measure::new(timed, metrics)),
            };
            // Outermost: a request refused while the server catches up never
            // reached it, and is not counted as its failure.
            let server = if handoff {
                let owed = Handoff::new(server, format!("{name}:{}", spec.addr()), limits);
                state.handoff = Some(owed.clone());
                SharedService::new(owed)
            } else {
                server
            };
            servers.push(state);
            server
        })
        .collect();
    let views = (0..pool.replicas.max(1))
        .map(|replica| {
            let options = ShardOptions {
                partial_failure: match pool.partial_failure {
                    PartialFailureSetting::Error => PartialFailure::Error,
                    PartialFailureSetting::Miss => PartialFailure::Miss,
                },
                replica,
                ..ShardOptions::default()
            };
            let services = services.clone();
            let shard = match pool.eject {
                Some(e) if e.rebuild_ring => {
                    Shard::following(builder.clone(), live.subscribe(), services, options)
                        .map_err(|e| format!("pool {name}: {e}"))?
                }
                _ => Shard::new(
                    builder
                        .clone()
                        .build()
                        .map_err(|e| format!("pool {name}: {e}"))?,
                    services,
                    options,
                ),
            };
            Ok(SharedService::new(shard))
        })
        .collect::<Result<_, String>>()?;
    Ok(PoolStack { views, servers })
}
