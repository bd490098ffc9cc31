//! SIGHUP: read the configuration again and switch to it without dropping client
//! connections; a configuration that cannot be served is refused with its reason
//! logged, and the running one stays.

use nix::sys::signal::{SigSet, Signal};
use tracing::{error, info, warn};

use super::listeners::Listeners;
use super::source::Source;

fn hangup() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGHUP);
    set
}

/// Holds SIGHUP (whose default action kills the process) until [`on_hangup`]
/// handles it; call before starting threads.
pub fn hold() -> Result<(), String> {
    hangup()
        .thread_block()
        .map_err(|e| format!("cannot block SIGHUP: {e}"))
}

/// Reloads on every SIGHUP; never returns.
pub async fn on_hangup(source: &Source, running: &mut Listeners) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        warn!("cannot handle SIGHUP: reload disabled");
        return std::future::pending().await;
    };
    if let Err(e) = hangup().thread_unblock() {
        warn!(error = %e, "cannot unblock SIGHUP");
    }
    while hangups.recv().await.is_some() {
        match source.load().and_then(|config| running.reload(&config)) {
            Ok(()) => info!("SIGHUP: configuration reloaded"),
            Err(reason) => error!(%reason, "SIGHUP: configuration refused, the running one stays"),
        }
    }
    std::future::pending().await
}
