//! Latency and CPU per request of memkeep-client routing on its own, next to the same
//! client sending everything through memkeep-proxy (one hop more). `benches/client.sh`
//! starts the servers and the proxy and runs this; by hand:
//!
//! ```text
//! cargo run --release --example versus_proxy -- ROUTE.toml PROXY_ADDR PIDS SECONDS
//! ```
//!
//! ROUTE.toml is the proxy's own configuration (the client reads it too), PIDS the
//! comma-separated process ids of the servers and the proxy (their CPU time is read
//! from /proc), SECONDS how long each run lasts. Each run does 90% gets and 10% sets
//! of 100-byte values over 10,000 preloaded keys, first one request in flight (the
//! latency of one request), then 32.

use std::time::{Duration, Instant};

use memkeep_client::Client;

const KEYS: usize = 10_000;

/// User plus system CPU time of a process so far, from `/proc/PID/stat`.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("process gone");
    // Fields after the command name (which may hold spaces), from field 3 on.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // The kernel's USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

struct Run {
    requests: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
    client_cpu: Duration,
    others_cpu: Duration,
}

async fn run(client: &Client, in_flight: usize, limit: Duration, pids: &[String]) -> Run {
    let others = |pids: &[String]| pids.iter().map(|p| cpu_time(p)).sum::<Duration>();
    let (client_before, others_before) = (cpu_time("self"), others(pids));
    let start = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..in_flight {
        let client = client.clone();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut n = worker * 7919;
            let value = vec![b'v'; 100];
            while start.elapsed() < limit {
                let key = format!("key:{}", n % KEYS);
                let sent = Instant::now();
                if n % 10 == 0 {
                    client.set(&key, value.clone(), 0, 0).await.unwrap();
                } else {
                    assert!(client.get(&key).await.unwrap().is_some(), "{key} missing");
                }
                latencies.push(sent.elapsed());
                n += 104_729;
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = workers.join_next().await {
        latencies.extend(done.unwrap());
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Run {
        requests: latencies.len(),
        latencies,
        elapsed,
        client_cpu: cpu_time("self") - client_before,
        others_cpu: others(pids) - others_before,
    }
}

fn report(name: &str, in_flight: usize, run: &Run) {
    let at = |q: f64| run.latencies[((run.latencies.len() - 1) as f64 * q) as usize];
    let per_request = |cpu: Duration| cpu.as_secs_f64() * 1e6 / run.requests as f64;
    println!(
        "{name:<8} in_flight={in_flight:<3} req/s={:>8.0} p50={:>6.1}us p99={:>7.1}us \
         cpu/req: client={:>5.1}us servers+proxy={:>5.1}us total={:>5.1}us",
        run.requests as f64 / run.elapsed.as_secs_f64(),
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        per_request(run.client_cpu),
        per_request(run.others_cpu),
        per_request(run.client_cpu + run.others_cpu),
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [route, proxy, pids, seconds] = args.as_slice() else {
        eprintln!("usage: versus_proxy ROUTE.toml PROXY_ADDR PIDS SECONDS");
        std::process::exit(2);
    };
    let route = std::fs::read_to_string(route).expect("cannot read the route tree");
    let pids: Vec<String> = pids.split(',').map(str::to_owned).collect();
    let limit = Duration::from_secs_f64(seconds.parse().expect("SECONDS"));

    let direct = Client::from_toml(&route).expect("route tree");
    let through_proxy = Client::builder().servers([proxy.as_str()]).build().unwrap();
    let value = vec![b'v'; 100];
    for i in 0..KEYS {
        direct
            .set(format!("key:{i}"), value.clone(), 0, 0)
            .await
            .unwrap();
    }
    for in_flight in [1, 32] {
        for (name, client) in [("direct", &direct), ("proxy", &through_proxy)] {
            report(name, in_flight, &run(client, in_flight, limit, &pids).await);
        }
    }
}
