//! memcached's flags that act on the process rather than the cache: `-r` (core
//! dumps), `-k` (lock memory), SIGUSR1 (memcached's graceful stop, which saves `-e`'s
//! snapshot as every orderly stop does), and the warnings for flags memkeepd accepts
//! but cannot honour the way memcached does.

use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
use nix::sys::signal::{SigSet, Signal};
use tracing::{info, warn};

use super::args::Args;
use super::extended::Extended;

/// memcached warns above this many worker threads.
const MANY_THREADS: usize = 64;

/// `-r`: raise the core file limit to unlimited, or to the hard limit when that is
/// all the process may do; fails, as memcached does, if core files stay off.
pub fn enable_core_dumps() -> Result<(), String> {
    if setrlimit(Resource::RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY).is_err() {
        if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_CORE) {
            let _ = setrlimit(Resource::RLIMIT_CORE, hard, hard);
        }
    }
    match getrlimit(Resource::RLIMIT_CORE) {
        Ok((soft, _)) if soft > 0 => Ok(()),
        _ => Err("failed to ensure corefile creation".into()),
    }
}

/// `-k`: lock every page the process has and will have, so items are never swapped
/// out. A failure (no CAP_IPC_LOCK, a low RLIMIT_MEMLOCK) is a warning, as in
/// memcached.
pub fn lock_memory() {
    use nix::sys::mman::{mlockall, MlockAllFlags};
    match mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE) {
        Ok(()) => info!("-k: memory locked"),
        Err(e) => warn!(error = %e, "-k invalid, mlockall() failed"),
    }
}

/// Tells the operator about every flag taken without memcached's effect.
pub fn warn_not_applied(args: &Args, extended: &Extended) {
    if args.threads > MANY_THREADS {
        warn!(
            threads = args.threads,
            "setting a high number of worker threads is not recommended: use the number of cores or less"
        );
    }
    for note in &extended.not_applied {
        warn!("-o {note}");
    }
}

/// SIGUSR1, memcached's graceful stop: held like SIGTERM (see `crate::signals`)
/// until [`graceful_stop`] listens for it.
fn user1() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR1);
    set
}

/// Holds SIGUSR1 in this thread and the threads it starts; call before binding.
pub fn hold_graceful_stop() -> Result<(), String> {
    user1()
        .thread_block()
        .map_err(|e| format!("cannot block SIGUSR1: {e}"))
}

/// Returns when SIGUSR1 arrives (memcached stops gracefully on it).
pub async fn graceful_stop() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut user) = signal(SignalKind::user_defined1()) else {
        warn!("cannot install the SIGUSR1 handler");
        return std::future::pending().await;
    };
    if let Err(e) = user1().thread_unblock() {
        warn!(error = %e, "cannot unblock SIGUSR1");
    }
    user.recv().await;
    info!("SIGUSR1: draining");
}
