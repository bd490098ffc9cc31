//! The floor proxy on io_uring: the same forwarding and batching as
//! [`crate::proxy`]. Within one round of completions, everything the clients sent
//! goes to the backend in one `send`, and each client gets everything ready for it
//! in one `send`; a `recv` is in flight on every client and on the backend at all
//! times, and the whole round is one `io_uring_enter`.
//!
//! There is no failure handling: a lost backend ends the process.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use super::outbox::{Outbox, SendError};
use super::ring::{Completion, Ring, Socket};
use super::{DIRECT_DESCRIPTORS, RING_ENTRIES};
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
    receiving: bool,
    /// The last `recv` was shorter than the room offered: the socket is empty.
    drained: bool,
    eof: bool,
    /// Bad input or a failed call: closes as soon as nothing is in flight.
    done: bool,
    /// Listed in this round's `dirty` already.
    dirty: bool,
}

impl Client {
    fn may_read(&self) -> bool {
        !self.receiving
            && !self.eof
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
    let (buf, from) = backend.input.lend();
    ring.recv(backend.socket(), buf, from, false, BACKEND_RECV)?;
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
                        receiving: false,
                        drained: false,
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
                        continue; // a close's completion
                    };
                    let Completion { result, buf, .. } = completion;
                    match tagged & 3 {
                        RECV => read_client(client, index, &mut backend, buf, result),
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

/// A client's `recv` completed: queues each whole request on the backend.
fn read_client(client: &mut Client, index: u32, backend: &mut Backend, buf: Vec<u8>, result: i32) {
    client.receiving = false;
    let Ok(n) = usize::try_from(result) else {
        client.input.give_back(buf, 0);
        client.done = true;
        return;
    };
    client.drained = !client.input.give_back(buf, n);
    if n == 0 {
        client.eof = true;
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
/// its next `recv` if it may read, or its close once it is done and idle.
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
    if client.may_read() {
        let (buf, from) = client.input.lend();
        client.receiving = true;
        ring.recv(socket, buf, from, client.drained, tag(index, RECV))?;
    }
    let idle = client.eof && client.in_flight_bytes == 0 && client.output.pending() == 0;
    if (client.done || idle) && !client.receiving && !client.output.sending() {
        *slot = None;
        ring.close(index, tag(index, CLOSE))?;
    }
    Ok(())
}

/// The backend's `recv` completed: hands each whole reply to the client waiting
/// first, and arms the next `recv`.
fn read_backend(
    ring: &mut Ring,
    backend: &mut Backend,
    clients: &mut [Option<Client>],
    dirty: &mut Vec<u32>,
    completion: Completion,
) -> io::Result<()> {
    let n = match usize::try_from(completion.result) {
        Ok(0) => return Err(io::Error::other("the backend closed the connection")),
        Ok(n) => n,
        Err(_) => return Err(io::Error::from_raw_os_error(-completion.result)),
    };
    let drained = !backend.input.give_back(completion.buf, n);
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
    let (buf, from) = backend.input.lend();
    let socket = backend.socket();
    ring.recv(socket, buf, from, drained, BACKEND_RECV)
}
