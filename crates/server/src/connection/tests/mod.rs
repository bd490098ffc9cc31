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

mod backpressure;
mod closing;
mod ordering;
mod timeouts;
mod watch;

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
