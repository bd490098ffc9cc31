//! The writes one server missed, kept per key (the last one wins) until they are
//! replayed to it: a bounded map, with the ordering rules that keep a replay from
//! undoing a newer write or bringing a deleted key back.

use std::collections::HashMap;

use bytes::Bytes;
use memkeep_protocol::{Command, Form, Request, Store, StoreMode, TextForm, TextVerb};

use crate::layer::write_back::{unix_now, MAX_RELATIVE_EXPTIME};

/// What a server is owed for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Missed {
    /// Store this value (a missed `set`, expiry made absolute when it was missed).
    Set {
        /// The client's flags.
        flags: u32,
        /// memcached's expiry: 0, or a unix time.
        exptime: i64,
        /// The value.
        data: Bytes,
    },
    /// Store this value unless the server has the key (a missed `add`, or a hit
    /// read-repair could not write back): never overwrites.
    Add {
        /// The client's flags.
        flags: u32,
        /// memcached's expiry: 0, or a unix time.
        exptime: i64,
        /// The value.
        data: Bytes,
    },
    /// Remove the key: a missed `delete` (a tombstone), or a missed write whose
    /// outcome depends on what the server held (`replace`, `cas`, `append`,
    /// `prepend`, `incr`/`decr`, `touch`): the server drops its copy rather than keep
    /// one the client's write did not leave, and read-repair copies the key back.
    Delete,
}

/// What a failed request means for the server that missed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MissedRequest {
    /// One key's write.
    Key(Bytes, Missed),
    /// `flush_all` with this delay.
    Flush(i64),
}

impl MissedRequest {
    /// What `command` leaves the server owing if it missed it; `None` for requests
    /// that change nothing.
    pub(crate) fn of(command: &Command) -> Option<MissedRequest> {
        Some(match command {
            Command::Store(store) => {
                let Store {
                    mode, key, flags, ..
                } = store;
                let exptime = absolute(store.exptime);
                let data = store.data.clone();
                let plain = store.cas.is_none() && !store.invalidate;
                let missed = match mode {
                    StoreMode::Set if plain => Missed::Set {
                        flags: *flags,
                        exptime,
                        data,
                    },
                    StoreMode::Add if plain => Missed::Add {
                        flags: *flags,
                        exptime,
                        data,
                    },
                    _ => Missed::Delete,
                };
                MissedRequest::Key(key.clone(), missed)
            }
            Command::Delete(delete) => MissedRequest::Key(delete.key.clone(), Missed::Delete),
            Command::Arith(arith) => MissedRequest::Key(arith.key.clone(), Missed::Delete),
            Command::Touch(touch) => MissedRequest::Key(touch.key.clone(), Missed::Delete),
            Command::FlushAll(flush) => MissedRequest::Flush(flush.delay),
            _ => return None,
        })
    }
}

/// A relative expiry as the unix time it stands for, so a replay later does not
/// make the item outlive the copy the client wrote.
fn absolute(exptime: i64) -> i64 {
    if exptime > 0 && exptime <= MAX_RELATIVE_EXPTIME {
        unix_now() + exptime
    } else {
        exptime
    }
}

impl Missed {
    /// The request that replays it (never `noreply`: the reply says it landed).
    pub(crate) fn request(&self, key: &Bytes) -> Request {
        let (mode, verb, flags, exptime, data) = match self {
            Missed::Delete => {
                return Request {
                    command: Command::Delete(memkeep_protocol::Delete {
                        key: key.clone(),
                        ..Default::default()
                    }),
                    form: text(TextVerb::Delete),
                }
            }
            Missed::Set {
                flags,
                exptime,
                data,
            } => (StoreMode::Set, TextVerb::Set, flags, exptime, data),
            Missed::Add {
                flags,
                exptime,
                data,
            } => (StoreMode::Add, TextVerb::Add, flags, exptime, data),
        };
        Request {
            command: Command::Store(Store {
                mode,
                key: key.clone(),
                flags: *flags,
                exptime: *exptime,
                data: data.clone(),
                ..Store::default()
            }),
            form: text(verb),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Missed::Set { data, .. } | Missed::Add { data, .. } => data.len(),
            Missed::Delete => 0,
        }
    }
}

