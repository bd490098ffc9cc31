//! Assembles what a configuration describes into services ready to serve: a pool
//! ([`Builder::pool`]: `Shard(ring) -> [Measure -> Eject -> Backend] x
//! N`, with a live set when ejection rebuilds the ring and, for a copy under a
//! replicating route, the missed-writes handoff), a whole route tree
//! ([`Builder::tree`]: every pool once, every route once, one service per
//! listener), and a [`Swappable`] service that a reload replaces while requests
//! already sent finish on the old stack.
//!
//! The configuration types are [`crate::config`]'s: a TOML route tree, a
//! `nutcracker.yml` (through [`crate::config::nutcracker_tree`]) and magent's flags
//! all become a [`RouteConfig`](crate::config::RouteConfig). What the builder
//! returns is a tower `Service<Request>` that `memkeep_server::serve` accepts.
//!
//! ```no_run
//! use memkeep_proxy::build::Builder;
//! use memkeep_proxy::config::RouteConfig;
//!
//! # async fn run(toml_text: &str) -> Result<(), String> {
//! let config: RouteConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
//! let tree = Builder::new().tree(&config)?;
//! let listener = tokio::net::TcpListener::bind(&config.listeners[0].listen)
//!     .await
//!     .map_err(|e| e.to_string())?;
//! let serving = memkeep_server::ServeConfig::new(1024, Default::default());
//! memkeep_server::serve(
//!     memkeep_server::Listener::Tcp(listener),
//!     tree.listeners[0].clone(),
//!     serving,
//!     std::future::pending(),
//! )
//! .await;
//! # Ok(())
//! # }
//! ```

mod metrics;
mod pool;
mod reload;
mod resize;
mod ring;
mod tree;

use std::sync::Arc;

use memkeep_protocol::{Request, Response};
use tower::util::BoxCloneSyncService;

use crate::backend::{AuthMechanism, BackendAuth, BackendSecurity};
use crate::config::{AuthMechanismSetting, BackendAuthSettings, PoolConfig};
use crate::BoxError;

pub use metrics::server_metrics;
pub use pool::{Pool, ServerState};
pub use reload::Swappable;
pub use resize::{Membership, Memberships};
pub use ring::ring_builder;
pub use tree::{Counter, Tree};

/// One stack of the tree: pools and routes hold many of them and are shared by every
/// connection, so `Sync`.
pub type SharedService = BoxCloneSyncService<Request, Response, BoxError>;

/// Turns a pool's `tls` and `auth` settings into what its backends use; given the
/// pool's name and settings. Reading certificate files is the caller's business.
pub type SecurityLoader =
    Arc<dyn Fn(&str, &PoolConfig) -> Result<Option<Arc<BackendSecurity>>, String> + Send + Sync>;

/// Builds pools and route trees. Every build starts the backends' connection tasks:
/// call inside a tokio runtime.
#[derive(Clone, Default)]
pub struct Builder {
    security: Option<SecurityLoader>,
    /// The pools of the tree a reload replaces (see [`Builder::after`]).
    before: Option<Arc<Memberships>>,
}

impl Builder {
    /// A builder whose pools log in when their `auth` says so and refuse `tls`
    /// (which needs files read: see [`Builder::backend_security`]).
    pub fn new() -> Self {
        Builder::default()
    }

    /// Reads each pool's TLS and login with `load` instead.
    pub fn backend_security(mut self, load: SecurityLoader) -> Self {
        self.security = Some(load);
        self
    }

    /// The security a pool's backends use.
    fn security(
        &self,
        name: &str,
        pool: &PoolConfig,
    ) -> Result<Option<Arc<BackendSecurity>>, String> {
        if let Some(load) = &self.security {
            return load(name, pool);
        }
        if pool.tls.is_some() {
            return Err(format!(
                "pool {name}: tls needs its files read (Builder::backend_security)"
            ));
        }
        Ok(pool.auth.as_ref().map(|auth| {
            Arc::new(BackendSecurity {
                tls: None,
                auth: Some(backend_auth(auth)),
            })
        }))
    }
}

/// The login a pool's `auth` settings describe.
pub fn backend_auth(settings: &BackendAuthSettings) -> BackendAuth {
    BackendAuth {
        username: settings.username.clone(),
        password: settings.password.clone(),
        mechanism: match settings.mechanism {
            AuthMechanismSetting::Ascii => AuthMechanism::Ascii,
            AuthMechanismSetting::Sasl => AuthMechanism::SaslPlain,
        },
    }
}
