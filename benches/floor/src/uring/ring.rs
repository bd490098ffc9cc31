//! The io_uring the floor's second runtime runs on, behind a safe interface: the
//! only module of the crate with unsafe code.
//!
//! An operation that reads or writes memory takes its buffer by value and keeps it
//! here until the kernel reports the operation complete, when the buffer comes back
//! with the [`Completion`]. So no buffer can move, shrink or be freed while the
//! kernel may still use it, whatever the caller does meanwhile. Multishot receives
//! fill buffers the kernel picks from a ring of provided buffers owned here; each
//! completion hands one out as a [`Received`], which gives its bytes once and
//! returns the buffer to the kernel.
#![allow(unsafe_code)]

use std::alloc::{alloc_zeroed, Layout};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::{cqueue, opcode, squeue, types, IoUring};

use crate::slots::Slots;

/// A socket as an operation names it.
#[derive(Debug, Clone, Copy)]
pub enum Socket {
    /// A direct descriptor: an index in the ring's registered file table, as a
    /// multishot accept hands out (no descriptor lookup per operation).
    Fixed(u32),
    /// An ordinary file descriptor.
    Raw(RawFd),
}

/// An operation in flight, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpId(u64);

/// A finished operation.
#[derive(Debug)]
pub struct Completion {
    /// The caller's tag for the operation.
    pub tag: u64,
    /// What the system call would have returned: bytes, a direct descriptor's index,
    /// or a negated errno.
    pub result: i32,
    /// The buffer the operation was given (empty for those that take none).
    pub buf: Vec<u8>,
    /// A multishot receive's bytes, in a provided buffer.
    pub received: Option<Received>,
    /// A multishot operation goes on and will complete again.
    pub more: bool,
}

/// Bytes a multishot receive put in a provided buffer: read them with
/// [`Ring::take_received`], which gives the buffer back to the kernel.
#[derive(Debug)]
pub struct Received {
    id: u16,
    len: usize,
}

/// An operation the kernel holds, with the memory it points into.
struct InFlight {
    tag: u64,
    buf: Vec<u8>,
}

/// One thread's ring and the operations in flight on it.
pub struct Ring {
    ring: IoUring,
    /// Indexed by the operations' user data.
    in_flight: Slots<InFlight>,
    provided: Provided,
    finished: Vec<(u64, i32, u32)>,
}

/// The provided buffer group multishot receives take from.
const GROUP: u16 = 0;
/// Provided buffers per ring (a power of two) and their size.
const PROVIDED: u16 = 1024;
const PROVIDED_SIZE: usize = 16 * 1024;

