//! The bodies of the `watch` log lines (what follows `ts=... gid=...`), field for field
//! as memcached 1.6.18's logger writes them. Keys are URI-encoded, as in metadump.

use bytes::BytesMut;
use memkeep_protocol::{MetadumpEntry, Response};

fn key_text(key: &[u8]) -> String {
    let mut out = BytesMut::with_capacity(key.len());
    MetadumpEntry::encode_key(key, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `fetchers`: a key was looked up. A miss reports class and size 0; `size` is the
/// value's length.
pub fn item_get(key: &[u8], found: Option<(u32, usize)>, client_fd: u64) -> String {
    let (status, (class, size)) = match found {
        Some(item) => ("found", item),
        None => ("not_found", (0, 0)),
    };
    format!(
        "type=item_get key={} status={status} clsid={class} cfd={client_fd} size={size}",
        key_text(key)
    )
}

/// The `status=` of an `item_store` line for a store's reply; `None` for replies that
/// are not a store's outcome.
pub fn store_status(response: &Response) -> Option<&'static str> {
    Some(match response {
        Response::Stored(_) => "stored",
        Response::NotStored => "not_stored",
        Response::Exists => "exists",
        Response::NotFound => "not_found",
        Response::TooLarge => "too_large",
        Response::OutOfMemory => "no_memory",
        _ => return None,
    })
}

/// What an `item_store` line says about one store.
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    /// The key.
    pub key: &'a [u8],
    /// memcached's outcome word ([`store_status`]).
    pub status: &'static str,
    /// The command as memcached names it: set, add, replace, append, prepend or cas.
    pub cmd: &'static str,
    /// Seconds the item has left, 0 for no expiry; memcached prints it unsigned, so
    /// an item stored already expired shows a wrapped-around number.
    pub ttl: i64,
    /// memcached's slab class for the item's size.
    pub class: u32,
    /// The value's length.
    pub size: usize,
}

/// `mutations`: an item was stored (or refused).
pub fn item_store(s: Stored<'_>, client_fd: u64) -> String {
    format!(
        "type=item_store key={} status={} cmd={} ttl={} clsid={} cfd={client_fd} size={}",
        key_text(s.key),
        s.status,
        s.cmd,
        s.ttl as u32,
        s.class,
        s.size
    )
}

/// `evictions`: an item was evicted to make room. `ttl` is -1 for no expiry; `idle`
/// the seconds since its last access.
pub fn eviction(key: &[u8], fetched: bool, ttl: i64, idle: u32, class: u32, size: usize) -> String {
    format!(
        "type=eviction key={} fetch={} ttl={ttl} la={idle} clsid={class} size={size}",
        key_text(key),
        if fetched { "yes" } else { "no" },
    )
}

/// Where a client connected from, as `conn_new` and `conn_close` print it: the
/// address, the port and the transport (`tcp`, or `local` with `rip=unix` for Unix
/// sockets); from a `stats conns` style address (`tcp:1.2.3.4:5`, `unix:/path`).
pub fn peer(addr: &str) -> (String, u16, &'static str) {
    match addr.strip_prefix("tcp:") {
        Some(socket) => match socket.parse::<std::net::SocketAddr>() {
            Ok(a) => (a.ip().to_string(), a.port(), "tcp"),
            Err(_) => (socket.to_owned(), 0, "tcp"),
        },
        None => ("unix".to_owned(), 0, "local"),
    }
}

/// `connevents`: a client connected.
pub fn conn_new(addr: &str, client_fd: u64) -> String {
    let (rip, rport, transport) = peer(addr);
    format!("type=conn_new rip={rip} rport={rport} transport={transport} cfd={client_fd}")
}

/// Why a connection closed, in memcached's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client quit or hung up.
    Normal,
    /// A read or write failed, or the stream could not be framed.
    Error,
    /// Idle for longer than `-o idle_timeout`.
    IdleTimeout,
    /// The server is shutting down.
    Shutdown,
}

/// `connevents`: a client's connection closed.
pub fn conn_close(addr: &str, reason: CloseReason, client_fd: u64) -> String {
    let (rip, rport, transport) = peer(addr);
    let reason = match reason {
        CloseReason::Normal => "normal",
        CloseReason::Error => "error",
        CloseReason::IdleTimeout => "idle_timeout",
        CloseReason::Shutdown => "shutdown",
    };
    format!(
        "type=conn_close rip={rip} rport={rport} transport={transport} reason={reason} cfd={client_fd}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memcached_s_fields() {
        assert_eq!(
            item_get(b"a b", Some((1, 3)), 25),
            "type=item_get key=a%20b status=found clsid=1 cfd=25 size=3"
        );
        assert_eq!(
            item_get(b"nope", None, 25),
            "type=item_get key=nope status=not_found clsid=0 cfd=25 size=0"
        );
        let stored = Stored {
            key: b"e",
            status: "stored",
            cmd: "set",
            ttl: -1,
            class: 1,
            size: 1,
        };
        assert_eq!(
            item_store(stored, 7),
            "type=item_store key=e status=stored cmd=set ttl=4294967295 clsid=1 cfd=7 size=1"
        );
        assert_eq!(
            eviction(b"k0", false, -1, 0, 32, 100000),
            "type=eviction key=k0 fetch=no ttl=-1 la=0 clsid=32 size=100000"
        );
        assert_eq!(
            conn_new("tcp:127.0.0.1:45644", 25),
            "type=conn_new rip=127.0.0.1 rport=45644 transport=tcp cfd=25"
        );
        assert_eq!(
            conn_close("unix:/tmp/s", CloseReason::Normal, 9),
            "type=conn_close rip=unix rport=0 transport=local reason=normal cfd=9"
        );
    }
}
