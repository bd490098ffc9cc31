//! How a dialled peer's `host:port` becomes socket addresses. The name is looked up
//! again before every connection attempt, never once for good: a peer that comes
//! back at another address under the same name (a restarted Kubernetes pod keeps
//! its DNS name, not its IP) is found at its new one.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// Looks up a peer's `host:port`: the system resolver by default
/// ([`Resolve::system`]), or any function, for a test or an embedding program
/// with its own naming.
#[derive(Clone)]
pub struct Resolve(Arc<dyn Fn(String) -> Lookup + Send + Sync>);

impl Resolve {
    /// The system's resolver (getaddrinfo: /etc/hosts, then DNS), as
    /// `tokio::net::lookup_host` runs it off the event loop.
    pub fn system() -> Self {
        Self::new(|peer| async move { Ok(tokio::net::lookup_host(peer).await?.collect()) })
    }

    /// Resolves with `lookup`, called with the peer's `host:port` as configured.
    pub fn new<F, Fut>(lookup: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static,
    {
        Self(Arc::new(move |peer| Box::pin(lookup(peer))))
    }

    /// The addresses `peer` stands for now. An empty answer is an error: there is
    /// nothing to dial.
    pub async fn lookup(&self, peer: &str) -> io::Result<Vec<SocketAddr>> {
        let addrs = (self.0)(peer.to_owned()).await?;
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{peer} resolves to no address"),
            ));
        }
        Ok(addrs)
    }
}

impl Default for Resolve {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Resolve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolve")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_system_resolver_reads_addresses_and_names() {
        let system = Resolve::system();
        let addrs = system.lookup("127.0.0.1:11212").await.unwrap();
        assert_eq!(addrs, [SocketAddr::from(([127, 0, 0, 1], 11212))]);
        // /etc/hosts names localhost on every machine: no DNS traffic.
        let local = system.lookup("localhost:11212").await.unwrap();
        assert!(local
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 11212));
    }

    #[tokio::test]
    async fn an_empty_answer_is_an_error() {
        let nothing = Resolve::new(|_| async { Ok(Vec::new()) });
        let e = nothing.lookup("gone:1").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
