//! Warm restart: every live item written to a byte stream on a graceful stop, and
//! read back into an empty store at the next start (memkeepd's `-e FILE`). The crate
//! reads and writes streams only; the binary owns the file (its temporary name, the
//! rename, removing it once read).
//!
//! # Format (version 1, little-endian)
//!
//! ```text
//! file     = header resume{count} item* end checksum
//! header   = magic "MKSNAP\r\n" | version u32 | written_at u64 (unix s) | count u16
//! resume   = peer run u64 | next sequence u64       (replication's resume cursors)
//! item     = 0x01 | klen u8 | vlen u32 | flags u32 | expires u64 | cas u64 | key | value
//! end      = 0x00 | items u64
//! checksum = xxh3-64 of every byte before it
//! ```
//!
//! `expires` is absolute (unix seconds, 0 for never), so a TTL keeps counting while
//! the process is down, and an item that expired meanwhile is not loaded.
//!
//! # Reading
//!
//! [`load`] reads the stream twice: a first pass checks everything (magic, version,
//! every length against its bound, the item count, the checksum) without storing
//! anything, and only a stream that passes is read again into the store. So a
//! truncated, corrupt or foreign file loads nothing, and memory stays bounded by the
//! lengths checked: a key of at most 250 bytes and a value no larger than the store
//! accepts (larger ones, from a run with a larger `-I`, are read past in small
//! pieces and skipped).

mod hashing;

use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

use bytes::Bytes;

use self::hashing::{HashingReader, HashingWriter};
use super::item;
use super::Store;

/// The first bytes of every snapshot (CR LF catch a text-mode copy, as PNG's do).
pub const MAGIC: [u8; 8] = *b"MKSNAP\r\n";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Most replication resume points a snapshot holds (one per peer run seen).
pub const MAX_RESUME_POINTS: usize = 1024;
/// memcached's longest key.
const MAX_KEY: usize = 250;

const TAG_END: u8 = 0;
const TAG_ITEM: u8 = 1;

/// Where a replication link would resume: the next sequence number this node lacks
/// from peer run `run`. Kept in the snapshot so that a restarted node asks its peer
/// for what changed instead of a full copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    /// The peer process's run id.
    pub run: u64,
    /// The first of that run's records not applied here.
    pub next: u64,
}

/// What [`write`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Items written.
    pub items: u64,
    /// Bytes written, checksum included.
    pub bytes: u64,
}

/// What [`load`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Items stored.
    pub items: u64,
    /// Items that expired while the process was down.
    pub expired: u64,
    /// Items larger than the store now accepts (`-I` lowered since).
    pub too_large: u64,
    /// Items the store refused (no room with evictions off).
    pub not_stored: u64,
    /// When the snapshot was written (unix seconds).
    pub written_at: u64,
    /// The replication resume points it carried.
    pub resume: Vec<ResumePoint>,
}

/// Why a snapshot was refused.
#[derive(Debug)]
pub enum SnapshotError {
    /// Reading or writing failed.
    Io(io::Error),
    /// The stream does not start with [`MAGIC`].
    NotASnapshot,
    /// Written in a format this build does not read.
    Version(u32),
    /// The stream ends early.
    Truncated,
    /// A length or tag is out of bounds, or the item count is wrong.
    Corrupt(&'static str),
    /// The checksum does not match the bytes.
    Checksum,
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Io(e) => write!(f, "{e}"),
            SnapshotError::NotASnapshot => f.write_str("not a memkeepd snapshot"),
            SnapshotError::Version(v) => write!(
                f,
                "snapshot format version {v}, this memkeepd reads version {FORMAT_VERSION}"
            ),
            SnapshotError::Truncated => f.write_str("truncated snapshot"),
            SnapshotError::Corrupt(what) => write!(f, "corrupt snapshot: {what}"),
            SnapshotError::Checksum => f.write_str("snapshot checksum mismatch"),
        }
    }
}

impl std::error::Error for SnapshotError {}

impl From<io::Error> for SnapshotError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            SnapshotError::Truncated
        } else {
            SnapshotError::Io(e)
        }
    }
}

/// Writes every live item of `store`, and `resume`, to `out`. Not a point-in-time
/// snapshot while clients write (each shard is copied a piece at a time, as
/// [`Store::for_each_live`] does): call it once the store is quiet, after the
/// listeners have drained.
pub fn write(
    store: &Store,
    resume: &[ResumePoint],
    out: impl Write,
) -> Result<Written, SnapshotError> {
    if resume.len() > MAX_RESUME_POINTS {
        return Err(SnapshotError::Corrupt("too many resume points"));
    }
    let mut out = HashingWriter::new(out);
    out.put(&MAGIC);
    out.put(&FORMAT_VERSION.to_le_bytes());
    out.put(&store.unix_now().to_le_bytes());
    out.put(&(resume.len() as u16).to_le_bytes());
    for point in resume {
        out.put(&point.run.to_le_bytes());
        out.put(&point.next.to_le_bytes());
    }
    let mut items = 0u64;
    for shard in store.shards.iter() {
        for tags in super::tag_pieces() {
            let m = store.moment();
            let live = shard.lock().live_items_with_tags(&m, tags);
            for (key, h, value) in live {
                let expires = if h.exptime == 0 {
                    0
                } else {
                    store.timebase.unix_of(h.exptime)
                };
                out.put(&[TAG_ITEM, h.klen]);
                out.put(&h.vlen.to_le_bytes());
                out.put(&h.flags.to_le_bytes());
                out.put(&expires.to_le_bytes());
                out.put(&h.cas.to_le_bytes());
                out.put(&key);
                out.put(&value);
                out.spill()?;
                items += 1;
            }
        }
    }
    out.put(&[TAG_END]);
    out.put(&items.to_le_bytes());
    let bytes = out.finish()?;
    Ok(Written { items, bytes })
}

