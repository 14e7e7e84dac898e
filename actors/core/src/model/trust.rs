//! Trust scores of components and playbooks, and how a run or an incident moves them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::time::micros;

/// A trust score in [0, 1] of a component (`component:<id>`) or a playbook (`playbook:<id>`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TrustScore {
    pub subject: String,
    pub score: f64,
    /// Runs that ended on components Grace watches (playbooks only): the history trust is
    /// computed from.
    pub runs: u64,
    pub successes: u64,
    /// Runs that ended on components only pushed events name: counted, never scored, so
    /// whoever can reach the port cannot talk a playbook's trust down (or up).
    #[serde(default)]
    #[schema(required = true)]
    pub unscored_runs: u64,
    #[serde(default)]
    #[schema(required = true)]
    pub unscored_successes: u64,
    #[serde(with = "micros")]
    pub updated_at: DateTime<Utc>,
}

impl TrustScore {
    /// A component nobody has seen fail is fully trusted.
    pub fn component(component: &str) -> Self {
        Self::new(component_subject(component), 1.0)
    }

    /// A playbook with no history sits at the prior of its success rate, 0.5.
    pub fn playbook(playbook_id: &str) -> Self {
        Self::new(playbook_subject(playbook_id), 0.5)
    }

    fn new(subject: String, score: f64) -> Self {
        Self {
            subject,
            score,
            runs: 0,
            successes: 0,
            unscored_runs: 0,
            unscored_successes: 0,
            updated_at: crate::time::now(),
        }
    }

    /// Playbook trust is the Laplace-smoothed success rate: (successes + 1) / (runs + 2), so one
    /// early failure does not condemn a playbook and a long record weighs more than a short one.
    pub fn record_run(&mut self, succeeded: bool) {
        self.runs += 1;
        if succeeded {
            self.successes += 1;
        }
        self.score = (self.successes as f64 + 1.0) / (self.runs as f64 + 2.0);
        self.updated_at = crate::time::now();
    }

    /// A run on a component no monitor watches: counted, the score unchanged.
    pub fn record_unscored_run(&mut self, succeeded: bool) {
        self.unscored_runs += 1;
        if succeeded {
            self.unscored_successes += 1;
        }
        self.updated_at = crate::time::now();
    }

    pub fn adjust(&mut self, delta: f64) {
        self.score = (self.score + delta).clamp(0.0, 1.0);
        self.updated_at = crate::time::now();
    }
}

/// The subject key of a component's trust.
pub fn component_subject(component: &str) -> String {
    format!("component:{component}")
}

/// The subject key of a playbook's trust.
pub fn playbook_subject(playbook_id: &str) -> String {
    format!("playbook:{playbook_id}")
}
