//! The event log's speed: how fast events go from `publish` to persisted-and-delivered, in
//! memory and on disk (SurrealKV, fsync per commit), and what batching buys at the store.
//!
//! And the incident pipeline's hot paths: a page of new problems applied in memory and
//! committed. Run with `cargo bench --bench event_log`; the README quotes medians from this
//! machine.

use std::time::{Duration, Instant};

use actors::event::{EventDraft, Pattern};
use actors::incidents::{Changes, Facts, IncidentBook, Rules};
use actors::probe::Probes;
use actors::spec::TreeSpec;
use actors::store::Write;
use actors::store::{Store, StoreLocation};
use actors::Kernel;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::json;

/// Events per measured burst.
const BURST: u64 = 1_000;

fn draft(n: u64) -> EventDraft {
    EventDraft::new(
        "bench.tick",
        json!({ "n": n, "note": "a typical small payload" }),
    )
    .source("bench")
}

fn locations(dir: &tempfile::TempDir) -> [(&'static str, StoreLocation); 2] {
    [
        ("memory", StoreLocation::Memory),
        (
            "surrealkv",
            StoreLocation::Path(dir.path().join("kv"), Default::default()),
        ),
    ]
}

/// `publish` → bus (group commit) → store → feed subscriber, for a burst of events.
fn publish_to_subscriber(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("publish_to_subscriber");
    group.throughput(Throughput::Elements(BURST));
    group.sample_size(10);
    for (name, location) in locations(&dir) {
        let kernel = rt.block_on(async {
            Kernel::start(TreeSpec::default(), &location, Probes::default())
                .await
                .unwrap()
        });
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.to_async(&rt).iter_custom(|iterations| {
                let kernel = &kernel;
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let mut feed = kernel
                            .subscribe(vec![Pattern::new("bench.*")])
                            .await
                            .unwrap();
                        let started = Instant::now();
                        for n in 0..BURST {
                            kernel.publish(draft(n));
                        }
                        for _ in 0..BURST {
                            feed.recv().await.expect("subscriber kept up");
                        }
                        total += started.elapsed();
                    }
                    total
                }
            })
        });
        rt.block_on(kernel.shutdown());
    }
    group.finish();
}

/// Raw store appends: one transaction per event versus one per 100 events.
fn store_append(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("store_append");
    group.throughput(Throughput::Elements(BURST));
    group.sample_size(10);
    for (name, location) in locations(&dir) {
        let store = rt.block_on(Store::open(&location)).unwrap();
        for batch in [1usize, 100] {
            group.bench_function(BenchmarkId::new(name, format!("batch_{batch}")), |b| {
                b.to_async(&rt).iter_custom(|iterations| {
                    let store = &store;
                    async move {
                        let started = Instant::now();
                        for _ in 0..iterations {
                            let drafts: Vec<_> = (0..BURST).map(draft).collect();
                            for chunk in drafts.chunks(batch) {
                                store.append_events(chunk.to_vec()).await.unwrap();
                            }
                        }
                        started.elapsed()
                    }
                })
            });
        }
    }
    group.finish();
}

/// Reading the log back, as a reconnecting client's replay does (pages of 256).
fn replay(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(Store::open(&StoreLocation::Memory)).unwrap();
    let drafts: Vec<_> = (1..=10 * BURST).map(draft).collect();
    rt.block_on(async {
        for chunk in drafts.chunks(500) {
            store.append_events(chunk.to_vec()).await.unwrap();
        }
    });
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(BURST));
    group.sample_size(10);
    group.bench_function("memory_1000_of_10000", |b| {
        b.to_async(&rt).iter(|| async {
            let mut since = 5 * BURST;
            let mut read = 0;
            while read < BURST {
                let page = store.events_after(since, 256).await.unwrap();
                read += page.len() as u64;
                since = page.last().unwrap().seq;
            }
        })
    });
    group.finish();
}

/// The incident pipeline's two hot paths: applying a page of new problems in memory, and
/// committing what it changed (incidents, trust, announcements, watermark) in one transaction.
fn incident_page(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("incident_page");
    group.throughput(Throughput::Elements(PAGE));
    group.sample_size(10);
    let page: Vec<_> = (1..=PAGE)
        .map(|n| {
            EventDraft::new("bench.failed", json!({ "class": "problem" }))
                .source(format!("source-{n}"))
                .sequenced(n, actors::time::now())
        })
        .collect();
    group.bench_function("apply_512_new", |b| {
        b.iter(|| {
            let mut core = IncidentBook::new(Vec::new(), 1);
            let mut out = Changes::default();
            for event in &page {
                core.apply(event, &Rules::default(), &Facts::default(), &mut out);
            }
            out
        })
    });
    for (name, location) in locations(&dir) {
        let store = rt.block_on(Store::open(&location)).unwrap();
        let mut next = 1;
        group.bench_function(BenchmarkId::new("commit_512_new", name), |b| {
            b.iter(|| {
                let mut core = IncidentBook::new(Vec::new(), next);
                let mut out = Changes::default();
                for event in &page {
                    core.apply(event, &Rules::default(), &Facts::default(), &mut out);
                }
                next = core.next_id();
                let mut writes: Vec<Write> = out
                    .incidents
                    .into_values()
                    .map(|i| Write::NewIncident(Box::new(i)))
                    .collect();
                writes.extend(out.trust.into_values().map(Write::Trust));
                rt.block_on(store.commit(out.drafts, &writes)).unwrap();
            })
        });
    }
    group.finish();
}

/// Problems per incident page (the incident manager's page size).
const PAGE: u64 = 512;

criterion_group!(
    benches,
    publish_to_subscriber,
    store_append,
    replay,
    incident_page
);
criterion_main!(benches);
