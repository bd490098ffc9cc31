//! TLS for replication links. Each node is both a TLS server (its replication port)
//! and a TLS client (its `-x`/`--replica-of` link); the configurations the binary
//! builds make it mutual: the server requires a client certificate from the same CA,
//! so only nodes holding one can read or feed the stream. Both sides reload together.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use memkeep_server::TlsAcceptor;
use parking_lot::RwLock;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

/// How long a TLS handshake to a peer may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS side of a node's links; clones share the configurations.
#[derive(Clone)]
pub struct LinkTls {
    acceptor: TlsAcceptor,
    connector: Arc<RwLock<Arc<rustls::ClientConfig>>>,
}

impl std::fmt::Debug for LinkTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkTls").finish_non_exhaustive()
    }
}

impl LinkTls {
    /// Links that accept with `server` and connect with `client`.
    pub fn new(server: rustls::ServerConfig, client: rustls::ClientConfig) -> LinkTls {
        LinkTls {
            acceptor: TlsAcceptor::new(server),
            connector: Arc::new(RwLock::new(Arc::new(client))),
        }
    }

    /// New configurations for links made from now on; links up keep their sessions.
    pub fn reload(&self, server: rustls::ServerConfig, client: rustls::ClientConfig) {
        self.acceptor.reload(server);
        *self.connector.write() = Arc::new(client);
    }

    /// The server side of a link's handshake.
    pub(crate) async fn accept(
        &self,
        tcp: TcpStream,
    ) -> io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
        self.acceptor.accept(tcp).await
    }

    /// The client side of a link's handshake; `peer` is the `host:port` dialled, whose
    /// host the peer's certificate must name.
    pub(crate) async fn connect(
        &self,
        tcp: TcpStream,
        peer: &str,
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let host = peer.rsplit_once(':').map_or(peer, |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let config = self.connector.read().clone();
        let handshake = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
        tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
    }
}
