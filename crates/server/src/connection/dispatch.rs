//! Starting the requests already buffered: decode, screen through the auth gate, then
//! answer at once (errors, quit, refusals), turn the connection into a log stream
//! (`watch`), or call the service. A reply that is ready at once is encoded straight
//! away while nothing else is owed: the cache service answers synchronously.

use std::sync::Arc;

use memkeep_protocol::{Admin, Command, Form, Request, Response, TextVerb, WatchEvents};
use tokio::io::{AsyncRead, AsyncWrite};
use tower::{Service, ServiceExt};
use tracing::debug;

use super::reply::Reply;
use super::{Connection, ConnectionConfig};
use crate::auth::Screened;
use crate::error::{error_response, BoxError};
use crate::watchers::lines::CloseReason;
use crate::watchers::Watchers;

/// What `watch` answers when the server already streams to as many watchers as it
/// allows.
const WATCHER_TOO_MANY: &str = "WATCHER_TOO_MANY log watcher limit reached";

impl<IO, S> Connection<'_, IO, S>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request, Response = Response, Error = BoxError>,
{
    /// Starts every complete request buffered, until a bound (`max_in_flight`,
    /// `max_write_buffer`), a close or a `watch` stops it. Says whether it stopped
    /// because the buffer holds no whole request more.
    pub(super) async fn dispatch_buffered(&mut self) -> bool {
        while self.may_dispatch() {
            let screened = match self.decoder.decode(&mut self.rbuf) {
                Ok(Some(request)) => self.gate.screen(request),
                Ok(None) => return true,
                Err(e) => {
                    debug!(error = %e.error, close = e.close, "bad request");
                    if e.close {
                        self.reason = CloseReason::Error;
                    }
                    self.gate.screen_error(&e).unwrap_or(Screened::Answer {
                        response: e.error.to_response(),
                        form: e.form,
                        close: e.close,
                    })
                }
            };
            let flushes = matches!(&screened, Screened::Pass(request) if sent_at_once(request));
            let was_stacked = std::mem::replace(&mut self.stacked, !flushes);
            let reply = match screened {
                // memcached turns the connection over to a stream only at the head of
                // its replies: after others in the same batch, it refuses.
                Screened::Pass(request) if was_stacked && streams(&request, self.config) => {
                    let what = match request.command {
                        Command::Metadump(_) => "metadump",
                        _ => "watch",
                    };
                    let line = format!("ERROR cannot pipeline other commands before {what}");
                    Reply::ready(request.form, Response::ErrorLine(line.into()))
                }
                Screened::Pass(request) => match watch_kinds(&request, self.config) {
                    Some((hub, kinds)) => match hub.watch(kinds) {
                        Ok(stream) => {
                            self.watching = Some(stream);
                            return false;
                        }
                        Err(_) => {
                            Reply::ready(request.form, Response::ErrorLine(WATCHER_TOO_MANY.into()))
                        }
                    },
                    None => match self.start(request).await {
                        Some(reply) => reply,
                        None => continue,
                    },
                },
                Screened::Answer {
                    form,
                    response,
                    close,
                } => {
                    self.closing |= close;
                    Reply::ready(form, response)
                }
            };
            let owed_before = self.replies.len();
            self.replies.as_mut().push(reply);
            if owed_before == 0 {
                if let Some((form, response)) = self.replies.as_mut().next_ready() {
                    self.encode(&form, &response);
                }
            }
            if self.wbuf.len() >= self.config.max_write_buffer {
                return false;
            }
        }
        false
    }

    /// Starts one request: quit is the driver's own business, the rest goes to the
    /// service (after it is ready, so backpressure reaches the client).
    async fn start(&mut self, request: Request) -> Option<Reply<S::Future>> {
        if matches!(request.command, Command::Quit) {
            self.closing = true;
            // Binary QUIT is acknowledged; text quit and QUITQ close silently, and the
            // encoder writes nothing for those.
            return match request.form {
                Form::Binary(_) => Some(Reply::ready(request.form, Response::Ok)),
                _ => None,
            };
        }
        let form = request.form.clone();
        match self.service.ready().await {
            Ok(service) => Some(Reply::call(form, service.call(request))),
            Err(e) => Some(Reply::ready(form, error_response(&e))),
        }
    }
}

/// Whether memcached writes the reply to `request` at once rather than with the rest
/// of the batch: `mn` (its purpose) and the text retrievals.
fn sent_at_once(request: &Request) -> bool {
    match &request.form {
        Form::Meta(_) => matches!(request.command, Command::Noop),
        Form::Text(form) => matches!(
            form.verb,
            TextVerb::Get | TextVerb::Gets | TextVerb::Gat | TextVerb::Gats
        ),
        Form::Binary(_) => false,
    }
}

/// Whether `request` turns the connection into a stream of lines: a `watch` this
/// server serves, or a metadump.
fn streams(request: &Request, config: &ConnectionConfig) -> bool {
    matches!(request.command, Command::Metadump(_)) || watch_kinds(request, config).is_some()
}

/// The hub and the kinds of a `watch` this connection is to stream, if it is one and
/// the server streams logs.
fn watch_kinds<'a>(
    request: &Request,
    config: &'a ConnectionConfig,
) -> Option<(&'a Arc<Watchers>, WatchEvents)> {
    match (&request.command, &config.watchers) {
        (Command::Admin(Admin::Watch(kinds)), Some(hub)) => Some((hub, *kinds)),
        _ => None,
    }
}
