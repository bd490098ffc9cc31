//! A watching connection: earlier replies and the `OK`, then the log lines, until the
//! client hangs up or the server shuts down. What the client sends now is read and
//! dropped, as memcached ignores a watcher's input.

use futures_util::StreamExt;
use memkeep_protocol::{Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower::Service;

use super::Connection;
use crate::error::BoxError;
use crate::stats::ConnectionStats;
use crate::watchers::lines::CloseReason;
use crate::watchers::WatchStream;

impl<IO, S> Connection<'_, IO, S>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request, Response = Response, Error = BoxError>,
{
    /// Streams `stream` to the client once the replies owed are out; never returns to
    /// taking commands.
    pub(super) async fn stream_log(mut self, stream: WatchStream) -> CloseReason {
        while let Some((form, response)) = self.replies.next().await {
            self.encode(&form, &response);
        }
        self.wbuf.extend_from_slice(b"OK\r\n");
        if self.flush().await.is_err() {
            return CloseReason::Error;
        }
        let mut ignored = [0u8; 1024];
        loop {
            tokio::select! {
                lines = stream.next() => {
                    if self.io.write_all(&lines).await.is_err() {
                        return CloseReason::Error;
                    }
                    ConnectionStats::add(&self.stats.bytes_written, lines.len() as u64);
                }
                read = self.io.read(&mut ignored) => match read {
                    Ok(0) => return CloseReason::Normal,
                    Ok(n) => ConnectionStats::add(&self.stats.bytes_read, n as u64),
                    Err(_) => return CloseReason::Error,
                },
                () = self.drain.as_mut() => {
                    let _ = self.io.shutdown().await;
                    return CloseReason::Shutdown;
                }
            }
        }
    }
}
