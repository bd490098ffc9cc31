//! What travels on a replication link: the records (an item's whole state, a delete,
//! a flush) with their route (the node that first took the write, and how many links
//! the record crossed), and the frames around them, in a small length-prefixed binary
//! format whose version is in the hello.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// One replicated change. Items travel as their whole state, never as the command
/// that made them, so applying a record twice or out of order is harmless (the CAS
/// decides, see the crate docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The item as it is now on the writer.
    Item {
        /// The key.
        key: Bytes,
        /// The value.
        data: Bytes,
        /// Client flags.
        flags: u32,
        /// Absolute expiry in unix seconds; 0 never expires.
        expires: u64,
        /// The CAS unique: the item's version.
        cas: u64,
    },
    /// The key was deleted (or expired by a write) with this version.
    Delete {
        /// The key.
        key: Bytes,
        /// A CAS newer than the deleted item's.
        cas: u64,
    },
    /// The item with version `cas` got a new expiry (touch, gat, `mg T`), which
    /// leaves its CAS as it was. `stamp` orders touches of the same item.
    Touch {
        /// The key.
        key: Bytes,
        /// The version of the item touched.
        cas: u64,
        /// The new absolute expiry in unix seconds; 0 never expires.
        expires: u64,
        /// When, as a CAS-clock value: of two touches of one item the later wins.
        stamp: u64,
    },
    /// `flush_all`: at unix time `at` (0: at once), invalidating items older than `cas`.
    Flush {
        /// When, in unix seconds; 0 for now.
        at: u64,
        /// Items with a smaller CAS are flushed.
        cas: u64,
    },
}

impl Record {
    /// Roughly how many bytes the record holds, for the backlog's memory bound.
    pub fn size(&self) -> usize {
        match self {
            Record::Item { key, data, .. } => 48 + key.len() + data.len(),
            Record::Delete { key, .. } => 32 + key.len(),
            Record::Touch { key, .. } => 48 + key.len(),
            Record::Flush { .. } => 32,
        }
    }
}

/// Where a record comes from: forwarding follows it so that a record never goes back
/// to the node that first took the write, and never travels forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Route {
    /// The run id of the node that first accepted the write (for a full copy's items:
    /// the node copying).
    pub origin: u64,
    /// How many links the record has crossed before this one.
    pub hops: u8,
}

/// How a node takes part in replication, as it announces itself on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// One of a repcached pair (`-x`): both write, both receive.
    Pair,
    /// A node others connect to (`-X` only): the first of a pair, or a primary.
    Primary,
    /// A read replica (`--replica-of`): receives, sends nothing back.
    Replica,
}

impl Role {
    /// The name `stats` shows.
    pub fn name(self) -> &'static str {
        match self {
            Role::Pair => "pair",
            Role::Primary => "primary",
            Role::Replica => "replica",
        }
    }
}

/// One frame on a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// First frame each way: who I am.
    Hello {
        /// The link format the sender speaks ([`LINK_VERSION`] for this build).
        version: u8,
        /// This process's random run id (changes on restart).
        run: u64,
        /// How this node takes part.
        role: Role,
        /// The address the node goes by (its replication port, else its client
        /// port), for `stats`; may be empty.
        addr: String,
    },
    /// Second frame each way: whether I want your records, and from where.
    Want {
        /// Send me your data.
        stream: bool,
        /// Your next sequence number I lack, if I hold everything before it from
        /// your current run.
        resume: Option<u64>,
    },
    /// The sender resumes its stream at this sequence number (no full copy).
    Resume(u64),
    /// A full copy begins; the items follow as records with sequence 0.
    CopyBegin,
    /// The full copy is complete; the stream continues at this sequence number.
    CopyEnd(u64),
    /// A record; `seq` 0 inside a full copy.
    Record {
        /// Its sequence number in the sender's log.
        seq: u64,
        /// Where it comes from.
        route: Route,
        /// The change.
        record: Record,
    },
    /// Nothing to send for a while: the link is alive.
    Ping,
    /// The receiver holds everything of the sender's log before this sequence number:
    /// the records in between were not for it (they came from it, or from the node
    /// that took the write), so a resume can start here.
    Position(u64),
}

