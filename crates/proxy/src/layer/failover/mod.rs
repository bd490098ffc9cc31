//! Failover: a request goes to the first replica; an idempotent one moves on to the
//! next replica when it fails or takes too long (and, by option, when a get misses);
//! a multi-key get moves on with just the keys it could not read. Writes to several
//! replicas are [`super::replicate`]'s job.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use memkeep_protocol::{Command, Request, Response, Value};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::Layer;
use tower_service::Service;

use super::fan_out::{self, wrapping_error, Replicas};
use super::multi_get::{self, PartialGet};
use super::write_back::is_plain_get;
use crate::error_kind::Failure;
use crate::BoxError;

#[cfg(test)]
mod tests;

/// Builds [`Failover`] services over a list of replicas.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailoverLayer {
    on_miss: bool,
    attempt_timeout: Option<Duration>,
}

impl FailoverLayer {
    /// Fail over on errors only, with no timeout of its own.
    pub fn new() -> Self {
        FailoverLayer::default()
    }

    /// Also ask the next replica when a get misses (magent's reads): for a multi-key
    /// get, only the keys still missing are asked for. A replica that just came back
    /// empty then costs hits nothing, at the price of one more round trip per miss.
    pub fn on_miss(mut self, on_miss: bool) -> Self {
        self.on_miss = on_miss;
        self
    }

    /// Give up on a replica after this long and ask the next (idempotent requests
    /// only: a write that timed out may still happen, so it is not sent again).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }
}

impl<S> Layer<Vec<S>> for FailoverLayer {
    type Service = Failover<S>;

    fn layer(&self, replicas: Vec<S>) -> Failover<S> {
        Failover {
            replicas: Replicas::non_empty(replicas, "Failover"),
            config: *self,
        }
    }
}

/// Sends each request to replica 0 and, while it fails, to the next ones in order.
///
/// A multi-key get fails over key by key: when a replica (a shard over several
/// servers) could read only some of the keys, it answers a
/// [`PartialGet`], and only the keys it could not read
/// go to the next replica. A key that no replica could read is left out of the reply
/// (a miss) when some replica answered for the other keys; when none answered for
/// any key, the reply is [`AllReplicasFailed`], as for a single get.
///
/// A request that could not be sent (the replica's `poll_ready` failed, or it failed
/// in a way [`Failure::never_sent`] names: down, overloaded or ejected) always moves on. Once sent, only idempotent requests
/// ([`Command::is_idempotent`]) move on: an `incr` that reached a replica and then
/// failed may have been applied, and must not be applied twice.
#[derive(Clone, Debug)]
pub struct Failover<S> {
    replicas: Replicas<S>,
    config: FailoverLayer,
}

impl<S> Failover<S> {
    /// The replicas, in the order they are tried.
    pub fn get_ref(&self) -> &[S] {
        &self.replicas
    }
}

impl<S> Service<Request> for Failover<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Each attempt waits for its own replica's readiness.
        fan_out::always_ready()
    }

    fn call(&mut self, req: Request) -> ResponseFuture<S> {
        let idempotent = req.command.is_idempotent();
        // A multi-key get fails over key by key: an inner shard that could read only
        // some keys says which it could not (`PartialGet`).
        let keys = match is_plain_get(&req.command) {
            Some(get) if self.config.on_miss || get.keys.len() > 1 => Some(get.keys.clone()),
            _ => None,
        };
        ResponseFuture {
            state: State::Ready {
                svc: self.replicas[0].clone(),
            },
            replicas: self.replicas.clone(),
            next: 1,
            req,
            idempotent,
            timeout: self.config.attempt_timeout.filter(|_| idempotent),
            keys,
            on_miss: self.config.on_miss,
            found: Vec::new(),
            answered: false,
            last_error: None,
        }
    }
}

wrapping_error! {
    /// Every replica failed (or timed out) for an idempotent request; the last
    /// replica's error is the [`source`](std::error::Error::source).
    AllReplicasFailed, "all replicas failed"
}

pin_project! {
    /// The reply to a request sent through [`Failover`].
    #[project = ResponseFutureProj]
    pub struct ResponseFuture<S: Service<Request>> {
        #[pin]
        state: State<S>,
        replicas: Replicas<S>,
        // The replica to try after the current one.
        next: usize,
        // What the next attempt sends: for a get failing over key by key, the keys
        // still to read.
        req: Request,
        idempotent: bool,
        timeout: Option<Duration>,
        // For a multi-key get, or any get with `on_miss`: the get's original keys,
        // the hits collected so far, and whether some replica answered for some key.
        keys: Option<Vec<Bytes>>,
        on_miss: bool,
        found: Vec<Value>,
        answered: bool,
        last_error: Option<BoxError>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request>> {
        // Waiting for this replica to be ready.
        Ready { svc: S },
        // Sent; the reply is due before `deadline`, if there is one.
        Called {
            #[pin]
            fut: S::Future,
            #[pin]
            deadline: Option<Sleep>,
        },
    }
}

impl<S: Service<Request>> fmt::Debug for ResponseFuture<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("failover::ResponseFuture")
            .field("next", &self.next)
            .finish()
    }
}

/// Why an attempt was abandoned: the error the client sees if it was the last one.
fn timed_out(after: Duration) -> BoxError {
    format!("replica did not answer within {after:?}").into()
}

