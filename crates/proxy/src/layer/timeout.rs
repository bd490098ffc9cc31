//! Timeout: fail a request whose reply takes longer than a limit, with the small
//! [`Elapsed`] error, so the layers above (eject, failover) see a failure.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{sleep, Sleep};
use tower::Layer;
use tower_service::Service;

use crate::BoxError;

/// The request took longer than the timeout.
#[derive(Debug)]
pub struct Elapsed(pub(crate) ());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request timed out")
    }
}

impl std::error::Error for Elapsed {}

/// Fails requests to `S` that take longer than a limit.
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    limit: Duration,
}

impl<S> Timeout<S> {
    /// Wraps `inner` with a time limit per request.
    pub fn new(inner: S, limit: Duration) -> Self {
        Timeout { inner, limit }
    }

    /// A layer applying `limit`.
    pub fn layer(limit: Duration) -> TimeoutLayer {
        TimeoutLayer { limit }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Builds [`Timeout`]s.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout::new(inner, self.limit)
    }
}

impl<S, R> Service<R> for Timeout<S>
where
    S: Service<R, Error = BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        ResponseFuture {
            inner: self.inner.call(request),
            sleep: sleep(self.limit),
        }
    }
}

pin_project! {
    /// The reply of a [`Timeout`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
    }
}

impl<F, T> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, BoxError>>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result);
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()).into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio_test::{assert_pending, assert_ready_err, assert_ready_ok};
    use tower::ServiceExt;
    use tower_test::mock;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slow_replies_fail_and_quick_ones_pass() {
        let (service, mut handle) = mock::pair::<u32, u32>();
        let service = Timeout::new(service.map_err(BoxError::from), Duration::from_millis(100));

        let mut quick = tokio_test::task::spawn(service.clone().oneshot(1));
        assert_pending!(quick.poll());
        let (request, reply) = handle.next_request().await.unwrap();
        assert_eq!(request, 1);
        reply.send_response(10);
        assert_eq!(assert_ready_ok!(quick.poll()), 10);

        let mut slow = tokio_test::task::spawn(service.oneshot(2));
        assert_pending!(slow.poll());
        let (_, _reply) = handle.next_request().await.unwrap();
        tokio::time::sleep(Duration::from_millis(99)).await;
        assert_pending!(slow.poll());
        tokio::time::sleep(Duration::from_millis(1)).await;
        let err = assert_ready_err!(slow.poll());
        assert!(err.is::<Elapsed>());
    }
}
