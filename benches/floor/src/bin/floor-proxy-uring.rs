//! `floor-proxy-uring`: `floor-proxy` on io_uring instead of epoll, with the same
//! replies, flags and batching, to compare the two runtimes at the floor (see the
//! `memkeep_floor` crate's `uring` module).

use clap::Parser;
use memkeep_floor::cli::ProxyArgs;
use memkeep_floor::uring::proxy;

/// Forwards memcached text requests to one backend, one connection per thread.
#[derive(Parser)]
#[command(name = "floor-proxy-uring")]
struct Cli {
    #[command(flatten)]
    args: ProxyArgs,
}

fn main() {
    let args = Cli::parse().args;
    if let Err(e) = memkeep_floor::uring::check_kernel() {
        eprintln!("floor-proxy-uring: the kernel refuses io_uring: {e}");
        std::process::exit(1);
    }
    let listeners = memkeep_floor::listen_or_exit("floor-proxy-uring", args.addr(), args.threads);
    let backend = args.backend;
    let error = memkeep_floor::run_threads(listeners, move |l| proxy::run(l, backend));
    eprintln!("floor-proxy-uring: {error}");
    std::process::exit(1);
}
