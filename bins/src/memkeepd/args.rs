//! memkeepd's command line: memcached 1.6.18's flags, read as memcached reads them
//! (C's `atoi` for numbers, the last of a repeated flag wins, `-l` and `-o`
//! accumulate) and refused where memcached refuses them, with memcached's words, so
//! existing command lines, systemd units and init scripts keep working.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

use super::c_numbers::{atof, atoi, atoi_int, octal_prefix};
use super::extended::Extended;

/// memcached's default port.
pub const DEFAULT_PORT: u16 = 11211;

/// Where memkeepd listens unless -l says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1";

pub use memkeep_protocol::Binding;

/// A drop-in memcached server with replication.
///
/// memkeepd takes memcached's flags, read as memcached reads them. Unlike memcached it
/// listens on 127.0.0.1 unless -l says otherwise, so a cache is never exposed to the
/// network by accident. Repeat a flag and the last one counts (-l and -o add up).
#[derive(Debug, Parser)]
#[command(
    name = "memkeepd",
    version = memkeep_server::cache::VERSION,
    disable_version_flag = true,
    args_override_self = true,
    allow_negative_numbers = true
)]
pub struct Args {
    /// TCP port to listen on.
    #[arg(short = 'p', long = "port", default_value_t = DEFAULT_PORT, value_parser = port_number)]
    pub port: u16,
    /// UDP port; memkeepd does not serve UDP, so only 0 (off) is accepted.
    #[arg(short = 'U', long = "udp-port", default_value_t = 0, value_parser = port_number)]
    pub udp_port: u16,
    /// Unix socket path to listen on (disables TCP, as in memcached).
    #[arg(short = 's', long = "unix-socket")]
    pub unix_socket: Option<PathBuf>,
    /// Access mode of the Unix socket, in octal (700: only the owner may connect).
    #[arg(short = 'a', long = "unix-mask", default_value = "700", value_parser = octal_mask)]
    pub unix_mask: u32,
    /// Allow the `shutdown` command.
    #[arg(short = 'A', long = "enable-shutdown")]
    pub enable_shutdown: bool,
    /// Interface to listen on, or several comma separated; repeat -l for more
    /// [default: 127.0.0.1].
    #[arg(short = 'l', long = "listen", action = ArgAction::Append)]
    pub listen: Vec<String>,
    /// Run as a daemon (detach from the terminal).
    #[arg(short = 'd', long = "daemon")]
    pub daemon: bool,
    /// Raise the core file size limit, so a crash leaves a core dump.
    #[arg(short = 'r', long = "enable-coredumps")]
    pub enable_coredumps: bool,
    /// Drop privileges to this user after binding.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Item memory in megabytes.
    #[arg(short = 'm', long = "memory-limit", default_value = "64", value_parser = atoi_value)]
    pub memory_limit: i64,
    /// Return an error when memory is exhausted instead of evicting items.
    #[arg(short = 'M', long = "disable-evictions")]
    pub disable_evictions: bool,
    /// Maximum simultaneous connections; clients beyond it get
    /// "ERROR Too many open connections" and are closed.
    #[arg(short = 'c', long = "conn-limit", default_value = "1024", value_parser = connections)]
    pub conn_limit: usize,
    /// Lock all of the process's memory (mlockall): items are never swapped out.
    #[arg(short = 'k', long = "lock-memory")]
    pub lock_memory: bool,
    /// Verbose logging; -vv more verbose, -vvv the most (RUST_LOG overrides).
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,
    /// Print the license and exit.
    #[arg(short = 'i', long = "license")]
    pub license: bool,
    /// Write the process id to this file.
    #[arg(short = 'P', long = "pidfile")]
    pub pidfile: Option<PathBuf>,
    /// Slab growth factor, above 1 (checked, not used: memkeepd has no slabs).
    #[arg(short = 'f', long = "slab-growth-factor", value_parser = growth_factor)]
    pub slab_growth_factor: Option<f64>,
    /// Minimum slab chunk size (checked, not used: memkeepd has no slabs; bounds
    /// -o slab_sizes as in memcached).
    #[arg(short = 'n', long = "slab-min-size", default_value = "48", value_parser = chunk_size)]
    pub slab_min_size: i32,
    /// Large memory pages (accepted: memkeepd leaves huge pages to the kernel's
    /// transparent huge pages).
    #[arg(short = 'L', long = "enable-largepages")]
    pub enable_largepages: bool,
    /// What ends a key's prefix in `stats detail` (`:` by default; memcached reads
    /// the first byte of the argument).
    #[arg(short = 'D', value_name = "CHAR", value_parser = delimiter)]
    pub prefix_delimiter: Option<u8>,
    /// Worker threads.
    #[arg(short = 't', long = "threads", default_value = "4", value_parser = threads)]
    pub threads: usize,
    /// Requests per event (checked, not used: memkeepd batches per read).
    #[arg(short = 'R', long = "max-reqs-per-event", value_parser = reqs_per_event)]
    pub max_reqs_per_event: Option<i64>,
    /// Disable CAS: every CAS unique reads 0 and `cas` fails as in memcached -C.
    #[arg(short = 'C', long = "disable-cas")]
    pub disable_cas: bool,
    /// Listen backlog.
    #[arg(short = 'b', long = "listen-backlog", default_value = "1024", value_parser = atoi_int_value)]
    pub backlog: i32,
    /// Protocols to accept: auto (text, meta and binary), ascii (text and meta) or
    /// binary.
    #[arg(short = 'B', long = "protocol", value_parser = binding)]
    pub protocol: Option<Binding>,
    /// Largest item, in bytes or with a k or m suffix (1k to 1024m, at most half of
    /// -m, a multiple of 512k unless -o slab_chunk_max says otherwise).
    #[arg(short = 'I', long = "max-item-size", default_value = "1m", value_parser = item_size)]
    pub max_item_size: i32,
    /// SASL PLAIN for binary clients; users from -Y FILE, else from the file
    /// MEMCACHED_SASL_PWDB names.
    #[arg(short = 'S', long = "enable-sasl")]
    pub enable_sasl: bool,
    /// Refuse `flush_all` (CLIENT_ERROR flush_all not allowed).
    #[arg(short = 'F', long = "disable-flush-all")]
    pub disable_flush_all: bool,
    /// -X alone: memcached's --disable-dumping (refuse `lru_crawler metadump` and
    /// `stats cachedump`). -X PORT: repcached's replication port (listen here for
    /// the peer's link).
    #[arg(short = 'X', long = "replication-port", value_name = "PORT", num_args = 0..=1, default_missing_value = "")]
    pub x_flag: Option<String>,
    /// Refuse `lru_crawler metadump` and `stats cachedump` (memcached's -X).
    #[arg(long = "disable-dumping")]
    pub disable_dumping: bool,
    /// Refuse `watch` (live logging) as memcached does.
    #[arg(short = 'W', long = "disable-watch")]
    pub disable_watch: bool,
    /// ASCII authentication: `user:password` lines; clients send `set <any> 0 0 <len>`
    /// with `user password` as the value before anything else.
    #[arg(short = 'Y', long = "auth-file")]
    pub auth_file: Option<PathBuf>,
    /// Warm restart: save the cache to FILE on an orderly stop (SIGTERM, SIGINT,
    /// SIGUSR1, `shutdown`) and restore it at the next start (memcached's restartable
    /// cache file).
    #[arg(short = 'e', long = "memory-file", value_name = "FILE")]
    pub memory_file: Option<PathBuf>,
    /// Serve TLS on every TCP listener (certificates from -o ssl_chain_cert=FILE,
    /// ssl_key=FILE; client certificates with ssl_ca_cert=FILE, ssl_verify_mode=N).
    #[arg(short = 'Z', long = "enable-ssl")]
    pub enable_ssl: bool,
    /// Extended options, comma separated, repeatable: idle_timeout=SECONDS,
    /// request_timeout=SECONDS (close a connection whose request stays incomplete this
    /// long; 60 by default, 0 never), ssl_* (see -Z), and every other memcached
    /// option, checked as memcached checks it; those that tune memcached's slabs, LRU,
    /// hash table or external storage have nothing to tune here and do nothing.
    #[arg(short = 'o', long = "extended", action = ArgAction::Append)]
    pub extended: Vec<String>,
    /// NAPI ids for memcached's thread selection (checked, not used).
    #[arg(short = 'N', long = "napi-ids", value_parser = napi_ids)]
    pub napi_ids: Option<i64>,
    /// Replication peer (repcached's -x): HOST or HOST:PORT (the port defaults to -X,
    /// else 11212). Both nodes of the pair take writes. Repeat it (or give a comma
    /// list) to link with several peers: a group where every node takes writes.
    #[arg(short = 'x', long = "replication-peer", action = ArgAction::Append, value_delimiter = ',')]
    pub replication_peer: Vec<String>,
    /// Follow a primary's replication port (HOST:PORT) as a read replica.
    #[arg(long = "replica-of")]
    pub replica_of: Option<String>,
    /// Replication backlog in megabytes: how far a link may fall behind, or a peer
    /// stay away, and still resume without a full copy.
    #[arg(long = "replication-backlog-mb", default_value_t = 64)]
    pub replication_backlog_mb: usize,
    /// Most megabytes per second a full copy to a peer sends (0: as fast as it can).
    /// A full-speed copy takes a core and the link from the clients for its duration.
    #[arg(long = "replication-copy-mbps", default_value_t = 0)]
    pub replication_copy_mbps: u64,
    /// Mutual TLS on replication links: this node's certificate chain, PEM (with
    /// --replication-tls-key and --replication-tls-ca).
    #[arg(long = "replication-tls-cert", value_name = "FILE", requires_all = ["replication_tls_key", "replication_tls_ca"])]
    pub replication_tls_cert: Option<PathBuf>,
    /// The private key of --replication-tls-cert, PEM.
    #[arg(
        long = "replication-tls-key",
        value_name = "FILE",
        requires = "replication_tls_cert"
    )]
    pub replication_tls_key: Option<PathBuf>,
    /// The CA that signs every node's replication certificate, PEM: links from or to
    /// a node without one are refused.
    #[arg(
        long = "replication-tls-ca",
        value_name = "FILE",
        requires = "replication_tls_cert"
    )]
    pub replication_tls_ca: Option<PathBuf>,
    /// Serve /metrics, /status, /healthz and a status page over HTTP on PORT
    /// (127.0.0.1) or ADDR:PORT. Off unless given.
    #[arg(long = "admin", value_name = "ADDR:PORT")]
    pub admin: Option<String>,
    /// Print the version and exit.
    #[arg(short = 'V', long = "version", action = ArgAction::Version)]
    pub version: (),
}

