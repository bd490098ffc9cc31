//! Finding the peers, repcached's way: a node with peer addresses (`-x`, as many as
//! it has peers; `--replica-of`) dials each; a node with a replication port (`-X`)
//! listens on it and accepts any number of links. When a peer is down the dialling
//! node keeps listening on its own port and retrying, so whichever node restarts
//! finds the survivors. A node does not dial a peer while a link to it is up (the
//! peer dialled first); when both dial at once, both keep the same one of the two
//! links (see `peer_links`). A peer given by name is looked up again before every
//! attempt (see `resolve`): a name that does not resolve yet is retried like a peer
//! that refuses, and one that now stands for another address is dialled there.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use crate::link::{run_link, run_link_over, LinkError, Side};
use crate::node::Replication;
use crate::record::Role;
use crate::resolve::Resolve;
use crate::tls::LinkTls;

/// Where a node listens for links and which peer it connects to.
#[derive(Debug, Default)]
pub struct Peers {
    /// The replication port's address (`-X`), if any.
    pub listen: Option<SocketAddr>,
    /// The listener, when it could be bound at start (bound early so errors show and
    /// peers find it at once). If `listen` is set and this is `None`, binding is
    /// retried: in repcached's one-host setup the peer holds the port until it dies.
    pub listener: Option<std::net::TcpListener>,
    /// The peers, or the primary, to dial (`host:port` each).
    pub connect: Vec<String>,
    /// Pause between connection attempts and bind retries.
    pub retry: Duration,
    /// Mutual TLS on every link, accepted and dialled.
    pub tls: Option<LinkTls>,
    /// Turns each peer's `host:port` into addresses, before every attempt.
    pub resolve: Resolve,
}

/// Runs the node's listener and connector until `shutdown` completes.
pub async fn run(
    replication: Replication,
    peers: Peers,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let retry = if peers.retry.is_zero() {
        Duration::from_millis(500)
    } else {
        peers.retry
    };
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = peers.listen {
        tasks.spawn(listen(
            replication.clone(),
            addr,
            peers.listener,
            retry,
            peers.tls.clone(),
        ));
    }
    if peers.connect.is_empty() {
        replication.set_synced();
    }
    // One flag per dialled peer: whether its last attempt found it unreachable.
    let unreachable: Arc<Vec<AtomicBool>> = Arc::new(
        peers
            .connect
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect(),
    );
    for (index, peer) in peers.connect.into_iter().enumerate() {
        tasks.spawn(connect(
            replication.clone(),
            peer,
            Unreachable {
                all: unreachable.clone(),
                index,
            },
            retry,
            peers.tls.clone(),
            peers.resolve.clone(),
        ));
    }
    shutdown.await;
    tasks.abort_all();
}

