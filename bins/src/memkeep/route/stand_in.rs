//! Stand-in servers for asking the proxy's own layers where a request goes: each
//! answers with its number, so a shard or a prefix route built over them, called as
//! the proxy calls it, says which of its services it picked. The placement rules stay
//! the proxy's, not a copy of them.

use std::future::{ready, Ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::FutureExt;
use memkeep_protocol::{Command, Form, Get, Request, Response, TextForm, TextVerb};
use memkeep_proxy::BoxError;
use tower::{Service, ServiceExt};

/// Service number `.0` of a list.
#[derive(Debug, Clone, Copy)]
pub struct StandIn(pub usize);

impl Service<Request> for StandIn {
    type Response = Response;
    type Error = BoxError;
    type Future = Ready<Result<Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request) -> Self::Future {
        ready(Ok(Response::Version(Bytes::from(self.0.to_string()))))
    }
}

/// Which stand-in `service` sends a text `get key` to.
pub fn picked<S>(service: S, key: &[u8]) -> Result<usize, String>
where
    S: Service<Request, Response = Response, Error = BoxError>,
{
    let request = Request {
        command: Command::Get(Get {
            keys: vec![Bytes::copy_from_slice(key)],
            ..Get::default()
        }),
        form: Form::Text(TextForm {
            verb: TextVerb::Get,
            noreply: false,
        }),
    };
    // Stand-ins answer at once, so the layers above them do too.
    match service.oneshot(request).now_or_never() {
        Some(Ok(Response::Version(n))) => std::str::from_utf8(&n)
            .ok()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| "a stand-in answered with something else".into()),
        Some(Ok(other)) => Err(format!("the layer answered by itself: {other:?}")),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("the layer did not answer at once".into()),
    }
}
