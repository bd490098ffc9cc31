//! `Measure`: a tower layer that counts requests by command and result and records
//! their latency, for any `Service<Request, Response = Response>` (the cache, a
//! pool, one backend). Counting is a few relaxed atomic adds per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use memkeep_protocol::{Command, Request, Response, StoreMode};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::histogram::{Histogram, Snapshot};

/// Command names, the `command` label.
pub const COMMANDS: [&str; 13] = [
    "get",
    "touch",
    "set",
    "add",
    "replace",
    "append",
    "prepend",
    "cas",
    "delete",
    "incr",
    "decr",
    "flush_all",
    "other",
];

/// Result names, the `result` label. `failed` means no reply came back (the
/// service failed: a backend down, ejected or timing out).
pub const RESULTS: [&str; 10] = [
    "hit",
    "miss",
    "stored",
    "not_stored",
    "exists",
    "not_found",
    "deleted",
    "ok",
    "error",
    "failed",
];

// Indices into COMMANDS and RESULTS, for the code that picks them.
const GET: usize = 0;
const TOUCH: usize = 1;
const SET: usize = 2;
const ADD: usize = 3;
const REPLACE: usize = 4;
const APPEND: usize = 5;
const PREPEND: usize = 6;
const CAS: usize = 7;
const DELETE: usize = 8;
const INCR: usize = 9;
const DECR: usize = 10;
const FLUSH_ALL: usize = 11;
const OTHER: usize = 12;
const HIT: usize = 0;
const MISS: usize = 1;
const STORED: usize = 2;
const NOT_STORED: usize = 3;
const EXISTS: usize = 4;
const NOT_FOUND: usize = 5;
const DELETED: usize = 6;
const OK: usize = 7;
const ERROR: usize = 8;
const FAILED: usize = 9;

/// What a [`Measure`] layer counted.
#[derive(Debug)]
pub struct RequestMetrics {
    /// Requests passed on, counted when sent: with those counted done, what is in
    /// flight.
    sent: AtomicU64,
    /// `[command][result]` request counts, counted when done.
    requests: Vec<[AtomicU64; RESULTS.len()]>,
    latency: Vec<Histogram>,
    keys_hit: AtomicU64,
    keys_missed: AtomicU64,
    /// Failures by cause, named by whoever classifies them (timeouts, ejections).
    failures: Vec<(&'static str, AtomicU64)>,
    classify: Option<Classifier>,
}

/// Names the cause of a service error (`Some("timeout")`), or `None` for "other".
pub type Classifier = fn(&(dyn std::error::Error + Send + Sync + 'static)) -> Option<&'static str>;

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics::new(&[], None)
    }
}

impl RequestMetrics {
    /// Counters that also count failures by cause: `causes` are the names
    /// `classify` may return ("other" is added).
    pub fn new(causes: &[&'static str], classify: Option<Classifier>) -> Self {
        RequestMetrics {
            sent: AtomicU64::new(0),
            requests: COMMANDS.iter().map(|_| Default::default()).collect(),
            latency: COMMANDS.iter().map(|_| Histogram::default()).collect(),
            keys_hit: AtomicU64::new(0),
            keys_missed: AtomicU64::new(0),
            failures: causes
                .iter()
                .copied()
                .chain(["other"])
                .map(|c| (c, AtomicU64::new(0)))
                .collect(),
            classify,
        }
    }

    /// The counts now. Reading them is a pass over a few hundred atomics: done per
    /// scrape, never per request.
    pub fn snapshot(&self) -> RequestSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RequestSnapshot {
            sent: load(&self.sent),
            requests: self
                .requests
                .iter()
                .map(|row| std::array::from_fn(|r| load(&row[r])))
                .collect(),
            latency: self.latency.iter().map(Histogram::snapshot).collect(),
            keys: (load(&self.keys_hit), load(&self.keys_missed)),
            failures: self.failures.iter().map(|(n, c)| (*n, load(c))).collect(),
        }
    }

    fn record(&self, command: usize, keys: usize, started: Instant, outcome: Outcome<'_>) {
        self.latency[command].observe(started.elapsed());
        let result = match outcome {
            Outcome::Reply(response) => self.result_of(command, keys, response),
            Outcome::Failed(error) => {
                let cause = self.classify.and_then(|f| f(error)).unwrap_or("other");
                if let Some((_, c)) = self.failures.iter().find(|(n, _)| *n == cause) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
                FAILED
            }
        };
        self.requests[command][result].fetch_add(1, Ordering::Relaxed);
    }

    fn result_of(&self, command: usize, keys: usize, response: &Response) -> usize {
        let is_get = command == GET || command == TOUCH;
        match response {
            Response::Values(values) if is_get => {
                let found = values.len().min(keys) as u64;
                self.keys_hit.fetch_add(found, Ordering::Relaxed);
                self.keys_missed
                    .fetch_add(keys as u64 - found, Ordering::Relaxed);
                if found > 0 {
                    HIT
                } else {
                    MISS
                }
            }
            Response::Values(_) | Response::Touched(_) | Response::Number(..) => HIT,
            Response::NotFound if is_get || command == INCR || command == DECR => MISS,
            Response::Stored(_) => STORED,
            Response::NotStored => NOT_STORED,
            Response::Exists => EXISTS,
            Response::NotFound => NOT_FOUND,
            Response::Deleted => DELETED,
            Response::TooLarge
            | Response::OutOfMemory
            | Response::NonNumeric
            | Response::Error
            | Response::AuthError
            | Response::ClientError(_)
            | Response::ServerError(_)
            | Response::ErrorLine(_) => ERROR,
            _ => OK,
        }
    }
}

/// What a [`RequestMetrics`] had counted at one moment; snapshots of several (one
/// per worker thread, so workers never share a counter) add up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSnapshot {
    sent: u64,
    requests: Vec<[u64; RESULTS.len()]>,
    latency: Vec<Snapshot>,
    keys: (u64, u64),
    failures: Vec<(&'static str, u64)>,
}

impl RequestSnapshot {
    /// Requests of `command` (an index into [`COMMANDS`]) that ended in `result`
    /// (an index into [`RESULTS`]).
    pub fn requests(&self, command: usize, result: usize) -> u64 {
        self.requests.get(command).map_or(0, |row| row[result])
    }

