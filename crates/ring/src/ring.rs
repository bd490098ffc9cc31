//! The ring: a built, immutable map from keys to server indices, and its builder.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::continuum::{self, Point};
use crate::hash::{Hash, UnknownName};
use crate::replicas::Replicas;
use crate::Server;

/// How keys are spread over servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Distribution {
    /// twemproxy's `ketama`: 160 points per server at equal weights (fewer or more in
    /// proportion to weight, with twemproxy's float rounding), placed by MD5 of
    /// `identity-N`; a key goes to the first point at or after its hash. Also
    /// libmemcached's *weighted* ketama (`MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`), which
    /// builds the same continuum.
    Ketama,
    /// twemproxy's `modula`: `hash % total_weight` over a list holding each server
    /// `weight` times. With equal weights of 1 and [`Hash::Djb`], magent's default.
    Modula,
    /// twemproxy's `random`: any server, chosen afresh for every lookup.
    Random,
    /// libmemcached's unweighted ketama (`MEMCACHED_BEHAVIOR_KETAMA` with every weight
    /// 1): 100 points per server, one per `identity-N`, hashed with the ring's hash
    /// (MD5 under that behaviour). With weights, libmemcached switches to the weighted
    /// continuum: use [`Distribution::Ketama`].
    LibmemcachedKetama,
    /// Lamping and Veach's jump consistent hash over the 64-bit key hash. No memory,
    /// perfectly even; but only the *last* server can be removed without moving keys
    /// between the others, and weights are not supported.
    Jump,
    /// Rendezvous (highest random weight) hashing: every server scores the key, the
    /// highest wins; weights by the logarithmic method. Removing any server moves only
    /// its own keys; a lookup costs one hash per server.
    Rendezvous,
}

impl Distribution {
    /// Every distribution.
    pub const ALL: [Distribution; 6] = [
        Distribution::Ketama,
        Distribution::Modula,
        Distribution::Random,
        Distribution::LibmemcachedKetama,
        Distribution::Jump,
        Distribution::Rendezvous,
    ];

