//! Config reload, on SIGHUP or `POST /config/reload`: read the config Grace was started with
//! again, check all of it, and only when nothing is wrong hand its tree to the kernel, which
//! starts, stops or restarts just the monitors that changed. An invalid file changes nothing;
//! the error lists every problem in it.

use std::path::PathBuf;

use actors::model::Who;
use actors::{KernelError, ReloadReport};

use crate::config::{self, ConfigError};
use crate::server::App;

/// Where the running config came from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    File(PathBuf),
    /// The built-in default; reloading it is a no-op, but a valid one.
    BuiltIn,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Invalid(ConfigError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// Reloads the config of `app`; see the module doc.
pub async fn reload(app: &App, by: Who) -> Result<ReloadReport, ReloadError> {
    let config = match &app.config_source {
        ConfigSource::File(path) => config::load(path),
        ConfigSource::BuiltIn => config::built_in(),
    }
    .map_err(ReloadError::Invalid)?;
    let mut report = app.kernel.reload(config.tree, by).await?;
    // The listener and the store are opened once, at start.
    if config.server != app.server {
        report.restart_required.push("server".to_owned());
    }
    if config.store != app.store {
        report.restart_required.push("store".to_owned());
    }
    if config.auth != app.auth_config {
        report.restart_required.push("auth".to_owned());
    }
    Ok(report)
}
