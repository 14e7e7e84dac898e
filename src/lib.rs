//! The `grace` binary's library: config loading, the HTTP/WebSocket server and the CLI. The
//! supervision tree itself lives in the `actors` crate.

pub mod cli;
pub mod config;
pub mod init;
pub mod lifecycle;
pub mod logging;
pub mod node;
pub mod ops;
pub mod reload;
pub mod serve;
pub mod server;
pub mod tokens;
