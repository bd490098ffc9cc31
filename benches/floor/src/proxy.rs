//! The floor proxy: every client's requests go, as they are, onto the thread's one
//! backend connection, and the backend's replies go back by order. It finds where a
//! request and a reply end and nothing more. Batching follows memkeep-proxy: within
//! one round of epoll events, everything the clients sent goes to the backend in one
//! write, and each client gets everything ready for it in one write.
//!
//! There is no failure handling: a lost backend ends the process.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpListener};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};

use crate::buffers::{is_retry, Input, Output};
use crate::framing::{request_end, Malformed, ReplyScanner};
use crate::slots::Slots;

/// A client stops being read from past this many bytes of requests in flight, or of
/// replies it has not read.
pub(crate) const MAX_PENDING: usize = 4 * 1024 * 1024;
const LISTENER: Token = Token(usize::MAX);
const BACKEND: Token = Token(usize::MAX - 1);

struct Client {
    stream: TcpStream,
    input: Input,
    output: Output,
    /// Tells this client from an earlier one in the same slot, for late replies.
    generation: u64,
    in_flight_bytes: usize,
    readable: bool,
    eof: bool,
    /// Listed in this round's `dirty` already.
    dirty: bool,
}

impl Client {
    fn may_read(&self) -> bool {
        self.readable
            && !self.eof
            && self.in_flight_bytes < MAX_PENDING
            && self.output.pending() < MAX_PENDING
    }
}

/// A request on the backend connection, waiting for its reply.
struct Waiter {
    client: usize,
    generation: u64,
    request_len: usize,
}

struct Backend {
    stream: TcpStream,
    input: Input,
    output: Output,
    scanner: ReplyScanner,
    waiting: VecDeque<Waiter>,
    readable: bool,
}

/// One thread's event loop: clients from `listener`, one connection to `backend`.
/// Returns only on an error of the loop or of the backend connection.
pub fn run(listener: TcpListener, backend: SocketAddr) -> io::Result<()> {
    let stream = std::net::TcpStream::connect(backend)?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    listener.set_nonblocking(true)?;
    let mut listener = mio::net::TcpListener::from_std(listener);
    let mut poll = Poll::new()?;
    let mut backend = Backend {
        stream: TcpStream::from_std(stream),
        input: Input::default(),
        output: Output::default(),
        scanner: ReplyScanner::default(),
        waiting: VecDeque::new(),
        readable: true,
    };
    let registry = poll.registry();
    registry.register(&mut listener, LISTENER, Interest::READABLE)?;
    registry.register(
        &mut backend.stream,
        BACKEND,
        Interest::READABLE | Interest::WRITABLE,
    )?;
    let mut clients = Slots::new();
    let mut dirty = Vec::new();
    let mut generation = 0;
    let mut events = Events::with_capacity(1024);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if is_retry(&e) {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            match event.token() {
                LISTENER => accept(&listener, poll.registry(), &mut clients, &mut generation)?,
                BACKEND => {
                    if event.is_readable() || event.is_read_closed() {
                        backend.readable = true;
                    }
                    read_backend(&mut backend, &mut clients, &mut dirty)?;
                }
                Token(i) => {
                    let Some(client) = clients.get_mut(i) else {
                        continue;
                    };
                    if event.is_readable() || event.is_read_closed() {
                        client.readable = true;
                    }
                    if read_client(client, i, &mut backend).is_err() {
                        clients.remove(i);
                        continue;
                    }
                    mark(client, i, &mut dirty);
                }
            }
        }
        // The round's batches: one write to the backend, one to each client.
        backend.output.write_to(&mut backend.stream)?;
        for i in std::mem::take(&mut dirty) {
            let Some(client) = clients.get_mut(i) else {
                continue;
            };
            client.dirty = false;
            if flush_client(client, i, &mut backend).is_err() {
                clients.remove(i);
            }
        }
        if backend.output.pending() > 0 {
            backend.output.write_to(&mut backend.stream)?;
        }
    }
}

fn mark(client: &mut Client, i: usize, dirty: &mut Vec<usize>) {
    if !client.dirty {
        client.dirty = true;
        dirty.push(i);
    }
}

fn accept(
    listener: &mio::net::TcpListener,
    registry: &Registry,
    clients: &mut Slots<Client>,
    generation: &mut u64,
) -> io::Result<()> {
    loop {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if is_retry(&e) => return Ok(()),
            // Out of descriptors or a connection reset before accept: skip it.
            Err(_) => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let token = Token(clients.vacant());
        registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        *generation += 1;
        clients.insert(Client {
            stream,
            input: Input::default(),
            output: Output::default(),
            generation: *generation,
            in_flight_bytes: 0,
            readable: true,
            eof: false,
            dirty: false,
        });
    }
}

/// The client is done (closed, an error, or a request that cannot be framed).
struct Closed;

impl From<Malformed> for Closed {
    fn from(_: Malformed) -> Self {
        Closed
    }
}

/// Reads what the client sent and queues each whole request on the backend.
fn read_client(client: &mut Client, i: usize, backend: &mut Backend) -> Result<(), Closed> {
    while client.may_read() {
        match client.input.read_from(&mut client.stream) {
            Ok((0, _)) => client.eof = true,
            Ok((_, filled)) => {
                client.readable = filled;
                while let Some(request) = request_end(client.input.pending())? {
                    let bytes = &client.input.pending()[..request.len];
                    backend.output.buf().extend_from_slice(bytes);
                    if !request.noreply {
                        client.in_flight_bytes += request.len;
                        backend.waiting.push_back(Waiter {
                            client: i,
                            generation: client.generation,
                            request_len: request.len,
                        });
                    }
                    client.input.consume(request.len);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_retry(&e) => client.readable = false,
            Err(_) => return Err(Closed),
        }
    }
    Ok(())
}

/// One write of the client's ready replies; then, if that made room below the
/// bounds, reads on. `Err` closes the client.
fn flush_client(client: &mut Client, i: usize, backend: &mut Backend) -> Result<(), Closed> {
    if client.output.pending() > 0 {
        client
            .output
            .write_to(&mut client.stream)
            .map_err(|_| Closed)?;
    }
    if client.eof && client.in_flight_bytes == 0 && client.output.pending() == 0 {
        return Err(Closed);
    }
    read_client(client, i, backend)
}

/// Reads the backend's replies and hands each to the client waiting first.
fn read_backend(
    backend: &mut Backend,
    clients: &mut Slots<Client>,
    dirty: &mut Vec<usize>,
) -> io::Result<()> {
    while backend.readable {
        match backend.input.read_from(&mut backend.stream) {
            Ok((0, _)) => return Err(io::Error::other("the backend closed the connection")),
            Ok((_, filled)) => backend.readable = filled,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_retry(&e) => {
                backend.readable = false;
                continue;
            }
            Err(e) => return Err(e),
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
            if let Some(client) = clients.get_mut(waiter.client) {
                if client.generation == waiter.generation {
                    client.output.buf().extend_from_slice(&pending[..end]);
                    client.in_flight_bytes -= waiter.request_len;
                    mark(client, waiter.client, dirty);
                }
            }
            backend.input.consume(end);
        }
    }
    Ok(())
}
