//! Replicate: send every mutation to all replicas of a key and answer the client by a
//! [`Policy`] (all, majority, first success, primary then async). Reads go to the
//! first replica only; failing reads over to the others is [`super::failover`]'s job.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{FuturesUnordered, StreamExt};
use memkeep_protocol::{Command, Request, Response};
use pin_project_lite::pin_project;
use tokio::sync::OwnedSemaphorePermit;
use tower::util::{Oneshot, ServiceExt};
use tower::Layer;
use tower_service::Service;

use super::background::Background;
use super::fan_out::{self, wrapping_error, Replicas, Reply};
use crate::BoxError;

#[cfg(test)]
mod tests;

/// When a replicated mutation is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Wait for every replica; the worst reply wins (see [`Replicate`] for the order).
    /// The safest answer: a client told `STORED` knows every replica has the item.
    #[default]
    All,
    /// Answer once more than half of the replicas answered without failing (the worst
    /// of those replies), or with the worst failure once a majority can no longer
    /// succeed. The others finish in the background.
    Majority,
    /// Answer with the first reply that is not a failure (the worst failure if all
    /// fail). The others finish in the background.
    FirstSuccess,
    /// Answer with the primary's (replica 0's) reply; the other replicas are written in
    /// the background (magent's behaviour). Their failures are only logged.
    PrimaryThenAsync,
}

/// Builds [`Replicate`] services over a list of replicas.
#[derive(Debug, Clone)]
pub struct ReplicateLayer {
    policy: Policy,
    background: Background,
    waited: Arc<AtomicU64>,
}

impl ReplicateLayer {
    /// How many background writes (to replicas not waited for) may be in flight at
    /// once, across every service this layer builds, unless [`Self::background_limit`]
    /// says otherwise.
    pub const DEFAULT_BACKGROUND_LIMIT: usize = 1024;

    /// A layer replicating by `policy`.
    pub fn new(policy: Policy) -> Self {
        ReplicateLayer {
            policy,
            background: Background::new(Self::DEFAULT_BACKGROUND_LIMIT),
            waited: Arc::default(),
        }
    }

    /// Bounds the background writes in flight. Past the bound the client's reply
    /// waits for every replica instead (and is counted, see [`Self::waited`]): a slow
    /// replica must make the proxy neither hold writes without limit nor drop them.
    pub fn background_limit(mut self, limit: usize) -> Self {
        self.background = Background::new(limit);
        self
    }

    /// How many replies waited for every replica because the background writes were
    /// at their bound.
    pub fn waited(&self) -> Arc<AtomicU64> {
        self.waited.clone()
    }
}

impl<S> Layer<Vec<S>> for ReplicateLayer {
    type Service = Replicate<S>;

    fn layer(&self, replicas: Vec<S>) -> Replicate<S> {
        Replicate {
            replicas: Replicas::non_empty(replicas, "Replicate"),
            layer: self.clone(),
        }
    }
}

/// Sends mutations (store, delete, incr/decr, touch, flush_all) to every replica and
/// everything else to replica 0.
///
/// Under [`Policy::All`] the worst reply wins, from worst to best: a failure of the
/// service (an `Err`) > an error reply (`SERVER_ERROR`, `CLIENT_ERROR`, ...) >
/// `EXISTS` > `NOT_STORED` > `NOT_FOUND` > success (`STORED`, `DELETED`, a number, ...).
/// Conditional failures rank by how much they tell the client something is off: a CAS
/// conflict most, a key missing on some replica least. Among equally bad replies the
/// lowest-numbered replica's wins, so the client sees the primary's CAS or counter.
///
/// Replicas are called with `clone().oneshot(..)`: `poll_ready` never waits for all of
/// them, so one slow replica delays only the requests that must wait for it.
#[derive(Clone, Debug)]
pub struct Replicate<S> {
    replicas: Replicas<S>,
    layer: ReplicateLayer,
}

impl<S> Replicate<S> {
    /// The replicas, primary first.
    pub fn get_ref(&self) -> &[S] {
        &self.replicas
    }
}

/// Whether the command changes an item (or all of them) and so goes to every replica:
/// [`Command::is_mutation`], kept here under its old name.
pub fn is_mutation(command: &Command) -> bool {
    command.is_mutation()
}

impl<S> Service<Request> for Replicate<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        fan_out::always_ready()
    }

    fn call(&mut self, req: Request) -> ResponseFuture<S> {
        if !req.command.is_mutation() || self.replicas.len() == 1 {
            return Reply::one(self.replicas.call(0, req));
        }
        if self.layer.policy == Policy::PrimaryThenAsync {
            if let Some(permit) = self.layer.background.try_reserve() {
                let rest: FuturesUnordered<_> = self.replicas[1..]
                    .iter()
                    .enumerate()
                    .map(|(i, s)| Indexed::new(i + 1, s.clone().oneshot(req.clone())))
                    .collect();
                background(permit, rest);
                return Reply::one(self.replicas.call(0, req));
            }
            // At the bound: this reply waits for every replica (backpressure).
            self.layer.waited.fetch_add(1, Ordering::Relaxed);
        }
        let pending: FuturesUnordered<_> = self
            .replicas
            .iter()
            .enumerate()
            .map(|(i, s)| Indexed::new(i, s.clone().oneshot(req.clone())))
            .collect();
        Reply::many(Fanout {
            replies: (0..self.replicas.len()).map(|_| None).collect(),
            pending,
            decided: None,
            layer: self.layer.clone(),
        })
    }
}

