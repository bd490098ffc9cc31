//! memcached's administrative commands (`cache_memlimit`, `slabs`, `lru_crawler`) as
//! memkeepd answers them: with memcached 1.6.18's replies, acting on the store where
//! it has the mechanism, and with memcached's reply for the nearest meaning where it
//! has not:
//!
//! - `cache_memlimit` changes the store's memory limit (`limit_maxbytes`).
//! - `lru_crawler crawl` runs a real crawl on a thread of its own, reclaiming expired
//!   and flushed items (`crawler_reclaimed`); `enable`/`disable`, `sleep` and
//!   `tocrawl` tune it, and a disabled crawler refuses crawls and metadumps.
//! - `slabs automove` and `slabs automove ratio` are kept and shown in
//!   `stats settings`; memkeepd's memory is not cut into per-class slab pages, so
//!   there is nothing for them to move.
//! - `slabs reassign` checks its classes as memcached does and then answers
//!   `NOSPARE source class has no spare pages`: no class ever holds a page to give.
//! - `watch` is served by the connection driver when the server streams logs; a
//!   cache asked directly answers memcached's reply for a server with watching
//!   turned off.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use memkeep_protocol::{Admin, MetadumpScope, Ratio, Response};
use parking_lot::Mutex;

use crate::store::{CrawlPace, Store};

/// The settings the administrative commands change, with memcached's defaults.
#[derive(Debug)]
pub(super) struct Tunables {
    slab_automove: AtomicU32,
    slab_automove_ratio: Mutex<f64>,
    pub(super) crawler: Crawler,
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            slab_automove: AtomicU32::new(1),
            slab_automove_ratio: Mutex::new(0.8),
            crawler: Crawler::default(),
        }
    }
}

/// The LRU crawler: whether it is enabled, how it paces itself, and its one running
/// crawl at a time.
#[derive(Debug)]
pub(super) struct Crawler {
    enabled: AtomicBool,
    sleep_micros: AtomicU32,
    per_class: AtomicU32,
    /// A crawl is running.
    running: Arc<AtomicBool>,
    /// Crawls started (`lru_crawler_starts`).
    starts: AtomicU64,
}

impl Crawler {
    pub(super) fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub(super) fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    pub(super) fn starts(&self) -> u64 {
        self.starts.load(Ordering::Relaxed)
    }

    pub(super) fn sleep_micros(&self) -> u32 {
        self.sleep_micros.load(Ordering::Relaxed)
    }

    pub(super) fn per_class(&self) -> u32 {
        self.per_class.load(Ordering::Relaxed)
    }
}

impl Default for Crawler {
    fn default() -> Self {
        Crawler {
            enabled: AtomicBool::new(true),
            sleep_micros: AtomicU32::new(100),
            per_class: AtomicU32::new(0),
            running: Arc::new(AtomicBool::new(false)),
            starts: AtomicU64::new(0),
        }
    }
}

/// memcached's reply when the crawler is turned off.
pub(super) const CRAWLER_DISABLED: &str = "lru crawler disabled";
/// memcached's reply while a crawl runs.
const CRAWLER_BUSY: &str = "BUSY currently processing crawler request";

/// The largest memcached slab class id, for `slabs reassign`'s class checks.
fn largest_class() -> i32 {
    i32::try_from(crate::store::largest_class()).unwrap_or(i32::MAX)
}

impl Tunables {
    pub(super) fn slab_automove(&self) -> u32 {
        self.slab_automove.load(Ordering::Relaxed)
    }

    pub(super) fn slab_automove_ratio(&self) -> f64 {
        *self.slab_automove_ratio.lock()
    }

    /// Answers one administrative command against `store`.
    pub(super) fn execute(&self, admin: Admin, store: &Arc<Store>) -> Response {
        match admin {
            Admin::CacheMemlimit(megabytes) => memlimit(megabytes, store),
            Admin::SlabsAutomove(level) => {
                self.slab_automove.store(level, Ordering::Relaxed);
                Response::Ok
            }
            Admin::SlabsAutomoveRatio(Ratio(ratio)) => {
                *self.slab_automove_ratio.lock() = ratio;
                Response::Ok
            }
            Admin::SlabsReassign { src, dst } => reassign(src, dst),
            Admin::LruCrawler(enable) => {
                let was = self.crawler.enabled.swap(enable, Ordering::Relaxed);
                if enable && was {
                    // memcached cannot start a second crawler thread.
                    return line("ERROR failed to start lru crawler thread");
                }
                Response::Ok
            }
            Admin::LruCrawlerSleep(micros) => {
                self.crawler.sleep_micros.store(micros, Ordering::Relaxed);
                Response::Ok
            }
            Admin::LruCrawlerToCrawl(items) => {
                self.crawler.per_class.store(items, Ordering::Relaxed);
                Response::Ok
            }
            Admin::LruCrawlerCrawl(scope) => self.crawl(scope, store),
            Admin::Watch(_) => Response::ClientError("watch commands not allowed".into()),
            // memkeepd has one CLOCK queue, not memcached's segmented LRU: there is
            // nothing to tune, and memcached's answer is the one clients expect.
            Admin::LruMode(_) | Admin::LruTune { .. } | Admin::LruTempTtl(_) => Response::Ok,
            // The cache service answers it from its TLS configuration.
            Admin::RefreshCerts => Response::Error,
        }
    }

