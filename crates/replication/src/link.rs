//! One link between two nodes over TCP, or TLS over TCP. Both sides say hello (link
//! format version, run id, role, address), then what they want (the other's stream,
//! resuming at a sequence number if they hold everything before it). Then each side
//! sends, if wanted: a resume, or a full copy (every live item) followed by the
//! backlog from where the copy began, leaving out the records that came from the
//! peer or that the peer first took; and applies what it receives (forwarding what
//! was news, see [`Replication::apply`]). Idle senders ping every second; a silent
//! link is dropped after five.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

use crate::backlog::Entry;
use crate::node::{Counters, Replication};
use crate::peer_links::LinkCounts;
use crate::record::{BadFrame, Frame, Role, LINK_VERSION};

mod copy;

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
    /// The peer speaks another link format version (its version).
    Version(u8),
    /// Another link to the same peer is kept instead of this one.
    Duplicate,
}

/// Which end of the link this node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// This node dialled the peer (`-x`, `--replica-of`).
    Dialled,
    /// The peer dialled this node's replication port (`-X`).
    Accepted,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Io(e) => write!(f, "{e}"),
            LinkError::Frame(e) => write!(f, "{e}"),
            LinkError::Silent => f.write_str("peer silent"),
            LinkError::SelfLink => f.write_str("connected to itself"),
            LinkError::Protocol(what) => write!(f, "unexpected {what}"),
            LinkError::Version(theirs) => write!(
                f,
                "the peer speaks link format {theirs}, this node {LINK_VERSION}: link refused; \
                 run the same memkeepd version on every node"
            ),
            LinkError::Duplicate => f.write_str("another link to the same peer is kept"),
        }
    }
}

impl std::error::Error for LinkError {}

impl From<std::io::Error> for LinkError {
    fn from(e: std::io::Error) -> Self {
        LinkError::Io(e)
    }
}

/// Runs one link on a connected socket until it fails. A dialled link goes by the
/// address dialled; an accepted one by the address the peer announces.
pub async fn run_link(
    replication: &Replication,
    stream: TcpStream,
    peer_addr: &str,
    side: Side,
) -> Result<(), LinkError> {
    let _ = stream.set_nodelay(true);
    run_link_over(replication, stream, peer_addr, side).await
}

/// Runs one link over any byte stream (a TLS session, say) until it fails.
/// `peer_addr` is the address dialled, or the remote address of an accepted link.
pub async fn run_link_over<IO>(
    replication: &Replication,
    stream: IO,
    peer_addr: &str,
    side: Side,
) -> Result<(), LinkError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let (read, write) = tokio::io::split(stream);
    let mut reader = Reader {
        read,
        buf: BytesMut::with_capacity(64 * 1024),
        replication: replication.clone(),
        counts: Default::default(),
    };
    let mut writer = Writer {
        write,
        buf: BytesMut::with_capacity(BATCH_BYTES + 4096),
        replication: replication.clone(),
        counts: Default::default(),
    };
    let me = &replication.shared;
    writer.push(&Frame::Hello {
        version: LINK_VERSION,
        run: me.run,
        role: me.config.role,
        addr: me.config.announce.clone(),
    });
    writer.flush().await?;
    let Frame::Hello {
        version,
        run: peer_run,
        role: peer_role,
        addr: announced,
    } = reader.next().await?
    else {
        return Err(LinkError::Protocol("frame before hello"));
    };
    if version != LINK_VERSION {
        return Err(LinkError::Version(version));
    }
    if peer_run == me.run {
        return Err(LinkError::SelfLink);
    }
    // A node does not take the writes of a replica following it; everyone else
    // wants the stream (a replica wants its primary's, even when that is a replica).
    let want = !(peer_role == Role::Replica && side == Side::Accepted);
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
    // A node we also dial goes by the address we dial it at, whatever it announces.
    let addr = match (side, me.peer_links.dialled_address(peer_run)) {
        (Side::Accepted, Some(dialled)) => dialled,
        (Side::Accepted, None) if !announced.is_empty() => announced,
        _ => peer_addr.to_owned(),
    };
    let addr = addr.as_str();
    if side == Side::Dialled {
        me.peer_links.dialled(peer_addr, peer_run);
    }
    let registration = me
        .peer_links
        .register(me.run, peer_run, peer_role, addr, side == Side::Dialled)
        .map_err(|_| LinkError::Duplicate)?;
    info!(peer = %addr, role = peer_role.name(), peer_wants, want, "replication link up");
    writer.counts = registration.counts.clone();
    reader.counts = registration.counts.clone();
    let send = async {
        if peer_wants {
            writer.stream(peer_resume, peer_run).await
        } else {
            writer.ping_forever().await
        }
    };
    let receive = reader.receive(peer_run, cursor);
    tokio::select! {
        r = send => r,
        r = receive => r,
        () = registration.close.notified() => Err(LinkError::Duplicate),
    }
}

struct Reader<R> {
    read: R,
    buf: BytesMut,
    replication: Replication,
    counts: std::sync::Arc<LinkCounts>,
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
                Frame::Record { seq, route, record } => {
                    self.replication.apply(record, route, peer_run);
                    if seq != 0 {
                        Counters::add(&self.counts.received, 1);
                        cursor.store(seq + 1, Ordering::Release);
                    }
                }
                Frame::Position(seq) => cursor.store(seq, Ordering::Release),
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
    counts: std::sync::Arc<LinkCounts>,
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

    /// Sends our records to peer run `peer_run`: resumed, or after a full copy; and
    /// again a full copy whenever the link falls off the backlog. Records that came
    /// by the peer's link, or that the peer first took, are left out.
    async fn stream(&mut self, resume: Option<u64>, peer_run: u64) -> Result<(), LinkError> {
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
            let mut sent = 0;
            let mut skipped_last = false;
            for Entry {
                seq,
                record,
                route,
                via,
            } in batch.drain(..)
            {
                next = seq + 1;
                skipped_last = via == peer_run || route.origin == peer_run;
                if skipped_last {
                    continue;
                }
                sent += 1;
                self.push(&Frame::Record { seq, route, record });
                if self.buf.len() >= BATCH_BYTES {
                    self.flush().await?;
                }
            }
            if skipped_last {
                // The peer holds all it needs up to here: its resume cursor moves on.
                self.push(&Frame::Position(next));
            }
            Counters::add(&shared.counters.records_sent, sent);
            Counters::add(&self.counts.sent, sent);
            self.flush().await?;
            link.cursor.store(next, Ordering::Release);
        }
    }
}
