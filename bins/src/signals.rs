//! SIGTERM and SIGINT for the binaries: held from start-up until the handlers exist
//! (clients can connect as soon as a socket is bound, and a signal arriving before the
//! handlers would kill the process instead of draining it), then awaited.

use tracing::{info, warn};

/// The signals that make a binary drain and exit.
fn stop_signals() -> nix::sys::signal::SigSet {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGTERM);
    set.add(nix::sys::signal::Signal::SIGINT);
    set
}

/// Holds SIGTERM and SIGINT in this thread and every thread it starts later; call
/// before binding. [`wait`] lets them through once it listens for them.
pub fn hold() -> Result<(), String> {
    stop_signals()
        .thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))
}

/// Installs the handlers, lets held signals through, and returns when SIGTERM or
/// SIGINT arrives. Without handlers (should not happen) it never returns.
pub async fn wait() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        warn!("cannot install signal handlers");
        return std::future::pending().await;
    };
    if let Err(e) = stop_signals().thread_unblock() {
        warn!(error = %e, "cannot unblock signals");
    }
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: draining"),
        _ = int.recv() => info!("SIGINT: draining"),
    }
}
