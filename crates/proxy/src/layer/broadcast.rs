//! Broadcast: the commands that go to every server ([`Keyless::EveryServer`]:
//! `flush_all`, `verbosity`, `stats <group>`, a metadump) sent to every pool a route
//! tree reaches, not only to the one its rules would pick for a request without a
//! key (a prefix route's default, a replicated route's first replica). Put on top of
//! a tree; each pool's shard then sends the command to each of its servers, and the
//! replies are joined as a shard joins its servers' ([`keyless::combine`]).
//!
//! [`Keyless::EveryServer`]: crate::keyless::Keyless::EveryServer

use std::task::{Context, Poll};

use memkeep_protocol::{Request, Response};
use tower::util::ServiceExt;
use tower_service::Service;

use super::fan_out::{self, Combined, Replicas, Reply};
use crate::keyless;
use crate::BoxError;

/// Sends what goes to every server to each of `pools`, everything else to `inner`.
#[derive(Clone)]
pub struct Broadcast<S> {
    inner: S,
    pools: Replicas<S>,
}

impl<S> Broadcast<S> {
    /// `inner` is the tree; `pools` every pool it reaches, each once.
    pub fn new(inner: S, pools: Vec<S>) -> Self {
        Broadcast {
            inner,
            pools: pools.into(),
        }
    }

    /// The tree.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> Service<Request> for Broadcast<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    /// Always ready: each call waits for the services it uses.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        fan_out::always_ready()
    }

    fn call(&mut self, request: Request) -> ResponseFuture<S> {
        if keyless::goes_to_every_server(&request.command) && !self.pools.is_empty() {
            let calls = self.pools.call_each(0..self.pools.len(), &request);
            Reply::many(Combined::new(calls))
        } else {
            Reply::one(self.inner.clone().oneshot(request))
        }
    }
}

/// The reply of a [`Broadcast`].
pub type ResponseFuture<S> = Reply<S, Combined<S>>;

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use memkeep_protocol::Decoder;
    use tower::service_fn;
    use tower::util::BoxCloneService;

    use super::*;

    fn request(wire: &str) -> Request {
        Decoder::default()
            .decode(&mut BytesMut::from(wire.as_bytes()))
            .unwrap()
            .unwrap()
    }

    /// A pool that answers `stats items` with one line naming itself, and `OK` to
    /// anything else.
    fn pool(name: &'static str) -> BoxCloneService<Request, Response, BoxError> {
        BoxCloneService::new(service_fn(move |req: Request| async move {
            Ok::<_, BoxError>(match req.command {
                memkeep_protocol::Command::Stats(Some(_)) => {
                    Response::Stats(vec![("pool".into(), name.into())])
                }
                memkeep_protocol::Command::Get(_) => Response::Raw(Bytes::from(name)),
                _ => Response::Ok,
            })
        }))
    }

    #[tokio::test]
    async fn every_pool_gets_what_goes_to_every_server() {
        let broadcast = Broadcast::new(pool("tree"), vec![pool("a"), pool("b")]);
        let stats = broadcast
            .clone()
            .oneshot(request("stats items\r\n"))
            .await
            .unwrap();
        assert_eq!(
            stats,
            Response::Stats(vec![
                ("pool".into(), "a".into()),
                ("pool".into(), "b".into())
            ])
        );
        let flushed = broadcast.clone().oneshot(request("flush_all\r\n")).await;
        assert_eq!(flushed.unwrap(), Response::Ok);
        // A key's request follows the tree.
        let get = broadcast.oneshot(request("get k\r\n")).await.unwrap();
        assert_eq!(get, Response::Raw(Bytes::from("tree")));
    }
}
