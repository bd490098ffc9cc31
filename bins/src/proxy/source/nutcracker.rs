//! `nutcracker.yml` read as twemproxy 0.5 reads it (`nc_conf.c`): the same YAML subset
//! (one document; block mappings two deep; one block sequence per pool; no anchors,
//! aliases, tags, flow collections or document markers), the same directives, numbers,
//! booleans, addresses and server entries, the same defaults and the same refusals,
//! worded as twemproxy logs them. So `memkeep-proxy -t` accepts exactly the files
//! `nutcracker -t` accepts; what twemproxy serves and memkeep-proxy cannot (redis
//! pools, Unix sockets) is refused afterwards, saying so.

use std::collections::{BTreeMap, BTreeSet};
use std::net::ToSocketAddrs;

use memkeep_proxy::config::{NutcrackerConfig, NutcrackerPool};
use memkeep_proxy::discovery::DnsTarget;
use saphyr_parser::Event;

mod yaml;

use yaml::{check_document, check_structure, check_tokens, events, Spanned};

/// Reads a `nutcracker.yml`'s text.
pub fn parse(text: &str) -> Result<NutcrackerConfig, String> {
    let events = events(text)?;
    check_document(&events)?;
    check_tokens(&events)?;
    check_structure(&events)?;
    let drafts = read_pools(&events)?;
    check_pools(&drafts)?;
    drafts.into_iter().map(Draft::into_pool).collect()
}

/// What a directive's value is.
#[derive(Clone, Copy)]
enum Kind {
    Listen,
    Hash,
    HashTag,
    Distribution,
    Number,
    Bool,
    Text,
    Server,
    /// memkeep's own: `0` or a number with a unit (`5m`).
    Duration,
}

/// twemproxy 0.5's directives.
const DIRECTIVES: &[(&str, Kind)] = &[
    ("listen", Kind::Listen),
    ("hash", Kind::Hash),
    ("hash_tag", Kind::HashTag),
    ("distribution", Kind::Distribution),
    ("timeout", Kind::Number),
    ("backlog", Kind::Number),
    ("client_connections", Kind::Number),
    ("tcpkeepalive", Kind::Bool),
    ("redis", Kind::Bool),
    ("redis_auth", Kind::Text),
    ("redis_db", Kind::Number),
    ("preconnect", Kind::Bool),
    ("auto_eject_hosts", Kind::Bool),
    ("server_connections", Kind::Number),
    ("server_retry_timeout", Kind::Number),
    ("server_failure_limit", Kind::Number),
    ("servers", Kind::Server),
    // memkeep's extension (twemproxy refuses the file): see docs/resize.md.
    ("warm_up_after_change", Kind::Duration),
    // memkeep's extensions (twemproxy refuses them): servers found by DNS.
    ("servers_from", Kind::Text),
    ("resolver", Kind::Text),
    ("dns_min_ttl_ms", Kind::Number),
    ("dns_max_ttl_ms", Kind::Number),
];

const HASHES: &[&str] = &[
    "one_at_a_time",
    "md5",
    "crc16",
    "crc32",
    "crc32a",
    "fnv1_64",
    "fnv1a_64",
    "fnv1_32",
    "fnv1a_32",
    "hsieh",
    "murmur",
    "jenkins",
];

const DISTRIBUTIONS: &[&str] = &["ketama", "modula", "random"];

/// One pool as read, before defaults.
struct Draft {
    name: String,
    /// The `listen:` value as written, and where it resolved to.
    listen: Option<(String, Listen)>,
    words: BTreeMap<&'static str, String>,
    numbers: BTreeMap<&'static str, u32>,
    flags: BTreeMap<&'static str, bool>,
    servers: Vec<Server>,
}

/// Where a pool listens, as memkeep-proxy binds it.
enum Listen {
    /// A resolved `host:port`.
    Tcp(String),
    /// A Unix socket: `/path`, or `/path mode` (octal) when a mode is set.
    Unix(String),
}

/// A parsed `servers:` entry.
struct Server {
    /// What the ring knows it by, and what duplicates are found by.
    name: String,
    /// As memkeep writes it: `host:port:weight [name]`.
    entry: String,
}

