//! memkeepd's replication flags turned into a running replication thread: repcached's
//! `-X port` (listen for peers) and `-x host[:port]` (dial a peer; repeated for a
//! group of nodes that each take writes), and `--replica-of host:port` (follow a
//! primary).

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use memkeep_replication::{Peers, Replication, ReplicationConfig, Resolve, Role};
use memkeep_server::store::snapshot::ResumePoint;
use memkeep_server::store::Store;
use tokio::sync::watch;
use tracing::warn;

use super::args::Args;

/// repcached's default replication port, used by `-x host` without `-X`.
pub const DEFAULT_REPLICATION_PORT: u16 = 11212;

/// The addresses the node dials: each `-x` peer (repeated or comma-separated, each
/// once, the port defaulting to `-X`'s, else 11212), or the `--replica-of` primary.
fn dialled(args: &Args) -> Result<Vec<String>, String> {
    let mut peers: Vec<String> = Vec::new();
    for peer in args.replication_peer.iter().map(|p| p.trim()) {
        let peer = match peer {
            "" => continue,
            p if p.contains(':') => p.to_owned(),
            p => format!(
                "{p}:{}",
                args.replication_port().unwrap_or(DEFAULT_REPLICATION_PORT)
            ),
        };
        if !peers.contains(&peer) {
            peers.push(peer);
        }
    }
    match (&args.replica_of, peers.is_empty()) {
        (Some(_), false) => Err("use either -x or --replica-of, not both".into()),
        (Some(primary), true) => Ok(vec![primary.clone()]),
        (None, _) => Ok(peers),
    }
}

/// Starts replication if the flags ask for it: returns the state the `Observe` layer
/// needs and the thread running the links (it stops when `stop` turns true).
pub fn start(
    args: &Args,
    store: Arc<Store>,
    tls: Option<memkeep_replication::LinkTls>,
    resume: &[ResumePoint],
    mut stop: watch::Receiver<bool>,
) -> Result<Option<(Replication, JoinHandle<()>)>, String> {
    let connect = dialled(args)?;
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
        // Looked up before every attempt: a peer's name may not resolve yet (its
        // host or pod is not up) or may move to a new address when it restarts.
        resolve: Resolve::system(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn dialled_by(args: &[&str]) -> Result<Vec<String>, String> {
        let args =
            Args::try_parse_from(std::iter::once("memkeepd").chain(args.iter().copied())).unwrap();
        dialled(&args)
    }

    #[test]
    fn peers_are_given_once_each_repeated_or_as_a_list() {
        assert_eq!(
            dialled_by(&[
                "-X",
                "15001",
                "-x",
                "b:15002",
                "-x",
                "c:15003,d",
                "-x",
                "b:15002"
            ]),
            Ok(vec!["b:15002".into(), "c:15003".into(), "d:15001".into()])
        );
        assert_eq!(dialled_by(&["-x", "peer"]), Ok(vec!["peer:11212".into()]));
        assert_eq!(
            dialled_by(&["--replica-of", "a:15001"]),
            Ok(vec!["a:15001".into()])
        );
        assert!(dialled_by(&["-x", "b:1", "--replica-of", "a:15001"]).is_err());
        assert_eq!(dialled_by(&["-X", "15001"]), Ok(vec![]));
    }
}
