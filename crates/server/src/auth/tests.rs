//! The gate's decisions, request by request, and the auth file parser.

use super::*;
use bytes::BytesMut;
use memkeep_protocol::{encode_response, Decoder, Limits};

fn config(ascii: bool, sasl: bool) -> AuthConfig {
    AuthConfig {
        credentials: Credentials::parse("alice:secret\nbob:hunter2\n").unwrap(),
        ascii,
        sasl,
    }
}

/// Decodes `input`, screens every request, and returns the bytes written.
fn run(gate: &mut Gate<'_>, input: &[u8]) -> Vec<u8> {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(input);
    let mut out = BytesMut::new();
    while let Some(request) = decoder.decode(&mut buf).unwrap() {
        match gate.screen(request) {
            Screened::Pass(_) => out.extend_from_slice(b"<pass>"),
            Screened::Answer { form, response, .. } => encode_response(&form, &response, &mut out),
        }
    }
    out.to_vec()
}

#[test]
fn auth_file_lines_parse() {
    let c = Credentials::parse("a:b:c\r\n\nd:e\n").unwrap();
    assert!(c.check(b"a", b"b:c"));
    assert!(c.check(b"d", b"e"));
    assert!(!c.check(b"a", b"b"));
    assert!(!c.check(b"d", b"e "));
    assert!(Credentials::parse("nocolon\n").is_err());
    assert!(Credentials::parse("\n").is_err());
    assert!(Credentials::parse("a:b c\n").is_err());
}

#[test]
fn text_requests_before_ascii_auth_are_refused() {
    let config = config(true, false);
    let stats = ConnectionStats::default();
    let mut gate = Gate::new(Some(&config), &stats);
    assert_eq!(
        run(
            &mut gate,
            b"get a\r\nmg a v\r\nadd x 0 0 12\r\nalice secret\r\n"
        ),
        b"CLIENT_ERROR unauthenticated\r\n".repeat(3)
    );
    assert_eq!(
        run(&mut gate, b"set x 0 0 11\r\nalicesecret\r\n"),
        b"CLIENT_ERROR bad authentication token format\r\n"
    );
    assert_eq!(
        run(&mut gate, b"set x 0 0 12\r\nalice secreT\r\n"),
        b"CLIENT_ERROR authentication failure\r\n"
    );
    assert_eq!(
        run(
            &mut gate,
            b"set x 0 0 14 noreply\r\n alice  secret\r\nget a\r\n"
        ),
        b"STORED\r\n<pass>"
    );
    // Two attempts with a user and a password, one refused; the malformed one
    // is not counted, as in memcached.
    assert_eq!(ConnectionStats::get(&stats.auth_cmds), 2);
    assert_eq!(ConnectionStats::get(&stats.auth_errors), 1);
}

#[test]
fn binary_requests_before_sasl_are_refused_and_close() {
    let config = config(false, true);
    let stats = ConnectionStats::default();
    let mut gate = Gate::new(Some(&config), &stats);
    let noop = [
        0x80, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut decoder = Decoder::new(Limits::default());
    let request = decoder
        .decode(&mut BytesMut::from(&noop[..]))
        .unwrap()
        .unwrap();
    assert!(matches!(
        gate.screen(request),
        Screened::Answer {
            response: Response::AuthError,
            close: true,
            ..
        }
    ));
    // Without -Y, the ASCII exchange is just another refused request.
    assert_eq!(
        run(&mut gate, b"set x 0 0 12\r\nalice secret\r\n"),
        b"CLIENT_ERROR unauthenticated\r\n"
    );
}

#[test]
fn sasl_plain_authenticates() {
    let config = config(false, true);
    let stats = ConnectionStats::default();
    let mut gate = Gate::new(Some(&config), &stats);
    let auth = |data: &[u8]| Request {
        command: Command::SaslAuth(memkeep_protocol::Sasl {
            mechanism: Bytes::from_static(PLAIN),
            data: Bytes::copy_from_slice(data),
        }),
        form: Form::Binary(memkeep_protocol::BinaryForm {
            opcode: 0x21,
            opaque: 0,
            key: Bytes::new(),
        }),
    };
    let answer = |s: Screened| match s {
        Screened::Answer { response, .. } => response,
        Screened::Pass(_) => panic!("the gate passed an auth exchange"),
    };
    assert_eq!(
        answer(gate.screen(auth(b"\0alice\0wrong"))),
        Response::AuthError
    );
    assert_eq!(
        answer(gate.screen(auth(b"\0alice\0secret\0"))),
        Response::AuthError
    );
    assert_eq!(
        answer(gate.screen(auth(b"alice\0alice\0secret"))),
        Response::SaslOk
    );
    assert_eq!(run(&mut gate, b"get a\r\n"), b"<pass>");
}
