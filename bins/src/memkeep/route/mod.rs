//! `memkeep route -c CONFIG KEY...`: where memkeep-proxy sends a key, read from the
//! configuration it reads (nutcracker.yml with `-c`, the TOML route tree with
//! `--config`) and placed by its own layers ([`placement`]): the servers holding the
//! key (every replica of a replicated pool), the failover order as servers are
//! ejected or fail ([`order`]), and, for a route tree, what each route naming the
//! pool does with the key ([`routes`]). A nutcracker.yml is described in twemproxy's
//! terms, a route tree in the proxy's.

mod order;
mod placement;
mod routes;
mod stand_in;

use std::path::PathBuf;

use clap::Args;
use memkeep_proxy::config::{PoolConfig, RouteConfig};

use crate::proxy::Source;
pub use order::{failover_order, Rules, Step};
pub use placement::Placement;

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

/// Prints the routes.
pub fn main(args: RouteArgs) -> Result<(), String> {
    let (source, twemproxy) = match (&args.conf_file, &args.config) {
        (Some(path), _) => (Source::Nutcracker(path.clone()), true),
        (None, Some(path)) => (Source::RouteTree(path.clone()), false),
        (None, None) => return Err("give -c nutcracker.yml or --config route.toml".into()),
    };
    let config = source.load()?;
    let pools: Vec<(&String, &PoolConfig)> = config
        .pools
        .iter()
        .filter(|(name, _)| args.pool.as_ref().is_none_or(|p| p == *name))
        .collect();
    if pools.is_empty() {
        return Err(format!("no pool named {:?}", args.pool.unwrap_or_default()));
    }
    let placements = pools
        .iter()
        .map(|(name, pool)| Placement::new(name, pool))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = String::new();
    for key in &args.keys {
        for ((name, pool), placement) in pools.iter().zip(&placements) {
            let words = if twemproxy {
                Words::Twemproxy
            } else {
                Words::Proxy(&config)
            };
            out += &describe(name, pool, placement, key, words)?;
        }
    }
    print!("{out}");
    Ok(())
}

/// Whose terms a description uses.
#[derive(Clone, Copy)]
enum Words<'c> {
    /// twemproxy's, for a nutcracker.yml.
    Twemproxy,
    /// memkeep-proxy's, with the route tree the pool is part of.
    Proxy(&'c RouteConfig),
}

fn describe(
    name: &str,
    pool: &PoolConfig,
    placement: &Placement,
    key: &str,
    words: Words<'_>,
) -> Result<String, String> {
    let key_bytes = key.as_bytes();
    let holders = placement.holders(key_bytes, &[])?;
    let holder_names: Vec<String> = holders.iter().map(|&i| placement.name(i)).collect();
    let over = match words {
        Words::Proxy(config) => routes::over_pool(config, name, key_bytes, &holder_names)?,
        Words::Twemproxy => routes::OverPool {
            lines: Vec::new(),
            reach: 1,
        },
    };
    let rules = Rules {
        ejects: pool.eject.is_some(),
        rebuilds: pool.eject.is_some_and(|e| e.rebuild_ring),
        reach: over.reach,
    };
    let steps = failover_order(placement, key_bytes, rules)?;

    let mut out = format!(
        "{key}: pool {name} ({}, {}{}){}\n",
        pool.distribution,
        pool.hash,
        pool.hash_tag
            .as_ref()
            .map(|t| format!(", hash_tag {t}"))
            .unwrap_or_default(),
        if pool.replicas > 1 {
            format!(", replicas = {}", pool.replicas)
        } else {
            String::new()
        }
    );
    if holders.len() > 1 {
        let held: Vec<String> = holders
            .iter()
            .enumerate()
            .map(|(r, &i)| format!("{} (replica {})", addressed(placement, i), r + 1))
            .collect();
        out += &format!("  held by {}\n", held.join(", "));
    }
    for (n, step) in steps.iter().enumerate() {
        let mut when = order::when(placement, step, rules);
        if rules.rebuilds && pool.replicas > 1 && step.holders != holders {
            let now: Vec<String> = step.holders.iter().map(|&i| placement.name(i)).collect();
            when += &format!(" (the rebuilt ring holds the key on {})", now.join(", "));
        }
        out += &format!(
            "  {}. {:<28} {when}\n",
            n + 1,
            addressed(placement, step.server)
        );
    }
    out += &trailer(name, pool, rules, &steps, words);
    for line in &over.lines {
        out += &format!("  {line}\n");
    }
    Ok(out)
}

/// `name host:port`, or `host:port` for a server without a name.
fn addressed(placement: &Placement, server: usize) -> String {
    let spec = &placement.servers[server];
    match &spec.name {
        Some(name) => format!("{name} {}", spec.addr()),
        None => spec.addr(),
    }
}

/// What happens past the last step, or why there is no failover.
fn trailer(
    name: &str,
    pool: &PoolConfig,
    rules: Rules,
    steps: &[Step],
    words: Words<'_>,
) -> String {
    let only = steps.len() == 1;
    let unread = if pool.replicas > 1 {
        format!(", and no failover or read_repair route reads pool {name}'s other replicas")
    } else {
        String::new()
    };
    match (words, pool.eject) {
        (Words::Twemproxy, None) => {
            "  no failover: ejection is off (auto_eject_hosts: false)\n".into()
        }
        (Words::Twemproxy, Some(_)) => String::new(),
        (Words::Proxy(_), None) if only => format!(
            "  no failover: pool {name} ejects no server (no [pools.{name}.eject]){unread}: \
             while this server fails, the key's requests fail\n"
        ),
        (Words::Proxy(_), None) => format!(
            "  pool {name} ejects no server (no [pools.{name}.eject]): every request tries \
             a failing server first, until it errs or times out\n"
        ),
        (Words::Proxy(_), Some(e)) if !e.rebuild_ring && only => format!(
            "  no failover: while its server is ejected the key's requests fail fast \
             (rebuild_ring = false{unread})\n"
        ),
        (Words::Proxy(_), Some(e)) if !e.rebuild_ring => {
            "  while all of them are ejected the key's requests fail (rebuild_ring = false: \
             the ring keeps the ejected servers)\n"
                .into()
        }
        (Words::Proxy(_), Some(_)) => format!(
            "  (rebuild_ring = true: pool {name}'s ring is rebuilt over the live servers{})\n",
            if rules.reach > 1 {
                ", and reads move on to the next replica"
            } else {
                ""
            }
        ),
    }
}
