//! The evidence behind systemd's notifications: each event loop that serves clients
//! runs a [`Heartbeat`] task, and one thread says READY=1 once every loop runs, then
//! WATCHDOG=1 each period only if every loop has beaten since the last keep-alive.
//! A wedged loop (a task that never yields, a deadlock) thus silences the
//! keep-alives, and systemd restarts the process, as monit did for memcached.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use tracing::warn;

use crate::sd_notify::Notifier;

/// Beats per keep-alive period: a loop that runs beats several times in each, so
/// timer jitter never makes a healthy loop miss one.
const BEATS_PER_KEEP_ALIVE: u32 = 4;

/// An event loop's proof of life. Spawn [`Heartbeat::run`] on the loop it vouches
/// for, after its listeners' tasks.
pub struct Heartbeat(Option<Beat>);

/// A heartbeat when systemd listens.
struct Beat {
    /// Told once, when the loop first runs the task.
    started: mpsc::Sender<()>,
    /// Set at each beat, cleared by each keep-alive.
    beaten: Arc<AtomicBool>,
    /// `None` without a watchdog: starting is all there is to tell.
    period: Option<Duration>,
}

impl Heartbeat {
    /// Beats for as long as the loop runs; returns at once when nobody listens.
    pub async fn run(self) {
        let Some(beat) = self.0 else {
            return;
        };
        let _ = beat.started.send(());
        drop(beat.started);
        let Some(period) = beat.period else {
            return;
        };
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            beat.beaten.store(true, Ordering::Relaxed);
        }
    }
}

/// The notifying thread's handle, for the binary to say it is stopping.
pub struct Watchdog {
    notifier: Option<Notifier>,
    stopping: Stopping,
}

/// Whether the process is stopping. A lock, not a flag: a keep-alive decided
/// before STOPPING=1 must not be sent after it.
type Stopping = Arc<Mutex<bool>>;

impl Watchdog {
    /// STOPPING=1, and no keep-alive after it: systemd watches a stopping service
    /// with its stop timeout instead, and the loops end as they drain.
    pub fn stopping(&self) {
        let mut stopping = self.stopping.lock().unwrap_or_else(|e| e.into_inner());
        *stopping = true;
        if let Some(notifier) = &self.notifier {
            notifier.stopping("draining");
        }
    }
}

/// Starts notifying `notifier` (if any) about `loops` event loops: READY=1 with
/// `status` once each has run its heartbeat, then the keep-alives. Returns the
/// handle and one heartbeat per loop (each a no-op without a notifier).
pub fn start(
    notifier: Option<Notifier>,
    loops: usize,
    status: String,
) -> Result<(Watchdog, Vec<Heartbeat>), String> {
    let stopping = Stopping::default();
    let Some(notifier) = notifier else {
        let heartbeats = (0..loops).map(|_| Heartbeat(None)).collect();
        return Ok((
            Watchdog {
                notifier: None,
                stopping,
            },
            heartbeats,
        ));
    };
    let period = notifier.keep_alive_period();
    let beat_period = period.map(|p| (p / BEATS_PER_KEEP_ALIVE).max(Duration::from_millis(1)));
    let (started, started_rx) = mpsc::channel();
    let beaten: Vec<Arc<AtomicBool>> = (0..loops).map(|_| Arc::default()).collect();
    let heartbeats = beaten
        .iter()
        .map(|beaten| {
            Heartbeat(Some(Beat {
                started: started.clone(),
                beaten: beaten.clone(),
                period: beat_period,
            }))
        })
        .collect();
    let notifying = Notifying {
        notifier: notifier.clone(),
        started: started_rx,
        beaten,
        stopping: stopping.clone(),
    };
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || notifying.run(&status))
        .map_err(|e| format!("cannot start the watchdog thread: {e}"))?;
    Ok((
        Watchdog {
            notifier: Some(notifier),
            stopping,
        },
        heartbeats,
    ))
}

/// The notifying thread's state. A thread of its own, not a task: it must keep
/// time whichever loop is wedged.
struct Notifying {
    notifier: Notifier,
    started: mpsc::Receiver<()>,
    beaten: Vec<Arc<AtomicBool>>,
    stopping: Stopping,
}

impl Notifying {
    fn run(self, status: &str) {
        // Every loop runs, so its listeners are served: READY=1. A loop that failed
        // to start dropped its heartbeat, and the process is exiting anyway.
        for _ in 0..self.beaten.len() {
            if self.started.recv().is_err() {
                return;
            }
        }
        {
            let stopping = self.stopping.lock().unwrap_or_else(|e| e.into_inner());
            if *stopping {
                return;
            }
            self.notifier.ready(status);
        }
        let Some(period) = self.notifier.keep_alive_period() else {
            return;
        };
        loop {
            std::thread::sleep(period);
            let stopping = self.stopping.lock().unwrap_or_else(|e| e.into_inner());
            if *stopping {
                return;
            }
            // Every flag is cleared, whether or not an earlier one was stalled.
            let stalled: Vec<usize> = (0..self.beaten.len())
                .filter(|&i| !self.beaten[i].swap(false, Ordering::Relaxed))
                .collect();
            if stalled.is_empty() {
                self.notifier.keep_alive();
            } else {
                warn!(
                    loops = ?stalled,
                    ?period,
                    "event loops did not run for a keep-alive period: no WATCHDOG=1"
                );
            }
        }
    }
}
