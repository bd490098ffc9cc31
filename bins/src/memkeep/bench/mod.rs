//! `memkeep bench`: a memcached load generator in the spirit of memtier_benchmark,
//! built to cost little per request because it shares the machine with the server
//! it measures.
//!
//! Each client thread runs a single-threaded tokio runtime with its share of the
//! connections, all polled from one task; every connection is a closed loop of pipelined batches (see
//! [`connection`]). Threads meet at barriers so connecting and preloading stay out of
//! the measured phase, whose CPU time (getrusage) is reported per request.

mod args;
mod connection;
mod keys;
mod progress;
mod report;
mod wire;

use std::cell::RefCell;
use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;

use args::batch_interval;
pub use args::{BenchArgs, Distribution};
use connection::{Budget, Connection, Opening, Plan, Source, Tally};
use keys::{KeyChooser, KeySpace, Rng, Zipf};
use progress::{Bounds, Phase, Progress};
pub use report::Report;
use report::{Cpu, Preload, Workload};
pub use wire::{Protocol, ReplyDecoder};

/// Runs the command: prints the table or JSON, fails only when it could not run.
pub fn main(args: BenchArgs) -> Result<(), String> {
    let json = args.json;
    let report = run(args)?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// What the threads share while running.
struct Shared {
    plan: Plan,
    opening: Opening,
    budget: Budget,
    duration: Option<Duration>,
    preload: bool,
    measure: bool,
    barrier: Barrier,
    failed: AtomicBool,
    /// What the progress bars show.
    progress: Progress,
    marks: Mutex<Marks>,
}

/// Times and CPU readings taken at phase boundaries.
#[derive(Default)]
struct Marks {
    preload_start: Option<Instant>,
    preload_end: Option<Instant>,
    start: Option<(Instant, Cpu)>,
    connect_error: Option<String>,
}

/// What one thread brings back.
struct ThreadResult {
    preload: Tally,
    run: Tally,
    latency: Histogram<u64>,
    finished: Instant,
}

/// Runs the benchmark and returns its report.
pub fn run(args: BenchArgs) -> Result<Report, String> {
    let addr = loopback_target(&args.server)?;
    if args.connections == 0 || args.threads == 0 || args.pipeline == 0 || args.multiget == 0 {
        return Err("connections, threads, pipeline and multiget must be at least 1".into());
    }
    if args.keys == 0 {
        return Err("--keys must be at least 1".into());
    }
    let threads = args.threads.min(args.connections);
    let security = args.connect.resolve()?;
    let opening = Opening {
        tls_name: crate::tls::server_name(&args.server)?,
        // A text `version` first would pin a binary connection to text on stock
        // memcached, which picks a connection's protocol from its first byte: binary
        // connections skip it unless they log in (SASL).
        exchange: security.login.is_some() || args.protocol != Protocol::Binary,
        security,
    };
    let measure = !args.preload_only;
    let duration = match (args.duration, args.requests) {
        (None, None) if measure => Some(Duration::from_secs(10)),
        (d, _) => d,
    };
    if !KeySpace::fits(args.keys, args.key_size) {
        return Err(format!(
            "--keys {}: too many keys of up to {} bytes for one run (4 GiB of keys)",
            args.keys, args.key_size.max
        ));
    }
    let chooser = match args.distribution {
        Distribution::Uniform => KeyChooser::Uniform(args.keys),
        Distribution::Zipf if args.zipf_exponent > 0.0 => {
            KeyChooser::Zipf(Zipf::new(args.keys, args.zipf_exponent))
        }
        Distribution::Zipf => return Err("--zipf-exponent must be above 0".into()),
    };
    let workload = Workload {
        target: addr.to_string(),
        protocol: args.protocol,
        decoder: args.decoder,
        threads,
        connections: args.connections,
        pipeline: args.pipeline,
        get_fraction: args.ratio,
        multiget: args.multiget,
        keys: args.keys,
        key_size: format!("{}-{}", args.key_size.min, args.key_size.max),
        distribution: match args.distribution {
            Distribution::Uniform => "uniform".into(),
            Distribution::Zipf => format!("zipf:{}", args.zipf_exponent),
        },
        value_size: args.value_size,
        tls: opening.security.tls.is_some(),
    };
    let shared = Arc::new(Shared {
        plan: Plan {
            protocol: args.protocol,
            decoder: args.decoder,
            pipeline: args.pipeline,
            get_threshold: (args.ratio * u64::MAX as f64) as u64,
            multiget: args.multiget,
            keys: KeySpace::new(args.keys, args.key_size),
            chooser,
            value: (0..args.value_size)
                .map(|i| b'a' + (i % 26) as u8)
                .collect(),
            pace: batch_interval(args.rate, args.connections, args.pipeline)?,
        },
        opening,
        budget: Budget::new(args.requests),
        duration,
        preload: args.preload || args.preload_only,
        measure,
        barrier: Barrier::new(threads),
        failed: AtomicBool::new(false),
        progress: Progress::default(),
        marks: Mutex::new(Marks::default()),
    });
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            // Connection c belongs to thread c % threads.
            let mine: Vec<usize> = (t..args.connections).step_by(threads).collect();
            let shared = shared.clone();
            let seed = args.seed;
            let total = args.connections;
            std::thread::Builder::new()
                .name(format!("bench-{t}"))
                .spawn(move || worker(&shared, addr, &mine, total, seed))
                .map_err(|e| format!("cannot start a thread: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    if show_progress {
        let bounds = Bounds {
            preload: shared.preload.then(|| shared.plan.keys.count()),
            requests: args.requests,
            duration,
            measure,
        };
        progress::show(&shared.progress, &handles, bounds);
    }
    let results: Vec<ThreadResult> = handles
        .into_iter()
        .map(|h| h.join().map_err(|_| "a bench thread panicked".to_owned()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let cpu_end = cpu_time();
    let marks = shared.marks.lock().expect("marks lock");
    if let Some(e) = &marks.connect_error {
        return Err(e.clone());
    }
    let mut preload_tally = Tally::default();
    let mut run_tally = Tally::default();
    let mut latency = new_histogram();
    let mut finished = None::<Instant>;
    for r in &results {
        preload_tally.merge(&r.preload);
        run_tally.merge(&r.run);
        latency.add(&r.latency).map_err(|e| e.to_string())?;
        finished = Some(finished.map_or(r.finished, |f| f.max(r.finished)));
    }
    let preload = match (marks.preload_start, marks.preload_end) {
        (Some(a), Some(b)) => Some(Preload {
            items: preload_tally.sets,
            errors: preload_tally.errors,
            elapsed_s: (b - a).as_secs_f64(),
        }),
        _ => None,
    };
    let (elapsed, cpu) = match (marks.start, finished) {
        (Some((start, cpu_start)), Some(end)) if measure => (
            end.saturating_duration_since(start),
            cpu_end.since(cpu_start),
        ),
        _ => (Duration::ZERO, Cpu::default()),
    };
    Ok(Report::new(
        workload, preload, &run_tally, &latency, elapsed, cpu,
    ))
}

/// Resolves the target and refuses anything but loopback addresses.
fn loopback_target(server: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = server
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {server}: {e}"))?
        .collect();
    addrs
        .iter()
        .copied()
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| {
            format!("{server} is not a loopback address: memkeep bench only targets this machine")
        })
}

fn new_histogram() -> Histogram<u64> {
    // 1 ns to 100 s at 3 significant figures.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// This process's (user, system) CPU time so far.
fn cpu_time() -> Cpu {
    use nix::sys::resource::{getrusage, UsageWho};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return Cpu::default();
    };
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    Cpu {
        user: tv(usage.user_time()),
        system: tv(usage.system_time()),
    }
}

/// One client thread: connect, (preload), run, each phase started together with the
/// other threads. `None` when the run was abandoned (a connection failed to open).
fn worker(
    shared: &Shared,
    addr: SocketAddr,
    mine: &[usize],
    total: usize,
    seed: u64,
) -> Option<ThreadResult> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(async {
        let mut connections = Vec::with_capacity(mine.len());
        for _ in mine {
            match Connection::open(addr, &shared.opening).await {
                Ok(c) => connections.push(c),
                Err(e) => {
                    shared.failed.store(true, Ordering::Relaxed);
                    let mut marks = shared.marks.lock().expect("marks lock");
                    marks
                        .connect_error
                        .get_or_insert_with(|| format!("cannot connect to {addr}: {e}"));
                    break;
                }
            }
        }
        shared.barrier.wait();
        if shared.failed.load(Ordering::Relaxed) {
            return None;
        }
        let latency = RefCell::new(new_histogram());
        let no_budget = Budget::new(None);
        let mut preload = Tally::default();
        if shared.preload {
            if shared.barrier.wait().is_leader() {
                shared.marks.lock().expect("marks lock").preload_start = Some(Instant::now());
                shared.progress.enter(Phase::Preload);
            }
            let keys = shared.plan.keys.count();
            let sources = mine.iter().map(|&c| Source::Preload {
                next: keys * c as u64 / total as u64,
                end: keys * (c as u64 + 1) / total as u64,
            });
            let (back, tally) = drive_all(
                shared,
                connections,
                sources,
                &no_budget,
                None,
                &latency,
                &shared.progress.preloaded,
            )
            .await;
            connections = back;
            preload = tally;
            if shared.barrier.wait().is_leader() {
                shared.marks.lock().expect("marks lock").preload_end = Some(Instant::now());
            }
        }
        let mut run = Tally::default();
        if shared.measure {
            *latency.borrow_mut() = new_histogram();
            if shared.barrier.wait().is_leader() {
                shared.marks.lock().expect("marks lock").start = Some((Instant::now(), cpu_time()));
                shared.progress.enter(Phase::Run);
            }
            shared.barrier.wait();
            let deadline = shared.duration.map(|d| Instant::now() + d);
            let sources = mine.iter().map(|&c| {
                Source::Mixed(Rng::new(
                    seed.wrapping_mul(1_000_003).wrapping_add(c as u64),
                ))
            });
            let (_, tally) = drive_all(
                shared,
                connections,
                sources,
                &shared.budget,
                deadline,
                &latency,
                &shared.progress.requests,
            )
            .await;
            run = tally;
        }
        let finished = Instant::now();
        let latency = latency.into_inner();
        Some(ThreadResult {
            preload,
            run,
            latency,
            finished,
        })
    })
}

/// Drives every connection of this thread to the end of the phase; hands the
/// connections back with the summed tally.
async fn drive_all(
    shared: &Shared,
    connections: Vec<Connection>,
    sources: impl Iterator<Item = Source>,
    budget: &Budget,
    deadline: Option<Instant>,
    latency: &RefCell<Histogram<u64>>,
    completed: &AtomicU64,
) -> (Vec<Connection>, Tally) {
    // The connections are futures on this one task, not spawned tasks: they borrow
    // the plan and the histogram, and FuturesUnordered polls only the woken ones.
    let mut running: FuturesUnordered<_> = connections
        .into_iter()
        .zip(sources)
        .map(|(mut c, mut source)| async move {
            let tally = c
                .drive(
                    &shared.plan,
                    &mut source,
                    budget,
                    deadline,
                    latency,
                    completed,
                )
                .await;
            (c, tally)
        })
        .collect();
    let mut total = Tally::default();
    let mut back = Vec::new();
    while let Some((c, t)) = running.next().await {
        total.merge(&t);
        back.push(c);
    }
    (back, total)
}
