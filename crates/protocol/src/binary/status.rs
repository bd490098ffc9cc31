//! Response status codes and the exact body text memcached writes with each error.

#[allow(missing_docs)] // the names are memcached's status names
mod names {
    pub const SUCCESS: u16 = 0x00;
    pub const KEY_ENOENT: u16 = 0x01;
    pub const KEY_EEXISTS: u16 = 0x02;
    pub const E2BIG: u16 = 0x03;
    pub const EINVAL: u16 = 0x04;
    pub const NOT_STORED: u16 = 0x05;
    pub const DELTA_BADVAL: u16 = 0x06;
    pub const AUTH_ERROR: u16 = 0x20;
    pub const AUTH_CONTINUE: u16 = 0x21;
    pub const UNKNOWN_COMMAND: u16 = 0x81;
    pub const ENOMEM: u16 = 0x82;
}

pub use names::*;

/// The body memcached's `write_bin_error` writes for a status (empty for success and
/// for statuses memcached never sends).
pub fn text(status: u16) -> &'static str {
    match status {
        KEY_ENOENT => "Not found",
        KEY_EEXISTS => "Data exists for key.",
        E2BIG => "Too large.",
        EINVAL => "Invalid arguments",
        NOT_STORED => "Not stored.",
        DELTA_BADVAL => "Non-numeric server-side value for incr or decr",
        AUTH_ERROR => "Auth failure.",
        UNKNOWN_COMMAND => "Unknown command",
        ENOMEM => "Out of memory",
        _ => "",
    }
}
