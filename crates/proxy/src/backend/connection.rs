//! One backend connection's task: connect, then write queued requests in batches
//! and match replies to them in order; on failure, fail what is in flight, wait
//! (failing new requests at once) and reconnect.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use memkeep_protocol::{encode_request, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::budget::{BufferedBytes, PendingSlot};
use super::detect::{Detection, Probed};
use super::replies::read_reply;
use super::secure::{self, BackendSecurity, Opened};
use super::translate::{Expect, Local};
use super::{BackendConfig, BackendError, Dialect, ErrorKind};

/// A connection's state as callers see it.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Connecting: requests queue (for at most the connect timeout).
    Connecting,
    /// Connected.
    Up,
    /// Waiting to reconnect: requests fail at once.
    Down,
}

/// One request from a caller.
pub(super) struct Job {
    pub(super) request: Request,
    /// The replies it expects; `None` while it is not translated yet (it was queued
    /// before the server's dialect was known).
    pub(super) expect: Option<Expect>,
    pub(super) reply: oneshot::Sender<Result<Response, BackendError>>,
    /// Its place among the backend's pending requests, held until it is answered.
    pub(super) slot: PendingSlot,
    /// Its bytes in the backend's budget, held until it is written.
    pub(super) bytes: BufferedBytes,
    /// When it times out: the request timeout counted from when it was made.
    pub(super) deadline: Option<Instant>,
}

impl Job {
    /// Encodes the request into `buf`, translated first if it was queued before the
    /// server's dialect was known, and returns it in flight; `None` when the
    /// translation answered it at once, or when it timed out waiting to be sent
    /// (`now` is when the batch started, taken only when requests time out).
    fn encode(
        self,
        dialect: &Detection,
        now: Option<Instant>,
        addr: &Arc<str>,
        buf: &mut BytesMut,
    ) -> Option<InFlight> {
        let Job {
            request,
            expect,
            reply,
            slot,
            bytes,
            deadline,
        } = self;
        if let (Some(at), Some(now)) = (deadline, now) {
            if at <= now {
                let _ = reply.send(Err(BackendError::new(ErrorKind::Timeout, addr.clone())));
                return None;
            }
        }
        let (request, expect) = match expect {
            Some(expect) => (request, expect),
            // Known by now: a connection is driven only once its server was probed.
            None => match super::translate_for(dialect.current().unwrap_or(Dialect::Text), request)
            {
                Local::Send(request, expect) => (request, expect),
                Local::Answer(response) => {
                    let _ = reply.send(Ok(response));
                    return None;
                }
            },
        };
        encode_request(&request, buf);
        // Encoded: the request's own bytes are no longer held.
        drop(bytes);
        Some(InFlight {
            expect,
            reply,
            deadline,
            _slot: slot,
        })
    }
}

/// A request written to the server, waiting for its reply.
struct InFlight {
    expect: Expect,
    reply: oneshot::Sender<Result<Response, BackendError>>,
    deadline: Option<Instant>,
    // Released with the reply (or the failure) by dropping the `InFlight`.
    _slot: PendingSlot,
}

/// Most bytes gathered into one write.
const BATCH: usize = 64 * 1024;

/// Room made in the read buffer before a read: the replies to a full batch of
/// multi-gets.
const READ_SPACE: usize = 64 * 1024;

/// Opens a connection to the server: TCP, TLS and the login ([`secure::open`]) for
/// a real backend; an in-memory stream in tests, which then run on paused time.
pub(super) type Connect =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = io::Result<Opened>> + Send>> + Send + Sync>;

/// The connector to the server at `addr` over the network.
pub(super) fn over_network(addr: Arc<str>, security: Option<Arc<BackendSecurity>>) -> Connect {
    Arc::new(move || {
        let (addr, security) = (addr.clone(), security.clone());
        Box::pin(async move { secure::open(&addr, security.as_deref()).await })
    })
}

