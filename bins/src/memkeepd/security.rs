//! memkeepd's security flags, memcached's spelling: `-Z` with `-o ssl_chain_cert=...,
//! ssl_key=...,ssl_ca_cert=...,ssl_verify_mode=N,ssl_min_version=N` for TLS, `-Y FILE`
//! for ASCII auth and `-S` for SASL PLAIN. They become the server crate's TLS
//! acceptor and auth config; SIGHUP re-reads the certificate files.

use std::path::PathBuf;
use std::sync::Arc;

use memkeep_replication::LinkTls;
use memkeep_server::auth::{AuthConfig, Credentials};
use memkeep_server::cache::CertRefresh;
use memkeep_server::TlsAcceptor;
use tracing::{info, warn};

use super::args::Args;
use super::extended::Extended;
use crate::tls::{ClientCerts, ClientTls, MinVersion, ServerTls};

/// The environment variable memcached reads SASL users from when built with its own
/// password database; `-S` without `-Y` reads it too.
const SASL_PWDB: &str = "MEMCACHED_SASL_PWDB";

/// memcached's `-o ssl_*` options that memkeepd applies.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SslOptions {
    /// The options as memcached reports them in `stats settings`.
    pub shown: SslShown,
    /// `ssl_chain_cert`: the certificate chain, PEM.
    pub chain_cert: Option<PathBuf>,
    /// `ssl_key`: the private key, PEM, when not in the chain file.
    pub key: Option<PathBuf>,
    /// `ssl_ca_cert`: CAs for client certificates, PEM.
    pub ca_cert: Option<PathBuf>,
    /// `ssl_verify_mode`: 0 none, 1 request, 2 require, 3 once (as require).
    pub verify_mode: ClientCerts,
    /// `ssl_min_version`: 2 (TLS 1.2, the default) or 3 (TLS 1.3); 0 and 1 mean 1.2.
    pub min_version: MinVersion,
    /// Whether any `ssl_*` option was given (they need `-Z`).
    pub any: bool,
}

/// The `ssl_*` settings in memcached's terms, for `stats settings`: what was asked,
/// including the options rustls has no use for (ciphers, buffer size, kernel TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslShown {
    /// OpenSSL's verify flags: 0, 1 (peer), 3 (and fail without a certificate), 7
    /// (and once).
    pub verify_mode: i32,
    /// OpenSSL's file type number (1: PEM).
    pub keyformat: i32,
    /// `ssl_ciphers` as given.
    pub ciphers: Option<String>,
    /// The output buffer in bytes (`ssl_wbuf_size` is in kilobytes).
    pub wbuf_size: u32,
    /// Whether `ssl_session_cache` was given.
    pub session_cache: bool,
    /// Whether `ssl_kernel_tls` was given.
    pub kernel_tls: bool,
    /// `tlsv1.0` to `tlsv1.3`, as asked.
    pub min_version: &'static str,
}

impl Default for SslShown {
    fn default() -> Self {
        SslShown {
            verify_mode: 0,
            keyformat: 1,
            ciphers: None,
            wbuf_size: 16 * 1024,
            session_cache: false,
            kernel_tls: false,
            min_version: "tlsv1.2",
        }
    }
}

