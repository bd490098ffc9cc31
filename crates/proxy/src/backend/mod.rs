//! One memcached server as a tower `Service<Request>`: a small pool of pipelined
//! connections, each fed by a queue so that many callers' requests leave in few
//! writes, with connect and request timeouts and reconnection with backoff.
//!
//! The backend is always ready (`poll_ready` never waits: the queue is in front)
//! and fails fast while its server is down or while it holds as many requests for
//! it as its [`QueueLimits`] allow, so a layer over many backends never stalls on
//! one of them and a silent server costs bounded memory.

mod budget;
mod connection;
mod detect;
mod listing;
mod replies;
#[cfg(any(test, feature = "fuzzing"))]
pub mod reply_check;
mod secure;
mod text_dialect;
mod translate;

pub use budget::QueueLimits;
pub use listing::{LISTING_TOO_LONG, MAX_LISTING};
pub use replies::{ReplyError, ReplyReader};
pub use secure::{AuthMechanism, BackendAuth, BackendSecurity};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use memkeep_protocol::{Limits, Request, Response};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tower_service::Service;

use crate::BoxError;
use budget::Budget;
use connection::{Job, State};
use detect::Detection;
use translate::Local;

/// How a backend connects and how long it waits.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// Connections to the server (twemproxy's `server_connections`).
    pub connections: usize,
    /// Give up connecting after this long.
    pub connect_timeout: Duration,
    /// Fail a request (and reset its connection, as twemproxy does) when its reply
    /// has not come this long after the request was made; `None` waits forever.
    /// Kept by one timer per connection, not one per request.
    pub request_timeout: Option<Duration>,
    /// First wait before reconnecting; doubled after each failure.
    pub backoff_min: Duration,
    /// Longest wait before reconnecting.
    pub backoff_max: Duration,
    /// Bounds on the replies read from the server.
    pub limits: Limits,
    /// TLS and login on each new connection; plain TCP when `None`.
    pub security: Option<Arc<BackendSecurity>>,
    /// The protocol spoken to the server.
    pub dialect: Dialect,
    /// Bounds on the requests held for the server; past them requests are refused
    /// with [`ErrorKind::Overloaded`].
    pub queue: QueueLimits,
}

/// The protocol a backend speaks to its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Ask the server at the first connection (`mn`): meta if it answers `MN`, else
    /// text. Requests made before the answer are queued in order and translated as
    /// they leave (failed as `Down` if the server cannot be reached).
    #[default]
    Detect,
    /// memcached's meta protocol (memcached 1.6 and later, memkeepd): items come with
    /// their TTL and flags, so read-repair can copy them faithfully.
    Meta,
    /// The classic text protocol, for older servers. Meta-only options (`mg N`,
    /// `md I`, ...) are answered `ERROR`, as such a server would, and items carry no
    /// TTL, so they are not copied by read-repair or warm-up.
    Text,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            connections: 1,
            connect_timeout: Duration::from_secs(1),
            request_timeout: None,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            limits: Limits::default(),
            security: None,
            dialect: Dialect::Detect,
            queue: QueueLimits::default(),
        }
    }
}

/// A handle on one memcached server. Clones share the connections.
#[derive(Clone)]
pub struct Backend {
    shared: Arc<Shared>,
}

struct Shared {
    addr: Arc<str>,
    dialect: Arc<Detection>,
    connections: Vec<Handle>,
    next: AtomicUsize,
    budget: Arc<Budget>,
    request_timeout: Option<Duration>,
}

/// The request side of one connection task.
struct Handle {
    queue: mpsc::UnboundedSender<Job>,
    state: Arc<AtomicU8>,
}

impl Backend {
    /// Starts the connection tasks for the server at `addr` (`host:port`). Needs a
    /// tokio runtime; the tasks stop when the last clone is dropped.
    pub fn new(addr: impl Into<String>, config: BackendConfig) -> Self {
        let addr: Arc<str> = addr.into().into();
        let connect = connection::over_network(addr.clone(), config.security.clone());
        Self::connecting_with(addr, connect, config)
    }

