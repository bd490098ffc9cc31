//! Pools found by DNS, the binary's part: the host's name servers read from
//! `/etc/resolv.conf`, the first resolution before serving (a DNS entry that does
//! not resolve refuses to start, as twemproxy refuses a server name it cannot
//! resolve), and the reload of the configuration with the new servers whenever an
//! answer changes them.

use std::net::SocketAddr;

use memkeep_proxy::config::RouteConfig;
use memkeep_proxy::discovery::{nameservers, Discovery, DiscoveryStats};
use tracing::{error, info};

use super::listeners::Listeners;

const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The host's name servers; none when the file cannot be read (then only pools
/// with their own `resolver` may use DNS entries).
pub fn system_nameservers() -> Vec<SocketAddr> {
    std::fs::read_to_string(RESOLV_CONF)
        .map(|text| nameservers(&text))
        .unwrap_or_default()
}

/// Resolves `template`'s DNS entries once, before the runtime starts (on a
/// runtime of its own, so it can run before the process daemonizes), and returns
/// the discovery and the configuration to serve.
pub fn resolve_at_start(
    template: RouteConfig,
    stats: DiscoveryStats,
) -> Result<(Discovery, RouteConfig), String> {
    let mut discovery = Discovery::new(template, &system_nameservers(), stats)?;
    if discovery.is_empty() {
        let config = discovery.config();
        return Ok((discovery, config));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    let config = runtime.block_on(discovery.resolve_all(None))?;
    Ok((discovery, config))
}

/// A configuration read again (SIGHUP): its DNS entries resolved, each one that
/// fails keeping what `running` had for it. The caller replaces `running` with the
/// discovery returned once the configuration is served.
pub async fn reresolve(
    template: RouteConfig,
    running: &Discovery,
    stats: DiscoveryStats,
) -> Result<(Discovery, RouteConfig), String> {
    let mut fresh = Discovery::new(template, &system_nameservers(), stats)?;
    let config = fresh.resolve_all(Some(running)).await?;
    Ok((fresh, config))
}

/// Serves a configuration discovery handed back (an answer changed a pool's
/// servers). One refused (say, fewer servers than the pool's replicas) is logged,
/// and the running one stays.
pub fn apply(config: &RouteConfig, listeners: &mut Listeners) {
    match listeners.reload(config) {
        Ok(()) => info!("discovery: servers changed; configuration reloaded"),
        Err(reason) => error!(
            %reason,
            "discovery: servers changed but the configuration is refused; the running one stays"
        ),
    }
}
