//! The event log's layout, before and after chunks: a record per event with an
//! `incident_id` index (the layout until 2026-12-08, replayed here with its own statements on
//! a raw SurrealDB connection) against a record per commit (`Store`, `actors/src/store/chunks.rs`).
//!
//! For each, in memory and on disk (SurrealKV, fsync per commit): appending a commit of 16
//! events (what 16 clients posting one event each share), replaying 4,096 events from the
//! start in pages of 256 (a start's catch-up), and reading one page of 256 after a seq in the
//! middle (a feed client resuming with `since`). Run with `cargo bench --bench log_layout`.

use std::time::{Duration, Instant};

use actors::event::{Event, EventDraft};
use actors::store::{Store, StoreLocation};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use surrealdb::engine::any::{connect, Any};
use surrealdb::Surreal;

const COMMIT_EVENTS: u64 = 16;
const LOG_EVENTS: u64 = 4_096;
const PAGE_EVENTS: u64 = 256;

fn draft(n: u64) -> EventDraft {
    EventDraft::new("db.connection_lost", json!({ "kind": "problem", "n": n }))
        .source(format!("orders-db-{n}"))
}

/// The layout before chunks: its schema and its append, as `store/log.rs` had them.
const ROWS_SCHEMA: &str = "DEFINE TABLE event SCHEMALESS; \
     DEFINE INDEX event_incident ON event FIELDS incident_id; DEFINE TABLE meta SCHEMALESS;";
const ROWS_APPEND: &str = "BEGIN TRANSACTION; \
     LET $after = (SELECT VALUE last_seq FROM meta:event_log)[0] ?? 0; \
     LET $sequenced = array::map($rows, |$row, $i| \
         object::extend($row, { id: $after + $i + 1, seq: $after + $i + 1 })); \
     INSERT INTO event $sequenced RETURN NONE; \
     UPSERT meta:event_log SET last_seq = $after + array::len($rows) RETURN NONE; \
     RETURN $after; COMMIT TRANSACTION;";

/// One of the two layouts, on one engine.
enum Log {
    Rows(Surreal<Any>),
    Chunks(Store),
}

impl Log {
    async fn append(&self, first: u64) {
        let drafts: Vec<EventDraft> = (first..first + COMMIT_EVENTS).map(draft).collect();
        match self {
            Log::Rows(db) => {
                let at = chrono::Utc::now();
                let rows: Vec<Value> = drafts
                    .into_iter()
                    .map(|d| serde_json::to_value(d.sequenced(0, at)).unwrap())
                    .collect();
                db.query(ROWS_APPEND)
                    .bind(json!({ "rows": rows }))
                    .await
                    .unwrap()
                    .check()
                    .unwrap();
            }
            Log::Chunks(store) => {
                store.append_events(drafts).await.unwrap();
            }
        }
    }

    async fn page(&self, since: u64) -> Vec<Event> {
        match self {
            Log::Rows(db) => {
                let (from, to) = (since + 1, since + 1 + PAGE_EVENTS);
                let query = format!("SELECT * OMIT id FROM event:{from}..{to}");
                let mut response = db.query(query).await.unwrap().check().unwrap();
                let rows: Vec<Value> = response.take(0).unwrap();
                rows.into_iter()
                    .map(|row| serde_json::from_value(row).unwrap())
                    .collect()
            }
            Log::Chunks(store) => store
                .events_after(since, PAGE_EVENTS as usize)
                .await
                .unwrap(),
        }
    }
}

async fn open(layout: &str, engine: &str, dir: &std::path::Path) -> Log {
    match (layout, engine) {
        ("rows", engine) => {
            let url = match engine {
                "memory" => "mem://".to_owned(),
                _ => format!("surrealkv://{}", dir.join("rows").display()),
            };
            let db = connect(url).await.unwrap();
            db.use_ns("grace").use_db("grace").await.unwrap();
            db.query(ROWS_SCHEMA).await.unwrap().check().unwrap();
            Log::Rows(db)
        }
        (_, "memory") => Log::Chunks(Store::open(&StoreLocation::Memory).await.unwrap()),
        _ => {
            let location = StoreLocation::Path(dir.join("chunks"), Default::default());
            Log::Chunks(Store::open(&location).await.unwrap())
        }
    }
}

fn layouts(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for engine in ["memory", "surrealkv"] {
        let mut group = c.benchmark_group(format!("log_layout/{engine}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(5));
        for layout in ["rows", "chunks"] {
            let dir = tempfile::tempdir().unwrap();
            let log = rt.block_on(open(layout, engine, dir.path()));
            let mut next = 1;
            rt.block_on(async {
                while next <= LOG_EVENTS {
                    log.append(next).await;
                    next += COMMIT_EVENTS;
                }
            });
            group.throughput(Throughput::Elements(COMMIT_EVENTS));
            group.bench_function(format!("append_16/{layout}"), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (log, first) = (&log, next);
                    next += iters * COMMIT_EVENTS;
                    async move {
                        let started = Instant::now();
                        for i in 0..iters {
                            log.append(first + i * COMMIT_EVENTS).await;
                        }
                        started.elapsed()
                    }
                })
            });
            group.throughput(Throughput::Elements(LOG_EVENTS));
            group.bench_function(format!("replay_4096/{layout}"), |b| {
                b.to_async(&rt).iter(|| async {
                    let mut since = 0;
                    while since < LOG_EVENTS {
                        let page = log.page(since).await;
                        since = page.last().unwrap().seq;
                    }
                })
            });
            group.throughput(Throughput::Elements(PAGE_EVENTS));
            group.bench_function(format!("catch_up_page/{layout}"), |b| {
                b.to_async(&rt).iter(|| async {
                    let page = log.page(LOG_EVENTS / 2 + 7).await;
                    assert_eq!(page.len(), PAGE_EVENTS as usize);
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, layouts);
criterion_main!(benches);
