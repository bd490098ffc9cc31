//! memkeep-proxy: read `nutcracker.yml` (`-c`), the TOML route tree (`--config`) or
//! magent's flags, bind the listeners, and serve until SIGTERM or SIGINT, then
//! drain. SIGHUP reloads the configuration file.

mod args;
mod discovery;
mod front;
mod listeners;
mod magent;
pub mod monitor;
mod reload;
mod security;
mod source;
mod stats;
mod stats_port;

use std::process::ExitCode;

use clap::Parser;
use tracing::info;

pub use args::Args;
pub use magent::MagentArgs;
pub use memkeep_proxy::build::{ring_builder, SharedService};
pub use source::Source;

/// How the process runs, whichever command line it was given.
struct Options {
    source: Source,
    test_conf: bool,
    daemonize: bool,
    pid_file: Option<std::path::PathBuf>,
    stats: Option<(String, u16)>,
    threads: Option<usize>,
    admin: Option<String>,
}

/// Runs memkeep-proxy with the process's arguments.
pub fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let options = if magent::is_magent(&argv) {
        let args = MagentArgs::parse_from(&argv);
        crate::logging::init(args.log_verbosity());
        args.tree().map(|tree| Options {
            source: Source::Flags(tree),
            test_conf: false,
            daemonize: false,
            pid_file: None,
            stats: None,
            threads: args.threads,
            admin: args.admin.clone(),
        })
    } else {
        let args = Args::parse_from(&argv);
        match args.log_to_file() {
            Ok(()) => {
                crate::logging::init(args.log_verbosity());
                args.options()
            }
            Err(e) => Err(e),
        }
    };
    match options.and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("memkeep-proxy: {message}");
            ExitCode::FAILURE
        }
    }
}

