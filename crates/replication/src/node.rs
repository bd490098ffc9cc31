//! The node's replication state, shared by the [`crate::Observe`] layer and the links:
//! the backlog, the warming/synced state, resume cursors per peer run, the links up
//! now, recent deletes (tombstones), touches and flushes, and the counters `stats`
//! shows. What a link brings is applied and forwarded by `forward`.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use memkeep_server::store::Store;
use parking_lot::Mutex;

use crate::backlog::Backlog;
use crate::peer_links::{LinkInfo, PeerLinks};
use crate::recent::RecentVersions;
use crate::record::{Record, Role, Route};

/// How a node replicates. Built by the binary from its flags.
#[derive(Debug, Clone)]
pub struct ReplicationConfig {
    /// How this node takes part.
    pub role: Role,
    /// The peers or the primary it dials (`host:port`), for `stats`.
    pub peers: Vec<String>,
    /// The address this node goes by, announced to its peers for their `stats`:
    /// its replication port, else its client port (may be empty).
    pub announce: String,
    /// Whether the node starts warming: it expects a full copy from a peer before its
    /// data is complete (`-x`, `--replica-of`).
    pub starts_warming: bool,
    /// The backlog's bound in records.
    pub backlog_records: usize,
    /// The backlog's bound in bytes.
    pub backlog_bytes: usize,
    /// How many recent deletes are remembered to refuse older copies of their items.
    pub tombstones: usize,
    /// Most bytes per second a full copy sends (None: as fast as it can). A copy at
    /// full speed takes a core and the link; capping it leaves both to the clients.
    pub copy_bytes_per_second: Option<u64>,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            role: Role::Primary,
            peers: Vec::new(),
            announce: String::new(),
            starts_warming: false,
            backlog_records: 1 << 20,
            backlog_bytes: 64 << 20,
            tombstones: 1 << 16,
            copy_bytes_per_second: None,
        }
    }
}

/// A node's replication state. Clones share it.
#[derive(Debug, Clone)]
pub struct Replication {
    pub(crate) shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<Store>,
    pub(crate) config: ReplicationConfig,
    /// This process's run id: a peer's resume cursor is only valid for the same run.
    pub(crate) run: u64,
    pub(crate) backlog: Backlog,
    warming: AtomicBool,
    /// Per peer run: the next sequence number we lack (0: none, copy needed).
    cursors: Mutex<HashMap<u64, Arc<AtomicU64>>>,
    /// Streaming links: their send cursors, for lag.
    links: Mutex<HashMap<u64, Arc<AtomicU64>>>,
    next_link: AtomicU64,
    /// Links past their handshake, either direction, one per peer.
    pub(crate) peer_links: Arc<PeerLinks>,
    /// Recent deletes by CAS: refuse older copies of a deleted item.
    pub(crate) tombstones: Mutex<RecentVersions<u64>>,
    /// Recent flushes, by their time (0: at once) and CAS: a flush is forwarded once.
    pub(crate) flushes: Mutex<RecentVersions<u64>>,
    /// Recent touches by (version touched, stamp), with the expiry they gave: of two
    /// touches of one item the later wins on both nodes, a touch of a newer version
    /// beats any of an older one, and a touch that arrives before its item is
    /// applied when the item comes.
    pub(crate) touches: Mutex<RecentVersions<(u64, u64), u64>>,
    pub(crate) counters: Counters,
}

/// Cumulative counters for `stats`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub full_copies_sent: AtomicU64,
    pub full_copies_received: AtomicU64,
    pub resumes: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub records_sent: AtomicU64,
    pub records_applied: AtomicU64,
    pub records_refused: AtomicU64,
    pub records_forwarded: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A streaming link's registration; unregisters on drop.
pub(crate) struct LinkGuard {
    shared: Arc<Shared>,
    id: u64,
    pub(crate) cursor: Arc<AtomicU64>,
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        self.shared.links.lock().remove(&self.id);
    }
}

