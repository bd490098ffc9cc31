//! twemproxy-style sharding: each key goes to one of N memcached servers, picked on
//! a ketama (MD5) ring, as a `nutcracker.yml` pool with `distribution: ketama`.
//!
//! `sharding LISTEN SERVER...`, e.g. `sharding 127.0.0.1:22121 127.0.0.1:11211 127.0.0.1:11212`

use memkeep_proxy::build::Builder;
use memkeep_proxy::config::PoolConfig;
use memkeep_server::{serve, ConnectionConfig, Listener, ServeConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().ok_or("usage: sharding LISTEN SERVER...")?;
    // twemproxy's `host:port:weight` entries, every server weighing the same.
    let mut pool = PoolConfig::new(args.map(|server| format!("{server}:1")).collect());
    pool.hash = "md5".into();
    pool.distribution = "ketama".into();
    // Shard(ring) over [Measure -> Backend] per server.
    let service = Builder::new().pool("shards", &pool)?.service();

    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("{listen}: {e}"))?;
    println!(
        "listening on {}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let config = ServeConfig::new(1024, ConnectionConfig::default());
    serve(
        Listener::Tcp(listener),
        service,
        config,
        std::future::pending(),
    )
    .await;
    Ok(())
}
