//! Work a layer lets finish on its own task after the client is answered (replica
//! writes, repairs, fills, shadow copies), within a bound: past it the work is skipped
//! and counted, so a slow server never makes the proxy hold requests without limit.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A bound on background tasks, shared by the clones of one layer.
#[derive(Debug, Clone)]
pub(crate) struct Background {
    permits: Arc<Semaphore>,
    skipped: Arc<AtomicU64>,
}

impl Background {
    /// At most `limit` tasks at once.
    pub(crate) fn new(limit: usize) -> Self {
        Background {
            permits: Arc::new(Semaphore::new(limit)),
            skipped: Arc::default(),
        }
    }

    /// Runs `work` on its own task unless `limit` tasks are running; then it is
    /// dropped, counted, and `false` returned.
    pub(crate) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) -> bool {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        tokio::spawn(async move {
            let _permit = permit;
            work.await;
        });
        true
    }

    /// A place for one task, if there is one now.
    pub(crate) fn try_reserve(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    /// Runs `work` on its own task in the place `reserve` gave.
    pub(crate) fn spawn_reserved(
        permit: OwnedSemaphorePermit,
        work: impl Future<Output = ()> + Send + 'static,
    ) {
        tokio::spawn(async move {
            let _permit = permit;
            work.await;
        });
    }

    /// How many tasks were skipped at the bound.
    #[cfg(test)]
    pub(crate) fn skipped(&self) -> Arc<AtomicU64> {
        self.skipped.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_past_the_bound_is_skipped_and_counted() {
        let background = Background::new(1);
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        assert!(background.spawn(async move {
            let _ = wait.await;
        }));
        assert!(!background.spawn(async {}));
        assert_eq!(background.skipped().load(Ordering::Relaxed), 1);
        release.send(()).unwrap();
        // The permit comes back once the first task ends.
        let mut spawned = false;
        for _ in 0..100 {
            tokio::task::yield_now().await;
            if background.spawn(async {}) {
                spawned = true;
                break;
            }
        }
        assert!(spawned);
    }
}