/// The connection task: runs until every [`super::Backend`] clone is gone.
pub(super) async fn run(
    addr: Arc<str>,
    connect: Connect,
    config: Arc<BackendConfig>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    state: Arc<AtomicU8>,
    dialect: Arc<Detection>,
) {
    let mut backoff = config.backoff_min;
    // Log a failure to connect once per outage, not once per attempt.
    let mut was_up = true;
    'connect: loop {
        state.store(State::Connecting as u8, Ordering::Relaxed);
        let connected = tokio::time::timeout(config.connect_timeout, connect()).await;
        let session = matches!(connected, Ok(Ok(_)));
        match connected {
            Ok(Ok(mut stream)) => 'session: {
                let limit = config.connect_timeout;
                let probed = match &mut stream {
                    Opened::Plain(tcp) => dialect.probe(tcp, &addr, limit).await,
                    Opened::Local(local) => dialect.probe(local, &addr, limit).await,
                    Opened::Secured(secured) => dialect.probe(secured, &addr, limit).await,
                };
                match probed {
                    Probed::Usable => {}
                    Probed::UsedUp => continue 'connect,
                    Probed::Failed => {
                        warn!(%addr, "backend did not answer the protocol probe");
                        break 'session;
                    }
                }
                debug!(%addr, "backend connected");
                state.store(State::Up as u8, Ordering::Relaxed);
                backoff = config.backoff_min;
                let ending = match stream {
                    Opened::Plain(tcp) => {
                        let (rd, wr) = tcp.into_split();
                        drive(rd, wr, &addr, &config, &dialect, &mut jobs).await
                    }
                    Opened::Local(local) => {
                        let (rd, wr) = local.into_split();
                        drive(rd, wr, &addr, &config, &dialect, &mut jobs).await
                    }
                    Opened::Secured(stream) => {
                        let (rd, wr) = tokio::io::split(stream);
                        drive(rd, wr, &addr, &config, &dialect, &mut jobs).await
                    }
                };
                match ending {
                    Ending::Unused => return,
                    // The server is up and answered: only this connection lost its
                    // place among the replies. Connect again at once, so other
                    // clients' requests queue for the new connection instead of
                    // finding the server down.
                    Ending::Unreadable => {
                        warn!(%addr, "backend connection reset after a reply it could not read");
                        continue 'connect;
                    }
                    Ending::Failed(kind) => warn!(%addr, ?kind, "backend connection lost"),
                }
            }
            Ok(Err(e)) if was_up => warn!(%addr, error = %e, "backend connect failed"),
            Err(_) if was_up => warn!(%addr, "backend connect timed out"),
            Ok(Err(e)) => debug!(%addr, error = %e, "backend connect failed"),
            Err(_) => debug!(%addr, "backend connect timed out"),
        }
        was_up = session;
        state.store(State::Down as u8, Ordering::Relaxed);
        let until = Instant::now() + backoff;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => break,
                job = jobs.recv() => match job {
                    Some(job) => {
                        let _ = job.reply.send(Err(BackendError::new(ErrorKind::Down, addr.clone())));
                    }
                    None => return,
                },
            }
        }
        backoff = (backoff * 2).min(config.backoff_max);
    }
}

enum Ending {
    /// Every handle is gone.
    Unused,
    /// The connection failed.
    Failed(ErrorKind),
    /// The reply to a request could not be read: the server is up, only the
    /// connection is out of step. (Bytes that answer no request are a failure: a
    /// server that talks unasked would be reconnected to without end.)
    Unreadable,
}

/// Runs one established connection until it fails or is no longer needed.
async fn drive(
    rd: impl AsyncRead + Unpin,
    wr: impl AsyncWrite + Unpin,
    addr: &Arc<str>,
    config: &BackendConfig,
    dialect: &Detection,
    jobs: &mut mpsc::UnboundedReceiver<Job>,
) -> Ending {
    let (sent_tx, mut sent) = mpsc::unbounded_channel();
    let mut current = None;
    let ending = tokio::select! {
        // In order: a random start costs a random number per poll.
        biased;
        // Every handle is gone only once no request waits for a reply: a request's
        // future holds the backend's queues open (see `ResponseFuture`).
        ending = write_loop(wr, addr, config, dialect, jobs, sent_tx) => ending,
        kind = read_loop(rd, config, &mut sent, &mut current) => Ending::Failed(kind),
    };
    let kind = match ending {
        Ending::Failed(kind) => kind,
        Ending::Unused | Ending::Unreadable => ErrorKind::Closed,
    };
    sent.close();
    // Behind a reply that could not be read, the others are lost with the
    // connection, through no fault of their own or of the server's.
    let behind = match kind {
        ErrorKind::Protocol => ErrorKind::Reset,
        kind => kind,
    };
    let unreadable = kind == ErrorKind::Protocol && current.is_some();
    if let Some(lost) = current {
        let _ = lost.reply.send(Err(BackendError::new(kind, addr.clone())));
    }
    while let Ok(lost) = sent.try_recv() {
        let _ = lost
            .reply
            .send(Err(BackendError::new(behind, addr.clone())));
    }
    if unreadable {
        Ending::Unreadable
    } else {
        ending
    }
}

