//! `watch`: the connection turns into a stream of log lines, but only at the head of
//! its replies, as memcached does.

use memkeep_protocol::WatchEvents;

use super::*;
use crate::watchers::Watchers;

#[tokio::test(start_paused = true)]
async fn watch_streams_log_lines_until_the_drain() {
    let hub = Arc::new(Watchers::default());
    let config = ConnectionConfig {
        watchers: Some(hub.clone()),
        ..ConnectionConfig::default()
    };
    let mut client = connect(cache(), config, 1024);
    // A reply memcached holds to the end of the batch comes first: then `watch` is
    // refused. Text gets are written at once, so a `watch` after one streams.
    client
        .send(b"set a 0 0 1\r\nx\r\nwatch mutations\r\n")
        .await;
    client
        .expect(b"STORED\r\nERROR cannot pipeline other commands before watch\r\n")
        .await;
    client.send(b"get k1\r\nwatch mutations\r\n").await;
    client
        .expect(b"VALUE k1 0 7\r\nvalue-1\r\nEND\r\nOK\r\n")
        .await;
    assert!(hub.wants(WatchEvents::MUTATIONS));
    hub.log(WatchEvents::MUTATIONS, "type=item_store key=a");
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let mut byte = [0u8; 1];
        client
            .stream
            .read_exact(&mut byte)
            .await
            .expect("a log line");
        line.push(byte[0]);
    }
    let line = String::from_utf8(line).unwrap();
    assert!(
        line.starts_with("ts=") && line.ends_with(" type=item_store key=a\n"),
        "{line}"
    );
    // What a watcher sends is read and dropped.
    client.send(b"get k1\r\n").await;
    client.drain.send(true).unwrap();
    assert!(client.until_closed().await.is_empty());
    assert_eq!(client.reason().await, CloseReason::Shutdown);
    assert!(
        !hub.wants(WatchEvents::MUTATIONS),
        "the watch ended with the connection"
    );
}
