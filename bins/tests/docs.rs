//! The documentation stays true to the repository: every relative link in README.md
//! and docs/ leads to a file that exists (and to a heading of it, for `#anchor`
//! links), every flag the servers' `--help` lists is in their reference page, and
//! every metric family a running memkeepd (with replication) and memkeep-proxy (with
//! a read-repair route) expose is listed in docs/metrics.md.

mod admin;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use admin::http::{get, memkeepd_with_admin, wait_accepting};
use support::{free_port, wait_until_accepting};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md and every page under docs/.
fn documents() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files
}

/// The text of a markdown file outside its fenced code blocks.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The targets of `[text](target)` and `![alt](target)` links.
fn link_targets(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| rest[..end].to_owned())
        })
        .collect()
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    prose(text)
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_relative_link_resolves() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        for target in link_targets(&prose(&text)) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let linked = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            checked += 1;
            if !linked.exists() {
                broken.push(format!("{}: {target}: no such file", file.display()));
            } else if !fragment.is_empty() {
                let linked_text = std::fs::read_to_string(&linked).unwrap_or_default();
                if !anchors(&linked_text).iter().any(|a| a == fragment) {
                    broken.push(format!("{}: {target}: no such heading", file.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(
        checked > 50,
        "only {checked} links found: is the parsing right?"
    );
}

/// The metric families (`# TYPE` lines) of a `/metrics` page.
fn families(port: u16) -> Vec<String> {
    let reply = get(port, "/metrics");
    assert_eq!(reply.code, 200);
    reply
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect()
}

#[test]
fn every_metric_is_documented() {
    let listed = std::fs::read_to_string(repo_root().join("docs/metrics.md")).unwrap();
    let replication_port = free_port().to_string();
    let (server, server_admin) = memkeepd_with_admin(&["-X", &replication_port]);

    let dir = std::env::temp_dir().join(format!("memkeep-docs-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let (listen, proxy_admin) = (free_port(), free_port());
    let config = dir.join("route.toml");
    std::fs::write(
        &config,
        format!(
            "[pools.cache]\nservers = [\"{}\"]\n\n[routes.reads]\nkind = \"read_repair\"\nto = [\"cache\"]\n\n[[listeners]]\nlisten = \"127.0.0.1:{listen}\"\nroute = \"reads\"\n",
            server.addr()
        ),
    )
    .unwrap();
    let mut proxy = Command::new(env!("CARGO_BIN_EXE_memkeep-proxy"))
        .arg("--config")
        .arg(&config)
        .args(["--admin", &proxy_admin.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = wait_until_accepting(listen, &mut proxy);
    if started {
        wait_accepting(proxy_admin);
    }
    let found: Vec<String> = if started {
        families(server_admin)
            .into_iter()
            .chain(families(proxy_admin))
            .collect()
    } else {
        Vec::new()
    };
    let _ = proxy.kill();
    let _ = proxy.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(started, "memkeep-proxy did not start");

    assert!(found.iter().any(|f| f == "memkeep_replication_lag_items"));
    assert!(found
        .iter()
        .any(|f| f == "memkeep_proxy_read_repairs_total"));
    let missing: Vec<&String> = found
        .iter()
        .filter(|f| !listed.contains(&format!("`{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics missing from docs/metrics.md: {missing:?}"
    );
}

/// The flags an option line of clap's help names (`-p, --port <PORT>`: `-p`, `--port`).
fn help_flags(help: &str) -> Vec<String> {
    help.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .flat_map(|l| {
            let names = l.split("  ").next().unwrap();
            names
                .split(", ")
                .map(|n| n.split([' ', '.', '=']).next().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether `page` names `flag` in code: a backtick, the flag, then no more of a name.
fn documents_flag(page: &str, flag: &str) -> bool {
    page.match_indices(&format!("`{flag}")).any(|(at, m)| {
        page[at + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_alphanumeric() && c != '-')
    })
}

#[test]
fn every_flag_is_in_its_reference_page() {
    let docs = repo_root().join("docs");
    let read = |name: &str| std::fs::read_to_string(docs.join(name)).unwrap();
    let cases = [
        (
            env!("CARGO_BIN_EXE_memkeepd"),
            vec!["--help"],
            read("memkeepd.md"),
        ),
        (
            env!("CARGO_BIN_EXE_memkeep-proxy"),
            vec!["--help"],
            read("nutcracker.md"),
        ),
        (
            env!("CARGO_BIN_EXE_memkeep-proxy"),
            vec!["-s", "h:1", "--help"],
            read("proxy.md"),
        ),
    ];
    let mut missing = Vec::new();
    for (program, args, page) in &cases {
        let out = Command::new(program).args(args).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        let flags = help_flags(&help);
        assert!(
            flags.len() > 10,
            "{program} {args:?}: no flags read from\n{help}"
        );
        for flag in flags {
            if !documents_flag(page, &flag) {
                missing.push(format!("{program} {args:?}: {flag}"));
            }
        }
    }
    assert!(missing.is_empty(), "flags missing from docs/: {missing:#?}");
}
