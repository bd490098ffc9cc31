//! The response future of a layer that passes each request on to one service and
//! then looks at how it ended (counts it, replaces the reply): the inner future, and
//! what to do with its result, named, so the layer's future needs no boxing.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use memkeep_protocol::Response;
use pin_project_lite::pin_project;

use crate::BoxError;

/// What a layer does with the result of the request it passed on.
pub trait Settle {
    /// The result the layer answers, from the inner service's.
    fn settle(self, result: Result<Response, BoxError>) -> Result<Response, BoxError>;
}

pin_project! {
    /// The inner service's reply, settled by `H` once it is there.
    pub struct Settled<F, H> {
        #[pin]
        inner: F,
        then: Option<H>,
    }
}

impl<F, H> Settled<F, H> {
    pub(crate) fn new(inner: F, then: H) -> Self {
        Settled {
            inner,
            then: Some(then),
        }
    }
}

impl<F, H> Future for Settled<F, H>
where
    F: Future<Output = Result<Response, BoxError>>,
    H: Settle,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let then = this.then.take().expect("polled after completion");
        Poll::Ready(then.settle(result))
    }
}
