//! `stats detail`: per-prefix counts of gets, hits, sets and deletes, kept while
//! `stats detail on` (off at start, as in memcached). A key's prefix is what
//! comes before the first delimiter (`:` unless configured, memcached's `-D`); keys
//! without one are not counted. As in memcached only the classic text commands
//! (get, gets, gat, gats; set, add, replace, append, prepend, cas; delete) and their
//! binary counterparts count, not the meta ones, incr/decr or touch.
//!
//! memcached keeps every prefix it ever sees; here at most [`MAX_PREFIXES`] are
//! tracked, so a client cannot grow the table without bound: the counts of prefixes
//! first seen past that are dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;

/// The most prefixes tracked at once.
pub const MAX_PREFIXES: usize = 10_000;

/// What happened to a key, for its prefix's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    /// Fetched; `true` when it was found.
    Get(bool),
    /// Stored (attempted, as memcached counts before it allocates).
    Set,
    /// Deleted (attempted).
    Delete,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    gets: u64,
    hits: u64,
    sets: u64,
    deletes: u64,
}

/// The per-prefix counts.
#[derive(Debug)]
pub(super) struct PrefixStats {
    enabled: AtomicBool,
    delimiter: u8,
    table: Mutex<HashMap<Bytes, Counts>>,
}

impl PrefixStats {
    pub(super) fn new(delimiter: u8) -> Self {
        PrefixStats {
            enabled: AtomicBool::new(false),
            delimiter,
            table: Mutex::default(),
        }
    }

    /// `stats detail on|off`. Turning counting off keeps the counts.
    pub(super) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub(super) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The delimiter, for `stats settings` (`stat_key_prefix`).
    pub(super) fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Counts `event` for each key's prefix, if counting is on.
    pub(super) fn record<'a>(&self, keys: impl IntoIterator<Item = (&'a [u8], Event)>) {
        if !self.enabled() {
            return;
        }
        let mut table = self.table.lock();
        for (key, event) in keys {
            let Some(end) = key.iter().position(|&b| b == self.delimiter) else {
                continue;
            };
            let prefix = &key[..end];
            if !table.contains_key(prefix) {
                if table.len() >= MAX_PREFIXES {
                    continue;
                }
                table.insert(Bytes::copy_from_slice(prefix), Counts::default());
            }
            let Some(counts) = table.get_mut(prefix) else {
                continue;
            };
            match event {
                Event::Get(hit) => {
                    counts.gets += 1;
                    counts.hits += u64::from(hit);
                }
                Event::Set => counts.sets += 1,
                Event::Delete => counts.deletes += 1,
            }
        }
    }

    /// `stats detail dump`: `PREFIX <prefix> get <n> hit <n> set <n> del <n>` lines
    /// (sorted by prefix; memcached lists them in its hash table's order) and `END`.
    pub(super) fn dump(&self) -> Bytes {
        let table = self.table.lock();
        let mut prefixes: Vec<_> = table.iter().collect();
        prefixes.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = BytesMut::new();
        for (prefix, c) in prefixes {
            out.put_slice(b"PREFIX ");
            out.put_slice(prefix);
            let counts = format!(
                " get {} hit {} set {} del {}\r\n",
                c.gets, c.hits, c.sets, c.deletes
            );
            out.put_slice(counts.as_bytes());
        }
        out.put_slice(b"END\r\n");
        out.freeze()
    }

    /// Forgets every count (`stats reset`).
    pub(super) fn clear(&self) {
        self.table.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_prefix_while_enabled() {
        let stats = PrefixStats::new(b':');
        stats.record([(&b"a:1"[..], Event::Set)]);
        stats.set_enabled(true);
        stats.record([
            (&b"a:1"[..], Event::Get(true)),
            (b"a:2", Event::Get(false)),
            (b"b", Event::Get(false)),
            (b":x", Event::Get(false)),
            (b"c::", Event::Set),
            (b"a:2", Event::Delete),
        ]);
        assert_eq!(
            &stats.dump()[..],
            b"PREFIX  get 1 hit 0 set 0 del 0\r\nPREFIX a get 2 hit 1 set 0 del 1\r\nPREFIX c get 0 hit 0 set 1 del 0\r\nEND\r\n"
        );
        stats.clear();
        assert_eq!(&stats.dump()[..], b"END\r\n");
    }

    #[test]
    fn the_table_is_bounded() {
        let stats = PrefixStats::new(b':');
        stats.set_enabled(true);
        for i in 0..MAX_PREFIXES + 10 {
            stats.record([(format!("p{i}:k").as_bytes(), Event::Set)]);
        }
        assert_eq!(stats.table.lock().len(), MAX_PREFIXES);
    }
}