impl Replication {
    /// Replication state over `store`. Switches the store to clock-ordered CAS
    /// uniques, which the conflict rule needs.
    pub fn new(store: Arc<Store>, config: ReplicationConfig) -> Self {
        store.use_clock_cas();
        let run = random_run_id();
        Replication {
            shared: Arc::new(Shared {
                store,
                run,
                backlog: Backlog::new(config.backlog_records, config.backlog_bytes),
                warming: AtomicBool::new(config.starts_warming),
                cursors: Mutex::new(HashMap::new()),
                links: Mutex::new(HashMap::new()),
                next_link: AtomicU64::new(1),
                peer_links: Arc::new(PeerLinks::default()),
                tombstones: Mutex::new(RecentVersions::new(config.tombstones)),
                flushes: Mutex::new(RecentVersions::new(64)),
                touches: Mutex::new(RecentVersions::new(config.tombstones)),
                counters: Counters::default(),
                config,
            }),
        }
    }

    /// The store replicated.
    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    /// Whether the node is still waiting for its first full copy.
    pub fn is_warming(&self) -> bool {
        self.shared.warming.load(Ordering::Acquire)
    }

    /// Marks the node's data complete (a copy or resume finished, or there is no
    /// peer to copy from).
    pub fn set_synced(&self) {
        if self.shared.warming.swap(false, Ordering::AcqRel) {
            tracing::info!("replication synced");
        }
    }

    /// Remembers a delete made here with version `cas`, so that an older copy of the
    /// item arriving from a peer is refused ([`memkeep_server::store::Store::apply_unless`]).
    pub fn remember_delete(&self, key: &Bytes, cas: u64) {
        self.shared.tombstones.lock().remember(key, cas, ());
    }

    /// This node's run id (changes on restart).
    pub fn run_id(&self) -> u64 {
        self.shared.run
    }

    /// The links up now.
    pub fn links(&self) -> Vec<LinkInfo> {
        self.shared.peer_links.infos()
    }

    /// The deletes remembered (the last [`ReplicationConfig::tombstones`] keys), with
    /// their versions: a full copy carries them after the items.
    pub(crate) fn recent_deletes(&self) -> Vec<(Bytes, u64)> {
        self.shared.tombstones.lock().versions()
    }

    /// Queues a change made by this node's clients for every link. Never blocks.
    pub fn publish(&self, record: Record) {
        match &record {
            Record::Delete { key, cas } => {
                self.shared.tombstones.lock().remember(key, *cas, ());
            }
            Record::Touch {
                key,
                cas,
                expires,
                stamp,
            } => {
                self.shared
                    .touches
                    .lock()
                    .remember(key, (*cas, *stamp), *expires);
            }
            Record::Flush { at, cas } => {
                self.shared
                    .flushes
                    .lock()
                    .remember(&crate::forward::flush_key(*at), *cas, ());
            }
            Record::Item { .. } => {}
        }
        let route = Route {
            origin: self.shared.run,
            hops: 0,
        };
        self.shared.backlog.publish(record, route, 0);
    }

    /// The resume cursors held, as (peer run, next sequence lacked), without the
    /// empty ones: what a warm restart keeps so that the restarted node resumes
    /// from its peer's backlog rather than take a full copy. Read it once the links
    /// have stopped, so every record before a cursor is in the store.
    pub fn resume_cursors(&self) -> Vec<(u64, u64)> {
        let cursors = self.shared.cursors.lock();
        cursors
            .iter()
            .map(|(&run, next)| (run, next.load(Ordering::Acquire)))
            .filter(|&(_, next)| next != 0)
            .collect()
    }

    /// Sets the resume cursor for peer run `run`, from a warm restart's snapshot
    /// whose items hold every record of that run before `next`.
    pub fn restore_cursor(&self, run: u64, next: u64) {
        self.cursor(run).store(next, Ordering::Release);
    }

    /// The resume cursor for peer run `run` (0: none).
    pub(crate) fn cursor(&self, run: u64) -> Arc<AtomicU64> {
        self.shared.cursors.lock().entry(run).or_default().clone()
    }

