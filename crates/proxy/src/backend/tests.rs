//! Backend against an in-process memkeep cache server, and against servers that
//! misbehave, each reached over an in-memory stream: time is paused, so timeouts
//! and backoffs are exact and no test waits on the machine's speed.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use memkeep_protocol::{Decoder, Request, Response};
use memkeep_server::cache::{Cache, CacheConfig};
use memkeep_server::stats::{ConnectionInfo, ConnectionStats};
use memkeep_server::store::{Store, StoreConfig};
use memkeep_server::{serve_connection, ConnectionConfig};
use tokio::io::DuplexStream;
use tokio::sync::watch;
use tower::ServiceExt;

use super::connection::Connect;
use super::secure::Opened;
use super::*;

/// Connections that each hand `server` the far end of a fresh in-memory stream.
fn connect_to<F, Fut>(server: F) -> Connect
where
    F: Fn(DuplexStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move || {
        let (near, far) = tokio::io::duplex(64 * 1024);
        tokio::spawn(server(far));
        Box::pin(async move { Ok(Opened::Secured(Box::new(near))) })
    })
}

/// A backend named `addr` over `connect`.
fn backend(connect: Connect, config: BackendConfig) -> Backend {
    Backend::connecting_with("test:11211".into(), connect, config)
}

/// Every connection served by one fresh cache.
fn cache_server() -> Connect {
    let config = Arc::new(ConnectionConfig::default());
    let stats = Arc::new(ConnectionStats::default());
    let cache = Cache::new(
        Arc::new(Store::new(StoreConfig::default())),
        stats.clone(),
        CacheConfig::default(),
    );
    connect_to(move |stream| {
        let (cache, config, stats) = (cache.clone(), config.clone(), stats.clone());
        async move {
            let (_drain, drained) = watch::channel(false);
            let info = ConnectionInfo {
                fd: 1,
                addr: "test".into(),
                listen_addr: "test".into(),
                last_command: AtomicU64::new(0),
            };
            serve_connection(stream, cache, config, stats, drained, &info).await;
        }
    })
}

fn request(wire: &str) -> Request {
    Decoder::default()
        .decode(&mut BytesMut::from(wire.as_bytes()))
        .unwrap()
        .unwrap()
}

async fn ask(backend: &Backend, wire: &str) -> Result<Response, BoxError> {
    backend.clone().oneshot(request(wire)).await
}

