//! Whether a route tree can be served: every name resolves, routes form no cycle,
//! replicated pools are named only where replicas are taken, numbers make sense.

use std::collections::BTreeSet;

use super::{ConfigError, PoolConfig, RouteConfig, RouteSpec};
use crate::discovery::DnsTarget;

impl RouteConfig {
    /// Checks that every name resolves, routes form no cycle, replicated pools are
    /// only named where replicas are taken, and numbers make sense.
    pub fn check(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        if self.listeners.is_empty() {
            return err("no listeners".into());
        }
        for (name, pool) in &self.pools {
            if self.routes.contains_key(name) {
                return err(format!("{name:?} names both a pool and a route"));
            }
            // A pool found by DNS has its servers counted once they are found.
            if pool.replicas == 0 || (pool.replicas > pool.servers.len() && !pool.discovers()) {
                return err(format!(
                    "pool {name}: replicas = {} but it has {} servers",
                    pool.replicas,
                    pool.servers.len()
                ));
            }
            self.check_discovery(name, pool)?;
            if pool.max_pending == 0 || pool.max_buffered_bytes == 0 {
                return err(format!(
                    "pool {name}: max_pending and max_buffered_bytes must be at least 1"
                ));
            }
        }
        for (name, route) in &self.routes {
            if route.targets().iter().any(|t| t.is_empty()) || route.targets().is_empty() {
                return err(format!("route {name}: names no target"));
            }
            for target in route.targets() {
                self.check_target(target, route.takes_replicas(), &format!("route {name}"))?;
            }
            match route {
                RouteSpec::Shadow { fraction, .. } if !(0.0..=1.0).contains(fraction) => {
                    return err(format!("route {name}: fraction must be within 0.0 and 1.0"))
                }
                RouteSpec::ReadRepair {
                    read_from: Some(0), ..
                } => return err(format!("route {name}: read_from must be at least 1")),
                _ => {}
            }
            self.check_acyclic(name, &mut BTreeSet::new())?;
        }
        for listener in &self.listeners {
            if listener.max_outstanding == 0 {
                return err(format!(
                    "listener {}: max_outstanding must be at least 1",
                    listener.listen
                ));
            }
            self.check_target(
                &listener.route,
                false,
                &format!("listener {}", listener.listen),
            )?;
        }
        Ok(())
    }

    /// A pool's DNS entries and settings make sense.
    fn check_discovery(&self, name: &str, pool: &PoolConfig) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(format!("pool {name}: {m}")));
        for entry in pool.servers.iter().filter(|s| DnsTarget::is_dns_entry(s)) {
            if let Err(e) = DnsTarget::parse(entry) {
                return err(e);
            }
        }
        if let Err(e) = pool.resolver() {
            return err(e);
        }
        if pool.dns_min_ttl_ms == 0 || pool.dns_min_ttl_ms > pool.dns_max_ttl_ms {
            return err(format!(
                "dns_min_ttl_ms must be at least 1 and at most dns_max_ttl_ms ({})",
                pool.dns_max_ttl_ms
            ));
        }
        Ok(())
    }

    fn check_target(
        &self,
        target: &str,
        takes_replicas: bool,
        who: &str,
    ) -> Result<(), ConfigError> {
        match self.pools.get(target) {
            Some(pool) if pool.replicas > 1 && !takes_replicas => Err(ConfigError(format!(
                "{who}: pool {target} has replicas = {}; name it in a replicate, failover or \
                 read_repair route, which decide how its replicas are used",
                pool.replicas
            ))),
            Some(_) => Ok(()),
            None if self.routes.contains_key(target) => Ok(()),
            None => Err(ConfigError(format!(
                "{who}: no pool or route named {target:?}"
            ))),
        }
    }

    fn check_acyclic<'a>(
        &'a self,
        name: &'a str,
        path: &mut BTreeSet<&'a str>,
    ) -> Result<(), ConfigError> {
        let Some(route) = self.routes.get(name) else {
            return Ok(());
        };
        if !path.insert(name) {
            return Err(ConfigError(format!("route {name} leads back to itself")));
        }
        for target in route.targets() {
            self.check_acyclic(target, path)?;
        }
        path.remove(name);
        Ok(())
    }
}