    pub(crate) fn register_link(&self, start: u64) -> LinkGuard {
        let id = self.shared.next_link.fetch_add(1, Ordering::Relaxed);
        let cursor = Arc::new(AtomicU64::new(start));
        self.shared.links.lock().insert(id, cursor.clone());
        LinkGuard {
            shared: self.shared.clone(),
            id,
            cursor,
        }
    }

    /// What the node is now: a replica (`--replica-of`); a pair member (it dials
    /// writable peers, or one has linked to it: the nodes of a repcached pair, or of
    /// a group where each links to the others, and stays one while its peer is
    /// away); else a primary (only replicas follow it, or nothing has linked yet).
    pub fn role(&self) -> Role {
        let s = &*self.shared;
        match s.config.role {
            Role::Replica => Role::Replica,
            _ if !s.config.peers.is_empty() || !s.peer_links.known().is_empty() => Role::Pair,
            _ => Role::Primary,
        }
    }

    /// The writable peers: those dialled (for a replica, its primary) and those
    /// that have linked to this node, by the address they go by.
    pub fn peers(&self) -> Vec<String> {
        let s = &*self.shared;
        let mut peers = s.config.peers.clone();
        if s.config.role != Role::Replica {
            for addr in s.peer_links.known() {
                if !peers.contains(&addr) {
                    peers.push(addr);
                }
            }
        }
        peers
    }

    /// The replicas following this node now.
    pub fn replicas(&self) -> Vec<String> {
        self.shared
            .peer_links
            .infos()
            .into_iter()
            .filter(|l| l.role == Role::Replica && !l.dialled)
            .map(|l| l.addr)
            .collect()
    }

    /// The `stats` lines of replication, in the order shown.
    pub fn stats(&self) -> Vec<(String, String)> {
        let s = &*self.shared;
        let c = &s.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        let next = s.backlog.next_seq();
        let slowest = s
            .links
            .lock()
            .values()
            .map(|c| c.load(Ordering::Relaxed))
            .min();
        let (lag_items, lag_seconds) = match slowest {
            Some(cursor) => (
                next.saturating_sub(cursor),
                s.backlog.age(cursor).map_or(0.0, |d| d.as_secs_f64()),
            ),
            None => (0, 0.0),
        };
        let (backlog_records, backlog_bytes) = s.backlog.len();
        let links = s.peer_links.count();
        let state = if self.is_warming() {
            "warming"
        } else {
            "synced"
        };
        vec![
            ("repl_role".into(), self.role().name().into()),
            ("repl_state".into(), state.into()),
            ("repl_peer".into(), list(self.peers())),
            ("repl_replicas".into(), list(self.replicas())),
            ("repl_links".into(), links.to_string()),
            ("repl_lag_items".into(), lag_items.to_string()),
            ("repl_lag_seconds".into(), format!("{lag_seconds:.3}")),
            ("repl_full_copies_sent".into(), get(&c.full_copies_sent)),
            (
                "repl_full_copies_received".into(),
                get(&c.full_copies_received),
            ),
            ("repl_resumes".into(), get(&c.resumes)),
            ("repl_bytes_sent".into(), get(&c.bytes_sent)),
            ("repl_bytes_received".into(), get(&c.bytes_received)),
            ("repl_records_sent".into(), get(&c.records_sent)),
            ("repl_records_applied".into(), get(&c.records_applied)),
            ("repl_records_refused".into(), get(&c.records_refused)),
            ("repl_records_forwarded".into(), get(&c.records_forwarded)),
            ("repl_backlog_records".into(), backlog_records.to_string()),
            ("repl_backlog_bytes".into(), backlog_bytes.to_string()),
        ]
    }
}

/// A `stats` list: comma-separated, or "none".
fn list(items: Vec<String>) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(",")
    }
}

/// A run id that differs between restarts: time and process id mixed.
fn random_run_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    // splitmix64's finalizer.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (x ^ (x >> 31)).max(1)
}
