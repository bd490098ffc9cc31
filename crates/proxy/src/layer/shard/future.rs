//! The shard's reply: one server's, a multi-get merged from several, or the
//! combined answer of a command sent to every server.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::future::{join_all, JoinAll};
use memkeep_protocol::{Request, Response};
use pin_project_lite::pin_project;
use tower::util::Oneshot;
use tower_service::Service;

use crate::layer::multi_get;
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
        Merge {
            calls: JoinAll<Oneshot<S, Request>>,
            // The request's keys, and the part that asked for each.
            keys: Vec<Bytes>,
            part_of: Vec<usize>,
            failed_as_miss: bool,
        },
        All { calls: JoinAll<Oneshot<S, Request>> },
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

    pub(super) fn merge(
        calls: Vec<Oneshot<S, Request>>,
        keys: Vec<Bytes>,
        part_of: Vec<usize>,
        failed_as_miss: bool,
    ) -> Self {
        ResponseFuture {
            kind: Kind::Merge {
                calls: join_all(calls),
                keys,
                part_of,
                failed_as_miss,
            },
        }
    }

    pub(super) fn all(calls: Vec<Oneshot<S, Request>>) -> Self {
        ResponseFuture {
            kind: Kind::All {
                calls: join_all(calls),
            },
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
            KindProj::Merge {
                calls,
                keys,
                part_of,
                failed_as_miss,
            } => {
                let parts = ready!(Pin::new(calls).poll(cx));
                Poll::Ready(multi_get::merge(keys, part_of, parts, *failed_as_miss))
            }
            KindProj::All { calls } => {
                let replies = ready!(Pin::new(calls).poll(cx));
                Poll::Ready(crate::keyless::combine(replies))
            }
        }
    }
}
