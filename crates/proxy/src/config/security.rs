//! Security settings of the route tree: TLS and login towards a pool's servers, TLS
//! and the auth file on a listener.

use std::fmt;

use serde::Deserialize;

/// TLS from the proxy to a pool's servers (TLS 1.2 or later).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendTlsSettings {
    /// The CA that signs the servers' certificates, PEM.
    pub ca: String,
    /// A client certificate chain for servers that require one, PEM.
    #[serde(default)]
    pub cert: Option<String>,
    /// The client certificate's key, PEM, when not in `cert`.
    #[serde(default)]
    pub key: Option<String>,
}

/// How the proxy logs in to a pool's servers.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendAuthSettings {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// `ascii` (memcached's `-Y`, the default) or `sasl` (SASL PLAIN, `-S`).
    #[serde(default)]
    pub mechanism: AuthMechanismSetting,
}

impl fmt::Debug for BackendAuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.debug_struct("BackendAuthSettings")
            .field("username", &self.username)
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

/// The login exchange a pool's servers expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMechanismSetting {
    /// memcached's ASCII auth.
    #[default]
    Ascii,
    /// SASL PLAIN over the binary protocol.
    Sasl,
}

/// TLS on a listener (TLS 1.2 or later).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTlsSettings {
    /// The certificate chain, PEM.
    pub cert: String,
    /// The private key, PEM, when not in `cert`.
    #[serde(default)]
    pub key: Option<String>,
    /// CAs that sign client certificates, PEM (needed unless `verify_clients` is
    /// `none`).
    #[serde(default)]
    pub client_ca: Option<String>,
    /// `none` (default), `optional` or `required`.
    #[serde(default)]
    pub verify_clients: ClientCertSetting,
}

/// Whether a listener asks clients for certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientCertSetting {
    /// Not asked for.
    #[default]
    None,
    /// Checked when presented.
    Optional,
    /// Required.
    Required,
}
