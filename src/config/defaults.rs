//! The defaults of the config's own sections, named so the docs and the code agree.

use std::net::SocketAddr;

pub fn bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7878))
}
pub fn body_limit_bytes() -> u64 {
    64 * 1024
}
pub fn page_limit_max() -> usize {
    500
}
pub fn memtable_bytes_max() -> u64 {
    actors::store::MEMTABLE_BYTES_DEFAULT
}
pub fn cache_bytes_max() -> u64 {
    actors::store::CACHE_BYTES_DEFAULT
}
pub fn shutdown_timeout_ms() -> u64 {
    10_000
}

pub fn header_read_timeout_ms() -> u64 {
    10_000
}
pub fn body_read_timeout_ms() -> u64 {
    30_000
}
pub fn connections_max() -> usize {
    1_024
}
pub fn store_path() -> String {
    "data/grace".to_owned()
}
pub fn lease_ms() -> u64 {
    actors::cluster::LEASE_MS_DEFAULT as u64
}
pub fn store_names() -> String {
    "grace".to_owned()
}
pub fn tokens_path() -> String {
    "data/grace-tokens.json".to_owned()
}
