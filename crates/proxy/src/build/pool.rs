//! Pool stacks: `Shard(ring) -> [Measure -> Eject -> Backend] x N`, the backend
//! keeping the request timeout, boxed once. A pool with several replicas gives one shard per replica over the
//! same servers.

use std::sync::Arc;
use std::time::Duration;

use memkeep_admin::{Measure, RequestMetrics};
use tower::util::Either;

use super::{ring_builder, server_metrics, Builder, SharedService};
use crate::backend::{Backend, BackendConfig, Dialect, QueueLimits};
use crate::config::{BackendProtocol, PartialFailureSetting, PoolConfig, ServerSpec};
use crate::layer::eject::{Eject, EjectConfig, LiveSet};
use crate::layer::handoff::{Handoff, MissedLimits};
use crate::layer::shard::{PartialFailure, Shard, ShardOptions};

/// One server's stack under the shard: only measured, it is not boxed, so a request
/// costs no allocation and no dynamic call there (nor a clone of a box when the
/// shard sends it on); with more layers, boxed once.
type ServerStack = Either<Measure<Backend>, SharedService>;

/// A pool's servers and its shards.
pub struct Pool {
    /// One shard per replica: view `i` sends each key to its replica `i`.
    pub views: Vec<SharedService>,
    /// The servers, in configuration order.
    pub servers: Vec<ServerState>,
    /// What the pool is, for a reload to warm up from.
    pub membership: super::Membership,
}

impl Pool {
    /// The pool's service: each key to its server (its first replica's).
    pub fn service(&self) -> SharedService {
        self.views[0].clone()
    }
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

impl Builder {
    /// The pool `name`'s shards over its servers. Starts the backends' connection
    /// tasks: call inside the runtime.
    pub fn pool(&self, name: &str, pool: &PoolConfig) -> Result<Pool, String> {
        self.pool_stack(name, pool, false)
    }

    /// The pool as a copy under a replicating route: each server's missed writes are
    /// queued (up to the pool's `missed_writes` bounds) and replayed when it is back.
    pub fn replicated_pool(&self, name: &str, pool: &PoolConfig) -> Result<Pool, String> {
        self.pool_stack(name, pool, true)
    }

    pub(super) fn pool_stack(
        &self,
        name: &str,
        pool: &PoolConfig,
        handoff: bool,
    ) -> Result<Pool, String> {
        let limits = MissedLimits {
            keys: pool.missed_writes,
            bytes: pool.missed_writes_bytes,
        };
        let handoff = handoff && limits.keys > 0;
        let (builder, specs) = ring_builder(name, pool)?;
        let security = self.security(name, pool)?;
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
        let services: Vec<ServerStack> = backends
            .iter()
            .zip(&specs)
            .enumerate()
            .map(|(i, (backend, spec))| {
                let metrics = Arc::new(server_metrics());
                let mut state = ServerState {
                    spec: spec.clone(),
                    backend: backend.clone(),
                    eject: None,
                    handoff: None,
                    metrics: metrics.clone(),
                };
                let backend = backend.clone();
                // No timeout layer: the backend fails a request whose reply is late
                // (`request_timeout` above) with one timer per connection, where a
                // layer would arm and clear a timer for every request.
                let server = match pool.eject {
                    Some(eject) => {
                        // Boxed once here and once at the top of the server's stack:
                        // the eject layer is kept (for `stats`) as a named type.
                        let timed = SharedService::new(backend);
                        let config = EjectConfig {
                            failure_limit: eject.failure_limit,
                            retry_timeout: Duration::from_millis(eject.retry_timeout_ms),
                        };
                        let publish = eject.rebuild_ring.then(|| (live.clone(), i));
                        let ejecting = Eject::new(timed, config, publish);
                        state.eject = Some(ejecting.clone());
                        Either::Right(SharedService::new(Measure::new(ejecting, metrics)))
                    }
                    None => Either::Left(Measure::new(backend, metrics)),
                };
                // Outermost: a request refused while the server catches up never
                // reached it, and is not counted as its failure.
                let server = if handoff {
                    let server = SharedService::new(server);
                    let owed = Handoff::new(server, format!("{name}:{}", spec.addr()), limits);
                    state.handoff = Some(owed.clone());
                    Either::Right(SharedService::new(owed))
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
        let ring = builder.build().map_err(|e| format!("pool {name}: {e}"))?;
        let (views, membership) = self.warm_up(name, pool, ring, &specs, views);
        Ok(Pool {
            views,
            servers,
            membership,
        })
    }
}
