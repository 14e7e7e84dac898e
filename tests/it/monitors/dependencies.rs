//! Dependencies between monitors: a dependent's failure is a symptom of its parent's incident,
//! and a chain failing from the bottom up ends as one incident and stops the dependent's run.

use super::{app_with, pong_server, tcp_monitor, TIMEOUT};
use crate::common::browser::Browser;
use crate::common::eventually;
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependents_failure_is_a_symptom_of_its_parents_incident() {
    let db_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let db_address = db_listener.local_addr().unwrap().to_string();
    let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_address = api_listener.local_addr().unwrap().to_string();
    let db = pong_server(db_listener).await;
    let api = pong_server(api_listener).await;
    let monitors = [
        tcp_monitor("db", &db_address, ""),
        tcp_monitor("api", &api_address, "depends_on = [\"db\"]"),
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), &monitors);
    app.monitor_state("api", "up", TIMEOUT).await;

    // The database goes first, then the API that needs it.
    db.abort();
    let _ = db.await;
    let parent = app
        .incident_where("the db incident", TIMEOUT, |i| i["source"] == "db")
        .await;
    api.abort();
    let _ = api.await;
    let parent = app
        .incident_where("the api failure attached as a symptom", TIMEOUT, |i| {
            i["id"] == parent["id"] && i["symptoms"].as_array().is_some_and(|s| !s.is_empty())
        })
        .await;
    assert_eq!(parent["symptoms"][0]["source"], "api");
    assert_eq!(parent["symptoms"][0]["event_type"], "tcp.unreachable");
    app.monitor_state("api", "down", TIMEOUT).await;
    assert_eq!(app.incidents("").await.len(), 1, "no incident of its own");

    // The database comes back, the API does not: the API's failure is no longer hidden.
    let db = pong_server(TcpListener::bind(&db_address).await.unwrap()).await;
    let child = app
        .incident_where("the api incident after the db recovered", TIMEOUT, |i| {
            i["source"] == "api"
        })
        .await;
    assert_eq!(child["status"], "open");
    let resolved = app
        .get_ok(&format!("/monitoring/incidents/{}", parent["id"]))
        .await;
    assert_eq!(resolved["status"], "resolved");

    let api = pong_server(TcpListener::bind(&api_address).await.unwrap()).await;
    app.incident_where("the api recovery", TIMEOUT, |i| {
        i["source"] == "api" && i["status"] == "resolved"
    })
    .await;
    db.abort();
    api.abort();
}

/// A playbook for the api only, whose one step runs until killed and leaves its pid behind.
fn long_api_playbook(pidfile: &std::path::Path) -> String {
    format!(
        r#"
[[playbooks]]
id = "restart_api"
on = ["tcp.unreachable"]
monitors = ["api"]
steps = [{{ kind = "command", argv = ["sh", "-c", "echo $$ > {}; exec sleep 120"], timeout_ms = 300000 }}]
"#,
        pidfile.display()
    )
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
fn is_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_failing_from_the_bottom_up_ends_as_one_incident_and_stops_the_dependents_run() {
    let mut addresses = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..3 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addresses.push(listener.local_addr().unwrap().to_string());
        servers.push(pong_server(listener).await);
    }
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("restart_api.pid");
    let config = [
        tcp_monitor("db", &addresses[0], ""),
        tcp_monitor("api", &addresses[1], "depends_on = [\"db\"]"),
        tcp_monitor("web", &addresses[2], "depends_on = [\"api\"]"),
        long_api_playbook(&pidfile),
    ]
    .concat();
    let app = app_with(dir.path(), &config);
    app.monitor_state("web", "up", TIMEOUT).await;
    let mut servers = servers.into_iter();
    let (db, api, web) = (
        servers.next().unwrap(),
        servers.next().unwrap(),
        servers.next().unwrap(),
    );

    // The web notices first, then the API (whose playbook starts), then the database.
    web.abort();
    let web_incident = app
        .incident_where("web's incident", TIMEOUT, |i| i["source"] == "web")
        .await;
    api.abort();
    let api_incident = app
        .incident_where("api's incident, holding web's failure", TIMEOUT, |i| {
            i["source"] == "api"
                && i["symptoms"][0]["source"] == "web"
                && !i["active_run_id"].is_null()
        })
        .await;
    let folded = app
        .get_ok(&format!("/monitoring/incidents/{}", web_incident["id"]))
        .await;
    assert_eq!(folded["resolved_by"], "superseded", "{folded}");
    assert_eq!(folded["superseded_by"], api_incident["id"]);
    let pid = eventually("the api playbook's program", TIMEOUT, || async {
        std::fs::read_to_string(&pidfile)
            .ok()
            .map(|pid| pid.trim().to_owned())
            .filter(|p| !p.is_empty())
    })
    .await;

    db.abort();
    let root = app
        .incident_where("one incident on db holding both", TIMEOUT, |i| {
            i["source"] == "db" && i["symptoms"].as_array().is_some_and(|s| s.len() == 2)
        })
        .await;
    let symptoms: Vec<&str> = root["symptoms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["source"].as_str())
        .collect();
    assert_eq!(symptoms, ["api", "web"]);
    let active = app.incidents("status=active").await;
    assert_eq!(active.len(), 1, "one outage, one incident: {active:?}");
    let api_after = app
        .get_ok(&format!("/monitoring/incidents/{}", api_incident["id"]))
        .await;
    assert_eq!(api_after["resolved_by"], "superseded");
    assert_eq!(api_after["superseded_by"], root["id"]);

    // The API's run is stopped as superseded, its program killed.
    let runs = app
        .get_ok(&format!(
            "/monitoring/executions?incident_id={}",
            api_incident["id"]
        ))
        .await;
    assert_eq!(runs["items"][0]["status"], "superseded", "{runs}");
    eventually(
        "the superseded run's program to be killed",
        TIMEOUT,
        || async { is_gone(&pid).then_some(()) },
    )
    .await;

    // The dashboard says why the API and the web are failing.
    let browser = Browser::start("dependencies").await;
    browser.goto(&app.url("/")).await;
    let cause = browser
        .wait_for(
            "the tile saying why",
            "[...document.querySelectorAll('.tile .cause')].map((p) => p.innerText).find((t) => t.includes('because')) || ''",
        )
        .await;
    assert_eq!(cause, "🔗 api, web failing because db is down");
}
