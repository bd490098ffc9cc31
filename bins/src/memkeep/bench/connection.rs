//! One benchmark connection, closed loop: build a batch of `pipeline` operations into
//! one buffer, write it with one write, read until every reply of the batch arrived,
//! repeat until the budget or the deadline says stop.
//!
//! Latency is taken per operation from the batch's write to the read that completed
//! its reply: one clock read per batch and one per read, none per reply.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hdrhistogram::Histogram;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::keys::{KeyChooser, KeySpace, Rng};
use super::wire::{self, Expect, Item, Protocol, ReplyDecoder};
use crate::memkeep::connect::{Exchange, Next, Security};

/// What every connection of a run shares: the workload.
#[derive(Debug)]
pub struct Plan {
    /// Wire dialect.
    pub protocol: Protocol,
    /// How replies are read.
    pub decoder: ReplyDecoder,
    /// Operations per batch.
    pub pipeline: usize,
    /// Share of operations that are retrievals, as a threshold on 64 random bits.
    pub get_threshold: u64,
    /// Keys per retrieval.
    pub multiget: usize,
    /// The keys.
    pub keys: KeySpace,
    /// How the next key is picked.
    pub chooser: KeyChooser,
    /// The value every store writes.
    pub value: Vec<u8>,
    /// With a target rate: the time between batch starts on one connection.
    pub pace: Option<Duration>,
}

/// How every connection opens before the run.
#[derive(Debug)]
pub struct Opening {
    /// TLS and login.
    pub security: Security,
    /// The name the server's certificate is checked against.
    pub tls_name: rustls::pki_types::ServerName<'static>,
    /// Whether to run the opening exchange (a login, or the probe that says a
    /// server wants one).
    pub exchange: bool,
}

/// How many operations a run may still start, shared by every connection.
#[derive(Debug)]
pub struct Budget {
    limit: Option<u64>,
    issued: AtomicU64,
}

impl Budget {
    /// At most `limit` operations in all, or no limit.
    pub fn new(limit: Option<u64>) -> Budget {
        Budget {
            limit,
            issued: AtomicU64::new(0),
        }
    }

    /// Takes up to `want` operations; 0 when the budget is spent.
    fn claim(&self, want: u64) -> u64 {
        let Some(limit) = self.limit else {
            return want;
        };
        let before = self.issued.fetch_add(want, Ordering::Relaxed);
        want.min(limit.saturating_sub(before))
    }
}

/// What a connection did, added up.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Operations completed (a multi-get counts once).
    pub ops: u64,
    /// Retrieval operations.
    pub gets: u64,
    /// Keys asked for by retrievals.
    pub get_keys: u64,
    /// Keys found.
    pub hits: u64,
    /// Store operations.
    pub sets: u64,
    /// Error replies, and operations left unanswered when a connection failed.
    pub errors: u64,
    /// The first failure, to say what went wrong.
    pub first_error: Option<String>,
}

impl Tally {
    /// Adds another tally into this one.
    pub fn merge(&mut self, other: &Tally) {
        self.ops += other.ops;
        self.gets += other.gets;
        self.get_keys += other.get_keys;
        self.hits += other.hits;
        self.sets += other.sets;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    fn fail(&mut self, unanswered: usize, why: String) {
        self.errors += unanswered as u64;
        self.first_error.get_or_insert(why);
    }
}

/// Where a connection's operations come from.
#[derive(Debug)]
pub enum Source {
    /// The workload's mix of gets and sets on chosen keys.
    Mixed(Rng),
    /// Store every key from `next` up to `end`, once (preload).
    Preload {
        /// The next key number.
        next: u64,
        /// One past the last key number.
        end: u64,
    },
}

/// One operation of the batch in flight.
#[derive(Debug, Clone, Copy)]
struct Op {
    expect: Expect,
    /// Reply pieces still to come.
    replies: u32,
}

/// A byte stream to the server: plain TCP or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Stream for T {}

/// A connection's reusable buffers.
pub struct Connection {
    stream: Box<dyn Stream>,
    out: Vec<u8>,
    input: BytesMut,
    ops: Vec<Op>,
}

const READ_CHUNK: usize = 64 * 1024;

impl Connection {
    /// Connects (Nagle off: batches are written whole anyway), runs the TLS
    /// handshake and the login as `opening` says. The error is in words.
    pub async fn open(addr: std::net::SocketAddr, opening: &Opening) -> Result<Connection, String> {
        let explain = &opening.security.explain;
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut stream: Box<dyn Stream> = match &opening.security.tls {
            None => Box::new(tcp),
            Some(config) => {
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let tls = connector
                    .connect(opening.tls_name.clone(), tcp)
                    .await
                    .map_err(|e| explain.io(&e))?;
                Box::new(tls)
            }
        };
        if opening.exchange {
            exchange(&mut stream, &opening.security).await?;
        }
        Ok(Connection {
            stream,
            out: Vec::with_capacity(READ_CHUNK),
            input: BytesMut::with_capacity(READ_CHUNK),
            ops: Vec::new(),
        })
    }

