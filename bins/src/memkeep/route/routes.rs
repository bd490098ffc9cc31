//! The routes of a TOML route tree that name a pool, and what each does with one key
//! there, in the words of memkeep-proxy's route table (`replicate`, `failover`,
//! `read_repair`, ...). A pool with replicas stands for its replicas in a route's
//! `to` list, so they are named by the servers holding the key.

use memkeep_proxy::config::{PolicySetting, RouteConfig, RouteSpec};
use memkeep_proxy::layer::route::RouteLayer;
use tower::Layer;

use super::order::and_list;
use super::stand_in::{picked, StandIn};

/// What the routes over a pool do with a key.
#[derive(Debug, Default)]
pub struct OverPool {
    /// One line per route naming the pool.
    pub lines: Vec<String>,
    /// How many of the pool's replicas a request may move across: a `failover`
    /// route reaches all of them, a `read_repair` route those it reads; 1 when no
    /// route fails over.
    pub reach: usize,
}

/// The routes of `config` that name `pool`, for a key held by `holders` (server
/// names, replica 1 first).
pub fn over_pool(
    config: &RouteConfig,
    pool: &str,
    key: &[u8],
    holders: &[String],
) -> Result<OverPool, String> {
    let mut over = OverPool {
        lines: Vec::new(),
        reach: 1,
    };
    // Each target of a list as the servers or names it stands for.
    let expand = |to: &[String]| -> Vec<(bool, String)> {
        to.iter()
            .flat_map(|t| {
                if t == pool {
                    holders.iter().map(|h| (true, h.clone())).collect()
                } else if config.pools.contains_key(t) {
                    vec![(false, format!("pool {t}"))]
                } else {
                    vec![(false, format!("route {t}"))]
                }
            })
            .collect()
    };
    let names = |list: &[(bool, String)]| -> String {
        and_list(&list.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>())
    };
    for (name, spec) in &config.routes {
        if !spec.targets().contains(&pool) {
            continue;
        }
        let line = match spec {
            RouteSpec::Replicate { to, policy } => {
                let all = expand(to);
                format!(
                    "route {name} (replicate, policy {}): mutations to {}, answered {}; \
                     reads to {}",
                    policy_name(*policy),
                    names(&all),
                    policy_words(*policy, &all[0].1),
                    all[0].1
                )
            }
            RouteSpec::Failover { to, on_miss, .. } => {
                let all = expand(to);
                over.reach = over.reach.max(all.iter().filter(|(here, _)| *here).count());
                let order: Vec<&str> = all.iter().map(|(_, n)| n.as_str()).collect();
                format!(
                    "route {name} (failover{}): requests to {}; reads move to the next on an \
                     error or timeout{}: {}",
                    if *on_miss { ", on_miss" } else { "" },
                    all[0].1,
                    if *on_miss { " or a miss" } else { "" },
                    order.join(", then ")
                )
            }
            RouteSpec::ReadRepair { to, read_from } => {
                let all = expand(to);
                let read = &all[..read_from.unwrap_or(all.len()).clamp(1, all.len())];
                over.reach = over
                    .reach
                    .max(read.iter().filter(|(here, _)| *here).count());
                format!(
                    "route {name} (read_repair): gets read {} at once, answer with a hit and \
                     write it back to those that missed; other requests to {}",
                    names(read),
                    all[0].1
                )
            }
            RouteSpec::Shadow {
                to,
                shadow,
                fraction,
            } => {
                let share = fraction * 100.0;
                if to == pool {
                    format!(
                        "route {name} (shadow): serves the key; {share}% of requests are \
                         copied to {shadow}"
                    )
                } else {
                    format!(
                        "route {name} (shadow): gets a copy of {share}% of {to}'s requests, \
                         its replies ignored"
                    )
                }
            }
            RouteSpec::WarmUp { cold, warm } => {
                if cold == pool {
                    format!(
                        "route {name} (warm_up): read first and takes every write; a miss \
                         is read from {warm} and copied here"
                    )
                } else {
                    format!(
                        "route {name} (warm_up): read when {cold} misses; the hit is copied \
                         into {cold}"
                    )
                }
            }
            RouteSpec::Prefix { prefixes, default } => {
                let (chosen, by) = by_prefix(prefixes, default, key)?;
                let verdict = if chosen == pool {
                    "here".to_owned()
                } else {
                    format!("to {chosen}, not here")
                };
                format!("route {name} (prefix): the key goes {verdict} ({by})")
            }
            RouteSpec::Operation { reads, writes } => {
                let what = match (reads == pool, writes == pool) {
                    (true, true) => "reads and writes",
                    (true, false) => "reads (gets and every other non-mutation)",
                    _ => "mutations (stores, deletes, incr/decr, touch, flush_all)",
                };
                format!("route {name} (operation): the key's {what} come here")
            }
        };
        over.lines.push(line);
    }
    Ok(over)
}

/// The target a prefix route picks for `key`, asked of the proxy's prefix layer,
/// and why.
fn by_prefix(
    prefixes: &std::collections::BTreeMap<String, String>,
    default: &str,
    key: &[u8],
) -> Result<(String, String), String> {
    let listed: Vec<(&String, &String)> = prefixes.iter().collect();
    let layer = RouteLayer::by_prefix(
        listed
            .iter()
            .enumerate()
            .map(|(i, (prefix, _))| (prefix.as_bytes().to_vec(), i)),
        listed.len(),
    );
    let stand_ins: Vec<StandIn> = (0..=listed.len()).map(StandIn).collect();
    let index = picked(layer.layer(stand_ins), key)?;
    Ok(match listed.get(index) {
        Some((prefix, target)) => ((*target).clone(), format!("prefix {prefix:?}")),
        None => (default.to_owned(), "no prefix matches: the default".into()),
    })
}

fn policy_name(policy: PolicySetting) -> &'static str {
    match policy {
        PolicySetting::All => "all",
        PolicySetting::Majority => "majority",
        PolicySetting::FirstSuccess => "first_success",
        PolicySetting::PrimaryThenAsync => "primary_then_async",
    }
}

fn policy_words(policy: PolicySetting, first: &str) -> String {
    match policy {
        PolicySetting::All => "when every one has (the worst reply wins)".into(),
        PolicySetting::Majority => "when more than half have".into(),
        PolicySetting::FirstSuccess => "with the first success".into(),
        PolicySetting::PrimaryThenAsync => {
            format!("with {first}'s reply, the others written in the background")
        }
    }
}