    /// Starts a crawl on its own thread, as memcached's crawler thread runs it: the
    /// reply comes at once, the counters tell when it is done.
    fn crawl(&self, scope: Option<MetadumpScope>, store: &Arc<Store>) -> Response {
        let crawler = &self.crawler;
        if !crawler.enabled.load(Ordering::Relaxed) {
            return Response::ClientError(CRAWLER_DISABLED.into());
        }
        let classes = match scope {
            None => return line("ERROR an unknown error happened"),
            Some(MetadumpScope::BadClass) => return line("BADCLASS invalid class id"),
            Some(MetadumpScope::All) => None,
            Some(MetadumpScope::Classes(classes)) => Some(classes),
        };
        if crawler.running.swap(true, Ordering::Acquire) {
            return line(CRAWLER_BUSY);
        }
        crawler.starts.fetch_add(1, Ordering::Relaxed);
        let pace = CrawlPace {
            per_class: crawler.per_class.load(Ordering::Relaxed),
            sleep_micros: crawler.sleep_micros.load(Ordering::Relaxed),
        };
        let (store, running) = (store.clone(), crawler.running.clone());
        let started = std::thread::Builder::new()
            .name("lru-crawler".into())
            .spawn(move || {
                store.crawl(classes.as_deref(), pace);
                running.store(false, Ordering::Release);
            });
        match started {
            Ok(_) => Response::Ok,
            Err(_) => {
                crawler.running.store(false, Ordering::Release);
                line("ERROR an unknown error happened")
            }
        }
    }
}

fn line(text: &'static str) -> Response {
    Response::ErrorLine(text.into())
}

/// `cache_memlimit`: memcached's bounds, then the store's new limit.
fn memlimit(megabytes: u32, store: &Store) -> Response {
    if megabytes < 8 {
        return line("MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m");
    }
    if megabytes > 1_000_000_000 {
        return line("MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes");
    }
    match (megabytes as usize).checked_mul(1024 * 1024) {
        Some(bytes) => {
            store.set_memory_limit(bytes);
            Response::Ok
        }
        None => line("MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust"),
    }
}

/// `slabs reassign`: memcached's checks in its order. Class 0 is its global page
/// pool; `-1` as the source asks it to pick a class with a page to spare, and it finds
/// none here. Past the checks no class has a spare page: memkeepd's memory is not cut
/// into per-class pages.
fn reassign(src: i32, dst: i32) -> Response {
    if src == dst {
        return line("SAME src and dst class are identical");
    }
    let valid = |class: i32| (0..=largest_class()).contains(&class);
    if !valid(src) || !valid(dst) {
        return line("BADCLASS invalid src or dst class id");
    }
    line("NOSPARE source class has no spare pages")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    fn text(response: Response) -> String {
        match response {
            Response::Ok => "OK".into(),
            Response::ErrorLine(l) => l.into_owned(),
            Response::ClientError(m) => format!("CLIENT_ERROR {m}"),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn memlimit_changes_the_store_s_limit() {
        let store = Arc::new(Store::new(StoreConfig::default()));
        let t = Tunables::default();
        assert_eq!(text(t.execute(Admin::CacheMemlimit(100), &store)), "OK");
        assert_eq!(store.memory_limit(), 100 << 20);
        assert_eq!(store.stats().limit_maxbytes, 100 << 20);
        assert!(text(t.execute(Admin::CacheMemlimit(7), &store)).starts_with("MEMLIMIT_TOO_SMALL"));
        assert_eq!(store.memory_limit(), 100 << 20);
    }

    #[test]
    fn reassign_checks_classes_like_memcached() {
        assert_eq!(text(reassign(1, 1)), "SAME src and dst class are identical");
        assert_eq!(
            text(reassign(-1, 2)),
            "BADCLASS invalid src or dst class id"
        );
        assert_eq!(
            text(reassign(1, 64)),
            "BADCLASS invalid src or dst class id"
        );
        assert_eq!(
            text(reassign(39, 40)),
            "BADCLASS invalid src or dst class id"
        );
        assert_eq!(
            text(reassign(2, 0)),
            "NOSPARE source class has no spare pages"
        );
    }

    #[test]
    fn a_disabled_crawler_refuses_crawls() {
        let store = Arc::new(Store::new(StoreConfig::default()));
        let t = Tunables::default();
        assert_eq!(
            text(t.execute(Admin::LruCrawler(true), &store)),
            "ERROR failed to start lru crawler thread"
        );
        assert_eq!(text(t.execute(Admin::LruCrawler(false), &store)), "OK");
        assert_eq!(text(t.execute(Admin::LruCrawler(false), &store)), "OK");
        assert_eq!(
            text(t.execute(Admin::LruCrawlerCrawl(Some(MetadumpScope::All)), &store)),
            "CLIENT_ERROR lru crawler disabled"
        );
        assert_eq!(text(t.execute(Admin::LruCrawler(true), &store)), "OK");
        assert_eq!(
            text(t.execute(Admin::LruCrawlerCrawl(None), &store)),
            "ERROR an unknown error happened"
        );
    }
}
