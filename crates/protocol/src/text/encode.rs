//! Server side: a [`Response`] written as memcached 1.6 writes it to a text client.

use bytes::{BufMut, BytesMut};

use crate::{Response, TextForm, TextVerb, Value};

/// memcached's reply to incr/decr on a value that is not a decimal number.
pub(crate) const NON_NUMERIC: &str = "cannot increment or decrement non-numeric value";
/// memcached's reply to a value above the item size limit.
pub(crate) const TOO_LARGE: &str = "object too large for cache";
/// memcached's reply when it cannot allocate room for a value.
pub(crate) const OUT_OF_MEMORY: &str = "out of memory storing object";
/// memcached's reply to a failed ASCII authentication.
const AUTH_FAILURE: &str = "authentication failure";

/// See [`super::encode_response`].
pub(crate) fn encode_response(form: &TextForm, response: &Response, out: &mut BytesMut) {
    // memcached's `out_string` drops every reply to a `noreply` command, errors included;
    // a failed `refresh_certs` writes its message another way, which noreply skips.
    let written_anyway =
        form.verb == TextVerb::RefreshCerts && matches!(response, Response::ErrorLine(_));
    if form.noreply && !written_anyway {
        return;
    }
    let line: &[u8] = match response {
        Response::Values(values) => {
            let with_cas = matches!(form.verb, TextVerb::Gets | TextVerb::Gats);
            // Room for every block at once (the numbers take at most 48 bytes).
            let room: usize = values.iter().map(|v| v.key.len() + v.data.len()).sum();
            out.reserve(room + values.len() * 48 + 5);
            for value in values {
                encode_value(value, with_cas, out);
            }
            b"END\r\n"
        }
        Response::Stored(_) => b"STORED\r\n",
        Response::NotStored => b"NOT_STORED\r\n",
        Response::Exists => b"EXISTS\r\n",
        Response::NotFound => b"NOT_FOUND\r\n",
        Response::Deleted => b"DELETED\r\n",
        Response::Touched(_) => b"TOUCHED\r\n",
        Response::Number(n, _) => {
            out.put_slice(itoa::Buffer::new().format(*n).as_bytes());
            b"\r\n"
        }
        Response::Ok => b"OK\r\n",
        Response::Reset => b"RESET\r\n",
        Response::ErrorLine(line) => {
            out.put_slice(line.as_bytes());
            b"\r\n"
        }
        Response::Version(version) => {
            out.put_slice(b"VERSION ");
            out.put_slice(version);
            b"\r\n"
        }
        Response::Metadump(lines) => {
            out.put_slice(lines);
            b"END\r\n"
        }
        Response::Raw(bytes) => return out.put_slice(bytes),
        Response::Stats(stats) => {
            for (name, value) in stats {
                out.put_slice(b"STAT ");
                out.put_slice(name.as_bytes());
                out.put_u8(b' ');
                out.put_slice(value.as_bytes());
                out.put_slice(b"\r\n");
            }
            b"END\r\n"
        }
        Response::TooLarge => return server_error(TOO_LARGE, out),
        Response::OutOfMemory => return server_error(OUT_OF_MEMORY, out),
        Response::NonNumeric => return client_error(NON_NUMERIC, out),
        Response::AuthError => return client_error(AUTH_FAILURE, out),
        Response::ClientError(message) => return client_error(message, out),
        Response::ServerError(message) => return server_error(message, out),
        // The text protocol has no no-op, debug or SASL replies. Answering `ERROR` keeps
        // one reply per request, so the client's replies stay in order.
        Response::Error
        | Response::Noop
        | Response::Debug(_)
        | Response::SaslMechs(_)
        | Response::SaslOk => b"ERROR\r\n",
    };
    out.put_slice(line);
}

/// `VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n`.
fn encode_value(value: &Value, with_cas: bool, out: &mut BytesMut) {
    let mut num = itoa::Buffer::new();
    out.put_slice(b"VALUE ");
    out.put_slice(&value.key);
    out.put_u8(b' ');
    out.put_slice(num.format(value.meta.flags).as_bytes());
    out.put_u8(b' ');
    out.put_slice(num.format(value.data.len()).as_bytes());
    if with_cas {
        out.put_u8(b' ');
        out.put_slice(num.format(value.meta.cas).as_bytes());
    }
    out.put_slice(b"\r\n");
    out.put_slice(&value.data);
    out.put_slice(b"\r\n");
}

fn client_error(message: &str, out: &mut BytesMut) {
    out.put_slice(b"CLIENT_ERROR ");
    out.put_slice(message.as_bytes());
    out.put_slice(b"\r\n");
}

fn server_error(message: &str, out: &mut BytesMut) {
    out.put_slice(b"SERVER_ERROR ");
    out.put_slice(message.as_bytes());
    out.put_slice(b"\r\n");
}
