//! The task that replays a server's missed writes, in batches, until none is owed;
//! while the server does not answer it tries again, waiting a little longer each time.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use memkeep_protocol::{Request, Response};
use tower::ServiceExt;
use tower_service::Service;

use super::missed::{flush_request, Batch};
use super::Shared;
use crate::BoxError;

/// Writes replayed at once (distinct keys, so their order does not matter).
const BATCH: usize = 64;
/// First wait after a replay the server did not take; doubled up to [`MAX_PAUSE`].
const MIN_PAUSE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_millis(500);

/// Replays until nothing is owed; then the server takes requests again. Stops
/// early when nothing but this task holds the server (its pool was dropped).
pub(super) async fn replay<S>(shared: Arc<Shared<S>>)
where
    S: Service<Request, Response = Response, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    let mut pause = MIN_PAUSE;
    loop {
        let batch = {
            let mut queue = shared.queue.lock();
            match queue.missed.take(BATCH) {
                Some(batch) => batch,
                None => {
                    queue.replaying = false;
                    tracing::info!(
                        server = %shared.server,
                        replayed = shared.replayed.load(Ordering::Relaxed),
                        dropped_this_time = queue.dropped,
                        "missed writes replayed: server back in service"
                    );
                    queue.dropped = 0;
                    return;
                }
            }
        };
        let service = shared.service.lock().clone();
        let reached = match batch {
            Batch::Flush(delay) => {
                let reached = service.oneshot(flush_request(delay)).await.is_ok();
                if !reached {
                    shared.queue.lock().missed.flush_failed(delay);
                }
                reached
            }
            Batch::Keys(writes) => {
                let replies = join_all(
                    writes
                        .iter()
                        .map(|(key, missed, _)| service.clone().oneshot(missed.request(key))),
                )
                .await;
                let mut queue = shared.queue.lock();
                let mut all = true;
                for ((key, missed, seq), reply) in writes.into_iter().zip(replies) {
                    let reached = reply.is_ok();
                    match reply {
                        // The server answered but refused (e.g. out of memory): as a
                        // client's write would be, it is lost there; counted, not silent.
                        Ok(reply) if reply.is_error() => {
                            shared.dropped.fetch_add(1, Ordering::Relaxed);
                            queue.dropped += 1;
                            tracing::warn!(server = %shared.server, ?reply, "replayed write refused");
                        }
                        Ok(_) => {
                            shared.replayed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {}
                    }
                    all &= reached;
                    queue.missed.replayed(key, missed, seq, reached);
                }
                all
            }
        };
        if reached {
            pause = MIN_PAUSE;
            continue;
        }
        if Arc::strong_count(&shared) == 1 {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
