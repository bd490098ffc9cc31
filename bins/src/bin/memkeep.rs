//! memkeep: the operator's tool (load benchmark first). See `memkeep --help`.

fn main() -> std::process::ExitCode {
    memkeep_bins::memkeep::main()
}