impl Args {
    /// Checks what the value parsers cannot see alone (flags that depend on each
    /// other), in memcached's order and words, and reads `-o`.
    pub fn validate(&self) -> Result<Extended, String> {
        if self.memory_limit < 0 {
            // memcached turns a negative -m into an unlimited size_t.
            return Err(format!(
                "-m {}: the memory limit cannot be negative",
                self.memory_limit
            ));
        }
        let mut extended = Extended::parse(&self.extended)?;
        if let Some(napi) = self.napi_ids {
            if napi > self.threads as i64 {
                return Err(format!(
                    "Number of napi_ids({napi}) cannot be greater than number of threads({})",
                    self.threads
                ));
            }
        }
        extended.check_with(
            self.max_item_size,
            self.memory_bytes() as u64,
            self.slab_min_size,
            self.threads,
        )?;
        if self.enable_sasl && self.protocol.is_some_and(|b| b != Binding::Binary) {
            return Err("ERROR: You cannot allow the ASCII protocol while using SASL.".into());
        }
        if self.auth_file.is_some() && self.protocol.is_some_and(|b| b != Binding::Ascii) {
            return Err(
                "ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens."
                    .into(),
            );
        }
        if self.udp_port != 0 {
            return Err("UDP is not supported by memkeepd: use -U 0 (the default)".into());
        }
        if self.enable_ssl && self.port == 0 && self.unix_socket.is_none() {
            return Err("ERROR: You cannot enable SSL without a TCP port.".into());
        }
        if let Some(x) = self.x_flag.as_deref().filter(|x| !x.is_empty()) {
            x.parse::<u16>()
                .map_err(|_| format!("-X {x}: a replication port (or -X alone: no dumping)"))?;
        }
        Ok(extended)
    }

