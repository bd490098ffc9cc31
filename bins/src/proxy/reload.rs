//! SIGHUP: read the configuration again and switch to it without dropping client
//! connections; a configuration that cannot be served is refused with its reason
//! logged, and the running one stays. A change of a pool's servers found by DNS
//! reloads the same way.

use nix::sys::signal::{SigSet, Signal};
use tracing::{error, info, warn};

use memkeep_proxy::discovery::Discovery;

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

/// Reloads on every SIGHUP, and whenever DNS changes a pool's servers; never
/// returns.
pub async fn on_hangup(source: &Source, running: &mut Listeners, discovery: &mut Discovery) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => Some(hangups),
        Err(_) => {
            warn!("cannot handle SIGHUP: reload disabled");
            None
        }
    };
    if let Err(e) = hangup().thread_unblock() {
        warn!(error = %e, "cannot unblock SIGHUP");
    }
    loop {
        let hangup = async {
            match hangups.as_mut() {
                Some(hangups) => hangups.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(()) = hangup => match reload(source, running, discovery).await {
                Ok(()) => info!("SIGHUP: configuration reloaded"),
                Err(reason) => error!(%reason, "SIGHUP: configuration refused, the running one stays"),
            },
            config = discovery.changed() => super::discovery::apply(&config, running),
        }
    }
}

/// Reads the configuration again, resolves its DNS entries, and serves it.
async fn reload(
    source: &Source,
    running: &mut Listeners,
    discovery: &mut Discovery,
) -> Result<(), String> {
    let template = source.load()?;
    let stats = running.status().discovery();
    let (fresh, config) = super::discovery::reresolve(template, discovery, stats).await?;
    running.reload(&config)?;
    *discovery = fresh;
    Ok(())
}
