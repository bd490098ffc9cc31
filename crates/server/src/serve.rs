//! The accept loop: connection cap, per-connection tasks, graceful drain.

use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use memkeep_protocol::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::Service;
use tracing::{debug, info_span, warn, Instrument};

use crate::balance::{Counted, Placed, Seat};
use crate::connection::{serve_connection, ConnectionConfig};
use crate::error::BoxError;
use crate::stats::ConnectionStats;
use crate::tls::TlsAcceptor;

/// Where clients connect: a TCP or a Unix socket listener.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener (`-l`, `-p`).
    Tcp(TcpListener),
    /// A Unix socket listener (`-s`).
    Unix(UnixListener),
    /// A TCP listener of one of several workers sharing an address: connections go
    /// to whichever worker serves fewest (see [`balance`](crate::balance)).
    Balanced(TcpListener, Seat),
}

/// Settings shared by every listener of one server. Clones share the connection cap
/// and the counters.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Per-connection settings.
    pub connection: Arc<ConnectionConfig>,
    /// Counters for `stats`.
    pub stats: Arc<ConnectionStats>,
    /// Permits for open connections (`-c`); shared by all listeners.
    pub connection_permits: Arc<Semaphore>,
    /// TLS on TCP listeners (`-Z`); Unix sockets stay plain.
    pub tls: Option<TlsAcceptor>,
}

impl ServeConfig {
    /// A config allowing `max_connections` open connections.
    pub fn new(max_connections: usize, connection: ConnectionConfig) -> Self {
        ServeConfig {
            connection: Arc::new(connection),
            stats: Arc::new(ConnectionStats::default()),
            connection_permits: Arc::new(Semaphore::new(max_connections)),
            tls: None,
        }
    }
}

/// What memcached writes to a client beyond the connection limit before closing it.
const TOO_MANY_CONNECTIONS: &[u8] = b"ERROR Too many open connections\r\n";

/// Accepts clients on `listener` and serves each with a clone of `service` until
/// `shutdown` completes; then stops accepting, lets every connection finish the
/// requests it has read, and returns.
///
/// The service's future need not be `Unpin`: middleware with a `Sleep` inside (a
/// timeout) plugs in unboxed.
pub async fn serve<S>(
    listener: Listener,
    service: S,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    let (drain_tx, drain_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let listen_name = match &listener {
        Listener::Tcp(l) | Listener::Balanced(l, _) => l
            .local_addr()
            .map_or_else(|_| "tcp:?".into(), |a| format!("tcp:{a}")),
        Listener::Unix(l) => l
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(|p| format!("unix:{}", p.display())))
            .unwrap_or_else(|| "unix:?".into()),
    };
    let listener_fd = match &listener {
        Listener::Tcp(l) | Listener::Balanced(l, _) => l.as_raw_fd(),
        Listener::Unix(l) => l.as_raw_fd(),
    };
    let listening = config
        .stats
        .registry
        .listen(listener_fd as u64, listen_name.clone());
    tokio::pin!(shutdown);
    let mut listener = listener;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&mut listener) => match accepted {
                Ok(Accepted::Tcp(stream, counted)) => {
                    let _ = stream.set_nodelay(true);
                    let peer = stream.peer_addr().map_or_else(|_| "tcp:?".into(), |a| format!("tcp:{a}"));
                    let fd = stream.as_raw_fd() as u64;
                    let who = (fd, peer, listen_name.clone(), counted);
                    let tls = config.tls.clone();
                    start(&mut connections, stream, tls, who, &service, &config, &drain_rx);
                }
                Ok(Accepted::Unix(stream)) => {
                    let fd = stream.as_raw_fd() as u64;
                    let who = (fd, listen_name.clone(), listen_name.clone(), None);
                    start(&mut connections, stream, None, who, &service, &config, &drain_rx);
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listening);
    drop(listener);
    let _ = drain_tx.send(true);
    while connections.join_next().await.is_some() {}
}

enum Accepted {
    /// A TCP connection, counted against this worker when balanced.
    Tcp(tokio::net::TcpStream, Option<Counted>),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &mut Listener) -> io::Result<Accepted> {
    match listener {
        Listener::Tcp(l) => l.accept().await.map(|(s, _)| Accepted::Tcp(s, None)),
        Listener::Unix(l) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
        Listener::Balanced(l, seat) => loop {
            tokio::select! {
                accepted = l.accept() => match seat.place(accepted?.0) {
                    Placed::Here(stream, counted) => return Ok(Accepted::Tcp(stream, Some(counted))),
                    Placed::Away => {}
                },
                Some((stream, counted)) = seat.handed_over() => {
                    return Ok(Accepted::Tcp(stream, Some(counted)));
                }
            }
        },
    }
}

fn start<IO, S>(
    connections: &mut JoinSet<()>,
    mut io: IO,
    tls: Option<TlsAcceptor>,
    (fd, addr, listen_addr, counted): (u64, String, String, Option<Counted>),
    service: &S,
    config: &ServeConfig,
    drain: &watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    let stats = config.stats.clone();
    let Ok(permit) = config.connection_permits.clone().try_acquire_owned() else {
        ConnectionStats::add(&stats.rejected_connections, 1);
        debug!("connection limit reached");
        connections.spawn(async move {
            // A TLS client could not read the plain-text refusal: just close.
            if tls.is_none() {
                let _ = io.write_all(TOO_MANY_CONNECTIONS).await;
            }
            let _ = io.shutdown().await;
        });
        return;
    };
    let open = stats
        .curr_connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1;
    stats
        .peak_connections
        .fetch_max(open, std::sync::atomic::Ordering::Relaxed);
    ConnectionStats::add(&stats.total_connections, 1);
    let id = ConnectionStats::get(&stats.total_connections);
    let (service, connection, drain) = (service.clone(), config.connection.clone(), drain.clone());
    let registered = stats.registry.register(fd, addr, listen_addr);
    connections.spawn(
        async move {
            let info = registered.info();
            match tls {
                None => serve_connection(io, service, connection, stats.clone(), drain, info).await,
                // Boxed: a handshake's state is ~20 KiB, which every plain
                // connection's task would otherwise carry too.
                Some(acceptor) => {
                    Box::pin(async {
                        match acceptor.accept(io).await {
                            Ok(io) => {
                                serve_connection(
                                    io,
                                    service,
                                    connection,
                                    stats.clone(),
                                    drain,
                                    info,
                                )
                                .await
                            }
                            Err(e) => {
                                ConnectionStats::add(&stats.ssl_handshake_errors, 1);
                                debug!(error = %e, "TLS handshake failed");
                            }
                        }
                    })
                    .await
                }
            }
            drop(registered);
            stats
                .curr_connections
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            drop(permit);
            drop(counted);
        }
        .instrument(info_span!("conn", id)),
    );
}
