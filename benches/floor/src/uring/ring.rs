//! The io_uring the floor's second runtime runs on, behind a safe interface: the
//! only module of the crate with unsafe code.
//!
//! An operation that reads or writes memory takes its buffer by value and keeps it
//! here until the kernel reports the operation complete, when the buffer comes back
//! with the [`Completion`]. So no buffer can move, shrink or be freed while the
//! kernel may still use it, whatever the caller does meanwhile.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;

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
    /// A multishot operation goes on and will complete again.
    pub more: bool,
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
    finished: Vec<(u64, i32, u32)>,
}

impl Ring {
    /// A ring for one thread with `entries` submission slots and a sparse table of
    /// `direct_descriptors` for accepted sockets. Completions are left for
    /// [`Ring::submit_and_wait`] to reap (single issuer, deferred task work) where
    /// the kernel has that, as one event loop per thread allows.
    pub fn new(entries: u32, direct_descriptors: u32) -> io::Result<Ring> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_cqsize(entries * 4)
            .build(entries)
            .or_else(|_| IoUring::builder().setup_cqsize(entries * 4).build(entries))?;
        ring.submitter().register_files_sparse(direct_descriptors)?;
        Ok(Ring {
            ring,
            in_flight: Slots::new(),
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
        self.push(entry, tag, Vec::new())
    }

    /// One `recv` into `buf[from..]`. `drained`: the last `recv` emptied the
    /// socket, so the kernel waits for data before trying (`IORING_RECVSEND_POLL_FIRST`)
    /// rather than trying a receive that can only fail, as epoll's edge-triggered
    /// loop skips the read that would only return `EAGAIN`.
    pub fn recv(
        &mut self,
        socket: Socket,
        mut buf: Vec<u8>,
        from: usize,
        drained: bool,
        tag: u64,
    ) -> io::Result<()> {
        let room = &mut buf[from..];
        let (ptr, len) = (room.as_mut_ptr(), clamp(room.len()));
        let ioprio = if drained { POLL_FIRST } else { 0 };
        let entry = match socket {
            Socket::Fixed(i) => opcode::Recv::new(types::Fixed(i), ptr, len),
            Socket::Raw(fd) => opcode::Recv::new(types::Fd(fd), ptr, len),
        };
        let entry = entry.ioprio(ioprio).build();
        self.push(entry, tag, buf)
    }

    /// One `send` of `buf[from..]`.
    pub fn send(&mut self, socket: Socket, buf: Vec<u8>, from: usize, tag: u64) -> io::Result<()> {
        let rest = &buf[from..];
        let (ptr, len) = (rest.as_ptr(), clamp(rest.len()));
        let entry = match socket {
            Socket::Fixed(i) => opcode::Send::new(types::Fixed(i), ptr, len).build(),
            Socket::Raw(fd) => opcode::Send::new(types::Fd(fd), ptr, len).build(),
        };
        self.push(entry, tag, buf)
    }

    /// Closes a direct descriptor; its index may be handed out again afterwards.
    pub fn close(&mut self, index: u32, tag: u64) -> io::Result<()> {
        self.push(
            opcode::Close::new(types::Fixed(index)).build(),
            tag,
            Vec::new(),
        )
    }

    /// One `io_uring_enter`: submits everything pushed since the last call and waits
    /// for at least one completion.
    pub fn submit_and_wait(&mut self) -> io::Result<()> {
        match self.ring.submit_and_wait(1) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            // The completion queue is full: reaping it (the caller's next step) makes room.
            Err(e) if e.raw_os_error() == Some(libc_ebusy()) => Ok(()),
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
            let completion = if more {
                let Some(op) = self.in_flight.get_mut(index) else {
                    continue;
                };
                Completion {
                    tag: op.tag,
                    result,
                    buf: Vec::new(),
                    more,
                }
            } else {
                let Some(op) = self.in_flight.take(index) else {
                    continue;
                };
                Completion {
                    tag: op.tag,
                    result,
                    buf: op.buf,
                    more,
                }
            };
            out.push(completion);
        }
    }

    fn push(&mut self, entry: squeue::Entry, tag: u64, buf: Vec<u8>) -> io::Result<()> {
        let index = self.in_flight.insert(InFlight { tag, buf });
        let entry = entry.user_data(index as u64);
        loop {
            // SAFETY: the entry points into `buf`'s heap memory or into nothing, and
            // `buf` now lives in `in_flight` until the entry's last completion takes
            // it out in `reap` (moving a Vec does not move its heap memory), or for
            // good if the ring is dropped first (see `Drop`). The descriptors it names
            // belong to the caller's listener or sockets, or to the ring's own table.
            let pushed = unsafe { self.ring.submission().push(&entry) };
            if pushed.is_ok() {
                return Ok(());
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

/// A length as an SQE holds it (a larger buffer is used in part, as a short read or
/// write would be).
fn clamp(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// `IORING_RECVSEND_POLL_FIRST` (io_uring.h), in a `recv`'s `ioprio`.
const POLL_FIRST: u16 = 1;

/// `EBUSY`: io_uring_enter's answer when completions must be reaped before more can
/// be posted.
const fn libc_ebusy() -> i32 {
    16
}