    /// Item memory in bytes.
    pub fn memory_bytes(&self) -> usize {
        let megabytes = u64::try_from(self.memory_limit).unwrap_or(0);
        usize::try_from(megabytes.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    /// The largest item in bytes (validated positive).
    pub fn item_size_max(&self) -> usize {
        usize::try_from(self.max_item_size).unwrap_or(0)
    }

    /// Every `-l` address, comma separated, each once (memcached keeps the first of
    /// a repeated one); 127.0.0.1 when none is given.
    pub fn listen(&self) -> String {
        let mut addresses: Vec<&str> = Vec::new();
        for address in self.listen.iter().flat_map(|l| l.split(',')) {
            let address = address.trim();
            if !address.is_empty() && !addresses.contains(&address) {
                addresses.push(address);
            }
        }
        if addresses.is_empty() {
            DEFAULT_LISTEN.to_owned()
        } else {
            addresses.join(",")
        }
    }

    /// The replication port (`-X PORT`).
    pub fn replication_port(&self) -> Option<u16> {
        self.x_flag.as_deref().and_then(|x| x.parse().ok())
    }

    /// Whether `lru_crawler metadump` and `stats cachedump` are refused (`-X` alone
    /// or `--disable-dumping`).
    pub fn dumping_disabled(&self) -> bool {
        self.disable_dumping || self.x_flag.as_deref() == Some("")
    }

    /// The protocols connections may speak.
    pub fn binding(&self) -> Binding {
        self.protocol.unwrap_or(Binding::Auto)
    }
}

/// The text `-i` prints.
pub fn license() -> String {
    format!(
        "memkeepd {}\n\nLicensed under the Apache License, Version 2.0: \
         https://www.apache.org/licenses/LICENSE-2.0\n\
         memkeepd contains no memcached code; it speaks memcached's protocols and takes \
         its flags.\n",
        memkeep_server::cache::VERSION
    )
}

fn atoi_value(text: &str) -> Result<i64, String> {
    Ok(atoi(text))
}

fn atoi_int_value(text: &str) -> Result<i32, String> {
    Ok(atoi_int(text))
}

fn port_number(text: &str) -> Result<u16, String> {
    let port = atoi_int(text);
    u16::try_from(port).map_err(|_| format!("ERROR: Invalid port number {port}."))
}

fn octal_mask(text: &str) -> Result<u32, String> {
    Ok(octal_prefix(text))
}

fn connections(text: &str) -> Result<usize, String> {
    usize::try_from(atoi_int(text))
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| "Maximum connections must be greater than 0".into())
}

fn threads(text: &str) -> Result<usize, String> {
    usize::try_from(atoi_int(text))
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| "Number of threads must be greater than 0".into())
}

