//! The discovery loop's state: every DNS entry of a configuration, its last good
//! servers and when to ask again (its TTL, bounded by the pool's
//! `dns_min_ttl_ms` and `dns_max_ttl_ms`), and the configuration with the
//! discovered servers in place of the entries.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::client::DnsClient;
use super::lookup::lookup;
use super::stats::{unix_now, DiscoveryStats};
use super::target::DnsTarget;
use crate::config::{RouteConfig, ServerSpec};

/// How long one name server is given to answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// A configuration's DNS entries, kept resolved.
pub struct Discovery {
    template: RouteConfig,
    entries: Vec<Entry>,
    stats: DiscoveryStats,
    /// An answer changed since [`Discovery::changed`] last returned (kept here, not
    /// in a local, so a `changed` future dropped midway loses no change).
    dirty: bool,
}

struct Entry {
    pool: String,
    /// As written in the pool's `servers`.
    written: String,
    target: DnsTarget,
    client: DnsClient,
    min: Duration,
    max: Duration,
    /// The last good answer; empty until the first.
    servers: Vec<String>,
    due: Instant,
    /// Lookups failed in a row: the first is a warning, the rest debug lines until
    /// one succeeds, so a DNS outage does not flood the log.
    failing: u64,
}

impl Discovery {
    /// The DNS entries of `template`'s pools, each asked of its pool's `resolver`,
    /// else of `system` (the host's name servers, from `/etc/resolv.conf`).
    pub fn new(
        template: RouteConfig,
        system: &[SocketAddr],
        stats: DiscoveryStats,
    ) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (pool_name, pool) in &template.pools {
            let servers = match pool.resolver()? {
                Some(resolver) => vec![resolver],
                None => system.to_vec(),
            };
            for written in pool.servers.iter().filter(|s| DnsTarget::is_dns_entry(s)) {
                let target =
                    DnsTarget::parse(written).map_err(|e| format!("pool {pool_name}: {e}"))?;
                if servers.is_empty() {
                    return Err(format!(
                        "pool {pool_name}: {written}: no name server (set the pool's resolver)"
                    ));
                }
                entries.push(Entry {
                    pool: pool_name.clone(),
                    written: written.clone(),
                    target,
                    client: DnsClient::new(servers.clone(), QUERY_TIMEOUT),
                    min: pool.dns_min_ttl(),
                    max: pool.dns_max_ttl(),
                    servers: Vec::new(),
                    due: Instant::now(),
                    failing: 0,
                });
            }
        }
        stats.retain(|pool| entries.iter().any(|e| e.pool == pool));
        Ok(Discovery {
            template,
            entries,
            stats,
            dirty: false,
        })
    }

    /// Whether the configuration names no DNS entry (then nothing is ever asked).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Resolves every entry now, and returns the configuration to serve. An entry
    /// that fails keeps the servers `previous` (the discovery this one replaces on a
    /// reload) had for it; one that has none refuses the whole configuration, with
    /// the reason.
    pub async fn resolve_all(
        &mut self,
        previous: Option<&Discovery>,
    ) -> Result<RouteConfig, String> {
        for i in 0..self.entries.len() {
            let known = previous.and_then(|p| {
                let entry = &self.entries[i];
                p.entries
                    .iter()
                    .find(|e| e.pool == entry.pool && e.written == entry.written)
                    .map(|e| e.servers.clone())
            });
            if let Some(known) = known.filter(|k| !k.is_empty()) {
                self.entries[i].servers = known;
            }
            if let Err(reason) = self.refresh(i).await {
                if self.entries[i].servers.is_empty() {
                    let entry = &self.entries[i];
                    return Err(format!("pool {}: {}: {reason}", entry.pool, entry.written));
                }
            }
        }
        self.dirty = false;
        Ok(self.config())
    }

    /// Waits until an entry is due, asks again, and returns the configuration to
    /// serve once an answer changed it. Never returns without DNS entries.
    /// Cancel-safe: dropped midway, it loses no change.
    pub async fn changed(&mut self) -> RouteConfig {
        loop {
            let Some(next) = self.entries.iter().map(|e| e.due).min() else {
                return std::future::pending().await;
            };
            tokio::time::sleep_until(next).await;
            for i in 0..self.entries.len() {
                if self.entries[i].due <= Instant::now() {
                    let _ = self.refresh(i).await;
                }
            }
            if std::mem::take(&mut self.dirty) {
                return self.config();
            }
        }
    }

    /// Asks for entry `i` once: on success takes the answer and waits its TTL
    /// (bounded); on failure keeps the last good servers and asks again after the
    /// lower bound. Counts and logs either way.
    async fn refresh(&mut self, i: usize) -> Result<(), String> {
        let result = lookup(&self.entries[i].client, &self.entries[i].target).await;
        let entry = &mut self.entries[i];
        match result {
            Ok(answer) => {
                if std::mem::take(&mut entry.failing) > 0 {
                    info!(pool = %entry.pool, entry = %entry.written, "discovery: lookups succeed again");
                }
                entry.due = Instant::now() + answer.ttl.clamp(entry.min, entry.max);
                if answer.servers != entry.servers {
                    if !entry.servers.is_empty() {
                        self.stats.update(&entry.pool, |f| f.changes += 1);
                        self.dirty = true;
                    }
                    info!(pool = %entry.pool, entry = %entry.written, servers = ?answer.servers,
                        "discovery: servers found");
                    entry.servers = answer.servers;
                }
                let now = unix_now();
                self.stats.update(&entry.pool, |f| f.last_success = now);
                self.count_servers(i);
                Ok(())
            }
            Err(reason) => {
                entry.due = Instant::now() + entry.min;
                entry.failing += 1;
                if entry.failing == 1 {
                    warn!(pool = %entry.pool, entry = %entry.written, error = %reason,
                        kept = entry.servers.len(), "discovery: lookup failed; the last good servers stay");
                } else {
                    debug!(pool = %entry.pool, entry = %entry.written, error = %reason,
                        failed_in_a_row = entry.failing, "discovery: lookup failed again");
                }
                self.stats.update(&entry.pool, |f| f.failures += 1);
                Err(reason.to_string())
            }
        }
    }

    fn count_servers(&self, i: usize) {
        let pool = &self.entries[i].pool;
        let servers = self
            .entries
            .iter()
            .filter(|e| &e.pool == pool)
            .map(|e| e.servers.len())
            .sum();
        self.stats.update(pool, |f| f.servers = servers);
    }

    /// The template with each DNS entry replaced by its last good servers (a
    /// server found twice, by two entries or by an entry and a plain one, once).
    pub fn config(&self) -> RouteConfig {
        let mut config = self.template.clone();
        for (pool_name, pool) in &mut config.pools {
            if !pool.servers.iter().any(|s| DnsTarget::is_dns_entry(s)) {
                continue;
            }
            let mut seen = std::collections::BTreeSet::new();
            let mut servers = Vec::new();
            for written in &pool.servers {
                let expanded: Vec<String> = match self
                    .entries
                    .iter()
                    .find(|e| &e.pool == pool_name && &e.written == written)
                {
                    Some(entry) => entry.servers.clone(),
                    None => vec![written.clone()],
                };
                for server in expanded {
                    let addr =
                        ServerSpec::parse(&server).map_or_else(|_| server.clone(), |s| s.addr());
                    if seen.insert(addr) {
                        servers.push(server);
                    }
                }
            }
            pool.servers = servers;
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(servers: &str, extra: &str) -> RouteConfig {
        toml::from_str(&format!(
            "[pools.p]\nservers = [{servers}]\n{extra}\n\
             [[listeners]]\nlisten = \"127.0.0.1:1\"\npool = \"p\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn entries_are_replaced_in_place_and_a_server_counts_once() {
        let config = template(
            r#""10.0.0.9:11211:1", "dns+srv://_m._tcp.a", "dns://b:11211""#,
            "resolver = \"127.0.0.1:53\"\ndns_min_ttl_ms = 10\ndns_max_ttl_ms = 20",
        );
        let mut discovery = Discovery::new(config, &[], DiscoveryStats::default()).unwrap();
        assert_eq!(discovery.entries.len(), 2);
        assert_eq!(
            (discovery.entries[0].min, discovery.entries[0].max),
            (Duration::from_millis(10), Duration::from_millis(20))
        );
        discovery.entries[0].servers = vec!["10.0.0.1:11211:5 a1:11211".into()];
        // The plain server again (another weight), and a new one.
        discovery.entries[1].servers = vec!["10.0.0.9:11211:1".into(), "10.0.0.2:11211:1".into()];
        assert_eq!(
            discovery.config().pools["p"].servers,
            [
                "10.0.0.9:11211:1",
                "10.0.0.1:11211:5 a1:11211",
                "10.0.0.2:11211:1"
            ]
        );
    }

    #[test]
    fn an_entry_needs_a_name_server() {
        let config = template(r#""dns://b:11211""#, "");
        let error = Discovery::new(config.clone(), &[], DiscoveryStats::default())
            .err()
            .unwrap();
        assert!(error.contains("no name server"), "{error}");
        let system = ["127.0.0.1:53".parse().unwrap()];
        assert!(Discovery::new(config, &system, DiscoveryStats::default()).is_ok());
        let plain = Discovery::new(
            template(r#""10.0.0.9:11211""#, ""),
            &[],
            DiscoveryStats::default(),
        )
        .unwrap();
        assert!(plain.is_empty());
    }

    #[tokio::test]
    async fn a_silent_name_server_refuses_a_first_resolution_and_keeps_a_known_one() {
        // A UDP socket that never answers: each query times out.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let resolver = silent.local_addr().unwrap();
        let config = template(r#""dns://b:11211""#, &format!("resolver = \"{resolver}\""));
        let stats = DiscoveryStats::default();
        let mut first = Discovery::new(config.clone(), &[], stats.clone()).unwrap();
        for entry in &mut first.entries {
            entry.client = DnsClient::new(vec![resolver], Duration::from_millis(50));
        }
        let error = first.resolve_all(None).await.err().unwrap();
        assert!(error.starts_with("pool p: dns://b:11211: "), "{error}");
        assert_eq!(stats.pools()["p"].failures, 1);
        // The same entry, already known from the running discovery: it stays.
        first.entries[0].servers = vec!["10.0.0.1:11211:1".into()];
        let mut again = Discovery::new(config, &[], stats.clone()).unwrap();
        again.entries[0].client = first.entries[0].client.clone();
        let served = again.resolve_all(Some(&first)).await.unwrap();
        assert_eq!(served.pools["p"].servers, ["10.0.0.1:11211:1"]);
        assert_eq!(stats.pools()["p"].failures, 2);
    }
}
