//! Resize: a pool whose servers just changed, warmed from what it was. For a window
//! after the change, a read that misses a key whose server changed is read from the
//! key's previous server (the ring before the change) and copied to its new one
//! (through [`WarmUp`](super::warm_up::WarmUp), filtered to moved keys); a key whose
//! server did not change is read as without the window. A write of a moved key goes
//! to its new server, and the previous server's copy is deleted before the client is
//! answered, so that neither a fallback read nor a later change back serves the
//! older value (a delete answers `DELETED` if either held the key). See
//! docs/resize.md.

mod window;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{join, Join};
use memkeep_protocol::{Command, Delete, Form, Request, Response, TextForm, TextVerb};
use pin_project_lite::pin_project;
use tower::util::{Oneshot, ServiceExt};
use tower::Layer;
use tower_service::Service;

use super::warm_up;
use super::write_back::is_plain_get;
use crate::BoxError;

pub use window::{Moved, WarmUpCounters, Window};

#[cfg(test)]
mod tests;

/// One shard of a pool after a change (replica `replica` of each key), falling back
/// to the pool before it while `window` is open.
pub struct Resize<S> {
    new: S,
    window: Arc<Window<S>>,
    replica: usize,
}

impl<S: Clone> Clone for Resize<S> {
    fn clone(&self) -> Self {
        Resize {
            new: self.new.clone(),
            window: self.window.clone(),
            replica: self.replica,
        }
    }
}

impl<S> fmt::Debug for Resize<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resize")
            .field("replica", &self.replica)
            .field("open", &self.window.is_open())
            .finish()
    }
}

impl<S> Resize<S> {
    /// The shard `new` (of replica `replica`), warmed through `window`.
    pub fn new(new: S, window: Arc<Window<S>>, replica: usize) -> Self {
        Resize {
            new,
            window,
            replica,
        }
    }

    /// The pool's new shard.
    pub fn get_ref(&self) -> &S {
        &self.new
    }
}

/// Builds [`Resize`] services over a pool's new shards.
pub struct ResizeLayer<S> {
    window: Arc<Window<S>>,
    replica: usize,
}

impl<S> ResizeLayer<S> {
    /// Warms replica `replica`'s shard through `window`.
    pub fn new(window: Arc<Window<S>>, replica: usize) -> Self {
        ResizeLayer { window, replica }
    }
}

impl<S> Layer<S> for ResizeLayer<S> {
    type Service = Resize<S>;

    fn layer(&self, new: S) -> Resize<S> {
        Resize::new(new, self.window.clone(), self.replica)
    }
}

/// The plain delete that removes a moved key's copy from its previous server.
fn stale_copy_delete(key: &bytes::Bytes) -> Request {
    Request {
        command: Command::Delete(Delete {
            key: key.clone(),
            ..Delete::default()
        }),
        form: Form::Text(TextForm {
            verb: TextVerb::Delete,
            noreply: false,
        }),
    }
}

impl<S> Service<Request> for Resize<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Every request goes to the new shard; the previous one is called with
        // `oneshot`.
        self.new.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture<S> {
        let Some(previous) = self.window.previous() else {
            return State::Direct {
                fut: self.new.call(req),
            }
            .into();
        };
        // The new shard was made ready: it goes on with this request, a clone stays.
        let new = self.new.clone();
        let ready = std::mem::replace(&mut self.new, new);
        if is_plain_get(&req.command).is_some() {
            // `ready` is the warm-up's cold service, ready as it must be.
            let mut warm_up = previous.warm_ups[self.replica].layer(ready);
            return State::WarmUp {
                fut: warm_up.call(req),
            }
            .into();
        }
        let moved_key = match &req.command {
            Command::Store(store) => Some(&store.key),
            Command::Delete(delete) => Some(&delete.key),
            Command::Arith(arith) => Some(&arith.key),
            _ => None,
        }
        .filter(|key| previous.moved.moved(key, self.replica));
        let Some(key) = moved_key else {
            return State::Direct {
                fut: ready.oneshot_ready(req),
            }
            .into();
        };
        let delete = stale_copy_delete(key);
        let old = previous.views[self.replica].clone();
        self.window
            .counters
            .stale_deletes
            .fetch_add(1, Ordering::Relaxed);
        // Answered once the previous copy is gone too: a read right after must not
        // find the older value there and copy it back.
        let deleting = matches!(req.command, Command::Delete(_));
        State::Write {
            fut: join(ready.oneshot_ready(req), old.oneshot(delete)),
            deleting,
        }
        .into()
    }
}

/// Calls a service already made ready, as a future of its own type.
trait OneshotReady: Service<Request> + Sized {
    fn oneshot_ready(mut self, req: Request) -> Self::Future {
        self.call(req)
    }
}

impl<S: Service<Request>> OneshotReady for S {}

pin_project! {
    /// The reply to a request sent through [`Resize`].
    pub struct ResponseFuture<S: Service<Request>> {
        #[pin]
        state: State<S>,
    }
}

impl<S: Service<Request>> From<State<S>> for ResponseFuture<S> {
    fn from(state: State<S>) -> Self {
        ResponseFuture { state }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request>> {
        /// Sent to the new shard alone.
        Direct { #[pin] fut: S::Future },
        /// A get: the new shard, then the previous one for moved keys it missed.
        WarmUp { #[pin] fut: warm_up::ResponseFuture<S> },
        /// A write of a moved key: to the new shard, and a delete to the previous one.
        Write { #[pin] fut: Join<S::Future, Oneshot<S, Request>>, deleting: bool },
    }
}

impl<S: Service<Request>> fmt::Debug for ResponseFuture<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("resize::ResponseFuture").finish()
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Direct { fut } => fut.poll(cx),
            StateProj::WarmUp { fut } => fut.poll(cx),
            StateProj::Write { fut, deleting } => {
                let (new, old) = futures_util::ready!(fut.poll(cx));
                if let Err(error) = &old {
                    tracing::debug!(%error, "warm-up: deleting a moved key's previous copy failed");
                }
                Poll::Ready(match (new, old) {
                    // The key lived on its previous server only: it was there, and
                    // is gone now, as the client asked.
                    (Ok(Response::NotFound), Ok(Response::Deleted)) if *deleting => {
                        Ok(Response::Deleted)
                    }
                    (new, _) => new,
                })
            }
        }
    }
}
