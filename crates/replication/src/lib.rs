//! memkeep's replication: repcached-style pairs (both nodes take writes), a primary
//! with replicas, and automatic resync of a node that restarts.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use memkeep_protocol::{Command, Form, Request, Response, Store as Set, TextForm, TextVerb};
//! use memkeep_replication::{Observe, Replication, ReplicationConfig};
//! use memkeep_server::cache::{Cache, CacheConfig};
//! use memkeep_server::store::{Store, StoreConfig};
//! use tower::{Service, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = Arc::new(Store::new(StoreConfig::default()));
//! let cache = Cache::new(store.clone(), Default::default(), CacheConfig::default());
//! let replication = Replication::new(store, ReplicationConfig::default());
//! let mut service = Observe::new(cache, replication.clone());
//! let set = Set { key: Bytes::from_static(b"k"), data: Bytes::from_static(b"v"), ..Set::default() };
//! let request = Request { command: Command::Store(set), form: Form::Text(TextForm { verb: TextVerb::Set, noreply: false }) };
//! let response = service.ready().await.unwrap().call(request).await.unwrap();
//! assert!(matches!(response, Response::Stored(_)));
//! // The set is queued for the peer links:
//! assert_eq!(replication.stats().iter().find(|(k, _)| k == "repl_backlog_records").unwrap().1, "1");
//! # });
//! ```
//!
//! # How it works
//!
//! - [`Observe`] wraps the cache service. After a mutation succeeds (stored, deleted,
//!   touched, incr/decr, gat, mg vivify, flush_all) it publishes the key's new state
//!   (value, flags, absolute expiry, CAS) to the [`Backlog`], a bounded ring of
//!   numbered records. Publishing never waits for a link.
//! - Every link reads the backlog through its own cursor, so the ring is each link's
//!   bounded queue. A link that falls off the ring's tail does a full copy again:
//!   writes are never dropped silently.
//! - A link ([`run_link`]) starts with a handshake (run id, role, resume cursor), then
//!   a full copy of every live item, or a resume from the backlog when the peer's
//!   cursor for our current run is still on the ring (a short disconnect). The copy
//!   begins by noting the backlog's head; after the last item the stream continues
//!   from there, so writes made during the copy arrive after it.
//! - Records received from a link are applied to the store directly, never
//!   re-published: a pair does not echo, and a replica's writes stay local.
//!
//! # Rules
//!
//! - **Conflicts: last writer wins by CAS.** With replication on, CAS uniques are a
//!   hybrid logical clock ([`memkeep_server::store::Store::use_clock_cas`]): wall-clock
//!   microseconds, pushed forward by every CAS seen from a peer. A replicated item
//!   replaces the local one only if its CAS is larger; on an equal CAS the bytewise
//!   larger value wins, and an equal value takes the incoming flags and expiry. Both
//!   nodes apply the same rule to the same pair of versions, so they converge. Items
//!   keep their CAS across nodes: `gets` on one node and `cas` on the other works.
//! - **Deletes** travel with a fresh CAS, taken while the key's shard is locked (so
//!   it is newer than every version the key had there and older than any later
//!   write), and remove only older items. The node remembers the last 65,536 deletes
//!   (tombstones) and refuses an item from its peer (streamed or copied) that is
//!   older than a remembered delete of its key. A local delete records its tombstone
//!   with the key's shard still locked, and an incoming item is checked against the
//!   tombstones under that same lock ([`memkeep_server::store::Store::apply_unless`]),
//!   so an item cannot slip in between a delete and its tombstone.
//! - **Touches** (touch, gat, `mg T`) keep the item's CAS, as memcached does, so they
//!   travel as their own record: the version touched, the new expiry and a stamp from
//!   the CAS clock. Of two touches of one item the later stamp wins on both nodes; a
//!   touch of a newer version beats any touch of an older one; a touch that arrives
//!   before the item it touched (two client connections may publish in either
//!   order) is remembered (the last 65,536) and applied when the item comes.
//! - **Full copies merge, never wipe.** Items are applied by the rule above; nothing
//!   is removed on the receiving side. A restarted node starts empty, so it has
//!   nothing stale to push back, and its (empty) copy cannot wipe its peer; keys
//!   deleted while it was away are not in the survivor's copy, so they do not return.
//! - **Warming.** A node started with a peer to copy from (`-x`, `--replica-of`) is
//!   `warming` until it has received a full copy (or a resume). While warming it
//!   answers every get with `SERVER_ERROR warming` (the signal a proxy routes around:
//!   memkeep-proxy's failover treats it as a failed read) and still takes writes,
//!   which replicate. A pair node whose peer cannot be reached serves alone at once
//!   (`synced`), as repcached does; a replica waits for its primary. A node without a
//!   peer address (the first of a pair, a primary) is `synced` from the start: restart
//!   a pair member with `-x` pointing at the survivor, as repcached asks.
//! - **Roles.** Pair nodes and a primary exchange streams both ways. A replica
//!   receives its primary's stream and sends nothing back.
//! - `stats` (through [`Observe`]) adds `repl_role`, `repl_state` (`warming` |
//!   `synced`), `repl_peer`, `repl_links`, `repl_lag_items` and `repl_lag_seconds`
//!   (records not yet sent by the slowest link, and the age of the oldest),
//!   `repl_full_copies_sent`/`_received`, `repl_resumes`, `repl_bytes_sent`/
//!   `_received`, record counts and the backlog's size.
//!
//! # Known limits
//!
//! - A flush replicates as "flush items older than CAS x", so it also removes the
//!   peer's older items, as intended; a delayed flush replicates its absolute time.
//! - md `I` (mark stale) replicates the item with its new CAS but not the stale bit.
//! - A full copy is not a snapshot. It walks each store shard in 1,024 pieces of its
//!   hash-tag space ([`memkeep_server::store::Store::for_each_live`]): a piece's items
//!   (about a thousand at a million items per shard) are copied out under the shard's
//!   lock, then encoded and sent after it is released, so the copied node's clients
//!   wait for one piece at most, never for a whole shard. An item written or deleted
//!   during the copy may be sent in either state; the stream that follows the copy
//!   (from the backlog head noted when it began) settles it.
//! - The copy runs on a blocking thread as fast as it can: on a busy machine it takes
//!   a core from the copied node's clients. `copy_bytes_per_second`
//!   ([`ReplicationConfig`], memkeepd's `--replication-copy-mbps`) caps it;
//!   BENCHMARKS.md has the figures (`benches/full_copy.py`).
//! - Binary clients see `SERVER_ERROR warming` as status 0x82 (out of memory), the
//!   binary protocol's only server-error status.
//! - Tombstones are bounded: after a partition longer than the backlog in which
//!   both sides kept writing, a delete older than the last 65,536 can lose to a copy.

mod backlog;
mod link;
mod node;
mod observe;
mod peer;
mod peer_links;
mod recent;
mod record;
mod tls;

pub use backlog::{Backlog, Entry, Lost};
pub use link::{run_link, run_link_over, LinkError, Side};
pub use node::{Replication, ReplicationConfig, MAX_LINKS_CROSSED};
pub use observe::{Observe, ObserveLayer, ResponseFuture, WARMING};
pub use peer::{run, Peers};
pub use peer_links::LinkInfo;
pub use record::{BadFrame, Frame, Record, Role, Route, LINK_VERSION, MAX_FRAME};
pub use tls::LinkTls;
