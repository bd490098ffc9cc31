//! One client connection: read, decode, call the service, encode, write.
//!
//! Requests pipeline: every complete request in the read buffer is dispatched at
//! once, replies are written in request order, and all replies that are ready go out
//! in one write. A client that stops reading its replies stops being read from once
//! `max_in_flight` requests wait, so its memory stays bounded.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use futures_util::stream::{FuturesOrdered, StreamExt};
use futures_util::FutureExt;
use memkeep_protocol::{
    encode_response, Admin, Binding, Command, Decoder, Form, Limits, Request, Response, TextVerb,
    WatchEvents,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tower::{Service, ServiceExt};
use tracing::debug;

use crate::auth::{AuthConfig, Gate, Screened};
use crate::error::{error_response, BoxError};
use crate::stats::{ConnectionInfo, ConnectionStats};
use crate::watchers::lines::{self, CloseReason};
use crate::watchers::{with_client_fd, WatchStream, Watchers};

/// Per-connection settings.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Limits the request decoder enforces.
    pub limits: Limits,
    /// Close a connection that sends nothing for this long (`-o idle_timeout`).
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose request stays incomplete this long: a client that
    /// trickles a header byte by byte holds no connection slot forever.
    pub request_timeout: Option<Duration>,
    /// Stop reading from a client with this many requests still unanswered.
    pub max_in_flight: usize,
    /// Stop reading from a client with this many reply bytes not yet written.
    pub max_write_buffer: usize,
    /// Require authentication (`-Y`, `-S`) before any request reaches the service.
    pub auth: Option<AuthConfig>,
    /// The log hub: when set, `watch` turns a connection into a stream of its log
    /// lines and connections are logged (`connevents`); when not, `watch` goes to the
    /// service like any command.
    pub watchers: Option<Arc<Watchers>>,
    /// The protocols clients may speak (`-B`).
    pub binding: Binding,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            limits: Limits::default(),
            idle_timeout: None,
            request_timeout: Some(Duration::from_secs(60)),
            max_in_flight: 1024,
            max_write_buffer: 4 * 1024 * 1024,
            auth: None,
            watchers: None,
            binding: Binding::Auto,
        }
    }
}

const READ_CHUNK: usize = 16 * 1024;

/// What `watch` answers when the server already streams to as many watchers as it
/// allows.
const WATCHER_TOO_MANY: &str = "WATCHER_TOO_MANY log watcher limit reached";