    /// The configuration name: twemproxy's for its three, ours for the rest.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Ketama => "ketama",
            Distribution::Modula => "modula",
            Distribution::Random => "random",
            Distribution::LibmemcachedKetama => "libmemcached_ketama",
            Distribution::Jump => "jump",
            Distribution::Rendezvous => "rendezvous",
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Distribution {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Distribution::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// Why a ring could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The server list is empty.
    NoServers,
    /// The live mask marks no server live.
    NoLiveServers,
    /// The live mask's length differs from the server list's.
    LiveMaskLength,
    /// A server has weight 0 (twemproxy rejects it too).
    ZeroWeight(usize),
    /// Jump hashing gives every server the same share: weights must all be equal.
    WeightsUnsupported,
    /// A hash tag is two bytes, an opening and a closing one (`{}`).
    HashTag,
    /// Two servers share an identity (twemproxy rejects it too): they would share
    /// ring points.
    DuplicateIdentity(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoServers => f.write_str("a ring needs at least one server"),
            BuildError::NoLiveServers => f.write_str("no server is live"),
            BuildError::LiveMaskLength => f.write_str("the live mask does not match the servers"),
            BuildError::ZeroWeight(i) => write!(f, "server {i} has weight 0"),
            BuildError::WeightsUnsupported => {
                f.write_str("jump hashing does not support unequal weights")
            }
            BuildError::HashTag => f.write_str("a hash tag is exactly two bytes, like {}"),
            BuildError::DuplicateIdentity(name) => write!(f, "two servers are named {name:?}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Builds a [`Ring`]. Defaults are twemproxy's: `fnv1a_64`, `ketama`, no hash tag.
#[derive(Debug, Clone)]
pub struct Builder {
    servers: Vec<Server>,
    hash: Hash,
    distribution: Distribution,
    hash_tag: Option<Vec<u8>>,
    live: Option<Vec<bool>>,
}

impl Builder {
    /// The key hash function.
    pub fn hash(mut self, hash: Hash) -> Self {
        self.hash = hash;
        self
    }

    /// The distribution.
    pub fn distribution(mut self, distribution: Distribution) -> Self {
        self.distribution = distribution;
        self
    }

    /// twemproxy's `hash_tag`: two bytes, e.g. `b"{}"`. A key containing
    /// `{...}` with something between the braces is placed by that part alone, so
    /// `user:{42}:name` and `user:{42}:mail` share a server.
    pub fn hash_tag(mut self, tag: &[u8]) -> Self {
        self.hash_tag = Some(tag.to_vec());
        self
    }

    /// Build over the live servers only (`live[i]` for server `i`), as twemproxy
    /// rebuilds its continuum without ejected hosts. Indices returned still refer to
    /// the full server list. See the crate docs for rebuilding versus walking.
    pub fn live(mut self, live: &[bool]) -> Self {
        self.live = Some(live.to_vec());
        self
    }

    /// Build the ring.
    pub fn build(self) -> Result<Ring, BuildError> {
        let Builder {
            servers,
            hash,
            distribution,
            hash_tag,
            live,
        } = self;
        if servers.is_empty() {
            return Err(BuildError::NoServers);
        }
        if let Some(i) = servers.iter().position(|s| s.weight() == 0) {
            return Err(BuildError::ZeroWeight(i));
        }
        let hash_tag = match hash_tag {
            None => None,
            Some(tag) if tag.is_empty() => None,
            Some(tag) => {
                Some(<[u8; 2]>::try_from(tag.as_slice()).map_err(|_| BuildError::HashTag)?)
            }
        };
        // twemproxy sorts its servers by name when it validates the configuration
        // (shorter names first, then byte order) and builds from that order: it
        // decides modula's slot order and which of two equal ketama points comes
        // first. Our indices stay those of the caller's list.
        let mut order: Vec<usize> = (0..servers.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (servers[a].identity(), servers[b].identity());
            a.len()
                .cmp(&b.len())
                .then_with(|| a.as_bytes().cmp(b.as_bytes()))
        });
        if let Some(w) = order
            .windows(2)
            .find(|w| servers[w[0]].identity() == servers[w[1]].identity())
        {
            return Err(BuildError::DuplicateIdentity(
                servers[w[0]].identity().to_owned(),
            ));
        }
        let twemproxy_order = matches!(
            distribution,
            Distribution::Ketama | Distribution::Modula | Distribution::Random
        );
        if !twemproxy_order {
            order.sort_unstable();
        }
        let members: Vec<usize> = match &live {
            None => order,
            Some(mask) if mask.len() != servers.len() => return Err(BuildError::LiveMaskLength),
            Some(mask) => order.into_iter().filter(|&i| mask[i]).collect(),
        };
        if members.is_empty() {
            return Err(BuildError::NoLiveServers);
        }
        if distribution == Distribution::Jump
            && members
                .iter()
                .any(|&i| servers[i].weight() != servers[members[0]].weight())
        {
            return Err(BuildError::WeightsUnsupported);
        }
        let points = match distribution {
            Distribution::Ketama => continuum::twemproxy(&servers, &members),
            Distribution::LibmemcachedKetama => continuum::libmemcached(&servers, &members, hash),
            Distribution::Modula => members
                .iter()
                .flat_map(|&i| {
                    (0..servers[i].weight()).map(move |_| Point {
                        value: 0,
                        server: i as u32,
                    })
                })
                .collect(),
            Distribution::Random | Distribution::Jump | Distribution::Rendezvous => Vec::new(),
        };
        let rendezvous = if distribution == Distribution::Rendezvous {
            let equal = members
                .iter()
                .all(|&i| servers[i].weight() == servers[members[0]].weight());
            members
                .iter()
                .map(|&i| Contender {
                    seed: xxhash_rust::xxh3::xxh3_64(servers[i].identity().as_bytes()),
                    weight: if equal {
                        None
                    } else {
                        Some(f64::from(servers[i].weight()))
                    },
                    server: i,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Ring {
            servers,
            hash,
            distribution,
            hash_tag,
            members,
            points,
            rendezvous,
            random: AtomicU64::new(0x853c_49e6_748f_ea9b),
        })
    }
}

/// A rendezvous contender: the server's seed and, when weights differ, its weight.
#[derive(Debug, Clone)]
pub(crate) struct Contender {
    seed: u64,
    weight: Option<f64>,
    server: usize,
}

/// An immutable key -> server map. Build it once per membership change and share it
/// (`Arc<Ring>`); lookups take `&self` and never allocate (except rendezvous
/// replicas, which sort the scores).
#[derive(Debug)]
pub struct Ring {
    servers: Vec<Server>,
    hash: Hash,
    distribution: Distribution,
    hash_tag: Option<[u8; 2]>,
    /// The servers the ring was built over, in build order (twemproxy's name order
    /// for its distributions, else configuration order).
    members: Vec<usize>,
    /// Ketama continuum, or modula's weighted slot list.
    points: Vec<Point>,
    rendezvous: Vec<Contender>,
    /// State of the `random` distribution's generator.
    random: AtomicU64,
}

impl Clone for Ring {
    fn clone(&self) -> Self {
        Ring {
            servers: self.servers.clone(),
            hash: self.hash,
            distribution: self.distribution,
            hash_tag: self.hash_tag,
            members: self.members.clone(),
            points: self.points.clone(),
            rendezvous: self.rendezvous.clone(),
            random: AtomicU64::new(self.random.load(Ordering::Relaxed)),
        }
    }
}

impl Ring {
    /// Start building a ring over `servers` (index `i` in lookups is `servers[i]`).
    pub fn builder(servers: impl Into<Vec<Server>>) -> Builder {
        Builder {
            servers: servers.into(),
            hash: Hash::Fnv1a64,
            distribution: Distribution::Ketama,
            hash_tag: None,
            live: None,
        }
    }

    /// magent's default placement: DJB hash modulo the number of servers.
    pub fn magent(servers: impl Into<Vec<Server>>) -> Result<Ring, BuildError> {
        let servers = servers
            .into()
            .into_iter()
            .map(|s| Server::new(s.identity(), 1))
            .collect::<Vec<_>>();
        Ring::builder(servers)
            .hash(Hash::Djb)
            .distribution(Distribution::Modula)
            .build()
    }

    /// The server list the ring was built from (all of it, live or not).
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// The key hash function.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The distribution.
    pub fn distribution(&self) -> Distribution {
        self.distribution
    }

    /// The servers the ring was built over (all of them unless built with
    /// [`Builder::live`]), in the order the ring walks them: twemproxy's (by name)
    /// for ketama, modula and random, else configuration order.
    pub fn members(&self) -> &[usize] {
        &self.members
    }

    /// The number of points on the ketama continuum (0 for other distributions).
    pub fn continuum_len(&self) -> usize {
        match self.distribution {
            Distribution::Ketama | Distribution::LibmemcachedKetama => self.points.len(),
            _ => 0,
        }
    }

    /// The part of `key` that is hashed: the text inside the hash tag if the key has a
    /// non-empty one, else the whole key (twemproxy's rule: the first opening byte,
    /// then the first closing byte after it).
    pub fn hashed_part<'k>(&self, key: &'k [u8]) -> &'k [u8] {
        let Some([open, close]) = self.hash_tag else {
            return key;
        };
        let Some(start) = key.iter().position(|&b| b == open) else {
            return key;
        };
        match key[start + 1..].iter().position(|&b| b == close) {
            Some(len) if len > 0 => &key[start + 1..start + 1 + len],
            _ => key,
        }
    }

    /// The server (index into [`Ring::servers`]) that `key` belongs to.
    #[inline]
    pub fn node_for(&self, key: &[u8]) -> usize {
        // twemproxy's shortcut: a one-server pool skips hashing (even for `random`).
        if self.servers.len() == 1 {
            return 0;
        }
        let key = self.hashed_part(key);
        match self.distribution {
            Distribution::Ketama | Distribution::LibmemcachedKetama => {
                let i = continuum::lower_bound(&self.points, self.hash32(key));
                self.points[i].server as usize
            }
            Distribution::Modula => {
                self.points[self.hash32(key) as usize % self.points.len()].server as usize
            }
            Distribution::Random => self.members[self.random_below(self.members.len())],
            Distribution::Jump => self.members[jump(self.hash.hash64(key), self.members.len())],
            Distribution::Rendezvous => {
                let h = self.hash.hash64(key);
                let best = (0..self.rendezvous.len())
                    .max_by(|&a, &b| {
                        self.score(a, h)
                            .total_cmp(&self.score(b, h))
                            .then(b.cmp(&a))
                    })
                    .expect("a ring has members");
                self.rendezvous[best].server
            }
        }
    }

    /// The first `n` distinct servers for `key`, primary first, in a stable order:
    /// the continuum walked clockwise (ketama), the slot list walked forward
    /// (modula), the servers by descending score (rendezvous), the member list
    /// walked forward from the primary (jump, random). Fewer than `n` if the ring has
    /// fewer servers.
    pub fn replicas_for(&self, key: &[u8], n: usize) -> Replicas<'_> {
        Replicas::new(self, key, n)
    }

    /// The first live server for `key` without rebuilding: the primary if live, else
    /// the next live one in [`Ring::replicas_for`] order. `None` if none is live.
    pub fn node_for_live(&self, key: &[u8], live: &[bool]) -> Option<usize> {
        self.replicas_for(key, usize::MAX)
            .find(|&i| live.get(i).copied().unwrap_or(false))
    }

    /// twemproxy's key hash: 0 for an empty key.
    #[inline]
    pub(crate) fn hash32(&self, key: &[u8]) -> u32 {
        if key.is_empty() {
            0
        } else {
            self.hash.hash32(key)
        }
    }

    pub(crate) fn points(&self) -> &[Point] {
        &self.points
    }

    pub(crate) fn rendezvous_order(&self, key: &[u8]) -> Vec<usize> {
        let h = self.hash.hash64(key);
        let mut order: Vec<(f64, usize)> = (0..self.rendezvous.len())
            .map(|i| (self.score(i, h), i))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        order
            .into_iter()
            .map(|(_, i)| self.rendezvous[i].server)
            .collect()
    }

    /// Contender `i`'s score for a key hashing to `h`. With equal weights the raw
    /// 64-bit mix (as f64: monotone, so the same winner as the weighted formula);
    /// else `w / -ln(u)` with `u` in (0, 1) from the mix (Schindelhauer and Schomaker).
    #[inline]
    fn score(&self, i: usize, h: u64) -> f64 {
        let c = &self.rendezvous[i];
        let mixed = mix64(h ^ c.seed);
        match c.weight {
            None => (mixed >> 11) as f64,
            Some(w) => {
                let u = ((mixed >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                w / -u.ln()
            }
        }
    }

    /// A uniform index below `n` for the `random` distribution (splitmix64 over a
    /// shared counter: cheap, lock-free, not cryptographic, like `random()`).
    fn random_below(&self, n: usize) -> usize {
        let x = self
            .random
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        ((u128::from(mix64(x)) * n as u128) >> 64) as usize
    }

    pub(crate) fn random_start(&self) -> usize {
        self.random_below(self.members.len())
    }
}

/// A 64-bit finaliser (MurmurHash3's fmix64).
#[inline]
fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014).
#[inline]
pub(crate) fn jump(mut key: u64, buckets: usize) -> usize {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as usize
}

#[cfg(test)]
mod tests;