const HELLO: u8 = 1;
const WANT: u8 = 2;
const RESUME: u8 = 3;
const COPY_BEGIN: u8 = 4;
const COPY_END: u8 = 5;
const ITEM: u8 = 6;
const DELETE: u8 = 7;
const FLUSH: u8 = 8;
const PING: u8 = 9;
const TOUCH: u8 = 10;
const POSITION: u8 = 11;

/// The link format this build speaks. 3 added routes (origin, hops) to records, the
/// node's address to the hello and [`Frame::Position`]; 2 had none of these.
pub const LINK_VERSION: u8 = 3;

/// Magic at the start of a hello ("mkr"), followed by the link format version, so a
/// stray client is refused and a peer of another version is recognised.
const MAGIC: u32 = 0x6d6b_7200;

/// Largest frame accepted: a 1 GiB item plus its header.
pub const MAX_FRAME: usize = (1 << 30) + 1024;

/// The frame could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadFrame(pub &'static str);

impl std::fmt::Display for BadFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad replication frame: {}", self.0)
    }
}

impl std::error::Error for BadFrame {}

impl Frame {
    /// Appends the frame: a u32 length, a tag, the body.
    pub fn encode(&self, out: &mut BytesMut) {
        let start = out.len();
        out.put_u32(0);
        match self {
            Frame::Hello {
                version,
                run,
                role,
                addr,
            } => {
                out.put_u8(HELLO);
                out.put_u32(MAGIC | u32::from(*version));
                out.put_u64(*run);
                out.put_u8(match role {
                    Role::Pair => 0,
                    Role::Primary => 1,
                    Role::Replica => 2,
                });
                out.put_slice(addr.as_bytes());
            }
            Frame::Want { stream, resume } => {
                out.put_u8(WANT);
                out.put_u8(u8::from(*stream));
                out.put_u8(u8::from(resume.is_some()));
                out.put_u64(resume.unwrap_or(0));
            }
            Frame::Resume(seq) => {
                out.put_u8(RESUME);
                out.put_u64(*seq);
            }
            Frame::CopyBegin => out.put_u8(COPY_BEGIN),
            Frame::CopyEnd(seq) => {
                out.put_u8(COPY_END);
                out.put_u64(*seq);
            }
            Frame::Record { seq, route, record } => match record {
                Record::Item {
                    key,
                    data,
                    flags,
                    expires,
                    cas,
                } => {
                    out.put_u8(ITEM);
                    out.put_u64(*seq);
                    put_route(out, route);
                    out.put_u64(*cas);
                    out.put_u32(*flags);
                    out.put_u64(*expires);
                    out.put_u8(key.len() as u8);
                    out.put_slice(key);
                    out.put_slice(data);
                }
                Record::Delete { key, cas } => {
                    out.put_u8(DELETE);
                    out.put_u64(*seq);
                    put_route(out, route);
                    out.put_u64(*cas);
                    out.put_slice(key);
                }
                Record::Touch {
                    key,
                    cas,
                    expires,
                    stamp,
                } => {
                    out.put_u8(TOUCH);
                    out.put_u64(*seq);
                    put_route(out, route);
                    out.put_u64(*cas);
                    out.put_u64(*expires);
                    out.put_u64(*stamp);
                    out.put_slice(key);
                }
                Record::Flush { at, cas } => {
                    out.put_u8(FLUSH);
                    out.put_u64(*seq);
                    put_route(out, route);
                    out.put_u64(*at);
                    out.put_u64(*cas);
                }
            },
            Frame::Ping => out.put_u8(PING),
            Frame::Position(seq) => {
                out.put_u8(POSITION);
                out.put_u64(*seq);
            }
        }
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Decodes one frame from the front of `buf`; `Ok(None)` needs more bytes.
    pub fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, BadFrame> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
        if len == 0 || len > MAX_FRAME {
            return Err(BadFrame("length"));
        }
        if buf.len() < 4 + len {
            buf.reserve(4 + len - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        let mut body = buf.split_to(len).freeze();
        let need = |body: &Bytes, n: usize| {
            if body.remaining() < n {
                Err(BadFrame("short"))
            } else {
                Ok(())
            }
        };
        let tag = body.get_u8();
        let frame = match tag {
            HELLO => {
                // Every version so far starts with magic, run id and role: a peer of
                // another version is told apart from garbage and named in the log.
                need(&body, 13)?;
                let magic = body.get_u32();
                if magic & !0xff != MAGIC {
                    return Err(BadFrame("magic"));
                }
                let run = body.get_u64();
                let role = match body.get_u8() {
                    0 => Role::Pair,
                    1 => Role::Primary,
                    2 => Role::Replica,
                    _ => return Err(BadFrame("role")),
                };
                if body.len() > MAX_ADDR {
                    return Err(BadFrame("address"));
                }
                let addr = String::from_utf8_lossy(&body).into_owned();
                Frame::Hello {
                    version: (magic & 0xff) as u8,
                    run,
                    role,
                    addr,
                }
            }
            WANT => {
                need(&body, 10)?;
                let stream = body.get_u8() != 0;
                let has = body.get_u8() != 0;
                let seq = body.get_u64();
                Frame::Want {
                    stream,
                    resume: has.then_some(seq),
                }
            }
            RESUME => {
                need(&body, 8)?;
                Frame::Resume(body.get_u64())
            }
            COPY_BEGIN => Frame::CopyBegin,
            COPY_END => {
                need(&body, 8)?;
                Frame::CopyEnd(body.get_u64())
            }
            ITEM => {
                need(&body, 29 + ROUTE_BYTES)?;
                let seq = body.get_u64();
                let route = get_route(&mut body);
                let cas = body.get_u64();
                let flags = body.get_u32();
                let expires = body.get_u64();
                let klen = usize::from(body.get_u8());
                need(&body, klen)?;
                let key = body.split_to(klen);
                Frame::Record {
                    seq,
                    route,
                    record: Record::Item {
                        key,
                        data: body,
                        flags,
                        expires,
                        cas,
                    },
                }
            }
            DELETE => {
                need(&body, 16 + ROUTE_BYTES)?;
                let seq = body.get_u64();
                let route = get_route(&mut body);
                let cas = body.get_u64();
                Frame::Record {
                    seq,
                    route,
                    record: Record::Delete { key: body, cas },
                }
            }
            FLUSH => {
                need(&body, 24 + ROUTE_BYTES)?;
                let seq = body.get_u64();
                let route = get_route(&mut body);
                let at = body.get_u64();
                let cas = body.get_u64();
                Frame::Record {
                    seq,
                    route,
                    record: Record::Flush { at, cas },
                }
            }
            TOUCH => {
                need(&body, 32 + ROUTE_BYTES)?;
                let seq = body.get_u64();
                let route = get_route(&mut body);
                let cas = body.get_u64();
                let expires = body.get_u64();
                let stamp = body.get_u64();
                Frame::Record {
                    seq,
                    route,
                    record: Record::Touch {
                        key: body,
                        cas,
                        expires,
                        stamp,
                    },
                }
            }
            PING => Frame::Ping,
            POSITION => {
                need(&body, 8)?;
                Frame::Position(body.get_u64())
            }
            _ => return Err(BadFrame("tag")),
        };
        Ok(Some(frame))
    }
}

const ROUTE_BYTES: usize = 9;

/// Longest address a hello may carry.
const MAX_ADDR: usize = 255;

fn put_route(out: &mut BytesMut, route: &Route) {
    out.put_u64(route.origin);
    out.put_u8(route.hops);
}

fn get_route(body: &mut Bytes) -> Route {
    Route {
        origin: body.get_u64(),
        hops: body.get_u8(),
    }
}

#[cfg(test)]
mod tests;
