//! The connection's replies in request order: each is ready at once (errors, quit,
//! refusals) or the service's future, with the form it is to be written in.
//!
//! Futures are pinned in place, never required to be `Unpin`, so any tower middleware
//! (a timeout with a `Sleep` inside) plugs into the driver unboxed.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::stream::{FuturesOrdered, Stream, StreamExt};
use memkeep_protocol::{Form, Response};
use pin_project_lite::pin_project;

use crate::error::{error_response, BoxError};

pin_project! {
    /// One reply to come: ready now, or the service's future.
    pub(super) struct Reply<F> {
        form: Option<Form>,
        #[pin]
        state: ReplyState<F>,
    }
}

pin_project! {
    #[project = ReplyStateProj]
    enum ReplyState<F> {
        Ready { response: Option<Response> },
        Call { #[pin] future: F },
    }
}

impl<F> Reply<F> {
    /// A reply the driver gives itself, without the service.
    pub(super) fn ready(form: Form, response: Response) -> Self {
        Reply {
            form: Some(form),
            state: ReplyState::Ready {
                response: Some(response),
            },
        }
    }

    /// The service's answer to come, to be written in `form`.
    pub(super) fn call(form: Form, future: F) -> Self {
        Reply {
            form: Some(form),
            state: ReplyState::Call { future },
        }
    }
}

impl<F> Future for Reply<F>
where
    F: Future<Output = Result<Response, BoxError>>,
{
    type Output = (Form, Response);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.state.project() {
            ReplyStateProj::Ready { response } => response.take().expect("polled after completion"),
            ReplyStateProj::Call { future } => {
                ready!(future.poll(cx)).unwrap_or_else(|e| error_response(&e))
            }
        };
        Poll::Ready((this.form.take().expect("polled after completion"), response))
    }
}

pin_project! {
    /// The replies still owed, oldest first. The oldest lives in place (`head`), so a
    /// connection that sends one request at a time (or whose service answers at once)
    /// never allocates a queue entry; the rest wait in an ordered queue, and those that
    /// finish while `head` is still pending are kept in `early` until their turn.
    pub(super) struct Replies<F>
    where
        F: Future<Output = Result<Response, BoxError>>,
    {
        #[pin]
        head: Option<Reply<F>>,
        early: VecDeque<(Form, Response)>,
        rest: FuturesOrdered<Reply<F>>,
    }
}

impl<F> Replies<F>
where
    F: Future<Output = Result<Response, BoxError>>,
{
    pub(super) fn new() -> Self {
        Replies {
            head: None,
            early: VecDeque::new(),
            rest: FuturesOrdered::new(),
        }
    }

    /// How many replies are owed.
    pub(super) fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.early.len() + self.rest.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `reply` after every reply owed.
    pub(super) fn push(self: Pin<&mut Self>, reply: Reply<F>) {
        let mut this = self.project();
        if this.head.is_none() && this.early.is_empty() && this.rest.is_empty() {
            this.head.set(Some(reply));
        } else {
            this.rest.push_back(reply);
        }
    }

    /// The next reply in order, if it is ready now.
    pub(super) fn next_ready(mut self: Pin<&mut Self>) -> Option<(Form, Response)> {
        futures_util::FutureExt::now_or_never(self.next()).flatten()
    }
}

impl<F> Stream for Replies<F>
where
    F: Future<Output = Result<Response, BoxError>>,
{
    type Item = (Form, Response);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if let Some(head) = this.head.as_mut().as_pin_mut() {
            if let Poll::Ready(reply) = head.poll(cx) {
                this.head.set(None);
                return Poll::Ready(Some(reply));
            }
            // Later replies make progress meanwhile (a proxy's fan-out runs as it is
            // polled); they are kept until the head is out.
            while let Poll::Ready(Some(reply)) = this.rest.poll_next_unpin(cx) {
                this.early.push_back(reply);
            }
            return Poll::Pending;
        }
        if let Some(reply) = this.early.pop_front() {
            return Poll::Ready(Some(reply));
        }
        this.rest.poll_next_unpin(cx)
    }
}
