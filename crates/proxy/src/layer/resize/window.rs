//! A warm-up window: for a while after a pool's servers change, what the pool looked
//! like before (its ring and its services, removed servers included) so that reads of
//! the keys that moved can fall back to their previous server. Closing it drops the
//! previous services, and with them the connections to removed servers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use memkeep_ring::Ring;
use parking_lot::RwLock;

use crate::layer::background::Background;
use crate::layer::shard::node_for;
use crate::layer::warm_up::WarmUpLayer;

/// Which keys changed server: the rings before and after a change, and which server
/// of the new ring each server of the old one is (the same address), if any.
#[derive(Debug)]
pub struct Moved {
    before: Ring,
    after: Ring,
    /// For each server of `before`, its index in `after`.
    kept_as: Vec<Option<usize>>,
}

impl Moved {
    /// `before` and `after` with their servers' addresses, in ring order: a server is
    /// the same one in both rings when its address is.
    pub fn new(before: Ring, before_addrs: &[String], after: Ring, after_addrs: &[String]) -> Self {
        let kept_as = before_addrs
            .iter()
            .map(|addr| after_addrs.iter().position(|a| a == addr))
            .collect();
        Moved {
            before,
            after,
            kept_as,
        }
    }

    /// Whether `key`'s replica number `replica` (0: its own server) lives on another
    /// server than before the change.
    pub fn moved(&self, key: &[u8], replica: usize) -> bool {
        let was = node_for(&self.before, key, replica);
        let is = node_for(&self.after, key, replica);
        self.kept_as.get(was).copied().flatten() != Some(is)
    }
}

/// A pool's warm-up counters, kept across reloads (shown by `stats` as
/// `pool_NAME_warm_up_*`).
#[derive(Debug, Clone, Default)]
pub struct WarmUpCounters {
    /// Items copied from a key's previous server to its new one (`STORED`).
    pub fills: Arc<AtomicU64>,
    /// Keys that missed on their new server and were read from their previous one.
    pub fallbacks: Arc<AtomicU64>,
    /// Deletes sent to a key's previous server for writes during the window.
    pub stale_deletes: Arc<AtomicU64>,
    /// 1 while a window is open, else 0.
    pub active: Arc<AtomicU64>,
}

/// The pool before the change, while the window is open.
pub(super) struct Previous<S> {
    /// One shard per replica, as the pool had them.
    pub(super) views: Vec<S>,
    /// Per replica: a warm-up asking the previous servers for moved keys only.
    pub(super) warm_ups: Vec<WarmUpLayer<S>>,
    pub(super) moved: Arc<Moved>,
}

/// An open (or closed) warm-up window, shared by the pool's services.
pub struct Window<S> {
    previous: RwLock<Option<Arc<Previous<S>>>>,
    pub(super) counters: WarmUpCounters,
}

impl<S: Clone + Send + Sync + 'static> Window<S> {
    /// Opens a window over the pool's previous shards (`views`, one per replica),
    /// with the rings that say which keys `moved`.
    pub fn open(views: Vec<S>, moved: Moved, counters: WarmUpCounters) -> Arc<Self> {
        // One bound on the fill tasks of every replica's warm-up.
        let background = Background::new(WarmUpLayer::<S>::DEFAULT_BACKGROUND_LIMIT);
        let moved = Arc::new(moved);
        let warm_ups = views
            .iter()
            .enumerate()
            .map(|(replica, view)| {
                let moved = moved.clone();
                WarmUpLayer::new(view.clone())
                    .only(Arc::new(move |key: &[u8]| moved.moved(key, replica)))
                    .counting(counters.fills.clone(), counters.fallbacks.clone())
                    .sharing_background(&background)
            })
            .collect();
        counters.active.store(1, Ordering::Relaxed);
        Arc::new(Window {
            previous: RwLock::new(Some(Arc::new(Previous {
                views,
                warm_ups,
                moved,
            }))),
            counters,
        })
    }

    /// Closes the window after `lasting`, on a task of its own (inside the runtime).
    pub fn close_after(self: &Arc<Self>, lasting: Duration, pool: String) {
        let window = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(lasting).await;
            if window.close() {
                tracing::info!(%pool, "warm-up window over: previous servers released");
            }
        });
    }
}

impl<S> Window<S> {
    /// Ends the window now: from here on every key is read from its new server only,
    /// and the previous services are dropped (once requests using them finish).
    /// Whether it was open.
    pub fn close(&self) -> bool {
        let was_open = self.previous.write().take().is_some();
        if was_open {
            self.counters.active.store(0, Ordering::Relaxed);
        }
        was_open
    }

    /// Whether reads still fall back to the previous servers.
    pub fn is_open(&self) -> bool {
        self.previous.read().is_some()
    }

    /// Whether `key`'s replica `replica` is read from its previous server on a miss:
    /// the window is open and the key moved.
    pub fn warms(&self, key: &[u8], replica: usize) -> bool {
        self.previous()
            .is_some_and(|previous| previous.moved.moved(key, replica))
    }

    /// The pool before the change, while the window is open.
    pub(super) fn previous(&self) -> Option<Arc<Previous<S>>> {
        self.previous.read().clone()
    }
}
