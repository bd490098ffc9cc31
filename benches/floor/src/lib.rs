//! The machine's floor for the benchmarks: a memcached text server and a forwarding
//! proxy that do as little as a server or a proxy can and still give a client the
//! same bytes back.
//!
//! `floor-server` answers `get` with a canned value of the right size per key and a
//! store with `STORED`, keeping nothing. `floor-proxy` moves requests from its
//! clients onto one backend connection per thread and the replies back by order,
//! knowing only where each request and reply ends. `benches/compare.py` runs them
//! next to memkeepd, memcached, memkeep-proxy and nutcracker, so every figure can be
//! read as a fraction of what this machine's kernel and loopback allow.
//!
//! Each thread runs a plain edge-triggered epoll loop (mio), not an async runtime:
//! no tasks, wakers or timers, only `epoll_wait`, `read` and `write`, which is the
//! least work that still serves many connections per thread. Threads get their own
//! `SO_REUSEPORT` listener, as memkeepd's workers do, so the kernel spreads the
//! connections the same way.
//!
//! The `uring` module holds the same server and proxy on io_uring instead of epoll
//! (`floor-server-uring`, `floor-proxy-uring`), to compare the two runtimes where
//! nothing else hides the difference.
//!
//! ```no_run
//! let listeners = memkeep_floor::listen("127.0.0.1:0".parse().unwrap(), 1).unwrap();
//! let port = listeners[0].local_addr().unwrap().port();
//! println!("serving on {port}");
//! for listener in listeners {
//!     let sizes = memkeep_floor::server::ValueSize::new(100);
//!     std::thread::spawn(move || memkeep_floor::server::run(listener, sizes));
//! }
//! ```

pub mod buffers;
pub mod cli;
pub mod framing;
pub mod proxy;
pub mod server;
mod slots;
pub mod uring;

use std::net::{SocketAddr, TcpListener};

/// [`listen`] for a binary: on failure prints `name: cannot listen on ADDR: ERROR`
/// and exits 1; on success prints the port it got (for `-p 0`) on standard output.
pub fn listen_or_exit(name: &str, addr: SocketAddr, threads: usize) -> Vec<TcpListener> {
    let listeners = match listen(addr, threads) {
        Ok(listeners) => listeners,
        Err(e) => {
            eprintln!("{name}: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    if let Ok(bound) = listeners[0].local_addr() {
        println!("{}", bound.port());
    }
    listeners
}

/// `threads` listeners on `addr`, all with `SO_REUSEPORT`: one per event loop. With
/// port 0 the first picks the port and the others join it.
pub fn listen(addr: SocketAddr, threads: usize) -> std::io::Result<Vec<TcpListener>> {
    use socket2::{Domain, Socket, Type};
    let mut bound = addr;
    let mut listeners = Vec::with_capacity(threads);
    for _ in 0..threads.max(1) {
        let socket = Socket::new(Domain::for_address(bound), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.bind(&bound.into())?;
        socket.listen(1024)?;
        let listener: TcpListener = socket.into();
        bound = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Runs `serve` on each listener in its own thread and returns the first thread's
/// error (the loops only end on one).
pub fn run_threads<F>(listeners: Vec<TcpListener>, serve: F) -> std::io::Error
where
    F: Fn(TcpListener) -> std::io::Result<()> + Clone + Send + 'static,
{
    let (ended_tx, ended_rx) = std::sync::mpsc::channel();
    for (i, listener) in listeners.into_iter().enumerate() {
        let (serve, ended_tx) = (serve.clone(), ended_tx.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("floor-{i}"))
            .spawn(move || {
                let result = serve(listener);
                let _ = ended_tx.send(result.err());
            });
        if let Err(e) = spawned {
            return e;
        }
    }
    drop(ended_tx);
    match ended_rx.recv() {
        Ok(Some(e)) => e,
        _ => std::io::Error::other("an event loop stopped"),
    }
}
