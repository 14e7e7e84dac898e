//! `grace`: a self-healing supervisor. Thin entry point over the library in `src/lib.rs`.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc malloc: under a flood, glibc's malloc/free were a fifth of
/// Grace's CPU (`perf record`), and its per-thread arenas fragment.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            // warp's request trace logs every 5xx as an error, a busy 503 under a flood
            // included; Grace logs its own failures (500s among them) where they happen.
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,warp=warn,warp::filters::trace=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    actors::failpoints::setup();
    grace::cli::run(grace::cli::Cli::parse()).await
}
