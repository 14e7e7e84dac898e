//! A test's HTTP client of a running Grace: requests, their JSON, and waits on what the API
//! says.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{eventually, TestApp};

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET path`'s body when it answered 200; None when it did not, or when the connection was
    /// cut — a node that starts or stops leading ends its open connections, and a client polling
    /// across that moment asks again, as any would.
    pub async fn get_if_ok(&self, path: &str) -> Option<Value> {
        let response = self.client.get(self.url(path)).send().await.ok()?;
        if response.status() != 200 {
            return None;
        }
        response.json().await.ok()
    }

    pub async fn post(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POST with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Any request, with `Authorization: Bearer <token>` when a token is given; a body makes
    /// it JSON, and a POST without one still says it is JSON.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request = match body {
            Some(body) => request.json(body),
            None => request.header("content-type", "application/json"),
        };
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `grace token create` run in this app's directory with its config; returns the token.
    pub fn create_token(&self, name: &str, role: &str, extra: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_grace"))
            .args(["token", "create", "--config", "grace.toml", "--name", name])
            .args(["--role", role])
            .args(extra)
            .current_dir(&self.dir)
            .output()
            .expect("run grace token create");
        assert!(
            output.status.success(),
            "grace token create: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// GET that must succeed.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Incidents as the REST API lists them (newest first).
    pub async fn incidents(&self, query: &str) -> Vec<Value> {
        self.get_ok(&format!("/monitoring/incidents?{query}")).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits for the first incident matching `pred`.
    pub async fn incident_where(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(what, timeout, || async {
            self.incidents("limit=100")
                .await
                .into_iter()
                .find(|i| pred(i))
        })
        .await
    }

    /// Waits until the monitor `id` reports `state`.
    pub async fn monitor_state(&self, id: &str, state: &str, timeout: Duration) {
        eventually(&format!("monitor {id} to be {state}"), timeout, || async {
            let monitors = self.get_ok("/monitors").await;
            monitors["items"]
                .as_array()?
                .iter()
                .any(|m| m["id"] == id && m["state"] == state)
                .then_some(())
        })
        .await
    }
}

/// The `field` of every problem in a 400 body that lists several (`error.errors`).
pub fn error_fields(body: &Value) -> Vec<String> {
    body["error"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no error list in {body}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}
