//! Finding the peer, repcached's way: a node with a peer address (`-x`,
//! `--replica-of`) connects to it; a node with a replication port (`-X`) listens on
//! it and accepts any number of links. When the peer is down the connecting node keeps
//! listening on its own port and retrying, so whichever node restarts finds the
//! survivor. A connecting node does not connect while another link is up (its peer
//! connected to it first).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use crate::link::{run_link, run_link_over, LinkError};
use crate::node::Replication;
use crate::record::Role;
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
    /// The peer or primary to connect to (`host:port`).
    pub connect: Option<String>,
    /// Pause between connection attempts and bind retries.
    pub retry: Duration,
    /// Mutual TLS on every link, accepted and dialled.
    pub tls: Option<LinkTls>,
}

/// Runs the node's listener and connector until `shutdown` completes.
pub async fn run(
    replication: Replication,
    peers: Peers,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let active = Arc::new(AtomicUsize::new(0));
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
            active.clone(),
            retry,
            peers.tls.clone(),
        ));
    }
    match peers.connect {
        Some(peer) => {
            tasks.spawn(connect(replication.clone(), peer, active, retry, peers.tls));
        }
        None => replication.set_synced(),
    }
    shutdown.await;
    tasks.abort_all();
}

async fn listen(
    replication: Replication,
    addr: SocketAddr,
    mut bound: Option<std::net::TcpListener>,
    active: Arc<AtomicUsize>,
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
                let (replication, active) = (replication.clone(), active.clone());
                let tls = tls.clone();
                tokio::spawn(async move {
                    active.fetch_add(1, Ordering::AcqRel);
                    let result = match tls {
                        None => run_link(&replication, stream).await,
                        Some(tls) => {
                            let _ = stream.set_nodelay(true);
                            match tls.accept(stream).await {
                                Ok(s) => run_link_over(&replication, s, &from.to_string()).await,
                                Err(e) => Err(LinkError::Io(e)),
                            }
                        }
                    };
                    active.fetch_sub(1, Ordering::AcqRel);
                    ended(&from.to_string(), &result);
                });
            }
            Err(e) => {
                warn!(error = %e, "replication accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn connect(
    replication: Replication,
    peer: String,
    active: Arc<AtomicUsize>,
    retry: Duration,
    tls: Option<LinkTls>,
) {
    let role = replication.shared.config.role;
    loop {
        if active.load(Ordering::Acquire) == 0 {
            let attempt =
                tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&peer)).await;
            match attempt {
                Ok(Ok(stream)) => {
                    active.fetch_add(1, Ordering::AcqRel);
                    let result = match &tls {
                        None => run_link(&replication, stream).await,
                        Some(tls) => {
                            let _ = stream.set_nodelay(true);
                            match tls.connect(stream, &peer).await {
                                Ok(s) => run_link_over(&replication, s, &peer).await,
                                Err(e) => Err(LinkError::Io(e)),
                            }
                        }
                    };
                    active.fetch_sub(1, Ordering::AcqRel);
                    if matches!(result, Err(LinkError::SelfLink)) && role == Role::Pair {
                        // Our own port: the peer is down and we took over its address.
                        replication.set_synced();
                    }
                    ended(&peer, &result);
                }
                Ok(Err(_)) | Err(_) => {
                    // The peer is down: as repcached, serve alone with what we have
                    // (a replica keeps warming until its primary is back).
                    if role == Role::Pair {
                        replication.set_synced();
                    }
                    debug!(%peer, "peer unreachable");
                }
            }
        }
        tokio::time::sleep(retry).await;
    }
}

fn ended(peer: &str, result: &Result<(), LinkError>) {
    match result {
        Err(LinkError::SelfLink) => debug!(%peer, "link to itself dropped"),
        Err(e) => info!(%peer, error = %e, "replication link down"),
        Ok(()) => info!(%peer, "replication link closed"),
    }
}
