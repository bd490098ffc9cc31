//! A service whose stack a reload replaces: requests arriving from then on go to the
//! new stack, requests already sent finish on the old one, and client connections
//! stay open across the switch.

use std::sync::Arc;
use std::task::{Context, Poll};

use memkeep_protocol::Request;
use parking_lot::RwLock;
use tower::util::{Oneshot, ServiceExt};
use tower::Service;

/// Holds the current stack; clones share it and see its replacement.
#[derive(Clone)]
pub struct Swappable<S> {
    current: Arc<RwLock<S>>,
}

impl<S> Swappable<S> {
    /// Serves `stack` until [`Swappable::replace`].
    pub fn new(stack: S) -> Self {
        Swappable {
            current: Arc::new(RwLock::new(stack)),
        }
    }

    /// Sends the requests that arrive from now on to `stack`. Requests already sent
    /// finish on the old one, which is dropped with its last request.
    pub fn replace(&self, stack: S) {
        *self.current.write() = stack;
    }
}

impl<S> Swappable<S>
where
    S: Clone,
{
    /// The stack serving now.
    pub fn current(&self) -> S {
        self.current.read().clone()
    }
}

impl<S> Service<Request> for Swappable<S>
where
    S: Service<Request> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Oneshot<S, Request>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        // Each request waits for the readiness of the stack it is sent to (the one
        // current when it arrives), not of one a reload may replace meanwhile.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.current().oneshot(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memkeep_protocol::{Decoder, Response};

    fn version() -> Request {
        let mut wire = bytes::BytesMut::from(&b"version\r\n"[..]);
        Decoder::default().decode(&mut wire).unwrap().unwrap()
    }

    fn answering(text: &'static str) -> super::super::SharedService {
        super::super::SharedService::new(tower::service_fn(move |_: Request| async move {
            Ok::<_, crate::BoxError>(Response::Version(text.into()))
        }))
    }

    #[tokio::test]
    async fn requests_after_a_replace_reach_the_new_stack() {
        let front = Swappable::new(answering("old"));
        let before = front.clone().oneshot(version()).await.unwrap();
        front.replace(answering("new"));
        let after = front.clone().oneshot(version()).await.unwrap();
        assert_eq!(before, Response::Version("old".into()));
        assert_eq!(after, Response::Version("new".into()));
    }
}
