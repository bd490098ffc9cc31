//! Warm-up after a reload that changes a pool's servers: the builder is told what
//! each pool was ([`Builder::after`]), and a pool whose ring changed gets its shards
//! wrapped in [`Resize`], falling back to the previous shards for the keys that moved,
//! for the pool's `warm_up_after_change`. See docs/resize.md.

use std::collections::BTreeMap;
use std::sync::Arc;

use memkeep_ring::Ring;
use tracing::info;

use super::{Builder, Counter, SharedService};
use crate::config::{PoolConfig, ServerSpec};
use crate::layer::resize::{Moved, ResizeLayer, WarmUpCounters, Window};
use tower::Layer;

/// What a pool was when built: what a later reload needs to warm its moved keys
/// from it. Holding one keeps the pool's connections open.
#[derive(Clone)]
pub struct Membership {
    /// What places keys: servers, hash, distribution, hash tag, replicas.
    placement: (Vec<String>, String, String, Option<String>, usize),
    ring: Ring,
    addrs: Vec<String>,
    /// The pool's shards, one per replica, without any warm-up of their own: after
    /// two changes in a row, keys are warmed from the ring just before the latest.
    views: Vec<SharedService>,
    /// The window the pool is warming through, if one is open.
    window: Option<Arc<Window<SharedService>>>,
    counters: WarmUpCounters,
}

/// Every pool's [`Membership`], by name.
pub type Memberships = BTreeMap<String, Membership>;

impl Membership {
    /// The pool's warm-up counters, as `stats` names them.
    pub fn counters(&self, pool: &str) -> Vec<Counter> {
        let c = &self.counters;
        [
            ("fills", &c.fills),
            ("fallbacks", &c.fallbacks),
            ("stale_deletes", &c.stale_deletes),
            ("active", &c.active),
        ]
        .into_iter()
        .map(|(what, value)| Counter {
            name: format!("pool_{pool}_warm_up_{what}"),
            value: value.clone(),
        })
        .collect()
    }
}

impl Builder {
    /// Builds as a reload from a tree whose pools were `before`: a pool whose
    /// servers (or hash, distribution, hash tag, replicas) changed warms the keys that
    /// moved from what it was, for its `warm_up_after_change`.
    pub fn after(mut self, before: Memberships) -> Self {
        self.before = Some(Arc::new(before));
        self
    }

