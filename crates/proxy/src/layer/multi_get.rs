//! Multi-key gets answered from several places: split by where each key goes and
//! merged back in request key order, which keys are still missing, a get for just
//! those, and [`PartialGet`], the error that says which keys a split get could not
//! read, so that a layer with other replicas asks them for those keys alone.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::future::{join_all, JoinAll};
use memkeep_protocol::{Command, Request, Response, Value};
use pin_project_lite::pin_project;
use tower::util::Oneshot;
use tower_service::Service;

use super::fan_out::Replicas;
use crate::BoxError;

/// A multi-key get that some of the servers it was split over failed to answer.
///
/// It carries the hits of the parts that answered and the keys of those that failed.
/// `Failover` and `ReadRepair` take it apart to read the failed keys from another
/// replica; a client that gets it as the reply sees the failure's own message, as when
/// the whole get fails. Made only by the layers that split gets ([`super::shard`],
/// [`super::route`]), and only when some part did answer: when none did, the reply is
/// the first part's error itself.
pub struct PartialGet {
    hits: Vec<Value>,
    failed: Vec<Bytes>,
    error: BoxError,
}

impl PartialGet {
    /// The hits of the parts that answered, in request key order.
    pub fn hits(&self) -> &[Value] {
        &self.hits
    }

    /// The keys of the parts that failed, in request order.
    pub fn failed_keys(&self) -> &[Bytes] {
        &self.failed
    }

    /// The hits, the failed keys and the first part's failure.
    pub(crate) fn into_parts(self) -> (Vec<Value>, Vec<Bytes>, BoxError) {
        (self.hits, self.failed, self.error)
    }
}

impl fmt::Debug for PartialGet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartialGet")
            .field("hits", &self.hits.len())
            .field("failed", &self.failed.len())
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for PartialGet {
    /// The failure's own words: the client's `SERVER_ERROR` reads as it did before
    /// anything was read elsewhere.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for PartialGet {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

/// A multi-get's keys grouped by where they go.
pub(crate) struct Split<T> {
    /// Each target and its keys, in request order; targets in order of first appearance.
    pub parts: Vec<(T, Vec<Bytes>)>,
    /// For each key of the request, the index of its part.
    pub part_of: Vec<usize>,
}

/// Groups `keys` by their `targets` (one per key, in the same order).
pub(crate) fn split<T: PartialEq>(
    keys: &[Bytes],
    targets: impl IntoIterator<Item = T>,
) -> Split<T> {
    let mut parts: Vec<(T, Vec<Bytes>)> = Vec::new();
    let mut part_of = Vec::with_capacity(keys.len());
    for (key, target) in keys.iter().zip(targets) {
        let part = match parts.iter().position(|(t, _)| *t == target) {
            Some(part) => part,
            None => {
                parts.push((target, Vec::with_capacity(keys.len())));
                parts.len() - 1
            }
        };
        parts[part].1.push(key.clone());
        part_of.push(part);
    }
    Split { parts, part_of }
}

/// Puts a split get back together from its parts' replies (`replies[p]` answers
/// part `p`; `part_of` as [`split`] gave it): the hits in request key order.
///
/// A part that failed (an error, or a reply that is not values) reads as misses with
/// `failed_as_miss`. Otherwise a failed part fails the get: with a [`PartialGet`]
/// when a part failed with an error and some other part answered, with that error
/// when none answered, and else (only error replies) with the first error reply.
pub(crate) fn merge(
    keys: &[Bytes],
    part_of: &[usize],
    replies: Vec<Result<Response, BoxError>>,
    failed_as_miss: bool,
) -> Result<Response, BoxError> {
    let mut hits = Vec::with_capacity(replies.len());
    let mut failed = vec![false; replies.len()];
    let mut first_error = None;
    let mut first_reply = None;
    for (part, reply) in replies.into_iter().enumerate() {
        let values = match reply {
            Ok(Response::Values(values)) => values,
            Ok(reply) => {
                first_reply.get_or_insert(reply);
                failed[part] = true;
                Vec::new()
            }
            Err(error) => {
                first_error.get_or_insert(error);
                failed[part] = true;
                Vec::new()
            }
        };
        hits.push(values.into_iter().peekable());
    }
    // Each part lists its hits in the order its keys were asked, misses left out:
    // walking the keys in request order, a key's hit is the next one of its part.
    let mut merged = Vec::new();
    let mut missing = Vec::new();
    for (key, &part) in keys.iter().zip(part_of) {
        if failed[part] {
            missing.push(key.clone());
        } else if let Some(value) = hits[part].next_if(|v| v.key == *key) {
            merged.push(value);
        }
    }
    let none_answered = failed.iter().all(|&f| f);
    match (first_error, first_reply) {
        _ if failed_as_miss => Ok(Response::Values(merged)),
        (Some(error), _) if none_answered => Err(error),
        (Some(error), _) => Err(PartialGet {
            hits: merged,
            failed: missing,
            error,
        }
        .into()),
        (None, Some(reply)) => Ok(reply),
        (None, None) => Ok(Response::Values(merged)),
    }
}

/// Where a multi-key get goes (see [`send`]).
pub(crate) enum Sent<S: Service<Request>> {
    /// Every key goes to this service: it gets the request whole.
    Whole(usize),
    /// The keys go to several services, each asked for its own.
    Split(Merging<S>),
}

/// Sends a get of several `keys` to the services (of `services`) `target_of` its keys:
/// the request whole when they all go to one, else one get per service, merged
/// back as [`merge`] says.
pub(crate) fn send<S>(
    services: &Replicas<S>,
    request: &Request,
    keys: &[Bytes],
    target_of: impl Fn(&Bytes) -> usize,
    failed_as_miss: bool,
) -> Sent<S>
where
    S: Service<Request> + Clone,
{
    // Most multi-gets through a small pool go to one server: find that out from
    // the targets alone, before anything is copied or allocated.
    let first = keys.first().map(&target_of).unwrap_or(0);
    let differs = keys.iter().skip(1).position(|k| target_of(k) != first);
    let Some(same) = differs else {
        return Sent::Whole(first);
    };
    // The targets already known are `first` for the keys before the one that
    // differs; only the rest are looked up again.
    let targets =
        std::iter::repeat_n(first, same + 1).chain(keys[same + 1..].iter().map(target_of));
    let split = split(keys, targets);
    let parts = split
        .parts
        .into_iter()
        .map(|(target, part)| services.call(target, with_keys(request, part)));
    Sent::Split(Merging {
        parts: join_all(parts),
        keys: keys.to_vec(),
        part_of: split.part_of,
        failed_as_miss,
    })
}

pin_project! {
    /// A multi-get split over several services: the parts' hits merged back in
    /// request key order.
    pub struct Merging<S: Service<Request>> {
        #[pin]
        parts: JoinAll<Oneshot<S, Request>>,
        // The request's keys, and the part that asked for each.
        keys: Vec<Bytes>,
        part_of: Vec<usize>,
        failed_as_miss: bool,
    }
}

impl<S> Future for Merging<S>
where
    S: Service<Request, Response = Response, Error = BoxError>,
{
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let replies = ready!(this.parts.poll(cx));
        Poll::Ready(merge(
            this.keys,
            this.part_of,
            replies,
            *this.failed_as_miss,
        ))
    }
}

