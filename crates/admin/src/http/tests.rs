use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::prometheus::Kind;
use crate::status::{NodeStatus, Status};

struct Fixed {
    healthy: AtomicBool,
}

impl Report for Fixed {
    fn metrics(&self, out: &mut Encoder) {
        out.family("test_up", Kind::Gauge, "Up.")
            .sample("test_up", &[], 1.0);
    }

    fn status(&self) -> Status {
        let healthy = self.healthy.load(Ordering::Relaxed);
        Status {
            server: "test".into(),
            version: "1".into(),
            uptime_seconds: 0,
            healthy,
            health: if healthy { "serving" } else { "warming" }.into(),
            nodes: vec![NodeStatus {
                name: "n".into(),
                ..NodeStatus::default()
            }],
        }
    }
}

async fn start(config: AdminConfig) -> (std::net::SocketAddr, Arc<Fixed>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let report = Arc::new(Fixed {
        healthy: AtomicBool::new(true),
    });
    tokio::spawn(serve(
        listener,
        report.clone(),
        config,
        std::future::pending(),
    ));
    (addr, report)
}

async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    String::from_utf8(reply).unwrap()
}

#[tokio::test]
async fn every_endpoint_answers_and_unknown_ones_are_404() {
    let (addr, report) = start(AdminConfig::default()).await;
    let metrics = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
    assert!(metrics.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(metrics.ends_with("\r\n\r\n# HELP test_up Up.\n# TYPE test_up gauge\ntest_up 1\n"));

    let status = exchange(addr, b"GET /status?pretty HTTP/1.0\r\n\r\n").await;
    let body = status.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["nodes"][0]["name"], "n");
    assert_eq!(json["nodes"][0]["hit_rate"], serde_json::Value::Null);

    assert!(exchange(addr, b"GET /healthz HTTP/1.1\r\n\r\n")
        .await
        .starts_with("HTTP/1.1 200 OK"));
    report.healthy.store(false, Ordering::Relaxed);
    let unhealthy = exchange(addr, b"GET /healthz HTTP/1.1\r\n\r\n").await;
    assert!(unhealthy.starts_with("HTTP/1.1 503 Service Unavailable"));
    assert!(unhealthy.ends_with("\r\n\r\nwarming\n"));

    let page = exchange(addr, b"GET / HTTP/1.1\r\n\r\n").await;
    assert!(page.contains("text/html") && page.contains("<table>"));
    let head = exchange(addr, b"HEAD / HTTP/1.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200 OK") && head.ends_with("\r\n\r\n"));
    assert!(exchange(addr, b"GET /nope HTTP/1.1\r\n\r\n")
        .await
        .starts_with("HTTP/1.1 404"));
    let post = exchange(addr, b"POST /metrics HTTP/1.1\r\n\r\n").await;
    assert!(post.starts_with("HTTP/1.1 405") && post.contains("Allow: GET, HEAD"));
    assert!(exchange(addr, b"garbage\r\n\r\n")
        .await
        .starts_with("HTTP/1.1 400"));
}

#[tokio::test]
async fn oversized_heads_are_refused_and_silent_clients_closed() {
    let (addr, _) = start(AdminConfig {
        max_request_bytes: 64,
        ..AdminConfig::default()
    })
    .await;
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1000));
    let reply = exchange(addr, &big).await;
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    // Sends half a head and nothing more: closed after the timeout, no reply. (A
    // server of its own: the timeout also bounds the exchange above, which a loaded
    // machine could make take longer than this short one.)
    let (addr, _) = start(AdminConfig {
        timeout: Duration::from_millis(100),
        ..AdminConfig::default()
    })
    .await;
    let silent = exchange(addr, b"GET / HTTP/1.1\r\n").await;
    assert_eq!(silent, "");
}
