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

use super::PartialFailure;
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
            // The node of each part, in part order.
            owners: Vec<usize>,
            // Each key and its node, in request order.
            keys: Vec<(Bytes, usize)>,
            partial: PartialFailure,
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
        owners: Vec<usize>,
        keys: Vec<(Bytes, usize)>,
        partial: PartialFailure,
    ) -> Self {
        ResponseFuture {
            kind: Kind::Merge {
                calls: join_all(calls),
                owners,
                keys,
                partial,
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
                owners,
                keys,
                partial,
            } => {
                let parts = ready!(Pin::new(calls).poll(cx));
                Poll::Ready(merge(parts, owners, keys, *partial))
            }
            KindProj::All { calls } => {
                let replies = ready!(Pin::new(calls).poll(cx));
                Poll::Ready(crate::keyless::combine(replies))
            }
        }
    }
}

/// The hits of every part in the request's key order. A failed part (an error or
/// an error reply) fails the whole reply or reads as misses, as `partial` says.
fn merge(
    parts: Vec<Result<Response, BoxError>>,
    owners: &[usize],
    keys: &[(Bytes, usize)],
    partial: PartialFailure,
) -> Result<Response, BoxError> {
    let mut hits = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            Ok(Response::Values(values)) => hits.push(values.into_iter().peekable()),
            failed if partial == PartialFailure::Error => return failed,
            _ => hits.push(Vec::new().into_iter().peekable()),
        }
    }
    // Each part lists its hits in the order its keys were asked, misses left out:
    // walking the keys in request order, a key's hit is the next one of its part.
    let mut merged = Vec::new();
    for (key, node) in keys {
        let part = owners
            .iter()
            .position(|o| o == node)
            .expect("every node has a part");
        if let Some(value) = hits[part].next_if(|v| v.key == *key) {
            merged.push(value);
        }
    }
    Ok(Response::Values(merged))
}
