//! A key's servers in preference order, for replicated pools and for walking past
//! dead servers.

use crate::continuum;
use crate::ring::Ring;
use crate::Distribution;

/// The iterator [`Ring::replicas_for`] returns: distinct servers, primary first.
#[derive(Debug)]
pub struct Replicas<'r> {
    ring: &'r Ring,
    walk: Walk,
    /// Positions left to look at before every candidate has been seen.
    left: usize,
    /// Servers still wanted.
    wanted: usize,
    seen: Seen,
}

#[derive(Debug)]
enum Walk {
    /// Through the continuum or modula's slot list, from a position.
    Points(usize),
    /// Through the member list, from a position.
    Members(usize),
    /// Through a precomputed order (rendezvous).
    Ranked(std::vec::IntoIter<usize>),
}

impl<'r> Replicas<'r> {
    pub(crate) fn new(ring: &'r Ring, key: &[u8], n: usize) -> Self {
        let wanted = n.min(ring.members().len());
        let part = ring.hashed_part(key);
        let (walk, left) = if ring.servers().len() == 1 {
            (Walk::Members(0), 1)
        } else {
            match ring.distribution() {
                Distribution::Ketama | Distribution::LibmemcachedKetama => {
                    let start = continuum::lower_bound(ring.points(), ring.hash32(part));
                    (Walk::Points(start), ring.points().len())
                }
                Distribution::Modula => {
                    let start = ring.hash32(part) as usize % ring.points().len();
                    (Walk::Points(start), ring.points().len())
                }
                Distribution::Jump | Distribution::Random => {
                    let primary = ring.node_for(key);
                    let start = ring
                        .members()
                        .iter()
                        .position(|&m| m == primary)
                        .unwrap_or_else(|| ring.random_start());
                    (Walk::Members(start), ring.members().len())
                }
                Distribution::Rendezvous => {
                    let order = ring.rendezvous_order(part);
                    let len = order.len();
                    (Walk::Ranked(order.into_iter()), len)
                }
            }
        };
        Replicas {
            ring,
            walk,
            left,
            wanted,
            seen: Seen::default(),
        }
    }
}

impl Iterator for Replicas<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.wanted > 0 && self.left > 0 {
            self.left -= 1;
            let server = match &mut self.walk {
                Walk::Points(pos) => {
                    let points = self.ring.points();
                    let s = points[*pos].server as usize;
                    *pos = (*pos + 1) % points.len();
                    s
                }
                Walk::Members(pos) => {
                    let members = self.ring.members();
                    let s = members[*pos];
                    *pos = (*pos + 1) % members.len();
                    s
                }
                Walk::Ranked(order) => order.next()?,
            };
            if self.seen.insert(server) {
                self.wanted -= 1;
                return Some(server);
            }
        }
        None
    }
}

/// The servers already returned: inline for the usual few replicas.
#[derive(Debug, Default)]
struct Seen {
    inline: [usize; 4],
    len: usize,
    spilled: Vec<usize>,
}

impl Seen {
    fn insert(&mut self, server: usize) -> bool {
        if self.inline[..self.len.min(4)].contains(&server) || self.spilled.contains(&server) {
            return false;
        }
        if self.len < 4 {
            self.inline[self.len] = server;
        } else {
            self.spilled.push(server);
        }
        self.len += 1;
        true
    }
}
