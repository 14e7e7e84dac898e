//! `[[receivers]]`: the people-facing ends that `[[routes]]` send to — a JSON webhook, Slack,
//! Microsoft Teams, Discord, email over SMTP, PagerDuty's Events API v2 and Opsgenie. Each kind
//! carries only its own keys (a sum type), and a secret (an SMTP password, a routing key, an API
//! key) is named by where it is — a file or an environment variable — never written here, so the
//! config can be shown and committed.

use serde::{Deserialize, Serialize};

use super::checks::*;
use super::*;
use crate::spec::PasswordSpec;

/// Most receivers; each route names some of them.
pub const RECEIVERS_MAX: usize = 64;
/// Most addresses one email receiver writes to.
pub const EMAIL_TO_MAX: usize = 32;

/// Where PagerDuty's Events API v2 takes events.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Opsgenie's API (the EU instance is `https://api.eu.opsgenie.com`).
pub const OPSGENIE_URL: &str = "https://api.opsgenie.com";

/// One receiver: its id, how to reach it, and how hard to try.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReceiverSpec {
    /// Unique among receivers and webhooks; routes name it, deliveries are recorded under it.
    pub id: String,
    #[serde(flatten)]
    pub kind: ReceiverKind,
    /// Each try must be answered within this time.
    #[serde(default = "defaults::webhook_timeout_ms")]
    pub timeout_ms: u64,
    /// Waits before the retries after a failed try; its length is the number of retries.
    #[serde(default = "defaults::webhook_backoff_ms")]
    pub backoff_ms: Vec<u64>,
}

/// How a receiver is reached.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiverKind {
    /// Grace's own JSON body, posted to `url`.
    Webhook { url: String },
    /// A Slack incoming webhook.
    Slack { url: String },
    /// A Microsoft Teams incoming webhook (or Workflows URL): an Adaptive Card.
    Teams { url: String },
    /// A Discord webhook; mentions are never parsed.
    Discord { url: String },
    /// Email over SMTP.
    Email(EmailSpec),
    /// PagerDuty Events API v2: triggers, acknowledges and resolves one alert per incident.
    Pagerduty {
        #[serde(default = "pagerduty_url")]
        url: String,
        /// A file whose first line is the integration's routing key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        routing_key_file: Option<String>,
        /// An environment variable of Grace's holding the routing key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        routing_key_env: Option<String>,
    },
    /// Opsgenie's Alert API: creates and closes one alert per incident (alias `grace-<id>`).
    Opsgenie {
        #[serde(default = "opsgenie_url")]
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key_file: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key_env: Option<String>,
    },
}

/// An email receiver: who, from whom, through which server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmailSpec {
    pub to: Vec<String>,
    pub from: String,
    /// `host:port` of the SMTP server (587 for STARTTLS, 465 for `tls = "implicit"`).
    pub smtp: String,
    #[serde(default)]
    pub tls: SmtpTls,
    /// A PEM file of the CA that signed the server's certificate, besides the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Logs in as this user (with the password from `password_file` / `password_env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
}

/// How an SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded by STARTTLS, which the server must offer.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only for a relay on this machine (refused with a login).
    None,
}

fn pagerduty_url() -> String {
    PAGERDUTY_URL.to_owned()
}

fn opsgenie_url() -> String {
    OPSGENIE_URL.to_owned()
}

impl ReceiverKind {
    pub fn name(&self) -> &'static str {
        match self {
            ReceiverKind::Webhook { .. } => "webhook",
            ReceiverKind::Slack { .. } => "slack",
            ReceiverKind::Teams { .. } => "teams",
            ReceiverKind::Discord { .. } => "discord",
            ReceiverKind::Email(_) => "email",
            ReceiverKind::Pagerduty { .. } => "pagerduty",
            ReceiverKind::Opsgenie { .. } => "opsgenie",
        }
    }

    /// Where its secret is, under the key names it was given.
    pub fn secret(&self) -> Option<PasswordSpec> {
        let (file, env) = match self {
            ReceiverKind::Email(email) => (&email.password_file, &email.password_env),
            ReceiverKind::Pagerduty {
                routing_key_file,
                routing_key_env,
                ..
            } => (routing_key_file, routing_key_env),
            ReceiverKind::Opsgenie {
                api_key_file,
                api_key_env,
                ..
            } => (api_key_file, api_key_env),
            _ => return None,
        };
        Some(PasswordSpec {
            password_file: file.clone(),
            password_env: env.clone(),
        })
    }

    /// The names of its secret's two keys.
    fn secret_keys(&self) -> (&'static str, &'static str) {
        match self {
            ReceiverKind::Pagerduty { .. } => ("routing_key_file", "routing_key_env"),
            ReceiverKind::Opsgenie { .. } => ("api_key_file", "api_key_env"),
            _ => ("password_file", "password_env"),
        }
    }
}