    /// A backend whose connections `connect` opens.
    fn connecting_with(
        addr: Arc<str>,
        connect: connection::Connect,
        config: BackendConfig,
    ) -> Self {
        let dialect = Arc::new(Detection::new(config.dialect));
        let config = Arc::new(config);
        let connections = (0..config.connections.max(1))
            .map(|_| {
                // Unbounded as a channel: a caller is never made to wait here. What
                // it holds is bounded by the backend's budget (`QueueLimits`), which
                // refuses requests past it, and while the server is down the queue
                // is drained with errors.
                let (queue, jobs) = mpsc::unbounded_channel();
                let state = Arc::new(AtomicU8::new(State::Connecting as u8));
                tokio::spawn(connection::run(
                    addr.clone(),
                    connect.clone(),
                    config.clone(),
                    jobs,
                    state.clone(),
                    dialect.clone(),
                ));
                Handle { queue, state }
            })
            .collect();
        Backend {
            shared: Arc::new(Shared {
                addr,
                dialect,
                connections,
                next: AtomicUsize::new(0),
                budget: Arc::new(Budget::new(config.queue)),
                request_timeout: config.request_timeout,
            }),
        }
    }

    /// The server's address.
    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// Whether at least one connection is up (or still being established).
    pub fn is_up(&self) -> bool {
        self.shared
            .connections
            .iter()
            .any(|h| h.state.load(Ordering::Relaxed) != State::Down as u8)
    }

    /// How many of its connections are established.
    pub fn connections_up(&self) -> usize {
        self.shared
            .connections
            .iter()
            .filter(|h| h.state.load(Ordering::Relaxed) == State::Up as u8)
            .count()
    }

    /// Requests accepted and not yet answered (queued or sent to the server).
    pub fn pending_requests(&self) -> usize {
        self.shared.budget.pending()
    }

    /// Bytes of accepted requests not yet written to the server.
    pub fn buffered_bytes(&self) -> usize {
        self.shared.budget.buffered()
    }

    /// Requests refused since start because a [`QueueLimits`] bound was reached.
    pub fn rejected_requests(&self) -> u64 {
        self.shared.budget.rejected()
    }

    fn error(&self, kind: ErrorKind) -> BackendError {
        BackendError {
            kind,
            addr: self.shared.addr.clone(),
        }
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("addr", &self.shared.addr)
            .finish()
    }
}

impl Service<Request> for Backend {
    type Response = Response;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> ResponseFuture {
        // Until the server's dialect is known (its first connection asks), a request
        // is queued as it came and translated as it leaves: queued in call order, a
        // client's pipeline reaches the server in the order it was sent.
        let (request, expect) = match self.shared.dialect.current() {
            Some(dialect) => match translate_for(dialect, request) {
                Local::Send(request, expect) => (request, Some(expect)),
                Local::Answer(response) => return ResponseFuture::ready(Ok(response)),
            },
            None => (request, None),
        };
        let shared = &self.shared;
        let n = shared.connections.len();
        let start = shared.next.fetch_add(1, Ordering::Relaxed);
        // Round robin over the connections that are not known to be down.
        let Some(handle) = (0..n)
            .map(|i| &shared.connections[(start + i) % n])
            .find(|h| h.state.load(Ordering::Relaxed) != State::Down as u8)
        else {
            return ResponseFuture::ready(Err(self.error(ErrorKind::Down)));
        };
        let Some((slot, bytes)) = shared.budget.admit(budget::request_bytes(&request)) else {
            return ResponseFuture::ready(Err(self.error(ErrorKind::Overloaded)));
        };
        let (reply, rx) = oneshot::channel();
        let deadline = shared.request_timeout.map(|limit| Instant::now() + limit);
        // The connection's timer only sees requests that were written. One queued
        // while the connection is still being made (up to the connect timeout and
        // the probe) keeps a timer of its own, so it fails at its deadline, as it
        // would behind twemproxy; the common case, a connection up, needs none.
        let connecting = handle.state.load(Ordering::Relaxed) == State::Connecting as u8;
        let timer = deadline
            .filter(|_| connecting)
            .map(|at| Box::pin(tokio::time::sleep_until(at)));
        let job = Job {
            request,
            expect,
            reply,
            slot,
            bytes,
            deadline,
        };
        if handle.queue.send(job).is_err() {
            return ResponseFuture::ready(Err(self.error(ErrorKind::Down)));
        }
        ResponseFuture {
            state: FutureState::Waiting(rx, shared.clone(), timer),
        }
    }
}

