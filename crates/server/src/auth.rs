//! Authentication in front of the service: memcached's ASCII auth (`-Y`: a text `set`
//! whose value is `user password`) and SASL PLAIN for binary clients (`-S`). The
//! connection driver screens every request through a [`Gate`] until the connection has
//! authenticated, whatever the listener and whatever the dialect, so no path reaches
//! the service unauthenticated.

use std::borrow::Cow;

use bytes::Bytes;
use memkeep_protocol::{
    Command, DecodeError, Dialect, Form, ItemMeta, Request, Response, StoreMode, TextForm, TextVerb,
};
use subtle::ConstantTimeEq;

use crate::stats::ConnectionStats;

/// The users allowed in and their passwords, as memcached's auth file lists them.
#[derive(Clone)]
pub struct Credentials {
    users: Vec<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the passwords.
        f.debug_struct("Credentials")
            .field("users", &self.users.len())
            .finish()
    }
}

impl Credentials {
    /// Parses memcached's auth file format: one `user:password` per line (the password
    /// is everything after the first colon). Blank lines are skipped.
    pub fn parse(text: &str) -> Result<Credentials, String> {
        let mut users = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let (user, password) = line
                .split_once(':')
                .ok_or_else(|| format!("line {}: expected user:password", n + 1))?;
            if user.is_empty() || password.is_empty() {
                return Err(format!("line {}: empty user or password", n + 1));
            }
            // The ASCII exchange separates user and password with spaces, so neither
            // could ever match if it held one.
            if user.contains(' ') || password.contains(' ') {
                return Err(format!("line {}: spaces are not allowed", n + 1));
            }
            users.push((user.as_bytes().to_vec(), password.as_bytes().to_vec()));
        }
        if users.is_empty() {
            return Err("no user:password lines".into());
        }
        Ok(Credentials { users })
    }

    /// Whether `user` and `password` match an entry. Every entry is compared in
    /// constant time and none ends the scan early, so the time taken tells nothing
    /// about which part was right or how much of it.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let mut found = subtle::Choice::from(0);
        for (u, p) in &self.users {
            found |= u.as_slice().ct_eq(user) & p.as_slice().ct_eq(password);
        }
        found.into()
    }
}

/// Which authentication a server requires, and with which credentials.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The accepted users.
    pub credentials: Credentials,
    /// Accept memcached's ASCII auth (`-Y`): a text `set` carrying `user password`.
    pub ascii: bool,
    /// Accept SASL PLAIN from binary clients (`-S`).
    pub sasl: bool,
}

/// The one SASL mechanism offered.
const PLAIN: &[u8] = b"PLAIN";

/// What the gate decided about one request.
#[derive(Debug)]
pub(crate) enum Screened {
    /// Authenticated: hand the request to the service.
    Pass(Request),
    /// Answered by the gate; `close` ends the connection after the reply.
    Answer {
        form: Form,
        response: Response,
        close: bool,
    },
}

/// One connection's authentication state.
#[derive(Debug)]
pub(crate) struct Gate<'a> {
    config: Option<&'a AuthConfig>,
    authenticated: bool,
    /// Where login attempts and failures are counted (`auth_cmds`, `auth_errors`).
    stats: &'a ConnectionStats,
}

