//! The value of every setting a config leaves out.

pub fn http_method() -> String {
    "GET".to_owned()
}
pub fn interval_ms() -> u64 {
    5_000
}
pub fn timeout_ms() -> u64 {
    2_000
}
pub fn failures_before_down() -> u32 {
    2
}
pub fn successes_before_up() -> u32 {
    1
}
/// Flapping on by default: 8 swings within 20 probes is a component going up and down at
/// least 4 times; one blip is 2 swings, a short outage too.
pub fn flap_window() -> u32 {
    20
}
pub fn flap_threshold() -> u32 {
    8
}
pub fn step_timeout_ms() -> u64 {
    5_000
}
pub fn command_timeout_ms() -> u64 {
    30_000
}
pub fn backoff_ms() -> Vec<u64> {
    vec![2_000, 4_000, 8_000]
}
pub fn trust_drop() -> f64 {
    0.3
}
pub fn trust_restore() -> f64 {
    0.25
}
pub fn max_restarts() -> usize {
    5
}
pub fn period_ms() -> u64 {
    10_000
}
pub fn ws_buffer_max() -> usize {
    1_024
}
pub fn feed_lag_max() -> usize {
    4_096
}
pub fn agents_max() -> usize {
    16
}
pub fn agents_queue_max() -> usize {
    1_024
}
pub fn output_tail_bytes() -> usize {
    4_096
}
pub fn incident_events_max() -> usize {
    200
}
pub fn incidents_lag_max() -> usize {
    4_096
}
pub fn ws_clients_max() -> usize {
    1_024
}
pub fn actor_requests_max() -> usize {
    256
}
pub fn log_severity() -> crate::model::Severity {
    crate::model::Severity::Medium
}
pub fn log_rate_limit_ms() -> u64 {
    60_000
}
pub fn wait_timeout_ms() -> u64 {
    300_000
}
pub fn webhook_timeout_ms() -> u64 {
    5_000
}
pub fn webhook_backoff_ms() -> Vec<u64> {
    vec![1_000, 5_000, 30_000]
}
pub fn http_step_method() -> String {
    "POST".to_owned()
}
pub fn breaker_runs_max() -> u32 {
    5
}
pub fn breaker_window_ms() -> u64 {
    600_000
}
pub fn resolve_on_success() -> bool {
    true
}
pub fn sources() -> Vec<super::TriggerSource> {
    vec![super::TriggerSource::Monitors]
}
pub fn retry_backoff_ms() -> Vec<u64> {
    vec![1_000]
}
pub fn rerun_timeout_ms() -> u64 {
    300_000
}
pub fn rerun_runs_max() -> usize {
    20
}
pub fn pipeline_timeout_ms() -> u64 {
    600_000
}
pub fn component_labels() -> Vec<String> {
    ["service", "job", "instance"].map(String::from).to_vec()
}
pub fn reopen_window_ms() -> u64 {
    600_000
}
pub fn relapses_max() -> u32 {
    3
}
pub fn relapse_backoff_ms() -> u64 {
    1_000
}
pub fn relapse_backoff_max_ms() -> u64 {
    300_000
}
