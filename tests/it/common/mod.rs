//! Test harness, a file per concept: the real `grace` binary started on port 0 (`app.rs`) and
//! spoken to over HTTP (`http.rs`) and its feed (`feed.rs`); real servers a test owns — a
//! PostgreSQL cluster (`postgres.rs`), a SurrealDB server (`surreal.rs`), a webhook receiver (`receiver.rs`), certificates
//! (`certs.rs`), Chromium (`browser.rs`); polling with a deadline (`polling.rs`) and the
//! machine (`machine.rs`).
//!
//! Nothing here sleeps to synchronise: waits poll a condition until a deadline and fail with
//! what they were waiting for.

mod app;
pub mod browser;
mod certs;
mod feed;
mod http;
mod machine;
mod polling;
mod postgres;
mod receiver;
mod relay;
mod surreal;

pub use app::*;
pub use certs::TestCerts;
pub use feed::Feed;
pub use http::error_fields;
pub use machine::{free_port, is_root};
pub use polling::{eventually, holds_for};
pub use postgres::PgCluster;
pub use receiver::{receiver, receiver_on};
pub use relay::Relay;
pub use surreal::{healed_from, SurrealServer, SurrealStorage, PLAYBOOK, SURREAL_PASS_ENV};

/// The `[server]` and `[store]` head every test config starts with: port 0, store in memory.
pub const CONFIG_HEAD: &str = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n";
/// [`CONFIG_HEAD`] for a Grace that requires tokens, kept in `tokens.json` in its directory.
pub const TOKENS_HEAD: &str = "[server]\nbind = \"127.0.0.1:0\"\n[store]\npath = \"memory\"\n\
     [auth]\nmode = \"required\"\ntokens_path = \"tokens.json\"\n";

/// A playbook for pushed `payment.*` problems whose one step fails: each such incident is
/// escalated with a work order, for tests of what people do next.
pub const FAILING_PLAYBOOK: &str = "
[[playbooks]]
id = \"switch_gateway\"
on = [\"payment.*\"]
sources = [\"pushed\"]
steps = [{ kind = \"command\", argv = [\"false\"] }]
";
