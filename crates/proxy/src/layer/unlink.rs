//! Unlink: a store whose value was too large to read ([`Command::TooLarge`]) does to
//! the servers what it does to memcached. memcached answers `SERVER_ERROR object too
//! large for cache` and, for the stores where
//! [`Form::failed_store_unlinks`](memkeep_protocol::Form::failed_store_unlinks) holds
//! (text `set`, every `ms`, binary SET and SETQ), removes the key's old value, so
//! that a failed write leaves nothing stale readable. The proxy never has the value
//! to send on: such a store goes on as a `delete` of its key, which the layers below
//! route as they route a store (to the key's server, to every replica, by prefix or
//! by operation), and the client gets memcached's too-large reply whatever the
//! delete's outcome (a failed delete leaves the old value, as the store would have
//! had it fail anywhere else, and the reply is an error anyway). Other too-large
//! stores go on unchanged: the backend answers them without sending anything.
//! Put on top of a listener's tree.

use std::task::{Context, Poll};

use memkeep_protocol::{Command, Delete, Form, Request, Response, TextForm, TextVerb};
use tower::Layer;
use tower_service::Service;

use super::settle::{Settle, Settled};
use crate::BoxError;

/// Builds [`Unlink`] services.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnlinkLayer;

impl<S> Layer<S> for UnlinkLayer {
    type Service = Unlink<S>;

    fn layer(&self, inner: S) -> Unlink<S> {
        Unlink { inner }
    }
}

/// Sends a too-large store that removes the old value as a delete of its key.
#[derive(Debug, Clone)]
pub struct Unlink<S> {
    inner: S,
}

impl<S> Unlink<S> {
    /// Unlinks through `inner`.
    pub fn new(inner: S) -> Self {
        Unlink { inner }
    }
}

/// The delete that stands for `request`, when it is a too-large store that removes
/// the key's old value in memcached.
pub fn unlinking_delete(request: &Request) -> Option<Request> {
    match &request.command {
        Command::TooLarge(store) if request.form.failed_store_unlinks() => Some(Request {
            command: Command::Delete(Delete {
                key: store.key.clone(),
                ..Delete::default()
            }),
            // A plain delete, whatever the client's dialect: its reply is never shown.
            form: Form::Text(TextForm {
                verb: TextVerb::Delete,
                noreply: false,
            }),
        }),
        _ => None,
    }
}

impl<S> Service<Request> for Unlink<S>
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
        match unlinking_delete(&request) {
            Some(delete) => Settled::new(self.inner.call(delete), Unlinked { too_large: true }),
            None => Settled::new(self.inner.call(request), Unlinked { too_large: false }),
        }
    }
}

/// The reply of an [`Unlink`]: the inner service's, or memcached's too-large reply
/// once the delete is done.
pub type ResponseFuture<F> = Settled<F, Unlinked>;

/// Whether the request was a too-large store sent on as a delete.
pub struct Unlinked {
    too_large: bool,
}

impl Settle for Unlinked {
    fn settle(self, reply: Result<Response, BoxError>) -> Result<Response, BoxError> {
        if self.too_large {
            return Ok(Response::TooLarge);
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use memkeep_protocol::{Decoder, Limits};
    use tower::service_fn;
    use tower::ServiceExt;

    use super::*;

    /// The request `wire` decodes to with a 16-byte item size limit.
    fn request(wire: &[u8]) -> Request {
        let limits = Limits {
            max_value_len: 16,
            ..Limits::default()
        };
        Decoder::new(limits)
            .decode(&mut BytesMut::from(wire))
            .unwrap()
            .unwrap()
    }

    /// What reaches the inner service, as a debug string, for `wire`; and the reply.
    async fn through(wire: &[u8]) -> (String, Response) {
        let seen = std::sync::Arc::new(parking_lot::Mutex::new(String::new()));
        let inner = {
            let seen = seen.clone();
            service_fn(move |req: Request| {
                let seen = seen.clone();
                async move {
                    *seen.lock() = format!("{:?}", req.command);
                    Ok::<_, BoxError>(match req.command {
                        Command::Delete(_) => Response::Deleted,
                        _ => Response::Error,
                    })
                }
            })
        };
        let reply = Unlink::new(inner).oneshot(request(wire)).await.unwrap();
        let seen = seen.lock().clone();
        (seen, reply)
    }

    #[tokio::test]
    async fn a_too_large_set_deletes_its_key() {
        let value = [b'x'; 17];
        for line in [&b"set k 0 0 17\r\n"[..], b"ms k 17 MA\r\n"] {
            let wire = [line, &value, b"\r\n"].concat();
            let (seen, reply) = through(&wire).await;
            assert!(seen.starts_with("Delete("), "{seen}");
            assert!(seen.contains("key: b\"k\""), "{seen}");
            assert_eq!(reply, Response::TooLarge);
        }
    }

    #[tokio::test]
    async fn other_too_large_stores_go_on_unchanged() {
        let value = [b'x'; 17];
        for line in [&b"append k 0 0 17\r\n"[..], b"cas k 0 0 17 1\r\n"] {
            let wire = [line, &value, b"\r\n"].concat();
            let (seen, reply) = through(&wire).await;
            assert!(seen.starts_with("TooLarge("), "{seen}");
            assert_eq!(reply, Response::Error);
        }
        let (seen, _) = through(b"get k\r\n").await;
        assert!(seen.starts_with("Get("), "{seen}");
    }
}
