//! The cache service: a tower `Service<Request>` over the [`Store`]. Its `execute` is
//! the one `match` where a command touches the store.

mod admin;
mod cert_refresh;
mod counters;
mod groups;
#[cfg(any(test, feature = "model"))]
#[doc(hidden)]
pub mod model_check;
mod prefixes;
mod report;

use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use memkeep_protocol::{
    Admin, Command, Form, MetadumpScope, Request, Response, StoreMode, TextVerb,
};
use tower_service::Service;

pub use cert_refresh::{CertRefresh, Reload};
pub use counters::{CommandCounters, Counter};
pub use prefixes::MAX_PREFIXES;

use admin::Tunables;
use prefixes::{Event, PrefixStats};

use crate::error::BoxError;
use crate::stats::ConnectionStats;
use crate::store::Store;

/// The version memkeepd reports: the memcached protocol level it implements, then its
/// own version, so clients that parse `major.minor.patch` see 1.6.
pub const VERSION: &str = concat!("1.6.18-memkeep-", env!("CARGO_PKG_VERSION"));

/// What the cache service needs besides the store.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// `stats settings` lines, prepared by whoever parsed the configuration.
    pub settings: Vec<(String, String)>,
    /// Worker threads, for `stats`.
    pub threads: usize,
    /// Connection limit, for `stats`.
    pub max_connections: usize,
    /// Called on `shutdown` when the server allows it (`-A`); refused otherwise.
    pub shutdown: Option<ShutdownHook>,
    /// Connections idle too long are closed (`-o idle_timeout`): `stats` then shows
    /// `idle_kicks`, as memcached does.
    pub idle_timeout: bool,
    /// What ends a key's prefix for `stats detail` (memcached's `-D`, `:` by default).
    pub prefix_delimiter: u8,
    /// TLS is on: `refresh_certs` reloads the certificates, and `stats` shows the
    /// TLS counters.
    pub tls: Option<Arc<CertRefresh>>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            settings: Vec::new(),
            threads: 0,
            max_connections: 0,
            shutdown: None,
            idle_timeout: false,
            prefix_delimiter: b':',
            tls: None,
        }
    }
}

/// What `shutdown` calls (with `true` for `shutdown graceful`).
#[derive(Clone)]
pub struct ShutdownHook(pub Arc<dyn Fn(bool) + Send + Sync>);

impl std::fmt::Debug for ShutdownHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShutdownHook")
    }
}

/// The cache service. Clones share the store and the counters.
#[derive(Debug, Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<Store>,
    counters: CommandCounters,
    connections: Arc<ConnectionStats>,
    config: CacheConfig,
    started: Instant,
    started_unix: u64,
    /// A metadump is being written: memcached runs one crawler at a time, and so
    /// at most one dump's lines are held in memory.
    dumping: std::sync::atomic::AtomicBool,
    /// What `slabs`, `lru_crawler` and `cache_memlimit` tune.
    tunables: Tunables,
    /// `stats detail`'s per-prefix counts.
    prefixes: PrefixStats,
    /// `stats sizes_enable` was sent (and no `sizes_disable` since).
    sizes_enabled: std::sync::atomic::AtomicBool,
}

impl Cache {
    /// A cache service over `store`, reporting `connections` in `stats`.
    pub fn new(store: Arc<Store>, connections: Arc<ConnectionStats>, config: CacheConfig) -> Self {
        let started_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Cache {
            inner: Arc::new(Inner {
                store,
                counters: CommandCounters::default(),
                connections,
                started: Instant::now(),
                started_unix,
                dumping: std::sync::atomic::AtomicBool::new(false),
                tunables: Tunables::default(),
                prefixes: PrefixStats::new(config.prefix_delimiter),
                sizes_enabled: std::sync::atomic::AtomicBool::new(false),
                config,
            }),
        }
    }

    /// The store behind the service.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The command counters.
    pub fn counters(&self) -> &CommandCounters {
        &self.inner.counters
    }

    /// `lru_crawler metadump`, answered as memcached does: refused while the crawler
    /// is disabled, `BADCLASS` for a bad class list, `BUSY` while another dump runs.
    fn metadump(&self, scope: &MetadumpScope) -> Response {
        use std::sync::atomic::Ordering;
        if !self.inner.tunables.crawler.is_enabled() {
            return Response::ClientError(admin::CRAWLER_DISABLED.into());
        }
        let classes = match scope {
            MetadumpScope::All => None,
            MetadumpScope::Classes(c) => Some(c.as_slice()),
            MetadumpScope::BadClass => {
                return Response::ErrorLine("BADCLASS invalid class id".into())
            }
        };
        if self.inner.dumping.swap(true, Ordering::Acquire) {
            return Response::ErrorLine("BUSY currently processing crawler request".into());
        }
        let lines = self.inner.store.metadump(classes);
        self.inner.dumping.store(false, Ordering::Release);
        Response::Metadump(lines)
    }

