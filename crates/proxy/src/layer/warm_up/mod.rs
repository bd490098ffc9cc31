//! WarmUp: put an empty (cold) pool in front of a full (warm) one. Reads go to the
//! cold pool; its misses are read from the warm pool, answered from there and copied
//! into the cold pool, so the cold pool fills with exactly the keys clients use.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::join_all;
use memkeep_protocol::{Command, Request, Response, Value};
use pin_project_lite::pin_project;
use tower::util::{Oneshot, ServiceExt};
use tower::Layer;
use tower_service::Service;

use super::background::Background;
use super::{multi_get, write_back};
use crate::BoxError;

#[cfg(test)]
mod tests;

/// Which missed keys are worth asking the warm service for (see
/// [`WarmUpLayer::only`]).
pub type KeyFilter = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// Builds [`WarmUp`] services: the service it wraps is the cold one.
#[derive(Clone)]
pub struct WarmUpLayer<S> {
    warm: S,
    fills: Arc<AtomicU64>,
    fallbacks: Arc<AtomicU64>,
    only: Option<KeyFilter>,
    background: Background,
}

impl<S: fmt::Debug> fmt::Debug for WarmUpLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WarmUpLayer")
            .field("warm", &self.warm)
            .field("filtered", &self.only.is_some())
            .finish()
    }
}

impl<S> WarmUpLayer<S> {
    /// How many fill tasks may run at once, across every service this layer builds,
    /// unless [`Self::background_limit`] says otherwise.
    pub const DEFAULT_BACKGROUND_LIMIT: usize = 1024;

    /// Reads that miss the cold service are read from `warm`.
    pub fn new(warm: S) -> Self {
        WarmUpLayer {
            warm,
            fills: Arc::default(),
            fallbacks: Arc::default(),
            only: None,
            background: Background::new(Self::DEFAULT_BACKGROUND_LIMIT),
        }
    }

    /// Asks the warm service only for the missed keys `filter` accepts (the others
    /// are misses), and answers a failing cold service's reply as it is: for a
    /// warm service that holds just some keys (a pool's previous servers, after a
    /// change). The filter runs on misses only, so hits cost nothing.
    pub fn only(mut self, filter: KeyFilter) -> Self {
        self.only = Some(filter);
        self
    }

    /// Counts into these instead of the layer's own (counters that outlive it).
    pub fn counting(mut self, fills: Arc<AtomicU64>, fallbacks: Arc<AtomicU64>) -> Self {
        self.fills = fills;
        self.fallbacks = fallbacks;
        self
    }

    /// Shares `other`'s bound on fill tasks.
    pub(crate) fn sharing_background(mut self, background: &Background) -> Self {
        self.background = background.clone();
        self
    }

    /// Bounds the fill tasks in flight; past it a fill is skipped (the next read of
    /// the key fills it).
    pub fn background_limit(mut self, limit: usize) -> Self {
        self.background = Background::new(limit);
        self
    }

    /// How many items were copied into the cold service (it answered `STORED`).
    pub fn fills(&self) -> Arc<AtomicU64> {
        self.fills.clone()
    }

    /// How many keys the cold service missed were asked of the warm one.
    pub fn fallbacks(&self) -> Arc<AtomicU64> {
        self.fallbacks.clone()
    }
}

impl<S: Clone> Layer<S> for WarmUpLayer<S> {
    type Service = WarmUp<S>;

    fn layer(&self, cold: S) -> WarmUp<S> {
        WarmUp {
            cold,
            layer: self.clone(),
        }
    }
}

/// Reads the cold service first and the warm one for what it missed.
///
/// - A hit on the warm service is answered and written into the cold one with an
///   `add` (its flags and remaining TTL) in the background: `add` so a value a client
///   stored in the cold pool meanwhile is kept.
/// - When the cold service fails, the warm one answers the whole get (nothing is
///   filled: the cold one is failing); when the warm one fails, the cold one's hits
///   are the answer.
/// - Everything but plain gets (stores, deletes, ...) goes to the cold service only:
///   the warm pool is read-only here. Put `Replicate` above if it must stay current.
#[derive(Clone, Debug)]
pub struct WarmUp<S> {
    cold: S,
    layer: WarmUpLayer<S>,
}

impl<S> WarmUp<S> {
    /// Reads miss `cold` and hit `warm`.
    pub fn new(cold: S, warm: S) -> Self {
        WarmUp {
            cold,
            layer: WarmUpLayer::new(warm),
        }
    }

    /// The cold service.
    pub fn get_ref(&self) -> &S {
        &self.cold
    }

    /// How many items were copied into the cold service.
    pub fn fills(&self) -> Arc<AtomicU64> {
        self.layer.fills()
    }
}

