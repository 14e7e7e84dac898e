//! Everything else worth watching here: Redis servers, other services listening on TCP, and
//! systemd units that failed recently.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Command;

use super::procs::Proc;

/// Most TCP services written into a config: the rest are counted in a comment.
pub const LISTENERS_MAX: usize = 16;
/// Most failed units listed.
const FAILED_UNITS_MAX: usize = 16;

/// A running `redis-server`.
#[derive(Debug, Clone)]
pub struct Redis {
    pub port: u16,
    pub unit: Option<String>,
    pub pid: u32,
}

/// A running redis-server sets its title to `redis-server 127.0.0.1:6379` (or `*:6379`);
/// until it has, its `--port` argument says.
pub fn redis(procs: &[Proc]) -> Vec<Redis> {
    let mut found: Vec<Redis> = procs
        .iter()
        .filter(|p| p.comm == "redis-server")
        .filter_map(|p| {
            let titled = p.argv.first()?.rsplit(':').next()?.trim().parse().ok();
            let argued = || {
                let at = p.argv.iter().position(|arg| arg == "--port")?;
                p.argv.get(at + 1)?.parse().ok()
            };
            let port = titled.or_else(argued)?;
            let unit = p.unit.clone().filter(|unit| unit.starts_with("redis"));
            Some(Redis {
                port,
                unit,
                pid: p.pid,
            })
        })
        .collect();
    found.sort_by_key(|redis| redis.port);
    found.dedup_by_key(|redis| redis.port);
    found
}

/// A service listening on TCP on a loopback or any address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub port: u16,
    /// The program listening, when it could be told (`nginx`).
    pub program: Option<String>,
}

/// What listens on TCP here, outside the ephemeral range (where test servers and clients'
/// own ports live) and outside `skip`; and how many were left out for that range.
pub fn listeners(procs: &[Proc], skip: &HashSet<u16>) -> (Vec<Listener>, usize) {
    let sockets = listening_sockets();
    let (low, _) = ephemeral_range();
    let owners = socket_owners(procs);
    let mut ephemeral = 0;
    let mut found = Vec::new();
    for (port, inode) in sockets {
        if skip.contains(&port) {
            continue;
        }
        if port >= low {
            ephemeral += 1;
            continue;
        }
        found.push(Listener {
            port,
            program: owners.get(&inode).cloned(),
        });
    }
    (found, ephemeral)
}

/// Listening sockets by port (the first inode seen), from `/proc/net/tcp` and `tcp6`.
fn listening_sockets() -> BTreeMap<u16, u64> {
    let mut found = BTreeMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let (address, port) = local.split_once(':').unwrap_or_default();
            let reachable = is_loopback_or_any(address);
            if *state == "0A" && reachable {
                if let (Ok(port), Ok(inode)) = (u16::from_str_radix(port, 16), inode.parse()) {
                    found.entry(port).or_insert(inode);
                }
            }
        }
    }
    found
}

/// `0100007F` (127.0.0.1), `00000000` (any), and their IPv6 forms, as `/proc/net` writes them.
fn is_loopback_or_any(hex: &str) -> bool {
    matches!(
        hex,
        "0100007F"
            | "00000000"
            | "00000000000000000000000000000000"
            | "00000000000000000000000001000000"
    )
}

/// `/proc/sys/net/ipv4/ip_local_port_range`; Linux's default when unreadable.
fn ephemeral_range() -> (u16, u16) {
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut ports = text.split_whitespace().filter_map(|p| p.parse().ok());
    (
        ports.next().unwrap_or(32_768),
        ports.next().unwrap_or(60_999),
    )
}

/// Which program holds each socket inode (only the processes whose `fd` can be read).
fn socket_owners(procs: &[Proc]) -> HashMap<u64, String> {
    let mut owners = HashMap::new();
    for p in procs {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", p.pid)) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
            {
                if let Ok(inode) = inode.parse() {
                    owners.entry(inode).or_insert_with(|| p.comm.clone());
                }
            }
        }
    }
    owners
}

/// What systemd says about failed units: their names, or why it could not be asked.
pub fn failed_units() -> Result<Vec<String>, String> {
    let output = Command::new("systemctl")
        .args(["--failed", "--no-legend", "--plain", "--no-pager"])
        .output()
        .map_err(|error| format!("systemctl cannot run here ({error})"))?;
    if !output.status.success() || !output.stderr.is_empty() && output.stdout.is_empty() {
        let why = String::from_utf8_lossy(&output.stderr);
        let first = why.lines().next().unwrap_or("no answer").to_owned();
        return Err(format!("systemd cannot be asked here: {first}"));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .take(FAILED_UNITS_MAX)
        .collect())
}
