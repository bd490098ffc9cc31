//! `memkeep load HOST:PORT < FILE`: stores a [`super::dumpfile`] dump's items in a
//! server with `ms`, each with its flags and original expiry (items expired since
//! the dump are skipped). By default an item already on the server is kept (`add`
//! semantics: the server's copy is at least as new as the dump); `--replace`
//! overwrites it.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::connect::ConnectArgs;
use super::dump::unix_now;
use super::dumpfile::{Item, Reader};
use super::raw::{meta_key, Raw};

/// Items stored per round trip.
const BATCH: usize = 100;

/// Flags of `memkeep load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The server to fill, `host:port`.
    pub server: String,
    /// Read here instead of standard input.
    #[arg(short = 'i', long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Overwrite items the server already has (default: keep them).
    #[arg(long)]
    pub replace: bool,
    /// Largest value accepted from the file, in bytes (memcached's default item
    /// size limit is 1 MiB).
    #[arg(long, default_value_t = 1 << 30)]
    pub max_value_bytes: usize,
    /// Give up when the server does not answer for this many milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// TLS and login.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Counts of a load.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// Items stored.
    pub stored: u64,
    /// Items the server already had (kept, without `--replace`).
    pub kept: u64,
    /// Items that expired since the dump.
    pub expired: u64,
    /// Items the server refused (too large, out of memory).
    pub refused: u64,
}

/// Runs the load and reports the counts on standard error.
pub fn main(args: LoadArgs) -> Result<(), String> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let loaded = match &args.input {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            load(&args, timeout, std::io::BufReader::new(file))?
        }
        None => load(&args, timeout, std::io::stdin().lock())?,
    };
    eprintln!(
        "memkeep: loaded {} items into {} ({} kept as they were, {} expired since the dump, {} refused)",
        loaded.stored, args.server, loaded.kept, loaded.expired, loaded.refused
    );
    if loaded.refused > 0 {
        return Err(format!(
            "{} items were refused by {}",
            loaded.refused, args.server
        ));
    }
    Ok(())
}

/// Stores every item of the dump read from `input`.
pub fn load(args: &LoadArgs, timeout: Duration, input: impl BufRead) -> Result<Loaded, String> {
    let mut reader = Reader::new(input, args.max_value_bytes)?;
    let security = args.connect.resolve()?;
    let mut server = Raw::connect(&args.server, timeout, &security)?;
    let mut counts = Loaded::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut read = 0u64;
    while let Some(item) = reader.next_item()? {
        read += 1;
        if item.exp != 0 && item.exp <= unix_now() {
            counts.expired += 1;
            continue;
        }
        batch.push(item);
        if batch.len() == BATCH {
            store_batch(&mut server, &batch, args.replace, &mut counts)?;
            batch.clear();
        }
    }
    store_batch(&mut server, &batch, args.replace, &mut counts)?;
    if reader.end != Some(read) {
        return Err(format!(
            "the dump says {} items but holds {read}",
            reader.end.unwrap_or(0)
        ));
    }
    Ok(counts)
}

fn store_batch(
    server: &mut Raw,
    items: &[Item],
    replace: bool,
    counts: &mut Loaded,
) -> Result<(), String> {
    // MS: set, ME: add (keep what the server has).
    let mode = if replace { "S" } else { "E" };
    for item in items {
        let (name, base64) = meta_key(&item.key);
        server.send(b"ms ")?;
        server.send(&name)?;
        // T takes an absolute unix time as memcached's exptime does (anything past
        // 30 days is absolute), so the original expiry is kept exactly.
        let line = format!(
            " {}{base64} F{} T{} M{mode}\r\n",
            item.value.len(),
            item.flags,
            item.exp
        );
        server.send(line.as_bytes())?;
        server.send(&item.value)?;
        server.send(b"\r\n")?;
    }
    server.flush()?;
    for _ in items {
        let line = server.read_line()?;
        match line.as_slice() {
            b"HD" => counts.stored += 1,
            b"NS" => counts.kept += 1,
            other if other.starts_with(b"SERVER_ERROR") => counts.refused += 1,
            other => {
                return Err(format!(
                    "unexpected reply to ms: {}",
                    String::from_utf8_lossy(other)
                ))
            }
        }
    }
    Ok(())
}
