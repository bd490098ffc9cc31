//! Ketama continua: twemproxy's (also libmemcached's weighted ketama) and
//! libmemcached's unweighted one, built point for point as the C code builds them,
//! and the lower-bound lookup with wrap-around that both use.

use crate::hash::{md5, Hash};
use crate::Server;

/// One point of a continuum: a position on the 32-bit circle and the server
/// (index into the full server list) that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Point {
    pub(crate) value: u32,
    pub(crate) server: u32,
}

/// Points per server at equal weights in weighted ketama; 4 per MD5 digest.
const KETAMA_POINTS: f32 = 160.0;
/// Points per server in libmemcached's unweighted consistent mode.
const LIBMEMCACHED_POINTS: u32 = 100;

/// The number of points twemproxy gives one server: `floorf(pct * 160 / 4 * n) * 4`,
/// evaluated in `float` exactly as the C does. The rounding matters: with 25 equal
/// servers `pct` is 0.04f, the product rounds to 39.999996, and every server gets
/// 156 points, not 160.
pub(crate) fn ketama_points(weight: u32, total_weight: u32, live: usize) -> u32 {
    let pct = weight as f32 / total_weight as f32;
    let quarter = pct * KETAMA_POINTS / 4.0 * live as f32;
    // The C adds the double 0.0000000001 and converts back to float: a no-op at
    // these magnitudes, kept so the arithmetic is visibly the same.
    let quarter = (f64::from(quarter) + 0.000_000_000_1) as f32;
    quarter.floor() as u32 * 4
}

/// twemproxy's continuum over `members` (indices into `servers`): each server's
/// `identity-N` for N in 0.., hashed with MD5, four points per digest.
pub(crate) fn twemproxy(servers: &[Server], members: &[usize]) -> Vec<Point> {
    let total_weight: u32 = members.iter().map(|&i| servers[i].weight()).sum();
    let mut points = Vec::new();
    let mut label = Vec::with_capacity(64);
    for &i in members {
        let server = &servers[i];
        let count = ketama_points(server.weight(), total_weight, members.len());
        for n in 0..count / 4 {
            point_label(&mut label, server.identity(), n);
            let digest = md5::digest(&label);
            for quarter in digest.chunks_exact(4) {
                let value = u32::from_le_bytes([quarter[0], quarter[1], quarter[2], quarter[3]]);
                points.push(Point {
                    value,
                    server: i as u32,
                });
            }
        }
    }
    sort(&mut points);
    points
}

/// libmemcached's unweighted consistent continuum (`MEMCACHED_BEHAVIOR_KETAMA`
/// without weights): 100 points per server, one `hash(identity-N)` each.
pub(crate) fn libmemcached(servers: &[Server], members: &[usize], hash: Hash) -> Vec<Point> {
    let mut points = Vec::with_capacity(members.len() * LIBMEMCACHED_POINTS as usize);
    let mut label = Vec::with_capacity(64);
    for &i in members {
        for n in 0..LIBMEMCACHED_POINTS {
            point_label(&mut label, servers[i].identity(), n);
            points.push(Point {
                value: hash.hash32(&label),
                server: i as u32,
            });
        }
    }
    sort(&mut points);
    points
}

fn point_label(label: &mut Vec<u8>, identity: &str, n: u32) {
    label.clear();
    label.extend_from_slice(identity.as_bytes());
    label.push(b'-');
    let mut digits = itoa_u32(n);
    label.extend_from_slice(digits.as_mut_slice());
}

/// Decimal digits of `n` without going through `fmt` (building 1000 servers formats
/// 40,000 labels).
fn itoa_u32(mut n: u32) -> Digits {
    let mut buf = [0u8; 10];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Digits { buf, start }
}

struct Digits {
    buf: [u8; 10],
    start: usize,
}

impl Digits {
    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..]
    }
}

/// Sort by position. The C code uses `qsort`, which in glibc 2.36 (Debian 12) is a
/// merge sort and keeps equal positions in server order; a stable sort does the
/// same. (Equal 32-bit positions are rare: about one pair in a 1000-server ring.)
fn sort(points: &mut [Point]) {
    points.sort_by_key(|p| p.value);
}

/// The index of the first point at or after `hash`, wrapping to 0 past the end.
#[inline]
pub(crate) fn lower_bound(points: &[Point], hash: u32) -> usize {
    let i = points.partition_point(|p| p.value < hash);
    if i == points.len() {
        0
    } else {
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_counts() {
        assert_eq!(ketama_points(1, 3, 3), 160);
        assert_eq!(ketama_points(1, 5, 5), 160);
        // The rounding quirk: 25 equal servers get 156 points each.
        assert_eq!(ketama_points(1, 25, 25), 156);
        assert_eq!(ketama_points(2, 4, 3), 240);
    }

    #[test]
    fn labels() {
        let mut label = Vec::new();
        point_label(&mut label, "10.0.0.1:11212", 0);
        assert_eq!(label, b"10.0.0.1:11212-0");
        point_label(&mut label, "a", 4_000_000_000);
        assert_eq!(label, b"a-4000000000");
    }

    #[test]
    fn lower_bound_wraps() {
        let points = [
            Point {
                value: 10,
                server: 0,
            },
            Point {
                value: 20,
                server: 1,
            },
        ];
        assert_eq!(lower_bound(&points, 0), 0);
        assert_eq!(lower_bound(&points, 10), 0);
        assert_eq!(lower_bound(&points, 11), 1);
        assert_eq!(lower_bound(&points, 20), 1);
        assert_eq!(lower_bound(&points, 21), 0);
    }
}
