//! `grace`: a self-healing supervisor. Thin entry point over the library in `src/lib.rs`.

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,warp=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    grace::cli::run(grace::cli::Cli::parse()).await
}
