//! DNS messages as bytes (RFC 1035, SRV from RFC 2782), without I/O: the query for
//! one name and record type, and the records of a reply. Only what discovery reads
//! is decoded (A, AAAA, SRV); other records are kept as [`Data::Other`].

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Record type A: an IPv4 address.
pub const TYPE_A: u16 = 1;
/// Record type AAAA: an IPv6 address.
pub const TYPE_AAAA: u16 = 28;
/// Record type SRV: a service's target host, port, priority and weight.
pub const TYPE_SRV: u16 = 33;
const CLASS_IN: u16 = 1;
/// A name's longest form on the wire (RFC 1035 3.1).
const MAX_NAME: usize = 255;

/// The data of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A service location.
    Srv {
        /// Lower is preferred; only the lowest present is used.
        priority: u16,
        /// Relative share among records of the same priority.
        weight: u16,
        /// The service's port on the target.
        port: u16,
        /// The target host, lower case, without the final dot.
        target: String,
    },
    /// A record of another type (a CNAME on the way, for instance).
    Other,
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its owner name, lower case, without the final dot.
    pub name: String,
    /// Seconds it may be kept.
    pub ttl: u32,
    /// What it says.
    pub data: Data,
}

/// A decoded reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The query id it answers.
    pub id: u16,
    /// The reply did not fit in the datagram (ask again over TCP).
    pub truncated: bool,
    /// The response code: 0 no error, 3 no such name, others server trouble.
    pub rcode: u8,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The additional section (where SRV targets' addresses often come along).
    pub additional: Vec<Record>,
}

/// Bytes that are not a DNS message, or a name that cannot be asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub &'static str);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for WireError {}

