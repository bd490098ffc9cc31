//! memkeep-proxy: a memcached proxy. See `memkeep-proxy --help`.

fn main() -> std::process::ExitCode {
    memkeep_bins::proxy::main()
}
