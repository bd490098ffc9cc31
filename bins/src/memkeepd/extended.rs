//! memcached's `-o` extended options, read and checked as memcached 1.6.18 reads and
//! checks them: every option memcached takes is taken, with the same refusals and the
//! same words. Those that shape memkeepd (idle_timeout, request_timeout, ssl_*) are
//! applied; those that tune memcached's slab allocator, LRU, hash table, logger or
//! external storage have nothing to tune in memkeepd's store and are accepted (the
//! ones that change what a cache holds are named in a warning at start).

use std::time::Duration;

use super::c_numbers::{atof, atoi, atoi_int, strict_f64, strict_i32, strict_u32};
use super::security::SslOptions;
use memkeep_server::cache::CrawlerStart;

/// memcached's slab page size: `slab_chunk_max` must divide it.
pub const SLAB_PAGE_SIZE: i32 = 1024 * 1024;

/// The settings `-o` gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Extended {
    /// Close connections idle this long (`idle_timeout`).
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose request stays incomplete this long (memkeepd's own).
    pub request_timeout: Option<Duration>,
    /// The `ssl_*` options (for -Z).
    pub ssl: SslOptions,
    /// memcached's largest slab chunk, in bytes: `-I` must be a multiple of it.
    pub slab_chunk_max: i32,
    /// Whether `slab_chunk_max` was given (else `-I` above 1m resets it).
    pub slab_chunk_max_given: bool,
    /// `slab_sizes`, checked once `-n` and `slab_chunk_max` are known.
    pub slab_sizes: Option<String>,
    /// `hot_lru_pct` + `warm_lru_pct` may not pass 80.
    pub lru_pcts: (i32, i32),
    /// `temporary_ttl` was given: it needs the LRU maintainer.
    pub temporary_ttl: bool,
    /// The LRU maintainer is on (`no_lru_maintainer` and `no_modern` turn it off).
    pub lru_maintainer: bool,
    /// How the LRU crawler starts (`lru_crawler`, `no_lru_crawler`, `no_modern`,
    /// `lru_crawler_sleep`, `lru_crawler_tocrawl`).
    pub crawler: CrawlerStart,
    /// `slab_automove` (`no_modern`: 0).
    pub slab_automove: u32,
    /// `ext_path` (external storage): memkeepd keeps items in memory only.
    pub ext_path: Option<String>,
    /// `ext_wbuf_size` in bytes: with `ext_path`, `-I` may not pass it.
    pub ext_wbuf_size: u32,
    /// `hashpower`: must pass the item lock table's power, which grows with `-t`.
    pub hashpower: Option<i32>,
    /// Why options that change what memcached's cache would hold or serve are
    /// accepted without that effect: logged as warnings at start.
    pub not_applied: Vec<String>,
}

impl Default for Extended {
    fn default() -> Self {
        Extended {
            idle_timeout: None,
            request_timeout: Some(Duration::from_secs(60)),
            ssl: SslOptions::default(),
            slab_chunk_max: SLAB_PAGE_SIZE / 2,
            slab_chunk_max_given: false,
            slab_sizes: None,
            lru_pcts: (20, 40),
            temporary_ttl: false,
            lru_maintainer: true,
            crawler: CrawlerStart::default(),
            slab_automove: 1,
            ext_path: None,
            ext_wbuf_size: 4 * 1024 * 1024,
            hashpower: None,
            not_applied: Vec::new(),
        }
    }
}

/// Options that tune memcached's slab allocator, LRU, crawler, hash table, logger,
/// buffers or privileges: memkeepd's store has none of these to tune, so they are
/// accepted (after memcached's own checks) and have no effect.
const TUNING_ONLY: &[&str] = &[
    "maxconns_fast",
    "no_maxconns_fast",
    "no_hashexpand",
    "slab_reassign",
    "no_slab_reassign",
    "no_slab_automove",
    "track_sizes",
    "no_inline_ascii_resp",
    "inline_ascii_resp",
    "modern",
    "no_drop_privileges",
    "drop_privileges",
    "ssl_session_cache",
    "ssl_kernel_tls",
    "ext_drop_unread",
];