/// Takes requests off the queue, as many as are waiting (up to [`BATCH`] bytes),
/// and writes them in one go.
async fn write_loop(
    mut wr: impl AsyncWrite + Unpin,
    addr: &Arc<str>,
    config: &BackendConfig,
    dialect: &Detection,
    jobs: &mut mpsc::UnboundedReceiver<Job>,
    sent: mpsc::UnboundedSender<InFlight>,
) -> Ending {
    let mut buf = BytesMut::with_capacity(BATCH);
    loop {
        let Some(job) = jobs.recv().await else {
            return Ending::Unused;
        };
        let now = config.request_timeout.map(|_| Instant::now());
        let mut next = Some(job);
        while let Some(job) = next.take() {
            // A caller that gave up before its request left is skipped.
            if !job.reply.is_closed() {
                if let Some(flight) = job.encode(dialect, now, addr, &mut buf) {
                    if sent.send(flight).is_err() {
                        return Ending::Failed(ErrorKind::Closed);
                    }
                }
            }
            if buf.len() < BATCH {
                next = jobs.try_recv().ok();
            }
        }
        if !buf.is_empty() {
            if wr.write_all(&buf).await.is_err() {
                return Ending::Failed(ErrorKind::Closed);
            }
            buf.clear();
        }
    }
}

/// Reads replies and hands each to the oldest request in flight.
async fn read_loop(
    mut rd: impl AsyncRead + Unpin,
    config: &BackendConfig,
    sent: &mut mpsc::UnboundedReceiver<InFlight>,
    current: &mut Option<InFlight>,
) -> ErrorKind {
    let mut buf = BytesMut::with_capacity(READ_SPACE);
    // One timer for the whole connection, moved only when it fires: a timer made
    // afresh per read would be registered and removed again for every reply.
    // Deadlines grow in the order requests were written, so when it fires at an
    // older request's deadline it is moved on to the current request's.
    let timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(timer);
    let mut armed = false;
    loop {
        // Decode every reply already buffered.
        loop {
            if current.is_none() {
                match sent.try_recv() {
                    Ok(flight) => *current = Some(flight),
                    Err(_) => break,
                }
            }
            let flight = current.as_mut().expect("set above");
            match read_reply(&mut flight.expect, &mut buf, &config.limits) {
                Ok(Some(whole)) => {
                    let flight = current.take().expect("set above");
                    let _ = flight.reply.send(Ok(whole));
                }
                Ok(None) => break,
                Err(e) => {
                    warn!(error = %e, "backend reply not understood");
                    return ErrorKind::Protocol;
                }
            }
        }
        if current.is_none() && !buf.is_empty() {
            return ErrorKind::Protocol;
        }
        if !armed {
            if let Some(at) = current.as_ref().and_then(|f| f.deadline) {
                timer.as_mut().reset(at);
                armed = true;
            }
        }
        // Room for a whole batch of replies in one read: the decoded replies share
        // the buffer's memory until their callers drop them, so the space behind
        // them is not reused, and without this the reads shrink to what is left
        // of the buffer (more reads, and replies split across them).
        if buf.capacity() - buf.len() < READ_SPACE / 4 {
            buf.reserve(READ_SPACE);
        }
        tokio::select! {
            // In order, replies first: a random start costs a random number per
            // poll, and the timer only matters while no reply comes.
            biased;
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => return ErrorKind::Closed,
                Ok(_) => {}
            },
            flight = sent.recv(), if current.is_none() => match flight {
                Some(flight) => *current = Some(flight),
                None => return ErrorKind::Closed,
            },
            () = timer.as_mut(), if armed => {
                match current.as_ref().and_then(|f| f.deadline) {
                    Some(at) if at <= Instant::now() => return ErrorKind::Timeout,
                    Some(at) => timer.as_mut().reset(at),
                    None => armed = false,
                }
            }
        }
    }
}
