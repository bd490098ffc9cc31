//! memcached's `MEMCACHED_PORT_FILENAME`: once the TCP listeners are bound, a file
//! names their ports, one `TCP INET: PORT` line each (`TCP INET6:` for IPv6), so
//! whoever started the server on port 0 learns the port the kernel picked, and knows
//! the server listens, without connecting to find out. As memcached does, the file
//! is written under `NAME.lck` and renamed into place, so a reader never sees it
//! half written.

use std::net::SocketAddr;

/// The environment variable naming the file (memcached's).
pub const VARIABLE: &str = "MEMCACHED_PORT_FILENAME";

/// Writes the file named by [`VARIABLE`], if set, for the listeners bound at
/// `addrs`. A file that cannot be written is reported and the server runs on, as
/// memcached's does.
pub fn write(addrs: impl IntoIterator<Item = SocketAddr>) {
    let Some(path) = std::env::var_os(VARIABLE) else {
        return;
    };
    let lines: String = addrs
        .into_iter()
        .map(|addr| {
            let family = if addr.is_ipv4() { "INET" } else { "INET6" };
            format!("TCP {family}: {}\n", addr.port())
        })
        .collect();
    let mut temporary = path.clone();
    temporary.push(".lck");
    let written =
        std::fs::write(&temporary, lines).and_then(|()| std::fs::rename(&temporary, &path));
    if let Err(e) = written {
        eprintln!("Failed to write \"{}\": {e}", path.to_string_lossy());
    }
}