impl SslOptions {
    /// The `ssl_*` lines of `stats settings` after `ssl_enabled`, in memcached's
    /// order and words (a file not given reads `(null)`, as C's printf prints it).
    pub fn settings(&self) -> Vec<(String, String)> {
        let path = |p: &Option<PathBuf>, none: &str| {
            p.as_ref()
                .map_or(none.to_owned(), |p| p.display().to_string())
        };
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
        let shown = &self.shown;
        [
            ("ssl_chain_cert", path(&self.chain_cert, "(null)")),
            ("ssl_key", path(&self.key, "(null)")),
            ("ssl_verify_mode", shown.verify_mode.to_string()),
            ("ssl_keyformat", shown.keyformat.to_string()),
            (
                "ssl_ciphers",
                shown.ciphers.clone().unwrap_or_else(|| "NULL".into()),
            ),
            ("ssl_ca_cert", path(&self.ca_cert, "NULL")),
            ("ssl_wbuf_size", shown.wbuf_size.to_string()),
            ("ssl_session_cache", yes_no(shown.session_cache)),
            ("ssl_kernel_tls", yes_no(shown.kernel_tls)),
            ("ssl_min_version", shown.min_version.to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// Applies one `-o ssl_NAME[=VALUE]` option, refusing what memcached refuses.
    /// Returns a note when the option is accepted without effect.
    pub fn set(&mut self, name: &str, value: Option<&str>) -> Result<Option<String>, String> {
        self.any = true;
        let value = || value.ok_or(format!("Missing {name} argument"));
        let number = |text: &str| {
            super::c_numbers::strict_i32(text).ok_or(format!("could not parse argument to {name}"))
        };
        match name {
            "ssl_chain_cert" => self.chain_cert = Some(PathBuf::from(value()?)),
            "ssl_key" => self.key = Some(PathBuf::from(value()?)),
            "ssl_ca_cert" => self.ca_cert = Some(PathBuf::from(value()?)),
            "ssl_verify_mode" => {
                let mode = number(value()?)?;
                (self.verify_mode, self.shown.verify_mode) = match mode {
                    0 => (ClientCerts::None, 0),
                    1 => (ClientCerts::Optional, 1),
                    2 => (ClientCerts::Required, 3),
                    3 => (ClientCerts::Required, 7),
                    _ => {
                        return Err("Invalid ssl_verify_mode. Use help to see valid options.".into())
                    }
                }
            }
            "ssl_min_version" => match number(value()?)? {
                2 => (self.min_version, self.shown.min_version) = (MinVersion::Tls12, "tlsv1.2"),
                3 => (self.min_version, self.shown.min_version) = (MinVersion::Tls13, "tlsv1.3"),
                // A lower bound memkeepd meets by offering TLS 1.2 and 1.3 only.
                version @ (0 | 1) => {
                    self.min_version = MinVersion::Tls12;
                    self.shown.min_version = if version == 0 { "tlsv1.0" } else { "tlsv1.1" };
                    return Ok(Some(
                        "ssl_min_version: TLS 1.0 and 1.1 are not offered; 1.2 is the oldest"
                            .into(),
                    ));
                }
                _ => return Err("Invalid ssl_min_version. Use help to see valid options.".into()),
            },
            // memcached takes OpenSSL's file type number: 1 is PEM. "PEM" is accepted
            // as well, as memkeepd always did.
            "ssl_keyformat" => {
                let format = value()?;
                if !format.eq_ignore_ascii_case("PEM") && number(format)? != 1 {
                    return Err(format!(
                        "-o ssl_keyformat={format}: memkeepd reads PEM keys only (1)"
                    ));
                }
                self.shown.keyformat = 1;
            }
            "ssl_ciphers" => {
                self.shown.ciphers = Some(value()?.to_owned());
                return Ok(Some(
                    "ssl_ciphers: rustls offers only its own modern AEAD suites".into(),
                ));
            }
            // rustls sizes its own buffers; the size is only reported (in bytes, as
            // memcached keeps it, wrapping as its unsigned multiplication does).
            "ssl_wbuf_size" => {
                let kilobytes = super::c_numbers::strict_u32(value()?)
                    .ok_or(format!("could not parse argument to {name}"))?;
                self.shown.wbuf_size = kilobytes.wrapping_mul(1024);
            }
            // rustls keeps a session cache for resumption at all times; kernel TLS is
            // not used.
            "ssl_session_cache" => self.shown.session_cache = true,
            "ssl_kernel_tls" => self.shown.kernel_tls = true,
            _ => return Err(format!("Illegal suboption \"{name}\"")),
        }
        Ok(None)
    }
}

/// What `refresh_certs` and SIGHUP run: the certificate files read again and handed
/// to new handshakes. The error is memcached's first words, then what went wrong.
pub fn cert_refresh(files: ServerTls, acceptor: TlsAcceptor) -> Arc<CertRefresh> {
    Arc::new(CertRefresh::new(Arc::new(move || {
        let config = files
            .load()
            .map_err(|e| format!("Error loading the certificates: {e}"))?;
        acceptor.reload(config);
        Ok(())
    })))
}

/// TLS and authentication as the command line asks.
#[derive(Debug, Default)]
pub struct Security {
    /// The certificate files and the acceptor every TCP listener shares.
    pub tls: Option<(ServerTls, TlsAcceptor)>,
    /// Who may use the cache.
    pub auth: Option<AuthConfig>,
    /// Mutual TLS for replication links.
    pub links: Option<LinkFiles>,
}

/// The certificate files of replication links and the TLS state built from them.
#[derive(Debug, Clone)]
pub struct LinkFiles {
    server: ServerTls,
    client: ClientTls,
    /// What the links use; reloaded on SIGHUP.
    pub tls: LinkTls,
}

impl LinkFiles {
    fn new(cert: PathBuf, key: PathBuf, ca: PathBuf) -> Result<LinkFiles, String> {
        let server = ServerTls {
            chain: cert.clone(),
            key: Some(key.clone()),
            client_ca: Some(ca.clone()),
            client_certs: ClientCerts::Required,
            min_version: MinVersion::Tls12,
        };
        let client = ClientTls {
            ca: Some(ca),
            cert: Some(cert),
            key: Some(key),
            insecure: false,
        };
        let tls = LinkTls::new(server.load()?, client.load()?);
        Ok(LinkFiles {
            server,
            client,
            tls,
        })
    }

    fn reload(&self) -> Result<(), String> {
        self.tls.reload(self.server.load()?, self.client.load()?);
        Ok(())
    }
}

/// Reads the certificate and auth files the flags name.
pub fn load(args: &Args, extended: &Extended) -> Result<Security, String> {
    let ssl = &extended.ssl;
    if ssl.any && !args.enable_ssl {
        // memcached ignores them without -Z too; a unit that keeps the certificate
        // options and drops -Z must not fail to start, but the operator is told.
        warn!("-o ssl_* given without -Z: TLS is off");
    }
    let tls = if args.enable_ssl {
        let chain = ssl
            .chain_cert
            .clone()
            .ok_or("-Z needs -o ssl_chain_cert=FILE (and ssl_key=FILE unless it is in it)")?;
        let files = ServerTls {
            chain,
            key: ssl.key.clone(),
            client_ca: ssl.ca_cert.clone(),
            client_certs: ssl.verify_mode,
            min_version: ssl.min_version,
        };
        let acceptor = TlsAcceptor::new(files.load()?);
        Some((files, acceptor))
    } else {
        None
    };
    let credentials_file =
        match (&args.auth_file, args.enable_sasl) {
            (Some(path), _) => Some(path.clone()),
            (None, true) => Some(std::env::var_os(SASL_PWDB).map(PathBuf::from).ok_or(
                "-S needs users: -Y FILE or MEMCACHED_SASL_PWDB=FILE (user:password lines)",
            )?),
            (None, false) => None,
        };
    let auth = match credentials_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read auth file {}: {e}", path.display()))?;
            let credentials = Credentials::parse(&text)
                .map_err(|e| format!("auth file {}: {e}", path.display()))?;
            Some(AuthConfig {
                credentials,
                ascii: args.auth_file.is_some(),
                sasl: args.enable_sasl,
            })
        }
    };
    let links = match (
        &args.replication_tls_cert,
        &args.replication_tls_key,
        &args.replication_tls_ca,
    ) {
        (Some(cert), Some(key), Some(ca)) => {
            Some(LinkFiles::new(cert.clone(), key.clone(), ca.clone())?)
        }
        (None, None, None) => None,
        _ => return Err("replication TLS needs --replication-tls-cert, -key and -ca".into()),
    };
    if links.is_some()
        && args.replication_port().is_none()
        && args.replication_peer.is_empty()
        && args.replica_of.is_none()
    {
        return Err("--replication-tls-*: replication is off (-X, -x, --replica-of)".into());
    }
    Ok(Security { tls, auth, links })
}

/// The signal that reloads certificates, held like SIGTERM (see `crate::signals`)
/// until its handler exists, so an early one is not fatal.
fn hangup() -> nix::sys::signal::SigSet {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGHUP);
    set
}