impl<S> Service<Request> for WarmUp<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Every request starts at the cold service: its backpressure is ours. The
        // warm one is called per request with `oneshot`.
        self.cold.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture<S> {
        let plain = write_back::is_plain_get(&req.command).map(|get| Plain {
            keys: get.keys.clone(),
            // Hits from the warm service are written to the cold one.
            req: write_back::wanting_ttl(req.clone()),
            cold: self.cold.clone(),
            layer: self.layer.clone(),
        });
        ResponseFuture {
            state: State::Cold {
                fut: self.cold.call(req),
            },
            plain,
            found: Vec::new(),
            cold_error: None,
        }
    }
}

/// What a plain get needs to go on to the warm service.
struct Plain<S> {
    keys: Vec<Bytes>,
    req: Request,
    cold: S,
    layer: WarmUpLayer<S>,
}

pin_project! {
    /// The reply to a request sent through [`WarmUp`].
    #[project = ResponseFutureProj]
    pub struct ResponseFuture<S: Service<Request>> {
        #[pin]
        state: State<S>,
        // Set for plain gets only.
        plain: Option<Plain<S>>,
        // The cold service's hits.
        found: Vec<Value>,
        // Why the cold service failed, if it did.
        cold_error: Option<BoxError>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request>> {
        Cold { #[pin] fut: S::Future },
        Warm { #[pin] fut: Oneshot<S, Request> },
    }
}

impl<S: Service<Request>> fmt::Debug for ResponseFuture<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("warm_up::ResponseFuture").finish()
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Cold { fut } => {
                    let reply = futures_util::ready!(fut.poll(cx));
                    let Some(plain) = this.plain.as_ref() else {
                        return Poll::Ready(reply);
                    };
                    let ask = match reply {
                        Ok(Response::Values(values)) => {
                            let mut missing = multi_get::missing(&plain.keys, &values);
                            if let Some(only) = &plain.layer.only {
                                missing.retain(|key| only(key));
                            }
                            if missing.is_empty() {
                                return Poll::Ready(Ok(Response::Values(values)));
                            }
                            *this.found = values;
                            multi_get::with_keys(&plain.req, missing)
                        }
                        Ok(reply) if !reply.is_error() => return Poll::Ready(Ok(reply)),
                        // A warm service holding some keys only cannot stand in.
                        reply if plain.layer.only.is_some() => return Poll::Ready(reply),
                        // Failed or answered an error: the warm service answers it all.
                        Ok(reply) => {
                            *this.cold_error = Some(format!("cold pool: {reply:?}").into());
                            plain.req.clone()
                        }
                        Err(error) => {
                            *this.cold_error = Some(error);
                            plain.req.clone()
                        }
                    };
                    if let Command::Get(get) = &ask.command {
                        let asked = u64::try_from(get.keys.len()).unwrap_or(u64::MAX);
                        plain.layer.fallbacks.fetch_add(asked, Ordering::Relaxed);
                    }
                    let fut = plain.layer.warm.clone().oneshot(ask);
                    this.state.set(State::Warm { fut });
                }
                StateProj::Warm { fut } => {
                    let reply = futures_util::ready!(fut.poll(cx));
                    let plain = this.plain.as_ref().expect("only plain gets go warm");
                    let warm = match reply {
                        Ok(Response::Values(values)) => values,
                        Ok(_) | Err(_) if this.cold_error.is_none() => Vec::new(),
                        Ok(_) | Err(_) => {
                            let error = this.cold_error.take().expect("checked");
                            return Poll::Ready(Err(error));
                        }
                    };
                    if this.cold_error.is_none() && !warm.is_empty() {
                        fill(plain, &warm);
                    }
                    let found = std::mem::take(this.found);
                    let values = multi_get::in_key_order(&plain.keys, [found, warm]);
                    return Poll::Ready(Ok(Response::Values(values)));
                }
            }
        }
    }
}

/// Copies the warm service's hits into the cold one, on a task of its own.
fn fill<S>(plain: &Plain<S>, warm: &[Value])
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let writes: Vec<_> = warm
        .iter()
        .filter_map(|value| {
            // One key: its value may not name it (binary GET).
            let key = if plain.keys.len() == 1 {
                &plain.keys[0]
            } else {
                &value.key
            };
            write_back::write_back(key, value)
        })
        .map(|add| plain.cold.clone().oneshot(add))
        .collect();
    if writes.is_empty() {
        return;
    }
    let fills = plain.layer.fills.clone();
    let spawned = plain.layer.background.spawn(async move {
        for reply in join_all(writes).await {
            match reply {
                Ok(Response::Stored(_)) => {
                    fills.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {} // NOT_STORED: a client stored a newer value meanwhile
                Err(error) => tracing::debug!(%error, "warm-up: fill failed"),
            }
        }
    });
    if !spawned {
        tracing::debug!("warm-up: fills at their bound, skipping");
    }
}
