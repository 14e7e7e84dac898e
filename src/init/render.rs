//! The config `grace init` writes: TOML, every entry with a comment saying what was found and
//! why it is watched or started the way it is.

use std::fmt::Write as _;

use super::look::{self, Looked};
use super::postgres::{Cluster, StartHow};
use super::services::{Listener, Redis, LISTENERS_MAX};
use super::{Found, InitOptions};

/// Where a PostgreSQL monitor's password goes, for a comment above one that cannot log in.
const PG_LOGIN_FIX: &str = "Grace reads it where libpq does: put it in ~/.pgpass of the user \
     Grace runs as (a line 127.0.0.1:PORT:*:postgres:PASSWORD, chmod 600), or set `passfile`, \
     `password_file` or `password_env` on the monitor.";
const REDIS_LOGIN_FIX: &str = "Put the password in a file named by `password_file` (or in the \
     url: redis://:PASSWORD@host:port).";

/// The whole file; `looked` is what each monitor answered when `grace init` probed it (empty
/// before the first look).
pub fn config(found: &Found, options: &InitOptions, looked: &Looked) -> String {
    let mut out = String::new();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let _ = writeln!(
        out,
        "# Written by `grace init` on {} for {}, from what runs there now.\n\
         # Check it with `grace check-config FILE`; run it with `grace serve --config FILE`.\n\
         # Every key is documented in README.md (\"Configuration\").\n",
        actors::time::now().format("%Y-%m-%d"),
        host.trim()
    );
    let _ = writeln!(
        out,
        "[server]\nbind = \"{}\"\n\n[store]\npath = \"{}\"\n",
        options.bind, options.store
    );
    for cluster in &found.postgres {
        postgres(&mut out, cluster, looked);
    }
    for redis in &found.redis {
        redis_entry(&mut out, redis, looked);
    }
    listeners(
        &mut out,
        &found.listeners,
        found.ephemeral_listeners,
        looked,
    );
    failed_units(&mut out, &found.failed_units);
    out
}

/// `postgres-5433`, `pg15-main`: a monitor id for the cluster.
pub fn cluster_id(cluster: &Cluster) -> String {
    match &cluster.start {
        StartHow::PgCtlCluster { version, name } => id(&format!("pg{version}-{name}")),
        _ => format!("postgres-{}", cluster.port),
    }
}

/// The URL a cluster's monitor uses over TCP as the `postgres` role.
pub fn tcp_url(cluster: &Cluster) -> String {
    format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port)
}

fn postgres(out: &mut String, cluster: &Cluster, looked: &Looked) {
    let id = cluster_id(cluster);
    let url = looked
        .socket_urls
        .get(&id)
        .cloned()
        .unwrap_or_else(|| tcp_url(cluster));
    let login_fix = PG_LOGIN_FIX.replace("PORT", &cluster.port.to_string());
    let answer = look::comment(looked.answers.get(&id), &login_fix);
    let socket = match looked.socket_urls.contains_key(&id) {
        true => "# Over TCP it asked for a password; through its Unix socket (peer login as its owner) it answers.\n",
        false => "",
    };
    let owner = cluster.owner.as_deref().unwrap_or("its owner");
    let how = match &cluster.start {
        StartHow::PgCtlCluster { .. } => "with pg_ctlcluster, as Debian's tools do",
        StartHow::Systemd { .. } => "with systemctl: systemd runs it",
        StartHow::PgCtl { owner: Some(_), .. } => {
            "with its own pg_ctl, as its owner (runuser: Grace must run as root for that)"
        }
        StartHow::PgCtl { owner: None, .. } => "with its own pg_ctl, as you, its owner",
    };
    let argv: Vec<String> = cluster
        .start_argv()
        .iter()
        .map(|a| format!("{a:?}"))
        .collect();
    let mut block = String::new();
    let _ = writeln!(
        block,
        "# PostgreSQL: {} — port {}, data in {}, owned by {owner}.\n\
         # Started again {how}.\n{answer}{socket}\
         [[monitors]]\nid = \"{id}\"\nkind = \"postgres\"\nurl = \"{url}\"\ninterval_ms = 2000\n\
         failures_before_down = 2\n",
        cluster.found_by,
        cluster.port,
        cluster.data_dir.display()
    );
    let _ = writeln!(
        block,
        "[[playbooks]]\nid = \"reconnect_{}\"\nname = \"Reconnect {id}\"\n\
         on = [\"db.connection_lost\"]\nmonitors = [\"{id}\"]\nsteps = [\n  \
         {{ kind = \"check\" }},\n  \
         {{ kind = \"command\", argv = [{}], timeout_ms = 60000 }},\n  \
         {{ kind = \"reconnect\", backoff_ms = [2000, 4000, 8000] }},\n  \
         {{ kind = \"verify\" }},\n  {{ kind = \"restore_trust\" }},\n]\n",
        id.replace('-', "_"),
        argv.join(", ")
    );
    if cluster.online {
        out.push_str(&block);
    } else {
        let _ = writeln!(
            out,
            "# Not running now, so left off: remove the leading \"# \" to watch it."
        );
        for line in block.lines() {
            match line.starts_with('#') {
                true => {
                    let _ = writeln!(out, "{line}");
                }
                false => {
                    let _ = writeln!(out, "# {line}");
                }
            }
        }
        out.push('\n');
    }
}

