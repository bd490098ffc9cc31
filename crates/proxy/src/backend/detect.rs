//! Which protocol a server speaks, when the configuration leaves it open: at its
//! first connection the backend sends `mn` (meta's no-op). `MN` means meta; anything
//! else (`ERROR` from memcached before 1.6, a closed connection from twemproxy) means
//! text. The answer holds for the backend's life.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tracing::info;

use super::Dialect;

/// The dialect a backend speaks, known or still to be found out.
pub(super) struct Detection {
    configured: Dialect,
    known: watch::Sender<Option<Dialect>>,
}

impl Detection {
    pub(super) fn new(configured: Dialect) -> Self {
        let known = match configured {
            Dialect::Detect => None,
            forced => Some(forced),
        };
        Detection {
            configured,
            known: watch::channel(known).0,
        }
    }

    /// The dialect to translate requests into, once known.
    pub(super) fn current(&self) -> Option<Dialect> {
        *self.known.borrow()
    }

    /// Probes a fresh connection if the dialect is still unknown.
    pub(super) async fn probe(
        &self,
        stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
        addr: &str,
        limit: Duration,
    ) -> Probed {
        if self.configured != Dialect::Detect || self.current().is_some() {
            return Probed::Usable;
        }
        let answer = tokio::time::timeout(limit, async {
            stream.write_all(b"mn\r\n").await?;
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                if stream.read_buf(&mut line).await? == 0 || line.len() > 1024 {
                    break;
                }
            }
            Ok::<_, std::io::Error>(line)
        })
        .await;
        let (dialect, probed) = match answer {
            Ok(Ok(line)) if line == b"MN\r\n" => (Dialect::Meta, Probed::Usable),
            Ok(Ok(line)) if line.ends_with(b"\r\n") => (Dialect::Text, Probed::Usable),
            // Closed on `mn`: twemproxy does that with what it cannot parse.
            Ok(Ok(_)) => (Dialect::Text, Probed::UsedUp),
            // No answer: nothing learnt; the server is treated as down.
            Ok(Err(_)) | Err(_) => return Probed::Failed,
        };
        info!(%addr, ?dialect, "backend protocol detected");
        self.known.send_replace(Some(dialect));
        probed
    }
}

/// What became of a connection that was probed.
pub(super) enum Probed {
    /// Use it.
    Usable,
    /// The server closed it; the dialect is known: connect again at once.
    UsedUp,
    /// The server did not answer: as if the connection had failed.
    Failed,
}
