//! What the proxy does with a request that names no key: the one place that decides
//! which commands go to every server of a pool, which to one, and which the proxy
//! answers itself, and how the replies of every server become one.
//!
//! - `flush_all`, `verbosity` and every `stats <group>` go to every server (of every
//!   pool a route tree reaches: [`crate::layer::broadcast`]).
//!   `stats <group>` replies are joined in the pool's server order under one `END`
//!   (`stats items` of two servers lists both servers' items; `stats cachedump`
//!   both servers' `ITEM` lines). Of one-line replies (`OK`, `RESET`, errors) the
//!   first error is the answer, else the first that is not `OK`, else `OK`.
//! - Plain `stats` goes to the first server the ring holds; memkeep-proxy's listeners
//!   answer it with the proxy's own figures before it reaches a pool, and reset
//!   those figures on `stats reset` (which goes on to every server): [`own_stats`].
//! - `version` and `mn` are answered by the proxy (twemproxy and mcrouter answer
//!   `version` too: which server's version would be the right one?).
//! - `shutdown` gets memcached's own answer when it was not started with `-A`
//!   (`ERROR: shutdown not enabled`): one client must not stop every server behind
//!   a shared proxy.
//! - `cache_memlimit`, `slabs automove|reassign`, `lru_crawler
//!   enable|disable|sleep|tocrawl|crawl` and `lru mode|tune|temp_ttl` go to every
//!   server too: `OK` when all say
//!   so, else the first refusal (`NOSPARE ...`, `CLIENT_ERROR ...`).
//! - `watch` is answered by the connection itself when it has a log hub (every
//!   memkeep-proxy listener has one: `OK`, then the proxy's own log lines, as
//!   memcached streams its own); it is never sent to a server, whose shared
//!   connection it would turn into a stream.
//! - `lru_crawler metadump` goes to every server too, the dumps joined under one
//!   `END`; a dump longer than the proxy passes on ([`crate::backend::MAX_LISTING`])
//!   is answered `SERVER_ERROR` (dump such a server directly).
//! - SASL commands get `ERROR`: the proxy logs in to its servers itself.

use bytes::{BufMut, Bytes, BytesMut};
use memkeep_protocol::{Admin, Command, Response};

use crate::BoxError;

/// Where a key-less request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyless {
    /// To every server of the pool; the replies are joined by [`combine`].
    EveryServer,
    /// To the first server (in configuration order) the ring holds.
    FirstServer,
    /// Nowhere: the proxy answers this.
    Answer(Response),
}

/// What becomes of `command`, which names no key; `version` is what the proxy
/// answers `version` with.
pub fn route(command: &Command, version: &Bytes) -> Keyless {
    match command {
        command if goes_to_every_server(command) => Keyless::EveryServer,
        Command::Stats(None) => Keyless::FirstServer,
        Command::Version => Keyless::Answer(Response::Version(version.clone())),
        Command::Noop => Keyless::Answer(Response::Noop),
        command => Keyless::Answer(never_sent(command).unwrap_or(Response::Error)),
    }
}

/// Whether `command` goes to every server ([`Keyless::EveryServer`]): to every server
/// of a pool, and to every pool of a route tree (see
/// [`Broadcast`](crate::layer::broadcast::Broadcast)).
pub fn goes_to_every_server(command: &Command) -> bool {
    match command {
        Command::FlushAll(_)
        | Command::Verbosity(_)
        | Command::Stats(Some(_))
        | Command::Metadump(_) => true,
        Command::Admin(admin) => !matches!(admin, Admin::Watch(_)),
        _ => false,
    }
}

/// The answer to a command no server is ever sent, whatever layer meets it first
/// (the shard, or the backend translating it for its server).
pub fn never_sent(command: &Command) -> Option<Response> {
    match command {
        // memcached answers `gat 10` (a get without keys) with a bare END.
        Command::Get(get) if get.keys.is_empty() => Some(Response::Values(Vec::new())),
        // The value is gone: the client is answered here. (A too-large store that
        // removes the old value arrives as a delete: see `layer::unlink`.)
        Command::TooLarge(_) => Some(Response::TooLarge),
        Command::Shutdown { .. } => Some(Response::ErrorLine("ERROR: shutdown not enabled".into())),
        // A watch turns its connection into a log stream: a shared backend
        // connection must never become one. A connection with a log hub (every
        // memkeep-proxy listener has one) answers `watch` before it gets here.
        Command::Admin(Admin::Watch(_))
        | Command::Quit
        | Command::SaslListMechs
        | Command::SaslAuth(_)
        | Command::SaslStep(_) => Some(Response::Error),
        _ => None,
    }
}

/// What a listener with figures of its own does before the request reaches its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnStats {
    /// Plain `stats`: answered with the listener's own figures, never sent on.
    Answer,
    /// `stats reset`: the own figures start again, and the command goes on.
    Reset,
}

/// Whether `command` is about a listener's own figures (see [`OwnStats`]).
pub fn own_stats(command: &Command) -> Option<OwnStats> {
    match command {
        Command::Stats(None) => Some(OwnStats::Answer),
        Command::Stats(Some(group)) if group.as_ref() == b"reset" => Some(OwnStats::Reset),
        _ => None,
    }
}