/// The request that replays a missed `flush_all`.
pub(crate) fn flush_request(delay: i64) -> Request {
    Request {
        command: Command::FlushAll(memkeep_protocol::FlushAll { delay }),
        form: text(TextVerb::FlushAll),
    }
}

fn text(verb: TextVerb) -> Form {
    Form::Text(TextForm {
        verb,
        noreply: false,
    })
}

/// Bounds on what one server's queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissedLimits {
    /// Most keys queued.
    pub keys: usize,
    /// Most bytes of keys and values queued.
    pub bytes: usize,
}

/// What [`MissedWrites::record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// Queued (or merged into what was queued).
    Queued,
    /// A newer write of the key is queued or being replayed: this one is moot.
    Stale,
    /// The queue is full: the write is lost for this server.
    Dropped,
}

struct Entry {
    missed: Missed,
    /// The order the write was made in, among all writes to the server.
    seq: u64,
}

/// One batch of the queue taken for replay.
pub(crate) enum Batch {
    /// Replay `flush_all` first: it clears what was queued before it.
    Flush(i64),
    /// Replay these keys' writes, in any order (one write per key).
    Keys(Vec<(Bytes, Missed, u64)>),
}

/// The writes a server missed.
pub(crate) struct MissedWrites {
    limits: MissedLimits,
    flush: Option<i64>,
    entries: HashMap<Bytes, Entry>,
    bytes: usize,
    /// Keys taken for replay and not answered yet, with their order.
    replaying: HashMap<Bytes, u64>,
}

impl MissedWrites {
    pub(crate) fn new(limits: MissedLimits) -> Self {
        MissedWrites {
            limits,
            flush: None,
            entries: HashMap::new(),
            bytes: 0,
            replaying: HashMap::new(),
        }
    }

    /// Nothing is owed and nothing is being replayed: the server is in step.
    pub(crate) fn is_empty(&self) -> bool {
        self.flush.is_none() && self.entries.is_empty() && self.replaying.is_empty()
    }

    /// Keys owed (queued or being replayed), plus a pending `flush_all`.
    pub(crate) fn len(&self) -> usize {
        self.entries.len() + self.replaying.len() + usize::from(self.flush.is_some())
    }

    /// Records a write the server missed, made `seq`-th.
    pub(crate) fn record(&mut self, missed: MissedRequest, seq: u64) -> Recorded {
        let (key, missed) = match missed {
            MissedRequest::Flush(delay) => {
                // Everything queued before it is flushed anyway.
                self.entries.clear();
                self.bytes = 0;
                self.flush = Some(delay);
                return Recorded::Queued;
            }
            MissedRequest::Key(key, missed) => (key, missed),
        };
        if self.replaying.get(&key).is_some_and(|&s| s > seq) {
            return Recorded::Stale;
        }
        let size = key.len() + missed.bytes();
        if let Some(entry) = self.entries.get_mut(&key) {
            // A queued `add` is the weakest write: any other replaces it, whenever
            // made (it may come from a read that raced a delete).
            let weakest = matches!(entry.missed, Missed::Add { .. });
            if entry.seq > seq && !weakest {
                return Recorded::Stale;
            }
            // An `add` changes nothing the queued write leaves: after a queued
            // set it would not store, after a queued delete the key may have been
            // re-added elsewhere, which read-repair copies.
            if matches!(missed, Missed::Add { .. }) {
                return Recorded::Queued;
            }
            self.bytes = self.bytes - (key.len() + entry.missed.bytes()) + size;
            *entry = Entry { missed, seq };
            return Recorded::Queued;
        }
        if self.entries.len() >= self.limits.keys || self.bytes + size > self.limits.bytes {
            return Recorded::Dropped;
        }
        self.bytes += size;
        self.entries.insert(key, Entry { missed, seq });
        Recorded::Queued
    }