    /// The pool's shards, wrapped in a warm-up window when its placement changed
    /// since the tree this build follows (or a window is still open), and what the
    /// next reload needs.
    pub(super) fn warm_up(
        &self,
        name: &str,
        pool: &PoolConfig,
        ring: Ring,
        specs: &[ServerSpec],
        views: Vec<SharedService>,
    ) -> (Vec<SharedService>, Membership) {
        let placement = (
            pool.servers.clone(),
            pool.hash.clone(),
            pool.distribution.clone(),
            pool.hash_tag.clone(),
            pool.replicas.max(1),
        );
        let addrs: Vec<String> = specs.iter().map(ServerSpec::addr).collect();
        let before = self.before.as_ref().and_then(|b| b.get(name));
        let lasting = pool.warm_up_after_change;
        let open = before.and_then(|b| b.window.clone().filter(|w| w.is_open()));
        let window = match before {
            Some(before) if before.placement != placement => {
                // The previous change's window ends: keys are warmed from the ring
                // just before this change.
                if let Some(earlier) = &open {
                    earlier.close();
                }
                let added: Vec<&String> =
                    addrs.iter().filter(|a| !before.addrs.contains(a)).collect();
                let removed: Vec<&String> =
                    before.addrs.iter().filter(|a| !addrs.contains(a)).collect();
                if lasting.is_zero() || before.views.len() != views.len() {
                    info!(pool = %name, ?added, ?removed, "pool servers changed; warm-up off");
                    None
                } else {
                    info!(pool = %name, ?added, ?removed, warm_up_secs = lasting.as_secs_f64(),
                        "pool servers changed: moved keys missing on their new server are read \
                         from their previous one during the warm-up");
                    let moved =
                        Moved::new(before.ring.clone(), &before.addrs, ring.clone(), &addrs);
                    let window = Window::open(before.views.clone(), moved, before.counters.clone());
                    window.close_after(lasting, name.to_owned());
                    Some(window)
                }
            }
            // Same placement (a reload for another reason): an open window goes on.
            Some(_) if !lasting.is_zero() => open,
            Some(_) => {
                if let Some(open) = open {
                    open.close();
                }
                None
            }
            None => None,
        };
        let counters = before.map(|b| b.counters.clone()).unwrap_or_default();
        let membership = Membership {
            placement,
            ring,
            addrs,
            views: views.clone(),
            window: window.clone(),
            counters,
        };
        let views = match window {
            Some(window) => views
                .into_iter()
                .enumerate()
                .map(|(replica, view)| {
                    SharedService::new(ResizeLayer::new(window.clone(), replica).layer(view))
                })
                .collect(),
            None => views,
        };
        (views, membership)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::*;
    use crate::config::RouteConfig;

    fn config(servers: &[u16], window: &str) -> RouteConfig {
        let list: Vec<String> = servers
            .iter()
            .map(|p| format!("\"127.0.0.1:{p}\""))
            .collect();
        toml::from_str(&format!(
            "[pools.p]\nservers = [{}]\nwarm_up_after_change = \"{window}\"\n\n\
             [[listeners]]\nlisten = \"127.0.0.1:1\"\nroute = \"p\"\n",
            list.join(", ")
        ))
        .unwrap()
    }

    fn active(before: &Memberships) -> u64 {
        before["p"].counters.active.load(Ordering::Relaxed)
    }

    fn window(before: &Memberships) -> Option<Arc<Window<SharedService>>> {
        before["p"].window.clone()
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_opens_on_a_change_lasts_through_other_reloads_and_ends_on_time() {
        let first = Builder::new().tree(&config(&[1, 2, 3], "5m")).unwrap();
        assert!(window(&first.memberships).is_none(), "nothing to warm from");

        let grown = Builder::new()
            .after(first.memberships)
            .tree(&config(&[1, 2, 3, 4], "5m"))
            .unwrap();
        let opened = window(&grown.memberships).expect("a window");
        assert_eq!(active(&grown.memberships), 1);

        // Same servers: the window goes on, with its own end.
        tokio::time::sleep(Duration::from_secs(200)).await;
        let same = Builder::new()
            .after(grown.memberships)
            .tree(&config(&[1, 2, 3, 4], "5m"))
            .unwrap();
        assert!(Arc::ptr_eq(&opened, &window(&same.memberships).unwrap()));
        tokio::time::sleep(Duration::from_secs(101)).await;
        assert!(!opened.is_open());
        assert_eq!(active(&same.memberships), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_change_ends_the_first_window_and_warms_from_the_ring_before_it() {
        let first = Builder::new().tree(&config(&[1, 2, 3], "5m")).unwrap();
        let grown = Builder::new()
            .after(first.memberships)
            .tree(&config(&[1, 2, 3, 4], "5m"))
            .unwrap();
        let earlier = window(&grown.memberships).unwrap();
        let again = Builder::new()
            .after(grown.memberships)
            .tree(&config(&[1, 2, 3, 4, 5], "5m"))
            .unwrap();
        assert!(!earlier.is_open());
        let latest = window(&again.memberships).unwrap();
        assert!(latest.is_open());
        // Warmed from the 4-server ring: keys on server 4 now were there before (the
        // 3-server ring had no server 4: every one of them would have moved).
        let now = &again.memberships["p"];
        let on_four: Vec<String> = (0..1000)
            .map(|i| format!("k{i}"))
            .filter(|k| now.addrs[now.ring.node_for(k.as_bytes())] == "127.0.0.1:4")
            .collect();
        assert!(!on_four.is_empty());
        assert!(on_four.iter().all(|k| !latest.warms(k.as_bytes(), 0)));
        assert_eq!(active(&again.memberships), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_turns_the_window_off() {
        let first = Builder::new().tree(&config(&[1, 2, 3], "0")).unwrap();
        let grown = Builder::new()
            .after(first.memberships)
            .tree(&config(&[1, 2, 3, 4], "0"))
            .unwrap();
        assert!(window(&grown.memberships).is_none());
        assert_eq!(active(&grown.memberships), 0);
    }
}
