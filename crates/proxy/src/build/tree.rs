//! Builds the services a route tree describes: each pool once (its backends are
//! shared by every route naming it), each route once, bottom up, then one service
//! per listener (a route's under a broadcast to every pool it reaches).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tower::Layer;

use super::{Builder, Pool, ServerState, SharedService};
use crate::config::{PolicySetting, RouteConfig, RouteSpec};
use crate::layer::broadcast::Broadcast;
use crate::layer::failover::FailoverLayer;
use crate::layer::read_repair::ReadRepairLayer;
use crate::layer::replicate::{Policy, ReplicateLayer};
use crate::layer::route::{Route, RouteLayer};
use crate::layer::shadow::ShadowLayer;
use crate::layer::warm_up::WarmUpLayer;

/// A counter a layer keeps, shown by `stats` under this name.
pub struct Counter {
    /// The stat's name, e.g. `route_reads_repairs`.
    pub name: String,
    /// Its value, shared with the layer.
    pub value: Arc<AtomicU64>,
}

/// Everything a configuration starts: the listeners' services, the pools (for
/// their backends' stats) and the layers' counters.
pub struct Tree {
    /// The service for each listener, in configuration order.
    pub listeners: Vec<SharedService>,
    /// Each pool's servers, by pool name.
    pub pools: BTreeMap<String, Vec<ServerState>>,
    /// Counters of the layers that keep some.
    pub counters: Vec<Counter>,
    /// What each pool is, for the next reload ([`Builder::after`]).
    pub memberships: super::Memberships,
}

impl Builder {
    /// Builds the tree: checks it, then every pool and route the listeners reach.
    /// Starts the backends' connection tasks: call inside the runtime.
    pub fn tree(&self, config: &RouteConfig) -> Result<Tree, String> {
        config.check().map_err(|e| e.to_string())?;
        let mut assembly = Assembly {
            builder: self,
            config,
            handoff: BTreeSet::new(),
            pools: BTreeMap::new(),
            routes: BTreeMap::new(),
            counters: Vec::new(),
        };
        // The copies under a replicating route owe each other the writes they miss.
        for spec in config.routes.values() {
            if matches!(
                spec,
                RouteSpec::Replicate { .. } | RouteSpec::ReadRepair { .. }
            ) {
                let mut reached = BTreeSet::new();
                for target in spec.targets() {
                    assembly.reached(target, &mut reached);
                }
                assembly.handoff.extend(reached);
            }
        }
        let listeners = config
            .listeners
            .iter()
            .map(|l| assembly.listener(&l.route))
            .collect::<Result<Vec<_>, _>>()?;
        let mut pools = BTreeMap::new();
        let mut memberships = BTreeMap::new();
        let mut counters = assembly.counters;
        for (name, stack) in assembly.pools {
            counters.extend(stack.membership.counters(&name));
            memberships.insert(name.clone(), stack.membership);
            pools.insert(name, stack.servers);
        }
        Ok(Tree {
            listeners,
            pools,
            counters,
            memberships,
        })
    }
}

/// One tree being built.
struct Assembly<'c> {
    builder: &'c Builder,
    config: &'c RouteConfig,
    /// The pools whose servers queue and replay the writes they miss.
    handoff: BTreeSet<String>,
    pools: BTreeMap<String, Pool>,
    routes: BTreeMap<String, SharedService>,
    counters: Vec<Counter>,
}

impl Assembly<'_> {
    /// The replicas a name stands for: a pool's replica shards, or one route.
    fn replicas(&mut self, name: &str) -> Result<Vec<SharedService>, String> {
        if let Some(pool) = self.config.pools.get(name) {
            if !self.pools.contains_key(name) {
                let stack = self
                    .builder
                    .pool_stack(name, pool, self.handoff.contains(name))?;
                self.pools.insert(name.to_owned(), stack);
            }
            return Ok(self.pools[name].views.clone());
        }
        if let Some(route) = self.routes.get(name) {
            return Ok(vec![route.clone()]);
        }
        let spec = self
            .config
            .routes
            .get(name)
            .ok_or_else(|| format!("no pool or route named {name:?}"))?;
        let route = self.route(name, spec)?;
        self.routes.insert(name.to_owned(), route.clone());
        Ok(vec![route])
    }

    /// What a listener serves: a pool, or a route under a [`Broadcast`] over every
    /// pool the route reaches, so `flush_all` and the like reach every server.
    fn listener(&mut self, name: &str) -> Result<SharedService, String> {
        let tree = self.target(name)?;
        if self.config.pools.contains_key(name) {
            return Ok(tree);
        }
        let mut reached = BTreeSet::new();
        self.reached(name, &mut reached);
        let pools = reached
            .into_iter()
            .map(|pool| Ok(self.replicas(&pool)?.swap_remove(0)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(SharedService::new(Broadcast::new(tree, pools)))
    }

    /// The pools a name leads to (routes are checked acyclic).
    fn reached(&self, name: &str, pools: &mut BTreeSet<String>) {
        if self.config.pools.contains_key(name) {
            pools.insert(name.to_owned());
        } else if let Some(route) = self.config.routes.get(name) {
            for target in route.targets() {
                self.reached(target, pools);
            }
        }
    }

    /// The one service a name stands for (`check` refused replicated pools here).
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

    fn count(&mut self, route: &str, what: &str, value: Arc<AtomicU64>) {
        self.counters.push(Counter {
            name: format!("route_{route}_{what}"),
            value,
        });
    }

    fn route(&mut self, name: &str, spec: &RouteSpec) -> Result<SharedService, String> {
        Ok(match spec {
            RouteSpec::Replicate { to, policy } => {
                let layer = ReplicateLayer::new(match policy {
                    PolicySetting::All => Policy::All,
                    PolicySetting::Majority => Policy::Majority,
                    PolicySetting::FirstSuccess => Policy::FirstSuccess,
                    PolicySetting::PrimaryThenAsync => Policy::PrimaryThenAsync,
                });
                self.count(name, "replies_waited_for_all", layer.waited());
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
                self.count(name, "repairs", layer.repairs());
                self.count(name, "repairs_waited", layer.waited());
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
                self.count(name, "fills", layer.fills());
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
