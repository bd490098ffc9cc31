//! The scaffolding of every layer over several services (replicate, failover,
//! read-repair, route, shard, broadcast): the shared list of services, the
//! always-ready `poll_ready`, the reply that is one service's or the layer's own
//! combination of several, and the error that wraps one service's failure.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_util::future::{join_all, JoinAll};
use memkeep_protocol::{Request, Response};
use pin_project_lite::pin_project;
use tower::util::{Oneshot, ServiceExt};
use tower_service::Service;

use crate::keyless;
use crate::BoxError;

/// The services a layer fans out over, shared by its clones. Each call clones the one
/// it uses (`clone().oneshot(..)`), so the layer never waits for all of them to be
/// ready (tower's `Steer` does, and one slow backend then blocks every key).
pub struct Replicas<S> {
    services: Arc<[S]>,
}

impl<S> Replicas<S> {
    /// The services of a layer that needs at least one (`layer` names it in the
    /// panic).
    pub(crate) fn non_empty(services: Vec<S>, layer: &str) -> Self {
        assert!(!services.is_empty(), "{layer} needs at least one replica");
        Replicas::from(services)
    }

    /// Sends `request` to service `index` once it is ready.
    pub(crate) fn call(&self, index: usize, request: Request) -> Oneshot<S, Request>
    where
        S: Service<Request> + Clone,
    {
        self.services[index].clone().oneshot(request)
    }

    /// Sends a copy of `request` to each service of `indexes`, and joins the replies
    /// (in the order of `indexes`).
    pub(crate) fn call_each(
        &self,
        indexes: impl IntoIterator<Item = usize>,
        request: &Request,
    ) -> JoinAll<Oneshot<S, Request>>
    where
        S: Service<Request> + Clone,
    {
        join_all(indexes.into_iter().map(|i| self.call(i, request.clone())))
    }
}

impl<S> From<Vec<S>> for Replicas<S> {
    fn from(services: Vec<S>) -> Self {
        Replicas {
            services: services.into(),
        }
    }
}

impl<S> Deref for Replicas<S> {
    type Target = [S];

    fn deref(&self) -> &[S] {
        &self.services
    }
}

impl<S> Clone for Replicas<S> {
    fn clone(&self) -> Self {
        Replicas {
            services: self.services.clone(),
        }
    }
}

impl<S> fmt::Debug for Replicas<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} services", self.services.len())
    }
}

/// `poll_ready` of a layer over [`Replicas`]: always ready, as each call waits for
/// the readiness of the services it uses, so a dead service cannot hold back
/// requests another would answer.
pub(crate) fn always_ready() -> Poll<Result<(), BoxError>> {
    Poll::Ready(Ok(()))
}

pin_project! {
    /// The reply of a layer over several services: one service's (a read, a key
    /// with one replica, ...), or the layer's own future `F` over several.
    pub struct Reply<S: Service<Request>, F> {
        #[pin]
        state: ReplyState<S, F>,
    }
}

pin_project! {
    #[project = ReplyProj]
    enum ReplyState<S: Service<Request>, F> {
        One { #[pin] call: Oneshot<S, Request> },
        Many { #[pin] future: F },
    }
}

impl<S: Service<Request>, F> Reply<S, F> {
    /// One service answers.
    pub(crate) fn one(call: Oneshot<S, Request>) -> Self {
        Reply {
            state: ReplyState::One { call },
        }
    }

    /// The layer's future answers.
    pub(crate) fn many(future: F) -> Self {
        Reply {
            state: ReplyState::Many { future },
        }
    }
}

impl<S: Service<Request>, F> fmt::Debug for Reply<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            ReplyState::One { .. } => "one service",
            ReplyState::Many { .. } => "several services",
        };
        f.debug_tuple("Reply").field(&state).finish()
    }
}

impl<S, F> Future for Reply<S, F>
where
    S: Service<Request, Response = Response, Error = BoxError>,
    F: Future<Output = Result<Response, BoxError>>,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            ReplyProj::One { call } => call.poll(cx),
            ReplyProj::Many { future } => future.poll(cx),
        }
    }
}

pin_project! {
    /// A command that goes to every server, sent to several services: their replies
    /// joined as memcached's would read ([`keyless::combine`]).
    pub struct Combined<S: Service<Request>> {
        #[pin]
        calls: JoinAll<Oneshot<S, Request>>,
    }
}

impl<S: Service<Request>> Combined<S> {
    pub(crate) fn new(calls: JoinAll<Oneshot<S, Request>>) -> Self {
        Combined { calls }
    }
}

impl<S> Future for Combined<S>
where
    S: Service<Request, Response = Response, Error = BoxError>,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let replies = ready!(self.project().calls.poll(cx));
        Poll::Ready(keyless::combine(replies))
    }
}

/// Defines a layer's error that wraps the failure of one of its services: a tuple
/// `Debug`, a `Display` of `$words: <the failure>`, and the failure as its
/// [`source`](std::error::Error::source). Only the layer makes it.
macro_rules! wrapping_error {
    ($(#[$doc:meta])* $name:ident, $words:literal) => {
        $(#[$doc])*
        pub struct $name {
            source: $crate::BoxError,
        }

        impl $name {
            fn new(source: $crate::BoxError) -> Self {
                $name { source }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.source).finish()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($words, ": {}"), self.source)
            }
        }

        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&*self.source)
            }
        }
    };
}
pub(crate) use wrapping_error;
