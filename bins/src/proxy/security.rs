//! memkeep-proxy's TLS and login settings, read from the route tree: TLS and the
//! auth file on a listener (clients), TLS and a login on a pool (servers).

use std::path::PathBuf;
use std::sync::Arc;

use memkeep_proxy::backend::BackendSecurity;
use memkeep_proxy::config::{ClientCertSetting, ListenerConfig, PoolConfig, RouteConfig};
use memkeep_server::auth::{AuthConfig, Credentials};
use memkeep_server::TlsAcceptor;

use crate::tls::{ClientCerts, ClientTls, MinVersion, ServerTls};

/// What a listener requires of its clients.
#[derive(Debug, Default)]
pub struct ClientSecurity {
    /// TLS on the listener.
    pub tls: Option<TlsAcceptor>,
    /// Logins accepted (ASCII auth and SASL PLAIN, from the auth file).
    pub auth: Option<AuthConfig>,
}

/// Reads a listener's certificate and auth files.
pub fn listener(site: &ListenerConfig) -> Result<ClientSecurity, String> {
    let at = |e: String| format!("listener {}: {e}", site.listen);
    let tls = match &site.tls {
        None => None,
        Some(t) => {
            let files = ServerTls {
                chain: PathBuf::from(&t.cert),
                key: t.key.as_ref().map(PathBuf::from),
                client_ca: t.client_ca.as_ref().map(PathBuf::from),
                client_certs: match t.verify_clients {
                    ClientCertSetting::None => ClientCerts::None,
                    ClientCertSetting::Optional => ClientCerts::Optional,
                    ClientCertSetting::Required => ClientCerts::Required,
                },
                min_version: MinVersion::Tls12,
            };
            Some(TlsAcceptor::new(files.load().map_err(at)?))
        }
    };
    let auth = match &site.authfile {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| at(format!("cannot read auth file {path}: {e}")))?;
            let credentials =
                Credentials::parse(&text).map_err(|e| at(format!("auth file {path}: {e}")))?;
            Some(AuthConfig {
                credentials,
                ascii: true,
                sasl: true,
            })
        }
    };
    Ok(ClientSecurity { tls, auth })
}

/// Reads a pool's TLS files and login for its servers; `None` for plain TCP.
pub fn backends(name: &str, pool: &PoolConfig) -> Result<Option<Arc<BackendSecurity>>, String> {
    if pool.tls.is_none() && pool.auth.is_none() {
        return Ok(None);
    }
    let tls = match &pool.tls {
        None => None,
        Some(t) => {
            let files = ClientTls {
                ca: Some(PathBuf::from(&t.ca)),
                cert: t.cert.as_ref().map(PathBuf::from),
                key: t.key.as_ref().map(PathBuf::from),
                insecure: false,
            };
            Some(Arc::new(
                files.load().map_err(|e| format!("pool {name}: {e}"))?,
            ))
        }
    };
    let auth = pool.auth.as_ref().map(memkeep_proxy::build::backend_auth);
    Ok(Some(Arc::new(BackendSecurity { tls, auth })))
}

/// Reads every certificate, key and auth file the configuration names, as a start
/// would: `-t` fails on a file the start would fail on.
pub fn check_files(config: &RouteConfig) -> Result<(), String> {
    for site in &config.listeners {
        listener(site)?;
    }
    for (name, pool) in &config.pools {
        backends(name, pool)?;
    }
    Ok(())
}
