//! memkeepd's replication flags turned into a running replication thread: repcached's
//! `-X port` (listen for peers) and `-x host[:port]` (dial a peer; repeated for a
//! group of nodes that each take writes), and `--replica-of host:port` (follow a
//! primary).

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use memkeep_replication::{Peers, Replication, ReplicationConfig, Role};
use memkeep_server::store::snapshot::ResumePoint;
use memkeep_server::store::Store;
use tokio::sync::watch;
use tracing::warn;

use super::args::Args;

/// repcached's default replication port, used by `-x host` without `-X`.
pub const DEFAULT_REPLICATION_PORT: u16 = 11212;

/// Starts replication if the flags ask for it: returns the state the `Observe` layer
/// needs and the thread running the links (it stops when `stop` turns true).
pub fn start(
    args: &Args,
    store: Arc<Store>,
    tls: Option<memkeep_replication::LinkTls>,
    resume: &[ResumePoint],
    mut stop: watch::Receiver<bool>,
) -> Result<Option<(Replication, JoinHandle<()>)>, String> {
    let peers: Vec<String> = args
        .replication_peer
        .iter()
        .map(|peer| peer.trim())
        .filter(|peer| !peer.is_empty())
        .map(|peer| {
            if peer.contains(':') {
                peer.to_owned()
            } else {
                format!(
                    "{peer}:{}",
                    args.replication_port().unwrap_or(DEFAULT_REPLICATION_PORT)
                )
            }
        })
        .collect();
    let connect: Vec<String> = match (&args.replica_of, peers.is_empty()) {
        (Some(_), false) => return Err("use either -x or --replica-of, not both".into()),
        (Some(primary), true) => vec![primary.clone()],
        (None, _) => peers,
    };
    if connect.is_empty() && args.replication_port().is_none() {
        return Ok(None);
    }
    let role = match (&args.replica_of, connect.is_empty()) {
        (Some(_), _) => Role::Replica,
        (None, false) => Role::Pair,
        (None, true) => Role::Primary,
    };
    let listen = match args.replication_port() {
        Some(port) => {
            let addresses = args.listen();
            let host = addresses.split(',').next().unwrap_or("127.0.0.1").trim();
            let addr: SocketAddr = *super::resolve(host, port)?
                .first()
                .ok_or_else(|| format!("cannot resolve {host}"))?;
            Some(addr)
        }
        None => None,
    };
    let listener = match listen {
        Some(addr) => match std::net::TcpListener::bind(addr) {
            Ok(l) => Some(l),
            // With a peer to find, the port may be the peer's (repcached on one host):
            // keep trying to take it over while connecting.
            Err(e) if !connect.is_empty() => {
                warn!(%addr, error = %e, "replication port busy; will retry");
                None
            }
            Err(e) => return Err(format!("cannot listen on {addr} for replication: {e}")),
        },
        None => None,
    };
    // The address peers name this node by: its replication port, else its client port.
    let first_host = args.listen();
    let first_host = first_host.split(',').next().unwrap_or("127.0.0.1").trim();
    let announce = match listen {
        Some(addr) => addr.to_string(),
        None => format!("{first_host}:{}", args.port),
    };
    let replication = Replication::new(
        store,
        ReplicationConfig {
            role,
            peers: connect.clone(),
            announce,
            starts_warming: !connect.is_empty(),
            backlog_bytes: args.replication_backlog_mb.saturating_mul(1 << 20),
            copy_bytes_per_second: Some(args.replication_copy_mbps.saturating_mul(1 << 20))
                .filter(|&r| r > 0),
            ..ReplicationConfig::default()
        },
    );
    // Restored by -e: the peer resumes from its backlog if it still holds them.
    for point in resume {
        replication.restore_cursor(point.run, point.next);
    }
    let peers = Peers {
        listen,
        listener,
        connect,
        retry: Duration::from_millis(250),
        tls,
    };
    let running = replication.clone();
    let thread = std::thread::Builder::new()
        .name("memkeepd-replication".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return warn!(error = %e, "cannot start the replication runtime"),
            };
            runtime.block_on(memkeep_replication::run(running, peers, async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }));
        })
        .map_err(|e| format!("cannot start the replication thread: {e}"))?;
    Ok(Some((replication, thread)))
}