/// Walks the (already checked) events: each depth-1 scalar opens a pool, each
/// depth-2 `key: value` or sequence item sets a directive.
fn read_pools(events: &[Spanned<'_>]) -> Result<Vec<Draft>, String> {
    let mut pools: Vec<Draft> = Vec::new();
    let mut depth = 0;
    let mut key: Option<&str> = None;
    let mut in_sequence = false;
    for (event, _) in events {
        match event {
            Event::MappingStart(..) => depth += 1,
            Event::MappingEnd => depth -= 1,
            Event::SequenceStart(..) => in_sequence = true,
            Event::SequenceEnd => {
                in_sequence = false;
                key = None;
            }
            Event::Scalar(value, ..) => {
                // twemproxy keeps no empty scalar (a missing value included).
                if value.is_empty() {
                    return Err("has an empty value".into());
                }
                if depth == 1 {
                    pools.push(Draft {
                        name: value.to_string(),
                        listen: None,
                        words: BTreeMap::new(),
                        numbers: BTreeMap::new(),
                        flags: BTreeMap::new(),
                        servers: Vec::new(),
                    });
                    continue;
                }
                let pool = pools.last_mut().expect("structure checked");
                let directive = match (key, in_sequence) {
                    (Some(directive), true) => directive,
                    (Some(_), false) => key.take().expect("matched"),
                    (None, _) => {
                        key = Some(value);
                        continue;
                    }
                };
                pool.set(directive, value)
                    .map_err(|why| format!("directive \"{directive}\" {why}"))?;
            }
            _ => {}
        }
    }
    Ok(pools)
}

impl Draft {
    fn set(&mut self, directive: &str, value: &str) -> Result<(), String> {
        let Some(&(name, kind)) = DIRECTIVES.iter().find(|(name, _)| *name == directive) else {
            return Err("is unknown".into());
        };
        let duplicate = || Err("is a duplicate".to_owned());
        match kind {
            Kind::Listen => {
                if self.listen.is_some() {
                    return duplicate();
                }
                self.listen = Some((value.to_owned(), listen(value)?));
            }
            Kind::Server => self.servers.push(server(value)?),
            Kind::Number => {
                let number = atoi(value).ok_or("is not a number")?;
                if self.numbers.insert(name, number).is_some() {
                    return duplicate();
                }
            }
            Kind::Bool => {
                let flag = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err("is not \"true\" or \"false\"".into()),
                };
                if self.flags.insert(name, flag).is_some() {
                    return duplicate();
                }
            }
            Kind::Duration => {
                memkeep_proxy::config::parse_window(value)?;
                if self.words.insert(name, value.to_owned()).is_some() {
                    return duplicate();
                }
            }
            Kind::Hash | Kind::HashTag | Kind::Distribution | Kind::Text => {
                if self.words.contains_key(name) {
                    return duplicate();
                }
                match kind {
                    Kind::Hash if !HASHES.contains(&value) => {
                        return Err("is not a valid hash".into())
                    }
                    Kind::Distribution if !DISTRIBUTIONS.contains(&value) => {
                        return Err("is not a valid distribution".into())
                    }
                    Kind::Text if name == "servers_from" => {
                        DnsTarget::parse(value)?;
                    }
                    // Two bytes, as twemproxy counts them.
                    Kind::HashTag if value.len() != 2 => {
                        return Err("is not a valid hash tag string with two characters".into())
                    }
                    _ => {}
                }
                self.words.insert(name, value.to_owned());
            }
        }
        Ok(())
    }

    fn number(&self, name: &str) -> Option<u32> {
        self.numbers.get(name).copied()
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.get(name).copied().unwrap_or(false)
    }

    /// The pool with twemproxy's defaults filled in; what memkeep-proxy cannot serve
    /// is refused here, after every check twemproxy makes.
    fn into_pool(self) -> Result<(String, NutcrackerPool), String> {
        let name = self.name;
        let listen = match self.listen {
            Some((_, Listen::Tcp(addr) | Listen::Unix(addr))) => addr,
            None => unreachable!("checked by check_pools"),
        };
        let mut pool =
            NutcrackerPool::new(listen, self.servers.into_iter().map(|s| s.entry).collect());
        let mut words = self.words;
        if let Some(hash) = words.remove("hash") {
            pool.hash = hash;
        }
        if let Some(distribution) = words.remove("distribution") {
            pool.distribution = distribution;
        }
        pool.hash_tag = words.remove("hash_tag");
        pool.redis_auth = words.remove("redis_auth");
        if let Some(window) = words.remove("warm_up_after_change") {
            pool.warm_up_after_change =
                memkeep_proxy::config::parse_window(&window).expect("checked when read");
        }
        pool.servers_from = words.remove("servers_from");
        pool.resolver = words.remove("resolver");
        let numbers = &self.numbers;
        let number = |name: &str| numbers.get(name).copied();
        pool.timeout = number("timeout").map(u64::from);
        if let Some(backlog) = number("backlog") {
            pool.backlog = backlog;
        }
        pool.client_connections = number("client_connections");
        pool.redis_db = number("redis_db");
        if let Some(n) = number("server_connections") {
            pool.server_connections = n as usize;
        }
        if let Some(ms) = number("server_retry_timeout") {
            pool.server_retry_timeout = u64::from(ms);
        }
        if let Some(n) = number("server_failure_limit") {
            pool.server_failure_limit = n;
        }
        if let Some(ms) = number("dns_min_ttl_ms") {
            pool.dns_min_ttl_ms = u64::from(ms);
        }
        if let Some(ms) = number("dns_max_ttl_ms") {
            pool.dns_max_ttl_ms = u64::from(ms);
        }
        let flags = &self.flags;
        let flag = |name: &str| flags.get(name).copied().unwrap_or(false);
        pool.tcpkeepalive = flag("tcpkeepalive");
        pool.preconnect = flag("preconnect");
        pool.redis = flag("redis");
        pool.auto_eject_hosts = flag("auto_eject_hosts");
        Ok((name, pool))
    }
}