impl Extended {
    /// Reads every `-o` argument in order (each a comma separated list).
    pub fn parse(arguments: &[String]) -> Result<Extended, String> {
        let mut extended = Extended::default();
        for argument in arguments {
            // getsubopt stops at the end of the text: a comma after an option ends
            // the list, an empty option anywhere else is refused.
            if argument.is_empty() {
                continue;
            }
            let options = match argument.strip_suffix(',') {
                Some(rest) if !rest.is_empty() => rest,
                _ => argument,
            };
            for option in options.split(',') {
                extended.apply(option)?;
            }
        }
        Ok(extended)
    }

    fn apply(&mut self, option: &str) -> Result<(), String> {
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (option, None),
        };
        let needs = |message: &str| value.ok_or_else(|| message.to_owned());
        let parsed = |v: Option<u32>| v.ok_or(format!("could not parse argument to {name}"));
        match name {
            "idle_timeout" => {
                let secs = atoi(needs("Missing numeric argument for idle_timeout")?);
                self.idle_timeout = (secs > 0).then(|| Duration::from_secs(secs.unsigned_abs()));
            }
            "request_timeout" => {
                let secs = strict_u32(needs("Missing numeric argument for request_timeout")?)
                    .ok_or("-o request_timeout: not a number of seconds")?;
                self.request_timeout = (secs > 0).then(|| Duration::from_secs(secs.into()));
            }
            "hashpower" => {
                let power = atoi_int(needs("Missing numeric argument for hashpower")?);
                if power < 12 {
                    return Err(format!(
                        "Initial hashtable multiplier of {power} is too low"
                    ));
                }
                if power > 32 {
                    return Err(format!(
                        "Initial hashtable multiplier of {power} is too high\nChoose a value \
                         based on \"STAT hash_power_level\" from a running instance"
                    ));
                }
                self.hashpower = Some(power);
            }
            // Without a value memcached sets 1.
            "slab_automove" => {
                let mode = value.map_or(1, atoi);
                if !(0..=2).contains(&mode) {
                    return Err("slab_automove must be between 0 and 2".into());
                }
                self.slab_automove = mode as u32;
            }
            "lru_crawler" => self.crawler.enabled = true,
            "no_lru_crawler" => self.crawler.enabled = false,
            "slab_automove_ratio" => {
                let ratio = atof(needs("Missing slab_automove_ratio argument")?);
                if ratio <= 0.0 || ratio > 1.0 {
                    return Err("slab_automove_ratio must be > 0 and < 1".into());
                }
            }
            "slab_automove_window" => {
                if atoi(needs("Missing slab_automove_window argument")?) < 3 {
                    return Err("slab_automove_window must be > 2".into());
                }
            }
            "tail_repair_time" => {
                if atoi(needs("Missing numeric argument for tail_repair_time")?) < 10 {
                    return Err("Cannot set tail_repair_time to less than 10 seconds".into());
                }
            }
            "hash_algorithm" => {
                let algorithm = needs("Missing hash_algorithm argument")?;
                if !["jenkins", "murmur3", "xxh3"].contains(&algorithm) {
                    return Err("Unknown hash_algorithm option (jenkins, murmur3, xxh3)".into());
                }
            }
            "lru_crawler_sleep" => {
                let sleep = atoi(needs("Missing lru_crawler_sleep value")?);
                if !(0..=1_000_000).contains(&sleep) {
                    return Err("LRU crawler sleep must be between 0 and 1 second".into());
                }
                self.crawler.sleep_micros = sleep as u32;
            }
            "lru_crawler_tocrawl" => {
                self.crawler.per_class = strict_u32(needs("Missing lru_crawler_tocrawl value")?)
                    .ok_or("lru_crawler_tocrawl takes a numeric 32bit value")?;
            }
            "lru_maintainer" => self.lru_maintainer = true,
            "no_lru_maintainer" => self.lru_maintainer = false,
            "hot_lru_pct" | "warm_lru_pct" => {
                let pct = atoi_int(needs(&format!("Missing {name} argument"))?);
                if !(1..80).contains(&pct) {
                    return Err(format!("{name} must be > 1 and < 80"));
                }
                if name == "hot_lru_pct" {
                    self.lru_pcts.0 = pct;
                } else {
                    self.lru_pcts.1 = pct;
                }
            }
            "hot_max_factor" | "warm_max_factor" => {
                if atof(needs(&format!("Missing {name} argument"))?) <= 0.0 {
                    return Err(format!("{name} must be > 0"));
                }
            }
            "temporary_ttl" => {
                needs("Missing temporary_ttl argument")?;
                self.temporary_ttl = true;
            }
            "watcher_logbuf_size" | "worker_logbuf_size" | "read_buf_mem_limit" => {
                parsed(strict_u32(needs(&format!("Missing {name} argument"))?))?;
                // memcached 1.6.18 also reads worker_logbuf_size's value as slab_sizes
                // (a missing `break`), and refuses what that check refuses.
                if name == "worker_logbuf_size" {
                    self.slab_sizes = value.map(str::to_owned);
                }
            }
            "slab_sizes" => self.slab_sizes = Some(value.unwrap_or_default().to_owned()),
            "slab_chunk_max" => {
                let bytes = strict_i32(needs("Missing slab_chunk_max argument")?)
                    .ok_or("could not parse argument to slab_chunk_max")?;
                if bytes <= 0 {
                    // memcached divides by it and dies of SIGFPE.
                    return Err("slab_chunk_max must be greater than 0".into());
                }
                self.slab_chunk_max = bytes;
                self.slab_chunk_max_given = true;
            }
            "no_chunked_items" => self.slab_chunk_max = SLAB_PAGE_SIZE,
            "no_modern" => {
                if !self.slab_chunk_max_given {
                    self.slab_chunk_max = SLAB_PAGE_SIZE;
                }
                self.lru_maintainer = false;
                self.crawler.enabled = false;
                self.slab_automove = 0;
            }
            "resp_obj_mem_limit" => {}
            "sock_cookie_id" => {}
            _ if name.starts_with("ssl_") => {
                if let Some(note) = self.ssl.set(name, value)? {
                    self.not_applied.push(note);
                }
            }
            _ if name.starts_with("ext_") || name == "slab_automove_freeratio" => {
                self.ext_option(name, value)?;
            }
            _ if TUNING_ONLY.contains(&name) => {}
            _ => return Err(format!("Illegal suboption \"{option}\"")),
        }
        Ok(())
    }

    /// The external storage (extstore) options: checked as memcached checks them;
    /// memkeepd keeps items in memory only, so `ext_path` is reported as not applied.
    fn ext_option(&mut self, name: &str, value: Option<&str>) -> Result<(), String> {
        const FLOATS: &[&str] = &["ext_max_frag", "slab_automove_freeratio"];
        const NUMBERS: &[&str] = &[
            "ext_page_size",
            "ext_wbuf_size",
            "ext_threads",
            "ext_io_depth",
            "ext_item_size",
            "ext_item_age",
            "ext_low_ttl",
            "ext_recache_rate",
            "ext_compact_under",
            "ext_drop_under",
            "ext_max_sleep",
        ];
        match name {
            "ext_drop_unread" => {}
            "ext_path" => {
                let path = value.ok_or("missing argument to ext_path, ie: ext_path=/d/file:5G")?;
                let mut parts = path.split(':');
                let file = parts.next().unwrap_or_default();
                if file.is_empty() || parts.next().is_none_or(str::is_empty) {
                    return Err(
                        "must supply size to ext_path, ie: ext_path=/f/e:64m (M|G|T|P \
                                supported)\nfailed to parse ext_path argument"
                            .into(),
                    );
                }
                if let Some(bucket) = parts.next().filter(|b| *b != "default") {
                    return Err(format!(
                        "ext_path only presently supports the default bucket ({bucket} given)\n\
                         failed to parse ext_path argument"
                    ));
                }
                self.ext_path = Some(path.to_owned());
                self.not_applied.push(format!(
                    "ext_path={path}: memkeepd has no external storage; items live in memory (-m)"
                ));
            }
            _ if FLOATS.contains(&name) => {
                let v = value.ok_or(format!("Missing {name} argument"))?;
                strict_f64(v).ok_or(format!("could not parse argument to {name}"))?;
            }
            _ if NUMBERS.contains(&name) => {
                if name == "ext_page_size" && self.ext_path.is_some() {
                    return Err("Must specify ext_page_size before any ext_path arguments".into());
                }
                let v = value.ok_or(format!("Missing {name} argument"))?;
                let n = strict_u32(v).ok_or(format!("could not parse argument to {name}"))?;
                if name == "ext_wbuf_size" {
                    self.ext_wbuf_size = n.saturating_mul(1024 * 1024);
                }
            }
            _ => return Err(format!("Illegal suboption \"{name}\"")),
        }
        Ok(())
    }

    /// memcached's checks that need the item size (`-I`), `-n` and the threads, done
    /// after every flag is read, in memcached's order.
    pub fn check_with(
        &mut self,
        item_size_max: i32,
        memory_bytes: u64,
        chunk_size: i32,
        threads: usize,
    ) -> Result<(), String> {
        if item_size_max < 1024 {
            return Err("Item max size cannot be less than 1024 bytes.".into());
        }
        if u64::try_from(item_size_max).unwrap_or(0) > memory_bytes / 2 {
            return Err("Cannot set item size limit higher than 1/2 of memory max.".into());
        }
        if item_size_max > 1024 * 1024 * 1024 {
            return Err("Cannot set item size limit higher than a gigabyte.".into());
        }
        if item_size_max > 1024 * 1024 && !self.slab_chunk_max_given {
            self.slab_chunk_max = SLAB_PAGE_SIZE / 2;
        }
        let chunk = self.slab_chunk_max;
        if chunk > item_size_max {
            return Err(format!(
                "slab_chunk_max (bytes: {chunk}) cannot be larger than -I (item_size_max {item_size_max})"
            ));
        }
        if item_size_max % chunk != 0 {
            return Err(format!(
                "-I (item_size_max: {item_size_max}) must be evenly divisible by slab_chunk_max (bytes: {chunk})"
            ));
        }
        if SLAB_PAGE_SIZE % chunk != 0 {
            return Err(format!(
                "slab_chunk_max (bytes: {chunk}) must divide evenly into {SLAB_PAGE_SIZE} (slab_page_size)"
            ));
        }
        if self.ext_path.is_some() {
            let wbuf = self.ext_wbuf_size;
            if u32::try_from(item_size_max).unwrap_or(0) > wbuf {
                return Err(format!(
                    "-I (item_size_max: {item_size_max}) cannot be larger than ext_wbuf_size: {wbuf}"
                ));
            }
        }
        if let Some(sizes) = &self.slab_sizes {
            check_slab_sizes(sizes, chunk_size, chunk)?;
        }
        if self.lru_pcts.0 + self.lru_pcts.1 > 80 {
            return Err("hot_lru_pct + warm_lru_pct cannot be more than 80% combined".into());
        }
        if self.temporary_ttl && !self.lru_maintainer {
            return Err("temporary_ttl requires lru_maintainer to be enabled".into());
        }
        if let Some(power) = self.hashpower {
            // memcached's item lock table grows with the worker threads and must stay
            // smaller than the hash table.
            let locks = match threads {
                0..=2 => 10,
                3 => 11,
                4 => 12,
                5..=10 => 13,
                11..=20 => 14,
                _ => 15,
            };
            if locks >= power {
                return Err(format!(
                    "Hash table power size ({power}) cannot be equal to or less than item lock \
                     table ({locks})\nItem lock table grows with `-t N` (worker threadcount)\n\
                     Hash table grows with `-o hashpower=N`"
                ));
            }
        }
        Ok(())
    }
}

/// memcached's `slab_sizes` check: ascending sizes between `-n` and
/// `slab_chunk_max`, each at least 8 bytes past the previous one, fewer than 63.
fn check_slab_sizes(sizes: &str, chunk_size: i32, chunk_max: i32) -> Result<(), String> {
    if sizes.is_empty() {
        return Err("slab_sizes: no sizes given".into());
    }
    let mut last: i64 = 0;
    for (count, text) in sizes.split('-').filter(|s| !s.is_empty()).enumerate() {
        let size = strict_u32(text).map_or(0, i64::from);
        if size < i64::from(chunk_size) || size > i64::from(chunk_max) {
            return Err(format!("slab size {size} is out of valid range"));
        }
        if last >= size {
            return Err(format!(
                "slab size {size} cannot be lower than or equal to a previous class size"
            ));
        }
        if size <= last + 8 {
            return Err(format!(
                "slab size {size} must be at least 8 bytes larger than previous class"
            ));
        }
        last = size;
        if count + 1 >= 63 {
            return Err("too many slab classes specified".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
