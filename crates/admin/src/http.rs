//! The admin listener: a deliberately small HTTP/1.1 server. One request per
//! connection (`Connection: close`), GET and HEAD only, the request head bounded in
//! size and time, a cap on simultaneous connections: a scraper or a browser is all
//! it has to serve, and nothing a client sends can make it hold much memory.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::debug;

use crate::prometheus::{Encoder, CONTENT_TYPE};
use crate::status::Report;

/// Limits of the admin listener.
#[derive(Debug, Clone, Copy)]
pub struct AdminConfig {
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Time a client has to send its request head, and then to take the reply.
    pub timeout: Duration,
    /// Largest request head accepted (request line and headers).
    pub max_request_bytes: usize,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            max_connections: 32,
            timeout: Duration::from_secs(10),
            max_request_bytes: 8 * 1024,
        }
    }
}

/// A reply: status code, content type, body.
struct Reply {
    code: u16,
    content_type: &'static str,
    body: String,
}

/// Serves `report` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    report: Arc<dyn Report>,
    config: AdminConfig,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => return,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: try again shortly rather
                    // than spin.
                    debug!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let report = report.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = handle(stream, &*report, config).await {
                debug!(error = %e, "admin connection ended");
            }
        });
    }
}

async fn handle(
    mut stream: TcpStream,
    report: &dyn Report,
    config: AdminConfig,
) -> std::io::Result<()> {
    let head = match tokio::time::timeout(config.timeout, read_head(&mut stream, config)).await {
        Ok(head) => head?,
        Err(_) => return Ok(()), // too slow: close without a word
    };
    let (reply, head_only) = match head {
        Head::Request { method, path } => match method.as_str() {
            "GET" => (route(&path, report), false),
            "HEAD" => (route(&path, report), true),
            _ => (text(405, "only GET and HEAD\n"), false),
        },
        Head::TooLarge => (text(431, "request head too large\n"), false),
        Head::Malformed => (text(400, "bad request\n"), false),
        Head::Closed => return Ok(()),
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n",
        reply.code,
        reason(reply.code),
        reply.content_type,
        reply.body.len()
    );
    if reply.code == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    if !head_only {
        out.push_str(&reply.body);
    }
    match tokio::time::timeout(config.timeout, async {
        stream.write_all(out.as_bytes()).await?;
        stream.shutdown().await
    })
    .await
    {
        Ok(written) => written,
        Err(_) => Ok(()),
    }
}

enum Head {
    Request { method: String, path: String },
    TooLarge,
    Malformed,
    Closed,
}

/// Reads up to the blank line ending the head, within the size limit; any body is
/// ignored (GET and HEAD have none).
async fn read_head(stream: &mut TcpStream, config: AdminConfig) -> std::io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n").or_else(|| find(&buf, b"\n\n")) {
            return Ok(parse_request_line(&buf[..end]));
        }
        if buf.len() >= config.max_request_bytes {
            return Ok(Head::TooLarge);
        }
        let want = chunk.len().min(config.max_request_bytes - buf.len());
        let n = stream.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Ok(Head::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_request_line(head: &[u8]) -> Head {
    let Ok(head) = std::str::from_utf8(head) else {
        return Head::Malformed;
    };
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None)
            if version.starts_with("HTTP/1.") && target.starts_with('/') =>
        {
            let path = target.split(['?', '#']).next().unwrap_or("/");
            Head::Request {
                method: method.to_owned(),
                path: path.to_owned(),
            }
        }
        _ => Head::Malformed,
    }
}

fn route(path: &str, report: &dyn Report) -> Reply {
    match path {
        "/metrics" => {
            let mut encoder = Encoder::new();
            report.metrics(&mut encoder);
            Reply {
                code: 200,
                content_type: CONTENT_TYPE,
                body: encoder.finish(),
            }
        }
        "/status" => {
            let status = report.status();
            let mut body = serde_json::to_string_pretty(&status)
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            body.push('\n');
            Reply {
                code: 200,
                content_type: "application/json",
                body,
            }
        }
        "/healthz" => {
            let status = report.status();
            text(status.health_code(), &format!("{}\n", status.health))
        }
        "/" | "/index.html" => Reply {
            code: 200,
            content_type: "text/html; charset=utf-8",
            body: crate::page::render(&report.status()),
        },
        _ => text(404, "not found: try /, /metrics, /status or /healthz\n"),
    }
}

fn text(code: u16, body: &str) -> Reply {
    Reply {
        code,
        content_type: "text/plain; charset=utf-8",
        body: body.to_owned(),
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests;