fn encoded(wire: &str, response: &Response) -> String {
    let mut out = BytesMut::new();
    memkeep_protocol::encode_response(&request(wire).form, response, &mut out);
    String::from_utf8(out.to_vec()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn text_and_meta_requests_round_trip() {
    let backend = backend(cache_server(), BackendConfig::default());
    let set = "set a 7 0 2\r\nhi\r\n";
    assert_eq!(
        encoded(set, &ask(&backend, set).await.unwrap()),
        "STORED\r\n"
    );
    let quiet = "set b 0 0 1 noreply\r\nB\r\n";
    assert_eq!(encoded(quiet, &ask(&backend, quiet).await.unwrap()), "");
    let get = "get a nope b\r\n";
    assert_eq!(
        encoded(get, &ask(&backend, get).await.unwrap()),
        "VALUE a 7 2\r\nhi\r\nVALUE b 0 1\r\nB\r\nEND\r\n"
    );
    let mg = "mg a s v f O9 k\r\n";
    assert_eq!(
        encoded(mg, &ask(&backend, mg).await.unwrap()),
        "VA 2 s2 f7 O9 ka\r\nhi\r\n"
    );
    let incr = "incr a 1\r\n";
    assert_eq!(
        encoded(incr, &ask(&backend, incr).await.unwrap()),
        "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    );
    let touch = "touch a 100\r\n";
    assert_eq!(
        encoded(touch, &ask(&backend, touch).await.unwrap()),
        "TOUCHED\r\n"
    );
    let version = "version\r\n";
    assert!(encoded(version, &ask(&backend, version).await.unwrap()).starts_with("VERSION "));
    let stats = "stats\r\n";
    assert!(encoded(stats, &ask(&backend, stats).await.unwrap()).contains("STAT pid "));
    let flush = "flush_all\r\n";
    assert_eq!(
        encoded(flush, &ask(&backend, flush).await.unwrap()),
        "OK\r\n"
    );
    assert_eq!(encoded(get, &ask(&backend, get).await.unwrap()), "END\r\n");
}

#[tokio::test(start_paused = true)]
async fn requests_made_before_the_dialect_is_known_reach_the_server_in_order() {
    use tower_service::Service;
    let mut backend = backend(cache_server(), BackendConfig::default());
    // Made in this order while the probe is out, then waited for in the reverse
    // one: a client's pipeline must reach the server as the client sent it.
    let wire = [
        "set k 0 0 1\r\n1\r\n",
        "append k 0 0 1\r\n2\r\n",
        "get k\r\n",
    ];
    let calls: Vec<_> = wire.iter().map(|w| backend.call(request(w))).collect();
    let mut replies = futures_util::future::join_all(calls.into_iter().rev()).await;
    replies.reverse();
    let replies: Vec<String> = wire
        .iter()
        .zip(replies)
        .map(|(w, r)| encoded(w, &r.unwrap()))
        .collect();
    assert_eq!(
        replies,
        ["STORED\r\n", "STORED\r\n", "VALUE k 0 2\r\n12\r\nEND\r\n"]
    );
}

#[tokio::test(start_paused = true)]
async fn many_callers_share_one_connection_in_order() {
    let backend = backend(cache_server(), BackendConfig::default());
    let sets = (0..500).map(|i| {
        let b = backend.clone();
        async move { ask(&b, &format!("set k{i} {i} 0 1\r\nx\r\n")).await }
    });
    for r in futures_util::future::join_all(sets).await {
        assert!(matches!(r.unwrap(), Response::Stored(_)));
    }
    let gets = (0..500).map(|i| {
        let b = backend.clone();
        async move { (i, ask(&b, &format!("get k{i}\r\n")).await.unwrap()) }
    });
    for (i, r) in futures_util::future::join_all(gets).await {
        let Response::Values(v) = r else { panic!() };
        assert_eq!(v[0].meta.flags, i);
        assert_eq!(&v[0].key[..], format!("k{i}").as_bytes());
    }
}

#[tokio::test(start_paused = true)]
async fn refused_connection_fails_fast_then_reconnects() {
    let up = Arc::new(AtomicBool::new(false));
    let serving = cache_server();
    let connect: Connect = {
        let up = up.clone();
        Arc::new(move || {
            if up.load(Ordering::Relaxed) {
                serving()
            } else {
                Box::pin(async { Err(std::io::ErrorKind::ConnectionRefused.into()) })
            }
        })
    };
    let backoff = Duration::from_millis(20);
    let backend = backend(
        connect,
        BackendConfig {
            backoff_min: backoff,
            backoff_max: backoff,
            ..Default::default()
        },
    );
    let err = ask(&backend, "get a\r\n").await.unwrap_err();
    let err = err.downcast_ref::<BackendError>().unwrap();
    assert!(matches!(err.kind(), ErrorKind::Down | ErrorKind::Closed));
    // The server comes up: the backend finds it by itself once the backoff is over.
    up.store(true, Ordering::Relaxed);
    tokio::time::sleep(backoff + Duration::from_millis(1)).await;
    ask(&backend, "version\r\n").await.unwrap();
}

/// A server that reads what it is sent and answers nothing.
async fn silent(mut stream: DuplexStream) {
    let _ = tokio::io::copy(&mut stream, &mut tokio::io::sink()).await;
}

#[tokio::test(start_paused = true)]
async fn silent_server_times_out() {
    let backend = backend(
        connect_to(silent),
        BackendConfig {
            request_timeout: Some(Duration::from_millis(50)),
            // Told, not asked: a silent server would not answer the probe either.
            dialect: Dialect::Meta,
            ..Default::default()
        },
    );
    let started = tokio::time::Instant::now();
    let err = ask(&backend, "get a\r\n").await.unwrap_err();
    let err = err.downcast_ref::<BackendError>().unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.to_string().contains("timed out"));
    assert_eq!(started.elapsed(), Duration::from_millis(50));
}

/// A server that answers its connection's first `answered` requests with a miss and
/// then says nothing more.
fn answers_then_falls_silent(answered: usize) -> Connect {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    connect_to(move |stream| async move {
        let (rd, mut wr) = tokio::io::split(stream);
        let mut lines = BufReader::new(rd).lines();
        let mut seen = 0;
        while let Ok(Some(_)) = lines.next_line().await {
            seen += 1;
            if seen <= answered {
                wr.write_all(b"EN\r\n").await.unwrap();
            }
        }
    })
}

fn timing_out_backend(connect: Connect) -> Backend {
    backend(
        connect,
        BackendConfig {
            request_timeout: Some(Duration::from_millis(50)),
            dialect: Dialect::Meta,
            ..Default::default()
        },
    )
}

#[tokio::test(start_paused = true)]
async fn a_request_behind_an_answered_one_still_times_out() {
    // Both leave together: the connection's timer is first set for the answered
    // request, and must move on to the one behind it.
    let backend = timing_out_backend(answers_then_falls_silent(1));
    let (first, second) = tokio::join!(ask(&backend, "get a\r\n"), ask(&backend, "get b\r\n"));
    assert_eq!(first.unwrap(), Response::Values(Vec::new()));
    let err = second.unwrap_err();
    assert_eq!(
        err.downcast_ref::<BackendError>().unwrap().kind(),
        ErrorKind::Timeout
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_after_an_idle_spell_still_times_out() {
    let backend = timing_out_backend(answers_then_falls_silent(1));
    assert_eq!(
        ask(&backend, "get a\r\n").await.unwrap(),
        Response::Values(Vec::new())
    );
    // Past the first request's deadline with nothing in flight: the timer fires
    // idle and is disarmed, then armed again by the next request.
    tokio::time::sleep(Duration::from_millis(120)).await;
    let err = ask(&backend, "get b\r\n").await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<BackendError>().unwrap().kind(),
        ErrorKind::Timeout
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_that_waited_past_its_timeout_for_the_connection_is_not_sent() {
    // The request timeout counts from when the request was made: one queued while
    // the connection is being made (here, 80 ms, past a 50 ms timeout) fails as
    // timed out at its deadline, not when the connection is up, and never reaches
    // the server.
    let received = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let (seen, told) = (received.clone(), arrived.clone());
    let slow: Connect = Arc::new(move || {
        let (seen, told) = (seen.clone(), told.clone());
        Box::pin(async move {
            // The connection takes 80 ms to come up.
            tokio::time::sleep(Duration::from_millis(80)).await;
            let (near, mut far) = tokio::io::duplex(64 * 1024);
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 64];
                while let Ok(n @ 1..) = far.read(&mut buf).await {
                    seen.lock().extend_from_slice(&buf[..n]);
                    told.notify_one();
                }
            });
            Ok(Opened::Secured(Box::new(near)))
        })
    });
    let backend = timing_out_backend(slow);
    let started = tokio::time::Instant::now();
    let err = ask(&backend, "get a\r\n").await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<BackendError>()
            .expect("a backend error")
            .kind(),
        ErrorKind::Timeout
    );
    assert_eq!(started.elapsed(), Duration::from_millis(50));
    // The connection is up and used: a request made now is the first written.
    let backend_up = backend.clone();
    let sent = tokio::spawn(async move { ask(&backend_up, "get b\r\n").await });
    // Waits for the server to be told something (paused time moves on meanwhile,
    // so the connection comes up at 80 ms).
    while !received.lock().ends_with(b"\r\n") {
        arrived.notified().await;
    }
    assert!(
        received.lock().starts_with(b"mg b "),
        "{:?}",
        String::from_utf8_lossy(&received.lock())
    );
    sent.abort();
}

#[tokio::test(start_paused = true)]
async fn garbage_reply_is_a_protocol_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let connect = connect_to(|mut stream| async move {
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"WHAT\r\n").await;
        silent(stream).await;
    });
    let meta = BackendConfig {
        dialect: Dialect::Meta,
        ..Default::default()
    };
    let backend = backend(connect, meta);
    let err = ask(&backend, "get a\r\n").await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<BackendError>().unwrap().kind(),
        ErrorKind::Protocol
    );
}

