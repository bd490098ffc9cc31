//! memcached's command switches, applied in front of the cache: `-C` (no CAS), `-F`
//! (no `flush_all`) and `-X` (no `lru_crawler metadump`, no `stats cachedump`). Each
//! answer is memcached 1.6.18's, found by sending it the same bytes.
//!
//! Under `-C` memcached's items carry no CAS unique: every CAS it reports is 0, a text
//! `cas` or an `ms` that compares (set and replace modes) fails with EXISTS on a
//! present item and NOT_FOUND on a missing one, `md`/`ma`/binary DELETE and INCR
//! compare against 0, and binary stores and meta add/append/prepend ignore the CAS
//! they are given. memkeepd's store keeps its uniques (replication orders writes by
//! them); this layer hides them and compares as memcached would.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::future::{ready, Either, Map, Ready};
use futures_util::FutureExt;
use memkeep_protocol::binary::opcode;
use memkeep_protocol::{Command, Form, Request, Response, StoreMode};
use memkeep_server::store::Store;
use memkeep_server::BoxError;
use tower::Service;

/// Which commands the command line allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// CAS uniques are kept and shown (no `-C`).
    pub cas: bool,
    /// `flush_all` is served (no `-F`).
    pub flush: bool,
    /// `lru_crawler metadump` and `stats cachedump` are served (no `-X`).
    pub dump: bool,
}

type Result = std::result::Result<Response, BoxError>;

/// The cache behind memcached's command switches.
#[derive(Debug, Clone)]
pub struct Policy<S> {
    inner: S,
    store: Arc<Store>,
    rules: Rules,
}

impl<S> Policy<S> {
    /// Applies `rules` in front of `inner`, which serves `store`.
    pub fn new(inner: S, store: Arc<Store>, rules: Rules) -> Self {
        Policy {
            inner,
            store,
            rules,
        }
    }

    /// Either the request to pass on (perhaps rewritten) or the answer to give.
    fn screen(&self, mut request: Request) -> std::result::Result<Request, Response> {
        let binary = matches!(request.form, Form::Binary(_));
        match &mut request.command {
            Command::FlushAll(_) if !self.rules.flush => {
                // Binary clients read "Auth failure." from memcached -F.
                return Err(if binary {
                    Response::AuthError
                } else {
                    Response::ClientError("flush_all not allowed".into())
                });
            }
            Command::Metadump(_) if !self.rules.dump => {
                return Err(Response::ErrorLine("ERROR metadump not allowed".into()));
            }
            Command::Stats(Some(group)) if !self.rules.dump && group.starts_with(b"cachedump") => {
                return Err(Response::ClientError("stats cachedump not allowed".into()));
            }
            _ if self.rules.cas => {}
            Command::Store(store) if store.cas.is_some() => {
                if let Form::Binary(form) = &request.form {
                    // A binary store compares only when the new item has a CAS,
                    // which it never has under -C: it stores as its opcode says.
                    store.cas = None;
                    if opcode::loud(form.opcode) == opcode::ADD {
                        store.mode = StoreMode::Add;
                    }
                } else if matches!(store.mode, StoreMode::Set | StoreMode::Replace) {
                    return Err(self.compare_fails(&store.key));
                } else {
                    store.cas = None;
                }
            }
            Command::Delete(delete) => delete.cas = self.compare(&delete.key, delete.cas)?,
            Command::Arith(arith) => arith.cas = self.compare(&arith.key, arith.cas)?,
            _ => {}
        }
        Ok(request)
    }

    /// A compare-and-swap store under -C: no CAS ever matches a present item.
    fn compare_fails(&self, key: &Bytes) -> Response {
        if self.store.debug(key).is_some() {
            Response::Exists
        } else {
            Response::NotFound
        }
    }

    /// A delete or arithmetic under -C compares the item's CAS, 0, with the one
    /// given: 0 matches (the command runs as without one); any other fails on a
    /// present item and leaves a missing one to the command's own miss.
    fn compare(&self, key: &Bytes, cas: Option<u64>) -> std::result::Result<Option<u64>, Response> {
        match cas {
            None | Some(0) => Ok(None),
            Some(_) if self.store.debug(key).is_some() => Err(Response::Exists),
            other => Ok(other),
        }
    }
}

impl<S> Service<Request> for Policy<S>
where
    S: Service<Request, Response = Response, Error = BoxError>,
{
    type Response = Response;
    type Error = BoxError;
    type Future = Either<Ready<Result>, Map<S::Future, fn(Result) -> Result>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.screen(request) {
            Err(answer) => Either::Left(ready(Ok(answer))),
            Ok(request) => {
                let shown: fn(Result) -> Result = if self.rules.cas {
                    std::convert::identity
                } else {
                    |result| result.map(without_cas)
                };
                Either::Right(self.inner.call(request).map(shown))
            }
        }
    }
}

/// The reply as memcached -C writes it: every CAS unique 0.
fn without_cas(mut response: Response) -> Response {
    match &mut response {
        Response::Values(values) => values.iter_mut().for_each(|v| v.meta.cas = 0),
        Response::Stored(meta) | Response::Touched(meta) | Response::Number(_, meta) => {
            meta.cas = 0;
        }
        Response::Debug(Some(line)) => *line = zero_cas_field(line.as_bytes()).into_string(),
        Response::Metadump(lines) => *lines = zero_cas_field(lines).freeze(),
        _ => {}
    }
    response
}

/// Rewrites every ` cas=N` field (of `me` and metadump lines) to ` cas=0`.
fn zero_cas_field(text: &[u8]) -> ZeroedText {
    let mut out = BytesMut::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = memchr::memmem::find(rest, b"cas=") {
        let starts_field = at == 0 || rest[at - 1] == b' ';
        out.extend_from_slice(&rest[..at + 4]);
        rest = &rest[at + 4..];
        if starts_field {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            out.extend_from_slice(b"0");
            rest = &rest[digits..];
        }
    }
    out.extend_from_slice(rest);
    ZeroedText(out)
}

/// Text with its CAS fields zeroed.
struct ZeroedText(BytesMut);

impl ZeroedText {
    fn freeze(self) -> Bytes {
        self.0.freeze()
    }

    fn into_string(self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_fields_are_zeroed_and_nothing_else() {
        let line = b"key=a exp=-1 la=3 cas=1234 fetch=no cls=1 size=61\nkey=cas=5 cas=7\n";
        assert_eq!(
            &zero_cas_field(line).freeze()[..],
            b"key=a exp=-1 la=3 cas=0 fetch=no cls=1 size=61\nkey=cas=5 cas=0\n"
        );
        assert_eq!(
            zero_cas_field(b"exp=-1 la=0 cas=9 fetch=no").into_string(),
            "exp=-1 la=0 cas=0 fetch=no"
        );
    }
}
