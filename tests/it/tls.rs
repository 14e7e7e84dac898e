//! TLS both ways, against real servers with certificates the real `openssl` makes in each
//! test: `postgres` monitors honour `sslmode` against a PostgreSQL with `ssl = on`, `rediss://`
//! monitors check a real redis-server's `--tls-port`, and a certificate from the wrong CA is
//! an incident whose title says so. Grace itself serves HTTPS and WSS.

use std::time::Duration;

use crate::common::{spawn_app, PgCluster, TestApp, TestCerts};

const TIMEOUT: Duration = Duration::from_secs(30);

fn monitor(id: &str, kind: &str, url: &str, extra: &str) -> String {
    format!(
        "\n[[monitors]]\nid = \"{id}\"\nkind = \"{kind}\"\nurl = \"{url}\"\ninterval_ms = 200\n\
         timeout_ms = 2000\nfailures_before_down = 1\n{extra}"
    )
}

fn app_with(dir: &std::path::Path, monitors: &str) -> TestApp {
    spawn_app(dir, &format!("{}{monitors}", crate::common::CONFIG_HEAD))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_monitors_honour_sslmode_against_a_real_tls_server() {
    let certs = TestCerts::make();
    let pg = PgCluster::start_tls(&certs.cert_pem, &certs.key_pem);
    let ca = certs.ca_path.display();
    let other = certs.other_ca_path.display();
    let url = pg.url();
    let monitors = [
        monitor(
            "pg-verify-full",
            "postgres",
            &format!("{url}?sslmode=verify-full&sslrootcert={ca}"),
            "",
        ),
        monitor(
            "pg-require",
            "postgres",
            &format!("{url}?sslmode=require"),
            "",
        ),
        monitor(
            "pg-disable",
            "postgres",
            &format!("{url}?sslmode=disable"),
            "",
        ),
        monitor(
            "pg-wrong-ca",
            "postgres",
            &format!("{url}?sslmode=verify-full&sslrootcert={other}"),
            "",
        ),
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), &monitors);
    for id in ["pg-verify-full", "pg-require", "pg-disable"] {
        app.monitor_state(id, "up", TIMEOUT).await;
    }
    let rejected = app
        .incident_where("the wrong CA's incident", TIMEOUT, |i| {
            i["source"] == "pg-wrong-ca"
        })
        .await;
    assert_eq!(
        rejected["title"],
        "Database TLS certificate rejected: pg-wrong-ca"
    );
    assert_eq!(rejected["event_type"], "db.tls_rejected");
    let monitor = app.get_ok("/monitors/pg-wrong-ca").await;
    let error = monitor["last_error"].as_str().unwrap();
    assert!(error.contains("UnknownIssuer"), "{error}");
    // The two TLS monitors' kept connections really are encrypted.
    let rows = pg
        .execute("SELECT count(*) FROM pg_stat_ssl WHERE ssl")
        .await;
    let encrypted: i64 = match &rows[1] {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).unwrap().parse().unwrap(),
        other => panic!("unexpected reply {other:?}"),
    };
    assert!(encrypted >= 2, "{encrypted} encrypted connections");
}

/// A real redis-server serving TLS only, stopped on drop.
struct TlsRedis {
    child: std::process::Child,
    port: u16,
}

impl TlsRedis {
    fn start(certs: &TestCerts) -> Self {
        let port = crate::common::free_port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--tls-cert-file")
            .arg(&certs.cert_path)
            .arg("--tls-key-file")
            .arg(&certs.key_path)
            .arg("--tls-ca-cert-file")
            .arg(&certs.ca_path)
            .args(["--tls-auth-clients", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs: apt-get install -y redis-server (.ci/test does this)");
        Self { child, port }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_monitors_check_the_servers_certificate() {
    let certs = TestCerts::make();
    let redis = TlsRedis::start(&certs);
    let url = format!("rediss://127.0.0.1:{}", redis.port);
    let ca = format!("tls_ca_path = \"{}\"\n", certs.ca_path.display());
    let other = format!("tls_ca_path = \"{}\"\n", certs.other_ca_path.display());
    let plain = format!("redis://127.0.0.1:{}", redis.port);
    let monitors = [
        monitor("cache", "redis", &url, &ca),
        monitor("cache-wrong-ca", "redis", &url, &other),
        monitor("cache-plain", "redis", &plain, ""),
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), &monitors);
    app.monitor_state("cache", "up", TIMEOUT).await;
    let rejected = app
        .incident_where("the wrong CA's incident", TIMEOUT, |i| {
            i["source"] == "cache-wrong-ca"
        })
        .await;
    assert_eq!(
        rejected["title"],
        "Redis TLS certificate rejected: cache-wrong-ca"
    );
    // Plain text to a TLS port is a server that does not answer, not a certificate.
    let plain = app
        .incident_where("the plain-text monitor's incident", TIMEOUT, |i| {
            i["source"] == "cache-plain"
        })
        .await;
    assert_eq!(plain["event_type"], "redis.unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_serves_https_and_wss() {
    use tokio_rustls::rustls;
    let certs = TestCerts::make();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nbind = \"127.0.0.1:0\"\ntls_cert_path = \"{}\"\ntls_key_path = \"{}\"\n\
         [store]\npath = \"memory\"\n",
        certs.cert_path.display(),
        certs.key_path.display()
    );
    let app = spawn_app(dir.path(), &config);
    let ca_pem = std::fs::read(&certs.ca_path).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca_pem).unwrap()])
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{}", app.addr.port());
    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // Plain HTTP to the HTTPS port gets no HTTP answer.
    assert!(reqwest::get(app.url("/health")).await.is_err());

    // WSS: TLS with the test CA, then the WebSocket handshake over it.
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls))
        .connect(name, tcp)
        .await
        .expect("a TLS handshake with Grace");
    let url = format!("wss://127.0.0.1:{}/ws?since=0", app.addr.port());
    let (mut feed, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("the feed over WSS");
    let event = serde_json::json!({ "type": "app.failed", "source": "shop" });
    let posted = client
        .post(format!("{base}/events"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 202);
    tokio::time::timeout(TIMEOUT, async {
        use futures_util::StreamExt;
        while let Some(Ok(message)) = feed.next().await {
            if message.to_text().unwrap_or("").contains("app.failed") {
                return;
            }
        }
        panic!("the feed closed before the event came");
    })
    .await
    .expect("the pushed event on the WSS feed");
}
