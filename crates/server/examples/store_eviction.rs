//! Compares eviction policies on a Zipf workload (the measurement behind the store's
//! choice of CLOCK): hit ratio and simulated requests per second for LRU, CLOCK,
//! S3-FIFO, segmented LRU and FIFO, on equal-size items.
//!
//! `cargo run --release -p memkeep-server --example store_eviction`

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// A cache policy: `access` returns whether the key was cached, inserting it if not.
trait Policy {
    fn access(&mut self, key: u64) -> bool;
}

/// An LRU list threaded through vectors; node 0 is the sentinel of a circular list.
struct Lru {
    map: HashMap<u64, usize>,
    keys: Vec<u64>,
    prev: Vec<usize>,
    next: Vec<usize>,
    free: Vec<usize>,
    cap: usize,
}

impl Lru {
    fn new(cap: usize) -> Self {
        Lru {
            map: HashMap::new(),
            keys: vec![0],
            prev: vec![0],
            next: vec![0],
            free: vec![],
            cap,
        }
    }
    fn unlink(&mut self, i: usize) {
        let (p, n) = (self.prev[i], self.next[i]);
        self.next[p] = n;
        self.prev[n] = p;
    }
    fn push_front(&mut self, i: usize) {
        let first = self.next[0];
        self.prev[i] = 0;
        self.next[i] = first;
        self.prev[first] = i;
        self.next[0] = i;
    }
    fn touch(&mut self, key: u64) -> bool {
        match self.map.get(&key) {
            Some(&i) => {
                self.unlink(i);
                self.push_front(i);
                true
            }
            None => false,
        }
    }
    /// Inserts at the front; returns the evicted key, if any.
    fn insert(&mut self, key: u64) -> Option<u64> {
        let mut out = None;
        if self.map.len() >= self.cap {
            let t = self.prev[0];
            self.unlink(t);
            self.map.remove(&self.keys[t]);
            out = Some(self.keys[t]);
            self.free.push(t);
        }
        let i = self.free.pop().unwrap_or_else(|| {
            self.keys.push(0);
            self.prev.push(0);
            self.next.push(0);
            self.keys.len() - 1
        });
        self.keys[i] = key;
        self.map.insert(key, i);
        self.push_front(i);
        out
    }
    fn pop_key(&mut self, key: u64) -> bool {
        match self.map.remove(&key) {
            Some(i) => {
                self.unlink(i);
                self.free.push(i);
                true
            }
            None => false,
        }
    }
}

impl Policy for Lru {
    fn access(&mut self, key: u64) -> bool {
        if self.touch(key) {
            return true;
        }
        self.insert(key);
        false
    }
}

struct Clock {
    map: HashMap<u64, usize>,
    keys: Vec<u64>,
    referenced: Vec<bool>,
    hand: usize,
    cap: usize,
}

impl Policy for Clock {
    fn access(&mut self, key: u64) -> bool {
        if let Some(&i) = self.map.get(&key) {
            self.referenced[i] = true;
            return true;
        }
        if self.keys.len() < self.cap {
            self.keys.push(key);
            self.referenced.push(false);
            self.map.insert(key, self.keys.len() - 1);
            return false;
        }
        while self.referenced[self.hand] {
            self.referenced[self.hand] = false;
            self.hand = (self.hand + 1) % self.cap;
        }
        self.map.remove(&self.keys[self.hand]);
        self.keys[self.hand] = key;
        self.map.insert(key, self.hand);
        self.hand = (self.hand + 1) % self.cap;
        false
    }
}

struct Fifo {
    map: HashMap<u64, ()>,
    queue: VecDeque<u64>,
    cap: usize,
}

impl Policy for Fifo {
    fn access(&mut self, key: u64) -> bool {
        if self.map.contains_key(&key) {
            return true;
        }
        if self.queue.len() >= self.cap {
            let old = self.queue.pop_front().expect("full");
            self.map.remove(&old);
        }
        self.queue.push_back(key);
        self.map.insert(key, ());
        false
    }
}

/// S3-FIFO (Yang et al., SOSP'23): small FIFO of 10%, main FIFO, ghost keys.
struct S3Fifo {
    freq: HashMap<u64, (u8, bool)>,
    small: VecDeque<u64>,
    main: VecDeque<u64>,
    ghost: VecDeque<u64>,
    ghost_set: HashMap<u64, u32>,
    cap: usize,
}

