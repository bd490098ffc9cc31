//! The order in which a key's servers answer as servers fail: its first server, then
//! the one that answers once that one is out, and so on.
//!
//! A server is out when the pool ejects it (`[pools.NAME.eject]`, twemproxy's
//! `auto_eject_hosts`), or, for a request a route fails over, when it fails. Two
//! things move a key: a ring rebuilt over the live servers (`rebuild_ring`, always
//! on in twemproxy), which gives it new holders, and a `failover` or `read_repair`
//! route naming the pool, which reads its next replica.

use super::placement::Placement;

/// How a pool's key moves when servers fail.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The pool ejects failing servers.
    pub ejects: bool,
    /// The ring is rebuilt without the ejected ones.
    pub rebuilds: bool,
    /// How many of the key's replicas a request may move across (a `failover` or
    /// `read_repair` route over the pool); 1 when none does.
    pub reach: usize,
}

/// One server in the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The server answering.
    pub server: usize,
    /// The servers out before it answers, in the order they went out.
    pub after: Vec<usize>,
    /// Who holds the key then, replica 1 first.
    pub holders: Vec<usize>,
}

/// The order for `key`: each step is the server answering once the servers of the
/// steps before it are out.
pub fn failover_order(
    placement: &Placement,
    key: &[u8],
    rules: Rules,
) -> Result<Vec<Step>, String> {
    let total = placement.servers.len();
    let mut out: Vec<usize> = Vec::new();
    let mut steps = Vec::new();
    loop {
        let holders = placement.holders(key, if rules.rebuilds { &out } else { &[] })?;
        let next = holders
            .iter()
            .take(rules.reach.max(1))
            .find(|h| !out.contains(h))
            .copied();
        let Some(server) = next else {
            return Ok(steps);
        };
        steps.push(Step {
            server,
            after: out.clone(),
            holders,
        });
        out.push(server);
        // With every server out the proxy keeps the full ring: nothing answers.
        if out.len() == total {
            return Ok(steps);
        }
    }
}

/// When `step` answers, in words.
pub fn when(placement: &Placement, step: &Step, rules: Rules) -> String {
    if step.after.is_empty() {
        return "primary".into();
    }
    let names: Vec<String> = step.after.iter().map(|&i| placement.name(i)).collect();
    let (list, verb) = (
        and_list(&names),
        if names.len() == 1 { "is" } else { "are" },
    );
    if rules.ejects {
        format!("while {list} {verb} ejected")
    } else {
        let fail = if names.len() == 1 { "fails" } else { "fail" };
        format!("when {list} {fail} (an error or a timeout)")
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
