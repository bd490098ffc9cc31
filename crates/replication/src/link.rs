//! One link between two nodes over TCP, or TLS over TCP. Both sides say hello (run id, role), then
//! what they want (the other's stream, resuming at a sequence number if they hold
//! everything before it). Then each side sends, if wanted: a resume, or a full copy
//! (every live item) followed by the backlog from where the copy began; and applies
//! what it receives. Idle senders ping every second; a silent link is dropped after
//! five.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::node::{Counters, Replication};
use crate::record::{BadFrame, Frame, Record, Role};

const PING_EVERY: Duration = Duration::from_secs(1);
const SILENCE_LIMIT: Duration = Duration::from_secs(5);
/// Frames are written in batches of about this many bytes.
const BATCH_BYTES: usize = 256 * 1024;
/// Records taken from the backlog at a time.
const BATCH_RECORDS: usize = 4096;

/// Why a link ended.
#[derive(Debug)]
pub enum LinkError {
    /// The socket failed or closed.
    Io(std::io::Error),
    /// The peer sent something that is not a replication frame.
    Frame(BadFrame),
    /// The peer said nothing for too long.
    Silent,
    /// We connected to ourselves.
    SelfLink,
    /// The peer broke the handshake order.
    Protocol(&'static str),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Io(e) => write!(f, "{e}"),
            LinkError::Frame(e) => write!(f, "{e}"),
            LinkError::Silent => f.write_str("peer silent"),
            LinkError::SelfLink => f.write_str("connected to itself"),
            LinkError::Protocol(what) => write!(f, "unexpected {what}"),
        }
    }
}

impl std::error::Error for LinkError {}

impl From<std::io::Error> for LinkError {
    fn from(e: std::io::Error) -> Self {
        LinkError::Io(e)
    }
}

/// Runs one link on a connected socket until it fails.
pub async fn run_link(replication: &Replication, stream: TcpStream) -> Result<(), LinkError> {
    let _ = stream.set_nodelay(true);
    let peer_addr = stream
        .peer_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    run_link_over(replication, stream, &peer_addr).await
}

/// Runs one link over any byte stream (a TLS session, say) until it fails.
pub async fn run_link_over<IO>(
    replication: &Replication,
    stream: IO,
    peer_addr: &str,
) -> Result<(), LinkError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let (read, write) = tokio::io::split(stream);
    let mut reader = Reader {
        read,
        buf: BytesMut::with_capacity(64 * 1024),
        replication: replication.clone(),
    };
    let mut writer = Writer {
        write,
        buf: BytesMut::with_capacity(BATCH_BYTES + 4096),
        replication: replication.clone(),
    };
    let me = &replication.shared;
    writer.push(&Frame::Hello {
        run: me.run,
        role: me.config.role,
    });
    writer.flush().await?;
    let Frame::Hello {
        run: peer_run,
        role: peer_role,
    } = reader.next().await?
    else {
        return Err(LinkError::Protocol("frame before hello"));
    };
    if peer_run == me.run {
        return Err(LinkError::SelfLink);
    }
    // A primary does not take its replicas' writes; everyone else wants the stream.
    let want = peer_role != Role::Replica;
    let cursor = replication.cursor(peer_run);
    let resume = match cursor.load(Ordering::Acquire) {
        0 => None,
        seq => Some(seq),
    };
    writer.push(&Frame::Want {
        stream: want,
        resume,
    });
    writer.flush().await?;
    let Frame::Want {
        stream: peer_wants,
        resume: peer_resume,
    } = reader.next().await?
    else {
        return Err(LinkError::Protocol("frame before want"));
    };
    let _connected = replication.connected();
    info!(peer = %peer_addr, role = peer_role.name(), peer_wants, want, "replication link up");
    let send = async {
        if peer_wants {
            writer.stream(peer_resume).await
        } else {
            writer.ping_forever().await
        }
    };
    let receive = reader.receive(peer_run, cursor);
    tokio::select! {
        r = send => r,
        r = receive => r,
    }
}

