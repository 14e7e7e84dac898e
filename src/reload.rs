//! Config reload, on SIGHUP or `POST /config/reload`: read the config Grace was started with
//! again, check all of it, and only when nothing is wrong hand its tree to the kernel, which
//! starts, stops or restarts just the monitors that changed. An invalid file changes nothing;
//! the error lists every problem in it.

use std::path::PathBuf;

use actors::model::Who;
use actors::{Kernel, KernelError, ReloadReport};

use crate::config::{self, AuthConfig, ClusterConfig, ConfigError, ServerConfig, StoreConfig};

/// Where the running config came from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    File(PathBuf),
    /// Found on this machine at start (`grace serve` with no `--config`): reloading reads the
    /// same text again, a no-op, but a valid one.
    Discovered(String),
}

/// What Grace started with: where its config came from, and the sections read only at start
/// (a reload reports a change to them; it takes effect at the next start).
#[derive(Debug, Clone)]
pub struct Started {
    pub source: ConfigSource,
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub auth: AuthConfig,
    pub cluster: ClusterConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Invalid(ConfigError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// Reloads the config Grace `started` with into `kernel`; see the module doc.
pub async fn reload(
    kernel: &Kernel,
    started: &Started,
    by: Who,
) -> Result<ReloadReport, ReloadError> {
    let config = match &started.source {
        ConfigSource::File(path) => config::load(path),
        ConfigSource::Discovered(text) => config::parse(config::DISCOVERED, text),
    }
    .map_err(ReloadError::Invalid)?;
    let mut report = kernel.reload(config.tree, by).await?;
    // The listener and the store are opened once, at start.
    if config.server != started.server {
        report.restart_required.push("server".to_owned());
    }
    if config.store != started.store {
        report.restart_required.push("store".to_owned());
    }
    if config.auth != started.auth {
        report.restart_required.push("auth".to_owned());
    }
    if config.cluster != started.cluster {
        report.restart_required.push("cluster".to_owned());
    }
    Ok(report)
}
