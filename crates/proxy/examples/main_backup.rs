//! magent-style main and backup: every key lives on the main server and on the
//! backup. A write is answered by the first server that takes it (the other one,
//! if it missed the write, gets it replayed when it is back); a read asks both,
//! answers with a hit, and writes the hit back to the one that missed (read-repair),
//! so reads keep hitting while the main server is down or restarts empty.
//!
//! `main_backup LISTEN MAIN BACKUP`, e.g. `main_backup 127.0.0.1:22122 127.0.0.1:11211 127.0.0.1:11212`

use memkeep_proxy::build::Builder;
use memkeep_proxy::config::RouteConfig;
use memkeep_server::{serve, ConnectionConfig, Listener, ServeConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, main, backup] = &args[..] else {
        return Err("usage: main_backup LISTEN MAIN BACKUP".into());
    };
    // memkeep-proxy's TOML route tree (what `memkeep-proxy --config` reads).
    let tree = format!(
        r#"
        pools.main.servers = ["{main}:1"]
        pools.backup.servers = ["{backup}:1"]
        routes.reads = {{ kind = "read_repair", to = ["main", "backup"] }}
        routes.writes = {{ kind = "replicate", to = ["main", "backup"], policy = "first_success" }}
        routes.magent = {{ kind = "operation", reads = "reads", writes = "writes" }}
        listeners = [{{ listen = "{listen}", route = "magent" }}]
        "#
    );
    let config: RouteConfig = toml::from_str(&tree).map_err(|e| e.to_string())?;
    let service = Builder::new().tree(&config)?.listeners.remove(0);

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("{listen}: {e}"))?;
    println!(
        "listening on {}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let serving = ServeConfig::new(1024, ConnectionConfig::default());
    serve(
        Listener::Tcp(listener),
        service,
        serving,
        std::future::pending(),
    )
    .await;
    Ok(())
}
