//! The consecutive-failures breaker behind [`super::Eject`], and the live set a
//! pool's breakers publish together.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;
use tracing::{info, warn};

use super::EjectConfig;

/// Sends one probe request; `true` if the server answered well.
pub(super) type Probe = Box<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Which servers of a pool are live, published as a whole on every change.
#[derive(Debug, Clone)]
pub struct LiveSet {
    tx: Arc<watch::Sender<Arc<[bool]>>>,
}

impl LiveSet {
    /// `servers` servers, all live.
    pub fn new(servers: usize) -> Self {
        LiveSet {
            tx: Arc::new(watch::Sender::new(Arc::from(vec![true; servers]))),
        }
    }

    /// Follows the set (e.g. [`crate::layer::shard::Router::following`]).
    pub fn subscribe(&self) -> watch::Receiver<Arc<[bool]>> {
        self.tx.subscribe()
    }

    /// The set now.
    pub fn get(&self) -> Arc<[bool]> {
        self.tx.borrow().clone()
    }

    fn set(&self, index: usize, live: bool) {
        self.tx.send_if_modified(|set| {
            if set.get(index).copied() == Some(live) || index >= set.len() {
                return false;
            }
            let mut next = set.to_vec();
            next[index] = live;
            *set = next.into();
            true
        });
    }
}

pub(crate) struct Breaker {
    config: EjectConfig,
    /// The gate the request path reads.
    open: AtomicBool,
    failures: Mutex<u32>,
    live: Option<(LiveSet, usize)>,
    probe: Probe,
    /// Times the server was ejected, for metrics.
    ejections: AtomicU64,
}

impl Breaker {
    pub(super) fn new(config: EjectConfig, live: Option<(LiveSet, usize)>, probe: Probe) -> Self {
        Breaker {
            config,
            open: AtomicBool::new(false),
            failures: Mutex::new(0),
            live,
            probe,
            ejections: AtomicU64::new(0),
        }
    }

    pub(super) fn ejections(&self) -> u64 {
        self.ejections.load(Ordering::Relaxed)
    }

    pub(super) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Counts one request's outcome; ejects on the limit.
    pub(super) fn record(self: Arc<Self>, ok: bool) {
        let mut failures = self.failures.lock();
        if ok {
            *failures = 0;
            return;
        }
        *failures += 1;
        if *failures < self.config.failure_limit.max(1) || self.is_open() {
            return;
        }
        *failures = 0;
        self.open.store(true, Ordering::Release);
        self.ejections.fetch_add(1, Ordering::Relaxed);
        drop(failures);
        if let Some((live, i)) = &self.live {
            live.set(*i, false);
        }
        warn!(
            retry_in = ?self.config.retry_timeout,
            server = ?self.live.as_ref().map(|l| l.1),
            "server ejected"
        );
        tokio::spawn(self.probe_until_back());
    }

    /// Waits, probes, and re-admits on the first good answer. Stops when nothing but
    /// this task holds the breaker (its pool was dropped, e.g. by a reload): the probe
    /// holds the server's connections, which would otherwise live on.
    async fn probe_until_back(self: Arc<Self>) {
        loop {
            tokio::time::sleep(self.config.retry_timeout).await;
            if Arc::strong_count(&self) == 1 {
                return;
            }
            if (self.probe)().await {
                break;
            }
        }
        *self.failures.lock() = 0;
        self.open.store(false, Ordering::Release);
        if let Some((live, i)) = &self.live {
            live.set(*i, true);
        }
        info!(server = ?self.live.as_ref().map(|l| l.1), "server re-admitted");
    }
}