impl Ring {
    /// A ring for one thread with `entries` submission slots, a sparse table of
    /// `direct_descriptors` for accepted sockets, and provided buffers for
    /// multishot receives. Completions are left for [`Ring::submit_and_wait`] to
    /// reap (single issuer, deferred task work) where the kernel has that, as one
    /// event loop per thread allows.
    pub fn new(entries: u32, direct_descriptors: u32) -> io::Result<Ring> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_cqsize(entries * 4)
            .build(entries)
            .or_else(|_| IoUring::builder().setup_cqsize(entries * 4).build(entries))?;
        ring.submitter().register_files_sparse(direct_descriptors)?;
        let provided = Provided::register(&ring, PROVIDED, PROVIDED_SIZE)?;
        Ok(Ring {
            ring,
            in_flight: Slots::new(),
            provided,
            finished: Vec::new(),
        })
    }

    /// Accepts connections on `listener` until it fails, each as a direct descriptor
    /// (its index is the completion's result). Accepted sockets inherit the
    /// listener's options, `TCP_NODELAY` among them.
    pub fn accept_multi(&mut self, listener: RawFd, tag: u64) -> io::Result<()> {
        let entry = opcode::AcceptMulti::new(types::Fd(listener))
            .allocate_file_index(true)
            .build();
        self.push(entry, tag, Vec::new()).map(drop)
    }

    /// Receives whenever data arrives, into provided buffers, until cancelled, the
    /// end of the stream, an error, or the provided buffers ran out (a completion
    /// without `more`): one completion per receive, no new submission for each.
    pub fn recv_multi(&mut self, socket: Socket, tag: u64) -> io::Result<OpId> {
        let entry = match socket {
            Socket::Fixed(i) => opcode::RecvMulti::new(types::Fixed(i), GROUP).build(),
            Socket::Raw(fd) => opcode::RecvMulti::new(types::Fd(fd), GROUP).build(),
        };
        self.push(entry, tag, Vec::new())
    }

    /// Asks the kernel to end `op` (it completes without `more`, or has already).
    pub fn cancel(&mut self, op: OpId, tag: u64) -> io::Result<()> {
        let entry = opcode::AsyncCancel::new(op.0).build();
        self.push(entry, tag, Vec::new()).map(drop)
    }

    /// The bytes of `received`, given to `read`; then the buffer goes back to the
    /// kernel.
    pub fn take_received<R>(&mut self, received: Received, read: impl FnOnce(&[u8]) -> R) -> R {
        self.provided.take(received, read)
    }

    /// Returns `received`'s buffer to the kernel unread.
    pub fn discard(&mut self, received: Received) {
        self.provided.take(received, |_| ());
    }

    /// One `send` of `buf[from..]`.
    pub fn send(&mut self, socket: Socket, buf: Vec<u8>, from: usize, tag: u64) -> io::Result<()> {
        let rest = &buf[from..];
        let (ptr, len) = (rest.as_ptr(), clamp(rest.len()));
        let entry = match socket {
            Socket::Fixed(i) => opcode::Send::new(types::Fixed(i), ptr, len).build(),
            Socket::Raw(fd) => opcode::Send::new(types::Fd(fd), ptr, len).build(),
        };
        self.push(entry, tag, buf).map(drop)
    }

    /// Closes a direct descriptor; its index may be handed out again afterwards.
    pub fn close(&mut self, index: u32, tag: u64) -> io::Result<()> {
        let entry = opcode::Close::new(types::Fixed(index)).build();
        self.push(entry, tag, Vec::new()).map(drop)
    }

    /// One `io_uring_enter`: submits everything pushed since the last call and waits
    /// for at least one completion.
    pub fn submit_and_wait(&mut self) -> io::Result<()> {
        match self.ring.submit_and_wait(1) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            // The completion queue is full: reaping it (the caller's next step) makes room.
            Err(e) if e.raw_os_error() == Some(EBUSY) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Moves every completion ready into `out`, each with its buffer back.
    pub fn reap(&mut self, out: &mut Vec<Completion>) {
        self.finished.clear();
        self.finished.extend(
            self.ring
                .completion()
                .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
        );
        for &(user_data, result, flags) in &self.finished {
            let index = user_data as usize;
            let more = cqueue::more(flags);
            // A completion that names a provided buffer hands it to us, whatever its
            // result: it goes back to the kernel once read.
            let received = cqueue::buffer_select(flags).map(|id| Received {
                id,
                len: usize::try_from(result).unwrap_or(0),
            });
            let (tag, buf) = if more {
                match self.in_flight.get_mut(index) {
                    Some(op) => (op.tag, Vec::new()),
                    None => continue,
                }
            } else {
                match self.in_flight.take(index) {
                    Some(op) => (op.tag, op.buf),
                    None => continue,
                }
            };
            out.push(Completion {
                tag,
                result,
                buf,
                received,
                more,
            });
        }
    }

    fn push(&mut self, entry: squeue::Entry, tag: u64, buf: Vec<u8>) -> io::Result<OpId> {
        let index = self.in_flight.insert(InFlight { tag, buf }) as u64;
        let entry = entry.user_data(index);
        loop {
            // SAFETY: the entry points into `buf`'s heap memory, into the provided
            // buffers (which live as long as the process, see `Provided`), or into
            // nothing, and `buf` now lives in `in_flight` until the entry's last
            // completion takes it out in `reap` (moving a Vec does not move its heap
            // memory), or for good if the ring is dropped first (see `Drop`). The
            // descriptors it names belong to the caller's listener or sockets, or to
            // the ring's own table.
            let pushed = unsafe { self.ring.submission().push(&entry) };
            if pushed.is_ok() {
                return Ok(OpId(index));
            }
            // The submission queue is full: hand it to the kernel and push again.
            self.ring.submit()?;
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // The kernel cancels what is in flight only after the ring is gone, and not
        // necessarily before this returns: the buffers it may still write are leaked
        // rather than freed under it.
        std::mem::forget(std::mem::replace(&mut self.in_flight, Slots::new()));
    }
}

/// A ring of provided buffers: `count` buffers of `size` bytes in one allocation,
/// and the ring of entries through which they are handed to the kernel. Both are
/// allocated once and never freed (a ring lives as long as its thread's loop, and
/// the loop's end ends the process), so the kernel can never write to freed memory.
struct Provided {
    entries: *mut BufRingEntry,
    memory: *mut u8,
    size: usize,
    count: u16,
    /// Entries written so far (wrapping); the kernel takes them up to the published tail.
    tail: u16,
}

impl Provided {
    fn register(ring: &IoUring, count: u16, size: usize) -> io::Result<Provided> {
        let too_big = || io::Error::from(io::ErrorKind::OutOfMemory);
        let entries_layout =
            Layout::from_size_align(usize::from(count) * size_of::<BufRingEntry>(), 4096)
                .map_err(|_| too_big())?;
        let memory_layout =
            Layout::from_size_align(usize::from(count) * size, 64).map_err(|_| too_big())?;
        // SAFETY: both layouts have a non-zero size (count and size are constants > 0).
        let (entries, memory) =
            unsafe { (alloc_zeroed(entries_layout), alloc_zeroed(memory_layout)) };
        if entries.is_null() || memory.is_null() {
            return Err(too_big());
        }
        // SAFETY: `entries` is page aligned, holds `count` entries, and is never
        // freed, so it stays valid for as long as the ring may read it.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries as u64, count, GROUP, 0)?;
        }
        let mut provided = Provided {
            entries: entries.cast(),
            memory,
            size,
            count,
            tail: 0,
        };
        for id in 0..count {
            provided.put(id);
        }
        provided.publish();
        Ok(provided)
    }

    /// Reads a buffer the kernel handed out, then hands it back.
    fn take<R>(&mut self, received: Received, read: impl FnOnce(&[u8]) -> R) -> R {
        let len = received.len.min(self.size);
        // SAFETY: the buffer lies inside `memory` (id < count, len <= size). The
        // kernel handed it out with this completion and takes it back only once it
        // is in the ring again (`put`, below), so nothing writes it meanwhile; and
        // `Received` is not Clone, so this is its only reader.
        let bytes = unsafe {
            std::slice::from_raw_parts(self.memory.add(usize::from(received.id) * self.size), len)
        };
        let result = read(bytes);
        self.put(received.id);
        self.publish();
        result
    }

    /// Writes buffer `id` into the next free entry (not yet visible to the kernel).
    fn put(&mut self, id: u16) {
        let slot = usize::from(self.tail & (self.count - 1));
        // SAFETY: slot < count. The kernel reads only entries below the published
        // tail that it has not consumed; every buffer is in the ring at most once,
        // so the entry at our tail is one the kernel is done with.
        let entry = unsafe { &mut *self.entries.add(slot) };
        entry.set_addr(self.memory as u64 + u64::from(id) * self.size as u64);
        entry.set_len(u32::try_from(self.size).unwrap_or(u32::MAX));
        entry.set_bid(id);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the entries written so far visible to the kernel.
    fn publish(&self) {
        // SAFETY: the tail is the ring's shared u16 in the first entry's reserved
        // field, which the kernel reads with acquire ordering and never writes;
        // `entries` is valid and aligned for it.
        let tail = unsafe { AtomicU16::from_ptr(BufRingEntry::tail(self.entries).cast_mut()) };
        tail.store(self.tail, Ordering::Release);
    }
}

/// A length as an SQE holds it (a larger buffer is used in part, as a short read or
/// write would be).
fn clamp(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// `EBUSY`: io_uring_enter's answer when completions must be reaped before more can
/// be posted.
const EBUSY: i32 = 16;