/// The keys of `keys` with no value in `values`, in request order.
pub(crate) fn missing(keys: &[Bytes], values: &[Value]) -> Vec<Bytes> {
    // One key: any value is its hit, whatever key the backend's reply carried (binary
    // GET replies carry none).
    if keys.len() == 1 {
        return if values.is_empty() {
            keys.to_vec()
        } else {
            Vec::new()
        };
    }
    keys.iter()
        .filter(|k| !values.iter().any(|v| v.key == **k))
        .cloned()
        .collect()
}

/// The same get (same form, touch and options) for other keys.
pub(crate) fn with_keys(req: &Request, keys: Vec<Bytes>) -> Request {
    let mut req = req.clone();
    if let Command::Get(get) = &mut req.command {
        get.keys = keys;
    }
    req
}

/// One value per requested key that some source has, in request order, as memcached
/// answers (a key asked twice is answered twice). Earlier sources win.
pub(crate) fn in_key_order(
    keys: &[Bytes],
    sources: impl IntoIterator<Item = Vec<Value>>,
) -> Vec<Value> {
    if keys.len() == 1 {
        // See `missing`: a single key's hit is whatever value came first.
        return sources.into_iter().flatten().take(1).collect();
    }
    let mut found: HashMap<Bytes, Value> = HashMap::new();
    for value in sources.into_iter().flatten() {
        found.entry(value.key.clone()).or_insert(value);
    }
    keys.iter().filter_map(|k| found.get(k).cloned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::fake::{hits, value};

    fn keys(keys: &[&str]) -> Vec<Bytes> {
        keys.iter()
            .map(|k| Bytes::copy_from_slice(k.as_bytes()))
            .collect()
    }

    fn values(keys: &[&str]) -> Result<Response, BoxError> {
        Ok(Response::Values(
            keys.iter().map(|k| value(k, k, 0, 0)).collect(),
        ))
    }

    #[test]
    fn keys_split_by_target_in_order_of_first_appearance() {
        let asked = keys(&["a1", "b1", "a2", "c1", "b2"]);
        let split = split(&asked, asked.iter().map(|k| k[0]));
        let parts: Vec<(u8, Vec<Bytes>)> = split.parts;
        assert_eq!(
            parts,
            [
                (b'a', keys(&["a1", "a2"])),
                (b'b', keys(&["b1", "b2"])),
                (b'c', keys(&["c1"])),
            ]
        );
        assert_eq!(split.part_of, [0, 1, 0, 2, 1]);
    }

    #[test]
    fn a_failed_part_is_a_partial_get_an_error_reply_or_misses() {
        let asked = keys(&["a1", "b1", "a2", "c1", "b2"]);
        let part_of = [0, 1, 0, 2, 1];
        let replies = || {
            vec![
                values(&["a2"]),
                Err("b is down".into()),
                Ok(Response::ServerError("out of memory".into())),
            ]
        };
        // An error and an error reply: every failed part's keys, in request order.
        let err = merge(&asked, &part_of, replies(), false).unwrap_err();
        assert_eq!(err.to_string(), "b is down");
        let partial = err.downcast_ref::<PartialGet>().unwrap();
        assert_eq!(hits(&Response::Values(partial.hits().to_vec())), ["a2=a2"]);
        assert_eq!(partial.failed_keys(), keys(&["b1", "c1", "b2"]));

        let misses = merge(&asked, &part_of, replies(), true).unwrap();
        assert_eq!(hits(&misses), ["a2=a2"]);

        // Error replies only: the first one is the reply to the whole get.
        let replies = vec![
            values(&["a1"]),
            Ok(Response::ServerError("out of memory".into())),
            values(&[]),
        ];
        let reply = merge(&asked, &part_of, replies, false).unwrap();
        assert_eq!(reply, Response::ServerError("out of memory".into()));

        let replies = vec![values(&["a1", "a2"]), values(&["b2"]), values(&["c1"])];
        let reply = merge(&asked, &part_of, replies, false).unwrap();
        assert_eq!(hits(&reply), ["a1=a1", "a2=a2", "c1=c1", "b2=b2"]);
    }
}
