//! The floor proxy on io_uring: the same forwarding and batching as
//! [`crate::proxy`]. Within one round of completions, everything the clients sent
//! goes to the backend in one `send`, and each client gets everything ready for it
//! in one `send`; a multishot receive is armed on every client and on the backend,
//! and the whole round is one `io_uring_enter`.
//!
//! There is no failure handling: a lost backend ends the process.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use super::outbox::{Outbox, SendError};
use super::ring::{Completion, OpId, Received, Ring, Socket};
use super::{DIRECT_DESCRIPTORS, ECANCELED, ENOBUFS, RING_ENTRIES};
use crate::buffers::Input;
use crate::framing::{request_end, Malformed, ReplyScanner};
use crate::proxy::MAX_PENDING;

/// Tags: the multishot accept and the backend's operations have their own; a
/// client's are its direct descriptor's index and the operation.
const ACCEPT: u64 = u64::MAX;
const BACKEND_RECV: u64 = u64::MAX - 1;
const BACKEND_SEND: u64 = u64::MAX - 2;
const RECV: u64 = 0;
const SEND: u64 = 1;
/// A close or a cancel: nothing to do on its completion.
const CLOSE: u64 = 2;

fn tag(index: u32, op: u64) -> u64 {
    (u64::from(index) << 2) | op
}

struct Client {
    input: Input,
    output: Outbox,
    /// Tells this client from an earlier one with the same index, for late replies.
    generation: u64,
    in_flight_bytes: usize,
    /// The multishot receive, while it is armed.
    receiving: Option<OpId>,
    /// Its cancel was asked for.
    cancelling: bool,
    eof: bool,
    /// Bad input or a failed call: closes as soon as nothing is in flight.
    done: bool,
    /// Listed in this round's `dirty` already.
    dirty: bool,
}

impl Client {
    /// Receiving stops at the end of the stream, when done, and while too many
    /// requests are in flight or too many replies unread.
    fn may_read(&self) -> bool {
        !self.eof
            && !self.done
            && self.in_flight_bytes < MAX_PENDING
            && self.output.pending() < MAX_PENDING
    }
}

/// A request on the backend connection, waiting for its reply.
struct Waiter {
    client: u32,
    generation: u64,
    request_len: usize,
}

struct Backend {
    /// Kept open for the ring's operations on its descriptor.
    stream: TcpStream,
    input: Input,
    output: Outbox,
    scanner: ReplyScanner,
    waiting: VecDeque<Waiter>,
}

impl Backend {
    fn socket(&self) -> Socket {
        Socket::Raw(self.stream.as_raw_fd())
    }
}

/// One thread's loop: clients from `listener`, one connection to `backend`.
/// Returns only on an error of the ring or of the backend connection.
pub fn run(listener: TcpListener, backend: SocketAddr) -> io::Result<()> {
    let stream = TcpStream::connect(backend)?;
    stream.set_nodelay(true)?;
    socket2::SockRef::from(&listener).set_tcp_nodelay(true)?;
    let mut ring = Ring::new(RING_ENTRIES, DIRECT_DESCRIPTORS)?;
    ring.accept_multi(listener.as_raw_fd(), ACCEPT)?;
    let mut backend = Backend {
        stream,
        input: Input::default(),
        output: Outbox::default(),
        scanner: ReplyScanner::default(),
        waiting: VecDeque::new(),
    };
    ring.recv_multi(backend.socket(), BACKEND_RECV)?;
    // Indexed by direct descriptor.
    let mut clients: Vec<Option<Client>> = Vec::new();
    let mut dirty = Vec::new();
    let mut generation = 0;
    let mut completions = Vec::new();
    loop {
        ring.submit_and_wait()?;
        ring.reap(&mut completions);
        for completion in completions.drain(..) {
            match completion.tag {
                ACCEPT => {
                    if !completion.more {
                        ring.accept_multi(listener.as_raw_fd(), ACCEPT)?;
                    }
                    // A failed accept (out of descriptors, a reset) is skipped.
                    let Ok(index) = u32::try_from(completion.result) else {
                        continue;
                    };
                    let i = index as usize;
                    if clients.len() <= i {
                        clients.resize_with(i + 1, || None);
                    }
                    generation += 1;
                    let client = clients[i].insert(Client {
                        input: Input::default(),
                        output: Outbox::default(),
                        generation,
                        in_flight_bytes: 0,
                        receiving: None,
                        cancelling: false,
                        eof: false,
                        done: false,
                        dirty: false,
                    });
                    mark(client, index, &mut dirty);
                }
                BACKEND_RECV => read_backend(
                    &mut ring,
                    &mut backend,
                    &mut clients,
                    &mut dirty,
                    completion,
                )?,
                BACKEND_SEND => {
                    let socket = backend.socket();
                    let Completion { result, buf, .. } = completion;
                    match backend
                        .output
                        .sent(&mut ring, socket, BACKEND_SEND, buf, result)
                    {
                        Ok(()) => {}
                        Err(SendError::Failed) => {
                            return Err(io::Error::from_raw_os_error(-result));
                        }
                        Err(SendError::Ring(e)) => return Err(e),
                    }
                }
                tagged => {
                    let index = (tagged >> 2) as u32;
                    let Some(Some(client)) = clients.get_mut(index as usize) else {
                        // A close's or a cancel's completion; or a receive's for a
                        // client gone, with a buffer to give back.
                        if let Some(received) = completion.received {
                            ring.discard(received);
                        }
                        continue;
                    };
                    let Completion {
                        result,
                        buf,
                        received,
                        more,
                        ..
                    } = completion;
                    match tagged & 3 {
                        RECV => {
                            if let Some(received) = received {
                                read_client(&mut ring, client, index, &mut backend, received);
                            }
                            if !more {
                                client.receiving = None;
                                client.cancelling = false;
                                match result {
                                    0 => client.eof = true,
                                    // Out of provided buffers, or cancelled: armed again if it may.
                                    ENOBUFS | ECANCELED => {}
                                    r if r < 0 => client.done = true,
                                    _ => {}
                                }
                            }
                        }
                        SEND => {
                            let socket = Socket::Fixed(index);
                            match client.output.sent(
                                &mut ring,
                                socket,
                                tag(index, SEND),
                                buf,
                                result,
                            ) {
                                Ok(()) => {}
                                Err(SendError::Failed) => client.done = true,
                                Err(SendError::Ring(e)) => return Err(e),
                            }
                        }
                        _ => {}
                    }
                    mark(client, index, &mut dirty);
                }
            }
        }
        // The round's batches: one send to the backend, one to each client.
        let socket = backend.socket();
        backend.output.flush(&mut ring, socket, BACKEND_SEND)?;
        for index in std::mem::take(&mut dirty) {
            settle(&mut ring, &mut clients, index)?;
        }
    }
}

