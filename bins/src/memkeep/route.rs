//! `memkeep route -c CONFIG KEY...`: which server of each pool a key goes to, read
//! from the same configuration memkeep-proxy reads (nutcracker.yml with `-c`, the
//! TOML route tree with `--config`) and mapped by the same ring. With ejection on,
//! the failover order follows: where the key goes if its server is ejected, then
//! if that one is too, and so on (twemproxy rebuilds the ring over the live ones).

use std::path::PathBuf;

use clap::Args;
use memkeep_proxy::config::{PoolConfig, ServerSpec};

use crate::proxy::{ring_builder, Source};

/// One pool of the configuration, by name.
#[derive(Debug, Clone)]
pub struct Site {
    /// The pool's name.
    pub name: String,
    /// Its settings.
    pub pool: PoolConfig,
}

/// The pools of the configuration memkeep-proxy would read from these flags.
pub fn read_pools(source: &Source) -> Result<Vec<Site>, String> {
    let config = source.load()?;
    Ok(config
        .pools
        .into_iter()
        .map(|(name, pool)| Site { name, pool })
        .collect())
}

/// Flags of `memkeep route`.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// twemproxy configuration (nutcracker.yml).
    #[arg(short = 'c', long = "conf-file", value_name = "FILE")]
    pub conf_file: Option<PathBuf>,
    /// memkeep-proxy route tree (TOML).
    #[arg(long = "config", value_name = "FILE", conflicts_with = "conf_file")]
    pub config: Option<PathBuf>,
    /// Only this pool (default: every pool).
    #[arg(long)]
    pub pool: Option<String>,
    /// Keys to look up.
    #[arg(required = true)]
    pub keys: Vec<String>,
}

/// One server a key may go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Index in the pool's server list.
    pub index: usize,
    /// The servers ejected for the key to land here (empty for the primary).
    pub after: Vec<usize>,
}

/// Prints the routes.
pub fn main(args: RouteArgs) -> Result<(), String> {
    let source = match (&args.conf_file, &args.config) {
        (Some(path), _) => Source::Nutcracker(path.clone()),
        (None, Some(path)) => Source::RouteTree(path.clone()),
        (None, None) => return Err("give -c nutcracker.yml or --config route.toml".into()),
    };
    let sites = read_pools(&source)?;
    let sites: Vec<&Site> = sites
        .iter()
        .filter(|s| args.pool.as_ref().is_none_or(|p| *p == s.name))
        .collect();
    if sites.is_empty() {
        return Err(format!("no pool named {:?}", args.pool.unwrap_or_default()));
    }
    let mut out = String::new();
    for key in &args.keys {
        for site in &sites {
            out += &describe(site, key)?;
        }
    }
    print!("{out}");
    Ok(())
}

/// The order `key` tries the servers of `site`'s pool: the primary, then (with
/// ejection that rebuilds the ring) where it goes as each one before is ejected.
pub fn failover_order(site: &Site, key: &str) -> Result<(Vec<ServerSpec>, Vec<Hop>), String> {
    let (builder, specs) = ring_builder(&site.name, &site.pool)?;
    let rebuilds = site.pool.eject.is_some_and(|e| e.rebuild_ring);
    let mut live = vec![true; specs.len()];
    let mut hops = Vec::new();
    loop {
        let ring = builder
            .clone()
            .live(&live)
            .build()
            .map_err(|e| format!("pool {}: {e}", site.name))?;
        let index = ring.node_for(key.as_bytes());
        hops.push(Hop {
            index,
            after: hops.iter().map(|h: &Hop| h.index).collect(),
        });
        live[index] = false;
        if !rebuilds || !live.contains(&true) {
            return Ok((specs, hops));
        }
    }
}

fn describe(site: &Site, key: &str) -> Result<String, String> {
    let (specs, hops) = failover_order(site, key)?;
    let name = |i: usize| specs[i].name.clone().unwrap_or_else(|| specs[i].addr());
    let mut out = format!(
        "{key}: pool {} ({}, {}{})\n",
        site.name,
        site.pool.distribution,
        site.pool.hash,
        site.pool
            .hash_tag
            .as_ref()
            .map(|t| format!(", hash_tag {t}"))
            .unwrap_or_default()
    );
    for (n, hop) in hops.iter().enumerate() {
        let when = if hop.after.is_empty() {
            "primary".to_owned()
        } else {
            let names: Vec<String> = hop.after.iter().map(|&i| name(i)).collect();
            format!("if {} ejected", names.join(", "))
        };
        out += &format!(
            "  {}. {:<20} {:<22} {when}\n",
            n + 1,
            name(hop.index),
            specs[hop.index].addr()
        );
    }
    match site.pool.eject {
        None => out += "  no failover: ejection is off (auto_eject_hosts: false)\n",
        Some(e) if !e.rebuild_ring => {
            out +=
                "  no failover: while its server is ejected the key fails (rebuild_ring = false)\n"
        }
        Some(_) => {}
    }
    Ok(out)
}
