//! Shadow: copy a fraction of the requests to another service (a new pool under test,
//! a cache being warmed), ignore its replies and errors, and never delay the client.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use memkeep_protocol::{Request, Response};
use pin_project_lite::pin_project;
use tower::util::ServiceExt;
use tower::Layer;
use tower_service::Service;

use super::background::Background;
use crate::BoxError;

#[cfg(test)]
mod tests;

/// The fraction is counted in millionths: exact for the fractions people write.
const SCALE: u64 = 1_000_000;

/// Builds [`Shadow`] services that copy to `T`.
#[derive(Debug, Clone)]
pub struct ShadowLayer<T> {
    shadow: T,
    rate: u64,
    counter: Arc<AtomicU64>,
    background: Background,
}

impl<T> ShadowLayer<T> {
    /// How many copies may be in flight at once, across every service this layer
    /// builds, unless [`Self::in_flight_limit`] says otherwise.
    pub const DEFAULT_IN_FLIGHT_LIMIT: usize = 1024;

    /// Copies `fraction` (0.0 to 1.0, clamped) of the key requests to `shadow`.
    ///
    /// The choice is deterministic: requests are counted (over every service this
    /// layer builds) and request n is copied when its share of the count crosses a
    /// whole number, so 0.25 copies exactly requests 0, 4, 8, ... No randomness makes
    /// tests and comparisons between runs exact.
    pub fn new(shadow: T, fraction: f64) -> Self {
        ShadowLayer {
            shadow,
            rate: (fraction.clamp(0.0, 1.0) * SCALE as f64).round() as u64,
            counter: Arc::default(),
            background: Background::new(Self::DEFAULT_IN_FLIGHT_LIMIT),
        }
    }

    /// Bounds the copies in flight. Past it a copy is skipped: a slow shadow pool must
    /// cost the proxy neither memory nor the client latency.
    pub fn in_flight_limit(mut self, limit: usize) -> Self {
        self.background = Background::new(limit);
        self
    }
}

impl<S, T: Clone> Layer<S> for ShadowLayer<T> {
    type Service = Shadow<S, T>;

    fn layer(&self, inner: S) -> Shadow<S, T> {
        Shadow {
            inner,
            layer: self.clone(),
        }
    }
}

/// Sends every request to the inner service and a copy of some key requests (gets,
/// stores, deletes, ... but not stats, version or flush_all) to the shadow service,
/// on a task of its own.
#[derive(Debug, Clone)]
pub struct Shadow<S, T> {
    inner: S,
    layer: ShadowLayer<T>,
}

impl<S, T> Shadow<S, T> {
    /// The service that answers the client.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The service that answers the client.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Whether request number `n` is copied.
    fn selected(&self, n: u64) -> bool {
        (n % SCALE) * self.layer.rate % SCALE < self.layer.rate
    }
}

impl<S, T> Service<Request> for Shadow<S, T>
where
    S: Service<Request, Response = Response, Error = BoxError>,
    T: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    T::Future: Send + 'static,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Only the client's service applies backpressure; the shadow never does.
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture<S::Future> {
        if req.command.key().is_some() {
            let n = self.layer.counter.fetch_add(1, Ordering::Relaxed);
            if self.selected(n) {
                let copy = self.layer.shadow.clone().oneshot(req.clone());
                let spawned = self.layer.background.spawn(async move {
                    if let Err(error) = copy.await {
                        tracing::trace!(%error, "shadow request failed");
                    }
                });
                if !spawned {
                    tracing::trace!("shadow copies at their bound, skipping");
                }
            }
        }
        ResponseFuture {
            inner: self.inner.call(req),
        }
    }
}

pin_project! {
    /// The reply to a request sent through [`Shadow`]: the inner service's.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, BoxError>>,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}
