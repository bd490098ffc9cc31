//! How every subcommand reaches a server: TCP, then TLS when asked (memkeepd or
//! memcached `-Z`, a proxy listener with `[listeners.tls]`), then a login when the
//! server wants one (memcached's ASCII auth `-Y`, or SASL PLAIN `-S`). One set of
//! flags, [`ConnectArgs`], flattened into each subcommand so they are spelled the
//! same everywhere; resolved once into a [`Security`].

mod explain;
mod login;
mod stream;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use explain::Explain;
pub use login::{Exchange, Next};
pub use stream::{open, resolve, Stream};

/// The environment variable holding `user:password`, read when neither --auth nor
/// --auth-file is given.
pub const AUTH_ENV: &str = "MEMKEEP_AUTH";

/// The connection flags shared by every subcommand.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Connection: TLS and login")]
pub struct ConnectArgs {
    /// Speak TLS (implied by --tls-ca, --tls-cert and --tls-insecure).
    #[arg(long)]
    pub tls: bool,
    /// The CA that signed the server's certificate, PEM. For a self-signed
    /// certificate, the certificate itself.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// A client certificate to present, PEM (for servers that require one:
    /// memcached's ssl_verify_mode=2, a proxy listener with verify_clients).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's private key, PEM, when it is not in --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Accept any server certificate without checking it: only against a test
    /// server of your own.
    #[arg(long, conflicts_with = "tls_ca")]
    pub tls_insecure: bool,
    /// Log in with the first `user:password` line of FILE (memcached's auth file
    /// format, the file memkeepd -Y reads). Keeps the password out of `ps`; so does
    /// the MEMKEEP_AUTH environment variable (`user:password`), read when neither
    /// --auth nor --auth-file is given.
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// Log in as USER:PASSWORD. Other users see it in `ps`: prefer --auth-file or
    /// MEMKEEP_AUTH.
    #[arg(long, value_name = "USER:PASSWORD", conflicts_with = "auth_file")]
    pub auth: Option<Credentials>,
    /// How to log in: `ascii` (memcached -Y: a `set` whose value is "user
    /// password"; sent only when the server asks for a login) or `sasl` (SASL PLAIN
    /// over the binary protocol, memcached -S).
    #[arg(long, value_enum, default_value = "ascii")]
    pub auth_mechanism: Mechanism,
}

/// A user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user.
    pub user: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl std::str::FromStr for Credentials {
    type Err = String;

    /// `user:password`, split at the first colon as memcached's auth file is.
    fn from_str(s: &str) -> Result<Credentials, String> {
        let (user, password) = s
            .split_once(':')
            .ok_or("expected user:password (a colon between them)")?;
        if user.is_empty() || password.is_empty() {
            return Err("empty user or password in user:password".into());
        }
        // The ASCII exchange separates the two with a space: neither may hold one.
        if user.contains(char::is_whitespace) || password.contains(char::is_whitespace) {
            return Err("the user and password may not contain spaces".into());
        }
        Ok(Credentials {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }
}

/// How a login is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mechanism {
    /// memcached's ASCII auth (`-Y`).
    #[default]
    Ascii,
    /// SASL PLAIN over the binary protocol (`-S`).
    Sasl,
}

/// A login to send.
#[derive(Debug, Clone)]
pub struct Login {
    /// Who.
    pub credentials: Credentials,
    /// How.
    pub mechanism: Mechanism,
}

/// The connection flags, files read and checked: what [`open`] needs.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// TLS, when asked for.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The login, when credentials were given.
    pub login: Option<Login>,
    /// What the error messages need to know.
    pub explain: Explain,
}

impl ConnectArgs {
    /// Whether TLS is asked for, by --tls or a flag that only makes sense with it.
    pub fn wants_tls(&self) -> bool {
        self.tls || self.tls_ca.is_some() || self.tls_cert.is_some() || self.tls_insecure
    }

