//! The embedded store on disk, opened with Grace's own SurrealKV config: the SDK's path takes
//! only a few of SurrealKV's keys, and sizes the memtable (1 GiB here) and block cache (half of
//! RAM) from the machine, so Grace builds the datastore itself with `[store]
//! memtable_bytes_max` and `cache_bytes_max`, as the SDK's own embedded engine does otherwise
//! (checked version, bootstrapped, maintenance started), and serves it to the SDK.

use std::path::Path;
use std::sync::Arc;

use surrealdb::engine::local::Db;
use surrealdb::Surreal;
use surrealdb_cnf::ConfigMap;
use surrealdb_core::kvs::Datastore;

use super::{StoreError, StoreResult};

/// How much memory the embedded engine may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedLimits {
    /// The memtable: writes since the last flush to a table on disk. A crash replays at most
    /// this much of the write-ahead log at the next start.
    pub memtable_bytes_max: u64,
    /// Blocks of tables read back, kept for the next read.
    pub cache_bytes_max: u64,
}

impl Default for EmbeddedLimits {
    fn default() -> Self {
        Self {
            memtable_bytes_max: MEMTABLE_BYTES_DEFAULT,
            cache_bytes_max: CACHE_BYTES_DEFAULT,
        }
    }
}

/// 64 MiB: a memtable flush every few hundred thousand events, and a bounded replay.
pub const MEMTABLE_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
/// 32 MiB of read cache: Grace's reads are mostly of what it wrote last.
pub const CACHE_BYTES_DEFAULT: u64 = 32 * 1024 * 1024;

/// The SurrealKV store in `dir`, with `limits`.
pub(super) async fn open(dir: &Path, limits: EmbeddedLimits) -> StoreResult<Surreal<Db>> {
    let config = ConfigMap::empty()
        .with_key_value(
            "surrealkv_max_memtable_size",
            limits.memtable_bytes_max.to_string(),
        )
        .with_key_value(
            "surrealkv_block_cache_capacity",
            limits.cache_bytes_max.to_string(),
        );
    // What the SDK grants an embedded engine by default: every non-scripting function.
    let capabilities = surrealdb::opt::capabilities::Capabilities::new().into();
    let fail =
        |error: String| StoreError::Unavailable(format!("the store in {}: {error}", dir.display()));
    let kvs: Arc<Datastore> = Datastore::builder()
        .with_config(config)
        .with_capabilities(capabilities)
        .without_maintenance_tasks()
        .build_with_path(&format!("surrealkv://{}", dir.display()))
        .await
        .map_err(|e| fail(e.to_string()))?;
    // As the SDK does: the version key before any maintenance write (a fresh store would
    // otherwise look like one written before that key existed).
    kvs.check_version().await.map_err(|e| fail(e.to_string()))?;
    kvs.bootstrap().await.map_err(|e| fail(e.to_string()))?;
    kvs.start_maintenance_tasks();
    Ok(Surreal::<Db>::unstable_from_datastore(kvs, None).await?)
}