/// Whether `input` starts with [`MAGIC`] (a shorter stream does not). Lets the
/// caller tell its own file from a foreign one before touching it.
pub fn is_snapshot(mut input: impl Read) -> io::Result<bool> {
    let mut magic = [0u8; MAGIC.len()];
    match input.read_exact(&mut magic) {
        Ok(()) => Ok(magic == MAGIC),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// Checks the whole snapshot in `input`, then stores its unexpired items in `store`
/// with their flags, absolute expiry and CAS (new CAS uniques continue after the
/// largest loaded). Nothing is stored unless the whole stream is valid.
pub fn load<R: Read + Seek>(store: &Store, mut input: R) -> Result<Loaded, SnapshotError> {
    let max_item = store.config.max_item_size;
    walk(BufReader::new(&mut input), max_item, |_| {})?;
    input.seek(SeekFrom::Start(0))?;
    let now = store.unix_now();
    let mut loaded = Loaded::default();
    let header = walk(BufReader::new(&mut input), max_item, |item| match item {
        Entry::TooLarge => loaded.too_large += 1,
        Entry::Item { expires, .. } if expires != 0 && expires <= now => loaded.expired += 1,
        Entry::Item {
            key,
            value,
            flags,
            expires,
            cas,
        } => {
            if store.apply(&Bytes::copy_from_slice(key), value, flags, expires, cas) {
                loaded.items += 1;
            } else {
                loaded.not_stored += 1;
            }
        }
    })?;
    loaded.written_at = header.written_at;
    loaded.resume = header.resume;
    Ok(loaded)
}

/// The header fields [`walk`] hands back.
struct Header {
    written_at: u64,
    resume: Vec<ResumePoint>,
}

/// One item as [`walk`] meets it.
enum Entry<'a> {
    Item {
        key: &'a [u8],
        value: &'a [u8],
        flags: u32,
        expires: u64,
        cas: u64,
    },
    /// Larger than the store accepts: its bytes were skipped.
    TooLarge,
}

/// Reads and checks a whole snapshot, handing each item to `on_item`. Any error
/// may come after some items were handed over: [`load`] walks twice for that.
fn walk<R: Read>(
    input: R,
    max_item_size: usize,
    mut on_item: impl FnMut(Entry<'_>),
) -> Result<Header, SnapshotError> {
    let mut input = HashingReader::new(input);
    let magic: [u8; 8] = input.array()?;
    if magic != MAGIC {
        return Err(SnapshotError::NotASnapshot);
    }
    let version = u32::from_le_bytes(input.array()?);
    if version != FORMAT_VERSION {
        return Err(SnapshotError::Version(version));
    }
    let written_at = u64::from_le_bytes(input.array()?);
    let count = usize::from(u16::from_le_bytes(input.array()?));
    if count > MAX_RESUME_POINTS {
        return Err(SnapshotError::Corrupt("too many resume points"));
    }
    let mut resume = Vec::with_capacity(count);
    for _ in 0..count {
        let run = u64::from_le_bytes(input.array()?);
        let next = u64::from_le_bytes(input.array()?);
        resume.push(ResumePoint { run, next });
    }
    let mut key = [0u8; MAX_KEY];
    let mut value = Vec::new();
    let mut items = 0u64;
    loop {
        let [tag] = input.array()?;
        match tag {
            TAG_ITEM => {}
            TAG_END => break,
            _ => return Err(SnapshotError::Corrupt("unknown record tag")),
        }
        let [klen] = input.array()?;
        let klen = usize::from(klen);
        let vlen = u32::from_le_bytes(input.array()?) as usize;
        let flags = u32::from_le_bytes(input.array()?);
        let expires = u64::from_le_bytes(input.array()?);
        let cas = u64::from_le_bytes(input.array()?);
        if klen == 0 || klen > MAX_KEY {
            return Err(SnapshotError::Corrupt("key length"));
        }
        input.exact(&mut key[..klen])?;
        items += 1;
        if item::memcached_size(klen, vlen, flags) > max_item_size {
            input.skip(vlen as u64)?;
            on_item(Entry::TooLarge);
            continue;
        }
        value.resize(vlen, 0);
        input.exact(&mut value)?;
        on_item(Entry::Item {
            key: &key[..klen],
            value: &value,
            flags,
            expires,
            cas,
        });
    }
    if u64::from_le_bytes(input.array()?) != items {
        return Err(SnapshotError::Corrupt("item count"));
    }
    let computed = input.hasher.digest();
    let stored = u64::from_le_bytes(input.raw_array()?);
    if stored != computed {
        return Err(SnapshotError::Checksum);
    }
    let mut past_end = [0u8; 1];
    if input.inner.read(&mut past_end)? != 0 {
        return Err(SnapshotError::Corrupt("bytes after the checksum"));
    }
    Ok(Header { written_at, resume })
}

#[cfg(test)]
mod tests;
