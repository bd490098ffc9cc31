//! memkeepd: a drop-in memcached server. See `memkeepd --help`.

fn main() -> std::process::ExitCode {
    memkeep_bins::memkeepd::main()
}
