use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// A service whose first two requests take a while (a backend gone silent) and the
/// rest fail at once (the backend now known to be down), as a proxy's do.
fn slow_then_immediate() -> impl Service<
    Request,
    Response = Response,
    Error = BoxError,
    Future = Pin<Box<dyn Future<Output = Result<Response, BoxError>> + Send>>,
> {
    let calls = Arc::new(AtomicU64::new(0));
    tower::service_fn(move |_: Request| {
        let slow = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 2;
        Box::pin(async move {
            if slow {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok::<_, BoxError>(Response::Version("1".into()))
        }) as Pin<Box<dyn Future<Output = _> + Send>>
    })
}

#[tokio::test(start_paused = true)]
async fn requests_pipelined_past_max_in_flight_in_one_write_are_all_answered() {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let config = Arc::new(ConnectionConfig {
        max_in_flight: 2,
        ..ConnectionConfig::default()
    });
    let stats = Arc::new(ConnectionStats::default());
    let (_drain, drained) = watch::channel(false);
    let connection_stats = stats.clone();
    tokio::spawn(async move {
        let info = ConnectionInfo {
            fd: 1,
            addr: "test".into(),
            listen_addr: "test".into(),
            last_command: AtomicU64::new(0),
        };
        serve_connection(
            server,
            slow_then_immediate(),
            config,
            connection_stats,
            drained,
            &info,
        )
        .await;
    });
    // Ten requests in one write, and the client then waits without closing: the
    // connection must go back to the eight it has buffered as replies go out.
    client.write_all(&b"version\r\n".repeat(10)).await.unwrap();
    let want = b"VERSION 1\r\n".repeat(10);
    let mut got = vec![0; want.len()];
    tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut got))
        .await
        .expect("every request answered")
        .unwrap();
    assert_eq!(got, want);
    assert!(stats.conn_yields.load(std::sync::atomic::Ordering::Relaxed) >= 1);
}
