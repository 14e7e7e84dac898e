//! `surreal`: SurrealDB's own server, built from its crate, for Grace's cluster tests — started
//! as `surreal start --bind 127.0.0.1:PORT --user root --pass root memory` (or a
//! `surrealkv://` path) by the test harness.

// As SurrealDB's own `surreal` binary: a release build computes the layout of its deepest
// async functions past the default limit.
#![recursion_limit = "256"]

fn main() -> std::process::ExitCode {
    surrealdb_server::init(surrealdb_server::core::CommunityComposer())
}
