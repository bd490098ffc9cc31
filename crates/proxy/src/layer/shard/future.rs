//! The shard's reply: one server's, a multi-get merged from several, or the
//! combined answer of a command sent to every server.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use memkeep_protocol::{Request, Response};
use pin_project_lite::pin_project;
use tower::util::Oneshot;
use tower_service::Service;

use crate::layer::fan_out::Combined;
use crate::layer::multi_get::Merging;
use crate::BoxError;

pin_project! {
    /// The reply of a [`super::Shard`].
    pub struct ResponseFuture<S: Service<Request>> {
        #[pin]
        kind: Kind<S>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S: Service<Request>> {
        Ready { response: Option<Response> },
        One { #[pin] call: Oneshot<S, Request> },
        Merge { #[pin] merging: Merging<S> },
        All { #[pin] combined: Combined<S> },
    }
}

impl<S: Service<Request>> ResponseFuture<S> {
    pub(super) fn ready(response: Response) -> Self {
        ResponseFuture {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }

    pub(super) fn one(call: Oneshot<S, Request>) -> Self {
        ResponseFuture {
            kind: Kind::One { call },
        }
    }

    pub(super) fn merge(merging: Merging<S>) -> Self {
        ResponseFuture {
            kind: Kind::Merge { merging },
        }
    }

    pub(super) fn all(combined: Combined<S>) -> Self {
        ResponseFuture {
            kind: Kind::All { combined },
        }
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: Service<Request, Response = Response, Error = BoxError>,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Ready { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            KindProj::One { call } => call.poll(cx),
            KindProj::Merge { merging } => merging.poll(cx),
            KindProj::All { combined } => combined.poll(cx),
        }
    }
}
