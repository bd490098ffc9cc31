//! A connection's bytes to send when the sending is an io_uring operation: what is
//! ready queues in one buffer while the kernel holds the other, and everything
//! queued goes out in one `send` once the one in flight is done.

use std::io;

use super::ring::{Ring, Socket};

/// Replies (or forwarded requests) waiting to be sent, and the send in flight.
#[derive(Default)]
pub struct Outbox {
    /// Appended to while a send is in flight.
    queued: Vec<u8>,
    /// The last sent buffer, emptied, for the next batch to reuse.
    spare: Vec<u8>,
    /// A send is in flight (the ring holds its buffer).
    sending: bool,
    /// Bytes of the buffer in flight, and how many of them were sent already.
    in_flight: usize,
    sent: usize,
}

impl Outbox {
    /// Where replies (or forwarded requests) are appended.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.queued
    }

    /// Bytes not sent yet, queued or in flight.
    pub fn pending(&self) -> usize {
        self.queued.len() + self.in_flight - self.sent
    }

    /// A send is in flight.
    pub fn sending(&self) -> bool {
        self.sending
    }

    /// One `send` of everything queued, unless a send is in flight already (then
    /// the queue goes out when it completes, in [`Outbox::sent`]).
    pub fn flush(&mut self, ring: &mut Ring, socket: Socket, tag: u64) -> io::Result<()> {
        if self.sending || self.queued.is_empty() {
            return Ok(());
        }
        let buf = std::mem::replace(&mut self.queued, std::mem::take(&mut self.spare));
        self.in_flight = buf.len();
        self.sent = 0;
        self.sending = true;
        ring.send(socket, buf, 0, tag)
    }

    /// The send in flight completed with `result` and gave `buf` back: sends the
    /// rest of a short send, else leaves the outbox ready for the next flush.
    /// `Err(Failed)` for a failed send, `Err(Ring)` if the ring failed.
    pub fn sent(
        &mut self,
        ring: &mut Ring,
        socket: Socket,
        tag: u64,
        mut buf: Vec<u8>,
        result: i32,
    ) -> Result<(), SendError> {
        if result < 0 {
            self.sending = false;
            (self.in_flight, self.sent) = (0, 0);
            return Err(SendError::Failed);
        }
        self.sent += result as usize;
        if self.sent < buf.len() {
            return ring
                .send(socket, buf, self.sent, tag)
                .map_err(SendError::Ring);
        }
        buf.clear();
        self.spare = buf;
        self.sending = false;
        (self.in_flight, self.sent) = (0, 0);
        Ok(())
    }
}

/// Why [`Outbox::sent`] failed.
#[derive(Debug)]
pub enum SendError {
    /// The socket's send failed: the connection is done.
    Failed,
    /// The ring itself failed: the loop is done.
    Ring(io::Error),
}