fn reqs_per_event(text: &str) -> Result<i64, String> {
    match atoi_int(text) {
        0 => Err("Number of requests per event must be greater than 0".into()),
        n => Ok(n.into()),
    }
}

fn growth_factor(text: &str) -> Result<f64, String> {
    let factor = atof(text);
    if factor > 1.0 {
        Ok(factor)
    } else {
        Err("Factor must be greater than 1".into())
    }
}

fn chunk_size(text: &str) -> Result<i32, String> {
    match atoi_int(text) {
        0 => Err("Chunk size must be greater than 0".into()),
        n => Ok(n),
    }
}

fn delimiter(text: &str) -> Result<u8, String> {
    text.bytes()
        .next()
        .ok_or_else(|| "No delimiter specified".into())
}

fn napi_ids(text: &str) -> Result<i64, String> {
    match atoi_int(text) {
        n if n > 0 => Ok(n.into()),
        _ => Err("Maximum number of NAPI IDs must be greater than 0".into()),
    }
}

fn binding(text: &str) -> Result<Binding, String> {
    match text {
        "auto" => Ok(Binding::Auto),
        "ascii" => Ok(Binding::Ascii),
        "binary" => Ok(Binding::Binary),
        _ => Err(format!(
            "Invalid value for binding protocol: {text}\n -- should be one of auto, binary, or ascii"
        )),
    }
}

/// memcached's `-I`: a last character k/K or m/M multiplies, the rest is read with
/// `atoi`, all in a C `int` (so `2048m` wraps and is refused as too small). The
/// limits are checked with `-m` and `slab_chunk_max` in [`Extended::check_with`].
fn item_size(text: &str) -> Result<i32, String> {
    let (number, unit) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 1024),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    Ok(atoi_int(number).wrapping_mul(unit))
}

#[cfg(test)]
mod tests;