/// Serves one client connection until it closes, errs, idles out or asks to quit.
/// When `drain` changes, it stops reading, answers what it has read, and closes.
pub async fn serve_connection<IO, S>(
    io: IO,
    service: S,
    config: Arc<ConnectionConfig>,
    stats: Arc<ConnectionStats>,
    drain: watch::Receiver<bool>,
    info: &ConnectionInfo,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request, Response = Response, Error = BoxError>,
    S::Future: Unpin,
{
    let hub = config.watchers.clone();
    let log = |line: &dyn Fn() -> String| {
        if let Some(hub) = hub.as_ref().filter(|h| h.wants(WatchEvents::CONNEVENTS)) {
            hub.log(WatchEvents::CONNEVENTS, &line());
        }
    };
    log(&|| lines::conn_new(&info.addr, info.fd));
    let reason = with_client_fd(info.fd, drive(io, service, config, stats, drain, info)).await;
    log(&|| lines::conn_close(&info.addr, reason, info.fd));
}

/// The connection's loop; says why it ended.
async fn drive<IO, S>(
    mut io: IO,
    mut service: S,
    config: Arc<ConnectionConfig>,
    stats: Arc<ConnectionStats>,
    mut drain: watch::Receiver<bool>,
    info: &ConnectionInfo,
) -> CloseReason
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request, Response = Response, Error = BoxError>,
    S::Future: Unpin,
{
    let mut decoder = Decoder::new(config.limits).with_binding(config.binding);
    let mut gate = Gate::new(config.auth.as_ref(), &stats);
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut pending = FuturesOrdered::new();
    let mut closing = false;
    let mut eof = false;
    // Why the connection is to close once its replies are out.
    let mut reason = CloseReason::Normal;
    // A `watch` accepted: the connection streams log lines once earlier replies are out.
    let mut watching: Option<WatchStream> = None;
    // Since when the buffered bytes have been an incomplete request.
    let mut partial_since: Option<tokio::time::Instant> = None;
    // Replies memcached would hold back until the end of the batch: a `watch` or a
    // metadump after them is refused. Its `mn` and text gets send theirs at once.
    let mut stacked = false;

    loop {
        // Dispatch every complete request already buffered. While nothing is queued,
        // a reply that is ready at once is encoded straight away: the cache service
        // answers synchronously, and the ordered queue costs an allocation per entry.
        let mut drained = false;
        while !closing && watching.is_none() && pending.len() < config.max_in_flight {
            let screened = match decoder.decode(&mut rbuf) {
                Ok(Some(request)) => gate.screen(request),
                Ok(None) => {
                    drained = true;
                    break;
                }
                Err(e) => {
                    debug!(error = %e.error, close = e.close, "bad request");
                    if e.close {
                        reason = CloseReason::Error;
                    }
                    gate.screen_error(&e).unwrap_or(Screened::Answer {
                        response: e.error.to_response(),
                        form: e.form,
                        close: e.close,
                    })
                }
            };
            let flushes = matches!(&screened, Screened::Pass(request) if sent_at_once(request));
            let was_stacked = std::mem::replace(&mut stacked, !flushes);
            let reply = match screened {
                // memcached turns the connection over to a stream only at the head of
                // its replies: after others in the same batch, it refuses.
                Screened::Pass(request) if was_stacked && streams(&request, &config) => {
                    let what = match request.command {
                        Command::Metadump(_) => "metadump",
                        _ => "watch",
                    };
                    let line = format!("ERROR cannot pipeline other commands before {what}");
                    Reply::ready(request.form, Response::ErrorLine(line.into()))
                }
                Screened::Pass(request) => match watch_kinds(&request, &config) {
                    Some((hub, kinds)) => match hub.watch(kinds) {
                        Ok(stream) => {
                            watching = Some(stream);
                            break;
                        }
                        Err(_) => {
                            Reply::ready(request.form, Response::ErrorLine(WATCHER_TOO_MANY.into()))
                        }
                    },
                    None => match dispatch(request, &mut service, &mut closing).await {
                        Some(reply) => reply,
                        None => continue,
                    },
                },
                Screened::Answer {
                    form,
                    response,
                    close,
                } => {
                    closing |= close;
                    Reply::ready(form, response)
                }
            };
            let mut reply = reply;
            match pending
                .is_empty()
                .then(|| (&mut reply).now_or_never())
                .flatten()
            {
                Some((form, response)) => encode_response(&form, &response, &mut wbuf),
                None => pending.push_back(reply),
            }
            if wbuf.len() >= config.max_write_buffer {
                break;
            }
        }
        // Collect every reply that is ready, in order, into one write.
        while let Some(Some((form, response))) = pending.next().now_or_never() {
            encode_response(&form, &response, &mut wbuf);
        }
        if let Some(stream) = watching.take() {
            // Earlier replies go out first; then the connection only streams.
            while let Some((form, response)) = pending.next().await {
                encode_response(&form, &response, &mut wbuf);
            }
            wbuf.extend_from_slice(b"OK\r\n");
            return stream_log(io, stream, wbuf, &stats, drain).await;
        }
        if !wbuf.is_empty() {
            if io.write_all(&wbuf).await.is_err() {
                return CloseReason::Error;
            }
            ConnectionStats::add(&stats.bytes_written, wbuf.len() as u64);
            wbuf.clear();
        }
        if pending.is_empty() {
            stacked = false;
        }
        // Stopped at the in-flight or write-buffer bound with whole requests still
        // buffered, and there is room again: decode them before waiting, as the
        // client may have nothing more to send (it pipelined them all at once).
        if !drained && !closing && pending.len() < config.max_in_flight {
            continue;
        }
        if (closing || eof) && pending.is_empty() {
            let _ = io.shutdown().await;
            return reason;
        }
        let can_read = !closing && !eof && pending.len() < config.max_in_flight;
        if !can_read && pending.len() >= config.max_in_flight {
            ConnectionStats::add(&stats.conn_yields, 1);
        }
        rbuf.reserve(READ_CHUNK);
        partial_since = match (rbuf.is_empty(), partial_since) {
            (true, _) => None,
            (false, None) => Some(tokio::time::Instant::now()),
            (false, since) => since,
        };
        let too_slow = async {
            match (partial_since, config.request_timeout) {
                (Some(since), Some(limit)) if can_read => {
                    tokio::time::sleep_until(since + limit).await
                }
                _ => std::future::pending().await,
            }
        };
        let idle_timeout = config.idle_timeout.filter(|_| pending.is_empty());
        let idle = async {
            match idle_timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = io.read_buf(&mut rbuf), if can_read => match read {
                Ok(0) => eof = true,
                Err(_) => {
                    eof = true;
                    reason = CloseReason::Error;
                }
                Ok(n) => {
                    ConnectionStats::add(&stats.bytes_read, n as u64);
                    info.touch();
                }
            },
            Some((form, response)) = pending.next(), if !pending.is_empty() => {
                encode_response(&form, &response, &mut wbuf);
            }
            _ = drain.changed(), if !closing => {
                closing = true;
                reason = CloseReason::Shutdown;
            }
            () = idle => {
                ConnectionStats::add(&stats.idle_kicks, 1);
                return CloseReason::IdleTimeout;
            }
            () = too_slow => {
                debug!("request incomplete for too long: closing");
                ConnectionStats::add(&stats.slow_request_kicks, 1);
                return CloseReason::Error;
            }
        }
    }
}

/// The hub and the kinds of a `watch` this connection is to stream, if it is one and
/// the server streams logs.
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

fn watch_kinds<'a>(
    request: &Request,
    config: &'a ConnectionConfig,
) -> Option<(&'a Arc<Watchers>, WatchEvents)> {
    match (&request.command, &config.watchers) {
        (Command::Admin(Admin::Watch(kinds)), Some(hub)) => Some((hub, *kinds)),
        _ => None,
    }
}

