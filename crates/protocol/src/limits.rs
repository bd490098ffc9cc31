//! Limits the decoders enforce before buffering, so a client cannot make the server
//! hold unbounded memory.

/// Bounds on what one request may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest key in bytes (memcached: 250).
    pub max_key_len: usize,
    /// Longest command line in bytes, CRLF included, for anything but a multi-key get.
    pub max_line_len: usize,
    /// Largest value in bytes (memcached's `-I`, 1 MiB by default).
    pub max_value_len: usize,
    /// Most keys in one multi-key get; bounds the line of a multi-get too.
    pub max_keys: usize,
}

impl Limits {
    /// memcached's key length limit.
    pub const MAX_KEY_LEN: usize = 250;

    /// The longest multi-get line these limits allow: every key at full length.
    pub fn max_multiget_line(&self) -> usize {
        16 + self.max_keys * (self.max_key_len + 1)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_key_len: Self::MAX_KEY_LEN,
            max_line_len: 2048,
            max_value_len: 1024 * 1024,
            max_keys: 100_000,
        }
    }
}
