//! `grace`: a self-healing supervisor. Thin entry point over the library in `src/lib.rs`.

use clap::Parser;

/// mimalloc rather than glibc malloc: under a flood, glibc's malloc/free were a fifth of
/// Grace's CPU (`perf record`), and its per-thread arenas fragment.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    grace::logging::init();
    actors::failpoints::setup();
    grace::cli::run(grace::cli::Cli::parse()).await
}
