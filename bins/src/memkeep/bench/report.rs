//! A benchmark's results: one serialisable report, printed as a table for people or
//! as one JSON object (`--json`) for scripts.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::connection::Tally;
use super::wire::{Protocol, ReplyDecoder};

/// Everything a run measured, with the workload that produced it.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The workload.
    pub workload: Workload,
    /// The preload phase, when there was one.
    pub preload: Option<Preload>,
    /// Operations completed in the measured phase (a multi-get counts once).
    pub requests: u64,
    /// Retrieval operations.
    pub gets: u64,
    /// Keys asked for by retrievals.
    pub get_keys: u64,
    /// Keys found.
    pub hits: u64,
    /// Keys not found.
    pub misses: u64,
    /// hits / get_keys; `null` without retrievals.
    pub hit_ratio: Option<f64>,
    /// Store operations.
    pub sets: u64,
    /// Error replies and unanswered operations.
    pub errors: u64,
    /// The first failure seen, if any.
    pub first_error: Option<String>,
    /// Length of the measured phase in seconds.
    pub elapsed_s: f64,
    /// requests / elapsed_s.
    pub requests_per_s: f64,
    /// Keys handled per second (a 16-key multi-get counts 16).
    pub keys_per_s: f64,
    /// Per-operation latency, microseconds.
    pub latency_us: Latency,
    /// This process's user + system CPU seconds during the measured phase.
    pub client_cpu_s: f64,
    /// client_cpu_s per completed request, in microseconds.
    pub client_cpu_us_per_request: f64,
    /// The user-space part of it: what the tool itself computes.
    pub client_user_us_per_request: f64,
    /// The kernel part: sending on loopback runs the receiver's TCP path too.
    pub client_sys_us_per_request: f64,
}

/// CPU time of this process, split as getrusage reports it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    /// User time.
    pub user: Duration,
    /// System time.
    pub system: Duration,
}

impl Cpu {
    /// The CPU used since `earlier`.
    pub fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// The workload as run.
#[derive(Debug, Serialize)]
pub struct Workload {
    /// `host:port`.
    pub target: String,
    /// Wire dialect.
    pub protocol: Protocol,
    /// Reply decoder.
    pub decoder: ReplyDecoder,
    /// Client threads.
    pub threads: usize,
    /// Connections in all.
    pub connections: usize,
    /// Operations per batch per connection.
    pub pipeline: usize,
    /// Share of operations that are retrievals.
    pub get_fraction: f64,
    /// Keys per retrieval.
    pub multiget: usize,
    /// Size of the key space.
    pub keys: u64,
    /// Key lengths, `MIN-MAX`.
    pub key_size: String,
    /// `uniform` or `zipf:<exponent>`.
    pub distribution: String,
    /// Bytes per stored value.
    pub value_size: usize,
    /// Whether the connections spoke TLS.
    pub tls: bool,
}

/// What the preload did.
#[derive(Debug, Serialize)]
pub struct Preload {
    /// Items stored.
    pub items: u64,
    /// Errors while storing.
    pub errors: u64,
    /// Seconds it took.
    pub elapsed_s: f64,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    /// Reads the percentiles from a histogram of nanoseconds.
    pub fn from_nanos(h: &Histogram<u64>) -> Latency {
        let us = |ns: u64| ns as f64 / 1000.0;
        if h.is_empty() {
            return Latency {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p99_9: 0.0,
                max: 0.0,
                mean: 0.0,
            };
        }
        Latency {
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p99_9: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

impl Report {
    /// Puts the figures together.
    pub fn new(
        workload: Workload,
        preload: Option<Preload>,
        tally: &Tally,
        latency: &Histogram<u64>,
        elapsed: Duration,
        client_cpu: Cpu,
    ) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let keys_done = tally.get_keys + tally.sets;
        let per_request = |d: Duration| {
            if tally.ops == 0 {
                0.0
            } else {
                d.as_secs_f64() * 1e6 / tally.ops as f64
            }
        };
        let hit_ratio = (tally.get_keys > 0).then(|| tally.hits as f64 / tally.get_keys as f64);
        Report {
            workload,
            preload,
            requests: tally.ops,
            gets: tally.gets,
            get_keys: tally.get_keys,
            hits: tally.hits,
            misses: tally.get_keys.saturating_sub(tally.hits),
            hit_ratio,
            sets: tally.sets,
            errors: tally.errors,
            first_error: tally.first_error.clone(),
            elapsed_s: elapsed.as_secs_f64(),
            requests_per_s: tally.ops as f64 / secs,
            keys_per_s: keys_done as f64 / secs,
            latency_us: Latency::from_nanos(latency),
            client_cpu_s: (client_cpu.user + client_cpu.system).as_secs_f64(),
            client_cpu_us_per_request: per_request(client_cpu.user + client_cpu.system),
            client_user_us_per_request: per_request(client_cpu.user),
            client_sys_us_per_request: per_request(client_cpu.system),
        }
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let w = &self.workload;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "memkeep bench {} {:?}{} ({:?} decoder): {} thread(s), {} connection(s), pipeline {}",
            w.target,
            w.protocol,
            if w.tls { " over TLS" } else { "" },
            w.decoder,
            w.threads,
            w.connections,
            w.pipeline
        );
        let _ = writeln!(
            s,
            "  workload     {:.0}% gets of {} key(s), {} keys of {} B ({}), {} B values",
            w.get_fraction * 100.0,
            w.multiget,
            w.keys,
            w.key_size,
            w.distribution,
            w.value_size
        );
        if let Some(p) = &self.preload {
            let _ = writeln!(
                s,
                "  preload      {} items in {:.2} s, {} errors",
                p.items, p.elapsed_s, p.errors
            );
        }
        let _ = writeln!(
            s,
            "  requests     {} in {:.2} s: {:.0} req/s, {:.0} keys/s",
            self.requests, self.elapsed_s, self.requests_per_s, self.keys_per_s
        );
        let l = &self.latency_us;
        let _ = writeln!(
            s,
            "  latency us   p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  mean {:.1}",
            l.p50, l.p90, l.p99, l.p99_9, l.max, l.mean
        );
        let ratio = self
            .hit_ratio
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
        let _ = writeln!(
            s,
            "  gets         {} ({} keys, {} hits, hit ratio {})   sets {}",
            self.gets, self.get_keys, self.hits, ratio, self.sets
        );
        let _ = writeln!(s, "  errors       {}", self.errors);
        if let Some(e) = &self.first_error {
            let _ = writeln!(s, "  first error  {e}");
        }
        let _ = writeln!(
            s,
            "  client CPU   {:.2} s, {:.2} us/request (user {:.2}, system {:.2})",
            self.client_cpu_s,
            self.client_cpu_us_per_request,
            self.client_user_us_per_request,
            self.client_sys_us_per_request
        );
        s
    }
}