/// `request` in `dialect`: what to send and the replies to expect, or the answer.
fn translate_for(dialect: Dialect, request: Request) -> Local {
    match dialect {
        Dialect::Text => text_dialect::to_text(request),
        _ => translate::to_meta(request),
    }
}

/// The reply of a [`Backend`].
pub struct ResponseFuture {
    state: FutureState,
}

enum FutureState {
    /// Holds the backend's queues open: the connection tasks stop when the last
    /// clone is dropped, and a request in flight when a reload drops its stack (or a
    /// warm-up window its previous servers) is still answered.
    Waiting(
        oneshot::Receiver<Result<Response, BackendError>>,
        Arc<Shared>,
        Option<Pin<Box<tokio::time::Sleep>>>,
    ),
    Ready(Option<Result<Response, BackendError>>),
}

impl ResponseFuture {
    fn ready(result: Result<Response, BackendError>) -> Self {
        ResponseFuture {
            state: FutureState::Ready(Some(result)),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let result = match &mut this.state {
            FutureState::Ready(result) => result.take().expect("polled after completion"),
            FutureState::Waiting(rx, shared, timer) => match Pin::new(rx).poll(cx) {
                Poll::Pending => {
                    let expired = timer
                        .as_mut()
                        .is_some_and(|t| t.as_mut().poll(cx).is_ready());
                    if !expired {
                        return Poll::Pending;
                    }
                    // Dropping the receiver with the future makes the connection
                    // skip the request when it comes to write it.
                    Err(BackendError {
                        kind: ErrorKind::Timeout,
                        addr: shared.addr.clone(),
                    })
                }
                Poll::Ready(Ok(result)) => result,
                // The connection task went away with the request.
                Poll::Ready(Err(_)) => Err(BackendError {
                    kind: ErrorKind::Closed,
                    addr: shared.addr.clone(),
                }),
            },
        };
        Poll::Ready(result.map_err(Into::into))
    }
}

/// Why a backend request failed. Its `Display` is what follows `SERVER_ERROR` in
/// the client's reply.
#[derive(Debug, Clone)]
pub struct BackendError {
    kind: ErrorKind,
    addr: Arc<str>,
}

/// The ways a backend request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server is down: not connected, and waiting before the next attempt.
    Down,
    /// The connection closed or failed with the request on it.
    Closed,
    /// No reply within the request timeout.
    Timeout,
    /// The server sent something that is not a reply to the request (the
    /// connection is then reset and made again at once).
    Protocol,
    /// Sent on a connection that was reset because the reply to an earlier request
    /// could not be read: the server is up, this request may or may not have run.
    Reset,
    /// Refused before it was queued: the backend holds as many requests or bytes
    /// for its server as its [`QueueLimits`] allow.
    Overloaded,
}

impl BackendError {
    pub(crate) fn new(kind: ErrorKind, addr: Arc<str>) -> Self {
        BackendError { kind, addr }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The server's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Down => "is down",
            ErrorKind::Closed => "closed the connection",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Protocol => "sent an invalid reply",
            ErrorKind::Reset => "connection reset after an earlier invalid reply",
            // memcached's wording for a request it has no room for ("SERVER_ERROR
            // out of memory storing object", "... reading request"): clients that
            // look for "out of memory" treat it as a full cache, not a broken server.
            ErrorKind::Overloaded => {
                return write!(
                    f,
                    "out of memory queueing request: backend {} has too many pending requests",
                    self.addr
                )
            }
        };
        write!(f, "backend {} {what}", self.addr)
    }
}

impl std::error::Error for BackendError {}

#[cfg(test)]
mod tests;
