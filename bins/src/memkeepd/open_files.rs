//! Room for `-c` connections: raise the open-files limit as memcached does at start,
//! so `-c 10000` works without a separate `ulimit -n`.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors beyond the client connections: listeners (one per worker thread and
/// address), replication links, the pid file, standard streams.
const SPARE: u64 = 64;

/// Makes sure the process may open `connections` client sockets plus a few more.
/// Raises the soft limit (and the hard one when allowed, i.e. as root); never lowers
/// either. Fails with memcached's message when the limit cannot be raised enough.
pub fn make_room(connections: usize) -> Result<(), String> {
    let need = connections as u64 + SPARE;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|e| format!("failed to getrlimit number of files: {e}"))?;
    if soft >= need {
        return Ok(());
    }
    if setrlimit(Resource::RLIMIT_NOFILE, need, hard.max(need)).is_ok() {
        return Ok(());
    }
    // The hard limit could not be raised: the connections alone may still fit
    // (memcached asks for exactly -c descriptors).
    if hard >= connections as u64 && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return Ok(());
    }
    Err("failed to set rlimit for open files. Try starting as root or requesting smaller maxconns value.".into())
}