impl<S> Future for ResponseFuture<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            // What to do with the attempt that just ended: a reply, or an error and
            // whether the request may go to the next replica.
            let (error, may_retry) = match this.state.as_mut().project() {
                StateProj::Ready { svc } => match futures_util::ready!(svc.poll_ready(cx)) {
                    Ok(()) => {
                        let fut = svc.call(this.req.clone());
                        let deadline = this.timeout.map(tokio::time::sleep);
                        this.state.set(State::Called { fut, deadline });
                        continue;
                    }
                    // Never sent: safe to send elsewhere, whatever the command.
                    Err(error) => (error, true),
                },
                StateProj::Called { fut, deadline } => {
                    let expired = deadline.as_pin_mut().is_some_and(|d| d.poll(cx).is_ready());
                    if expired {
                        (timed_out(this.timeout.expect("deadline set")), true)
                    } else {
                        match futures_util::ready!(fut.poll(cx)) {
                            Ok(reply) => match this.on_reply(reply) {
                                Some(reply) => return Poll::Ready(reply),
                                None => continue,
                            },
                            Err(error) if this.keys.is_some() && error.is::<PartialGet>() => {
                                let partial = error.downcast().expect("a PartialGet");
                                match this.on_partial(*partial) {
                                    Some(reply) => return Poll::Ready(reply),
                                    None => continue,
                                }
                            }
                            Err(error) => {
                                let retry = *this.idempotent || Failure::of(&*error).never_sent();
                                (error, retry)
                            }
                        }
                    }
                }
            };
            if !may_retry {
                return Poll::Ready(Err(error));
            }
            tracing::debug!(replica = *this.next - 1, %error, "failing over");
            *this.last_error = Some(error);
            if !this.advance() {
                return Poll::Ready(this.give_up());
            }
        }
    }
}

impl<S> ResponseFutureProj<'_, S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone,
{
    /// Moves on to the next replica; `false` when there is none.
    fn advance(&mut self) -> bool {
        let Some(svc) = self.replicas.get(*self.next) else {
            return false;
        };
        self.state.set(State::Ready { svc: svc.clone() });
        *self.next += 1;
        true
    }

    /// The reply for the client, or `None` after moving on to ask the next replica.
    fn on_reply(&mut self, reply: Response) -> Option<Result<Response, BoxError>> {
        if *self.idempotent && matches!(reply, Response::ServerError(_)) {
            // The replica is up but broken (out of memory, ...): another may do better.
            *self.last_error = Some(format!("replica answered {reply:?}").into());
            return if self.advance() {
                None
            } else {
                Some(Ok(self.finish_with(reply)))
            };
        }
        if self.keys.is_none() {
            return Some(Ok(reply));
        }
        let Response::Values(values) = reply else {
            return Some(Ok(reply));
        };
        *self.answered = true;
        let missing = if *self.on_miss {
            multi_get::missing(self.asked(), &values)
        } else {
            Vec::new()
        };
        self.found.extend(values);
        self.ask_next(missing)
    }

    /// After a get some of whose keys could not be read: the reply for the client, or
    /// `None` after moving on to ask the next replica for those keys (and, with
    /// `on_miss`, for the keys that missed).
    fn on_partial(&mut self, partial: PartialGet) -> Option<Result<Response, BoxError>> {
        let (hits, failed, error) = partial.into_parts();
        tracing::debug!(
            replica = *self.next - 1,
            keys = failed.len(),
            %error,
            "failing over the keys of a multi-get",
        );
        *self.answered = true;
        let pending = if *self.on_miss {
            multi_get::missing(self.asked(), &hits)
        } else {
            failed
        };
        self.found.extend(hits);
        *self.last_error = Some(error);
        self.ask_next(pending)
    }

    /// The keys the current attempt asked for.
    fn asked(&self) -> &[Bytes] {
        match &self.req.command {
            Command::Get(get) => &get.keys,
            _ => &[],
        }
    }

    /// Asks the next replica for `keys`; the reply once there is nothing left to ask
    /// or no replica left to ask.
    fn ask_next(&mut self, keys: Vec<Bytes>) -> Option<Result<Response, BoxError>> {
        if keys.is_empty() {
            return Some(Ok(Response::Values(self.merged())));
        }
        if !self.advance() {
            return Some(self.give_up());
        }
        *self.req = multi_get::with_keys(self.req, keys);
        None
    }

    /// Hits collected from the replicas, in request key order.
    fn merged(&mut self) -> Vec<Value> {
        let keys = self.keys.as_deref().unwrap_or_default();
        multi_get::in_key_order(keys, [std::mem::take(self.found)])
    }

    /// The reply when the last replica answered an error: the hits found before it if
    /// a replica answered before, else that error.
    fn finish_with(&mut self, reply: Response) -> Response {
        if *self.answered {
            Response::Values(self.merged())
        } else {
            reply
        }
    }

    /// The result once every replica failed for the keys still to read: when a
    /// replica answered for other keys, those keys read as misses (a cache miss is
    /// the answer every client copes with); else the last replica's error.
    fn give_up(&mut self) -> Result<Response, BoxError> {
        if *self.answered {
            return Ok(Response::Values(self.merged()));
        }
        let last = self.last_error.take().expect("an attempt failed");
        Err(AllReplicasFailed::new(last).into())
    }
}
