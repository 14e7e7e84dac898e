//! PostgreSQL clusters on this machine, and the right way to start each: Debian's
//! `pg_ctlcluster` for a cluster `pg_lsclusters` knows, `systemctl start` for one a systemd
//! unit runs, else `pg_ctl` from the cluster's own binaries, as the cluster's owner. Starting a
//! cluster any other way fails (the wrong binaries, the wrong user), and a first outage would
//! end as "handed to people".

use std::path::{Path, PathBuf};
use std::process::Command;

use super::procs::{self, Proc};

/// How a cluster is started again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartHow {
    /// `pg_ctlcluster <version> <name> start`.
    PgCtlCluster { version: String, name: String },
    /// `systemctl start <unit>`.
    Systemd { unit: String },
    /// `<bin>/pg_ctl start -D <data dir> -w`, as `owner` (`runuser`) when that is not the
    /// user Grace is set up by.
    PgCtl {
        pg_ctl: PathBuf,
        owner: Option<String>,
    },
}

/// One cluster found.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub port: u16,
    pub data_dir: PathBuf,
    pub owner: Option<String>,
    /// Whether it is running now.
    pub online: bool,
    pub start: StartHow,
    /// How it was found, for the comment.
    pub found_by: String,
}

impl Cluster {
    /// The directory of its Unix socket while it runs (`postmaster.pid`'s fifth line).
    pub fn socket_dir(&self) -> Option<String> {
        let pid_file = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        let dir = pid_file.lines().nth(4)?.trim();
        dir.starts_with('/').then(|| dir.to_owned())
    }

    /// The argv that starts it, as a playbook `command` step runs it.
    pub fn start_argv(&self) -> Vec<String> {
        let data_dir = self.data_dir.display().to_string();
        match &self.start {
            StartHow::PgCtlCluster { version, name } => {
                vec![
                    "pg_ctlcluster".into(),
                    version.clone(),
                    name.clone(),
                    "start".into(),
                ]
            }
            StartHow::Systemd { unit } => vec!["systemctl".into(), "start".into(), unit.clone()],
            StartHow::PgCtl { pg_ctl, owner } => {
                let mut argv: Vec<String> = match owner {
                    Some(owner) => ["runuser", "-u", owner, "--"].map(String::from).to_vec(),
                    None => Vec::new(),
                };
                let log = self.data_dir.join("grace-start.log").display().to_string();
                argv.push(pg_ctl.display().to_string());
                argv.extend(["start", "-D", &data_dir, "-w", "-l", &log].map(String::from));
                argv
            }
        }
    }
}

/// Every cluster `pg_lsclusters` lists and every running postmaster, each once (by data dir).
pub fn clusters(procs: &[Proc]) -> Vec<Cluster> {
    let mut found = listed();
    for cluster in running(procs) {
        match found
            .iter_mut()
            .find(|known| same_dir(&known.data_dir, &cluster.data_dir))
        {
            Some(known) => known.online = true,
            None => found.push(cluster),
        }
    }
    found.sort_by_key(|cluster| cluster.port);
    found
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canonical(a) == canonical(b)
}

/// Debian's clusters: `pg_lsclusters --no-header` (version, name, port, status, owner, data
/// directory, log file).
fn listed() -> Vec<Cluster> {
    let Ok(output) = Command::new("pg_lsclusters").arg("--no-header").output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [version, name, port, status, owner, data_dir, ..] = fields[..] else {
                return None;
            };
            Some(Cluster {
                port: port.parse().ok()?,
                data_dir: PathBuf::from(data_dir),
                owner: Some(owner.to_owned()),
                online: status.starts_with("online"),
                start: StartHow::PgCtlCluster {
                    version: version.to_owned(),
                    name: name.to_owned(),
                },
                found_by: format!("pg_lsclusters: PostgreSQL {version} cluster \"{name}\""),
            })
        })
        .collect()
}

/// Running postmasters: a `postgres` process started with `-D <data dir>` (its workers
/// rewrite their titles and have no `-D`).
fn running(procs: &[Proc]) -> Vec<Cluster> {
    let mut found: Vec<Cluster> = procs
        .iter()
        .filter(|p| p.comm == "postgres" || p.comm == "postmaster")
        .filter_map(|p| {
            let at = p.argv.iter().position(|arg| arg == "-D")?;
            let data_dir = PathBuf::from(p.argv.get(at + 1)?);
            Some(postmaster(p, data_dir))
        })
        .collect();
    // Two clusters cannot listen on one port: a second one there is one whose port could not
    // be read (and was taken as 5432).
    found.sort_by_key(|cluster| cluster.port);
    found.dedup_by_key(|cluster| cluster.port);
    found
}

fn postmaster(p: &Proc, data_dir: PathBuf) -> Cluster {
    let owner_uid = procs::owner_of(&data_dir).or(p.uid);
    let owner = owner_uid.and_then(procs::user_name);
    let port = port_of(p, &data_dir).unwrap_or(5432);
    // Only a unit that is PostgreSQL's own: a postmaster started by hand from inside some
    // other service shares that service's cgroup.
    let unit = p.unit.as_ref().filter(|unit| unit.starts_with("postgres"));
    let start = match (unit, &p.exe) {
        (Some(unit), _) => StartHow::Systemd { unit: unit.clone() },
        (None, exe) => {
            let bin = exe
                .as_ref()
                .and_then(|exe| exe.parent().map(Path::to_path_buf));
            let pg_ctl = bin.map_or_else(|| PathBuf::from("pg_ctl"), |bin| bin.join("pg_ctl"));
            let not_me = owner_uid.is_some() && owner_uid != procs::my_uid();
            StartHow::PgCtl {
                pg_ctl,
                owner: owner.clone().filter(|_| not_me),
            }
        }
    };
    Cluster {
        port,
        data_dir,
        owner,
        online: true,
        start,
        found_by: format!("a running postmaster (pid {})", p.pid),
    }
}

/// The port in `postmaster.pid` (its fourth line), or `-p` on the command line.
fn port_of(p: &Proc, data_dir: &Path) -> Option<u16> {
    let from_pid_file = std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()
        .and_then(|text| text.lines().nth(3)?.trim().parse().ok());
    from_pid_file.or_else(|| {
        let at = p.argv.iter().position(|arg| arg == "-p")?;
        p.argv.get(at + 1)?.parse().ok()
    })
}
