//! Applying what a link brings, and forwarding it: a record received is applied to
//! the store by the conflict rules, and published to this node's backlog (so its
//! other links send it on) only if it was news here. A record that is no news stops,
//! which ends its travel around any cycle of links.

use std::cmp::Ordering as Compared;

use bytes::Bytes;
use memkeep_server::store::Applied;

use crate::node::{Counters, Replication};
use crate::record::{Record, Route};

/// The most links a record crosses: a safety bound on forwarding, far above any
/// sensible topology's diameter (forwarding stops earlier, where a record is no
/// news; this bound holds even where a node forgot it had seen it, an evicted item
/// or a tombstone pushed out).
pub const MAX_LINKS_CROSSED: u8 = 16;

impl Replication {
    /// Applies a change received from the link of peer run `via` to the store, and
    /// forwards it to the other links (publishes it to the backlog with its route)
    /// if it was news here: a newer item, a delete or touch not seen before, a
    /// flush not seen before. A record that is no news stops here, which is what
    /// ends its travel around a cycle of links.
    pub fn apply(&self, record: Record, route: Route, via: u64) {
        let (applied, news) = self.apply_to_store(&record);
        let c = &self.shared.counters;
        Counters::add(
            if applied {
                &c.records_applied
            } else {
                &c.records_refused
            },
            1,
        );
        if news && route.hops + 1 < MAX_LINKS_CROSSED {
            Counters::add(&c.records_forwarded, 1);
            let route = Route {
                origin: route.origin,
                hops: route.hops + 1,
            };
            self.shared.backlog.publish(record, route, via);
        }
    }

    /// Whether the record changed the store, and whether it was news to this node.
    fn apply_to_store(&self, record: &Record) -> (bool, bool) {
        let store = &self.shared.store;
        match record {
            Record::Item {
                key,
                data,
                flags,
                expires,
                cas,
            } => {
                // Checked with the key's shard locked: a delete made here records its
                // tombstone under that lock too, so the item cannot slip in between.
                let deleted_later = || {
                    self.shared
                        .tombstones
                        .lock()
                        .get(key)
                        .is_some_and(|d| d.0 >= *cas)
                };
                // A touch of this very version may have come first (records from
                // two client connections can be published in either order).
                let expires = match self.shared.touches.lock().get(key) {
                    Some(((touched, _), touched_expiry)) if touched == cas => *touched_expiry,
                    _ => *expires,
                };
                match store.apply_unless(key, data, *flags, expires, *cas, deleted_later) {
                    Applied::Newer => (true, true),
                    Applied::Same => (true, false),
                    Applied::Refused => (false, false),
                }
            }
            Record::Delete { key, cas } => {
                let seen = self.shared.tombstones.lock().remember(key, *cas, ());
                let removed = store.apply_delete(key, *cas);
                (removed, removed || seen == Compared::Greater)
            }
            Record::Touch {
                key,
                cas,
                expires,
                stamp,
            } => {
                let seen = self
                    .shared
                    .touches
                    .lock()
                    .remember(key, (*cas, *stamp), *expires);
                let applied =
                    seen != Compared::Less && store.apply_touch(key, *cas, *expires, *stamp);
                (applied, seen == Compared::Greater)
            }
            Record::Flush { at, cas } => {
                let seen = self
                    .shared
                    .flushes
                    .lock()
                    .remember(&flush_key(*at), *cas, ());
                store.apply_flush(*at, *cas);
                (true, seen == Compared::Greater)
            }
        }
    }
}

/// The flushes memory's key for a flush at `at` (0: at once).
pub(crate) fn flush_key(at: u64) -> Bytes {
    Bytes::copy_from_slice(&at.to_be_bytes())
}
