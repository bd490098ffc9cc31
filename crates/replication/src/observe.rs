//! The `Observe` layer: wraps the cache service and, after a mutation succeeds,
//! publishes the key's new state to the backlog. It also answers gets with
//! `SERVER_ERROR warming` until the node has its first full copy, and appends the
//! replication lines to `stats`.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use memkeep_protocol::{Command, ItemMeta, Request, Response, StoreMode};
use memkeep_server::BoxError;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::node::Replication;
use crate::record::Record;

/// What a get answers while the node is warming.
pub const WARMING: &str = "warming";

/// Wraps a cache service; see the module docs.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    replication: Replication,
}

/// Makes [`Observe`] services.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    replication: Replication,
}

impl ObserveLayer {
    /// A layer publishing to `replication`.
    pub fn new(replication: Replication) -> Self {
        ObserveLayer { replication }
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe::new(inner, self.replication.clone())
    }
}

impl<S> Observe<S> {
    /// Observes `inner`'s mutations for `replication`.
    pub fn new(inner: S, replication: Replication) -> Self {
        Observe { inner, replication }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// What to publish once the inner service answers.
#[derive(Debug)]
enum After {
    /// A plain set: the request holds the whole new state.
    Set { key: Bytes, data: Bytes },
    /// Read the key back from the store (append, incr, delete, ...).
    Key(Bytes),
    /// Publish the key's new expiry (touch).
    Touched(Bytes),
    /// Read back the keys a get touched or created.
    Hits,
    /// Publish the new expiry of the keys a get touched (gat, `mg T`).
    TouchedHits,
    /// `flush_all` with this delay.
    Flush(i64),
    /// `stats`: append replication's lines.
    Stats,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = BoxError>,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let after = match &request.command {
            Command::Get(_) if self.replication.is_warming() => {
                return ResponseFuture {
                    state: State::Now {
                        response: Some(Response::ServerError(WARMING.into())),
                    },
                }
            }
            // A vivified miss creates an item: its whole state travels.
            Command::Get(g) if g.vivify.is_some() => Some(After::Hits),
            Command::Get(g) if g.touch.is_some() => Some(After::TouchedHits),
            Command::Store(s) if s.mode == StoreMode::Set && !s.invalidate => Some(After::Set {
                key: s.key.clone(),
                data: s.data.clone(),
            }),
            Command::Store(s) => Some(After::Key(s.key.clone())),
            // A refused store may have removed the old value (see
            // `Form::failed_store_unlinks`): the peer must lose it too.
            Command::TooLarge(t) => Some(After::Key(t.key.clone())),
            Command::Delete(d) => Some(After::Key(d.key.clone())),
            Command::Arith(a) => Some(After::Key(a.key.clone())),
            Command::Touch(t) => Some(After::Touched(t.key.clone())),
            Command::FlushAll(f) => Some(After::Flush(f.delay)),
            Command::Stats(None) => Some(After::Stats),
            _ => None,
        };
        ResponseFuture {
            state: State::Inner {
                future: self.inner.call(request),
                after,
                replication: self.replication.clone(),
            },
        }
    }
}

pin_project! {
    /// [`Observe`]'s response future.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = Projected]
    enum State<F> {
        /// Answered without the inner service.
        Now { response: Option<Response> },
        /// Waiting for the inner service.
        Inner {
            #[pin]
            future: F,
            after: Option<After>,
            replication: Replication,
        },
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, BoxError>>,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            Projected::Now { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            Projected::Inner {
                future,
                after,
                replication,
            } => {
                let mut response = ready!(future.poll(cx))?;
                if let Some(after) = after.take() {
                    record(replication, after, &mut response);
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// Publishes what `response` says changed.
fn record(replication: &Replication, after: After, response: &mut Response) {
    let store = replication.store();
    match (after, &*response) {
        (After::Set { key, data }, Response::Stored(meta)) => {
            replication.publish(item(store.unix_now(), key, data, meta));
        }
        // A store that fails for want of room may unlink the old value, as memcached
        // does (every `ms`, a text `set`, binary SET): the peer must lose it too.
        // Reading the key back publishes a delete if it is gone, and is harmless if
        // it is not.
        (After::Set { key, .. }, Response::TooLarge | Response::OutOfMemory)
        | (After::Key(key), Response::TooLarge | Response::OutOfMemory) => {
            read_back(replication, key)
        }
        (After::Key(key), Response::Stored(_))
        | (After::Key(key), Response::Deleted)
        | (After::Key(key), Response::Number(..))
        | (After::Key(key), Response::Touched(_)) => read_back(replication, key),
        (After::Touched(key), Response::Touched(_)) => read_back_touch(replication, key),
        (After::Hits, Response::Values(hits)) => {
            for hit in hits {
                read_back(replication, hit.key.clone());
            }
        }
        (After::TouchedHits, Response::Values(hits)) => {
            for hit in hits {
                read_back_touch(replication, hit.key.clone());
            }
        }
        (After::Flush(delay), Response::Ok) => {
            let now = store.unix_now();
            let record = if delay > 0 {
                let at = if delay <= 60 * 60 * 24 * 30 {
                    now + delay as u64
                } else {
                    delay as u64
                };
                Record::Flush { at, cas: 0 }
            } else {
                Record::Flush {
                    at: 0,
                    cas: store.flush_cas(),
                }
            };
            replication.publish(record);
        }
        (After::Stats, Response::Stats(_)) => {
            if let Response::Stats(lines) = response {
                lines.extend(replication.stats());
            }
        }
        _ => {}
    }
}

/// Publishes the key's state as the store holds it now: the item, or a delete.
fn read_back(replication: &Replication, key: Bytes) {
    let store = replication.store();
    let record = match store.peek_stamped(&key, |cas| replication.remember_delete(&key, cas)) {
        (Some(v), _) => item(store.unix_now(), key, v.data, &v.meta),
        (None, cas) => Record::Delete { key, cas },
    };
    replication.publish(record);
}

/// Publishes a touch: the item's version and its expiry now, stamped with a fresh
/// CAS-clock value so that concurrent touches on two nodes settle the same way.
fn read_back_touch(replication: &Replication, key: Bytes) {
    let store = replication.store();
    let record = match store.peek_stamped(&key, |cas| replication.remember_delete(&key, cas)) {
        (Some(v), stamp) => match item(store.unix_now(), key, v.data, &v.meta) {
            Record::Item {
                key, expires, cas, ..
            } => Record::Touch {
                key,
                cas,
                expires,
                stamp,
            },
            gone => gone,
        },
        (None, cas) => Record::Delete { key, cas },
    };
    replication.publish(record);
}

/// An item record from a reply's metadata (remaining TTL made absolute).
fn item(now: u64, key: Bytes, data: Bytes, meta: &ItemMeta) -> Record {
    if meta.ttl == -1 {
        return Record::Item {
            key,
            data,
            flags: meta.flags,
            expires: 0,
            cas: meta.cas,
        };
    }
    if meta.ttl <= 0 {
        // Stored already expired: on the peer it is gone too.
        return Record::Delete { key, cas: meta.cas };
    }
    Record::Item {
        key,
        data,
        flags: meta.flags,
        expires: now + meta.ttl as u64,
        cas: meta.cas,
    }
}
