//! Shard: send each request to the server its key belongs to on a hash ring, split
//! multi-key gets per server and merge the parts back in key order, and answer
//! key-less commands for the whole pool.
//!
//! Key-less commands go where [`crate::keyless`] says: to every server (replies
//! joined), to the first one, or answered by the proxy.
//!
//! The ring can follow a live set published by the eject layer: when it changes,
//! the ring is rebuilt over the live servers only, as twemproxy does with
//! `auto_eject_hosts: true`.

mod future;
mod router;

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use memkeep_protocol::{Command, Request, Response};
use memkeep_ring::Ring;
use tokio::sync::watch;
use tower_service::Service;

use super::fan_out::{self, Combined, Replicas};
use super::multi_get::{self, Sent};
use crate::keyless::{self, Keyless};
use crate::BoxError;
pub use future::ResponseFuture;
pub use router::Router;

/// What a multi-get answers when one server's part fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartialFailure {
    /// The whole reply is the error, as twemproxy does. A `Failover` or `ReadRepair`
    /// above reads the failed server's keys from their other replicas
    /// ([`PartialGet`](super::multi_get::PartialGet)).
    #[default]
    Error,
    /// The failed server's keys read as misses; the other servers' hits are kept.
    Miss,
}

/// How a [`Shard`] answers what it does not route by key.
#[derive(Debug, Clone)]
pub struct ShardOptions {
    /// What a multi-get answers when one server's part fails.
    pub partial_failure: PartialFailure,
    /// The version string `version` answers with.
    pub version: Bytes,
    /// Which of a key's replicas this shard sends it to: 0 for the key's own server
    /// (the primary), 1 for the next distinct server the ring gives it
    /// ([`Ring::replicas_for`]), and so on. Shards of one pool with replicas 0..N,
    /// under `Replicate`, `Failover` or `ReadRepair`, keep each key on N servers.
    pub replica: usize,
}

impl Default for ShardOptions {
    fn default() -> Self {
        ShardOptions {
            partial_failure: PartialFailure::Error,
            version: Bytes::from(concat!("1.6.18-memkeep-proxy-", env!("CARGO_PKG_VERSION"))),
            replica: 0,
        }
    }
}

/// Routes requests over `services[i]` for ring node `i`.
#[derive(Clone)]
pub struct Shard<S> {
    services: Replicas<S>,
    router: Arc<Router>,
    options: Arc<ShardOptions>,
}

impl<S> Shard<S> {
    /// Shards over `services` (one per ring server, in the ring's server order)
    /// with a fixed ring.
    pub fn new(ring: Ring, services: Vec<S>, options: ShardOptions) -> Self {
        Self::with_router(Router::fixed(ring), services, options)
    }

    /// Shards with a ring that follows a live set (see [`Router::following`]).
    pub fn with_router(router: Router, services: Vec<S>, options: ShardOptions) -> Self {
        Shard {
            services: services.into(),
            router: Arc::new(router),
            options: Arc::new(options),
        }
    }

    /// Shards with a ring rebuilt over the live servers whenever `live` changes.
    pub fn following(
        builder: memkeep_ring::Builder,
        live: watch::Receiver<Arc<[bool]>>,
        services: Vec<S>,
        options: ShardOptions,
    ) -> Result<Self, memkeep_ring::BuildError> {
        Ok(Self::with_router(
            Router::following(builder, live)?,
            services,
            options,
        ))
    }

    /// The services, in ring server order.
    pub fn get_ref(&self) -> &[S] {
        &self.services
    }

    /// The ring requests are routed by now.
    pub fn ring(&self) -> Arc<Ring> {
        self.router.ring()
    }
}

impl<S> Service<Request> for Shard<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    /// Always ready: the chosen server is called with `clone().oneshot()`, so one
    /// slow server never holds up the keys of the others.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        fan_out::always_ready()
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let ring = self.router.ring();
        let replica = self.options.replica;
        let node_for = |key: &[u8]| node_for(&ring, key, replica);
        let call = |i: usize, request: Request| self.services.call(i, request);
        // One key (a get of one key included): its server answers.
        let single = match &request.command {
            Command::Get(get) if get.keys.len() != 1 => None,
            command => command.key().map(|key| node_for(key)),
        };
        if let Some(node) = single {
            return ResponseFuture::one(call(node, request));
        }
        match &request.command {
            Command::Get(get) if get.keys.len() > 1 => {
                let failed_as_miss = self.options.partial_failure == PartialFailure::Miss;
                let target_of = |k: &Bytes| node_for(k);
                match multi_get::send(
                    &self.services,
                    &request,
                    &get.keys,
                    target_of,
                    failed_as_miss,
                ) {
                    Sent::Whole(node) => ResponseFuture::one(call(node, request)),
                    Sent::Split(merging) => ResponseFuture::merge(merging),
                }
            }
            command => match keyless::route(command, &self.options.version) {
                Keyless::EveryServer => {
                    let calls = self
                        .services
                        .call_each(ring.members().iter().copied(), &request);
                    ResponseFuture::all(Combined::new(calls))
                }
                Keyless::FirstServer => {
                    let first = ring.members().iter().copied().min().unwrap_or(0);
                    ResponseFuture::one(call(first, request))
                }
                Keyless::Answer(response) => ResponseFuture::ready(response),
            },
        }
    }
}

/// The server holding `key`'s replica number `replica` (0: the primary). A ring with
/// fewer servers than that gives the last of its servers in replica order.
pub(crate) fn node_for(ring: &Ring, key: &[u8], replica: usize) -> usize {
    if replica == 0 {
        return ring.node_for(key);
    }
    ring.replicas_for(key, replica + 1)
        .last()
        .unwrap_or_else(|| ring.node_for(key))
}

#[cfg(test)]
mod tests;