/// twemproxy's checks of a whole pool, then of the pools together
/// (`conf_validate_pool`, `conf_post_validate`).
fn check_pools(pools: &[Draft]) -> Result<(), String> {
    if pools.is_empty() {
        return Err("has no pools".into());
    }
    for pool in pools {
        if pool.listen.is_none() {
            return Err("directive \"listen:\" is missing".into());
        }
        if pool.number("server_connections") == Some(0) {
            return Err("directive \"server_connections:\" cannot be 0".into());
        }
        if pool.words.contains_key("redis_auth") && !pool.flag("redis") {
            return Err("directive \"redis_auth:\" is only valid for a redis pool".into());
        }
        if pool.servers.is_empty() && !pool.words.contains_key("servers_from") {
            return Err(format!("pool '{}' has no servers", pool.name));
        }
        let mut names = BTreeSet::new();
        if let Some(same) = pool.servers.iter().find(|s| !names.insert(&s.name)) {
            return Err(format!(
                "pool '{}' has servers with same name '{}'",
                pool.name, same.name
            ));
        }
    }
    let mut listens = BTreeMap::new();
    let mut names = BTreeSet::new();
    for pool in pools {
        let (written, _) = pool.listen.as_ref().expect("checked above");
        if let Some(other) = listens.insert(written, &pool.name) {
            return Err(format!(
                "pools '{other}' and '{}' have the same listen address '{written}'",
                pool.name
            ));
        }
        if !names.insert(&pool.name) {
            return Err(format!("has pools with same name '{}'", pool.name));
        }
    }
    Ok(())
}

/// twemproxy's `nc_atoi`: decimal digits only, accumulated in a C `int` (which wraps
/// on the machines twemproxy runs on), refused when the result is negative.
fn atoi(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = text.bytes().fold(0i32, |value, digit| {
        value.wrapping_mul(10).wrapping_add(i32::from(digit - b'0'))
    });
    u32::try_from(value).ok()
}

