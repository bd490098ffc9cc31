//! One client connection: read, decode, call the service, encode, write.
//!
//! Requests pipeline: every complete request in the read buffer is dispatched at
//! once, replies are written in request order, and all replies that are ready go out
//! in one write. A client that stops reading its replies stops being read from once
//! `max_in_flight` requests wait or `max_write_buffer` reply bytes are unwritten, so
//! its memory stays bounded.
//!
//! [`Connection`] holds the state; its steps live one per file: [`dispatch`] (decode
//! and start the buffered requests), [`flush`] (write the replies that are ready),
//! [`wait`] (read more, or a reply, a drain, a timeout), [`watch`] (a connection
//! turned into a log stream), over the ordered queue of [`reply`].

mod buffers;
mod dispatch;
mod flush;
mod reply;
mod wait;
mod watch;

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::future::{Fuse, FutureExt};
use memkeep_protocol::{Binding, Decoder, Limits, Request, Response, WatchEvents};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch as signal;
use tower::Service;

use crate::auth::{AuthConfig, Gate};
use crate::error::BoxError;
use crate::stats::{ConnectionInfo, ConnectionStats};
use crate::watchers::lines::{self, CloseReason};
use crate::watchers::{with_client_fd, WatchStream, Watchers};
use reply::Replies;

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

/// Serves one client connection until it closes, errs, idles out or asks to quit.
/// When `drain` changes, it stops reading, answers what it has read, and closes.
///
/// The service's future need not be `Unpin`: replies are pinned in place.
pub async fn serve_connection<IO, S>(
    io: IO,
    service: S,
    config: Arc<ConnectionConfig>,
    stats: Arc<ConnectionStats>,
    drain: signal::Receiver<bool>,
    info: &ConnectionInfo,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request, Response = Response, Error = BoxError>,
{
    let hub = config.watchers.clone();
    let log = |line: &dyn Fn() -> String| {
        if let Some(hub) = hub.as_ref().filter(|h| h.wants(WatchEvents::CONNEVENTS)) {
            hub.log(WatchEvents::CONNEVENTS, &line());
        }
    };
    log(&|| lines::conn_new(&info.addr, info.fd));
    let reason = with_client_fd(info.fd, drive(io, service, &config, &stats, drain, info)).await;
    log(&|| lines::conn_close(&info.addr, reason, info.fd));
}

/// Runs the connection's loop; says why it ended.
async fn drive<IO, S>(
    io: IO,
    service: S,
    config: &ConnectionConfig,
    stats: &ConnectionStats,
    drain: signal::Receiver<bool>,
    info: &ConnectionInfo,
) -> CloseReason
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request, Response = Response, Error = BoxError>,
{
    let replies = pin!(Replies::new());
    // One wait for the drain for the connection's life: a `changed()` made afresh
    // for every wait would join and leave the channel's waiter list per request.
    let drain = pin!(drained(drain));
    Connection {
        io,
        service,
        config,
        stats,
        info,
        drain,
        decoder: Decoder::new(config.limits).with_binding(config.binding),
        gate: Gate::new(config.auth.as_ref(), stats),
        rbuf: BytesMut::new(),
        wbuf: BytesMut::new(),
        replies,
        closing: false,
        eof: false,
        reason: CloseReason::Normal,
        watching: None,
        partial_since: None,
        stacked: false,
    }
    .run()
    .await
}

/// Resolves once `drain` changes (or its sender is gone), then never again.
fn drained(mut drain: signal::Receiver<bool>) -> Fuse<impl Future<Output = ()> + Send> {
    async move {
        let _ = drain.changed().await;
    }
    .fuse()
}

/// One connection's state between steps.
struct Connection<'a, IO, S>
where
    S: Service<Request, Response = Response, Error = BoxError>,
{
    io: IO,
    service: S,
    config: &'a ConnectionConfig,
    stats: &'a ConnectionStats,
    info: &'a ConnectionInfo,
    /// Resolves when the server drains.
    drain: Pin<&'a mut (dyn Future<Output = ()> + Send)>,
    decoder: Decoder,
    gate: Gate<'a>,
    /// Bytes read and not yet decoded; no allocation while there are none.
    rbuf: BytesMut,
    /// Replies encoded and not yet written: a buffer from the thread's pool while
    /// there are some, none otherwise.
    wbuf: BytesMut,
    /// Replies owed, in request order.
    replies: Pin<&'a mut Replies<S::Future>>,
    /// No more requests are read or started: quit, a fatal error, or a drain.
    closing: bool,
    /// The client sent its last byte (or reading failed).
    eof: bool,
    /// Why the connection is to close once its replies are out.
    reason: CloseReason,
    /// A `watch` accepted: the connection streams log lines once earlier replies are out.
    watching: Option<WatchStream>,
    /// Since when the buffered bytes have been an incomplete request.
    partial_since: Option<tokio::time::Instant>,
    /// Replies memcached would hold back until the end of the batch: a `watch` or a
    /// metadump after them is refused. Its `mn` and text gets send theirs at once.
    stacked: bool,
}

impl<IO, S> Connection<'_, IO, S>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request, Response = Response, Error = BoxError>,
{
    async fn run(mut self) -> CloseReason {
        loop {
            let buffer_ran_dry = self.dispatch_buffered().await;
            self.collect_ready();
            if let Some(stream) = self.watching.take() {
                return self.stream_log(stream).await;
            }
            if self.flush().await.is_err() {
                return CloseReason::Error;
            }
            if self.replies.is_empty() {
                self.stacked = false;
            }
            // Stopped at the in-flight or write-buffer bound with whole requests still
            // buffered, and there is room again: decode them before waiting, as the
            // client may have nothing more to send (it pipelined them all at once).
            if !buffer_ran_dry && self.may_dispatch() {
                continue;
            }
            if (self.closing || self.eof) && self.replies.is_empty() {
                let _ = self.io.shutdown().await;
                return self.reason;
            }
            if let Some(reason) = self.wait().await {
                return reason;
            }
        }
    }

    /// Whether another request may be started now.
    fn may_dispatch(&self) -> bool {
        !self.closing && self.replies.len() < self.config.max_in_flight
    }
}

#[cfg(test)]
mod tests;
