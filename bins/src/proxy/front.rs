//! The service each listener serves: whatever its route is now (swapped in place by
//! a reload, so open client connections go on with the new tree), with the proxy's
//! own `stats` answered here.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{ready, Either, Ready};
use memkeep_protocol::{Command, Request, Response};
use memkeep_proxy::BoxError;
use parking_lot::RwLock;
use tower::util::{Oneshot, ServiceExt};
use tower::Service;

use super::stack::SharedService;
use super::stats::Status;

/// A listener's service; clones share the route and see its replacement.
#[derive(Clone)]
pub struct Front {
    route: Arc<RwLock<SharedService>>,
    status: Arc<Status>,
}

impl Front {
    /// Serves `route`, answering `stats` from `status`.
    pub fn new(route: SharedService, status: Arc<Status>) -> Self {
        Front {
            route: Arc::new(RwLock::new(route)),
            status,
        }
    }

    /// Sends the requests that arrive from now on to `route`. Requests already
    /// sent finish on the old one.
    pub fn replace(&self, route: SharedService) {
        *self.route.write() = route;
    }
}

impl Service<Request> for Front {
    type Response = Response;
    type Error = BoxError;
    type Future = Either<Ready<Result<Response, BoxError>>, Oneshot<SharedService, Request>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The route's layers are always ready; each request waits for its own.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if matches!(request.command, Command::Stats(None)) {
            let stats = Response::Stats(self.status.memcached_stats());
            return Either::Left(ready(Ok(stats)));
        }
        let route = self.route.read().clone();
        Either::Right(route.oneshot(request))
    }
}
