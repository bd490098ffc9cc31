//! The service each listener serves: whatever its route is now (swapped in place by
//! a reload, so open client connections go on with the new tree), with the proxy's
//! own `stats` answered here (and its counters reset by `stats reset`, which also
//! goes on to every server), and a too-large set turned into a delete of its key
//! ([`Unlink`]).

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use memkeep_admin::{Measure, RequestMetrics};
use memkeep_protocol::{Request, Response};
use memkeep_proxy::build::{SharedService, Swappable};
use memkeep_proxy::keyless::{self, OwnStats};
use memkeep_proxy::layer::unlink::Unlink;
use memkeep_proxy::BoxError;
use tower::util::ServiceExt;
use tower::Service;

use super::stats::Status;

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
    // Boxed once, here at the edge: the reply is counted on its way out.
    type Future = BoxFuture<'static, Result<Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The route's layers are always ready; each request waits for its own.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match keyless::own_stats(&request.command) {
            Some(OwnStats::Answer) => {
                let stats = Response::Stats(self.status.memcached_stats());
                return futures_util::future::ready(Ok(stats)).boxed();
            }
            // The proxy's own counters (what `stats` shows) and every server's.
            Some(OwnStats::Reset) => self.status.commands.reset(),
            _ => {}
        }
        let route = self.route.current();
        let status = self.status.clone();
        let counted = status.commands.before(&request.command);
        // A too-large set removes the key's old value, as in memcached.
        Measure::new(Unlink::new(route), self.requests.clone())
            .oneshot(request)
            .map(move |reply| {
                if let (Some(counted), Ok(reply)) = (counted, &reply) {
                    status.commands.after(counted, reply);
                }
                reply
            })
            .boxed()
    }
}