fn mark(client: &mut Client, index: u32, dirty: &mut Vec<u32>) {
    if !client.dirty {
        client.dirty = true;
        dirty.push(index);
    }
}

/// Bytes from a client: queues each whole request on the backend.
fn read_client(
    ring: &mut Ring,
    client: &mut Client,
    index: u32,
    backend: &mut Backend,
    received: Received,
) {
    if client.done {
        ring.discard(received); // past a request that ended it
        return;
    }
    if !ring.take_received(received, |bytes| client.input.append(bytes)) {
        client.done = true;
        return;
    }
    loop {
        let request = match request_end(client.input.pending()) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(Malformed) => {
                client.done = true;
                return;
            }
        };
        let bytes = &client.input.pending()[..request.len];
        backend.output.buf().extend_from_slice(bytes);
        if !request.noreply {
            client.in_flight_bytes += request.len;
            backend.waiting.push_back(Waiter {
                client: index,
                generation: client.generation,
                request_len: request.len,
            });
        }
        client.input.consume(request.len);
    }
}

/// The end of a round for a client that had news: one `send` of its ready replies,
/// its receive armed if it may read (cancelled if it may not), or its close once it
/// is done and idle.
fn settle(ring: &mut Ring, clients: &mut [Option<Client>], index: u32) -> io::Result<()> {
    let slot = &mut clients[index as usize];
    let Some(client) = slot else {
        return Ok(());
    };
    client.dirty = false;
    let socket = Socket::Fixed(index);
    if !client.done {
        client.output.flush(ring, socket, tag(index, SEND))?;
    }
    match client.receiving {
        None if client.may_read() => {
            client.receiving = Some(ring.recv_multi(socket, tag(index, RECV))?);
        }
        Some(op) if !client.may_read() && !client.cancelling => {
            client.cancelling = true;
            ring.cancel(op, tag(index, CLOSE))?;
        }
        _ => {}
    }
    let idle = client.eof && client.in_flight_bytes == 0 && client.output.pending() == 0;
    if (client.done || idle) && client.receiving.is_none() && !client.output.sending() {
        *slot = None;
        ring.close(index, tag(index, CLOSE))?;
    }
    Ok(())
}

/// Bytes from the backend: hands each whole reply to the client waiting first. The
/// backend's receive is armed again if it ended (out of provided buffers).
fn read_backend(
    ring: &mut Ring,
    backend: &mut Backend,
    clients: &mut [Option<Client>],
    dirty: &mut Vec<u32>,
    completion: Completion,
) -> io::Result<()> {
    if let Some(received) = completion.received {
        if !ring.take_received(received, |bytes| backend.input.append(bytes)) {
            return Err(io::Error::other("a backend reply past the floor's bound"));
        }
    }
    if !completion.more {
        match completion.result {
            0 => return Err(io::Error::other("the backend closed the connection")),
            ENOBUFS => ring.recv_multi(backend.socket(), BACKEND_RECV).map(drop)?,
            r if r < 0 => return Err(io::Error::from_raw_os_error(-r)),
            _ => ring.recv_multi(backend.socket(), BACKEND_RECV).map(drop)?,
        }
    }
    loop {
        let pending = backend.input.pending();
        let end = match backend.scanner.reply_end(pending) {
            Ok(Some(end)) => end,
            Ok(None) => break,
            Err(Malformed) => return Err(io::Error::other("unframeable backend reply")),
        };
        let waiter = backend
            .waiting
            .pop_front()
            .ok_or_else(|| io::Error::other("a backend reply nobody asked for"))?;
        if let Some(Some(client)) = clients.get_mut(waiter.client as usize) {
            if client.generation == waiter.generation {
                client.output.buf().extend_from_slice(&pending[..end]);
                client.in_flight_bytes -= waiter.request_len;
                mark(client, waiter.client, dirty);
            }
        }
        backend.input.consume(end);
    }
    Ok(())
}
