//! memkeep's replication: repcached-style pairs (both nodes take writes), groups of
//! more nodes that all take writes, primaries with replicas (of a pair member too),
//! and automatic resync of a node that restarts.
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
//! - A link ([`run_link`]) starts with a handshake (link format version, run id,
//!   role, the address the node goes by, resume cursor), then a full copy of every
//!   live item, or a resume from the backlog when the peer's cursor for our current
//!   run is still on the ring (a short disconnect). The copy begins by noting the
//!   backlog's head; after the last item the stream continues from there, so writes
//!   made during the copy arrive after it.
//! - **Forwarding.** Every record carries its route: the run id of the node that
//!   first accepted the write (its origin) and how many links it crossed. A record
//!   received from a link is applied, and if it was news here (a newer item by the
//!   rule below, a delete, touch or flush not seen before) it is published to this
//!   node's backlog with its route and the link it came by. A link sends every
//!   record of the backlog except those that came by that same link and those
//!   whose origin is the node at its other end. So a write reaches every node
//!   linked to its origin directly or through others: with `A <-> B` a pair and `C`
//!   a replica of `A`, writes made on `B` reach `C` through `A`.
//! - **No loops.** A record that was no news (the node had that version, or a newer
//!   one) is not forwarded again; that alone ends its travel around a cycle of
//!   links (a triangle of three nodes, a ring). Each node forwards each version at
//!   most once while it remembers it; as a bound that holds even when a node forgot
//!   (an evicted item, a tombstone pushed out), a record crosses at most
//!   [`MAX_LINKS_CROSSED`] links. In a group where every node is linked to every
//!   other, a write crosses each link from its origin once and each other link at
//!   most once each way.
//! - **One link per pair of nodes.** In a group every node dials the others (`-x`
//!   once per peer), so two nodes may dial each other at once; both keep the link
//!   dialled by the node with the larger run id and drop the other. A node does not
//!   dial an address while a link to the node there is up.
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
//!   is removed on the receiving side but by the deletes the copy carries after its
//!   items: the sender's remembered deletes (tombstones), each of which removes only
//!   an older version of its key. So a node that was away (restarted, or cut off
//!   past the backlog) learns of the deletes made meanwhile and passes them on: in a
//!   chain `A - B - C` whose middle node restarts, a key deleted on `C` while `B` was
//!   down is deleted on `A` too. A restarted node starts empty, so it has
//!   nothing stale to push back, and its (empty) copy cannot wipe its peer; keys
//!   deleted while it was away are not in the survivor's copy, so they do not return.
//! - **Warm restarts.** A node restarted from a snapshot (memkeepd's `-e`) holds
//!   the items it had and the cursors it held
//!   ([`Replication::resume_cursors`], [`Replication::restore_cursor`]), so it asks
//!   its peer to resume from the backlog: deletes made there while it was away
//!   arrive as records. Past the backlog it takes a full copy, which removes what
//!   it restored only where the copy's deletes say so: a key deleted on the peer
//!   meanwhile is removed if the peer still remembers the delete (its last 65,536),
//!   else it stays on the restarted node, as with memcached's warm restart. Its own
//!   copy to the peer (its run is new) is refused key by key by the peer's
//!   tombstones.
//! - **Warming.** A node started with peers to copy from (`-x`, `--replica-of`) is
//!   `warming` until it has received a full copy (or a resume) from one of them.
//!   While warming it answers every get with `SERVER_ERROR warming` (the signal a
//!   proxy routes around: memkeep-proxy's failover treats it as a failed read) and
//!   still takes writes, which replicate. A pair or group node none of whose peers
//!   can be reached serves alone at once (`synced`), as repcached does; a replica
//!   waits for its primary. A node without a peer address (the first of a pair, a
//!   primary) is `synced` from the start: restart a pair or group member with `-x`
//!   pointing at the survivors, as repcached asks.
//! - **Roles.** Pair and group nodes and a primary exchange streams both ways. A
//!   replica receives its primary's stream and sends nothing back; it forwards what
//!   it receives to replicas of its own (a chain).
//! - **Writes lost with a node.** Replication is asynchronous: a node acknowledges a
//!   write before any peer has it. A write acknowledged by a node that is killed
//!   before its link sent it (at most `repl_lag_items` writes, `repl_lag_seconds`
//!   old, at the moment it died) is lost; every write that reached one surviving
//!   node reaches all of them. A node sends its writes in the order it accepted
//!   them, so of one client connection's writes the ones that survive are always
//!   all those before some point, never a later one without an earlier one.
//! - `stats` (through [`Observe`]) adds `repl_role` (`pair` for a node that
//!   exchanges writes with peers, a group member too; `primary`; `replica`),
//!   `repl_state` (`warming` | `synced`), `repl_peer` (the writable peers, or a
//!   replica's primary), `repl_replicas` (the replicas following the node),
//!   `repl_links`, `repl_lag_items` and `repl_lag_seconds` (records not yet sent by
//!   the slowest link, and the age of the oldest), `repl_full_copies_sent`/
//!   `_received`, `repl_resumes`, `repl_bytes_sent`/`_received`, record counts
//!   (forwarded ones too) and the backlog's size.
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
//! - The items of a full copy that are news to the receiver are forwarded like any
//!   record: a node that restarts in a group of three gets a copy from each peer and
//!   passes the first one's items on to the other (which has them and stops them).
//!   With a store larger than the backlog this makes the restarted node's link to
//!   that peer fall behind its backlog and send a full copy: twice the copy
//!   traffic of a pair, never a lost write.
//! - The backlog holds every change to the node's store, its peers' writes that it
//!   applied as well as its own (a replica that joins later, or a peer that resumes,
//!   needs them all): with both nodes of a pair writing, a backlog of a given size
//!   covers half the time it would for one node's writes alone.
//! - The link format is versioned in the hello (now [`LINK_VERSION`] 3, which added
//!   the routes). A node refuses a peer of another version and logs "the peer
//!   speaks link format 2, this node 3: link refused"; the older node logs a bad
//!   frame (magic). Upgrade every node of a pair or group together.

mod backlog;
mod forward;
mod link;
mod node;
mod observe;
mod peer;
mod peer_links;
mod recent;
mod record;
mod resolve;
mod tls;

pub use backlog::{Backlog, Entry, Lost};
pub use forward::MAX_LINKS_CROSSED;
pub use link::{run_link, run_link_over, LinkError, Side};
pub use node::{Replication, ReplicationConfig};
pub use observe::{Observe, ObserveLayer, ResponseFuture, WARMING};
pub use peer::{run, Peers};
pub use peer_links::LinkInfo;
pub use record::{BadFrame, Frame, Record, Role, Route, LINK_VERSION, MAX_FRAME};
pub use resolve::Resolve;
pub use tls::LinkTls;