impl Args {
    /// twemproxy's `-o FILE`: from here on, what would go to stderr (the logs) is
    /// appended to the file.
    fn log_to_file(&self) -> Result<(), String> {
        let Some(path) = &self.output else {
            return Ok(());
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
        nix::unistd::dup2_stderr(file).map_err(|e| format!("cannot log to {}: {e}", path.display()))
    }

    fn options(&self) -> Result<Options, String> {
        let (source, default_stats) = match (&self.conf_file, &self.config) {
            (Some(path), _) => (Source::Nutcracker(path.clone()), Some(Args::STATS_PORT)),
            (None, Some(path)) => (Source::RouteTree(path.clone()), None),
            (None, None) => return Err(self.no_configuration()),
        };
        let stats_addr = self
            .stats_addr
            .clone()
            .unwrap_or_else(|| "127.0.0.1".into());
        Ok(Options {
            source,
            test_conf: self.test_conf,
            daemonize: self.daemonize,
            pid_file: self.pid_file.clone(),
            stats: self.stats_port.or(default_stats).map(|p| (stats_addr, p)),
            threads: self.threads,
            admin: self.admin.clone(),
        })
    }
}

impl Args {
    /// Why there is nothing to run, saying how the command line was read: `-p` and
    /// `-s` with bare numbers are twemproxy's (pid file, stats port), not magent's.
    fn no_configuration(&self) -> String {
        let mut understood = Vec::new();
        if let Some(pid) = &self.pid_file {
            understood.push(format!("-p {} as twemproxy's pid file", pid.display()));
        }
        if let Some(port) = self.stats_port {
            understood.push(format!("-s {port} as twemproxy's stats port"));
        }
        let mut message = String::from(
            "no configuration: give -c nutcracker.yml, --config route.toml, or magent's \
             -s HOST:PORT [-b HOST:PORT]",
        );
        if !understood.is_empty() {
            message.push_str(&format!(
                "\nread {}, with no -c or --config; for magent's flags (-p listen port, \
                 -s server) name each server as HOST:PORT, e.g. -s 127.0.0.1:{}",
                understood.join(" and "),
                self.stats_port.unwrap_or(11211)
            ));
        }
        message
    }
}

fn run(options: Options) -> Result<(), String> {
    let config = options.source.load()?;
    if options.test_conf {
        security::check_files(&config)?;
        let path = options.source.path().map(|p| p.display().to_string());
        eprintln!(
            "memkeep-proxy: configuration file '{}' syntax is ok",
            path.unwrap_or_default()
        );
        return Ok(());
    }
    crate::signals::hold()?;
    reload::hold()?;
    let discovered = memkeep_proxy::discovery::DiscoveryStats::default();
    let (mut discovery, config) = discovery::resolve_at_start(config, discovered.clone())?;
    let bound = config
        .listeners
        .iter()
        .map(listeners::bind)
        .collect::<Result<Vec<_>, _>>()?;
    let stats = options
        .stats
        .as_ref()
        .map(|(addr, port)| stats_port::bind(addr, *port))
        .transpose()?;
    let admin = options
        .admin
        .as_deref()
        .map(crate::admin::bind)
        .transpose()?;
    // memcached's port file, naming the listeners' ports: every listener is bound.
    crate::port_file::write(bound.iter().filter_map(|bound| match bound {
        listeners::Bound::Tcp(listener) => listener.local_addr().ok(),
        listeners::Bound::Unix(_) => None,
    }));
    if options.daemonize {
        nix::unistd::daemon(false, false).map_err(|e| format!("cannot daemonize: {e}"))?;
    }
    if let Some(path) = &options.pid_file {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| format!("cannot write pidfile {}: {e}", path.display()))?;
    }
    // systemd's READY=1 once the runtime serves the listeners, keep-alives while it
    // runs. One heartbeat: under --threads tokio's workers steal each other's tasks,
    // so it proves the runtime still schedules them, whichever worker runs it.
    let (watchdog, heartbeats) = crate::watchdog::start(
        crate::sd_notify::Notifier::from_env(),
        1,
        serving_status(&config.listeners, &bound),
    )?;
    let runtime = match options.threads.unwrap_or(1).max(1) {
        // One thread runs every client connection and every backend connection, so
        // a request and its backend reply never hop between threads: on a loaded
        // machine those cross-thread wakeups cost more than the proxy's own work.
        1 => tokio::runtime::Builder::new_current_thread(),
        threads => {
            let mut pool = tokio::runtime::Builder::new_multi_thread();
            pool.worker_threads(threads);
            pool
        }
    }
    .enable_all()
    .build()
    .map_err(|e| format!("cannot start runtime: {e}"))?;
    let result = runtime.block_on(async {
        let mut running = listeners::Listeners::start(&config, bound)?;
        running.status().set_discovery(discovered);
        for heartbeat in heartbeats {
            tokio::spawn(heartbeat.run());
        }
        let stats_task = stats.map(|s| tokio::spawn(stats_port::serve(s, running.status())));
        let (admin_stop, admin_stopped) = tokio::sync::watch::channel(false);
        let admin_thread = admin
            .map(|listener| monitor::start(listener, running.status(), admin_stopped))
            .transpose()?;
        tokio::select! {
            () = crate::signals::wait() => {}
            () = reload::on_hangup(&options.source, &mut running, &mut discovery) => {}
        }
        watchdog.stopping();
        if let Some(task) = stats_task {
            task.abort();
        }
        running.drain().await;
        let _ = admin_stop.send(true);
        if let Some(thread) = admin_thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        info!("stopped");
        Ok::<(), String>(())
    });
    if let Some(path) = &options.pid_file {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// systemd's STATUS= line once the proxy serves: where.
fn serving_status(
    configs: &[memkeep_proxy::config::ListenerConfig],
    bound: &[listeners::Bound],
) -> String {
    let places: Vec<String> = configs
        .iter()
        .zip(bound)
        .map(|(config, bound)| match bound {
            listeners::Bound::Tcp(listener) => listener
                .local_addr()
                .map_or_else(|_| config.listen.clone(), |a| a.to_string()),
            listeners::Bound::Unix(_) => config.listen.clone(),
        })
        .collect();
    format!("serving on {}", places.join(", "))
}