async fn listen(
    replication: Replication,
    addr: SocketAddr,
    mut bound: Option<std::net::TcpListener>,
    retry: Duration,
    tls: Option<LinkTls>,
) {
    let listener = loop {
        let attempt = match bound.take() {
            Some(l) => l
                .set_nonblocking(true)
                .and_then(|()| TcpListener::from_std(l)),
            None => TcpListener::bind(addr).await,
        };
        match attempt {
            Ok(l) => break l,
            Err(e) => {
                debug!(%addr, error = %e, "replication port busy; retrying");
                tokio::time::sleep(retry).await;
            }
        }
    };
    info!(%addr, "replication listening");
    loop {
        match listener.accept().await {
            Ok((stream, from)) => {
                let replication = replication.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let from = from.to_string();
                    let result = match tls {
                        None => run_link(&replication, stream, &from, Side::Accepted).await,
                        Some(tls) => {
                            let _ = stream.set_nodelay(true);
                            match tls.accept(stream).await {
                                Ok(s) => {
                                    run_link_over(&replication, s, &from, Side::Accepted).await
                                }
                                Err(e) => Err(LinkError::Io(e)),
                            }
                        }
                    };
                    ended(&from, &result);
                });
            }
            Err(e) => {
                warn!(error = %e, "replication accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Which dialled peers were unreachable at their last attempt: a pair or group
/// node serves alone (synced) once all of them are, as repcached does.
struct Unreachable {
    all: Arc<Vec<AtomicBool>>,
    index: usize,
}

impl Unreachable {
    fn set(&self, unreachable: bool, replication: &Replication) {
        self.all[self.index].store(unreachable, Ordering::Release);
        let alone = self.all.iter().all(|u| u.load(Ordering::Acquire));
        // A replica keeps warming until its primary is back.
        if alone && replication.shared.config.role == Role::Pair {
            replication.set_synced();
        }
    }
}

async fn connect(
    replication: Replication,
    peer: String,
    unreachable: Unreachable,
    retry: Duration,
    tls: Option<LinkTls>,
    resolve: Resolve,
) {
    let links = replication.shared.peer_links.clone();
    // What the last attempt found, so the log tells each change once rather than
    // every attempt: the addresses the name stood for, or that it did not resolve.
    let mut last: Option<Result<Vec<SocketAddr>, ()>> = None;
    loop {
        if !links.linked_to(&peer) {
            match dial(&peer, &resolve, &mut last).await {
                Ok(stream) => {
                    let result = match &tls {
                        None => run_link(&replication, stream, &peer, Side::Dialled).await,
                        Some(tls) => {
                            let _ = stream.set_nodelay(true);
                            match tls.connect(stream, &peer).await {
                                Ok(s) => run_link_over(&replication, s, &peer, Side::Dialled).await,
                                Err(e) => Err(LinkError::Io(e)),
                            }
                        }
                    };
                    // Our own port: the peer is down and we took over its address
                    // (repcached's one-host setup).
                    unreachable.set(matches!(result, Err(LinkError::SelfLink)), &replication);
                    ended(&peer, &result);
                }
                Err(e) => {
                    unreachable.set(true, &replication);
                    debug!(%peer, error = %e, "peer unreachable");
                }
            }
        }
        tokio::time::sleep(retry).await;
    }
}

/// One attempt to reach `peer`: looks its name up now, then tries each address.
async fn dial(
    peer: &str,
    resolve: &Resolve,
    last: &mut Option<Result<Vec<SocketAddr>, ()>>,
) -> io::Result<TcpStream> {
    // getaddrinfo can wait on a DNS server that does not answer: bounded, so the
    // retry goes on.
    let lookup = tokio::time::timeout(Duration::from_secs(5), resolve.lookup(peer))
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "lookup timed out")));
    let addrs = match lookup {
        Ok(addrs) => addrs,
        Err(e) => {
            if last.as_ref().is_none_or(Result::is_ok) {
                info!(%peer, error = %e, "peer name does not resolve; retrying");
            }
            *last = Some(Err(()));
            return Err(e);
        }
    };
    match last.as_ref() {
        Some(Ok(before)) if *before != addrs => {
            info!(%peer, ?before, now = ?addrs, "peer name resolves to new addresses");
        }
        Some(Err(())) => info!(%peer, now = ?addrs, "peer name resolves"),
        _ => {}
    }
    *last = Some(Ok(addrs.clone()));
    let mut error = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => error = e,
            Err(_) => {
                error = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{addr}: connect timed out"),
                )
            }
        }
    }
    Err(error)
}

fn ended(peer: &str, result: &Result<(), LinkError>) {
    match result {
        Err(LinkError::SelfLink) => debug!(%peer, "link to itself dropped"),
        Err(LinkError::Duplicate) => debug!(%peer, "duplicate link dropped"),
        Err(e @ LinkError::Version(_)) => warn!(%peer, error = %e, "replication link refused"),
        Err(e) => info!(%peer, error = %e, "replication link down"),
        Ok(()) => info!(%peer, "replication link closed"),
    }
}
