//! The floor server on io_uring: the same replies and batching as
//! [`crate::server`] (every whole request a `recv` brought is answered, then one
//! `send` of all the replies), with one `recv` always in flight per connection
//! instead of readiness events, and one `io_uring_enter` per round for everything.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

use super::outbox::{Outbox, SendError};
use super::ring::{Completion, Ring, Socket};
use super::{DIRECT_DESCRIPTORS, RING_ENTRIES};
use crate::buffers::Input;
use crate::server::{answer, Canned, ValueSize, MAX_OUTPUT};

/// The multishot accept's tag; a connection's operations are tagged with its
/// direct descriptor's index and the operation.
const ACCEPT: u64 = u64::MAX;
const RECV: u64 = 0;
const SEND: u64 = 1;
const CLOSE: u64 = 2;

fn tag(index: u32, op: u64) -> u64 {
    (u64::from(index) << 2) | op
}

struct Connection {
    input: Input,
    output: Outbox,
    /// A `recv` is in flight (the ring holds the input buffer).
    receiving: bool,
    /// The last `recv` was shorter than the room offered: the socket is empty.
    drained: bool,
    eof: bool,
    /// Bad input, `quit` or a failed call: closes as soon as nothing is in flight.
    done: bool,
}

impl Connection {
    fn may_read(&self) -> bool {
        !self.receiving && !self.eof && !self.done && self.output.pending() < MAX_OUTPUT
    }
}

/// One thread's loop on `listener`; returns only on an error of the ring itself
/// (a connection's error closes that connection).
pub fn run(listener: TcpListener, value_size: ValueSize) -> io::Result<()> {
    socket2::SockRef::from(&listener).set_tcp_nodelay(true)?;
    let mut ring = Ring::new(RING_ENTRIES, DIRECT_DESCRIPTORS)?;
    ring.accept_multi(listener.as_raw_fd(), ACCEPT)?;
    // Indexed by direct descriptor.
    let mut connections: Vec<Option<Connection>> = Vec::new();
    let mut canned = Canned::default();
    let mut completions = Vec::new();
    loop {
        ring.submit_and_wait()?;
        ring.reap(&mut completions);
        for completion in completions.drain(..) {
            if completion.tag == ACCEPT {
                accepted(&mut ring, &listener, &mut connections, &completion)?;
                continue;
            }
            let index = (completion.tag >> 2) as u32;
            let op = completion.tag & 3;
            let Some(Some(c)) = connections.get_mut(index as usize) else {
                continue; // a close's completion
            };
            let socket = Socket::Fixed(index);
            match op {
                RECV => {
                    c.receiving = false;
                    let Completion { result, buf, .. } = completion;
                    if result <= 0 {
                        c.input.give_back(buf, 0);
                        if result == 0 {
                            c.eof = true;
                        } else if result != -4 {
                            c.done = true; // anything but EINTR
                        }
                    } else {
                        c.drained = !c.input.give_back(buf, result as usize);
                        if answer(&mut c.input, c.output.buf(), &value_size, &mut canned).is_err() {
                            c.done = true;
                        }
                        c.output.flush(&mut ring, socket, tag(index, SEND))?;
                    }
                }
                SEND => {
                    let Completion { result, buf, .. } = completion;
                    match c
                        .output
                        .sent(&mut ring, socket, tag(index, SEND), buf, result)
                    {
                        Ok(()) => c.output.flush(&mut ring, socket, tag(index, SEND))?,
                        Err(SendError::Failed) => c.done = true,
                        Err(SendError::Ring(e)) => return Err(e),
                    }
                }
                _ => {}
            }
            settle(&mut ring, &mut connections, index)?;
        }
    }
}

/// A multishot accept's completion: a new connection, or the accept ended and is
/// armed again.
fn accepted(
    ring: &mut Ring,
    listener: &TcpListener,
    connections: &mut Vec<Option<Connection>>,
    completion: &Completion,
) -> io::Result<()> {
    if !completion.more {
        ring.accept_multi(listener.as_raw_fd(), ACCEPT)?;
    }
    // A failed accept (out of descriptors, a reset before accept) is skipped.
    let Ok(index) = u32::try_from(completion.result) else {
        return Ok(());
    };
    let i = index as usize;
    if connections.len() <= i {
        connections.resize_with(i + 1, || None);
    }
    connections[i] = Some(Connection {
        input: Input::default(),
        output: Outbox::default(),
        receiving: false,
        drained: false,
        eof: false,
        done: false,
    });
    settle(ring, connections, index)
}

/// Arms the connection's next `recv`, or closes it once it is done and nothing of
/// it is in flight.
fn settle(ring: &mut Ring, connections: &mut [Option<Connection>], index: u32) -> io::Result<()> {
    let slot = &mut connections[index as usize];
    let Some(c) = slot else {
        return Ok(());
    };
    if c.may_read() {
        let (buf, from) = c.input.lend();
        c.receiving = true;
        return ring.recv(Socket::Fixed(index), buf, from, c.drained, tag(index, RECV));
    }
    let finished = c.done || (c.eof && c.output.pending() == 0);
    if finished && !c.receiving && !c.output.sending() {
        *slot = None;
        ring.close(index, tag(index, CLOSE))?;
    }
    Ok(())
}
