//! What `/proc` says about the processes running here: name, argv, program, owner and the
//! systemd unit they run under. Processes of other users may be half hidden (no `exe`) when
//! `grace init` is not root; what cannot be read is left out, never guessed.

use std::path::{Path, PathBuf};

/// Most processes looked at: a bound on a machine running very many.
const PROCS_MAX: usize = 65_536;

/// One running process.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    /// `comm`: the program's name as the kernel keeps it (15 bytes at most).
    pub comm: String,
    /// Its arguments; a program that rewrites its title shows the title as `argv[0]`.
    pub argv: Vec<String>,
    /// The program file, when readable.
    pub exe: Option<PathBuf>,
    /// Its real user id.
    pub uid: Option<u32>,
    /// The systemd service it runs under (`postgresql@16-main.service`), if any.
    pub unit: Option<String>,
}

/// Every process whose details could be read.
pub fn all() -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .take(PROCS_MAX)
        .filter_map(read)
        .collect()
}

fn read(pid: u32) -> Option<Proc> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let comm = std::fs::read_to_string(dir.join("comm"))
        .ok()?
        .trim()
        .to_owned();
    let argv = std::fs::read(dir.join("cmdline"))
        .ok()?
        .split(|b| *b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    Some(Proc {
        pid,
        comm,
        argv,
        exe: std::fs::read_link(dir.join("exe")).ok(),
        uid: uid_of(&dir),
        unit: unit_of(&dir),
    })
}

/// The real uid on the `Uid:` line of `status`.
fn uid_of(dir: &Path) -> Option<u32> {
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The `.service` in the process's cgroup path, if it runs under systemd.
fn unit_of(dir: &Path) -> Option<String> {
    let cgroup = std::fs::read_to_string(dir.join("cgroup")).ok()?;
    cgroup
        .lines()
        .flat_map(|line| line.rsplit('/'))
        .find(|part| part.ends_with(".service"))
        .map(str::to_owned)
}

/// The name of user `uid` in `/etc/passwd`.
pub fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_owned())
    })
}

/// The uid `grace init` runs as (the owner of its own `/proc` entry).
pub fn my_uid() -> Option<u32> {
    owner_of(Path::new("/proc/self"))
}

/// The owner's uid of `path`.
pub fn owner_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|meta| meta.uid())
}
