//! The driver over an in-memory stream (`tokio::io::duplex`) with the clock paused:
//! the real cache behind it, or the cache behind a latency the test controls. No
//! sockets, no wall-clock time: timeouts are checked to the virtual millisecond.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use memkeep_protocol::{Decoder, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{watch as signal, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower::Service;

use super::{drive, ConnectionConfig};
use crate::cache::{Cache, CacheConfig};
use crate::error::BoxError;
use crate::stats::{ConnectionInfo, ConnectionStats};
use crate::store::{Store, StoreConfig};
use crate::watchers::lines::CloseReason;

/// One connection being served, seen from the client's side.
struct Client {
    stream: DuplexStream,
    stats: Arc<ConnectionStats>,
    drain: signal::Sender<bool>,
    closed: JoinHandle<CloseReason>,
}

/// Serves `service` over a duplex stream holding at most `buffer` bytes each way.
fn connect<S>(service: S, config: ConnectionConfig, buffer: usize) -> Client
where
    S: Service<Request, Response = Response, Error = BoxError> + Send + 'static,
    S::Future: Send,
{
    let (stream, server) = tokio::io::duplex(buffer);
    let stats = Arc::new(ConnectionStats::default());
    let (drain, drained) = signal::channel(false);
    let connection_stats = stats.clone();
    let closed = tokio::spawn(async move {
        let info = ConnectionInfo {
            fd: 1,
            addr: "test".into(),
            listen_addr: "test".into(),
            last_command: AtomicU64::new(0),
        };
        drive(server, service, &config, &connection_stats, drained, &info).await
    });
    Client {
        stream,
        stats,
        drain,
        closed,
    }
}

impl Client {
    async fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .await
            .expect("the server reads");
    }

    /// Reads exactly `want.len()` bytes and checks they are `want`.
    async fn expect(&mut self, want: &[u8]) {
        let mut got = vec![0; want.len()];
        self.stream.read_exact(&mut got).await.expect("replies");
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    }

    /// Reads until the server closes; what came before the close.
    async fn until_closed(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        self.stream
            .read_to_end(&mut got)
            .await
            .expect("a clean close");
        got
    }

    async fn reason(self) -> CloseReason {
        self.closed.await.expect("the connection task ends")
    }

    fn counter(&self, pick: impl Fn(&ConnectionStats) -> &AtomicU64) -> u64 {
        pick(&self.stats).load(Ordering::Relaxed)
    }
}

/// With the clock paused, time moves on only when every task waits: this returns once
/// the connection and the client have done all they can before `span` more of
/// virtual time has passed.
async fn settle(span: Duration) {
    tokio::time::sleep(span).await;
}

fn request(wire: &[u8]) -> Request {
    let mut bytes = BytesMut::from(wire);
    Decoder::default().decode(&mut bytes).unwrap().unwrap()
}

/// The real cache over a store, holding `k0`..`k9` (values `value-0`.. `value-9`).
fn cache() -> Cache {
    let store = Arc::new(Store::new(StoreConfig::default()));
    let cache = Cache::new(store, Arc::default(), CacheConfig::default());
    for i in 0..10 {
        let set = format!("set k{i} 0 0 7\r\nvalue-{i}\r\n");
        assert!(matches!(
            cache.execute(request(set.as_bytes())),
            Response::Stored(_)
        ));
    }
    cache
}

/// `get k<i>` for `count` requests, `i` going round `k0`..`k9`, and the replies.
fn gets(count: usize) -> (Vec<u8>, Vec<u8>) {
    let (mut requests, mut replies) = (Vec::new(), Vec::new());
    for n in 0..count {
        let i = n % 10;
        requests.extend_from_slice(format!("get k{i}\r\n").as_bytes());
        replies.extend_from_slice(format!("VALUE k{i} 0 7\r\nvalue-{i}\r\nEND\r\n").as_bytes());
    }
    (requests, replies)
}

/// Counts the calls a service takes and how many are unanswered at once.
#[derive(Clone, Default)]
struct Calls {
    started: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    most_open: Arc<AtomicUsize>,
}

impl Calls {
    fn start(&self) {
        self.started.fetch_add(1, Ordering::SeqCst);
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_open.fetch_max(open, Ordering::SeqCst);
    }

    fn end(&self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
}

/// The cache behind a delay: each request waits `delay(request)` of virtual time, as
/// behind a network. Its future is an async block, which is not `Unpin`.
fn delayed(
    cache: Cache,
    calls: Calls,
    delay: impl Fn(&Request) -> Duration + Clone + Send + 'static,
) -> impl Service<
    Request,
    Response = Response,
    Error = BoxError,
    Future = impl Future<Output = Result<Response, BoxError>> + Send,
> + Send {
    tower::service_fn(move |request: Request| {
        let (cache, calls, wait) = (cache.clone(), calls.clone(), delay(&request));
        calls.start();
        async move {
            tokio::time::sleep(wait).await;
            calls.end();
            Ok::<_, BoxError>(cache.execute(request))
        }
    })
}

/// The cache behind a gate: each reply waits for a permit the test hands out.
fn gated(
    cache: Cache,
    calls: Calls,
    permits: Arc<Semaphore>,
) -> impl Service<
    Request,
    Response = Response,
    Error = BoxError,
    Future = impl Future<Output = Result<Response, BoxError>> + Send,
> + Send {
    tower::service_fn(move |request: Request| {
        let (cache, calls, permits) = (cache.clone(), calls.clone(), permits.clone());
        calls.start();
        async move {
            permits.acquire().await.expect("never closed").forget();
            calls.end();
            Ok::<_, BoxError>(cache.execute(request))
        }
    })
}

/// The key number of a `get k<i>`.
fn key_number(request: &Request) -> u64 {
    let memkeep_protocol::Command::Get(get) = &request.command else {
        return 0;
    };
    std::str::from_utf8(&get.keys[0][1..])
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

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