    /// Runs one request against the store.
    pub fn execute(&self, request: Request) -> Response {
        let inner = &*self.inner;
        let (store, counters) = (&*inner.store, &inner.counters);
        let Request { command, form } = request;
        if matches!(form, Form::Meta(_)) && !matches!(command, Command::TooLarge(_)) {
            counters.add(Counter::CmdMeta, 1);
        }
        match command {
            Command::Get(get) => {
                let touching = get.touch.is_some();
                let hits = store.get_many(&get.keys, &get);
                if counts_prefixes(&form) {
                    self.record_gets(&get.keys, &hits);
                }
                // One add per counter per request, not per key: the counters are
                // shared by every worker thread.
                let (asked, found) = (get.keys.len() as u64, hits.len() as u64);
                let (cmd, hit, miss) = if touching {
                    (Counter::CmdTouch, Counter::TouchHits, Counter::TouchMisses)
                } else {
                    (Counter::CmdGet, Counter::GetHits, Counter::GetMisses)
                };
                counters.add(cmd, asked);
                if found > 0 {
                    counters.add(hit, found);
                }
                if asked > found {
                    counters.add(miss, asked - found);
                }
                Response::Values(hits)
            }
            Command::Store(s) => {
                if counts_prefixes(&form) {
                    inner.prefixes.record([(&s.key[..], Event::Set)]);
                }
                let compare = s.cas.is_some() && s.mode == StoreMode::Set;
                let response = store.store_unlinking_on_failure(&s, form.failed_store_unlinks());
                // memcached counts a set once it has room for the value.
                match &response {
                    Response::TooLarge => counters.add(Counter::StoreTooLarge, 1),
                    Response::OutOfMemory => counters.add(Counter::StoreNoMemory, 1),
                    _ => counters.add(Counter::CmdSet, 1),
                }
                match &response {
                    Response::Stored(_) if compare => counters.add(Counter::CasHits, 1),
                    Response::Exists if compare => counters.add(Counter::CasBadval, 1),
                    Response::NotFound if compare => counters.add(Counter::CasMisses, 1),
                    _ => {}
                }
                response
            }
            Command::TooLarge(t) => {
                if counts_prefixes(&form) {
                    inner.prefixes.record([(&t.key[..], Event::Set)]);
                }
                counters.add(Counter::StoreTooLarge, 1);
                store.refuse_too_large(&t, form.failed_store_unlinks())
            }
            Command::Delete(d) => {
                if counts_prefixes(&form) {
                    inner.prefixes.record([(&d.key[..], Event::Delete)]);
                }
                let response = store.delete(&d);
                let counter = match response {
                    Response::Deleted => Counter::DeleteHits,
                    _ => Counter::DeleteMisses,
                };
                counters.add(counter, 1);
                response
            }
            Command::Arith(a) => {
                let response = store.arith(&a);
                let hit = matches!(response, Response::Number(..));
                let counter = match (a.incr, hit) {
                    (true, true) => Counter::IncrHits,
                    (true, false) => Counter::IncrMisses,
                    (false, true) => Counter::DecrHits,
                    (false, false) => Counter::DecrMisses,
                };
                counters.add(counter, 1);
                response
            }
            Command::Touch(t) => {
                counters.add(Counter::CmdTouch, 1);
                let response = store.touch(&t.key, t.exptime);
                let counter = match response {
                    Response::Touched(_) => Counter::TouchHits,
                    _ => Counter::TouchMisses,
                };
                counters.add(counter, 1);
                response
            }
            Command::FlushAll(f) => {
                counters.add(Counter::CmdFlush, 1);
                store.flush_all(f.delay);
                Response::Ok
            }
            Command::Stats(group) if matches!(form, Form::Binary(_)) => {
                groups::binary_stats(self, group.as_deref().unwrap_or_default())
            }
            Command::Stats(group) => groups::stats(self, group.as_deref().unwrap_or_default()),
            Command::Admin(Admin::RefreshCerts) => match &inner.config.tls {
                Some(tls) => tls.refresh(),
                None => cert_refresh::not_enabled(),
            },
            Command::Admin(admin) => inner.tunables.execute(admin, &inner.store),
            Command::Metadump(scope) => self.metadump(&scope),
            Command::Version => Response::Version(Bytes::from_static(VERSION.as_bytes())),
            Command::Verbosity(_) => Response::Ok,
            Command::Noop => Response::Noop,
            // The connection driver closes on quit before it reaches a service.
            Command::Quit => Response::Noop,
            Command::Shutdown { graceful } => match &inner.config.shutdown {
                Some(hook) => {
                    (hook.0)(graceful);
                    Response::Ok
                }
                None => Response::ErrorLine("ERROR: shutdown not enabled".into()),
            },
            Command::Debug(key) => Response::Debug(store.debug(&key)),
            // SASL is refused unless authentication is configured, as memcached does
            // without -S: binary clients read "Unknown command".
            Command::SaslListMechs | Command::SaslAuth(_) | Command::SaslStep(_) => Response::Error,
        }
    }

    /// Counts each key of a get for `stats detail`: a hit if it is among `hits`
    /// (which keep the keys' order, misses left out).
    fn record_gets(&self, keys: &[Bytes], hits: &[memkeep_protocol::Value]) {
        let prefixes = &self.inner.prefixes;
        if !prefixes.enabled() {
            return;
        }
        let mut hits = hits.iter().peekable();
        prefixes.record(keys.iter().map(|key| {
            let hit = hits.next_if(|v| v.key == *key).is_some();
            (&key[..], Event::Get(hit))
        }));
    }
}

/// Whether memcached counts this request in `stats detail`: its classic text and
/// binary commands do, its meta commands do not.
fn counts_prefixes(form: &Form) -> bool {
    match form {
        Form::Text(f) => f.verb != TextVerb::Stats,
        Form::Binary(_) => true,
        Form::Meta(_) => false,
    }
}

impl Service<Request> for Cache {
    type Response = Response;
    type Error = BoxError;
    type Future = Ready<Result<Response, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        ready(Ok(self.execute(request)))
    }
}
