//! A pool's ring: its servers, hash, distribution and hash tag, checked once so a
//! bad ring is refused before anything starts.

use memkeep_ring::{Distribution, Hash, Ring, Server};

use crate::config::{PoolConfig, ServerSpec};

/// The ring a pool's settings describe, over all of its servers, and the servers as
/// configured (in order).
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
