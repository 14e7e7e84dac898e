//! Pipelines: jobs Grace runs on a schedule or by hand and records; and the healing playbook's
//! `rerun_pipelines` step, which reruns exactly the runs that failed while their database was
//! down — against a real PostgreSQL outage and a real `psql` job.

use std::time::Duration;

use crate::common::{eventually, spawn_app, PgCluster, TestApp, CONFIG_HEAD};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(30);
const HEAL_TIMEOUT: Duration = Duration::from_secs(60);

async fn runs(app: &TestApp, pipeline: &str) -> Vec<Value> {
    app.get_ok(&format!("/pipelines/{pipeline}/runs?limit=100"))
        .await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits for run `run_id` of `pipeline` to end; returns it.
async fn ended(app: &TestApp, pipeline: &str, run_id: &str) -> Value {
    eventually(&format!("run {run_id} to end"), TIMEOUT, || async {
        runs(app, pipeline)
            .await
            .into_iter()
            .find(|run| run["run_id"] == run_id && run["finished_at"].is_string())
    })
    .await
}

async fn exported_rows(pg: &PgCluster) -> u64 {
    let rows = pg.execute("SELECT count(*) FROM exports").await;
    rows.iter()
        .find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0)?.parse().ok(),
            _ => None,
        })
        .expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_reruns_the_pipeline_run_that_failed_meanwhile() {
    let pg = PgCluster::start();
    pg.execute("CREATE TABLE exports (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{CONFIG_HEAD}
[[monitors]]
id = "orders-db"
kind = "postgres"
url = "{url}"
interval_ms = 200
timeout_ms = 1000
failures_before_down = 2

[[pipelines]]
id = "orders-export"
name = "Orders export"
argv = ["{psql}", "{url}", "-v", "ON_ERROR_STOP=1", "-c", "INSERT INTO exports DEFAULT VALUES"]
depends_on = ["orders-db"]
timeout_ms = 20000

[[playbooks]]
id = "db_reconnect"
name = "Reconnect DB"
on = ["db.connection_lost"]
steps = [
  {{ kind = "wait", until = "healthy", timeout_ms = 60000 }},
  {{ kind = "verify" }},
  {{ kind = "rerun_pipelines", timeout_ms = 30000 }},
  {{ kind = "restore_trust" }},
]
"#,
        url = pg.url(),
        psql = pg.psql(),
    );
    let app = spawn_app(dir.path(), &config);
    app.monitor_state("orders-db", "up", TIMEOUT).await;

    // A run while the database is up succeeds and does its work.
    let (status, started) = app.post("/pipelines/orders-export/run").await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["trigger"], "manual");
    let good = ended(&app, "orders-export", started["run_id"].as_str().unwrap()).await;
    assert_eq!(good["status"], "succeeded", "{good}");
    assert_eq!(good["exit_code"], 0);
    assert_eq!(exported_rows(&pg).await, 1);

    // The database goes down; the playbook waits for it. A run meanwhile fails.
    pg.stop();
    let incident = app
        .incident_where("the outage's incident", TIMEOUT, |i| {
            i["source"] == "orders-db" && i["status"] == "mitigating"
        })
        .await;
    let (status, started) = app.post("/pipelines/orders-export/run").await;
    assert_eq!(status, 202, "{started}");
    let failed_id = started["run_id"].as_str().unwrap().to_owned();
    let failed = ended(&app, "orders-export", &failed_id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(
        failed["exit_code"], 2,
        "psql exits 2 when it cannot connect"
    );
    let output = failed["output"].as_str().unwrap();
    assert!(output.contains("connection"), "{output}");

    // It comes back: the playbook verifies it, then reruns exactly the failed run.
    pg.start_again();
    let resolved = app
        .incident_where("the incident to be healed", HEAL_TIMEOUT, |i| {
            i["id"] == incident["id"] && i["status"] == "resolved"
        })
        .await;
    assert_eq!(resolved["resolved_by"], "playbook");
    assert_eq!(
        exported_rows(&pg).await,
        2,
        "the failed export was done again"
    );

    let all = runs(&app, "orders-export").await;
    assert_eq!(all.len(), 3, "{all:#?}");
    let failed = all
        .iter()
        .find(|r| r["run_id"] == failed_id.as_str())
        .unwrap();
    let rerun_id = failed["rerun_by"]
        .as_str()
        .expect("the failed run was rerun");
    let rerun = all.iter().find(|r| r["run_id"] == rerun_id).unwrap();
    assert_eq!(rerun["trigger"], "rerun");
    assert_eq!(rerun["rerun_of"], failed_id.as_str());
    assert_eq!(rerun["status"], "succeeded", "{rerun}");
    let good = all.iter().find(|r| r["run_id"] == good["run_id"]).unwrap();
    assert!(
        good["rerun_by"].is_null(),
        "a run that succeeded is not rerun"
    );

    let executions = app.get_ok("/monitoring/executions").await["items"].clone();
    let execution = executions
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["incident_id"] == incident["id"])
        .unwrap_or_else(|| panic!("no run for the incident: {executions}"))
        .clone();
    let step = execution["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "rerun_pipelines")
        .unwrap()
        .clone();
    assert_eq!(step["status"], "succeeded", "{step}");
    let note = step["output"].as_str().unwrap();
    assert!(
        note.contains(&failed_id) && note.contains(rerun_id) && note.contains("succeeded"),
        "{note}"
    );

    // The failure shows on the incident's timeline, the rerun on the feed's record.
    let detail = app
        .get_ok(&format!("/monitoring/incidents/{}", incident["id"]))
        .await;
    let on_timeline = detail["timeline"].as_array().unwrap().iter().any(|e| {
        e["type"] == "pipeline.finished" && e["data"]["run"]["run_id"] == failed_id.as_str()
    });
    assert!(on_timeline, "{detail:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_run_on_a_schedule_and_by_hand_and_record_every_run() {
    let (addr, seen) = crate::common::receiver(1).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{CONFIG_HEAD}
[[pipelines]]
id = "tick"
argv = ["sh", "-c", "echo tick; exit 0"]
every_ms = 1000

[[pipelines]]
id = "publish"
name = "Publish report"
url = "http://{addr}/publish"

[[pipelines]]
id = "slow"
argv = ["sleep", "30"]
timeout_ms = 60000
"#
    );
    let app = spawn_app(dir.path(), &config);

    // The schedule: two runs, each recorded with its exit code, output and duration.
    let scheduled = eventually("two scheduled runs", TIMEOUT, || async {
        let done: Vec<Value> = runs(&app, "tick")
            .await
            .into_iter()
            .filter(|r| r["status"] == "succeeded")
            .collect();
        (done.len() >= 2).then_some(done)
    })
    .await;
    for run in &scheduled {
        assert_eq!(run["trigger"], "schedule");
        assert_eq!(run["exit_code"], 0);
        assert!(run["output"].as_str().unwrap().contains("tick"), "{run}");
        assert!(run["duration_ms"].is_u64(), "{run}");
    }

    // An HTTP job: the receiver fails the first call (500) and takes the second.
    let (status, first) = app.post("/pipelines/publish/run").await;
    assert_eq!(status, 202, "{first}");
    let first = ended(&app, "publish", first["run_id"].as_str().unwrap()).await;
    assert_eq!(first["status"], "failed");
    assert_eq!(first["http_status"], 500);
    let (_, second) = app.post("/pipelines/publish/run").await;
    let second = ended(&app, "publish", second["run_id"].as_str().unwrap()).await;
    assert_eq!(second["status"], "succeeded", "{second}");
    assert_eq!(second["http_status"], 200);
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1].1["pipeline"], "publish");

    // One run of a pipeline at a time.
    let (status, _) = app.post("/pipelines/slow/run").await;
    assert_eq!(status, 202);
    let (status, busy) = app.post("/pipelines/slow/run").await;
    assert_eq!(status, 409, "{busy}");
    assert!(
        busy["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already running"),
        "{busy}"
    );

    // The list shows each pipeline with its latest run.
    let list = app.get_ok("/pipelines").await["items"].clone();
    let by = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(by("tick")["every_ms"], 1000);
    assert_eq!(by("tick")["job"], "command");
    assert_eq!(by("publish")["job"], "http");
    assert_eq!(by("publish")["name"], "Publish report");
    assert_eq!(by("publish")["last_run"]["status"], "succeeded");
    assert_eq!(by("slow")["last_run"]["status"], "running");

    // Bad requests say what is wrong.
    let (status, body) = app.post("/pipelines/nope/run").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app.get("/pipelines/nope/runs").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app.get("/pipelines/tick/runs?limit=0").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], json!("limit"), "{body}");
}
