//! How much one backend may hold for its server: requests accepted but not yet
//! answered (queued or on the wire), and the bytes of those not yet written. Past
//! either bound a request is refused at once, so a server that stops answering
//! costs the proxy bounded memory instead of a queue that grows with the load.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use memkeep_protocol::{Command, Request};

/// The bounds on what one backend holds for its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most requests accepted and not yet answered, queued or sent.
    pub max_pending: usize,
    /// Most bytes of requests accepted and not yet written to the server.
    pub max_buffered_bytes: usize,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            max_pending: 10_000,
            max_buffered_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What a request is counted as in the byte budget beyond its keys and value: the
/// job, its reply channel and its decoded form.
const REQUEST_OVERHEAD: usize = 256;

/// The bytes a request holds until it is written: its keys and value (slices of
/// the client's read buffer, kept alive by the request) and a fixed overhead.
pub(super) fn request_bytes(request: &Request) -> usize {
    let payload = match &request.command {
        Command::Get(get) => get.keys.iter().map(|k| k.len() + REQUEST_OVERHEAD).sum(),
        Command::Store(store) => store.key.len() + store.data.len(),
        command => command.key().map_or(0, |k| k.len()),
    };
    payload + REQUEST_OVERHEAD
}

/// One backend's counts against its [`QueueLimits`], shared by its connections.
#[derive(Debug, Default)]
pub(super) struct Budget {
    limits: QueueLimits,
    pending: AtomicUsize,
    buffered: AtomicUsize,
    rejected: AtomicU64,
}

/// A request's place among the pending ones; given back when dropped (the reply
/// was delivered, or the request failed or was abandoned).
pub(super) struct PendingSlot(Arc<Budget>);

/// A request's bytes in the budget; given back when dropped (it was written, or
/// failed before).
pub(super) struct BufferedBytes(Arc<Budget>, usize);

impl Budget {
    pub(super) fn new(limits: QueueLimits) -> Self {
        Budget {
            limits,
            ..Budget::default()
        }
    }

    /// Takes a slot and `bytes` for one request, or counts a refusal.
    pub(super) fn admit(self: &Arc<Self>, bytes: usize) -> Option<(PendingSlot, BufferedBytes)> {
        let pending = self.pending.fetch_add(1, Ordering::Relaxed);
        let slot = PendingSlot(self.clone());
        if pending >= self.limits.max_pending {
            drop(slot);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let buffered = self.buffered.fetch_add(bytes, Ordering::Relaxed);
        let held = BufferedBytes(self.clone(), bytes);
        if buffered.saturating_add(bytes) > self.limits.max_buffered_bytes {
            drop((slot, held));
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some((slot, held))
    }

    /// Requests accepted and not yet answered.
    pub(super) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Bytes of requests accepted and not yet written.
    pub(super) fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Relaxed)
    }

    /// Requests refused because a limit was reached, since start.
    pub(super) fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for BufferedBytes {
    fn drop(&mut self) {
        self.0.buffered.fetch_sub(self.1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_either_bound_and_gives_back_on_drop() {
        let budget = Arc::new(Budget::new(QueueLimits {
            max_pending: 2,
            max_buffered_bytes: 100,
        }));
        let a = budget.admit(40).unwrap();
        let b = budget.admit(40).unwrap();
        assert!(budget.admit(1).is_none(), "third request past max_pending");
        assert_eq!((budget.pending(), budget.buffered()), (2, 80));
        drop(a.1); // written: its bytes come back, its slot stays until the reply
        assert_eq!((budget.pending(), budget.buffered()), (2, 40));
        drop(a.0);
        assert!(budget.admit(61).is_none(), "40 + 61 bytes is past 100");
        let c = budget.admit(60).unwrap();
        assert_eq!((budget.pending(), budget.buffered()), (2, 100));
        drop((b, c));
        assert_eq!((budget.pending(), budget.buffered()), (0, 0));
        assert_eq!(budget.rejected(), 2);
    }
}
