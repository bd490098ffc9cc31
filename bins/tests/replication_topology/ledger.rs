//! Writers that keep a ledger of the writes their node acknowledged, and the check
//! of a ledger against what the nodes hold at the end.
//!
//! Each writer sets keys of its own (each once) and deletes seeded keys of its own
//! (each once), so every acknowledged write has one expected outcome. A node that
//! acknowledged writes and was killed before it sent them may lose them: replication
//! is asynchronous. What a node sends, it sends in order, so its writer's surviving
//! writes are always a prefix of what it acknowledged, and the rest (the lost
//! writes) are only its last ones.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::cluster::{pipeline, set};
use crate::support::{wait_for, Server};

/// One acknowledged write.
#[derive(Debug, Clone)]
pub enum Op {
    /// `set key value` answered STORED.
    Set(String, String),
    /// `delete key` answered DELETED.
    Delete(String),
}

impl Op {
    /// Whether `shown` (as [`crate::cluster::read_all`] shows the key) reflects it.
    fn reflected(&self, shown: &HashMap<String, String>) -> bool {
        match self {
            Op::Set(k, v) => shown[k].starts_with("VA ") && shown[k].ends_with(&format!(" {v}")),
            Op::Delete(k) => shown[k] == "EN",
        }
    }

    /// The key written.
    pub fn key(&self) -> &str {
        match self {
            Op::Set(k, _) | Op::Delete(k) => k,
        }
    }
}

/// A thread writing to one node until stopped or its node dies.
pub struct Writer {
    thread: JoinHandle<(Vec<Op>, Vec<String>)>,
    /// Batches acknowledged so far: tests wait on it instead of a clock.
    pub batches: Arc<AtomicU32>,
}

/// The seeded keys writer `tag` deletes, one in three of its writes.
pub fn seeds(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|j| format!("d{tag}-{j}")).collect()
}

/// Writer `tag`'s write number `i`: a delete of the next of its `seeded` keys one
/// time in three while they last, else a set of a key of its own.
fn op(tag: &str, i: usize, seeded: usize) -> Op {
    if i.is_multiple_of(3) && i / 3 < seeded {
        Op::Delete(format!("d{tag}-{}", i / 3))
    } else {
        Op::Set(format!("n{tag}-{i}"), format!("v{tag}-{i}"))
    }
}

impl Writer {
    /// Starts writing to `server` as `tag`, in pipelined batches of 30, until
    /// `stop` is set or the node dies.
    pub fn start(server: &Server, tag: &str, seeded: usize, stop: Arc<AtomicBool>) -> Writer {
        const PER_BATCH: usize = 30;
        let mut stream: TcpStream = server.connect();
        let batches = Arc::new(AtomicU32::new(0));
        let counter = batches.clone();
        let tag = tag.to_owned();
        let thread = std::thread::spawn(move || {
            let (mut acked, mut tried) = (Vec::new(), Vec::new());
            let mut next = 0;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<Op> = (next..next + PER_BATCH)
                    .map(|i| op(&tag, i, seeded))
                    .collect();
                next += PER_BATCH;
                tried.extend(batch.iter().map(|o| o.key().to_owned()));
                let requests: Vec<Vec<u8>> = batch
                    .iter()
                    .map(|op| match op {
                        Op::Set(k, v) => set(k, v),
                        Op::Delete(k) => format!("delete {k}\r\n").into_bytes(),
                    })
                    .collect();
                let replies = pipeline(&mut stream, &requests);
                for (op, reply) in batch.iter().zip(&replies) {
                    let expected = match op {
                        Op::Set(..) => "STORED",
                        Op::Delete(_) => "DELETED",
                    };
                    assert_eq!(reply, expected, "{op:?}");
                    acked.push(op.clone());
                }
                if replies.len() < batch.len() {
                    // The node died: what it acknowledged is in the ledger.
                    break;
                }
                counter.fetch_add(1, Ordering::Relaxed);
            }
            (acked, tried)
        });
        Writer { thread, batches }
    }

    /// The acknowledged writes, and every key it may have written.
    pub fn ledger(self) -> (Vec<Op>, Vec<String>) {
        self.thread.join().unwrap()
    }
}

/// Waits until each writer has had `n` more batches acknowledged.
pub fn more_batches(writers: &[&Writer], n: u32) {
    let targets: Vec<u32> = writers
        .iter()
        .map(|w| w.batches.load(Ordering::Relaxed) + n)
        .collect();
    let ok = wait_for(Duration::from_secs(30), || {
        writers
            .iter()
            .zip(&targets)
            .all(|(w, t)| w.batches.load(Ordering::Relaxed) >= *t)
    });
    let now: Vec<u32> = writers
        .iter()
        .map(|w| w.batches.load(Ordering::Relaxed))
        .collect();
    let finished: Vec<bool> = writers.iter().map(|w| w.thread.is_finished()).collect();
    assert!(
        ok,
        "the writers stalled: {now:?} batches of {targets:?}, finished {finished:?}"
    );
}

/// How many of the ledger's writes the nodes lost: 0 for a node that stayed up.
/// For any node, the writes that survive are a prefix of its ledger: a lost write
/// is never followed by a surviving one.
pub fn lost(ledger: &[Op], shown: &HashMap<String, String>) -> usize {
    let kept = ledger
        .iter()
        .position(|op| !op.reflected(shown))
        .unwrap_or(ledger.len());
    let back: Vec<_> = ledger[kept..]
        .iter()
        .filter(|op| op.reflected(shown))
        .take(5)
        .collect();
    assert!(
        back.is_empty(),
        "write {kept} of {} lost, yet later ones kept: {back:?} (first lost: {:?})",
        ledger.len(),
        ledger[kept]
    );
    ledger.len() - kept
}