/// The one item an [`old_server`] remembers: key, flags, data.
type Item = Arc<parking_lot::Mutex<Option<(String, String, Vec<u8>)>>>;

/// A server from before meta: `ERROR` to anything but `get`/`gets`/`set`, which it answers
/// from one remembered item. Records what it was sent.
fn old_server(closes_on_unknown: bool) -> (Connect, Arc<parking_lot::Mutex<String>>) {
    let seen = Arc::new(parking_lot::Mutex::new(String::new()));
    let (log, item) = (seen.clone(), Item::default());
    let connect = connect_to(move |stream| {
        old_connection(stream, closes_on_unknown, log.clone(), item.clone())
    });
    (connect, seen)
}

async fn old_connection(
    stream: DuplexStream,
    closes_on_unknown: bool,
    log: Arc<parking_lot::Mutex<String>>,
    item: Item,
) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let mut s = BufReader::new(stream);
    let mut line = String::new();
    while s.read_line(&mut line).await.unwrap_or(0) > 0 {
        log.lock().push_str(&line);
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["set", key, flags, _, len] => {
                let mut data = vec![0; len.parse::<usize>().unwrap() + 2];
                s.read_exact(&mut data).await.unwrap();
                data.truncate(data.len() - 2);
                *item.lock() = Some((key.to_string(), flags.to_string(), data));
                "STORED\r\n".to_owned()
            }
            [verb @ ("get" | "gets"), key] => match &*item.lock() {
                Some((k, flags, data)) if k == key => format!(
                    "VALUE {k} {flags} {}{}\r\n{}\r\nEND\r\n",
                    data.len(),
                    if *verb == "gets" { " 1" } else { "" },
                    String::from_utf8_lossy(data)
                ),
                _ => "END\r\n".to_owned(),
            },
            _ if closes_on_unknown => break,
            _ => "ERROR\r\n".to_owned(),
        };
        s.write_all(reply.as_bytes()).await.unwrap();
        line.clear();
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_without_meta_is_detected_and_spoken_to_in_text() {
    for closes in [false, true] {
        let (connect, seen) = old_server(closes);
        let backend = backend(connect, BackendConfig::default());
        let set = "ms k 2 F3\r\nhi\r\n";
        assert_eq!(encoded(set, &ask(&backend, set).await.unwrap()), "HD\r\n");
        let get = "get k\r\n";
        assert_eq!(
            encoded(get, &ask(&backend, get).await.unwrap()),
            "VALUE k 3 2\r\nhi\r\nEND\r\n"
        );
        // A client that may want the CAS is asked for it.
        let mg = "mg k v c\r\n";
        assert_eq!(
            encoded(mg, &ask(&backend, mg).await.unwrap()),
            "VA 2 c1\r\nhi\r\n"
        );
        // Asked once, then text only.
        assert_eq!(*seen.lock(), "mn\r\nset k 3 0 2\r\nget k\r\ngets k\r\n");
    }
}

