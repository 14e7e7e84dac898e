//! Crash points for the crash tests: `FAILPOINTS="playbooks.finish.after_commit=return"` in
//! the environment makes Grace kill itself with SIGKILL when it reaches that point, exactly
//! as a `kill -9` there would. Built on the `fail` crate; compiled to nothing unless the
//! `failpoints` feature is on (`.ci/test` turns it on; release builds leave it off).
//!
//! Each point sits between a transition's commit and what follows it, or just before the
//! commit, so a test can show that a restart from either side ends in the state no crash
//! would have left. A hold point (`hold_ms`) slows a part down instead, so a test can show its
//! bound (or make an ask time out while its commit is still to come); a refusal point
//! (`refused`) fails a commit as a store refusing writes would.

/// Milliseconds to hold up at the point `name` when it is configured `return(<ms>)`, so a test
/// can make a part slow (the feed hub, for its bound; the incident manager on a hand-over);
/// none otherwise.
#[cfg_attr(not(feature = "failpoints"), allow(unused_variables))]
pub fn hold_ms(name: &str) -> Option<u64> {
    fail::fail_point!(name, |ms: Option<String>| ms.and_then(|ms| ms.parse().ok()));
    None
}

/// Whether the point `name` is configured to refuse (`return`), so a test can make a commit
/// fail as a store refusing writes would, without filling a disk.
#[cfg_attr(not(feature = "failpoints"), allow(unused_variables))]
pub fn refused(name: &str) -> bool {
    fail::fail_point!(name, |_| true);
    false
}

/// Reads `FAILPOINTS` once, at start.
pub fn setup() {
    #[cfg(feature = "failpoints")]
    std::mem::forget(fail::FailScenario::setup());
}

/// Dies by SIGKILL here when the point `name` is configured.
#[cfg_attr(not(feature = "failpoints"), allow(unused_variables))]
pub fn crash_point(name: &str) {
    fail::fail_point!(name, |_| {
        // SAFETY: kill(2) on our own pid; no memory is touched.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    });
}