/// One reply from the replies of every server to a command sent to all of them.
pub fn combine(replies: Vec<Result<Response, BoxError>>) -> Result<Response, BoxError> {
    if !replies.is_empty() && replies.iter().all(is_listing) {
        return Ok(join(replies));
    }
    if let Some(failed) = replies.iter().position(is_failure) {
        return replies.into_iter().nth(failed).expect("found above");
    }
    let mut first = None;
    for reply in replies {
        match reply {
            Ok(Response::Ok) => {}
            other => {
                first.get_or_insert(other);
            }
        }
    }
    first.unwrap_or(Ok(Response::Ok))
}

/// A failure or an error reply.
fn is_failure(reply: &Result<Response, BoxError>) -> bool {
    matches!(
        reply,
        Err(_)
            | Ok(Response::Error
                | Response::ErrorLine(_)
                | Response::ClientError(_)
                | Response::ServerError(_)
                | Response::OutOfMemory
                | Response::TooLarge
                | Response::NonNumeric
                | Response::AuthError)
    )
}

/// A reply of lines ending in `END`.
fn is_listing(reply: &Result<Response, BoxError>) -> bool {
    match reply {
        Ok(Response::Stats(_)) => true,
        Ok(Response::Raw(lines)) => lines.ends_with(b"END\r\n"),
        _ => false,
    }
}

/// Listings one after the other under one `END`: `STAT` lines stay parsed when every
/// part is, else the lines go as they came.
fn join(replies: Vec<Result<Response, BoxError>>) -> Response {
    let parts: Vec<Response> = replies.into_iter().filter_map(Result::ok).collect();
    if parts.iter().all(|p| matches!(p, Response::Stats(_))) {
        let stats = parts
            .into_iter()
            .flat_map(|p| match p {
                Response::Stats(stats) => stats,
                _ => Vec::new(),
            })
            .collect();
        return Response::Stats(stats);
    }
    let mut out = BytesMut::new();
    for part in parts {
        match part {
            Response::Stats(stats) => {
                for (name, value) in stats {
                    out.put_slice(b"STAT ");
                    out.put_slice(name.as_bytes());
                    out.put_u8(b' ');
                    out.put_slice(value.as_bytes());
                    out.put_slice(b"\r\n");
                }
            }
            Response::Raw(lines) => out.put_slice(&lines[..lines.len() - b"END\r\n".len()]),
            _ => {}
        }
    }
    out.put_slice(b"END\r\n");
    Response::Raw(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &'static str) -> Result<Response, BoxError> {
        Ok(Response::Raw(Bytes::from_static(text.as_bytes())))
    }

    fn stats(pairs: &[(&str, &str)]) -> Result<Response, BoxError> {
        Ok(Response::Stats(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        ))
    }

    #[test]
    fn listings_are_joined_under_one_end() {
        let joined = combine(vec![
            lines("ITEM a [1 b; 0 s]\r\nEND\r\n"),
            lines("END\r\n"),
            lines("ITEM b [1 b; 0 s]\r\nEND\r\n"),
        ])
        .unwrap();
        assert_eq!(
            joined,
            Response::Raw(Bytes::from_static(
                b"ITEM a [1 b; 0 s]\r\nITEM b [1 b; 0 s]\r\nEND\r\n"
            ))
        );
        let joined = combine(vec![stats(&[("a", "1")]), stats(&[("a", "2")])]).unwrap();
        assert_eq!(joined, stats(&[("a", "1"), ("a", "2")]).unwrap());
        let mixed = combine(vec![
            stats(&[("a", "1")]),
            lines("PREFIX k get 1\r\nEND\r\n"),
        ]);
        assert_eq!(
            mixed.unwrap(),
            Response::Raw(Bytes::from_static(b"STAT a 1\r\nPREFIX k get 1\r\nEND\r\n"))
        );
    }

    #[test]
    fn one_line_replies_must_agree() {
        assert_eq!(
            combine(vec![Ok(Response::Ok), Ok(Response::Ok)]).unwrap(),
            Response::Ok
        );
        assert_eq!(
            combine(vec![Ok(Response::Reset), Ok(Response::Reset)]).unwrap(),
            Response::Reset
        );
        let refused = Response::ClientError("bad".into());
        assert_eq!(
            combine(vec![
                Ok(Response::Ok),
                Ok(refused.clone()),
                Ok(Response::Error)
            ])
            .unwrap(),
            refused
        );
        // One-line replies that are no failure, and differ: the first that is not OK.
        assert_eq!(
            combine(vec![Ok(Response::Ok), Ok(Response::Reset)]).unwrap(),
            Response::Reset
        );
        // A listing beside an error is not joined: the error is the answer.
        assert_eq!(
            combine(vec![lines("END\r\n"), Ok(Response::Error)]).unwrap(),
            Response::Error
        );
    }

    #[test]
    fn the_decision_is_made_here() {
        let version = Bytes::from_static(b"1.6.18-x");
        assert_eq!(
            route(&Command::Stats(Some("items".into())), &version),
            Keyless::EveryServer
        );
        assert_eq!(route(&Command::Stats(None), &version), Keyless::FirstServer);
        assert_eq!(own_stats(&Command::Stats(None)), Some(OwnStats::Answer));
        let reset = Command::Stats(Some("reset".into()));
        assert_eq!(own_stats(&reset), Some(OwnStats::Reset));
        assert_eq!(route(&reset, &version), Keyless::EveryServer);
        assert_eq!(
            route(&Command::Version, &version),
            Keyless::Answer(Response::Version(version.clone()))
        );
        assert!(matches!(
            route(&Command::Shutdown { graceful: false }, &version),
            Keyless::Answer(Response::ErrorLine(_))
        ));
    }
}
