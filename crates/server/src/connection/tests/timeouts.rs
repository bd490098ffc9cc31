//! The idle timeout and the slow-request kick, to the virtual millisecond.

use super::*;

#[tokio::test(start_paused = true)]
async fn an_idle_connection_closes_after_exactly_the_idle_timeout() {
    let idle = Duration::from_secs(10);
    let config = ConnectionConfig {
        idle_timeout: Some(idle),
        ..ConnectionConfig::default()
    };
    let mut client = connect(cache(), config, 1024);
    // Activity 6 s in starts the count again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    client.send(b"get k1\r\n").await;
    client.expect(b"VALUE k1 0 7\r\nvalue-1\r\nEND\r\n").await;
    let last_activity = Instant::now();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(
        idle - Duration::from_millis(1),
        client.stream.read(&mut byte),
    )
    .await;
    assert!(early.is_err(), "still open 1 ms before the idle timeout");
    assert!(client.until_closed().await.is_empty());
    assert_eq!(last_activity.elapsed(), idle);
    assert_eq!(client.counter(|s| &s.idle_kicks), 1);
    assert_eq!(client.reason().await, CloseReason::IdleTimeout);
}

#[tokio::test(start_paused = true)]
async fn a_request_left_incomplete_is_kicked_after_the_request_timeout() {
    let limit = Duration::from_secs(5);
    let config = ConnectionConfig {
        request_timeout: Some(limit),
        ..ConnectionConfig::default()
    };
    let mut client = connect(cache(), config, 1024);
    // A whole request and then silence is not slow: nothing is pending.
    client.send(b"get k1\r\n").await;
    client.expect(b"VALUE k1 0 7\r\nvalue-1\r\nEND\r\n").await;
    let mut byte = [0u8; 1];
    let quiet = tokio::time::timeout(limit * 3, client.stream.read(&mut byte)).await;
    assert!(quiet.is_err(), "an idle connection is no slow request");
    // Then a header trickled a byte a second: the count starts at its first byte
    // and later bytes do not restart it.
    let started = Instant::now();
    for byte in b"get k" {
        client.send(&[*byte]).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(client.until_closed().await.is_empty());
    assert_eq!(started.elapsed(), limit);
    assert_eq!(client.counter(|s| &s.slow_request_kicks), 1);
    assert_eq!(client.reason().await, CloseReason::Error);
}
