//! `memkeep dump HOST:PORT > FILE`: every item of a server, in the format of
//! [`super::dumpfile`]. Keys come from `lru_crawler metadump all` (memcached 1.6
//! and memkeepd both have it), values with their flags and remaining TTL from `mg`,
//! a batch of keys at a time, so memory stays small whatever the server holds.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Args;
use memkeep_protocol::MetadumpEntry;

use super::connect::{ConnectArgs, Security};
use super::dumpfile::{self, Item};
use super::raw::{meta_key, Raw};

/// Keys fetched per round trip.
const BATCH: usize = 100;

/// Flags of `memkeep dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The server to read, `host:port`.
    pub server: String,
    /// Write here instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Give up when the server does not answer for this many milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// TLS and login.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Counts of a dump.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dumped {
    /// Items written.
    pub items: u64,
    /// Keys listed by the metadump but gone (expired, evicted, deleted) by the
    /// time their value was read.
    pub vanished: u64,
}

/// Runs the dump and reports the counts on standard error.
pub fn main(args: DumpArgs) -> Result<(), String> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let security = args.connect.resolve()?;
    let dumped = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let dumped = dump(&args.server, timeout, &security, &mut out)?;
            out.flush()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            dumped
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let dumped = dump(&args.server, timeout, &security, &mut out)?;
            out.flush().map_err(|e| format!("standard output: {e}"))?;
            dumped
        }
    };
    eprintln!(
        "memkeep: dumped {} items from {} ({} listed keys were gone before they were read)",
        dumped.items, args.server, dumped.vanished
    );
    Ok(())
}

/// Writes every item of `server` to `out`.
pub fn dump(
    server: &str,
    timeout: Duration,
    security: &Security,
    out: &mut impl Write,
) -> Result<Dumped, String> {
    let write_error = |e: std::io::Error| format!("cannot write the dump: {e}");
    let mut crawl = Raw::connect(server, timeout, security)?;
    let mut fetch = Raw::connect(server, timeout, security)?;
    crawl.send(b"lru_crawler metadump all\r\n")?;
    crawl.flush()?;
    dumpfile::write_header(out, server, unix_now()).map_err(write_error)?;
    let mut counts = Dumped::default();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let line = crawl.read_line()?;
        if line == b"END" {
            break;
        }
        let Some(entry) = MetadumpEntry::parse(&line) else {
            return Err(format!(
                "{server} refused the metadump: {}",
                String::from_utf8_lossy(&line)
            ));
        };
        batch.push(entry.key);
        if batch.len() == BATCH {
            fetch_batch(&mut fetch, &batch, out, &mut counts)?;
            batch.clear();
        }
    }
    fetch_batch(&mut fetch, &batch, out, &mut counts)?;
    dumpfile::write_end(out, counts.items).map_err(write_error)?;
    Ok(counts)
}

/// Reads the values of `keys` (pipelined `mg`) and writes those still there.
fn fetch_batch(
    fetch: &mut Raw,
    keys: &[Bytes],
    out: &mut impl Write,
    counts: &mut Dumped,
) -> Result<(), String> {
    for key in keys {
        let (name, base64) = meta_key(key);
        fetch.send(b"mg ")?;
        fetch.send(&name)?;
        // v: value, f: flags, t: remaining TTL; u: leave the LRU order alone.
        fetch.send(format!("{base64} v f t u\r\n").as_bytes())?;
    }
    fetch.flush()?;
    let now = unix_now();
    for key in keys {
        let line = fetch.read_line()?;
        if line == b"EN" {
            counts.vanished += 1;
            continue;
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        let bad = || format!("unexpected reply to mg: {text}");
        let mut tokens = text.split(' ');
        if tokens.next() != Some("VA") {
            return Err(bad());
        }
        let len: usize = tokens.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let (mut flags, mut ttl) = (0u32, -1i64);
        for token in tokens {
            match token.split_at(1) {
                ("f", n) => flags = n.parse().map_err(|_| bad())?,
                ("t", n) => ttl = n.parse().map_err(|_| bad())?,
                _ => {}
            }
        }
        let value = fetch.read_block(len)?;
        let exp = match ttl {
            -1 => 0,
            // Expires within the second: not worth copying.
            t if t <= 0 => {
                counts.vanished += 1;
                continue;
            }
            t => now + t as u64,
        };
        dumpfile::write_item(
            out,
            &Item {
                key: key.clone(),
                flags,
                exp,
                value: value.into(),
            },
        )
        .map_err(|e| format!("cannot write the dump: {e}"))?;
        counts.items += 1;
    }
    Ok(())
}

/// Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
