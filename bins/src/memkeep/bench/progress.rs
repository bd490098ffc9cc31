//! The progress bars on a terminal: the preload's items, then the run's requests
//! (with `--requests`) or seconds (with `--duration` alone). The threads count what
//! they complete; a watcher thread redraws every 100 ms and, once they are done,
//! draws each bar at its final count, so a finished run ends at 100%.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// The phases, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Phase {
    /// Connections opening.
    Connect = 0,
    /// Every key stored once.
    Preload = 1,
    /// The measured run.
    Run = 2,
}

/// What the bars read, written by the bench threads.
#[derive(Debug, Default)]
pub struct Progress {
    phase: AtomicU8,
    /// Items stored by the preload.
    pub preloaded: AtomicU64,
    /// Requests completed in the run (a multi-get counts once).
    pub requests: AtomicU64,
    run_started: OnceLock<Instant>,
}

impl Progress {
    /// Marks the start of a phase.
    pub fn enter(&self, phase: Phase) {
        if phase == Phase::Run {
            let _ = self.run_started.set(Instant::now());
        }
        self.phase.store(phase as u8, Ordering::Release);
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Connect,
            1 => Phase::Preload,
            _ => Phase::Run,
        }
    }
}

/// What the run is bounded by.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Keys the preload stores, when there is one.
    pub preload: Option<u64>,
    /// `--requests`.
    pub requests: Option<u64>,
    /// `--duration` (or its default).
    pub duration: Option<Duration>,
    /// Whether there is a measured run.
    pub measure: bool,
}

/// Shows the bars on standard error until every thread has finished.
pub fn show<T>(progress: &Progress, handles: &[JoinHandle<T>], bounds: Bounds) {
    let mut preload = bounds.preload.map(|keys| Bar::new(Kind::Preload, keys));
    let mut run = None;
    loop {
        // Read before drawing: the last round draws the final counts.
        let finished = handles.iter().all(JoinHandle::is_finished);
        let phase = progress.phase();
        if let Some(bar) = &mut preload {
            if phase >= Phase::Preload {
                bar.update(progress.preloaded.load(Ordering::Relaxed), None);
            }
            if phase > Phase::Preload || finished {
                bar.finish();
                preload = None;
            }
        }
        if phase == Phase::Run && bounds.measure {
            let bar = run.get_or_insert_with(|| match (bounds.requests, bounds.duration) {
                (Some(n), _) => Bar::new(Kind::Requests, n),
                (None, Some(d)) => Bar::new(Kind::Seconds(d), millis(d)),
                (None, None) => Bar::new(Kind::Requests, 0),
            });
            let elapsed = progress.run_started.get().map(Instant::elapsed);
            bar.update(progress.requests.load(Ordering::Relaxed), elapsed);
        }
        if finished {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(bar) = &mut run {
        bar.finish();
    }
}

enum Kind {
    Preload,
    Requests,
    Seconds(Duration),
}

struct Bar {
    bar: ProgressBar,
    kind: Kind,
}

impl Bar {
    fn new(kind: Kind, len: u64) -> Bar {
        let template = match kind {
            Kind::Preload => "preload [{bar:40}] {percent:>3}% {pos}/{len} items {msg}",
            Kind::Requests => "run     [{bar:40}] {percent:>3}% {pos}/{len} requests {msg}",
            Kind::Seconds(_) => "run     [{bar:40}] {percent:>3}% {msg}",
        };
        let bar = ProgressBar::new(len).with_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Bar { bar, kind }
    }

    /// Shows `done` items or requests; `elapsed` is the run's time so far.
    fn update(&mut self, done: u64, elapsed: Option<Duration>) {
        let rate = |d: Duration| done as f64 / d.as_secs_f64().max(1e-3);
        match &self.kind {
            Kind::Preload => self.bar.set_position(done),
            Kind::Requests => {
                self.bar.set_position(done);
                if let Some(e) = elapsed {
                    self.bar.set_message(format!("({:.0} req/s)", rate(e)));
                }
            }
            Kind::Seconds(total) => {
                let e = elapsed.unwrap_or_default().min(*total);
                self.bar.set_position(millis(e));
                self.bar.set_message(format!(
                    "{:.1}/{:.1} s, {done} requests ({:.0} req/s)",
                    e.as_secs_f64(),
                    total.as_secs_f64(),
                    rate(elapsed.unwrap_or_default())
                ));
            }
        }
    }

    /// Draws the final state and leaves it on the terminal.
    fn finish(&mut self) {
        self.bar.finish();
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
