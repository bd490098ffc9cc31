//! The floor on io_uring instead of epoll: `floor-server-uring` and
//! `floor-proxy-uring` give the same bytes back with the same batching as the epoll
//! binaries, so the two runtimes can be compared at the floor, where nothing but
//! the kernel's socket work and the loop is left to hide the difference.
//!
//! Per thread, one ring: a multishot accept hands out accepted sockets as direct
//! descriptors (registered files, no descriptor table lookups), every connection
//! has one `recv` in flight at all times (the readiness wait and the read in one
//! operation), and each round of the loop is a single `io_uring_enter` that submits
//! the round's sends and receives and waits for the next completions. All unsafe
//! code is in [`ring`].

pub mod outbox;
pub mod proxy;
pub mod ring;
pub mod server;

/// Submission queue slots per ring (the completion queue has four times as many).
const RING_ENTRIES: u32 = 4096;
/// Direct descriptors per ring: accepted connections per thread at most.
const DIRECT_DESCRIPTORS: u32 = 16 * 1024;

/// Whether the kernel gives this process an io_uring with what the floor needs
/// (a ring, registered files): `Err` with the kernel's reason if not.
pub fn check_kernel() -> std::io::Result<()> {
    ring::Ring::new(8, 8).map(drop)
}
