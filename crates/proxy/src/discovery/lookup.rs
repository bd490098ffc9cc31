//! One DNS entry resolved into a pool's server entries: SRV records into their
//! targets' addresses, ports and weights; a host name into its addresses. Sorted,
//! so the same servers in another answer order give the same ring.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::client::{DnsClient, LookupError};
use super::target::DnsTarget;
use super::wire::{Data, Record, TYPE_A, TYPE_AAAA, TYPE_SRV};

/// What one DNS entry stands for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `address:port:weight [name]` entries, sorted by address and port.
    pub servers: Vec<String>,
    /// The shortest TTL of the records it was made from.
    pub ttl: Duration,
}

/// One server found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    address: IpAddr,
    port: u16,
    weight: u32,
    /// SRV servers are named by their target host, so the ring keeps their place
    /// when a target's address changes (a restarted pod under a stable name).
    name: Option<String>,
}

/// Resolves `target`. An answer naming no server is an error
/// ([`LookupError::NoRecords`]): discovery never empties a pool.
pub async fn lookup(client: &DnsClient, target: &DnsTarget) -> Result<Answer, LookupError> {
    let (found, ttl) = match target {
        DnsTarget::Host { name, port } => {
            let (addresses, ttl) = addresses(client, name, &[]).await?;
            let found = addresses
                .into_iter()
                .map(|address| Found {
                    address,
                    port: *port,
                    weight: 1,
                    name: None,
                })
                .collect();
            (found, ttl)
        }
        DnsTarget::Srv { name } => services(client, name).await?,
    };
    let mut found: Vec<Found> = found;
    found.sort();
    found.dedup_by_key(|f| (f.address, f.port));
    if found.is_empty() {
        return Err(LookupError::NoRecords);
    }
    let servers = found
        .into_iter()
        .map(|f| {
            let entry = format!("{}:{}:{}", f.address, f.port, f.weight);
            match f.name {
                Some(name) => format!("{entry} {name}"),
                None => entry,
            }
        })
        .collect();
    Ok(Answer {
        servers,
        ttl: Duration::from_secs(ttl.into()),
    })
}

/// The servers SRV records of `name` point to: the records of the lowest priority
/// (RFC 2782: higher ones are fallbacks, not members), each target's addresses.
async fn services(client: &DnsClient, name: &str) -> Result<(Vec<Found>, u32), LookupError> {
    let (answers, additional) = client.query(name, TYPE_SRV).await?;
    let mut ttl = u32::MAX;
    let mut records = Vec::new();
    for record in &answers {
        if let Data::Srv {
            priority,
            weight,
            port,
            target,
        } = &record.data
        {
            // RFC 2782: the target "." means the service is not offered here.
            if !target.is_empty() && *port > 0 {
                ttl = ttl.min(record.ttl);
                records.push((*priority, *weight, *port, target.clone()));
            }
        }
    }
    let Some(lowest) = records.iter().map(|r| r.0).min() else {
        return Err(LookupError::NoRecords);
    };
    records.retain(|r| r.0 == lowest);
    let mut targets: BTreeMap<String, (Vec<IpAddr>, u32)> = BTreeMap::new();
    let mut found = Vec::new();
    for (_, weight, port, target) in records {
        if !targets.contains_key(&target) {
            let resolved = addresses(client, &target, &additional).await?;
            targets.insert(target.clone(), resolved);
        }
        let (addresses, target_ttl) = &targets[&target];
        ttl = ttl.min(*target_ttl);
        let named = addresses.len() == 1;
        for &address in addresses {
            found.push(Found {
                address,
                port,
                // The ring needs a positive weight; SRV's 0 means "rarely", the
                // least the ring can give.
                weight: u32::from(weight).max(1),
                name: named.then(|| format!("{target}:{port}")),
            });
        }
    }
    Ok((found, ttl))
}

/// `name`'s IPv4 addresses, else its IPv6 ones (not both: a dual-stack server
/// would count twice), from `known` records when they hold some.
async fn addresses(
    client: &DnsClient,
    name: &str,
    known: &[Record],
) -> Result<(Vec<IpAddr>, u32), LookupError> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let given = pick(known.iter().filter(|r| r.name == name));
    if !given.0.is_empty() {
        return Ok(given);
    }
    let (v4, _) = client.query(&name, TYPE_A).await?;
    let v4 = pick(v4.iter());
    if !v4.0.is_empty() {
        return Ok(v4);
    }
    let (v6, _) = client.query(&name, TYPE_AAAA).await?;
    let v6 = pick(v6.iter());
    if v6.0.is_empty() {
        return Err(LookupError::NoRecords);
    }
    Ok(v6)
}

/// The IPv4 addresses among `records`, else the IPv6 ones, with their shortest TTL.
fn pick<'r>(records: impl Iterator<Item = &'r Record> + Clone) -> (Vec<IpAddr>, u32) {
    let of = |want_v4: bool| {
        let mut ttl = u32::MAX;
        let addresses: Vec<IpAddr> = records
            .clone()
            .filter_map(|r| match r.data {
                Data::A(a) if want_v4 => Some((IpAddr::V4(a), r.ttl)),
                Data::Aaaa(a) if !want_v4 => Some((IpAddr::V6(a), r.ttl)),
                _ => None,
            })
            .map(|(a, t)| {
                ttl = ttl.min(t);
                a
            })
            .collect();
        (addresses, ttl)
    };
    let v4 = of(true);
    if v4.0.is_empty() {
        of(false)
    } else {
        v4
    }
}
