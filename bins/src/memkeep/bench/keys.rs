//! The key space a benchmark draws from: every key built once into one arena at
//! start-up, a small fast random generator, and the uniform and Zipf choices of which
//! key comes next. Nothing here allocates per request.

/// Every key of the space, laid end to end.
#[derive(Debug)]
pub struct KeySpace {
    arena: Vec<u8>,
    /// Start of key `i` in `arena`; `ends[i]` is where it stops.
    starts: Vec<u32>,
    ends: Vec<u32>,
}

/// How long keys are: one length, or a range each key picks from by its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySize {
    /// Shortest key.
    pub min: usize,
    /// Longest key.
    pub max: usize,
}

impl std::str::FromStr for KeySize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad key size {t:?}"))
        };
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(s)?, parse(s)?),
        };
        if min == 0 || max < min || max > 250 {
            return Err("key size must be MIN-MAX with 1 <= MIN <= MAX <= 250".into());
        }
        Ok(KeySize { min, max })
    }
}

impl KeySpace {
    /// Whether `count` keys of `size` fit the key arena (offsets are 32-bit): the
    /// flags are checked with this before [`KeySpace::new`] is asked for them.
    pub fn fits(count: u64, size: KeySize) -> bool {
        // A key is its length, or longer when its number needs more digits (20 at most).
        let longest = size.max.max(21) as u64;
        count.saturating_mul(longest) <= u64::from(u32::MAX)
    }

    /// `count` keys `k<number>`, padded with zeros to their length. A key whose number
    /// does not fit its length is written longer: keys stay distinct.
    pub fn new(count: u64, size: KeySize) -> KeySpace {
        let count_usize = usize::try_from(count).expect("key count fits memory");
        let mut arena = Vec::with_capacity(count_usize * (size.min + size.max) / 2);
        let mut starts = Vec::with_capacity(count_usize);
        let mut ends = Vec::with_capacity(count_usize);
        let span = (size.max - size.min + 1) as u64;
        let mut digits = itoa::Buffer::new();
        for i in 0..count {
            let len = size.min + (mix(i) % span) as usize;
            let number = digits.format(i).as_bytes();
            starts.push(u32::try_from(arena.len()).expect("key arena under 4 GiB"));
            arena.push(b'k');
            let pad = len.saturating_sub(1 + number.len());
            arena.extend(std::iter::repeat_n(b'0', pad));
            arena.extend_from_slice(number);
            ends.push(u32::try_from(arena.len()).expect("key arena under 4 GiB"));
        }
        KeySpace {
            arena,
            starts,
            ends,
        }
    }

    /// Key number `i`.
    #[inline]
    pub fn key(&self, i: u64) -> &[u8] {
        let i = i as usize;
        &self.arena[self.starts[i] as usize..self.ends[i] as usize]
    }

    /// How many keys there are.
    pub fn count(&self) -> u64 {
        self.starts.len() as u64
    }
}

/// A 64-bit mixer (splitmix64's finaliser): spreads key lengths over the range.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// wyrand: a few nanoseconds per number, plenty random for picking keys.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed; different seeds give independent-looking streams.
    pub fn new(seed: u64) -> Rng {
        Rng(mix(seed.wrapping_add(0x9e37_79b9_7f4a_7c15)))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is negligible here).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Which key comes next.
#[derive(Debug, Clone)]
pub enum KeyChooser {
    /// Every key equally likely.
    Uniform(u64),
    /// Key `r - 1` with probability proportional to `1 / r^s`.
    Zipf(Zipf),
}

impl KeyChooser {
    /// The next key number.
    #[inline]
    pub fn next(&self, rng: &mut Rng) -> u64 {
        match self {
            KeyChooser::Uniform(n) => rng.below(*n),
            KeyChooser::Zipf(z) => z.sample(rng) - 1,
        }
    }
}

/// Zipf over `1..=n` by rejection-inversion (Hörmann and Derflinger, 1996, as in
/// Apache Commons' sampler): O(1) per sample with no table, so a key space of millions
/// costs nothing to set up.
#[derive(Debug, Clone)]
pub struct Zipf {
    n: f64,
    s: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    cutoff: f64,
}

impl Zipf {
    /// Zipf over `1..=n` with exponent `s > 0`.
    pub fn new(n: u64, s: f64) -> Zipf {
        assert!(n >= 1 && s > 0.0);
        let mut z = Zipf {
            n: n as f64,
            s,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            cutoff: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(z.n + 0.5);
        z.cutoff = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// A rank in `1..=n`.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_integral_n + rng.unit() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.cutoff || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.s) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// `ln(1 + x) / x`, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1) / x`, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_their_lengths_and_are_distinct() {
        let space = KeySpace::new(1000, "10-30".parse().unwrap());
        let mut seen = std::collections::HashSet::new();
        for i in 0..space.count() {
            let k = space.key(i);
            assert!((10..=30).contains(&k.len()), "{:?}", k);
            assert!(seen.insert(k.to_vec()));
        }
        assert_eq!(
            KeySpace::new(3, "16".parse().unwrap()).key(2),
            b"k000000000000002"
        );
    }

    #[test]
    fn key_size_parses() {
        assert_eq!("16".parse(), Ok(KeySize { min: 16, max: 16 }));
        assert_eq!("10-30".parse(), Ok(KeySize { min: 10, max: 30 }));
        assert!("0".parse::<KeySize>().is_err());
        assert!("30-10".parse::<KeySize>().is_err());
    }

    #[test]
    fn zipf_favours_low_ranks_and_stays_in_range() {
        let z = Zipf::new(1000, 1.0);
        let mut rng = Rng::new(7);
        let mut counts = vec![0u32; 1001];
        for _ in 0..200_000 {
            let k = z.sample(&mut rng);
            assert!((1..=1000).contains(&k));
            counts[k as usize] += 1;
        }
        // P(1) / P(2) = 2 for s = 1; harmonic(1000) ~ 7.49, so P(1) ~ 0.134.
        let p1 = f64::from(counts[1]) / 200_000.0;
        assert!((0.12..0.15).contains(&p1), "{p1}");
        let ratio = f64::from(counts[1]) / f64::from(counts[2]);
        assert!((1.8..2.2).contains(&ratio), "{ratio}");
    }

    #[test]
    fn uniform_covers_the_space() {
        let mut rng = Rng::new(1);
        let chooser = KeyChooser::Uniform(10);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[chooser.next(&mut rng) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
