//! Buffers that an idle connection does not hold. As memcached does, memory for
//! reading and writing belongs to the worker thread, not to each connection: a
//! connection waiting for its client keeps only the bytes of a request it has not
//! received whole, so thousands of idle (or abandoned mid-request) connections cost
//! little, and what they freed is not scattered over the allocator's heap where it
//! could never be given back to the system.
//!
//! - Reads land in a per-thread scratch buffer and are copied into the connection's
//!   read buffer, sized to what arrived. Only a request that outgrows its buffer (a
//!   large value arriving in pieces) reads in place.
//! - Replies are encoded into a write buffer taken from a small per-thread pool and
//!   given back once written.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// The most one read takes from the socket through the scratch buffer.
const READ_CHUNK: usize = 16 * 1024;

/// Spare room in a connection's own read buffer from which reading in place is
/// worth it: a large request is being received.
const READ_IN_PLACE: usize = 4 * 1024;

/// The size of a pooled write buffer: replies to a batch of requests fit.
const WRITE_CHUNK: usize = 16 * 1024;

/// Write buffers larger than this (grown for a large reply) go back to the
/// allocator instead of the pool.
const WRITE_POOLED_MAX: usize = 64 * 1024;

/// Write buffers kept per thread: enough for the connections that write at the
/// same moment on one thread, few enough to be a fixed, small cost.
const WRITE_POOL: usize = 16;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
    static WRITE_BUFFERS: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// Reads what the client sent and appends it to `rbuf`; resolves to the number of
/// bytes read (0: the client closed).
pub(super) fn read<'a, IO>(
    io: &'a mut IO,
    rbuf: &'a mut BytesMut,
) -> impl Future<Output = io::Result<usize>> + 'a
where
    IO: AsyncRead + Unpin,
{
    std::future::poll_fn(move |cx| {
        if rbuf.capacity() - rbuf.len() >= READ_IN_PLACE {
            // The read future holds only its two borrows: made again on each poll,
            // it loses nothing when dropped pending.
            return std::pin::pin!(io.read_buf(rbuf)).poll(cx);
        }
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let mut filled = ReadBuf::new(&mut scratch[..]);
            ready!(Pin::new(&mut *io).poll_read(cx, &mut filled))?;
            rbuf.extend_from_slice(filled.filled());
            Poll::Ready(Ok(filled.filled().len()))
        })
    })
}

/// A write buffer from this thread's pool, or a new one.
pub(super) fn take_write_buffer() -> BytesMut {
    WRITE_BUFFERS
        .with(|pool| pool.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(WRITE_CHUNK))
}

/// Gives a written-out buffer back to this thread's pool, or to the allocator if the
/// pool is full or the buffer grew large.
pub(super) fn give_back_write_buffer(mut buffer: BytesMut) {
    if buffer.capacity() > WRITE_POOLED_MAX || buffer.capacity() < WRITE_CHUNK {
        return;
    }
    buffer.clear();
    WRITE_BUFFERS.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < WRITE_POOL {
            pool.push(buffer);
        }
    });
}
