//! Route: send each request to one of several services by its key's prefix (longest
//! prefix wins, else a default), or by operation (reads to one service, writes to
//! another). Route trees are built by nesting: a route's service may be a route.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use memkeep_protocol::{Command, Request, Response};
use tower::Layer;
use tower_service::Service;

use super::fan_out::{self, Replicas, Reply};
use super::multi_get::{self, Merging, Sent};
use crate::BoxError;

#[cfg(test)]
mod tests;

/// How a [`Route`] picks a service: indexes into its list of services.
#[derive(Debug, Clone)]
enum Rule {
    /// Longest matching prefix first; `default` when none matches or there is no key.
    Prefix {
        prefixes: Vec<(Bytes, usize)>,
        default: usize,
    },
    /// Mutations (see [`Command::is_mutation`]) to `writes`, everything else to `reads`.
    Operation { reads: usize, writes: usize },
}

/// Builds [`Route`] services over a list of services, naming them by index.
#[derive(Debug, Clone)]
pub struct RouteLayer {
    rule: Arc<Rule>,
}

impl RouteLayer {
    /// Keys starting with a prefix go to its service (the longest matching prefix
    /// wins); other keys, and requests with no key, go to `default`.
    pub fn by_prefix(
        prefixes: impl IntoIterator<Item = (impl Into<Bytes>, usize)>,
        default: usize,
    ) -> Self {
        let mut prefixes: Vec<(Bytes, usize)> =
            prefixes.into_iter().map(|(p, i)| (p.into(), i)).collect();
        // Longest first, so the first match is the longest one.
        prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        RouteLayer {
            rule: Arc::new(Rule::Prefix { prefixes, default }),
        }
    }

    /// Stores, deletes, incr/decr, touch and flush_all go to `writes`; gets and
    /// everything else to `reads`.
    pub fn by_operation(reads: usize, writes: usize) -> Self {
        RouteLayer {
            rule: Arc::new(Rule::Operation { reads, writes }),
        }
    }

    fn max_index(&self) -> usize {
        match &*self.rule {
            Rule::Prefix { prefixes, default } => prefixes
                .iter()
                .map(|(_, i)| *i)
                .chain([*default])
                .max()
                .unwrap_or(0),
            Rule::Operation { reads, writes } => *reads.max(writes),
        }
    }
}

impl<S> Layer<Vec<S>> for RouteLayer {
    type Service = Route<S>;

    fn layer(&self, services: Vec<S>) -> Route<S> {
        assert!(
            self.max_index() < services.len(),
            "a route names service {} of {}",
            self.max_index(),
            services.len()
        );
        Route {
            services: services.into(),
            rule: self.rule.clone(),
        }
    }
}

/// Sends each request to the service its rule picks.
///
/// By prefix, a multi-key get whose keys go to different services is split into one
/// get per service and the hits merged back in request key order; if one part fails
/// the whole get fails (as twemproxy does), with a
/// [`PartialGet`](super::multi_get::PartialGet) when other parts answered. Services
/// are called with `clone().oneshot(..)`, so one slow service never holds back the
/// others.
#[derive(Clone, Debug)]
pub struct Route<S> {
    services: Replicas<S>,
    rule: Arc<Rule>,
}

impl<S> Route<S> {
    /// Routes keys starting with each prefix to its service (longest prefix wins) and
    /// the rest to `default`.
    pub fn by_prefix(routes: impl IntoIterator<Item = (impl Into<Bytes>, S)>, default: S) -> Self {
        let mut services = vec![default];
        let mut prefixes = Vec::new();
        for (prefix, service) in routes {
            prefixes.push((prefix, services.len()));
            services.push(service);
        }
        RouteLayer::by_prefix(prefixes, 0).layer(services)
    }

    /// Routes writes to `writes` and everything else to `reads`.
    pub fn by_operation(reads: S, writes: S) -> Self {
        RouteLayer::by_operation(0, 1).layer(vec![reads, writes])
    }

    /// The services, in the order the rule names them.
    pub fn get_ref(&self) -> &[S] {
        &self.services
    }

    /// The index of the service a key goes to under a prefix rule.
    fn for_key(prefixes: &[(Bytes, usize)], default: usize, key: &[u8]) -> usize {
        prefixes
            .iter()
            .find(|(prefix, _)| key.starts_with(prefix))
            .map_or(default, |&(_, i)| i)
    }
}

impl<S> Service<Request> for Route<S>
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone,
{
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        fan_out::always_ready()
    }

    fn call(&mut self, req: Request) -> ResponseFuture<S> {
        let index = match &*self.rule {
            Rule::Operation { reads, writes } => {
                if req.command.is_mutation() {
                    *writes
                } else {
                    *reads
                }
            }
            Rule::Prefix { prefixes, default } => match &req.command {
                Command::Get(get) if get.keys.len() > 1 => {
                    let target_of = |k: &Bytes| Self::for_key(prefixes, *default, k);
                    match multi_get::send(&self.services, &req, &get.keys, target_of, false) {
                        Sent::Whole(index) => index,
                        Sent::Split(merging) => return Reply::many(merging),
                    }
                }
                command => match command.key() {
                    Some(key) => Self::for_key(prefixes, *default, key),
                    None => *default,
                },
            },
        };
        Reply::one(self.services.call(index, req))
    }
}

/// The reply to a request sent through [`Route`].
pub type ResponseFuture<S> = Reply<S, Merging<S>>;
