//! A connection's read and write buffers: read once into free room, write once
//! everything pending.

use std::io::{self, Read, Write};

use crate::framing::{MAX_LINE, MAX_VALUE};

/// Free room asked of the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// Past this the buffer never grows: one whole request or reply fits, with room.
const MAX_INPUT: usize = 2 * (MAX_LINE + MAX_VALUE) + READ_CHUNK;

/// Bytes read and not yet consumed: `data[start..end]`.
pub struct Input {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for Input {
    fn default() -> Self {
        Input {
            data: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
        }
    }
}

impl Input {
    /// The unconsumed bytes.
    pub fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Drops `n` bytes from the front of [`Input::pending`].
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// One `read`. Returns the bytes read (0: end of stream) and whether they filled
    /// all the room offered, in which case more may be waiting in the socket; a
    /// shorter read emptied it, and edge-triggered epoll reports the next arrival.
    pub fn read_from(&mut self, source: &mut impl Read) -> io::Result<(usize, bool)> {
        if self.data.len() - self.end < READ_CHUNK / 4 {
            self.make_room();
        }
        let room = self.data.len() - self.end;
        let n = source.read(&mut self.data[self.end..])?;
        self.end += n;
        Ok((n, n == room))
    }

    /// For a read the caller hands elsewhere (an io_uring `recv`): the buffer, with
    /// room made as for [`Input::read_from`], and the offset the read fills from.
    /// Until [`Input::give_back`], the input is empty and must not be used.
    pub fn lend(&mut self) -> (Vec<u8>, usize) {
        if self.data.len() - self.end < READ_CHUNK / 4 {
            self.make_room();
        }
        (std::mem::take(&mut self.data), self.end)
    }

    /// Takes back the buffer of [`Input::lend`] with `n` more bytes read into it;
    /// `true` if they filled all the room offered (more may be waiting).
    pub fn give_back(&mut self, data: Vec<u8>, n: usize) -> bool {
        let room = data.len() - self.end;
        self.data = data;
        self.end += n;
        n == room
    }

    fn make_room(&mut self) {
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.data.len() - self.end < READ_CHUNK / 4 && self.data.len() < MAX_INPUT {
            let grown = (self.data.len() * 2).min(MAX_INPUT);
            self.data.resize(grown, 0);
        }
    }
}

/// Bytes to write: `data[written..]`.
#[derive(Default)]
pub struct Output {
    data: Vec<u8>,
    written: usize,
}

impl Output {
    /// Where replies (or forwarded requests) are appended.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Bytes not written yet.
    pub fn pending(&self) -> usize {
        self.data.len() - self.written
    }

    /// One `write` of everything pending (the batching rule: whatever is ready goes
    /// out together). A full socket is not an error: the rest waits for writability.
    pub fn write_to(&mut self, sink: &mut impl Write) -> io::Result<()> {
        match sink.write(&self.data[self.written..]) {
            Ok(n) => {
                self.written += n;
                if self.written == self.data.len() {
                    self.data.clear();
                    self.written = 0;
                }
                Ok(())
            }
            Err(e) if is_retry(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// A socket with nothing to give or no room right now, or a call cut short by a
/// signal: try again on the next event.
pub fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