/// C's `strtol(text, NULL, 8)`: leading blanks, a sign, then octal digits up to the
/// first other character (none: 0); `None` where it would set `errno` (overflow).
fn strtol_octal(text: &str) -> Option<i64> {
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    for digit in digits.bytes().take_while(|b| (b'0'..=b'7').contains(b)) {
        value = value.checked_mul(8)?.checked_add(i64::from(digit - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

fn valid_port(port: u32) -> bool {
    (1..=u32::from(u16::MAX)).contains(&port)
}

/// `listen:`: `host:port`, resolved now (twemproxy binds the first address), or a
/// Unix socket path with optional permissions.
fn listen(value: &str) -> Result<Listen, String> {
    if value.starts_with('/') {
        let Some((path, mode)) = value.rsplit_once(' ') else {
            return Ok(Listen::Unix(value.to_owned()));
        };
        // twemproxy reads the mode with strtol(.., 8) and sets it when not 0.
        return match strtol_octal(mode) {
            Some(0) => Ok(Listen::Unix(path.to_owned())),
            Some(mode @ 1..=0o777) => Ok(Listen::Unix(format!("{path} {mode:o}"))),
            _ => Err(
                "has an invalid file permission in \"socket_path permission\" format \
                      string"
                    .into(),
            ),
        };
    }
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err("has an invalid \"hostname:port\" format string".into());
    };
    let port = atoi(port)
        .filter(|&p| valid_port(p))
        .ok_or("has an invalid port in \"hostname:port\" format string")?;
    let addr = (host, port as u16)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("has an invalid value: cannot resolve {host:?}"))?;
    Ok(Listen::Tcp(addr.to_string()))
}

const SERVER_FORMAT: &str = "has an invalid \"hostname:port:weight [name]\"or \
                             \"/path/unix_socket:weight [name]\" format string";

/// A `servers:` entry, read from its end as twemproxy reads it: an optional
/// ` name` after the last space, `:weight`, then `:port` unless it is a Unix socket.
/// Host names are resolved only when connecting, as twemproxy does.
fn server(value: &str) -> Result<Server, String> {
    let unix = value.starts_with('/');
    let (rest, name) = match value.rfind(' ') {
        Some(space) => (&value[..space], Some(&value[space + 1..])),
        None => (value, None),
    };
    let (rest, weight) = rest.rsplit_once(':').ok_or(SERVER_FORMAT)?;
    let (addr, port) = if unix {
        if rest.contains(':') {
            return Err(SERVER_FORMAT.into());
        }
        (rest, None)
    } else {
        let (addr, port) = rest.rsplit_once(':').ok_or(SERVER_FORMAT)?;
        (addr, Some(port))
    };
    let weight = match atoi(weight) {
        None => {
            return Err(
                "has an invalid weight in \"hostname:port:weight [name]\" format string".into(),
            )
        }
        Some(0) => {
            return Err("has a zero weight in \"hostname:port:weight [name]\" format string".into())
        }
        Some(weight) => weight,
    };
    let number = match port {
        None => 0,
        Some(port) => atoi(port)
            .filter(|&p| valid_port(p))
            .ok_or("has an invalid port in \"hostname:port:weight [name]\" format string")?,
    };
    // Unnamed servers are known by their `address:port` as written, without the port
    // when it is 11211 (libmemcached's convention, which twemproxy keeps); a Unix
    // socket by its path and the `:` that follows it (twemproxy takes the address and
    // an empty port).
    let known_as = match (name, port) {
        (Some(name), _) => name.to_owned(),
        (None, Some(_)) if number == 11211 => addr.to_owned(),
        (None, Some(_)) => rest.to_owned(),
        (None, None) => format!("{addr}:"),
    };
    let mut entry = format!("{addr}:{number}:{weight}");
    // The ring places an unnamed TCP server by `host[:port]` as twemproxy does, but for
    // a port written with leading zeros (twemproxy hashes the text) and for a Unix
    // socket, whose names are spelled out.
    let canonical = match number {
        11211 => addr.to_owned(),
        _ => format!("{addr}:{number}"),
    };
    let ring_name = match name {
        Some(name) => Some(name),
        None if unix || known_as != canonical => Some(known_as.as_str()),
        None => None,
    };
    if let Some(name) = ring_name.filter(|n| !n.is_empty()) {
        entry.push(' ');
        entry.push_str(name);
    }
    Ok(Server {
        name: known_as,
        entry,
    })
}

#[cfg(test)]
mod tests;