impl<'a> Gate<'a> {
    /// A gate for a new connection; with no config, everything passes.
    pub(crate) fn new(config: Option<&'a AuthConfig>, stats: &'a ConnectionStats) -> Gate<'a> {
        Gate {
            authenticated: config.is_none(),
            config,
            stats,
        }
    }

    /// Counts one login attempt and returns whether it succeeded.
    fn attempt(&mut self, accepted: bool) -> bool {
        ConnectionStats::add(&self.stats.auth_cmds, 1);
        if accepted {
            self.authenticated = true;
        } else {
            ConnectionStats::add(&self.stats.auth_errors, 1);
        }
        accepted
    }

    /// Lets `request` through once the connection has authenticated; before that,
    /// answers auth exchanges and refuses everything else.
    pub(crate) fn screen(&mut self, request: Request) -> Screened {
        let Some(config) = self.config else {
            return Screened::Pass(request);
        };
        let sasl = matches!(
            request.command,
            Command::SaslListMechs | Command::SaslAuth(_) | Command::SaslStep(_)
        );
        if sasl && config.sasl {
            return self.sasl(config, request);
        }
        if self.authenticated {
            return Screened::Pass(request);
        }
        if config.ascii && is_text_set(&request) {
            return self.ascii(config, request);
        }
        refuse(&request.form)
    }

    /// The reply to a request that could not be decoded, before authentication: the
    /// same refusal as any other request (memcached does not parse it further), and
    /// the connection closes where the decoder says the stream cannot be framed. After
    /// authentication, `None`: the decoder's own error stands.
    pub(crate) fn screen_error(&self, error: &DecodeError) -> Option<Screened> {
        if self.authenticated {
            return None;
        }
        Some(match refuse(&error.form) {
            Screened::Answer {
                form,
                response,
                close,
            } => Screened::Answer {
                form,
                response,
                close: close || error.close,
            },
            pass => pass,
        })
    }

    /// memcached's ASCII auth: the value holds the user and password separated by
    /// spaces; the key, flags and TTL mean nothing. `STORED` on success.
    fn ascii(&mut self, config: &AuthConfig, request: Request) -> Screened {
        let Command::Store(store) = &request.command else {
            return refuse(&request.form);
        };
        let mut tokens = store.data.split(|&b| b == b' ').filter(|t| !t.is_empty());
        let response = match (tokens.next(), tokens.next()) {
            (Some(user), Some(password)) => {
                if self.attempt(config.credentials.check(user, password)) {
                    Response::Stored(ItemMeta::default())
                } else {
                    Response::AuthError
                }
            }
            // memcached does not count a malformed token as an attempt.
            _ => Response::ClientError(Cow::Borrowed("bad authentication token format")),
        };
        // memcached answers the exchange even when it says `noreply`.
        Screened::Answer {
            form: text_form(),
            response,
            close: false,
        }
    }

    /// SASL over the binary protocol: PLAIN in one step (`authzid NUL user NUL pass`).
    fn sasl(&mut self, config: &AuthConfig, request: Request) -> Screened {
        let response = match &request.command {
            Command::SaslListMechs => Response::SaslMechs(Bytes::from_static(PLAIN)),
            Command::SaslAuth(sasl) if sasl.mechanism.as_ref() == PLAIN => {
                let mut parts = sasl.data.split(|&b| b == 0);
                let accepted = match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some(_authzid), Some(user), Some(password), None) => {
                        config.credentials.check(user, password)
                    }
                    _ => false,
                };
                if self.attempt(accepted) {
                    Response::SaslOk
                } else {
                    Response::AuthError
                }
            }
            // PLAIN has no second step; other mechanisms are not offered.
            _ => {
                self.attempt(false);
                Response::AuthError
            }
        };
        Screened::Answer {
            form: request.form,
            response,
            close: false,
        }
    }
}

/// A text `set`: the only shape memcached's ASCII auth takes.
fn is_text_set(request: &Request) -> bool {
    matches!(&request.form, Form::Text(t) if t.verb == TextVerb::Set)
        && matches!(&request.command, Command::Store(s) if s.mode == StoreMode::Set)
}

/// The refusal memcached gives before authentication: `CLIENT_ERROR unauthenticated`
/// on the text and meta protocols, the binary "Auth failure." status (after which
/// memcached closes the connection, as this does).
fn refuse(form: &Form) -> Screened {
    match form.dialect() {
        Dialect::Binary => Screened::Answer {
            form: form.clone(),
            response: Response::AuthError,
            close: true,
        },
        Dialect::Text | Dialect::Meta => Screened::Answer {
            form: text_form(),
            response: Response::ClientError(Cow::Borrowed("unauthenticated")),
            close: false,
        },
    }
}

/// A plain text form with replies on: refusals and the auth exchange are always
/// answered, whatever `noreply` or meta `q` the request carried.
fn text_form() -> Form {
    Form::Text(TextForm {
        verb: TextVerb::Set,
        noreply: false,
    })
}

#[cfg(test)]
mod tests;
