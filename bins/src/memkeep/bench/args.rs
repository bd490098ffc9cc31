//! `memkeep bench`'s flags and the parsing of their values.

use std::time::Duration;

use super::keys::KeySize;
use super::wire::{Protocol, ReplyDecoder};
use crate::memkeep::connect::ConnectArgs;

/// `memkeep bench` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The server, `host:port`. Loopback only: this tool sends no traffic elsewhere.
    #[arg(short, long, default_value = "127.0.0.1:11211")]
    pub server: String,
    /// Wire protocol.
    #[arg(short = 'P', long, value_enum, default_value = "text")]
    pub protocol: Protocol,
    /// Client threads (each with its share of the connections).
    #[arg(short, long, default_value_t = 1)]
    pub threads: usize,
    /// Connections in all.
    #[arg(short, long, default_value_t = 8)]
    pub connections: usize,
    /// Operations written per batch on each connection (1: no pipelining).
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Gets to sets, `GETS:SETS` (e.g. 9:1, 1:1, 1:0).
    #[arg(long, default_value = "9:1", value_parser = parse_ratio)]
    pub ratio: f64,
    /// Keys per get: text sends `get k1 k2 ...`, meta and binary a run of single gets.
    #[arg(long, default_value_t = 1)]
    pub multiget: usize,
    /// Number of distinct keys.
    #[arg(short, long, default_value_t = 100_000)]
    pub keys: u64,
    /// Key length in bytes, `N` or `MIN-MAX`.
    #[arg(long, default_value = "16")]
    pub key_size: KeySize,
    /// Which keys are asked for.
    #[arg(long, value_enum, default_value = "uniform")]
    pub distribution: Distribution,
    /// Exponent of the Zipf distribution (larger: fewer, hotter keys).
    #[arg(long, default_value_t = 0.99)]
    pub zipf_exponent: f64,
    /// Bytes per stored value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Stop after this long (`10`, `10s`, `500ms`, `2m`). Default 10 s when no
    /// `--requests` is given.
    #[arg(short, long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many operations (whichever of this and --duration comes first).
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Store every key once before measuring.
    #[arg(long)]
    pub preload: bool,
    /// Only preload, measure nothing (to load a server, e.g. for memory figures).
    #[arg(long)]
    pub preload_only: bool,
    /// How replies are read: the lean framing scanner, or the protocol crate's
    /// full `decode_response`.
    #[arg(long, value_enum, default_value = "lean")]
    pub decoder: ReplyDecoder,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Seed of the key and operation choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hold the load at this many operations per second in all (open loop: each
    /// connection starts its batches on a fixed schedule, and latency counts from
    /// the scheduled start, so a stalled server is not hidden by a stalled client).
    /// Unbounded when absent.
    #[arg(long, value_name = "OPS")]
    pub rate: Option<f64>,
    /// TLS and login, on every connection before the run.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Which keys a workload asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Distribution {
    /// Every key equally often.
    Uniform,
    /// A few hot keys, a long tail (see --zipf-exponent).
    Zipf,
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    let (g, st) = s.split_once(':').ok_or("expected GETS:SETS, e.g. 9:1")?;
    let parse = |t: &str| {
        t.trim()
            .parse::<f64>()
            .map_err(|_| format!("bad ratio {s:?}"))
    };
    let (g, st) = (parse(g)?, parse(st)?);
    if g < 0.0 || st < 0.0 || g + st <= 0.0 {
        return Err(format!("bad ratio {s:?}"));
    }
    Ok(g / (g + st))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = number.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("bad duration {s:?}"))
}

/// How often each connection starts a batch to hold `rate` operations per second.
pub(super) fn batch_interval(
    rate: Option<f64>,
    connections: usize,
    pipeline: usize,
) -> Result<Option<Duration>, String> {
    let Some(rate) = rate else {
        return Ok(None);
    };
    if !(rate.is_finite() && rate > 0.0) {
        return Err(format!(
            "bad rate {rate}: give operations per second above 0"
        ));
    }
    let seconds = (connections * pipeline) as f64 / rate;
    Duration::try_from_secs_f64(seconds)
        .map(Some)
        .map_err(|_| format!("bad rate {rate}"))
}
