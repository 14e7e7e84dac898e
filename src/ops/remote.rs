//! Where the Grace to talk to is, and with which token: `--url` / `--token`, else `GRACE_URL`
//! / `GRACE_TOKEN`, else `~/.config/grace/cli.toml` (`url = …`, `token = …`), else
//! `http://127.0.0.1:7878` without a token. A call that fails says what to do about it.

use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::Args;
use serde_json::Value;

/// Where no flag, variable or file says otherwise: `grace serve`'s default address.
const URL_DEFAULT: &str = "http://127.0.0.1:7878";
/// Each call must be answered within this.
const CALL_TIMEOUT_MS: u64 = 15_000;

/// The server and token flags every operator command takes.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// Grace's address (default: GRACE_URL, the CLI config, then http://127.0.0.1:7878).
    #[arg(long)]
    pub url: Option<String>,
    /// An API token (default: GRACE_TOKEN, then the CLI config). Prefer the variable: a flag
    /// shows in `ps` and in shell history.
    #[arg(long)]
    pub token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A Grace to call.
pub struct Remote {
    url: String,
    token: Option<String>,
    http: reqwest::Client,
    pub json: bool,
}

/// `~/.config/grace/cli.toml` (or under `XDG_CONFIG_HOME`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CliConfig {
    url: Option<String>,
    token: Option<String>,
}

fn cli_config() -> anyhow::Result<CliConfig> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| home.map(|h| h.join(".config")));
    let Some(path) = base.map(|b| b.join("grace").join("cli.toml")) else {
        return Ok(CliConfig::default());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| anyhow!("{}: {}", path.display(), e.message()))
        }
        Err(_) => Ok(CliConfig::default()),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl RemoteArgs {
    pub fn connect(&self) -> anyhow::Result<Remote> {
        let file = cli_config()?;
        let url = self.url.clone().or_else(|| env("GRACE_URL")).or(file.url);
        let url = url.unwrap_or_else(|| URL_DEFAULT.to_owned());
        let url = match url.contains("://") {
            true => url,
            false => format!("http://{url}"),
        };
        Ok(Remote {
            url: url.trim_end_matches('/').to_owned(),
            token: self
                .token
                .clone()
                .or_else(|| env("GRACE_TOKEN"))
                .or(file.token),
            http: reqwest::Client::new(),
            json: self.json,
        })
    }
}

impl Remote {
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.url);
        let mut request = self
            .http
            .request(method, &url)
            .timeout(Duration::from_millis(CALL_TIMEOUT_MS));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|error| {
            anyhow!(
                "cannot reach Grace at {}: {error}.\nIs `grace serve` running there? Point at it with --url or GRACE_URL.",
                self.url
            )
        })?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status < 400 {
            return Ok(body);
        }
        bail!("{}", self.explain(status, &body))
    }

    /// What a refusal means, and what to do.
    fn explain(&self, status: u16, body: &Value) -> String {
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no reason given");
        match status {
            401 if self.token.is_none() => format!(
                "Grace at {} needs a token: set GRACE_TOKEN (or pass --token). An admin makes one \
                 with `grace token create --name you --role operate`.",
                self.url
            ),
            401 => format!("Grace refused the token ({message}): it may be revoked or expired; ask for a new one."),
            403 => format!("Your token may not do this: {message}."),
            400 => match body["error"]["field"].as_str() {
                Some(field) => format!("Bad input in {field}: {message}"),
                None => format!("Bad input: {message}"),
            },
            _ => format!("{message} (HTTP {status})"),
        }
    }
}