impl ReceiverSpec {
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        check_id(&mut problems, "id", &self.id);
        check_duration(&mut problems, "timeout_ms", self.timeout_ms);
        let too_many = self.backoff_ms.len() > bounds::BACKOFF_TRIES_MAX;
        if too_many
            || self
                .backoff_ms
                .iter()
                .any(|ms| *ms > bounds::DURATION_MS_MAX)
        {
            let most = format!(
                "at most {} delays of at most {} ms",
                bounds::BACKOFF_TRIES_MAX,
                bounds::DURATION_MS_MAX
            );
            problems.push(SpecProblem::new("backoff_ms", most));
        }
        self.kind_problems(&mut problems);
        problems
    }

    fn kind_problems(&self, problems: &mut Vec<SpecProblem>) {
        match &self.kind {
            ReceiverKind::Webhook { url }
            | ReceiverKind::Slack { url }
            | ReceiverKind::Teams { url }
            | ReceiverKind::Discord { url }
            | ReceiverKind::Pagerduty { url, .. }
            | ReceiverKind::Opsgenie { url, .. } => check_url(problems, "url", url),
            ReceiverKind::Email(email) => email.problems(problems),
        }
        if let Some(secret) = self.kind.secret() {
            self.secret_problems(&secret, problems);
        }
    }

    fn secret_problems(&self, secret: &PasswordSpec, problems: &mut Vec<SpecProblem>) {
        let (file_key, env_key) = self.kind.secret_keys();
        let mut found = Vec::new();
        secret.problems(false, &mut found);
        for problem in found {
            let field = match problem.field.as_str() {
                "password_file" => file_key,
                _ => env_key,
            };
            problems.push(SpecProblem::new(field, problem.message));
        }
        let needs = matches!(
            self.kind,
            ReceiverKind::Pagerduty { .. } | ReceiverKind::Opsgenie { .. }
        );
        if needs && secret.source().is_none() {
            let why = format!(
                "give {file_key} or {env_key}: the key is a secret, kept out of the config"
            );
            problems.push(SpecProblem::new(env_key, why));
        }
    }
}

impl EmailSpec {
    fn problems(&self, problems: &mut Vec<SpecProblem>) {
        if self.to.is_empty() || self.to.len() > EMAIL_TO_MAX {
            let why = format!("give between 1 and {EMAIL_TO_MAX} addresses");
            problems.push(SpecProblem::new("to", why));
        }
        for (index, address) in self.to.iter().enumerate() {
            if address.parse::<lettre_free::Address>().is_err() {
                let field = format!("to[{index}]");
                problems.push(SpecProblem::new(
                    field,
                    format!("not an email address: {address:?}"),
                ));
            }
        }
        if self.from.parse::<lettre_free::Address>().is_err() {
            let why = format!("not an email address: {:?}", self.from);
            problems.push(SpecProblem::new("from", why));
        }
        if !is_host_port(&self.smtp) {
            problems.push(SpecProblem::new(
                "smtp",
                "must be host:port, e.g. \"mail.example.com:587\"",
            ));
        }
        let password = self.password_file.is_some() || self.password_env.is_some();
        if password && self.username.is_none() {
            problems.push(SpecProblem::new(
                "username",
                "a password needs a username to log in with",
            ));
        }
        if self.tls == SmtpTls::None && self.username.is_some() {
            let why =
                "\"none\" would send the password in clear text: use \"starttls\" or \"implicit\"";
            problems.push(SpecProblem::new("tls", why));
        }
    }
}

fn is_host_port(address: &str) -> bool {
    address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
}

/// Email addresses as RFC 5321 allows them closely enough for a config check: one `@`, a
/// local part and a domain without spaces or angle brackets. (The sender checks them again.)
mod lettre_free {
    pub struct Address;

    impl std::str::FromStr for Address {
        type Err = ();

        fn from_str(s: &str) -> Result<Self, ()> {
            let (local, domain) = s.rsplit_once('@').ok_or(())?;
            let bad = |part: &str| {
                part.is_empty()
                    || part
                        .chars()
                        .any(|c| c.is_whitespace() || "<>,;\"".contains(c))
            };
            if bad(local) || bad(domain) || local.contains('@') {
                return Err(());
            }
            Ok(Address)
        }
    }
}

impl From<&WebhookSpec> for ReceiverSpec {
    /// A `[[webhooks]]` entry as a receiver: routes may name webhooks too.
    fn from(webhook: &WebhookSpec) -> Self {
        let url = webhook.url.clone();
        let kind = match webhook.format {
            WebhookFormat::Json => ReceiverKind::Webhook { url },
            WebhookFormat::Slack => ReceiverKind::Slack { url },
        };
        ReceiverSpec {
            id: webhook.id.clone(),
            kind,
            timeout_ms: webhook.timeout_ms,
            backoff_ms: webhook.backoff_ms.clone(),
        }
    }
}

/// The receiver `id` names among `receivers` and `webhooks`.
pub fn find_receiver(
    receivers: &[ReceiverSpec],
    webhooks: &[WebhookSpec],
    id: &str,
) -> Option<ReceiverSpec> {
    let receiver = receivers.iter().find(|r| r.id == id).cloned();
    receiver.or_else(|| webhooks.iter().find(|w| w.id == id).map(ReceiverSpec::from))
}
