//! A real PostgreSQL started from the installed server binaries in a temp dir on a free port.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use super::{free_port, is_root};

/// The directory holding `initdb` and `pg_ctl`: the newest /usr/lib/postgresql/*/bin, or PATH.
fn pg_bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    if let Some(bin) = versions.pop() {
        return bin;
    }
    let on_path = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    match on_path.as_deref().and_then(Path::parent) {
        Some(bin) => bin.to_path_buf(),
        None => panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them with \
             `apt-get install -y postgresql` (.ci/run does this on a fresh machine)."
        ),
    }
}

/// A throwaway PostgreSQL cluster owned by one test. Never the machine's own cluster.
pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
    /// PostgreSQL refuses to run as root; as root its binaries run as `postgres`.
    as_postgres: bool,
}

impl PgCluster {
    pub fn start() -> Self {
        Self::start_with("", &[])
    }

    /// A cluster serving TLS with the certificate and key (PEM) given: `ssl = on`.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Self {
        let conf = "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
        Self::start_with(conf, &[("server.crt", cert_pem), ("server.key", key_pem)])
    }

    /// A cluster with `extra_conf` appended to postgresql.conf and `files` (name, text)
    /// written into its data directory, readable only by the server.
    pub fn start_with(extra_conf: &str, files: &[(&str, &str)]) -> Self {
        let bin = pg_bin_dir();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("grace-pg-")
            .tempdir()
            .expect("temp dir");
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(
                status.success(),
                "chown to postgres failed: is there a `postgres` user? `apt-get install -y postgresql` creates it"
            );
        }
        let cluster = Self {
            port: free_port(),
            dir,
            bin,
            as_postgres,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data_dir(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nmax_connections = 20\nshared_buffers = 16MB\n",
            cluster.port,
            cluster.dir.path().display()
        );
        let conf_path = Path::new(&cluster.data_dir()).join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        existing.push_str(&conf);
        existing.push_str(extra_conf);
        std::fs::write(&conf_path, existing).expect("write postgresql.conf");
        for (name, text) in files {
            use std::os::unix::fs::PermissionsExt;
            let path = Path::new(&cluster.data_dir()).join(name);
            std::fs::write(&path, text).expect("write a data-directory file");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            if cluster.as_postgres {
                let chowned = Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&path)
                    .status();
                assert!(chowned.is_ok_and(|s| s.success()), "chown {name}");
            }
        }
        cluster.start_again();
        cluster
    }

    pub fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn log_file(&self) -> String {
        self.dir.path().join("postgres.log").display().to_string()
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The `psql` that came with the server binaries.
    pub fn psql(&self) -> String {
        self.bin.join("psql").display().to_string()
    }

    /// Runs one SQL statement over a fresh connection; panics if it fails.
    pub async fn execute(&self, sql: &str) -> Vec<tokio_postgres::SimpleQueryMessage> {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .expect("connect to the test cluster");
        tokio::spawn(connection);
        client.simple_query(sql).await.expect("query runs")
    }

    /// The argv that starts this cluster, as a playbook `command` step would run it.
    pub fn start_argv(&self) -> Vec<String> {
        let mut argv = Vec::new();
        if self.as_postgres {
            argv.extend(["runuser", "-u", "postgres", "--"].map(String::from));
        }
        argv.push(self.bin.join("pg_ctl").display().to_string());
        argv.extend(
            [
                "start",
                "-D",
                &self.data_dir(),
                "-w",
                "-l",
                &self.log_file(),
            ]
            .map(String::from),
        );
        argv
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn start_again(&self) {
        let argv = self.start_argv();
        let status = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("pg_ctl runs");
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        assert!(status.success(), "pg_ctl start failed:\n{log}");
    }

    /// A fast stop: what an outage looks like to clients.
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["stop", "-D", &self.data_dir(), "-m", "fast", "-w"],
        );
    }

    pub fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .args(["status", "-D", &self.data_dir()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// A real query over a fresh connection.
    pub async fn query_ok(&self) -> bool {
        let Ok((client, connection)) =
            tokio_postgres::connect(&self.url(), tokio_postgres::NoTls).await
        else {
            return false;
        };
        tokio::spawn(connection);
        client.simple_query("SELECT 1").await.is_ok()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self
                .command("pg_ctl")
                .args(["stop", "-D", &self.data_dir(), "-m", "immediate", "-w"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
