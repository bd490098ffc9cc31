//! Waiting for what comes next: bytes from the client (while there is room for more
//! requests), the next reply, a drain, or a timeout (idle, or a request left
//! incomplete for too long).

use bytes::BytesMut;
use futures_util::StreamExt;
use memkeep_protocol::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tower::Service;
use tracing::debug;

use super::{buffers, Connection};
use crate::error::BoxError;
use crate::stats::ConnectionStats;
use crate::watchers::lines::CloseReason;

impl<IO, S> Connection<'_, IO, S>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request, Response = Response, Error = BoxError>,
{
    /// Waits for one event and records it; says why to close at once if a timeout
    /// ends the connection.
    pub(super) async fn wait(&mut self) -> Option<CloseReason> {
        let owed = self.replies.len();
        let can_read = !self.closing && !self.eof && owed < self.config.max_in_flight;
        if !can_read && owed >= self.config.max_in_flight {
            ConnectionStats::add(&self.stats.conn_yields, 1);
        }
        if self.rbuf.is_empty() {
            // Let go of the allocation the last requests were read into: it goes back
            // once their values are dropped, not when this client next speaks.
            self.rbuf = BytesMut::new();
        }
        self.partial_since = match (self.rbuf.is_empty(), self.partial_since) {
            (true, _) => None,
            (false, None) => Some(tokio::time::Instant::now()),
            (false, since) => since,
        };
        let (partial_since, request_timeout) = (self.partial_since, self.config.request_timeout);
        let too_slow = async {
            match (partial_since, request_timeout) {
                (Some(since), Some(limit)) if can_read => {
                    tokio::time::sleep_until(since + limit).await
                }
                _ => std::future::pending().await,
            }
        };
        let idle_timeout = self.config.idle_timeout.filter(|_| owed == 0);
        let idle = async {
            match idle_timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = buffers::read(&mut self.io, &mut self.rbuf), if can_read => match read {
                Ok(0) => self.eof = true,
                Err(_) => {
                    self.eof = true;
                    self.reason = CloseReason::Error;
                }
                Ok(n) => {
                    ConnectionStats::add(&self.stats.bytes_read, n as u64);
                    self.info.touch();
                }
            },
            Some((form, response)) = self.replies.next(), if owed != 0 => {
                self.encode(&form, &response);
            }
            () = self.drain.as_mut(), if !self.closing => {
                self.closing = true;
                self.reason = CloseReason::Shutdown;
            }
            () = idle => {
                ConnectionStats::add(&self.stats.idle_kicks, 1);
                return Some(CloseReason::IdleTimeout);
            }
            () = too_slow => {
                debug!("request incomplete for too long: closing");
                ConnectionStats::add(&self.stats.slow_request_kicks, 1);
                return Some(CloseReason::Error);
            }
        }
        None
    }
}
