//! The ring a shard routes by: fixed, or rebuilt over the live servers whenever the
//! published live set changes (twemproxy's `auto_eject_hosts`).

use std::sync::Arc;

use memkeep_ring::{BuildError, Builder, Ring};
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use tracing::info;

/// Hands out the current ring.
pub struct Router {
    current: RwLock<Arc<Ring>>,
    follow: Option<Follow>,
}

struct Follow {
    builder: Builder,
    live: Mutex<watch::Receiver<Arc<[bool]>>>,
}

impl Router {
    /// Always this ring.
    pub fn fixed(ring: Ring) -> Self {
        Router {
            current: RwLock::new(Arc::new(ring)),
            follow: None,
        }
    }

    /// A ring built by `builder` over the servers `live` marks live, rebuilt when
    /// it changes. With no server live, the ring over all of them stays (requests
    /// then fail at their servers rather than nowhere).
    pub fn following(
        builder: Builder,
        live: watch::Receiver<Arc<[bool]>>,
    ) -> Result<Self, BuildError> {
        let ring = build(&builder, &live.borrow())?;
        Ok(Router {
            current: RwLock::new(Arc::new(ring)),
            follow: Some(Follow {
                builder,
                live: Mutex::new(live),
            }),
        })
    }

    /// The ring to route by now.
    pub fn ring(&self) -> Arc<Ring> {
        if let Some(follow) = &self.follow {
            // Cheap when nothing changed: one atomic version check.
            if follow.live.lock().has_changed().unwrap_or(false) {
                let mut live = follow.live.lock();
                let set = live.borrow_and_update().clone();
                if let Ok(ring) = build(&follow.builder, &set) {
                    info!(live = ?set, "ring rebuilt over the live servers");
                    *self.current.write() = Arc::new(ring);
                }
            }
        }
        self.current.read().clone()
    }
}

fn build(builder: &Builder, live: &[bool]) -> Result<Ring, BuildError> {
    if live.iter().any(|&l| l) {
        builder.clone().live(live).build()
    } else {
        builder.clone().build()
    }
}
