//! ReadRepair: a get reads several replicas at once, answers with a hit when any of
//! them has the item, and writes the item back to the replicas that missed it, so a
//! replica that restarted empty fills up again as its keys are read.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::JoinAll;
use memkeep_protocol::{Request, Response};
use pin_project_lite::pin_project;
use tower::util::Oneshot;
use tower::Layer;
use tower_service::Service;

use super::background::Background;
use super::fan_out::{self, wrapping_error, Replicas, Reply};
use super::multi_get::{self, PartialGet};
use super::write_back;
use crate::BoxError;

#[cfg(test)]
mod tests;

/// Builds [`ReadRepair`] services over a list of replicas.
#[derive(Debug, Clone)]
pub struct ReadRepairLayer {
    read_from: usize,
    background: Background,
    repairs: Arc<AtomicU64>,
    waited: Arc<AtomicU64>,
}

impl Default for ReadRepairLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadRepairLayer {
    /// How many repair tasks may run at once, across every service this layer builds,
    /// unless [`Self::background_limit`] says otherwise.
    pub const DEFAULT_BACKGROUND_LIMIT: usize = 1024;

    /// Reads every replica, repairs in the background.
    pub fn new() -> Self {
        ReadRepairLayer {
            read_from: usize::MAX,
            background: Background::new(Self::DEFAULT_BACKGROUND_LIMIT),
            repairs: Arc::default(),
            waited: Arc::default(),
        }
    }

    /// Reads only the first `n` replicas (at least one): with many replicas, two reads
    /// find and repair most misses at a fraction of the load.
    pub fn read_from(mut self, n: usize) -> Self {
        self.read_from = n.max(1);
        self
    }

    /// Bounds the repair tasks in flight. Past the bound a get's reply waits for its
    /// own repair (and is counted, see [`Self::waited`]): repairs must neither pile
    /// up in memory behind a slow replica nor be skipped, or one read pass would
    /// leave a restarted replica short of keys it read.
    pub fn background_limit(mut self, limit: usize) -> Self {
        self.background = Background::new(limit);
        self
    }

    /// How many items were written back (the replica answered `STORED`), counted over
    /// every service this layer builds.
    pub fn repairs(&self) -> Arc<AtomicU64> {
        self.repairs.clone()
    }

    /// How many gets' replies waited for their repair because the bound was
    /// reached.
    pub fn waited(&self) -> Arc<AtomicU64> {
        self.waited.clone()
    }
}

impl<S> Layer<Vec<S>> for ReadRepairLayer {
    type Service = ReadRepair<S>;

    fn layer(&self, replicas: Vec<S>) -> ReadRepair<S> {
        ReadRepair {
            replicas: Replicas::non_empty(replicas, "ReadRepair"),
            layer: self.clone(),
        }
    }
}

/// Answers plain gets from all replicas (or the first few) and repairs the ones that
/// missed; everything else goes to replica 0.
///
/// The reply is in request key order; each key's value comes from the first replica
/// (in replica order) that has it. Each hit is written back to every other replica
/// read: those that missed it, and those that could not be read (a replica that
/// failed, or the keys of a multi-get a shard could not read, a [`PartialGet`]):
/// the `add` never overwrites, so it is harmless where the item is, and a server
/// that is down or catching up owes it (see [`super::handoff`]) instead of losing
/// it. A key no replica could read is a miss, unless no replica answered at all:
/// then the reply is [`AllReadsFailed`]. The get is answered once every replica
/// read has answered, so its latency is the slowest replica's: put a `Timeout` under
/// each replica.
///
/// Write-back is an `add` with the item's flags and remaining TTL, sent in the
/// background after the reply: it never overwrites a value written on that replica
/// between our read and the repair. The race accepted: a `delete` of the key that
/// lands between our read and the repair is undone on that replica, and the old value
/// lives there again for the rest of its TTL. memcached offers no conditional "add
/// unless deleted since", and the window is one round trip.
#[derive(Clone, Debug)]
pub struct ReadRepair<S> {
    replicas: Replicas<S>,
    layer: ReadRepairLayer,
}

impl<S> ReadRepair<S> {
    /// How many items were written back, shared with the layer that built this.
    pub fn repairs(&self) -> Arc<AtomicU64> {
        self.layer.repairs()
    }

    /// The replicas, in order of preference.
    pub fn get_ref(&self) -> &[S] {
        &self.replicas
    }
}

impl<S> Service<Request> for ReadRepair<S>
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
        let reads = self.replicas.len().min(self.layer.read_from);
        let keys = match write_back::is_plain_get(&req.command) {
            Some(get) if reads > 1 => get.keys.clone(),
            _ => return Reply::one(self.replicas.call(0, req)),
        };
        let req = write_back::wanting_ttl(req);
        Reply::many(Repair {
            state: State::Reading {
                reads: self.replicas.call_each(0..reads, &req),
                keys,
                replicas: self.replicas.clone(),
                layer: self.layer.clone(),
            },
        })
    }
}

wrapping_error! {
    /// Every replica read failed; the first replica's error is the
    /// [`source`](std::error::Error::source).
    AllReadsFailed, "all replica reads failed"
}

/// The reply to a request sent through [`ReadRepair`].
pub type ResponseFuture<S> = Reply<S, Repair<S>>;

