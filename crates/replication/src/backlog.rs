//! The backlog: a bounded ring of the most recent records, numbered. Every link reads
//! it through its own cursor, so the ring is also each link's queue: a link whose
//! cursor falls off the ring's tail has lost records and must do a full copy, and a
//! peer that reconnects with a cursor still on the ring resumes from it.
//!
//! The ring holds every change to this node's store: its own clients' writes and the
//! records received from links that were new here, each with its route and the link
//! it came by, so a link can leave out what its peer already has.

use std::collections::VecDeque;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::record::{Record, Route};

/// One record on the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its sequence number.
    pub seq: u64,
    /// The change.
    pub record: Record,
    /// Where it comes from.
    pub route: Route,
    /// The run id of the peer whose link brought it (0: this node's clients).
    pub via: u64,
}

/// The records at `from` have left the ring: a full copy is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost;

/// A bounded, numbered ring of recent records. Sequence numbers start at 1.
#[derive(Debug)]
pub struct Backlog {
    ring: Mutex<Ring>,
    published: Notify,
}

#[derive(Debug)]
struct Ring {
    records: VecDeque<(Instant, Entry)>,
    next_seq: u64,
    bytes: usize,
    max_bytes: usize,
    max_records: usize,
}

impl Backlog {
    /// A ring holding at most `max_records` records and about `max_bytes` bytes.
    pub fn new(max_records: usize, max_bytes: usize) -> Self {
        Backlog {
            ring: Mutex::new(Ring {
                records: VecDeque::new(),
                next_seq: 1,
                bytes: 0,
                max_bytes,
                max_records: max_records.max(1),
            }),
            published: Notify::new(),
        }
    }

    /// Appends a record that came by `route` (through the link of peer run `via`, 0
    /// for a local write), dropping the oldest ones past the bounds; never blocks on
    /// readers. Wakes every waiting link.
    pub fn publish(&self, record: Record, route: Route, via: u64) {
        {
            let mut ring = self.ring.lock();
            let seq = ring.next_seq;
            ring.next_seq += 1;
            ring.bytes += record.size();
            let entry = Entry {
                seq,
                record,
                route,
                via,
            };
            ring.records.push_back((Instant::now(), entry));
            while ring.records.len() > ring.max_records
                || (ring.bytes > ring.max_bytes && ring.records.len() > 1)
            {
                if let Some((_, old)) = ring.records.pop_front() {
                    ring.bytes -= old.record.size();
                }
            }
        }
        self.published.notify_waiters();
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.ring.lock().next_seq
    }

    /// Whether a reader can continue at `seq` without a full copy.
    pub fn holds(&self, seq: u64) -> bool {
        let ring = self.ring.lock();
        seq <= ring.next_seq && seq >= ring.oldest()
    }

    /// Copies up to `max` records from `from` on into `out`.
    pub fn read(&self, from: u64, max: usize, out: &mut Vec<Entry>) -> Result<(), Lost> {
        let ring = self.ring.lock();
        if from < ring.oldest() {
            return Err(Lost);
        }
        let skip = (from - ring.oldest()) as usize;
        out.extend(
            ring.records
                .iter()
                .skip(skip)
                .take(max)
                .map(|(_, entry)| entry.clone()),
        );
        Ok(())
    }

    /// How long the record at `seq` has waited, if it is on the ring.
    pub fn age(&self, seq: u64) -> Option<std::time::Duration> {
        let ring = self.ring.lock();
        let index = seq.checked_sub(ring.oldest())? as usize;
        ring.records.get(index).map(|(at, _)| at.elapsed())
    }

    /// Records and bytes held.
    pub fn len(&self) -> (usize, usize) {
        let ring = self.ring.lock();
        (ring.records.len(), ring.bytes)
    }

    /// Resolves after the next [`Backlog::publish`]; create it before reading so no
    /// wake-up is missed.
    pub fn published(&self) -> tokio::sync::futures::Notified<'_> {
        self.published.notified()
    }
}

impl Ring {
    fn oldest(&self) -> u64 {
        self.records
            .front()
            .map_or(self.next_seq, |(_, entry)| entry.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn delete(n: u64) -> Record {
        Record::Delete {
            key: Bytes::from(format!("k{n}")),
            cas: n,
        }
    }

    #[test]
    fn readers_resume_until_the_ring_moves_past_them() {
        let b = Backlog::new(3, usize::MAX);
        for n in 1..=3 {
            b.publish(delete(n), Route::default(), 0);
        }
        let mut out = Vec::new();
        b.read(2, 10, &mut out).unwrap();
        assert_eq!(out.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        assert!(b.holds(1) && b.holds(4) && !b.holds(5));
        b.publish(delete(4), Route::default(), 0);
        assert_eq!(b.read(1, 10, &mut out), Err(Lost));
        assert!(!b.holds(1));
        out.clear();
        b.read(5, 10, &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn bytes_bound_the_ring() {
        let b = Backlog::new(1000, 100);
        for n in 1..=10 {
            b.publish(delete(n), Route::default(), 0);
        }
        let (records, bytes) = b.len();
        assert!(records < 10 && bytes <= 100, "{records} {bytes}");
    }
}
