//! How a connection ends: a drain on shutdown, or the client's quit.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_drain_answers_the_requests_read_then_closes() {
    let calls = Calls::default();
    let service = delayed(cache(), calls.clone(), |_| Duration::from_secs(1));
    let mut client = connect(service, ConnectionConfig::default(), 64 * 1024);
    let (requests, replies) = gets(3);
    client.send(&requests).await;
    while calls.started() < 3 {
        tokio::task::yield_now().await;
    }
    let drained_at = Instant::now();
    client.drain.send(true).unwrap();
    // Sent once the connection has seen the drain: never read, never answered.
    settle(Duration::from_millis(1)).await;
    client.send(b"get k5\r\n").await;
    assert_eq!(client.until_closed().await, replies);
    assert_eq!(drained_at.elapsed(), Duration::from_secs(1));
    assert_eq!(calls.started(), 3);
    assert_eq!(client.reason().await, CloseReason::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn a_drain_closes_an_idle_connection_at_once() {
    let mut client = connect(cache(), ConnectionConfig::default(), 1024);
    client.send(b"get k1\r\n").await;
    client.expect(b"VALUE k1 0 7\r\nvalue-1\r\nEND\r\n").await;
    let drained_at = Instant::now();
    client.drain.send(true).unwrap();
    assert!(client.until_closed().await.is_empty());
    assert_eq!(drained_at.elapsed(), Duration::ZERO);
    assert_eq!(client.reason().await, CloseReason::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn quit_closes_once_earlier_replies_are_out_and_reads_no_further() {
    let calls = Calls::default();
    let service = delayed(cache(), calls.clone(), |_| Duration::from_secs(1));
    let mut client = connect(service, ConnectionConfig::default(), 1024);
    client.send(b"get k1\r\nget k2\r\nquit\r\nget k3\r\n").await;
    let (_, replies) = gets(3);
    let want = &replies[replies.len() / 3..];
    assert_eq!(client.until_closed().await, want);
    assert_eq!(calls.started(), 2);
    assert_eq!(client.reason().await, CloseReason::Normal);
}
