//! Server side: responses written as memcached 1.6's proto_bin.c writes them: the
//! request's opcode and opaque echoed, the status and body text it uses, nothing at
//! all for quiet requests that succeed (or miss, for quiet gets).

use bytes::BytesMut;

use super::header::Packet;
use super::opcode::{self as op, is_quiet, is_retrieval, loud, returns_key};
use super::status;
use crate::{BinaryForm, ItemMeta, Response, Value};

/// Appends the reply; see [`super::encode_response`].
pub(super) fn encode_response(form: &BinaryForm, response: &Response, out: &mut BytesMut) {
    let reply = Reply { form, out };
    let opcode = loud(form.opcode);
    match response {
        Response::Values(values) => match values.first() {
            Some(value) => reply.hit(value),
            None => reply.miss(),
        },
        Response::NotFound if is_retrieval(opcode) => reply.miss(),
        Response::Stored(meta) => reply.success(meta.cas, &[], &[]),
        Response::Touched(meta) if is_retrieval(opcode) => reply.hit(&Value {
            key: form.key.clone(),
            data: bytes::Bytes::new(),
            meta: *meta,
        }),
        Response::Touched(meta) => reply.touched(meta),
        Response::Number(n, meta) => reply.success(meta.cas, &[], &n.to_be_bytes()),
        // `stat reset` ends with the empty packet that ends every STAT reply.
        Response::Deleted | Response::Ok | Response::Noop | Response::Reset => {
            reply.success(0, &[], &[])
        }
        Response::Version(version) => reply.success(0, &[], version),
        Response::SaslMechs(mechs) => reply.success(0, &[], mechs),
        Response::SaslOk => reply.success(0, &[], b"Authenticated"),
        Response::Stats(stats) => reply.stats(stats),
        // A lone `STAT name value` line (`stats sizes_enable`): memcached sends it as
        // one packet, without the empty packet that ends other STAT replies.
        Response::Raw(line) if opcode == op::STAT => reply.stat_line(line),
        Response::NotStored => reply.error(match opcode {
            // memcached maps a failed add/replace to the status its text would imply.
            op::ADD => status::KEY_EEXISTS,
            op::REPLACE => status::KEY_ENOENT,
            _ => status::NOT_STORED,
        }),
        Response::Exists => reply.error(status::KEY_EEXISTS),
        // memcached answers an unknown stats group with "Not found".
        Response::NotFound => reply.error(status::KEY_ENOENT),
        Response::Error | Response::Debug(_) if opcode == op::STAT => {
            reply.error(status::KEY_ENOENT)
        }
        Response::Error
        | Response::Debug(_)
        | Response::ErrorLine(_)
        | Response::Metadump(_)
        | Response::Raw(_) => reply.error(status::UNKNOWN_COMMAND),
        Response::AuthError => reply.error(status::AUTH_ERROR),
        Response::TooLarge => reply.error(status::E2BIG),
        Response::OutOfMemory => reply.error(status::ENOMEM),
        Response::NonNumeric => reply.error(status::DELTA_BADVAL),
        Response::ClientError(_) => reply.error(status::EINVAL),
        // The binary protocol's only SERVER_ERRORs are "object too large" and the out
        // of memory family; the status codes past 0x82 are never sent by memcached.
        Response::ServerError(message) if message.contains("too large") => {
            reply.error(status::E2BIG)
        }
        Response::ServerError(_) => reply.error(status::ENOMEM),
    }
}

/// One reply being written for one request.
struct Reply<'a> {
    form: &'a BinaryForm,
    out: &'a mut BytesMut,
}

impl Reply<'_> {
    fn packet(self, status: u16, cas: u64, extras: &[u8], key: &[u8], value: &[u8]) {
        Packet {
            opcode: self.form.opcode,
            status,
            opaque: self.form.opaque,
            cas,
            extras,
            key,
            value,
        }
        .write(super::RESPONSE_MAGIC, self.out);
    }

    /// A plain success; quiet requests get nothing.
    fn success(self, cas: u64, key: &[u8], value: &[u8]) {
        if !is_quiet(self.form.opcode) {
            self.packet(status::SUCCESS, cas, &[], key, value);
        }
    }

    /// Errors are written for quiet requests too, always with memcached's fixed text.
    fn error(self, status: u16) {
        self.packet(status, 0, &[], &[], status::text(status).as_bytes());
    }

    /// A retrieval hit: written even for quiet gets. TOUCH replies carry the flags but
    /// not the value.
    fn hit(self, value: &Value) {
        let flags = value.meta.flags.to_be_bytes();
        // memcached echoes the item's key, which is the request's.
        let key: &[u8] = if returns_key(self.form.opcode) {
            &value.key
        } else {
            &[]
        };
        let data: &[u8] = if loud(self.form.opcode) == op::TOUCH {
            &[]
        } else {
            &value.data
        };
        self.packet(status::SUCCESS, value.meta.cas, &flags, key, data);
    }

    /// A retrieval miss: nothing for quiet gets; the key and only the key as the body
    /// for GETK/GATK, "Not found" for the others.
    fn miss(self) {
        if is_quiet(self.form.opcode) {
            return;
        }
        if returns_key(self.form.opcode) {
            let form = self.form;
            self.packet(status::KEY_ENOENT, 0, &[], &form.key, &[]);
        } else {
            self.error(status::KEY_ENOENT);
        }
    }

    /// TOUCH: the item's flags as extras, no value.
    fn touched(self, meta: &ItemMeta) {
        self.packet(
            status::SUCCESS,
            meta.cas,
            &meta.flags.to_be_bytes(),
            &[],
            &[],
        );
    }

    /// One packet per statistic (name as the key, value as the value), then an empty
    /// packet that ends the list.
    fn stat_line(self, line: &[u8]) {
        let line = line.strip_suffix(b"\r\n").unwrap_or(line);
        let line = line.strip_prefix(b"STAT ").unwrap_or(line);
        let (name, value) = match line.iter().position(|&b| b == b' ') {
            Some(space) => (&line[..space], &line[space + 1..]),
            None => (line, &[][..]),
        };
        Packet {
            opcode: self.form.opcode,
            opaque: self.form.opaque,
            key: name,
            value,
            ..Packet::default()
        }
        .write(super::RESPONSE_MAGIC, self.out);
    }

    fn stats(self, stats: &[(String, String)]) {
        for (name, value) in stats {
            Packet {
                opcode: self.form.opcode,
                opaque: self.form.opaque,
                key: name.as_bytes(),
                value: value.as_bytes(),
                ..Packet::default()
            }
            .write(super::RESPONSE_MAGIC, self.out);
        }
        self.packet(status::SUCCESS, 0, &[], &[], &[]);
    }
}