    /// Requests sent, done or not.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Requests sent and not done yet (or dropped before they were: a client gone).
    pub fn in_flight(&self) -> u64 {
        self.sent.saturating_sub(self.total())
    }

    /// A failure cause's count (0 for a cause these counters do not name).
    pub fn failures_of(&self, cause: &str) -> u64 {
        self.failures
            .iter()
            .find(|(name, _)| *name == cause)
            .map_or(0, |(_, n)| *n)
    }

    /// Every request counted, whatever its command and result.
    pub fn total(&self) -> u64 {
        self.requests.iter().flatten().sum()
    }

    /// Requests that got no reply (the service failed).
    pub fn failed(&self) -> u64 {
        self.requests.iter().map(|row| row[FAILED]).sum()
    }

    /// Failures by cause.
    pub fn failures(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.failures.iter().copied()
    }

    /// Keys found and not found by gets.
    pub fn keys(&self) -> (u64, u64) {
        self.keys
    }

    /// The latency of one command's requests.
    pub fn latency(&self, command: usize) -> Snapshot {
        self.latency.get(command).copied().unwrap_or_default()
    }

    /// The latency of all requests together.
    pub fn latency_all(&self) -> Snapshot {
        let mut all = Snapshot::default();
        for h in &self.latency {
            all.add(h);
        }
        all
    }

    /// Adds another snapshot's counts (of counters with the same failure causes).
    pub fn add(&mut self, other: &RequestSnapshot) {
        if self.requests.is_empty() {
            *self = other.clone();
            return;
        }
        for (mine, theirs) in self.requests.iter_mut().zip(&other.requests) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
        for (mine, theirs) in self.latency.iter_mut().zip(&other.latency) {
            mine.add(theirs);
        }
        self.sent += other.sent;
        self.keys.0 += other.keys.0;
        self.keys.1 += other.keys.1;
        for ((_, mine), (_, theirs)) in self.failures.iter_mut().zip(&other.failures) {
            *mine += theirs;
        }
    }
}

enum Outcome<'a> {
    Reply(&'a Response),
    Failed(&'a (dyn std::error::Error + Send + Sync + 'static)),
}

/// The [`COMMANDS`] index of a request, and how many keys it asks for.
pub fn command_of(command: &Command) -> (usize, usize) {
    match command {
        Command::Get(get) if get.touch.is_some() => (TOUCH, get.keys.len()),
        Command::Get(get) => (GET, get.keys.len()),
        Command::Touch(_) => (TOUCH, 1),
        Command::Store(s) if s.cas.is_some() => (CAS, 1),
        Command::Store(s) => match s.mode {
            StoreMode::Set => (SET, 1),
            StoreMode::Add => (ADD, 1),
            StoreMode::Replace => (REPLACE, 1),
            StoreMode::Append => (APPEND, 1),
            StoreMode::Prepend => (PREPEND, 1),
        },
        Command::Delete(_) => (DELETE, 1),
        Command::Arith(a) if a.incr => (INCR, 1),
        Command::Arith(_) => (DECR, 1),
        Command::FlushAll(_) => (FLUSH_ALL, 0),
        _ => (OTHER, 0),
    }
}

/// Counts and times the requests through `S`.
#[derive(Debug, Clone)]
pub struct Measure<S> {
    inner: S,
    metrics: Arc<RequestMetrics>,
}

impl<S> Measure<S> {
    /// Measures `inner` into `metrics`.
    pub fn new(inner: S, metrics: Arc<RequestMetrics>) -> Self {
        Measure { inner, metrics }
    }

    /// The measured service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<RequestMetrics> {
        &self.metrics
    }
}

impl<S, E> Service<Request> for Measure<S>
where
    S: Service<Request, Response = Response, Error = E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let (command, keys) = command_of(&request.command);
        self.metrics.sent.fetch_add(1, Ordering::Relaxed);
        ResponseFuture {
            inner: self.inner.call(request),
            metrics: self.metrics.clone(),
            command,
            keys,
            started: Instant::now(),
        }
    }
}

pin_project! {
    /// The reply of a [`Measure`]: the inner reply, counted when it completes.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        metrics: Arc<RequestMetrics>,
        command: usize,
        keys: usize,
        started: Instant,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Response, Box<dyn std::error::Error + Send + Sync>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx)).map_err(Into::into);
        let outcome = match &result {
            Ok(response) => Outcome::Reply(response),
            Err(error) => Outcome::Failed(&**error),
        };
        this.metrics
            .record(*this.command, *this.keys, *this.started, outcome);
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests;
