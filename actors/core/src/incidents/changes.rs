//! What the incident book is told (the config's [`Rules`], the [`Facts`] of the moment) and what
//! it answers: the [`Changes`] one page of events or one command made, committed by the actor in
//! one transaction with the events announcing them, and the [`Effect`]s to run once durable.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::event::EventDraft;
use crate::model::{Incident, IncidentView, ResolvedBy, TrustScore, Who, WorkOrderId};
use crate::payload::{IncidentChanged, IncidentRepeated, RepeatDelta};
use crate::spec::TreeSpec;

pub use crate::model::RunOutcome;

/// Why the book refused a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("incident {0} does not exist")]
    NotFound(u64),
    #[error("incident {id} is {status}; it cannot be {action}")]
    Conflict {
        id: u64,
        status: &'static str,
        action: &'static str,
    },
    #[error("incident {incident_id} has no suggestion {suggestion_id:?}")]
    NoSuchSuggestion {
        incident_id: u64,
        suggestion_id: String,
    },
}

/// Suggestions one incident may carry: each is a decision waiting for a person.
pub const SUGGESTIONS_MAX: usize = 16;

/// The config's rules for incidents, taken once per page or command.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub drop_on_incident: f64,
    pub restore_on_recovery: f64,
    /// Event seqs and symptoms one incident remembers.
    pub events_max: usize,
    /// Each monitor's `depends_on`, by monitor id.
    pub depends_on: HashMap<String, Vec<String>>,
    /// The ids of the configured monitors: a parent that is none of them is a component only
    /// alerts speak of.
    pub monitors: HashSet<String>,
    /// `[incidents]`: how soon after a heal a failure reopens its incident (0: never), and
    /// how many relapses are healed before people get it.
    pub reopen_window_ms: u64,
    pub relapses_max: u32,
}

impl Rules {
    pub fn from_spec(spec: &TreeSpec) -> Self {
        Self {
            drop_on_incident: spec.trust.drop_on_incident,
            restore_on_recovery: spec.trust.restore_on_recovery,
            events_max: spec.limits.incident_events_max,
            depends_on: spec
                .monitors
                .iter()
                .filter(|m| !m.depends_on.is_empty())
                .map(|m| (m.id.clone(), m.depends_on.clone()))
                .collect(),
            monitors: spec.monitors.iter().map(|m| m.id.clone()).collect(),
            reopen_window_ms: spec.incidents.reopen_window_ms,
            relapses_max: spec.incidents.relapses_max,
        }
    }
}

/// What the monitors and controls say right now.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Monitors whose own probes call them down.
    pub down: HashSet<String>,
    /// Sources whose monitor is silenced: their incidents are recorded, nothing is run.
    pub silenced: HashSet<String>,
    /// Maintenance windows and silences in force: what they cover opens *in maintenance*.
    pub quiets: Vec<crate::silence::Quiet>,
}

impl Facts {
    /// The maintenance an incident of `event_type` on `source` (with `labels`) opens in.
    pub fn quiet_for(
        &self,
        source: &str,
        event_type: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Option<&str> {
        self.quiets
            .iter()
            .find(|q| q.matchers.matches(source, event_type, labels))
            .map(|q| q.name.as_str())
    }
}

/// What to do once the changes are durable.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Offer a new incident to the playbook engine.
    Trigger(Box<Incident>),
    /// Have a monitor look again (its incident of `family` was closed without it seeing a
    /// recovery).
    Recheck { source: String, family: String },
    /// Incident `incident_id` was superseded by incident `by`: stop its playbook, waiting or
    /// running.
    Supersede { incident_id: u64, by: u64 },
    /// An incident relapsed more than `relapses_max` times: tell people, and heal it again
    /// with backoff or leave it to them, as its playbook says.
    Relapsing(Box<Incident>),
}

/// Everything one page of events or one command changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// The latest state of every incident changed, resolved ones included.
    pub incidents: BTreeMap<u64, Incident>,
    /// The latest score of every component whose trust moved, by subject.
    pub trust: BTreeMap<String, TrustScore>,
    /// Incidents opened here and trust subjects scored for the first time: not in the store
    /// yet, so they can be inserted rather than upserted.
    pub opened: BTreeSet<u64>,
    pub new_trust: BTreeSet<String>,
    /// The events announcing the changes, in order.
    pub drafts: Vec<EventDraft>,
    pub effects: Vec<Effect>,
    /// Repeats not yet announced, by incident: occurrences added. A page announces each
    /// incident's repeats once, as a small delta, not once per event with the whole incident.
    repeats: BTreeMap<u64, u64>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.incidents.is_empty()
            && self.trust.is_empty()
            && self.drafts.is_empty()
            && self.repeats.is_empty()
    }

    /// Records a repeat of `incident` (its new state), announced later by `finish` — or
    /// before anything else is announced about it, so announcements stay in order.
    pub fn repeated(&mut self, incident: &Incident, added: u64) {
        *self.repeats.entry(incident.id).or_default() += added;
        self.incidents.insert(incident.id, incident.clone());
    }

    /// Announces every repeat still pending; call once the page is applied.
    pub fn finish(&mut self) {
        let pending: Vec<u64> = self.repeats.keys().copied().collect();
        for id in pending {
            self.announce_repeats(id);
        }
    }

    /// `incident.updated` with `reason: repeat`: only what repeats change.
    pub fn announce_repeats(&mut self, id: u64) {
        let (Some(added), Some(incident)) = (self.repeats.remove(&id), self.incidents.get(&id))
        else {
            return;
        };
        let delta = RepeatDelta {
            id: incident.id,
            source: incident.source.clone(),
            event_type: incident.event_type.clone(),
            status: incident.status,
            occurrences: incident.occurrences,
        };
        let repeated = IncidentRepeated {
            incident: delta,
            reason: "repeat",
            repeats: added,
        };
        let draft = EventDraft::of(&repeated)
            .source(incident.source.clone())
            .incident(id);
        self.drafts.push(draft);
    }

    /// Announces `incident` as it is now with `event_type`, saying `why`; after its pending
    /// repeats, so announcements stay in order.
    pub fn announce(&mut self, incident: &Incident, event_type: &str, why: Why) {
        self.announce_repeats(incident.id);
        let changed = IncidentChanged {
            incident: IncidentView::from(incident),
            reason: why.reason,
            by: why.by,
            work_order_id: why.work_order_id,
            resolved_by: why.resolved_by,
        };
        let data = serde_json::to_value(&changed).expect("an incident serialises to JSON");
        self.drafts.push(
            EventDraft::new(event_type, data)
                .source(incident.source.clone())
                .incident(incident.id),
        );
        self.incidents.insert(incident.id, incident.clone());
    }
}

/// What an incident's announcement says besides the incident (see [`IncidentChanged`]).
#[derive(Debug, Default)]
pub struct Why {
    pub reason: Option<String>,
    pub by: Option<Who>,
    pub work_order_id: Option<WorkOrderId>,
    pub resolved_by: Option<ResolvedBy>,
}

impl Why {
    pub fn reason(reason: &str) -> Self {
        Why {
            reason: Some(reason.to_owned()),
            ..Why::default()
        }
    }

    pub fn by(reason: &str, by: &Who) -> Self {
        Why {
            by: Some(by.clone()),
            ..Why::reason(reason)
        }
    }
}