    /// A write of `key` made `seq`-th reached the server: an older queued write of
    /// the key must not be replayed over it.
    pub(crate) fn landed(&mut self, key: &Bytes, seq: u64) {
        if self.entries.get(key).is_some_and(|e| e.seq < seq) {
            let entry = self.entries.remove(key).expect("present");
            self.bytes -= key.len() + entry.missed.bytes();
        }
    }

    /// Takes up to `n` writes to replay; `None` when nothing is queued.
    pub(crate) fn take(&mut self, n: usize) -> Option<Batch> {
        if let Some(delay) = self.flush.take() {
            return Some(Batch::Flush(delay));
        }
        if self.entries.is_empty() {
            return None;
        }
        let keys: Vec<Bytes> = self.entries.keys().take(n).cloned().collect();
        let batch = keys
            .into_iter()
            .map(|key| {
                let entry = self.entries.remove(&key).expect("listed");
                self.bytes -= key.len() + entry.missed.bytes();
                // An `add` being replayed makes no other write stale (see `record`).
                let order = match entry.missed {
                    Missed::Add { .. } => 0,
                    _ => entry.seq,
                };
                self.replaying.insert(key.clone(), order);
                (key, entry.missed, entry.seq)
            })
            .collect();
        Some(Batch::Keys(batch))
    }

    /// A replayed `flush_all` did not reach the server: it is owed again.
    pub(crate) fn flush_failed(&mut self, delay: i64) {
        // Writes queued since were made after it: they stay, and replay after it.
        self.flush.get_or_insert(delay);
    }