/// Lets the writes nobody waits for finish on their own task, in a reserved place.
fn background<S>(permit: OwnedSemaphorePermit, rest: FuturesUnordered<Indexed<Oneshot<S, Request>>>)
where
    S: Service<Request, Response = Response, Error = BoxError> + Send + 'static,
    S::Future: Send + 'static,
{
    if rest.is_empty() {
        return;
    }
    Background::spawn_reserved(permit, async move {
        let mut rest = rest;
        while let Some((replica, reply)) = rest.next().await {
            match reply {
                Err(error) => tracing::debug!(replica, %error, "background replica write failed"),
                Ok(reply) if reply.is_error() => {
                    tracing::debug!(replica, ?reply, "background replica write refused")
                }
                Ok(_) => {}
            }
        }
    });
}

wrapping_error! {
    /// A replica failed under a policy that needed it; the replica's own error is the
    /// [`source`](std::error::Error::source).
    ReplicationFailed, "replication failed"
}

/// How bad a replica's answer is for [`Policy::All`]: higher is worse.
pub(crate) fn severity(reply: &Result<Response, BoxError>) -> u8 {
    match reply {
        Err(_) => 5,
        Ok(r) if r.is_error() => 4,
        Ok(Response::Exists) => 3,
        Ok(Response::NotStored) => 2,
        Ok(Response::NotFound) => 1,
        Ok(_) => 0,
    }
}

/// Whether the answer counts against a majority or first-success: the replica did not
/// do its part (it failed or answered an error), as opposed to a clean "no".
fn is_failure(reply: &Result<Response, BoxError>) -> bool {
    severity(reply) >= 4
}

/// The worst of the replies, the lowest index among equals; `None` if there are none.
pub(crate) fn worst(
    replies: impl IntoIterator<Item = Result<Response, BoxError>>,
) -> Option<Result<Response, BoxError>> {
    replies.into_iter().fold(None, |worst, reply| match worst {
        Some(w) if severity(&w) >= severity(&reply) => Some(w),
        _ => Some(reply),
    })
}

pin_project! {
    /// A future tagged with the replica it was sent to.
    struct Indexed<F> {
        index: usize,
        #[pin]
        inner: F,
    }
}

impl<F> Indexed<F> {
    fn new(index: usize, inner: F) -> Self {
        Indexed { index, inner }
    }
}

impl<F: Future> Future for Indexed<F> {
    type Output = (usize, F::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.inner.poll(cx).map(|out| (*this.index, out))
    }
}

/// The reply to a request sent through [`Replicate`].
pub type ResponseFuture<S> = Reply<S, Fanout<S>>;

/// A mutation waiting for several replicas: answered as the policy says.
pub struct Fanout<S: Service<Request>> {
    pending: FuturesUnordered<Indexed<Oneshot<S, Request>>>,
    // `replies[i]` is replica i's once it came.
    replies: Vec<Option<Result<Response, BoxError>>>,
    // The policy's answer, given before every replica answered, when the rest could
    // not be left to the background (at its bound): sent once they have.
    decided: Option<Result<Response, BoxError>>,
    layer: ReplicateLayer,
}

impl<S> Future for Fanout<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Send + 'static,
    S::Future: Send + 'static,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Fanout {
            pending,
            replies,
            decided,
            layer,
        } = self.get_mut();
        loop {
            let Some((index, reply)) = futures_util::ready!(pending.poll_next_unpin(cx)) else {
                // Every replica answered.
                if let Some(reply) = decided.take() {
                    return Poll::Ready(finish(reply));
                }
                if layer.policy == Policy::PrimaryThenAsync {
                    // Waited for all only for backpressure: still the primary's reply.
                    let primary = replies[0].take().expect("the primary answered");
                    return Poll::Ready(finish(primary));
                }
                let all = replies.iter_mut().filter_map(Option::take);
                return Poll::Ready(finish(worst(all).expect("replicas answered")));
            };
            replies[index] = Some(reply);
            if decided.is_some() {
                continue;
            }
            if let Some(reply) = decide(layer.policy, replies) {
                match layer.background.try_reserve() {
                    Some(permit) => {
                        background(permit, std::mem::take(pending));
                        return Poll::Ready(finish(reply));
                    }
                    None => {
                        layer.waited.fetch_add(1, Ordering::Relaxed);
                        *decided = Some(reply);
                    }
                }
            }
        }
    }
}

/// Wraps a replica's error in the layer's error.
fn finish(reply: Result<Response, BoxError>) -> Result<Response, BoxError> {
    reply.map_err(|source| ReplicationFailed::new(source).into())
}

/// The answer, if the policy can give it before every replica answered.
fn decide(
    policy: Policy,
    replies: &mut [Option<Result<Response, BoxError>>],
) -> Option<Result<Response, BoxError>> {
    let n = replies.len();
    let answered = || replies.iter().flatten();
    let failures = answered().filter(|r| is_failure(r)).count();
    let successes = answered().count() - failures;
    let take = |replies: &mut [Option<Result<Response, BoxError>>], failed: bool| {
        let chosen = replies
            .iter_mut()
            .filter(|r| r.as_ref().is_some_and(|r| is_failure(r) == failed))
            .filter_map(Option::take);
        worst(chosen)
    };
    match policy {
        Policy::All | Policy::PrimaryThenAsync => None,
        Policy::Majority => {
            let majority = n / 2 + 1;
            if successes >= majority {
                take(replies, false)
            } else if failures > n - majority {
                take(replies, true)
            } else {
                None
            }
        }
        Policy::FirstSuccess if successes > 0 => take(replies, false),
        Policy::FirstSuccess => None,
    }
}
