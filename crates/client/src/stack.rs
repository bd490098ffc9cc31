//! The routed service a configuration describes, assembled by memkeep-proxy's own
//! builder ([`memkeep_proxy::build`]), so the client's stack is the proxy's.

use memkeep_proxy::build::{Builder, SharedService};
use memkeep_proxy::config::RouteConfig;

/// The service the pool or route named `route` of `config` stands for, as a
/// memkeep-proxy listener serving it would. Starts the backends' connection tasks:
/// call inside a tokio runtime.
pub(crate) fn build(config: &RouteConfig, route: &str) -> Result<SharedService, String> {
    let mut config = config.clone();
    let mut listener = config
        .listeners
        .first()
        .cloned()
        .ok_or_else(|| "no listeners".to_owned())?;
    // The client is the one listener: only what it reaches is built.
    listener.route = route.to_owned();
    config.listeners = vec![listener];
    let mut tree = Builder::new().tree(&config)?;
    Ok(tree.listeners.swap_remove(0))
}
