//! A full copy on a link: every live item, walked a piece of the store at a time on a
//! blocking thread (capped in bytes per second if asked), then the deletes this node
//! remembers, then where the stream continues.

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::info;

use super::{Writer, BATCH_BYTES};
use crate::node::Counters;
use crate::record::{Frame, Record, Route};
use crate::LinkError;

impl<W: AsyncWrite + Unpin> Writer<W> {
    /// Sends every live item and the deletes remembered, then says where the stream
    /// continues: at the backlog's head when the copy began, so writes made during
    /// the copy follow it.
    pub(super) async fn full_copy(&mut self) -> Result<u64, LinkError> {
        let shared = self.replication.shared.clone();
        let start = shared.backlog.next_seq();
        let _link = self.replication.register_link(start);
        self.push(&Frame::CopyBegin);
        self.flush().await?;
        let (tx, mut rx) = mpsc::channel::<BytesMut>(8);
        let store = shared.store.clone();
        let rate = shared.config.copy_bytes_per_second.filter(|&r| r > 0);
        let route = Route {
            origin: shared.run,
            hops: 0,
        };
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
                    route,
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
        // The deletes we remember follow the items: a peer that was away (restarted,
        // or cut off past the backlog) learns of them and passes them on, so a key
        // deleted here is not kept alive by a node that never heard of the delete.
        for (key, cas) in self.replication.recent_deletes() {
            self.push(&Frame::Record {
                seq: 0,
                route,
                record: Record::Delete { key, cas },
            });
            if self.buf.len() >= BATCH_BYTES {
                self.flush().await?;
            }
        }
        self.push(&Frame::CopyEnd(start));
        self.flush().await?;
        Counters::add(&shared.counters.full_copies_sent, 1);
        info!(items, "full copy sent");
        Ok(start)
    }
}