/// The query for `name`'s records of `record_type`, recursion desired.
pub fn query(id: u16, name: &str, record_type: u16) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(18 + name.len());
    out.extend_from_slice(&id.to_be_bytes());
    // Flags: a standard query, recursion desired. One question, no records.
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() + 2 > MAX_NAME {
        return Err(WireError("a name must have 1 to 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(WireError("a name's labels must have 1 to 63 characters"));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&record_type.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

/// Decodes a reply.
pub fn parse_reply(message: &[u8]) -> Result<Reply, WireError> {
    let mut reader = Reader { message, at: 0 };
    let id = reader.u16()?;
    let flags = reader.u16()?;
    if flags & 0x8000 == 0 {
        return Err(WireError("not a reply"));
    }
    let questions = reader.u16()?;
    let answers = reader.u16()?;
    let authority = reader.u16()?;
    let additional = reader.u16()?;
    for _ in 0..questions {
        reader.name()?;
        reader.take(4)?;
    }
    let answers = (0..answers)
        .map(|_| reader.record())
        .collect::<Result<Vec<_>, _>>()?;
    for _ in 0..authority {
        reader.record()?;
    }
    // A reply cut short may lack its additional section; the answers stand.
    let additional = (0..additional)
        .map_while(|_| reader.record().ok())
        .collect();
    Ok(Reply {
        id,
        truncated: flags & 0x0200 != 0,
        rcode: (flags & 0x000f) as u8,
        answers,
        additional,
    })
}

struct Reader<'m> {
    message: &'m [u8],
    at: usize,
}

impl<'m> Reader<'m> {
    fn take(&mut self, n: usize) -> Result<&'m [u8], WireError> {
        let bytes = self
            .message
            .get(self.at..self.at + n)
            .ok_or(WireError("message cut short"))?;
        self.at += n;
        Ok(bytes)
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A name at the cursor, following compression pointers (each must point
    /// before the one that led to it, so a loop cannot be built).
    fn name(&mut self) -> Result<String, WireError> {
        let mut name = String::new();
        let mut at = self.at;
        let mut resume = None;
        let mut limit = at;
        loop {
            let len = *self.message.get(at).ok_or(WireError("message cut short"))? as usize;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    at += 1;
                    break;
                }
                0x00 => {
                    let label = self
                        .message
                        .get(at + 1..at + 1 + len)
                        .ok_or(WireError("message cut short"))?;
                    if !name.is_empty() {
                        name.push('.');
                    }
                    name.extend(label.iter().map(|&b| b.to_ascii_lowercase() as char));
                    if name.len() > MAX_NAME {
                        return Err(WireError("name too long"));
                    }
                    at += 1 + len;
                }
                0xc0 => {
                    let low = *self
                        .message
                        .get(at + 1)
                        .ok_or(WireError("message cut short"))?;
                    let target = ((len & 0x3f) << 8) | low as usize;
                    if target >= limit {
                        return Err(WireError("compression pointer does not point back"));
                    }
                    resume.get_or_insert(at + 2);
                    limit = target;
                    at = target;
                }
                _ => return Err(WireError("unknown label type")),
            }
        }
        self.at = resume.unwrap_or(at);
        Ok(name)
    }

    fn record(&mut self) -> Result<Record, WireError> {
        let name = self.name()?;
        let record_type = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = self.u16()? as usize;
        let end = self.at + len;
        if end > self.message.len() {
            return Err(WireError("message cut short"));
        }
        let data = match (record_type, class, len) {
            (TYPE_A, CLASS_IN, 4) => {
                let b = self.take(4)?;
                Data::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            (TYPE_AAAA, CLASS_IN, 16) => {
                let b: [u8; 16] = self.take(16)?.try_into().expect("16 bytes taken");
                Data::Aaaa(Ipv6Addr::from(b))
            }
            (TYPE_SRV, CLASS_IN, _) => Data::Srv {
                priority: self.u16()?,
                weight: self.u16()?,
                port: self.u16()?,
                target: self.name()?,
            },
            _ => Data::Other,
        };
        if self.at > end {
            return Err(WireError("record data longer than its length"));
        }
        self.at = end;
        // RFC 2181 8: a TTL with the top bit set counts as 0.
        let ttl = if ttl > i32::MAX as u32 { 0 } else { ttl };
        Ok(Record { name, ttl, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply to `query` with the given answer records (owner name compressed
    /// to the question's), built as a server would.
    fn reply(query: &[u8], flags: u16, answers: &[(u16, u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = query.to_vec();
        out[2..4].copy_from_slice(&flags.to_be_bytes());
        out[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        for (record_type, ttl, data) in answers {
            out.extend_from_slice(&[0xc0, 12]);
            out.extend_from_slice(&record_type.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn a_query_is_laid_out_as_rfc_1035_says() {
        let q = query(0x1234, "Cache.svc.", TYPE_A).unwrap();
        assert_eq!(
            q,
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05Cache\x03svc\x00\x00\x01\x00\x01"
        );
        assert!(query(1, "", TYPE_A).is_err());
        assert!(query(1, "a..b", TYPE_A).is_err());
        assert!(query(1, &"x".repeat(64), TYPE_A).is_err());
    }

    #[test]
    fn addresses_and_services_are_read() {
        let q = query(7, "_memcache._tcp.cache", TYPE_SRV).unwrap();
        // SRV 0 5 11211 node + a pointer to the question's "cache" label (after
        // "_memcache" and "_tcp": 10 and 5 bytes).
        let mut srv = vec![0, 0, 0, 5, 0x2b, 0xcb, 4, b'n', b'o', b'd', b'e'];
        srv.extend_from_slice(&[0xc0, 12 + 15]);
        let wire = reply(
            &q,
            0x8180,
            &[
                (TYPE_SRV, 30, srv),
                (TYPE_A, 10, vec![10, 0, 0, 1]),
                (
                    TYPE_AAAA,
                    0x8000_0000,
                    [0; 15].into_iter().chain([1]).collect(),
                ),
            ],
        );
        let r = parse_reply(&wire).unwrap();
        assert_eq!((r.id, r.truncated, r.rcode), (7, false, 0));
        assert_eq!(
            r.answers[0],
            Record {
                name: "_memcache._tcp.cache".into(),
                ttl: 30,
                data: Data::Srv {
                    priority: 0,
                    weight: 5,
                    port: 11211,
                    target: "node.cache".into()
                }
            }
        );
        assert_eq!(r.answers[1].data, Data::A(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(r.answers[2].data, Data::Aaaa(Ipv6Addr::LOCALHOST));
        assert_eq!(r.answers[2].ttl, 0);
    }

    #[test]
    fn flags_and_bad_messages() {
        let q = query(9, "a", TYPE_A).unwrap();
        let r = parse_reply(&reply(&q, 0x8183, &[])).unwrap();
        assert_eq!((r.truncated, r.rcode), (false, 3));
        assert!(parse_reply(&reply(&q, 0x8380, &[])).unwrap().truncated);
        assert_eq!(parse_reply(&q), Err(WireError("not a reply")));
        let full = reply(&q, 0x8180, &[(TYPE_A, 1, vec![1, 2, 3, 4])]);
        for cut in 0..full.len() {
            assert!(parse_reply(&full[..cut]).is_err(), "cut at {cut}");
        }
        // A pointer to itself would loop forever.
        let mut looping = reply(&q, 0x8180, &[(TYPE_A, 1, vec![1, 2, 3, 4])]);
        let at = q.len();
        looping[at..at + 2].copy_from_slice(&[0xc0, at as u8]);
        assert!(parse_reply(&looping).is_err());
    }
}
