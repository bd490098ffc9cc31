//! The opening exchange of a connection, as bytes in and out (no I/O here, so the
//! blocking commands and the async benchmark drive the same steps):
//!
//! - ASCII auth (the default): `version` first. A server that answers it wants no
//!   login, and the password is never sent (an open server would store it as an
//!   item). `CLIENT_ERROR unauthenticated` asks for one: `set` of "user password",
//!   `STORED` when accepted.
//! - SASL PLAIN: one binary `SASL_AUTH` packet, status 0 when accepted.
//!
//! Without credentials the `version` probe still runs, so a server that wants a
//! login is reported as such, in words, before anything else is sent.

use bytes::{Buf, BytesMut};

use super::{Login, Mechanism};

/// The longest reply accepted during the exchange (memcached's are a short line or a
/// small packet).
const MAX_REPLY: usize = 1024;
const BINARY_HEADER: usize = 24;
const SASL_AUTH: u8 = 0x21;

/// Where the exchange stands.
#[derive(Debug)]
pub struct Exchange<'a> {
    login: Option<&'a Login>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `version` sent.
    Probe,
    /// The ASCII login sent.
    Ascii,
    /// The SASL packet sent.
    Sasl,
}

/// What to do after feeding the reply bytes read so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Read more.
    NeedMore,
    /// Send these bytes, then read again.
    Send(Vec<u8>),
    /// The connection is ready for requests.
    Done,
    /// The server refused; the message says why and what to do.
    Failed(String),
}

impl<'a> Exchange<'a> {
    /// A new exchange, and the bytes to send first.
    pub fn start(login: Option<&'a Login>) -> (Exchange<'a>, Vec<u8>) {
        match login {
            Some(l) if l.mechanism == Mechanism::Sasl => (
                Exchange {
                    login,
                    state: State::Sasl,
                },
                sasl_plain(&l.credentials.user, &l.credentials.password),
            ),
            _ => (
                Exchange {
                    login,
                    state: State::Probe,
                },
                b"version\r\n".to_vec(),
            ),
        }
    }

    /// Takes the reply from the front of `buf` when it is complete.
    pub fn feed(&mut self, buf: &mut BytesMut) -> Next {
        match self.state {
            State::Probe | State::Ascii => {
                let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
                    return too_long_or_more(buf);
                };
                let line = String::from_utf8_lossy(&buf[..lf])
                    .trim_end_matches('\r')
                    .to_owned();
                buf.advance(lf + 1);
                self.on_line(&line)
            }
            State::Sasl => {
                if buf.len() < BINARY_HEADER {
                    return Next::NeedMore;
                }
                let body = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize;
                if body > MAX_REPLY {
                    return Next::Failed(format!("a {body}-byte reply to the SASL login"));
                }
                if buf.len() < BINARY_HEADER + body {
                    return Next::NeedMore;
                }
                let (magic, status) = (buf[0], u16::from_be_bytes([buf[6], buf[7]]));
                buf.advance(BINARY_HEADER + body);
                match (magic, status) {
                    (0x81, 0) => Next::Done,
                    (0x81, 0x20) => Next::Failed(format!(
                        "the server refused the SASL PLAIN login as {} (status 0x20): \
                         wrong user or password, or the server does not take SASL \
                         logins (memcached -S); for memcached -Y use --auth-mechanism ascii",
                        self.user()
                    )),
                    (0x81, 0x81) => Next::Failed(
                        "the server does not know SASL (unknown command): it wants no \
                         login, or an ASCII one (--auth-mechanism ascii)"
                            .into(),
                    ),
                    (0x81, status) => Next::Failed(format!(
                        "the server answered the SASL login with status {status:#06x}"
                    )),
                    _ => Next::Failed(
                        "the server did not answer the SASL login in the binary protocol".into(),
                    ),
                }
            }
        }
    }

    fn on_line(&mut self, line: &str) -> Next {
        let unauthenticated = line == "CLIENT_ERROR unauthenticated";
        match (self.state, self.login) {
            (State::Probe, _) if !unauthenticated => Next::Done,
            (State::Probe, Some(login)) => {
                self.state = State::Ascii;
                let token = format!("{} {}", login.credentials.user, login.credentials.password);
                Next::Send(format!("set memkeep-auth 0 0 {}\r\n{token}\r\n", token.len()).into_bytes())
            }
            (State::Probe, None) => Next::Failed(
                "the server requires a login (it answered CLIENT_ERROR unauthenticated): \
                 pass --auth-file FILE holding a user:password line, or set MEMKEEP_AUTH=user:password"
                    .into(),
            ),
            (_, _) if line == "STORED" => Next::Done,
            (_, _) if line == "CLIENT_ERROR authentication failure" => Next::Failed(format!(
                "the server refused the login as {}: wrong user or password",
                self.user()
            )),
            (_, _) if unauthenticated => Next::Failed(format!(
                "the server does not take ASCII logins (it answered the login as {} with \
                 CLIENT_ERROR unauthenticated): if it runs with -S, pass --auth-mechanism sasl",
                self.user()
            )),
            (_, _) => Next::Failed(format!(
                "the server answered the login as {} with {line:?}",
                self.user()
            )),
        }
    }

    fn user(&self) -> &str {
        self.login.map_or("", |l| l.credentials.user.as_str())
    }
}

