//! `floor-proxy`: the do-nothing forwarding proxy the benchmarks measure
//! memkeep-proxy and nutcracker against (see the `memkeep_floor` crate).

use clap::Parser;
use memkeep_floor::cli::ProxyArgs;
use memkeep_floor::proxy;

/// Forwards memcached text requests to one backend, one connection per thread.
#[derive(Parser)]
#[command(name = "floor-proxy")]
struct Cli {
    #[command(flatten)]
    args: ProxyArgs,
}

fn main() {
    let args = Cli::parse().args;
    let listeners = memkeep_floor::listen_or_exit("floor-proxy", args.addr(), args.threads);
    let backend = args.backend;
    let error = memkeep_floor::run_threads(listeners, move |l| proxy::run(l, backend));
    eprintln!("floor-proxy: {error}");
    std::process::exit(1);
}
