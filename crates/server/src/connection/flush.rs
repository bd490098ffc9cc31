//! Writing replies: every reply that is ready, in order, goes out in one write, from
//! a buffer the connection holds only until then.

use std::io;

use memkeep_protocol::{encode_response, Form, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tower::Service;

use super::{buffers, Connection};
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
            self.encode(&form, &response);
        }
    }

    /// Encodes one reply after those waiting to be written.
    pub(super) fn encode(&mut self, form: &Form, response: &Response) {
        if self.wbuf.capacity() == 0 {
            self.wbuf = buffers::take_write_buffer();
        }
        encode_response(form, response, &mut self.wbuf);
    }

    /// Writes the encoded replies. While the client does not read them this waits,
    /// and nothing more is read meanwhile: that is the write-side backpressure.
    pub(super) async fn flush(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        self.io.write_all(&self.wbuf).await?;
        ConnectionStats::add(&self.stats.bytes_written, self.wbuf.len() as u64);
        buffers::give_back_write_buffer(std::mem::take(&mut self.wbuf));
        Ok(())
    }
}
