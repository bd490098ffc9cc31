//! The links up now, one per peer node: who is at the other end (run id, role, the
//! address it goes by), which side dialled, and the records each carried. Two nodes
//! that both dial each other (a group where every node lists the others) end up with
//! one link: both keep the one dialled by the node with the larger run id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::record::Role;

/// One link up now, as [`crate::Replication::links`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// The peer's run id.
    pub peer_run: u64,
    /// How the peer takes part.
    pub role: Role,
    /// The peer's address: the one dialled, else the one it announced, else the
    /// socket's remote address.
    pub addr: String,
    /// Whether this node dialled the link.
    pub dialled: bool,
    /// Records streamed on it to the peer (a full copy's items not included).
    pub records_sent: u64,
    /// Records streamed on it from the peer (a full copy's items not included).
    pub records_received: u64,
}

/// A link's record counts, shared by its reader and writer.
#[derive(Debug, Default)]
pub(crate) struct LinkCounts {
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
}

#[derive(Debug)]
struct Link {
    peer_run: u64,
    role: Role,
    addr: String,
    dialled: bool,
    /// The run id of the node that dialled: of two links between the same nodes,
    /// the one dialled by the larger run id stays.
    dialer_run: u64,
    close: Arc<Notify>,
    counts: Arc<LinkCounts>,
}

/// The registry of links up now.
#[derive(Debug, Default)]
pub(crate) struct PeerLinks {
    links: Mutex<HashMap<u64, Link>>,
    next_id: AtomicU64,
    /// Writable peers (pair or primary) this node has been linked with, by address:
    /// `stats` keeps naming them while they are away.
    known: Mutex<Vec<String>>,
    /// The peer run last met at each dialled address.
    dialled_runs: Mutex<HashMap<String, u64>>,
}

/// Another link to the same peer is kept instead of this one.
#[derive(Debug)]
pub(crate) struct Duplicate;

/// A link's place in the registry; leaves it on drop.
pub(crate) struct Registration {
    links: Arc<PeerLinks>,
    id: u64,
    /// Notified when a preferred link to the same peer replaces this one.
    pub(crate) close: Arc<Notify>,
    pub(crate) counts: Arc<LinkCounts>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.links.links.lock().remove(&self.id);
    }
}

impl PeerLinks {
    /// Registers a link of this node (run `me`) with peer run `peer_run`, unless a
    /// link to that peer is up and preferred.
    pub(crate) fn register(
        self: &Arc<Self>,
        me: u64,
        peer_run: u64,
        role: Role,
        addr: &str,
        dialled: bool,
    ) -> Result<Registration, Duplicate> {
        let dialer_run = if dialled { me } else { peer_run };
        let mut links = self.links.lock();
        let existing = links
            .iter()
            .find(|(_, l)| l.peer_run == peer_run)
            .map(|(id, l)| (*id, l.dialer_run));
        if let Some((id, existing_dialer)) = existing {
            // The same dialer again: the old link is stale (its peer reconnected
            // before we noticed). Else both nodes keep the larger run id's link.
            let keep_new = existing_dialer == dialer_run || dialer_run == me.max(peer_run);
            if !keep_new {
                return Err(Duplicate);
            }
            if let Some(old) = links.remove(&id) {
                old.close.notify_one();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let close = Arc::new(Notify::new());
        let counts = Arc::new(LinkCounts::default());
        links.insert(
            id,
            Link {
                peer_run,
                role,
                addr: addr.to_owned(),
                dialled,
                dialer_run,
                close: close.clone(),
                counts: counts.clone(),
            },
        );
        drop(links);
        if role != Role::Replica {
            let mut known = self.known.lock();
            if !known.iter().any(|a| a == addr) {
                known.push(addr.to_owned());
            }
        }
        Ok(Registration {
            links: self.clone(),
            id,
            close,
            counts,
        })
    }

    /// Notes the peer run met at a dialled address.
    pub(crate) fn dialled(&self, addr: &str, peer_run: u64) {
        self.dialled_runs.lock().insert(addr.to_owned(), peer_run);
    }

    /// The address this node dials the node of run `peer_run` at, if it does.
    pub(crate) fn dialled_address(&self, peer_run: u64) -> Option<String> {
        self.dialled_runs
            .lock()
            .iter()
            .find(|(_, run)| **run == peer_run)
            .map(|(addr, _)| addr.clone())
    }

    /// Whether a link is up to the node at address `addr`, or last met there (so
    /// dialling it again would only make a duplicate).
    pub(crate) fn linked_to(&self, addr: &str) -> bool {
        let run = self.dialled_runs.lock().get(addr).copied();
        self.links
            .lock()
            .values()
            .any(|l| l.addr == addr || Some(l.peer_run) == run)
    }

    /// How many links are up.
    pub(crate) fn count(&self) -> usize {
        self.links.lock().len()
    }

    /// The writable peers this node has been linked with.
    pub(crate) fn known(&self) -> Vec<String> {
        self.known.lock().clone()
    }

    /// The links up now.
    pub(crate) fn infos(&self) -> Vec<LinkInfo> {
        let mut infos: Vec<LinkInfo> = self
            .links
            .lock()
            .values()
            .map(|l| LinkInfo {
                peer_run: l.peer_run,
                role: l.role,
                addr: l.addr.clone(),
                dialled: l.dialled,
                records_sent: l.counts.sent.load(Ordering::Relaxed),
                records_received: l.counts.received.load(Ordering::Relaxed),
            })
            .collect();
        infos.sort_by(|a, b| a.addr.cmp(&b.addr));
        infos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_two_links_between_two_nodes_both_keep_the_larger_runs() {
        // Node 5 and node 9 dial each other at once. Each registers its own dial
        // first, then the other's: both end with the link node 9 dialled.
        let at5 = Arc::new(PeerLinks::default());
        let own = at5.register(5, 9, Role::Pair, "b", true).unwrap();
        let theirs = at5.register(5, 9, Role::Pair, "b", false).unwrap();
        assert_eq!(at5.count(), 1);
        // The replaced link is told to close: its permit waits for it.
        tokio_test_now(own.close.notified());
        assert!(!at5.infos()[0].dialled);
        drop(theirs);
        assert_eq!(at5.count(), 0);

        let at9 = Arc::new(PeerLinks::default());
        let _own = at9.register(9, 5, Role::Pair, "a", true).unwrap();
        assert!(at9.register(9, 5, Role::Pair, "a", false).is_err());
        assert!(at9.infos()[0].dialled);
        // A redial by the same node replaces its stale link.
        let again = at9.register(9, 5, Role::Pair, "a", true);
        assert!(again.is_ok());
        assert_eq!(at9.count(), 1);
        assert_eq!(at9.known(), ["a"]);
    }

    /// Resolves `f` now or panics: a stored permit makes `notified` ready at once.
    fn tokio_test_now(f: impl std::future::Future<Output = ()>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(5), f)
                .await
                .expect("the replaced link was not told to close");
        });
    }
}
