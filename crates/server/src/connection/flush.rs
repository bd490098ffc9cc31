//! Writing replies: every reply that is ready, in order, goes out in one write.

use std::io;

use memkeep_protocol::{encode_response, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tower::Service;

use super::Connection;
use crate::error::BoxError;
use crate::stats::ConnectionStats;

impl<IO, S> Connection<'_, IO, S>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request, Response = Response, Error = BoxError>,
{
    /// Encodes every reply that is ready now, stopping at the first that is not.
    pub(super) fn collect_ready(&mut self) {
        while let Some((form, response)) = self.replies.as_mut().next_ready() {
            encode_response(&form, &response, &mut self.wbuf);
        }
    }

    /// Writes the encoded replies. While the client does not read them this waits,
    /// and nothing more is read meanwhile: that is the write-side backpressure.
    pub(super) async fn flush(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        self.io.write_all(&self.wbuf).await?;
        ConnectionStats::add(&self.stats.bytes_written, self.wbuf.len() as u64);
        self.wbuf.clear();
        Ok(())
    }
}