/// Holds SIGHUP in this thread and the threads it starts; call before binding.
pub fn hold_hangup() -> Result<(), String> {
    hangup()
        .thread_block()
        .map_err(|e| format!("cannot block SIGHUP: {e}"))
}

/// On every SIGHUP, re-reads the certificate files and hands new handshakes the new
/// configuration; open connections keep their sessions. A file that fails to load
/// leaves the running configuration in place.
pub async fn reload_on_hangup(tls: Option<Arc<CertRefresh>>, links: Option<LinkFiles>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        warn!("cannot install the SIGHUP handler");
        return;
    };
    if let Err(e) = hangup().thread_unblock() {
        warn!(error = %e, "cannot unblock SIGHUP");
    }
    while hangups.recv().await.is_some() {
        if let Some(links) = &links {
            match links.reload() {
                Ok(()) => info!("SIGHUP: replication TLS certificates reloaded"),
                Err(e) => {
                    warn!(error = %e, "SIGHUP: replication TLS reload failed; keeping the old certificates")
                }
            }
        }
        match &tls {
            None if links.is_some() => {}
            None => info!("SIGHUP: no TLS certificates to reload"),
            Some(refresh) => match refresh.reload() {
                Ok(()) => info!("SIGHUP: TLS certificates reloaded"),
                Err(e) => {
                    warn!(error = %e, "SIGHUP: TLS reload failed; keeping the old certificates")
                }
            },
        }
    }
}