struct Reader<R> {
    read: R,
    buf: BytesMut,
    replication: Replication,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    async fn next(&mut self) -> Result<Frame, LinkError> {
        loop {
            if let Some(frame) = Frame::decode(&mut self.buf).map_err(LinkError::Frame)? {
                return Ok(frame);
            }
            let n = tokio::time::timeout(SILENCE_LIMIT, self.read.read_buf(&mut self.buf))
                .await
                .map_err(|_| LinkError::Silent)??;
            if n == 0 {
                return Err(LinkError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            Counters::add(&self.replication.shared.counters.bytes_received, n as u64);
        }
    }

    /// Applies what the peer sends, keeping our resume cursor for its run.
    async fn receive(
        &mut self,
        peer_run: u64,
        cursor: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<(), LinkError> {
        loop {
            match self.next().await? {
                Frame::Resume(seq) => {
                    cursor.store(seq, Ordering::Release);
                    self.replication.set_synced();
                    debug!(peer_run, seq, "peer resumes its stream");
                }
                Frame::CopyBegin => {
                    // Until the copy ends we hold nothing we could resume from.
                    cursor.store(0, Ordering::Release);
                    info!(peer_run, "receiving a full copy");
                }
                Frame::CopyEnd(seq) => {
                    cursor.store(seq, Ordering::Release);
                    Counters::add(&self.replication.shared.counters.full_copies_received, 1);
                    self.replication.set_synced();
                    info!(peer_run, "full copy received");
                }
                Frame::Record { seq, record } => {
                    self.replication.apply(&record);
                    if seq != 0 {
                        cursor.store(seq + 1, Ordering::Release);
                    }
                }
                Frame::Ping => {}
                Frame::Hello { .. } | Frame::Want { .. } => {
                    return Err(LinkError::Protocol("handshake frame"))
                }
            }
        }
    }
}

struct Writer<W> {
    write: W,
    buf: BytesMut,
    replication: Replication,
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    fn push(&mut self, frame: &Frame) {
        frame.encode(&mut self.buf);
    }

    async fn flush(&mut self) -> Result<(), LinkError> {
        if !self.buf.is_empty() {
            self.write.write_all(&self.buf).await?;
            Counters::add(
                &self.replication.shared.counters.bytes_sent,
                self.buf.len() as u64,
            );
            self.buf.clear();
        }
        Ok(())
    }

    async fn ping_forever(&mut self) -> Result<(), LinkError> {
        loop {
            tokio::time::sleep(PING_EVERY).await;
            self.push(&Frame::Ping);
            self.flush().await?;
        }
    }

    /// Sends our records: resumed, or after a full copy; and again a full copy
    /// whenever the link falls off the backlog.
    async fn stream(&mut self, resume: Option<u64>) -> Result<(), LinkError> {
        let replication = self.replication.clone();
        let shared = &replication.shared;
        let backlog = &shared.backlog;
        let mut next = match resume {
            Some(seq) if backlog.holds(seq) => {
                self.push(&Frame::Resume(seq));
                Counters::add(&shared.counters.resumes, 1);
                info!(seq, "resuming from the backlog");
                seq
            }
            _ => self.full_copy().await?,
        };
        let link = replication.register_link(next);
        let mut batch = Vec::with_capacity(BATCH_RECORDS);
        loop {
            let published = backlog.published();
            tokio::pin!(published);
            published.as_mut().enable();
            batch.clear();
            if backlog.read(next, BATCH_RECORDS, &mut batch).is_err() {
                warn!(next, "link fell behind the backlog: full copy");
                next = self.full_copy().await?;
                link.cursor.store(next, Ordering::Release);
                continue;
            }
            if batch.is_empty() {
                self.flush().await?;
                tokio::select! {
                    () = published => {}
                    () = tokio::time::sleep(PING_EVERY) => self.push(&Frame::Ping),
                }
                continue;
            }
            Counters::add(&shared.counters.records_sent, batch.len() as u64);
            for (seq, record) in batch.drain(..) {
                next = seq + 1;
                self.push(&Frame::Record { seq, record });
                if self.buf.len() >= BATCH_BYTES {
                    self.flush().await?;
                }
            }
            self.flush().await?;
            link.cursor.store(next, Ordering::Release);
        }
    }

    /// Sends every live item, then says where the stream continues: at the backlog's
    /// head when the copy began, so writes made during the copy follow it.
    async fn full_copy(&mut self) -> Result<u64, LinkError> {
        let shared = self.replication.shared.clone();
        let start = shared.backlog.next_seq();
        let _link = self.replication.register_link(start);
        self.push(&Frame::CopyBegin);
        self.flush().await?;
        let (tx, mut rx) = mpsc::channel::<BytesMut>(8);
        let store = shared.store.clone();
        let rate = shared.config.copy_bytes_per_second.filter(|&r| r > 0);
        let copier = tokio::task::spawn_blocking(move || {
            let now = store.unix_now();
            let started = std::time::Instant::now();
            let mut sent = 0u64;
            let mut buf = BytesMut::with_capacity(BATCH_BYTES + 4096);
            let mut items = 0u64;
            let mut open = true;
            store.for_each_live(|v| {
                if !open {
                    return;
                }
                let expires = if v.meta.ttl < 0 {
                    0
                } else {
                    now + v.meta.ttl as u64
                };
                Frame::Record {
                    seq: 0,
                    record: Record::Item {
                        key: v.key.clone(),
                        data: v.data.clone(),
                        flags: v.meta.flags,
                        expires,
                        cas: v.meta.cas,
                    },
                }
                .encode(&mut buf);
                items += 1;
                if buf.len() >= BATCH_BYTES {
                    sent += buf.len() as u64;
                    open = tx.blocking_send(buf.split()).is_ok();
                    if let Some(rate) = rate {
                        // Ahead of the allowed rate: wait until the bytes sent are due.
                        let due = std::time::Duration::from_secs_f64(sent as f64 / rate as f64);
                        if let Some(early) = due.checked_sub(started.elapsed()) {
                            std::thread::sleep(early);
                        }
                    }
                }
            });
            if open && !buf.is_empty() {
                let _ = tx.blocking_send(buf);
            }
            items
        });
        while let Some(chunk) = rx.recv().await {
            self.write.write_all(&chunk).await?;
            Counters::add(&shared.counters.bytes_sent, chunk.len() as u64);
        }
        let items = copier.await.unwrap_or(0);
        self.push(&Frame::CopyEnd(start));
        self.flush().await?;
        Counters::add(&shared.counters.full_copies_sent, 1);
        info!(items, "full copy sent");
        Ok(start)
    }
}
