//! Count: per-server figures for `stats` and twemproxy's stats port (requests sent,
//! replies, failures, timeouts), counted as each request completes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use memkeep_protocol::{Request, Response};
use tower::Layer;
use tower_service::Service;

use super::settle::{Settle, Settled};
use crate::error_kind::Failure;
use crate::BoxError;

/// One server's counters. Clones of a [`Count`] share them.
#[derive(Debug, Default)]
pub struct ServerCounters {
    /// Requests sent (or refused while the server was ejected).
    pub requests: AtomicU64,
    /// Replies received.
    pub responses: AtomicU64,
    /// Requests that failed: connection down or lost, invalid reply, timeout.
    pub errors: AtomicU64,
    /// Of the errors, those that were timeouts.
    pub timeouts: AtomicU64,
    /// Of the errors, those refused because the server was ejected.
    pub ejected: AtomicU64,
}

impl ServerCounters {
    /// Reads one counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Builds [`Count`] services sharing one set of counters.
#[derive(Debug, Clone, Default)]
pub struct CountLayer {
    counters: Arc<ServerCounters>,
}

impl CountLayer {
    /// Counts into `counters`.
    pub fn new(counters: Arc<ServerCounters>) -> Self {
        CountLayer { counters }
    }
}

impl<S> Layer<S> for CountLayer {
    type Service = Count<S>;

    fn layer(&self, inner: S) -> Count<S> {
        Count {
            inner,
            counters: self.counters.clone(),
        }
    }
}

/// Passes requests through and counts how they end.
#[derive(Debug, Clone)]
pub struct Count<S> {
    inner: S,
    counters: Arc<ServerCounters>,
}

impl<S> Count<S> {
    /// The counters.
    pub fn counters(&self) -> &Arc<ServerCounters> {
        &self.counters
    }
}

impl<S> Service<Request> for Count<S>
where
    S: Service<Request, Response = Response, Error = BoxError>,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        Settled::new(self.inner.call(request), self.counters.clone())
    }
}

/// The reply of a [`Count`]: the inner service's.
pub type ResponseFuture<F> = Settled<F, Arc<ServerCounters>>;

impl Settle for Arc<ServerCounters> {
    fn settle(self, result: Result<Response, BoxError>) -> Result<Response, BoxError> {
        match &result {
            Ok(_) => self.responses.fetch_add(1, Ordering::Relaxed),
            Err(error) => {
                match Failure::of(&**error) {
                    Failure::Timeout => self.timeouts.fetch_add(1, Ordering::Relaxed),
                    Failure::Ejected => self.ejected.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
                self.errors.fetch_add(1, Ordering::Relaxed)
            }
        };
        result
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tower::ServiceExt;

    use super::*;
    use crate::layer::timeout::Timeout;

    fn request() -> Request {
        let mut wire = bytes::BytesMut::from(&b"version\r\n"[..]);
        memkeep_protocol::Decoder::default()
            .decode(&mut wire)
            .unwrap()
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn replies_failures_and_timeouts_are_counted() {
        let counters = Arc::new(ServerCounters::default());
        let ok = tower::service_fn(|_: Request| async { Ok::<_, BoxError>(Response::Ok) });
        let counted = CountLayer::new(counters.clone()).layer(ok);
        counted.oneshot(request()).await.unwrap();
        let failing =
            tower::service_fn(|_: Request| async { Err::<Response, BoxError>("down".into()) });
        let counted = CountLayer::new(counters.clone()).layer(failing);
        counted.oneshot(request()).await.unwrap_err();
        let slow =
            tower::service_fn(|_: Request| std::future::pending::<Result<Response, BoxError>>());
        let timed = Timeout::new(slow, Duration::from_millis(10));
        let counted = CountLayer::new(counters.clone()).layer(timed);
        counted.oneshot(request()).await.unwrap_err();
        let read = |c: &AtomicU64| ServerCounters::get(c);
        assert_eq!(read(&counters.requests), 3);
        assert_eq!(read(&counters.responses), 1);
        assert_eq!(read(&counters.errors), 2);
        assert_eq!(read(&counters.timeouts), 1);
    }
}