    /// Reads the files the flags name (and MEMKEEP_AUTH).
    pub fn resolve(&self) -> Result<Security, String> {
        self.resolve_with(std::env::var(AUTH_ENV).ok())
    }

    /// [`Self::resolve`], with the environment variable's value given.
    pub fn resolve_with(&self, env_auth: Option<String>) -> Result<Security, String> {
        let tls = if self.wants_tls() {
            if self.tls_ca.is_none() && !self.tls_insecure {
                return Err("TLS needs the CA that signed the server's certificate: \
                     pass --tls-ca FILE (for a self-signed certificate, the certificate \
                     itself), or --tls-insecure against a test server of your own"
                    .into());
            }
            let config = crate::tls::ClientTls {
                ca: self.tls_ca.clone(),
                cert: self.tls_cert.clone(),
                key: self.tls_key.clone(),
                insecure: self.tls_insecure,
            }
            .load()?;
            Some(Arc::new(config))
        } else {
            None
        };
        let credentials = match (&self.auth, &self.auth_file, env_auth) {
            (Some(c), _, _) => Some(c.clone()),
            (None, Some(path), _) => Some(read_auth_file(path)?),
            (None, None, Some(text)) if !text.is_empty() => Some(
                text.parse()
                    .map_err(|e| format!("{AUTH_ENV}: {e} (want user:password)"))?,
            ),
            _ => None,
        };
        let login = credentials.map(|credentials| Login {
            credentials,
            mechanism: self.auth_mechanism,
        });
        Ok(Security {
            explain: Explain {
                ca: self.tls_ca.clone(),
                client_cert: self.tls_cert.is_some(),
                tls: tls.is_some(),
                login: login
                    .as_ref()
                    .map(|l| (l.credentials.user.clone(), l.mechanism)),
            },
            tls,
            login,
        })
    }
}

/// The first `user:password` line of an auth file (blank lines and `#` comments
/// skipped).
fn read_auth_file(path: &Path) -> Result<Credentials, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the auth file {}: {e}", path.display()))?;
    let line = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .ok_or_else(|| format!("{}: no user:password line", path.display()))?;
    line.parse().map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_parse_like_the_auth_file() {
        let c: Credentials = "alice:se:cret".parse().unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("alice", "se:cret"));
        assert!(
            !format!("{c:?}").contains("cret"),
            "the password is never printed"
        );
        for bad in ["alice", ":pw", "alice:", "al ice:pw", "alice:p w"] {
            assert!(bad.parse::<Credentials>().is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_come_from_the_flag_then_the_file_then_the_environment() {
        let dir = std::env::temp_dir().join(format!("memkeep-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("users");
        std::fs::write(&file, "# operators\n\nbob:hunter2\ncarol:x\n").unwrap();
        let user = |args: &ConnectArgs, env: Option<&str>| {
            args.resolve_with(env.map(str::to_owned))
                .unwrap()
                .login
                .map(|l| l.credentials.user)
        };
        let mut args = ConnectArgs::default();
        assert_eq!(user(&args, None), None);
        assert_eq!(user(&args, Some("eve:pw")).as_deref(), Some("eve"));
        args.auth_file = Some(file.clone());
        assert_eq!(user(&args, Some("eve:pw")).as_deref(), Some("bob"));
        args.auth = Some("alice:pw".parse().unwrap());
        assert_eq!(user(&args, Some("eve:pw")).as_deref(), Some("alice"));
        std::fs::write(&file, "\n").unwrap();
        args.auth = None;
        assert!(args.resolve_with(None).is_err(), "an empty auth file");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tls_without_a_ca_says_what_to_pass() {
        let args = ConnectArgs {
            tls: true,
            ..ConnectArgs::default()
        };
        let error = args.resolve_with(None).unwrap_err();
        assert!(error.contains("--tls-ca FILE"), "{error}");
        assert!(error.contains("self-signed"), "{error}");
    }
}
