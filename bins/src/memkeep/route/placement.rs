//! Where memkeep-proxy puts a key of a pool: the proxy's own shard layers (one per
//! replica, as the proxy stacks them) over stand-in servers, their ring built by the
//! proxy's `ring_builder` and, when the pool rebuilds its ring on ejection, following
//! a live set as the proxy's does. Replica order, the ring rebuilt over the live
//! servers and the fallback when fewer servers are live than there are replicas are
//! the proxy's rules, called, not restated.

use std::sync::Arc;

use memkeep_proxy::config::{PoolConfig, ServerSpec};
use memkeep_proxy::layer::shard::{Shard, ShardOptions};
use tokio::sync::watch;

use super::stand_in::{picked, StandIn};
use crate::proxy::ring_builder;

/// A pool's placement of keys.
pub struct Placement {
    /// Shard `r` sends a key to its replica `r`.
    shards: Vec<Shard<StandIn>>,
    /// The live set the shards follow, when the pool rebuilds its ring.
    live: Option<watch::Sender<Arc<[bool]>>>,
    /// The pool's servers, in configuration order.
    pub servers: Vec<ServerSpec>,
}

impl Placement {
    /// The placement of pool `name`.
    pub fn new(name: &str, pool: &PoolConfig) -> Result<Placement, String> {
        let (builder, servers) = ring_builder(name, pool)?;
        let stand_ins: Vec<StandIn> = (0..servers.len()).map(StandIn).collect();
        let rebuilds = pool.eject.is_some_and(|e| e.rebuild_ring);
        let (live, follow) = watch::channel::<Arc<[bool]>>(vec![true; servers.len()].into());
        let shards = (0..pool.replicas.max(1))
            .map(|replica| {
                let options = ShardOptions {
                    replica,
                    ..ShardOptions::default()
                };
                let shard = if rebuilds {
                    Shard::following(builder.clone(), follow.clone(), stand_ins.clone(), options)
                } else {
                    builder
                        .clone()
                        .build()
                        .map(|ring| Shard::new(ring, stand_ins.clone(), options))
                };
                shard.map_err(|e| format!("pool {name}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Placement {
            shards,
            live: rebuilds.then_some(live),
            servers,
        })
    }

    /// The servers holding `key`, replica 1 first, while the servers in `ejected`
    /// are out (which moves keys only when the pool rebuilds its ring).
    pub fn holders(&self, key: &[u8], ejected: &[usize]) -> Result<Vec<usize>, String> {
        if let Some(live) = &self.live {
            let set: Vec<bool> = (0..self.servers.len())
                .map(|i| !ejected.contains(&i))
                .collect();
            live.send_replace(set.into());
        }
        let mut holders = Vec::with_capacity(self.shards.len());
        for shard in &self.shards {
            let server = picked(shard.clone(), key)?;
            // Fewer live servers than replicas: the last ones repeat a server.
            if !holders.contains(&server) {
                holders.push(server);
            }
        }
        Ok(holders)
    }

    /// A server's name as the configuration gives it, else its address.
    pub fn name(&self, server: usize) -> String {
        let spec = &self.servers[server];
        spec.name.clone().unwrap_or_else(|| spec.addr())
    }
}