pin_project! {
    /// A get read from several replicas: merged, then repaired.
    pub struct Repair<S: Service<Request>> {
        #[pin]
        state: State<S>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request>> {
        // A get read from the first replicas; `reads` yields their replies in order.
        Reading {
            #[pin]
            reads: JoinAll<Oneshot<S, Request>>,
            keys: Vec<Bytes>,
            replicas: Replicas<S>,
            layer: ReadRepairLayer,
        },
        // The repairs had no room in the background: the reply waits for them.
        Repairing {
            #[pin]
            writes: JoinAll<Oneshot<S, Request>>,
            reply: Option<Response>,
            repairs: Arc<AtomicU64>,
        },
    }
}

impl<S> Future for Repair<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Reading {
                    reads,
                    keys,
                    replicas,
                    layer,
                } => {
                    let replies = futures_util::ready!(reads.poll(cx));
                    match merge_and_repair(replies, keys, replicas, layer) {
                        Merged::Done(reply) => return Poll::Ready(reply),
                        Merged::Wait(reply, writes) => State::Repairing {
                            writes,
                            reply: Some(reply),
                            repairs: layer.repairs.clone(),
                        },
                    }
                }
                StateProj::Repairing {
                    writes,
                    reply,
                    repairs,
                } => {
                    let replies = futures_util::ready!(writes.poll(cx));
                    count_repairs(replies, repairs);
                    let reply = reply.take().expect("polled after completion");
                    return Poll::Ready(Ok(reply));
                }
            };
            state.set(next);
        }
    }
}

/// The client's reply, and whether it must wait for its repairs.
enum Merged<S: Service<Request>> {
    /// Answer now (the repairs, if any, run in the background).
    Done(Result<Response, BoxError>),
    /// Answer once these repairs are done: the background is full.
    Wait(Response, JoinAll<Oneshot<S, Request>>),
}

/// The client's reply from every replica's, and the repairs it calls for.
fn merge_and_repair<S>(
    replies: Vec<Result<Response, BoxError>>,
    keys: &[Bytes],
    replicas: &Replicas<S>,
    layer: &ReadRepairLayer,
) -> Merged<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    // Replicas that answered with their hits, and the keys each could not read (a
    // shard with a server down); replicas that failed; odd replies are skipped.
    let mut answered = Vec::new();
    let mut failed = Vec::new();
    let mut other = None;
    let mut first_error = None;
    for (replica, reply) in replies.into_iter().enumerate() {
        match reply {
            Ok(Response::Values(values)) => answered.push((replica, values)),
            Ok(reply) => {
                other.get_or_insert(reply);
            }
            Err(error) if error.is::<PartialGet>() => {
                let partial = error.downcast::<PartialGet>().expect("a PartialGet");
                let (hits, unread, error) = partial.into_parts();
                tracing::debug!(replica, keys = unread.len(), %error, "read-repair: keys unread");
                answered.push((replica, hits));
            }
            Err(error) => {
                tracing::debug!(replica, %error, "read-repair: replica read failed");
                failed.push(replica);
                first_error.get_or_insert(error);
            }
        }
    }
    if answered.is_empty() {
        return Merged::Done(match (other, first_error) {
            (Some(reply), _) => Ok(reply),
            (None, Some(first)) => Err(AllReadsFailed::new(first).into()),
            (None, None) => unreachable!("at least two replicas were read"),
        });
    }

    let merged = multi_get::in_key_order(keys, answered.iter().map(|(_, v)| v.clone()));
    let mut writes = Vec::new();
    let mut done = HashSet::new();
    for value in &merged {
        // One key: its value may not name it (binary GET); several: each value does.
        let key = if keys.len() == 1 {
            &keys[0]
        } else {
            &value.key
        };
        if !done.insert(key.clone()) {
            continue; // a key asked twice is repaired once
        }
        let Some(write) = write_back::write_back(key, value) else {
            continue;
        };
        let missing = answered
            .iter()
            .filter(|(_, values)| {
                if keys.len() == 1 {
                    values.is_empty()
                } else {
                    !values.iter().any(|v| v.key == *key)
                }
            })
            .map(|(replica, _)| *replica);
        for replica in missing.chain(failed.iter().copied()) {
            writes.push((replica, write.clone()));
        }
    }
    let reply = Response::Values(merged);
    if writes.is_empty() {
        return Merged::Done(Ok(reply));
    }
    let writes: JoinAll<_> = writes
        .into_iter()
        .map(|(replica, req)| replicas.call(replica, req))
        .collect();
    match layer.background.try_reserve() {
        Some(permit) => {
            let repairs = layer.repairs.clone();
            Background::spawn_reserved(permit, async move {
                count_repairs(writes.await, &repairs);
            });
            Merged::Done(Ok(reply))
        }
        None => {
            layer.waited.fetch_add(1, Ordering::Relaxed);
            Merged::Wait(reply, writes)
        }
    }
}

/// Counts the write-backs that stored something.
fn count_repairs(replies: Vec<Result<Response, BoxError>>, repairs: &AtomicU64) {
    for reply in replies {
        match reply {
            Ok(Response::Stored(_)) => {
                repairs.fetch_add(1, Ordering::Relaxed);
            }
            // NOT_STORED: the replica has the key (a client wrote it meanwhile).
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "read-repair: write-back failed"),
        }
    }
}