fn too_long_or_more(buf: &BytesMut) -> Next {
    if buf.len() > MAX_REPLY {
        Next::Failed("the server's first reply is not a memcached reply line".into())
    } else {
        Next::NeedMore
    }
}

/// A binary SASL_AUTH request for PLAIN (`NUL user NUL password`).
fn sasl_plain(user: &str, password: &str) -> Vec<u8> {
    const MECHANISM: &[u8] = b"PLAIN";
    let data = format!("\0{user}\0{password}");
    let body = (MECHANISM.len() + data.len()) as u32;
    let mut packet = vec![0x80, SASL_AUTH, 0, MECHANISM.len() as u8, 0, 0, 0, 0];
    packet.extend_from_slice(&body.to_be_bytes());
    packet.extend_from_slice(&[0; 12]); // opaque and CAS
    packet.extend_from_slice(MECHANISM);
    packet.extend_from_slice(data.as_bytes());
    packet
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memkeep::connect::Credentials;

    fn login(mechanism: Mechanism) -> Login {
        Login {
            credentials: Credentials {
                user: "alice".into(),
                password: "secret".into(),
            },
            mechanism,
        }
    }

    fn feed(ex: &mut Exchange<'_>, bytes: &[u8]) -> Next {
        let mut buf = BytesMut::from(bytes);
        let next = ex.feed(&mut buf);
        assert!(
            buf.is_empty() || next == Next::NeedMore,
            "the reply is consumed"
        );
        next
    }

    #[test]
    fn an_open_server_never_sees_the_password() {
        let l = login(Mechanism::Ascii);
        let (mut ex, first) = Exchange::start(Some(&l));
        assert_eq!(first, b"version\r\n");
        assert_eq!(feed(&mut ex, b"VERSION 1.6.18"), Next::NeedMore);
        assert_eq!(feed(&mut ex, b"VERSION 1.6.18\r\n"), Next::Done);
    }

    #[test]
    fn ascii_login_when_asked() {
        let l = login(Mechanism::Ascii);
        let (mut ex, _) = Exchange::start(Some(&l));
        assert_eq!(
            feed(&mut ex, b"CLIENT_ERROR unauthenticated\r\n"),
            Next::Send(b"set memkeep-auth 0 0 12\r\nalice secret\r\n".to_vec())
        );
        assert_eq!(feed(&mut ex, b"STORED\r\n"), Next::Done);
        let (mut ex, _) = Exchange::start(Some(&l));
        feed(&mut ex, b"CLIENT_ERROR unauthenticated\r\n");
        let Next::Failed(why) = feed(&mut ex, b"CLIENT_ERROR authentication failure\r\n") else {
            panic!("refused")
        };
        assert!(why.contains("wrong user or password"), "{why}");
    }

    #[test]
    fn no_credentials_for_a_server_that_wants_them() {
        let (mut ex, _) = Exchange::start(None);
        let Next::Failed(why) = feed(&mut ex, b"CLIENT_ERROR unauthenticated\r\n") else {
            panic!("refused")
        };
        assert!(
            why.contains("--auth-file") && why.contains("MEMKEEP_AUTH"),
            "{why}"
        );
    }

    #[test]
    fn sasl_plain_in_one_packet() {
        let l = login(Mechanism::Sasl);
        let (mut ex, packet) = Exchange::start(Some(&l));
        assert_eq!(&packet[..4], &[0x80, 0x21, 0, 5]);
        assert_eq!(&packet[24..], b"PLAIN\0alice\0secret");
        let mut ok = vec![0x81, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13];
        ok.extend_from_slice(&[0; 12]);
        ok.extend_from_slice(b"Authenticated");
        assert_eq!(feed(&mut ex, &ok[..30]), Next::NeedMore);
        assert_eq!(feed(&mut ex, &ok), Next::Done);
        let (mut ex, _) = Exchange::start(Some(&l));
        let mut refused = vec![0x81, 0x21, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0];
        refused.extend_from_slice(&[0; 12]);
        assert!(matches!(feed(&mut ex, &refused), Next::Failed(w) if w.contains("refused")));
    }
}
