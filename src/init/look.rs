//! `grace init` proves what it writes: each monitor it found is probed once, with the same
//! probe `grace serve` would use, before the config is written. One that answers is written
//! as it is; one that does not is written with a comment saying what it answered and how to
//! fix it — above all a login the server refuses, which no restart heals.

use std::collections::BTreeMap;
use std::time::Duration;

use actors::probe::Probes;
use actors::spec::MonitorSpec;

/// How long one look at a monitor may take.
const LOOK_TIMEOUT: Duration = Duration::from_secs(3);

/// What one monitor answered when `grace init` looked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Answered(String),
    /// It did not answer: what went wrong, and whether the server refused the login.
    Failed {
        error: String,
        login: bool,
    },
}

/// The answers, by monitor id.
pub type Answers = BTreeMap<String, Answer>;

/// What `grace init` learned by looking: each monitor's answer, and the Unix-socket URLs of
/// clusters that refused the login over TCP but let their owner in through the socket.
#[derive(Debug, Default)]
pub struct Looked {
    pub answers: Answers,
    pub socket_urls: BTreeMap<String, String>,
}

/// Probes every monitor once, all at the same time.
pub async fn monitors(monitors: &[MonitorSpec]) -> Answers {
    let probes = Probes::default();
    let looks = monitors.iter().map(|spec| {
        let mut probe = probes.build(spec);
        async move {
            let answer = match probe.probe(LOOK_TIMEOUT).await {
                Ok(note) => Answer::Answered(note),
                Err(failure) => Answer::Failed {
                    error: failure.error,
                    login: failure.event_type.ends_with(".auth_failed"),
                },
            };
            (spec.id.clone(), answer)
        }
    });
    futures_util::future::join_all(looks)
        .await
        .into_iter()
        .collect()
}

/// One PostgreSQL monitor at `url`, as the config reader makes it.
fn postgres_spec(id: &str, url: &str) -> Option<MonitorSpec> {
    let text = format!("[[monitors]]\nid = \"{id}\"\nkind = \"postgres\"\nurl = \"{url}\"\n");
    let config = crate::config::parse("socket look", &text).ok()?;
    config.tree.monitors.into_iter().next()
}

/// Whether the PostgreSQL monitor `id` answers at `url`.
pub async fn answers_at(id: &str, url: &str) -> bool {
    let Some(spec) = postgres_spec(id, url) else {
        return false;
    };
    let mut probe = Probes::default().build(&spec);
    probe.probe(LOOK_TIMEOUT).await.is_ok()
}

/// How many answered, of how many looked at.
pub fn answered(answers: &Answers) -> (usize, usize) {
    let ok = answers
        .values()
        .filter(|answer| matches!(answer, Answer::Answered(_)))
        .count();
    (ok, answers.len())
}

/// The comment written above a monitor: what it answered, and how to fix one that did not.
/// `login_fix` says where a password goes for this kind of monitor.
pub fn comment(answer: Option<&Answer>, login_fix: &str) -> String {
    match answer {
        None => String::new(),
        Some(Answer::Answered(note)) => format!("# Answered when grace init looked: {note}.\n"),
        Some(Answer::Failed { error, login: true }) => format!(
            "# Grace cannot log in here: {}.\n# {login_fix}\n",
            one_line(error)
        ),
        Some(Answer::Failed { error, .. }) => format!(
            "# Did NOT answer when grace init looked: {}.\n\
             # It is written anyway; fix the address or the service before relying on it.\n",
            one_line(error)
        ),
    }
}

/// `text` on one line, at most 200 characters: it goes in a TOML comment.
fn one_line(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    line.trim_end_matches('.').to_owned()
}