/// A watching connection: `head` (earlier replies and the `OK`) then the log lines,
/// until the client hangs up or the server shuts down. What the client sends now is
/// read and dropped, as memcached ignores a watcher's input.
async fn stream_log<IO>(
    mut io: IO,
    stream: WatchStream,
    head: BytesMut,
    stats: &ConnectionStats,
    mut drain: watch::Receiver<bool>,
) -> CloseReason
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    if io.write_all(&head).await.is_err() {
        return CloseReason::Error;
    }
    ConnectionStats::add(&stats.bytes_written, head.len() as u64);
    let mut ignored = [0u8; 1024];
    loop {
        tokio::select! {
            lines = stream.next() => {
                if io.write_all(&lines).await.is_err() {
                    return CloseReason::Error;
                }
                ConnectionStats::add(&stats.bytes_written, lines.len() as u64);
            }
            read = io.read(&mut ignored) => match read {
                Ok(0) => return CloseReason::Normal,
                Ok(n) => ConnectionStats::add(&stats.bytes_read, n as u64),
                Err(_) => return CloseReason::Error,
            },
            _ = drain.changed() => {
                let _ = io.shutdown().await;
                return CloseReason::Shutdown;
            }
        }
    }
}

/// A reply in the connection's ordered queue: ready now (errors, quit) or the
/// service's future, with the form it is to be written in.
struct Reply<F> {
    form: Option<Form>,
    state: ReplyState<F>,
}

enum ReplyState<F> {
    Ready(Option<Response>),
    Call(F),
}

impl<F> Reply<F> {
    fn ready(form: Form, response: Response) -> Self {
        Reply {
            form: Some(form),
            state: ReplyState::Ready(Some(response)),
        }
    }
}

impl<F> Future for Reply<F>
where
    F: Future<Output = Result<Response, BoxError>> + Unpin,
{
    type Output = (Form, Response);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let response = match &mut this.state {
            ReplyState::Ready(response) => response.take().expect("polled after completion"),
            ReplyState::Call(fut) => match fut.poll_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => result.unwrap_or_else(|e| error_response(&e)),
            },
        };
        Poll::Ready((this.form.take().expect("polled after completion"), response))
    }
}

/// Starts one request: quit is the driver's own business, the rest goes to the
/// service (after it is ready, so backpressure reaches the client).
async fn dispatch<S>(
    request: Request,
    service: &mut S,
    closing: &mut bool,
) -> Option<Reply<S::Future>>
where
    S: Service<Request, Response = Response, Error = BoxError>,
{
    if matches!(request.command, Command::Quit) {
        *closing = true;
        // Binary QUIT is acknowledged; text quit and QUITQ close silently, and the
        // encoder writes nothing for those.
        return match request.form {
            Form::Binary(_) => Some(Reply::ready(request.form, Response::Ok)),
            _ => None,
        };
    }
    let form = request.form.clone();
    match service.ready().await {
        Ok(svc) => Some(Reply {
            form: Some(form),
            state: ReplyState::Call(svc.call(request)),
        }),
        Err(e) => Some(Reply::ready(form, error_response(&e))),
    }
}

#[cfg(test)]
mod tests;
