//! The floor server: `get` gets a canned value per key, a store gets `STORED`, and
//! nothing is kept. A client does the same work against it as against a real
//! server (the same reply bytes, shape and size), so what is left of a run's CPU is
//! the kernel's and the loop's.

use std::io;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::buffers::{is_retry, Input, Output};
use crate::framing::{request_end, Malformed, Request};
use crate::slots::Slots;

/// A client that stops reading its replies stops being read from past this.
pub(crate) const MAX_OUTPUT: usize = 4 * 1024 * 1024;
const LISTENER: Token = Token(usize::MAX);

/// The size of the values `get` answers with: the size of the last value stored,
/// shared by every thread (so a run's preload sets it for the run's gets).
#[derive(Debug, Clone)]
pub struct ValueSize(Arc<AtomicUsize>);

impl ValueSize {
    /// Values of `initial` bytes until something is stored.
    pub fn new(initial: usize) -> Self {
        ValueSize(Arc::new(AtomicUsize::new(initial)))
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    fn stored(&self, size: usize) {
        // Written only on a change: the line stays shared, read-only, between threads.
        if self.get() != size {
            self.0.store(size, Ordering::Relaxed);
        }
    }
}

/// One thread's canned value and its size in digits, rebuilt when the size changes.
#[derive(Default)]
pub(crate) struct Canned {
    size_digits: Vec<u8>,
    value: Vec<u8>,
}

impl Canned {
    fn resize(&mut self, size: usize) {
        if self.value.len() != size || self.size_digits.is_empty() {
            self.value = vec![b'x'; size];
            self.size_digits = size.to_string().into_bytes();
        }
    }
}

struct Connection {
    stream: TcpStream,
    input: Input,
    output: Output,
    /// The socket may hold unread bytes (edge-triggered: we only hear of new ones).
    readable: bool,
    eof: bool,
}

/// One thread's event loop on `listener`; returns only on an error of the loop
/// itself (a connection's error closes that connection).
pub fn run(listener: TcpListener, value_size: ValueSize) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut listener = mio::net::TcpListener::from_std(listener);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut connections = Slots::new();
    let mut canned = Canned::default();
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if is_retry(&e) {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            if event.token() == LISTENER {
                accept(&listener, &poll, &mut connections)?;
                continue;
            }
            let i = event.token().0;
            let Some(connection) = connections.get_mut(i) else {
                continue;
            };
            if event.is_readable() || event.is_read_closed() {
                connection.readable = true;
            }
            if serve(connection, &value_size, &mut canned).is_err() {
                connections.remove(i); // closing the socket also leaves the epoll set
            }
        }
    }
}

fn accept(
    listener: &mio::net::TcpListener,
    poll: &Poll,
    connections: &mut Slots<Connection>,
) -> io::Result<()> {
    loop {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if is_retry(&e) => return Ok(()),
            // Out of descriptors or a connection reset before accept: skip it.
            Err(_) => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let token = Token(connections.vacant());
        poll.registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        connections.insert(Connection {
            stream,
            input: Input::default(),
            output: Output::default(),
            readable: true,
            eof: false,
        });
    }
}

/// Reads what has arrived, answers every whole request, writes all the replies in
/// one write. `Err` closes the connection.
fn serve(c: &mut Connection, value_size: &ValueSize, canned: &mut Canned) -> Result<(), Closed> {
    loop {
        while c.readable && !c.eof && c.output.pending() < MAX_OUTPUT {
            match c.input.read_from(&mut c.stream) {
                Ok((0, _)) => c.eof = true,
                Ok((_, filled)) => {
                    c.readable = filled;
                    answer(&mut c.input, c.output.buf(), value_size, canned)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_retry(&e) => c.readable = false,
                Err(_) => return Err(Closed),
            }
        }
        if c.output.pending() > 0 {
            c.output.write_to(&mut c.stream).map_err(|_| Closed)?;
        }
        if c.eof && c.output.pending() == 0 {
            return Err(Closed);
        }
        // Reading stopped at the output bound and the write made room: read on.
        if !(c.readable && !c.eof && c.output.pending() < MAX_OUTPUT) {
            return Ok(());
        }
    }
}

/// The connection is done (closed by the client, an error, bad input or `quit`).
pub(crate) struct Closed;

impl From<Malformed> for Closed {
    fn from(_: Malformed) -> Self {
        Closed
    }
}

/// Answers every whole request in `input`, appending the replies to `out`.
pub(crate) fn answer(
    input: &mut Input,
    out: &mut Vec<u8>,
    value_size: &ValueSize,
    canned: &mut Canned,
) -> Result<(), Closed> {
    while let Some(request) = request_end(input.pending())? {
        let line = &input.pending()[..request.line_len];
        reply(line, request, value_size, canned, out)?;
        input.consume(request.len);
    }
    Ok(())
}

fn reply(
    line: &[u8],
    request: Request,
    value_size: &ValueSize,
    canned: &mut Canned,
    out: &mut Vec<u8>,
) -> Result<(), Closed> {
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    match words.next().unwrap_or_default() {
        b"get" => {
            canned.resize(value_size.get());
            for key in words {
                out.extend_from_slice(b"VALUE ");
                out.extend_from_slice(key);
                out.extend_from_slice(b" 0 ");
                out.extend_from_slice(&canned.size_digits);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&canned.value);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"END\r\n");
        }
        b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas" => {
            value_size.stored(request.data_len.unwrap_or_default());
            if !request.noreply {
                out.extend_from_slice(b"STORED\r\n");
            }
        }
        b"version" => out.extend_from_slice(b"VERSION floor\r\n"),
        b"flush_all" if !request.noreply => out.extend_from_slice(b"OK\r\n"),
        b"flush_all" => {}
        b"stats" => out.extend_from_slice(b"END\r\n"),
        b"quit" => return Err(Closed),
        _ => out.extend_from_slice(b"ERROR\r\n"),
    }
    Ok(())
}