    /// Runs batches until the source, the budget or the deadline is exhausted or the
    /// connection fails. `progress` counts completed operations for the progress bar.
    pub async fn drive(
        &mut self,
        plan: &Plan,
        source: &mut Source,
        budget: &Budget,
        deadline: Option<Instant>,
        latency: &RefCell<Histogram<u64>>,
        progress: &AtomicU64,
    ) -> Tally {
        let mut tally = Tally::default();
        let depth = plan.pipeline as u64;
        // Preloading runs flat out; only the measured mix is paced.
        let pace = plan.pace.filter(|_| matches!(source, Source::Mixed(_)));
        let mut scheduled = Instant::now();
        loop {
            let start = match pace {
                Some(interval) => {
                    // A batch held up by the previous one's slow replies counts from
                    // its scheduled start, so a stalled server is not hidden; one
                    // that waited on the timer (millisecond ticks) counts from when
                    // it was sent, so the timer's lateness is not blamed on the server.
                    let now = Instant::now();
                    let start = if now >= scheduled {
                        scheduled
                    } else {
                        tokio::time::sleep_until(scheduled.into()).await;
                        Instant::now()
                    };
                    scheduled += interval;
                    start
                }
                None => Instant::now(),
            };
            if deadline.is_some_and(|d| start >= d) {
                break;
            }
            let n = match source {
                Source::Mixed(_) => budget.claim(depth),
                Source::Preload { next, end } => depth.min(*end - *next),
            };
            if n == 0 {
                break;
            }
            self.build(plan, source, n, &mut tally);
            if let Err(e) = self.stream.write_all(&self.out).await {
                tally.fail(self.ops.len(), format!("write: {e}"));
                break;
            }
            if let Err(why) = self.read_replies(plan, start, latency, &mut tally).await {
                tally.fail(self.ops.len(), why);
                break;
            }
            progress.fetch_add(n, Ordering::Relaxed);
        }
        tally
    }

    /// Writes `n` operations into the output buffer.
    fn build(&mut self, plan: &Plan, source: &mut Source, n: u64, tally: &mut Tally) {
        self.out.clear();
        self.ops.clear();
        for _ in 0..n {
            let op = match source {
                Source::Preload { next, .. } => {
                    wire::push_set(
                        plan.protocol,
                        plan.keys.key(*next),
                        &plan.value,
                        &mut self.out,
                    );
                    *next += 1;
                    tally.sets += 1;
                    Op {
                        expect: Expect::Set,
                        replies: 1,
                    }
                }
                Source::Mixed(rng) => {
                    if rng.next_u64() < plan.get_threshold {
                        let keys =
                            (0..plan.multiget).map(|_| plan.keys.key(plan.chooser.next(rng)));
                        let replies = wire::push_get(plan.protocol, keys, &mut self.out);
                        tally.gets += 1;
                        tally.get_keys += plan.multiget as u64;
                        Op {
                            expect: Expect::Get,
                            replies,
                        }
                    } else {
                        let key = plan.keys.key(plan.chooser.next(rng));
                        wire::push_set(plan.protocol, key, &plan.value, &mut self.out);
                        tally.sets += 1;
                        Op {
                            expect: Expect::Set,
                            replies: 1,
                        }
                    }
                }
            };
            self.ops.push(op);
        }
    }

    /// Reads until every operation of the batch is answered. On failure, leaves the
    /// unanswered operations in `self.ops` and says why.
    async fn read_replies(
        &mut self,
        plan: &Plan,
        start: Instant,
        latency: &RefCell<Histogram<u64>>,
        tally: &mut Tally,
    ) -> Result<(), String> {
        let mut done = 0;
        let mut now = start;
        while done < self.ops.len() {
            while done < self.ops.len() {
                let op = &mut self.ops[done];
                let item = wire::next_item(plan.protocol, plan.decoder, op.expect, &mut self.input);
                let item = match item {
                    Ok(item) => item,
                    Err(garbled) => {
                        self.ops.drain(..done);
                        return Err(garbled.0);
                    }
                };
                match item {
                    None => break,
                    Some(Item::Value) => tally.hits += 1,
                    Some(Item::Done { hits, error }) => {
                        tally.hits += u64::from(hits);
                        tally.errors += u64::from(error);
                        op.replies -= 1;
                        if op.replies == 0 {
                            done += 1;
                            tally.ops += 1;
                            let nanos = u64::try_from((now - start).as_nanos()).unwrap_or(u64::MAX);
                            latency.borrow_mut().saturating_record(nanos.max(1));
                        }
                    }
                }
            }
            if done == self.ops.len() {
                break;
            }
            if self.input.capacity() - self.input.len() < READ_CHUNK / 4 {
                self.input.reserve(READ_CHUNK);
            }
            match self.stream.read_buf(&mut self.input).await {
                Ok(0) => {
                    self.ops.drain(..done);
                    return Err("the server closed the connection".into());
                }
                Ok(_) => now = Instant::now(),
                Err(e) => {
                    self.ops.drain(..done);
                    return Err(format!("read: {e}"));
                }
            }
        }
        Ok(())
    }
}

/// Drives the opening exchange ([`Exchange`]) on a new connection.
async fn exchange(stream: &mut Box<dyn Stream>, security: &Security) -> Result<(), String> {
    let explain = &security.explain;
    let (mut exchange, first) = Exchange::start(security.login.as_ref());
    stream.write_all(&first).await.map_err(|e| explain.io(&e))?;
    let mut buf = BytesMut::with_capacity(256);
    loop {
        match exchange.feed(&mut buf) {
            Next::Done => return Ok(()),
            Next::Failed(why) => return Err(explain.tls_bytes_on_plain(&buf).unwrap_or(why)),
            Next::Send(bytes) => stream.write_all(&bytes).await.map_err(|e| explain.io(&e))?,
            Next::NeedMore => {
                if let Some(words) = explain.tls_bytes_on_plain(&buf) {
                    return Err(words);
                }
                if stream
                    .read_buf(&mut buf)
                    .await
                    .map_err(|e| explain.io(&e))?
                    == 0
                {
                    return Err(explain.closed());
                }
            }
        }
    }
}
