//! What the engine does with an incident that relapsed more than `incidents.relapses_max`
//! times. Pure: told the incident's count, the rules and its playbook, it decides, so every
//! case has a unit test.
//!
//! A service that keeps falling over is the one that most needs restarting: like systemd's
//! `Restart=` and Kubernetes' CrashLoopBackOff, Grace tells people once and keeps healing,
//! each run further apart (doubling from `relapse_backoff_ms` up to `relapse_backoff_max_ms`),
//! until the heal holds or a person takes over. A playbook with `on_relapse = "people"` stops
//! instead and hands the incident over, as every relapse past the limit did before. A crash
//! loop whose restarts never hold fails its run (the `verify` after the restart fails) and
//! goes to people with that run's work order.

use crate::spec::{IncidentsSpec, OnRelapse, PlaybookSpec};

/// What to do with a relapse past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelapsePlan {
    /// Hand it to people (a work order) and run nothing.
    People,
    /// Run the playbook again after `delay_ms`; `tell` people first (once: the first relapse
    /// past the limit).
    HealAfter { delay_ms: u64, tell: bool },
}

/// The plan for an incident at its `relapses`-th relapse (past `rules.relapses_max`), healed
/// by `playbook` (none: nothing could heal it).
pub fn plan(relapses: u32, rules: &IncidentsSpec, playbook: Option<&PlaybookSpec>) -> RelapsePlan {
    match playbook.map(|p| p.on_relapse) {
        None | Some(OnRelapse::People) => RelapsePlan::People,
        Some(OnRelapse::Heal) => RelapsePlan::HealAfter {
            delay_ms: delay_ms(relapses, rules),
            tell: relapses == rules.relapses_max.saturating_add(1),
        },
    }
}

/// The backoff before the run for the `relapses`-th relapse: `relapse_backoff_ms` for the
/// first past the limit, doubling for each after it, at most `relapse_backoff_max_ms`.
pub fn delay_ms(relapses: u32, rules: &IncidentsSpec) -> u64 {
    let past = relapses.saturating_sub(rules.relapses_max.saturating_add(1));
    let factor = 1u64.checked_shl(past).unwrap_or(u64::MAX);
    rules
        .relapse_backoff_ms
        .saturating_mul(factor)
        .min(rules.relapse_backoff_max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::OnRelapse;

    fn rules() -> IncidentsSpec {
        IncidentsSpec {
            relapses_max: 3,
            relapse_backoff_ms: 1_000,
            relapse_backoff_max_ms: 300_000,
            ..IncidentsSpec::default()
        }
    }

    fn playbook(on_relapse: OnRelapse) -> PlaybookSpec {
        let mut playbook: PlaybookSpec = serde_json::from_value(serde_json::json!({
            "id": "restart_process", "on": ["process.*"], "steps": [{ "kind": "verify" }]
        }))
        .unwrap();
        playbook.on_relapse = on_relapse;
        playbook
    }

    #[test]
    fn the_first_relapse_past_the_limit_tells_people_and_heals_after_the_first_backoff() {
        let heal = playbook(OnRelapse::Heal);
        let first = plan(4, &rules(), Some(&heal));
        let delay_ms = 1_000;
        assert_eq!(
            first,
            RelapsePlan::HealAfter {
                delay_ms,
                tell: true
            }
        );
    }

    #[test]
    fn later_relapses_double_the_wait_tell_nobody_again_and_stop_at_the_cap() {
        let heal = playbook(OnRelapse::Heal);
        let delays: Vec<u64> = (5..=14).map(|n| delay_ms(n, &rules())).collect();
        let expected = [2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map(|s| s * 1_000);
        assert_eq!(delays, expected);
        let later = plan(5, &rules(), Some(&heal));
        let delay_ms = 2_000;
        assert_eq!(
            later,
            RelapsePlan::HealAfter {
                delay_ms,
                tell: false
            }
        );
        // No overflow however long it goes on.
        assert_eq!(delay_ms_at(u32::MAX), 300_000);
    }

    fn delay_ms_at(relapses: u32) -> u64 {
        delay_ms(relapses, &rules())
    }

    #[test]
    fn on_relapse_people_or_no_playbook_hands_it_over() {
        let people = playbook(OnRelapse::People);
        assert_eq!(plan(4, &rules(), Some(&people)), RelapsePlan::People);
        assert_eq!(plan(9, &rules(), Some(&people)), RelapsePlan::People);
        assert_eq!(plan(4, &rules(), None), RelapsePlan::People);
    }
}
