//! A client that does not read its replies: the driver stops reading from it, holds
//! bounded memory, and resumes when the client reads.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_client_that_does_not_read_is_not_read_from_past_the_write_buffer() {
    // Big replies to small requests: 1000-byte values, 5000 gets (35 kB of
    // requests, 5 MB of replies), through a stream that holds 4 kB.
    let cache = cache();
    let data = "x".repeat(1000);
    let set = format!("set big 0 0 1000\r\n{data}\r\n");
    assert!(matches!(
        cache.execute(request(set.as_bytes())),
        Response::Stored(_)
    ));
    let config = ConnectionConfig {
        max_write_buffer: 16 * 1024,
        request_timeout: None,
        ..ConnectionConfig::default()
    };
    let client = connect(cache, config, 4 * 1024);
    let (mut reader, mut writer) = tokio::io::split(client.stream);
    let count = 5000;
    let requests = b"get big\r\n".repeat(count);
    let sending = tokio::spawn(async move {
        writer.write_all(&requests).await.expect("the server reads");
        writer
    });
    settle(Duration::from_secs(60)).await;
    assert!(!sending.is_finished(), "the client is stuck sending");
    let read = client.stats.bytes_read.load(Ordering::Relaxed);
    assert!(read > 0, "the server read something");
    assert!(
        read < 16 * 1024,
        "the server holds {read} bytes of requests from a client that reads nothing"
    );
    // The client reads: the server reads again, and every request is answered.
    let reply = format!("VALUE big 0 1000\r\n{data}\r\nEND\r\n");
    let mut got = vec![0; reply.len()];
    for n in 0..count {
        reader.read_exact(&mut got).await.expect("a reply");
        assert_eq!(got, reply.as_bytes(), "reply {n}");
    }
    sending.await.unwrap();
    assert_eq!(
        client.stats.bytes_read.load(Ordering::Relaxed),
        (count * b"get big\r\n".len()) as u64
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_is_not_read_from_past_max_in_flight_until_replies_go_out() {
    let calls = Calls::default();
    let permits = Arc::new(Semaphore::new(0));
    let service = gated(cache(), calls.clone(), permits.clone());
    let config = ConnectionConfig {
        max_in_flight: 4,
        request_timeout: None,
        ..ConnectionConfig::default()
    };
    let client = connect(service, config, 4 * 1024);
    let (mut reader, mut writer) = tokio::io::split(client.stream);
    let (requests, replies) = gets(10_000);
    let sending = tokio::spawn(async move {
        writer.write_all(&requests).await.expect("the server reads");
        writer
    });
    settle(Duration::from_secs(60)).await;
    assert_eq!(calls.started(), 4, "exactly max_in_flight requests started");
    assert!(!sending.is_finished(), "the client is stuck sending");
    let read = client.stats.bytes_read.load(Ordering::Relaxed);
    assert!(
        read <= 8 * 1024,
        "read {read} bytes with 4 requests in flight"
    );
    assert!(client.stats.conn_yields.load(Ordering::Relaxed) >= 1);
    // Replies may now go out: every request is answered, in order.
    permits.add_permits(10_000);
    let mut got = vec![0; replies.len()];
    reader.read_exact(&mut got).await.expect("every reply");
    assert!(got == replies, "replies in request order");
    sending.await.unwrap();
    assert_eq!(calls.started(), 10_000);
    assert_eq!(calls.most_open.load(Ordering::SeqCst), 4);
}
