//! twemproxy's stats port: each connection gets the JSON document and is closed.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tracing::debug;

use super::stats::Status;

/// Binds the stats port (before the runtime starts, so a busy port is reported).
pub fn bind(addr: &str, port: u16) -> Result<std::net::TcpListener, String> {
    let listener = std::net::TcpListener::bind((addr, port))
        .map_err(|e| format!("stats port {addr}:{port}: cannot listen: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("stats port: {e}"))?;
    Ok(listener)
}

/// Answers every connection with the current figures, until the task is dropped.
pub async fn serve(listener: std::net::TcpListener, status: Arc<Status>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => return tracing::warn!(%error, "stats port unusable"),
    };
    loop {
        let Ok((mut stream, peer)) = listener.accept().await else {
            continue;
        };
        let document = status.twemproxy_json();
        tokio::spawn(async move {
            if let Err(error) = stream.write_all(document.as_bytes()).await {
                debug!(%peer, %error, "stats port client went away");
            }
            let _ = stream.shutdown().await;
        });
    }
}
