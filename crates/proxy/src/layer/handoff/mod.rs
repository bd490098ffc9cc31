//! Handoff (hinted handoff): a server's writes that failed are kept, per key, in a
//! bounded queue and replayed to it when it answers again, so a server that was
//! down, stopped or restarted empty ends up with the writes the other copies took.
//!
//! Put it over each server of a replicated pool (under `Replicate`, `ReadRepair`):
//! a write that fails on one server is answered by the copies that took it (policy
//! `FirstSuccess`) and owed to this one. While anything is owed, the server is out
//! of service: every request to it fails at once with [`CatchingUp`] (a write is
//! queued behind the owed ones, so per key the order is kept), and reads go to the
//! other copies, which have the writes. When the queue is replayed the server is
//! back. What the queue keeps per key is in `missed.rs`; past its bounds a write is
//! lost for this server and counted ([`Handoff::dropped`]).

mod missed;
mod replay;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use memkeep_protocol::{Request, Response};
use parking_lot::Mutex;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::BoxError;
pub use missed::MissedLimits;
use missed::{MissedRequest, MissedWrites, Recorded};

#[cfg(test)]
mod tests;

impl Default for MissedLimits {
    /// 10,000 keys, 64 MiB.
    fn default() -> Self {
        MissedLimits {
            keys: 10_000,
            bytes: 64 << 20,
        }
    }
}

/// The server has missed writes that are not replayed yet: the request was not
/// sent (a write is queued behind them).
#[derive(Debug)]
pub struct CatchingUp(());

impl fmt::Display for CatchingUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("server catching up on missed writes")
    }
}

impl std::error::Error for CatchingUp {}

/// Queues the writes the server behind `S` missed and replays them when it is back.
pub struct Handoff<S> {
    inner: S,
    shared: Arc<Shared<S>>,
}

impl<S: Clone> Clone for Handoff<S> {
    fn clone(&self) -> Self {
        Handoff {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S> fmt::Debug for Handoff<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handoff")
            .field("server", &self.shared.server)
            .field("pending", &self.pending())
            .finish()
    }
}

struct Shared<S> {
    /// For logs.
    server: String,
    queue: Mutex<Queue>,
    /// The order writes are made in.
    seq: AtomicU64,
    /// Sends the replays; behind a lock so `Shared` is `Sync` without asking it of
    /// the service.
    service: Mutex<S>,
    replayed: AtomicU64,
    dropped: AtomicU64,
}

struct Queue {
    missed: MissedWrites,
    /// A replay task runs.
    replaying: bool,
    /// Writes dropped since the server fell behind (logged once, then at the end).
    dropped: u64,
}

impl<S> Shared<S> {
    /// Notes what recording a missed write did.
    fn recorded(&self, queue: &mut Queue, recorded: Recorded) {
        if recorded == Recorded::Dropped {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if queue.dropped == 0 {
                tracing::warn!(
                    server = %self.server,
                    "missed-write queue full: further writes this server misses are lost for it"
                );
            }
            queue.dropped += 1;
        }
    }
}

impl<S> Handoff<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    /// Guards `inner`, the server named `server` (for logs), keeping at most
    /// `limits` of its missed writes. Replays run as tasks: needs a tokio runtime.
    pub fn new(inner: S, server: impl Into<String>, limits: MissedLimits) -> Self {
        let shared = Arc::new(Shared {
            server: server.into(),
            queue: Mutex::new(Queue {
                missed: MissedWrites::new(limits),
                replaying: false,
                dropped: 0,
            }),
            seq: AtomicU64::new(0),
            service: Mutex::new(inner.clone()),
            replayed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        Handoff { inner, shared }
    }
}

impl<S> Handoff<S> {
    /// Keys (and a `flush_all`) owed to the server now.
    pub fn pending(&self) -> usize {
        self.shared.queue.lock().missed.len()
    }

    /// Missed writes replayed to the server since start.
    pub fn replayed(&self) -> u64 {
        self.shared.replayed.load(Ordering::Relaxed)
    }

    /// Missed writes lost for the server since start because its queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// The guarded service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> Service<Request> for Handoff<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let seq = self.shared.seq.fetch_add(1, Ordering::Relaxed);
        let missed = MissedRequest::of(&request.command);
        {
            let mut queue = self.shared.queue.lock();
            if !queue.missed.is_empty() {
                if let Some(missed) = missed {
                    let recorded = queue.missed.record(missed, seq);
                    self.shared.recorded(&mut queue, recorded);
                }
                return ResponseFuture {
                    inner: None,
                    write: None,
                    shared: None,
                };
            }
        }
        ResponseFuture {
            inner: Some(self.inner.call(request)),
            write: missed.map(|m| (m, seq)),
            shared: Some(self.shared.clone()),
        }
    }
}

pin_project! {
    /// The reply of a [`Handoff`]: the server's, with a failed write queued; or
    /// [`CatchingUp`] at once.
    pub struct ResponseFuture<F, S> {
        #[pin]
        inner: Option<F>,
        write: Option<(MissedRequest, u64)>,
        shared: Option<Arc<Shared<S>>>,
    }
}

impl<F, S> Future for ResponseFuture<F, S>
where
    F: Future<Output = Result<Response, BoxError>>,
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(Err(CatchingUp(()).into()));
        };
        let result = std::task::ready!(inner.poll(cx));
        if let (Some((write, seq)), Some(shared)) = (this.write.take(), this.shared.take()) {
            let mut queue = shared.queue.lock();
            match (&result, write) {
                // The server may not have it: owed. (An error *reply* is the
                // server's answer, not a miss.)
                (Err(_), write) => {
                    let recorded = queue.missed.record(write, seq);
                    shared.recorded(&mut queue, recorded);
                    if !queue.replaying && !queue.missed.is_empty() {
                        queue.replaying = true;
                        tracing::warn!(server = %shared.server, "server missed writes: queued for replay");
                        tokio::spawn(replay::replay(shared.clone()));
                    }
                }
                (Ok(_), MissedRequest::Key(key, _)) if !queue.missed.is_empty() => {
                    queue.missed.landed(&key, seq);
                }
                (Ok(_), _) => {}
            }
        }
        Poll::Ready(result)
    }
}
