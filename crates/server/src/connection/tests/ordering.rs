//! Pipelined requests: replies in request order, past `max_in_flight` too.

use super::*;

#[tokio::test(start_paused = true)]
async fn requests_pipelined_past_max_in_flight_in_one_write_are_all_answered() {
    // The first requests take a while, the rest are quick: the connection must go
    // back to the requests it has buffered as replies go out, though the client
    // sends nothing more.
    let calls = Calls::default();
    let first_two = calls.clone();
    let service = delayed(cache(), calls, move |_| {
        if first_two.started() <= 2 {
            Duration::from_millis(10)
        } else {
            Duration::ZERO
        }
    });
    let config = ConnectionConfig {
        max_in_flight: 2,
        ..ConnectionConfig::default()
    };
    let mut client = connect(service, config, 64 * 1024);
    let (requests, replies) = gets(10);
    client.send(&requests).await;
    client.expect(&replies).await;
    assert!(client.counter(|s| &s.conn_yields) >= 1);
}

#[tokio::test(start_paused = true)]
async fn replies_finishing_out_of_order_are_written_in_request_order() {
    // `get k9` takes 9 ms, `get k0` none: later requests finish first.
    let calls = Calls::default();
    let service = delayed(cache(), calls.clone(), |request| {
        Duration::from_millis(key_number(request))
    });
    let config = ConnectionConfig {
        max_in_flight: 3,
        ..ConnectionConfig::default()
    };
    let mut client = connect(service, config, 64 * 1024);
    let mut requests = Vec::new();
    let mut replies = Vec::new();
    for i in (0..10).rev().chain(0..10).chain((0..10).rev()) {
        requests.extend_from_slice(format!("get k{i}\r\n").as_bytes());
        replies.extend_from_slice(format!("VALUE k{i} 0 7\r\nvalue-{i}\r\nEND\r\n").as_bytes());
    }
    client.send(&requests).await;
    client.expect(&replies).await;
    assert_eq!(calls.started(), 30);
    assert_eq!(calls.most_open.load(Ordering::SeqCst), 3);
}