impl S3Fifo {
    fn add_ghost(&mut self, key: u64) {
        self.ghost.push_back(key);
        *self.ghost_set.entry(key).or_default() += 1;
        if self.ghost.len() > self.cap - self.cap / 10 {
            let old = self.ghost.pop_front().expect("ghost");
            if let Some(n) = self.ghost_set.get_mut(&old) {
                *n -= 1;
                if *n == 0 {
                    self.ghost_set.remove(&old);
                }
            }
        }
    }
    fn evict(&mut self) {
        loop {
            if self.small.len() >= self.cap / 10 {
                let key = self.small.pop_front().expect("small");
                let (f, _) = self.freq[&key];
                if f > 1 {
                    self.main.push_back(key);
                    self.freq.insert(key, (0, true));
                } else {
                    self.freq.remove(&key);
                    self.add_ghost(key);
                    return;
                }
            } else {
                let key = self.main.pop_front().expect("main");
                let (f, _) = self.freq[&key];
                if f > 0 {
                    self.main.push_back(key);
                    self.freq.insert(key, (f - 1, true));
                } else {
                    self.freq.remove(&key);
                    return;
                }
            }
        }
    }
}

impl Policy for S3Fifo {
    fn access(&mut self, key: u64) -> bool {
        if let Some((f, _)) = self.freq.get_mut(&key) {
            *f = (*f + 1).min(3);
            return true;
        }
        if self.freq.len() >= self.cap {
            self.evict();
        }
        let to_main = self.ghost_set.contains_key(&key);
        if to_main {
            self.main.push_back(key)
        } else {
            self.small.push_back(key)
        }
        self.freq.insert(key, (0, to_main));
        false
    }
}

/// Segmented LRU: 20% probation, 80% protected.
struct Slru {
    probation: Lru,
    protected: Lru,
}

impl Policy for Slru {
    fn access(&mut self, key: u64) -> bool {
        if self.protected.touch(key) {
            return true;
        }
        if self.probation.pop_key(key) {
            if let Some(demoted) = self.protected.insert(key) {
                self.probation.insert(demoted);
            }
            return true;
        }
        self.probation.insert(key);
        false
    }
}

/// Zipf(s) over `n` keys by inverse CDF, with a xorshift generator.
struct Zipf {
    cdf: Vec<f64>,
    state: u64,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for i in 1..=n {
            sum += 1.0 / (i as f64).powf(s);
            cdf.push(sum);
        }
        cdf.iter_mut().for_each(|c| *c /= sum);
        Zipf {
            cdf,
            state: 0x9E3779B97F4A7C15,
        }
    }
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let u = (self.state >> 11) as f64 / (1u64 << 53) as f64;
        let rank = self.cdf.partition_point(|&c| c < u) as u64;
        // Scatter ranks so popularity is not correlated with key order.
        rank.wrapping_mul(0x9E3779B97F4A7C15)
    }
}

fn main() {
    const KEYS: usize = 1_000_000;
    const REQUESTS: usize = 10_000_000;
    let cap = KEYS / 10;
    let mut zipf = Zipf::new(KEYS, 0.99);
    let trace: Vec<u64> = (0..REQUESTS).map(|_| zipf.next()).collect();
    let policies: Vec<(&str, Box<dyn Policy>)> = vec![
        ("LRU", Box::new(Lru::new(cap))),
        (
            "CLOCK",
            Box::new(Clock {
                map: HashMap::new(),
                keys: vec![],
                referenced: vec![],
                hand: 0,
                cap,
            }),
        ),
        (
            "S3-FIFO",
            Box::new(S3Fifo {
                freq: HashMap::new(),
                small: VecDeque::new(),
                main: VecDeque::new(),
                ghost: VecDeque::new(),
                ghost_set: HashMap::new(),
                cap,
            }),
        ),
        (
            "SLRU",
            Box::new(Slru {
                probation: Lru::new(cap / 5),
                protected: Lru::new(cap - cap / 5),
            }),
        ),
        (
            "FIFO",
            Box::new(Fifo {
                map: HashMap::new(),
                queue: VecDeque::new(),
                cap,
            }),
        ),
    ];
    println!("Zipf 0.99, {KEYS} keys, {REQUESTS} requests, cache of {cap} items");
    for (name, mut policy) in policies {
        let start = Instant::now();
        let hits = trace.iter().filter(|&&k| policy.access(k)).count();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name:8} hit ratio {:.4}  {:.1}M requests/s",
            hits as f64 / REQUESTS as f64,
            REQUESTS as f64 / secs / 1e6
        );
    }
}
