//! Pool stacks: `Shard(ring) -> [Eject -> Timeout -> Backend] x N`, boxed once.

use std::time::Duration;

use memkeep_protocol::{Request, Response};
use memkeep_proxy::backend::{Backend, BackendConfig};
use memkeep_proxy::config::{PartialFailureSetting, PoolConfig, ServerSpec};
use memkeep_proxy::layer::eject::{Eject, EjectConfig, LiveSet};
use memkeep_proxy::layer::shard::{PartialFailure, Shard, ShardOptions};
use memkeep_proxy::layer::timeout::Timeout;
use memkeep_proxy::BoxError;
use memkeep_ring::{Distribution, Hash, Ring, Server};
use tower::util::{BoxCloneService, BoxCloneSyncService};

/// One server's stack: shared by every clone of the shard, so `Sync`.
pub(super) type ServerService = BoxCloneSyncService<Request, Response, BoxError>;

/// What every stack is at the edge.
pub type PoolService = BoxCloneService<Request, Response, BoxError>;

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

/// The pool's service. Starts the backends' connection tasks: call inside the
/// runtime.
pub fn pool_service(name: &str, pool: &PoolConfig) -> Result<PoolService, String> {
    watched_pool_service(name, pool, None)
}

/// [`pool_service`], each backend also measured into `watch` for the admin listener.
pub fn watched_pool_service(
    name: &str,
    pool: &PoolConfig,
    mut watch: Option<&mut super::monitor::PoolWatch>,
) -> Result<PoolService, String> {
    let (builder, specs) = ring_builder(name, pool)?;
    let security = super::security::backends(name, pool)?;
    let live = LiveSet::new(specs.len());
    let services: Vec<ServerService> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let backend = Backend::new(
                spec.addr(),
                BackendConfig {
                    connections: pool.connections.max(1),
                    request_timeout: pool.timeout(),
                    security: security.clone(),
                    ..BackendConfig::default()
                },
            );
            let backend_handle = backend.clone();
            let timed = match pool.timeout() {
                Some(limit) => BoxCloneSyncService::new(Timeout::new(backend, limit)),
                None => BoxCloneSyncService::new(backend),
            };
            let (service, ejected) = match pool.eject {
                Some(eject) => {
                    let config = EjectConfig {
                        failure_limit: eject.failure_limit,
                        retry_timeout: Duration::from_millis(eject.retry_timeout_ms),
                    };
                    let publish = eject.rebuild_ring.then(|| (live.clone(), i));
                    let eject = Eject::new(timed, config, publish);
                    let probe = super::monitor::eject_probe(&eject);
                    (BoxCloneSyncService::new(eject), Some(probe))
                }
                None => (timed, None),
            };
            match watch.as_deref_mut() {
                Some(w) => w.watch(spec, backend_handle, ejected, service),
                None => service,
            }
        })
        .collect();
    let options = ShardOptions {
        partial_failure: match pool.partial_failure {
            PartialFailureSetting::Error => PartialFailure::Error,
            PartialFailureSetting::Miss => PartialFailure::Miss,
        },
        ..ShardOptions::default()
    };
    let shard = match pool.eject {
        Some(e) if e.rebuild_ring => Shard::following(builder, live.subscribe(), services, options)
            .map_err(|e| format!("pool {name}: {e}"))?,
        _ => Shard::new(
            builder.build().map_err(|e| format!("pool {name}: {e}"))?,
            services,
            options,
        ),
    };
    Ok(BoxCloneService::new(shard))
}