fn redis_entry(out: &mut String, redis: &Redis, looked: &Looked) {
    let id = format!("redis-{}", redis.port);
    let answer = look::comment(looked.answers.get(&id), REDIS_LOGIN_FIX);
    let _ = writeln!(
        out,
        "# Redis: a running redis-server (pid {}) on port {}.\n{answer}\
         [[monitors]]\nid = \"{id}\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\n\
         interval_ms = 2000\nfailures_before_down = 2\n",
        redis.pid, redis.port, redis.port
    );
    if let Some(unit) = &redis.unit {
        let _ = writeln!(
            out,
            "# systemd runs it ({unit}): restarted with systemctl.\n\
             [[playbooks]]\nid = \"restart_{}\"\nname = \"Restart {id}\"\n\
             on = [\"redis.unavailable\"]\nmonitors = [\"{id}\"]\nsteps = [\n  \
             {{ kind = \"check\" }},\n  \
             {{ kind = \"command\", argv = [\"systemctl\", \"restart\", \"{unit}\"], timeout_ms = 30000 }},\n  \
             {{ kind = \"verify\" }},\n]\n",
            id.replace('-', "_")
        );
    }
}

fn listeners(out: &mut String, found: &[Listener], ephemeral: usize, looked: &Looked) {
    if !found.is_empty() {
        let _ = writeln!(
            out,
            "# Other services listening on TCP here: each is watched for answering at all. Remove\n\
             # what you do not care about; a monitor of a kind made for it (http, postgres,\n\
             # redis) says more."
        );
    }
    for listener in found.iter().take(LISTENERS_MAX) {
        let name = listener.program.as_deref().map_or("tcp".to_owned(), id);
        let monitor = format!("{name}-{}", listener.port);
        let answer = look::comment(looked.answers.get(&monitor), "");
        let _ = writeln!(
            out,
            "{answer}[[monitors]]\nid = \"{monitor}\"\nkind = \"tcp\"\naddress = \"127.0.0.1:{port}\"\n\
             interval_ms = 5000\nfailures_before_down = 2\n",
            port = listener.port
        );
    }
    if found.len() > LISTENERS_MAX {
        let _ = writeln!(
            out,
            "# {} more TCP services left out.\n",
            found.len() - LISTENERS_MAX
        );
    }
    if ephemeral > 0 {
        let _ = writeln!(
            out,
            "# {ephemeral} listening port(s) in the ephemeral range left out: they are usually\n\
             # short-lived (tests, clients).\n"
        );
    }
}

fn failed_units(out: &mut String, units: &Result<Vec<String>, String>) {
    match units {
        Err(why) => {
            let _ = writeln!(
                out,
                "# Failed systemd units: not checked, {}.",
                why.trim_end_matches('.')
            );
        }
        Ok(units) if units.is_empty() => {
            let _ = writeln!(out, "# Failed systemd units: none.");
        }
        Ok(units) => {
            let _ = writeln!(
                out,
                "# systemd units that failed recently: {}.\n\
                 # To watch one, a process monitor with its pidfile, or a check plugin, e.g.\n\
                 # [[monitors]]\n# id = \"unit-name\"\n# kind = \"command\"\n\
                 # argv = [\"/usr/lib/nagios/plugins/check_procs\", \"-C\", \"name\", \"-c\", \"1:\"]",
                units.join(", ")
            );
        }
    }
}

/// `name` as a monitor id: lowercase letters, digits and dashes.
fn id(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches('-');
    if trimmed.is_empty() {
        "service".to_owned()
    } else {
        trimmed.to_owned()
    }
}