    /// The replay of `key`'s write came back; when it did not reach the server it is
    /// owed again, unless a newer write of the key was queued meanwhile.
    pub(crate) fn replayed(&mut self, key: Bytes, missed: Missed, seq: u64, reached: bool) {
        self.replaying.remove(&key);
        if !reached && !self.entries.contains_key(&key) {
            self.bytes += key.len() + missed.bytes();
            self.entries.insert(key, Entry { missed, seq });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOMY: MissedLimits = MissedLimits {
        keys: 100,
        bytes: 1 << 20,
    };

    fn set(data: &'static str) -> Missed {
        Missed::Set {
            flags: 0,
            exptime: 0,
            data: Bytes::from_static(data.as_bytes()),
        }
    }

    fn key(k: &'static str, missed: Missed) -> MissedRequest {
        MissedRequest::Key(Bytes::from_static(k.as_bytes()), missed)
    }

    fn drain(q: &mut MissedWrites) -> Vec<(String, Missed)> {
        let mut all = Vec::new();
        while let Some(batch) = q.take(10) {
            let Batch::Keys(batch) = batch else {
                panic!("no flush queued")
            };
            for (k, m, seq) in batch {
                all.push((String::from_utf8_lossy(&k).into_owned(), m.clone()));
                q.replayed(k, m, seq, true);
            }
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    #[test]
    fn the_last_write_of_a_key_wins_by_the_order_it_was_made() {
        let mut q = MissedWrites::new(ROOMY);
        assert_eq!(q.record(key("a", set("1")), 1), Recorded::Queued);
        assert_eq!(q.record(key("a", Missed::Delete), 3), Recorded::Queued);
        // A failure reported late, for a write made before the delete.
        assert_eq!(q.record(key("a", set("2")), 2), Recorded::Stale);
        assert_eq!(q.record(key("b", Missed::Delete), 4), Recorded::Queued);
        assert_eq!(q.record(key("b", set("3")), 5), Recorded::Queued);
        assert_eq!(
            drain(&mut q),
            [("a".into(), Missed::Delete), ("b".into(), set("3"))]
        );
        assert!(q.is_empty());
    }

    #[test]
    fn an_add_never_replaces_what_is_queued() {
        let mut q = MissedWrites::new(ROOMY);
        q.record(key("a", Missed::Delete), 1);
        let add = Missed::Add {
            flags: 0,
            exptime: 0,
            data: Bytes::from_static(b"old"),
        };
        q.record(key("a", add.clone()), 2);
        q.record(key("b", add.clone()), 3);
        assert_eq!(
            drain(&mut q),
            [("a".into(), Missed::Delete), ("b".into(), add)]
        );
    }

    #[test]
    fn any_other_write_replaces_a_queued_add_whenever_made() {
        let mut q = MissedWrites::new(ROOMY);
        let add = Missed::Add {
            flags: 0,
            exptime: 0,
            data: Bytes::from_static(b"old"),
        };
        q.record(key("a", add), 5);
        assert_eq!(q.record(key("a", Missed::Delete), 4), Recorded::Queued);
        assert_eq!(drain(&mut q), [("a".into(), Missed::Delete)]);
    }

    #[test]
    fn a_write_that_landed_supersedes_an_older_queued_one() {
        let mut q = MissedWrites::new(ROOMY);
        q.record(key("a", set("1")), 1);
        q.landed(&Bytes::from_static(b"a"), 2);
        assert!(q.is_empty());
    }

    #[test]
    fn a_failed_replay_is_owed_again_unless_something_newer_came() {
        let mut q = MissedWrites::new(ROOMY);
        q.record(key("a", set("1")), 1);
        q.record(key("b", set("1")), 2);
        let Some(Batch::Keys(batch)) = q.take(10) else {
            panic!("two keys queued")
        };
        // While the batch is out: a newer write of a, an older one of b.
        assert_eq!(q.record(key("a", set("2")), 3), Recorded::Queued);
        assert_eq!(q.record(key("b", set("0")), 0), Recorded::Stale);
        assert!(!q.is_empty());
        for (k, m, seq) in batch {
            q.replayed(k, m, seq, false);
        }
        assert_eq!(
            drain(&mut q),
            [("a".into(), set("2")), ("b".into(), set("1"))]
        );
    }

    #[test]
    fn flush_clears_what_came_before_and_replays_first() {
        let mut q = MissedWrites::new(ROOMY);
        q.record(key("a", set("1")), 1);
        q.record(MissedRequest::Flush(0), 2);
        q.record(key("b", set("2")), 3);
        assert!(matches!(q.take(10), Some(Batch::Flush(0))));
        assert_eq!(drain(&mut q), [("b".into(), set("2"))]);
    }

    #[test]
    fn past_the_bound_new_keys_are_dropped_and_queued_ones_still_update() {
        let mut q = MissedWrites::new(MissedLimits { keys: 2, bytes: 64 });
        q.record(key("a", set("1")), 1);
        q.record(key("b", set("1")), 2);
        assert_eq!(q.record(key("c", set("1")), 3), Recorded::Dropped);
        assert_eq!(q.record(key("a", Missed::Delete), 4), Recorded::Queued);
        assert_eq!(q.len(), 2);
        let mut small = MissedWrites::new(MissedLimits { keys: 10, bytes: 4 });
        assert_eq!(small.record(key("a", set("12345")), 1), Recorded::Dropped);
    }

    #[test]
    fn requests_map_to_what_a_replay_must_do() {
        use memkeep_protocol::{Arith, Delete};
        let store = |mode, cas| {
            Command::Store(Store {
                mode,
                key: Bytes::from_static(b"k"),
                exptime: 100,
                data: Bytes::from_static(b"v"),
                cas,
                ..Store::default()
            })
        };
        let Some(MissedRequest::Key(_, Missed::Set { exptime, .. })) =
            MissedRequest::of(&store(StoreMode::Set, None))
        else {
            panic!("a set replays as a set")
        };
        assert!(exptime > MAX_RELATIVE_EXPTIME, "made absolute: {exptime}");
        for command in [
            store(StoreMode::Append, None),
            store(StoreMode::Replace, None),
            store(StoreMode::Set, Some(7)),
            Command::Arith(Arith {
                key: Bytes::from_static(b"k"),
                incr: true,
                delta: 1,
                ..Arith::default()
            }),
            Command::Delete(Delete {
                key: Bytes::from_static(b"k"),
                ..Delete::default()
            }),
        ] {
            assert_eq!(
                MissedRequest::of(&command),
                Some(MissedRequest::Key(Bytes::from_static(b"k"), Missed::Delete)),
                "{command:?}"
            );
        }
        assert_eq!(MissedRequest::of(&Command::Version), None);
    }
}
