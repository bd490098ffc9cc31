//! `lru_crawler crawl`: a walk over the items that reclaims the expired and flushed
//! ones now instead of when they are next looked up or their segment is compacted.
//! Each shard is walked a piece at a time under its lock, as the other walks are.

use std::time::Duration;

use super::Store;

/// How a crawl walks: memcached's `lru_crawler tocrawl` and `lru_crawler sleep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CrawlPace {
    /// Items to look at per class, 0 for every one.
    pub per_class: u32,
    /// Pause after each thousand items looked at (memcached's crawler sleeps that
    /// long every thousand items too), in microseconds.
    pub sleep_micros: u32,
}

/// Items looked at between pauses.
const ITEMS_PER_SLEEP: u64 = 1000;

impl Store {
    /// Reclaims the expired and flushed items of `classes` (memcached's slab class of
    /// each item's size; `None` for all). The store's `crawler_items_checked` and
    /// `crawler_reclaimed` counters say what it did.
    pub fn crawl(&self, classes: Option<&[u32]>, pace: CrawlPace) {
        let mut seen = [0u32; 64];
        let mut since_sleep = 0;
        for shard in self.shards.iter() {
            for tags in super::tag_pieces() {
                let m = self.moment();
                let mut shard = shard.lock();
                let before = shard.stats.crawler_items_checked;
                shard.crawl(&m, tags, |class| {
                    if classes.is_some_and(|c| !c.contains(&class)) {
                        return false;
                    }
                    let count = &mut seen[class as usize % seen.len()];
                    if pace.per_class != 0 && *count >= pace.per_class {
                        return false;
                    }
                    *count += 1;
                    true
                });
                since_sleep += shard.stats.crawler_items_checked - before;
                drop(shard);
                if pace.sleep_micros > 0 && since_sleep >= ITEMS_PER_SLEEP {
                    since_sleep = 0;
                    std::thread::sleep(Duration::from_micros(u64::from(pace.sleep_micros)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use memkeep_protocol::Store as Set;

    use super::*;
    use crate::store::{ManualClock, StoreConfig};

    fn set(store: &Store, key: &str, exptime: i64) {
        let request = Set {
            key: Bytes::copy_from_slice(key.as_bytes()),
            data: Bytes::from_static(b"v"),
            exptime,
            ..Set::default()
        };
        store.store(&request);
    }

    #[test]
    fn reclaims_expired_items_of_the_classes_asked_for() {
        let clock = ManualClock::new(1_700_000_000);
        let store = Store::with_clock(StoreConfig::default(), clock.clone());
        for i in 0..10 {
            set(&store, &format!("short{i}"), 5);
            set(&store, &format!("long{i}"), 0);
        }
        clock.advance(10);
        store.crawl(Some(&[2]), CrawlPace::default());
        let s = store.stats();
        assert_eq!((s.crawler_items_checked, s.crawler_reclaimed), (0, 0));
        store.crawl(None, CrawlPace::default());
        let s = store.stats();
        assert_eq!((s.crawler_items_checked, s.crawler_reclaimed), (20, 10));
        assert_eq!(s.curr_items, 10);
        assert_eq!(s.expired_unfetched, 10);
    }

    #[test]
    fn tocrawl_bounds_the_items_looked_at_per_class() {
        let store = Store::new(StoreConfig::default());
        for i in 0..10 {
            set(&store, &format!("k{i}"), 0);
        }
        let pace = CrawlPace {
            per_class: 3,
            sleep_micros: 0,
        };
        store.crawl(None, pace);
        assert_eq!(store.stats().crawler_items_checked, 3);
    }
}
