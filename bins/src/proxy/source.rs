//! Where the configuration comes from, read again on SIGHUP: a `nutcracker.yml`, the
//! TOML route tree, or magent's flags (fixed for the life of the process).

use std::path::{Path, PathBuf};

mod nutcracker;

use memkeep_proxy::config::{nutcracker_tree, RouteConfig};

use memkeep_proxy::build::ring_builder;

/// The configuration's origin.
#[derive(Debug, Clone)]
pub enum Source {
    /// twemproxy's `nutcracker.yml` (`-c`).
    Nutcracker(PathBuf),
    /// memkeep-proxy's route tree (`--config`).
    RouteTree(PathBuf),
    /// magent's flags, already turned into a tree.
    Flags(RouteConfig),
}

impl Source {
    /// Reads and checks the configuration, rings included, without starting anything.
    pub fn load(&self) -> Result<RouteConfig, String> {
        let config = match self {
            Source::Nutcracker(path) => read_nutcracker(path)?,
            Source::RouteTree(path) => read_route_tree(path)?,
            Source::Flags(config) => config.clone(),
        };
        let at = |e: String| match self.path() {
            Some(path) => format!("{}: {e}", path.display()),
            None => e,
        };
        config.check().map_err(|e| at(e.to_string()))?;
        // A pool found by DNS has its ring checked once its servers are found.
        for (name, pool) in config.pools.iter().filter(|(_, p)| !p.discovers()) {
            ring_builder(name, pool).map_err(at)?;
        }
        Ok(config)
    }

    /// The file, if the configuration is read from one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Nutcracker(path) | Source::RouteTree(path) => Some(path),
            Source::Flags(_) => None,
        }
    }
}

/// Reads a `nutcracker.yml`, refusing what memkeep-proxy cannot do.
fn read_nutcracker(path: &Path) -> Result<RouteConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let config = nutcracker::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    nutcracker_tree(&config).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads the TOML route tree.
fn read_route_tree(path: &Path) -> Result<RouteConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
