//! The service each listener serves: whatever its route is now (swapped in place by
//! a reload, so open client connections go on with the new tree), with the proxy's
//! own `stats` answered here (and its counters reset by `stats reset`, which also
//! goes on to every server), and a too-large set turned into a delete of its key
//! ([`Unlink`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use memkeep_admin::{Measure, RequestMetrics};
use memkeep_protocol::{Request, Response};
use memkeep_proxy::build::{SharedService, Swappable};
use memkeep_proxy::keyless::{self, OwnStats};
use memkeep_proxy::layer::unlink::Unlink;
use memkeep_proxy::BoxError;
use tower::util::{Oneshot, ServiceExt};
use tower::Service;

use super::stats::{Counted, Status};

/// A listener's service; clones share the route and see its replacement.
#[derive(Clone)]
pub struct Front {
    route: Swappable<SharedService>,
    status: Arc<Status>,
    requests: Arc<RequestMetrics>,
}

impl Front {
    /// Serves `route`, answering `stats` from `status`, measuring requests into
    /// `requests` (for the admin listener).
    pub fn new(route: SharedService, status: Arc<Status>, requests: Arc<RequestMetrics>) -> Self {
        Front {
            route: Swappable::new(route),
            status,
            requests,
        }
    }

    /// Sends the requests that arrive from now on to `route`. Requests already
    /// sent finish on the old one.
    pub fn replace(&self, route: SharedService) {
        self.route.replace(route);
    }
}

impl Service<Request> for Front {
    type Response = Response;
    type Error = BoxError;
    // A named future, not a boxed one: no allocation per request at the edge.
    type Future = FrontFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The route's layers are always ready; each request waits for its own.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> FrontFuture {
        match keyless::own_stats(&request.command) {
            Some(OwnStats::Answer) => {
                let stats = Response::Stats(self.status.memcached_stats());
                return FrontFuture(Reply::Answered(Some(stats)));
            }
            // The proxy's own counters (what `stats` shows) and every server's.
            Some(OwnStats::Reset) => self.status.commands.reset(),
            _ => {}
        }
        let route = self.route.current();
        let counted = self
            .status
            .commands
            .before(&request.command)
            .map(|counted| (counted, self.status.clone()));
        // A too-large set removes the key's old value, as in memcached.
        let mut service = Measure::new(Unlink::new(route), self.requests.clone());
        // The route's layers are ready at once: called now, the future kept is the
        // route's alone, small to move, not one that carries the request until its
        // first poll. Readiness asked without a waker is asked again with one.
        let mut asked = Context::from_waker(std::task::Waker::noop());
        let routed = match service.poll_ready(&mut asked) {
            Poll::Ready(Ok(())) => Routed::Called(service.call(request)),
            _ => Routed::Waiting(Box::pin(service.oneshot(request))),
        };
        // The reply is counted on its way out.
        FrontFuture(Reply::Routed { routed, counted })
    }
}

/// The route's service under the front.
type Route = Measure<Unlink<SharedService>>;

/// The reply of a [`Front`].
pub struct FrontFuture(Reply);

enum Reply {
    /// The proxy's own `stats`.
    Answered(Option<Response>),
    /// Sent down the route; the reply is counted into the proxy's `stats` if `counted`.
    Routed {
        routed: Routed,
        counted: Option<(Counted, Arc<Status>)>,
    },
}

/// A request on the route: called, or waiting for the route to be ready (boxed:
/// rare, and it holds the request).
enum Routed {
    Called(<Route as Service<Request>>::Future),
    Waiting(Pin<Box<Oneshot<Route, Request>>>),
}

impl Future for FrontFuture {
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Reply::Answered(stats) => {
                Poll::Ready(Ok(stats.take().expect("polled after completion")))
            }
            Reply::Routed { routed, counted } => {
                let reply = std::task::ready!(match routed {
                    Routed::Called(future) => Pin::new(future).poll(cx),
                    Routed::Waiting(future) => future.as_mut().poll(cx),
                });
                if let (Some((counted, status)), Ok(reply)) = (counted.take(), &reply) {
                    status.commands.after(counted, reply);
                }
                Poll::Ready(reply)
            }
        }
    }
}
