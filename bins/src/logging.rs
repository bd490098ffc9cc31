//! Logging setup shared by the binaries: `-v` flags pick the level, `RUST_LOG`
//! overrides it.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: warnings by default, info with `-v`, debug with
/// `-vv`, trace with `-vvv`; `RUST_LOG` wins when set.
pub fn init(verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Colours only on a terminal: journald and log files get plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init();
}