/// A text server that answers `stats weird` with a line no reply starts with, and
/// `get` with a miss; counts the connections made to it.
fn server_with_one_odd_reply() -> (Connect, Arc<AtomicUsize>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let connect = connect_to(move |stream| {
        count.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut s = BufReader::new(stream);
            let mut line = String::new();
            while s.read_line(&mut line).await.unwrap_or(0) > 0 {
                let reply: &[u8] = match line.as_str() {
                    "stats weird\r\n" => b"what is this\r\n",
                    _ => b"END\r\n",
                };
                if s.write_all(reply).await.is_err() {
                    return;
                }
                line.clear();
            }
        }
    });
    (connect, accepted)
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_reply_costs_a_reconnect_not_the_server() {
    let (connect, accepted) = server_with_one_odd_reply();
    let text = BackendConfig {
        dialect: Dialect::Text,
        ..Default::default()
    };
    let backend = backend(connect, text);
    assert_eq!(
        ask(&backend, "get a\r\n").await.unwrap(),
        Response::Values(vec![])
    );
    let err = ask(&backend, "stats weird\r\n").await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<BackendError>().unwrap().kind(),
        ErrorKind::Protocol
    );
    // The very next requests find the server up, on a new connection.
    for _ in 0..3 {
        assert_eq!(
            ask(&backend, "get a\r\n").await.unwrap(),
            Response::Values(vec![])
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_request_in_flight_is_answered_after_the_last_handle_is_dropped() {
    // As when a reload replaces the stack holding the backend.
    let mut only = backend(cache_server(), BackendConfig::default());
    let reply = only.call(request("set k 0 0 1\r\nv\r\n"));
    drop(only);
    assert!(matches!(reply.await, Ok(Response::Stored(_))));
}
