//! TLS for client listeners: a rustls server configuration that can be swapped while
//! the server runs. A handshake uses the configuration current when it starts, so a
//! reload (new certificates on SIGHUP) changes what new clients see and leaves
//! established sessions alone.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;

pub use rustls::ServerConfig;

/// How long a client may take to finish the handshake before it is dropped: a client
/// that connects and sends nothing would otherwise hold a connection slot for ever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS side of a listener; clones share the configuration, so one
/// [`TlsAcceptor::reload`] reaches every listener and worker.
#[derive(Clone)]
pub struct TlsAcceptor {
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// An acceptor presenting `config`.
    pub fn new(config: ServerConfig) -> TlsAcceptor {
        TlsAcceptor {
            current: Arc::new(RwLock::new(Arc::new(config))),
        }
    }

    /// Replaces the configuration for handshakes that start from now on.
    pub fn reload(&self, config: ServerConfig) {
        *self.current.write() = Arc::new(config);
    }

    /// Takes `other`'s configuration for handshakes that start from now on (a
    /// listener kept across a reload gets the certificates just read).
    pub fn reload_from(&self, other: &TlsAcceptor) {
        let config = other.current.read().clone();
        *self.current.write() = config;
    }

    /// Runs the server side of the handshake on `io`.
    pub async fn accept<IO>(&self, io: IO) -> io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let config = self.current.read().clone();
        let handshake = tokio_rustls::TlsAcceptor::from(config).accept(io);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }
}
