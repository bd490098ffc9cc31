//! Eject: after `failure_limit` consecutive failures a server is ejected for
//! `retry_timeout`; then a probe (`version`) is sent, and only when it succeeds is
//! the server re-admitted; a failed probe ejects it for another `retry_timeout`.
//!
//! The breaker is a small state machine beside the request path: requests look at
//! one flag (the gate) and report their outcome. While ejected, requests fail at
//! once with [`Ejected`]. The pool's live set ([`LiveSet`]) is published as a
//! whole on every change, so a shard can rebuild its ring without the ejected
//! servers (twemproxy's `auto_eject_hosts`).

mod breaker;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use memkeep_protocol::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::settle::{Settle, Settled};
use crate::error_kind::Failure;
use crate::BoxError;
pub use breaker::LiveSet;
use breaker::{Breaker, Probe};

/// When to eject and for how long.
#[derive(Debug, Clone, Copy)]
pub struct EjectConfig {
    /// Consecutive failures that eject the server (twemproxy's
    /// `server_failure_limit`).
    pub failure_limit: u32,
    /// How long an ejected server waits before it is probed (twemproxy's
    /// `server_retry_timeout`).
    pub retry_timeout: Duration,
}

impl Default for EjectConfig {
    /// twemproxy's defaults: 2 failures, 30 seconds.
    fn default() -> Self {
        EjectConfig {
            failure_limit: 2,
            retry_timeout: Duration::from_secs(30),
        }
    }
}

/// The server is ejected: the request was not sent.
#[derive(Debug)]
pub struct Ejected(pub(crate) ());

impl fmt::Display for Ejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("server ejected after repeated failures")
    }
}

impl std::error::Error for Ejected {}

/// Ejects the server behind `S` after repeated failures.
pub struct Eject<S> {
    inner: S,
    breaker: Arc<Breaker>,
}

impl<S: Clone> Clone for Eject<S> {
    fn clone(&self) -> Self {
        Eject {
            inner: self.inner.clone(),
            breaker: self.breaker.clone(),
        }
    }
}

impl<S> Eject<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    /// Guards `inner`, server number `index` of `live` (which it marks down while
    /// ejected). Probes run as tasks: needs a tokio runtime.
    pub fn new(inner: S, config: EjectConfig, live: Option<(LiveSet, usize)>) -> Self {
        // Behind a lock so the probe is `Sync` without asking it of the service.
        let probe_with = parking_lot::Mutex::new(inner.clone());
        let probe: Probe = Box::new(move || {
            let service = probe_with.lock().clone();
            Box::pin(async move {
                use tower::ServiceExt;
                let request = Request {
                    command: memkeep_protocol::Command::Version,
                    form: memkeep_protocol::Form::Text(memkeep_protocol::TextForm {
                        verb: memkeep_protocol::TextVerb::Version,
                        noreply: false,
                    }),
                };
                matches!(service.oneshot(request).await, Ok(Response::Version(_)))
            })
        });
        Eject {
            inner,
            breaker: Arc::new(Breaker::new(config, live, probe)),
        }
    }
}

impl<S> Eject<S> {
    /// Whether the server is ejected now.
    pub fn is_ejected(&self) -> bool {
        self.breaker.is_open()
    }

    /// How many times the server has been ejected.
    pub fn ejections(&self) -> u64 {
        self.breaker.ejections()
    }

    /// The guarded service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> Service<Request> for Eject<S>
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
        let inner = (!self.breaker.is_open())
            .then(|| Settled::new(self.inner.call(request), Outcome(self.breaker.clone())));
        ResponseFuture { inner }
    }
}

pin_project! {
    /// The reply of an [`Eject`]: the inner reply, its outcome reported to the
    /// breaker; or [`Ejected`] at once.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<Settled<F, Outcome>>,
    }
}

/// Reports a request's outcome to the breaker.
struct Outcome(Arc<Breaker>);

impl Settle for Outcome {
    fn settle(self, result: Result<Response, BoxError>) -> Result<Response, BoxError> {
        // Only failures that say the server is unwell count towards ejecting it.
        let refused = result
            .as_ref()
            .is_err_and(|e| !Failure::of(&**e).counts_against_server());
        if !refused {
            self.0.record(result.is_ok());
        }
        result
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, BoxError>>,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.as_pin_mut() {
            Some(inner) => inner.poll(cx),
            None => Poll::Ready(Err(Ejected(()).into())),
        }
    }
}

#[cfg(test)]
mod tests;
