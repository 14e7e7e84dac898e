//! Paging people: the pure book that decides, for one incident on one route, whom to tell
//! what and when ([`decide`]), what each receiver kind is sent ([`notice`]), and the page
//! record that remembers what was told. The pager actor feeds it what it hears of incidents and
//! the clock, and commits each decision's page and deliveries in one transaction, so a crash can
//! neither lose a tell nor send one twice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{IncidentStatus, Severity};
use crate::spec::Moment;
use crate::time::{micros, micros_opt};

mod decide;
pub mod notice;

pub use decide::{decide, Decision};

/// What the book needs to know of an incident: read from the incident as its events carry it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Facts {
    pub id: u64,
    pub event_type: String,
    pub severity: Severity,
    pub source: String,
    pub title: String,
    pub status: IncidentStatus,
    #[serde(with = "micros")]
    pub detected_at: DateTime<Utc>,
    #[serde(default, with = "micros_opt")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default, with = "micros_opt")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub relapses: u32,
    #[serde(default, with = "micros_opt")]
    pub reopened_at: Option<DateTime<Utc>>,
    /// Opened in maintenance: nobody is paged for it.
    #[serde(default)]
    pub silenced: bool,
    #[serde(default)]
    pub work_order_id: Option<String>,
}

impl Facts {
    /// When the episode pages are about began: the opening, or the last reopening.
    pub fn episode_start(&self) -> DateTime<Utc> {
        match (self.relapses, self.reopened_at) {
            (0, _) | (_, None) => self.detected_at,
            (_, Some(at)) => at,
        }
    }

    /// A person acknowledged it in this episode.
    pub fn acknowledged(&self) -> bool {
        self.status == IncidentStatus::Acknowledged
            || self
                .acknowledged_at
                .is_some_and(|at| at >= self.episode_start())
    }
}

/// What one incident's page on one route has told so far; stored as a row, written with the
/// deliveries it caused.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Page {
    pub incident_id: u64,
    pub route_id: String,
    /// The incident's relapse count this page is about: a reopening starts a new episode.
    pub episode: u32,
    /// 0: nobody told yet; 1: the route's receivers; 2 and up: its levels.
    pub level: u32,
    /// The moments told in this episode.
    pub told: Vec<Moment>,
    pub reminders: u32,
    #[serde(default, with = "micros_opt")]
    #[schema(value_type = Option<String>)]
    pub first_told_at: Option<DateTime<Utc>>,
    #[serde(default, with = "micros_opt")]
    #[schema(value_type = Option<String>)]
    pub last_told_at: Option<DateTime<Utc>>,
    /// Nothing more will be told: the incident ended.
    pub done: bool,
}

impl Page {
    pub fn new(incident_id: u64, route_id: &str, episode: u32) -> Self {
        Self {
            incident_id,
            route_id: route_id.to_owned(),
            episode,
            level: 0,
            told: Vec::new(),
            reminders: 0,
            first_told_at: None,
            last_told_at: None,
            done: false,
        }
    }

    /// The row id: one page per incident and route.
    pub fn key(&self) -> String {
        page_key(self.incident_id, &self.route_id)
    }
}

pub fn page_key(incident_id: u64, route_id: &str) -> String {
    format!("{incident_id}/{route_id}")
}

/// Why people are told.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Opened,
    Escalated,
    Resolved,
    Reopened,
    /// Still neither acknowledged nor healed.
    Reminder,
    /// Nobody acknowledged: the next level is told.
    Level,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Opened => "opened",
            Reason::Escalated => "escalated",
            Reason::Resolved => "resolved",
            Reason::Reopened => "reopened",
            Reason::Reminder => "reminder",
            Reason::Level => "level",
        }
    }
}

impl From<Moment> for Reason {
    fn from(moment: Moment) -> Self {
        match moment {
            Moment::Opened => Reason::Opened,
            Moment::Escalated => Reason::Escalated,
            Moment::Resolved => Reason::Resolved,
            Moment::Reopened => Reason::Reopened,
        }
    }
}

/// One decision to tell receivers something.
#[derive(Debug, Clone, PartialEq)]
pub struct Tell {
    pub reason: Reason,
    /// The page's level after this tell.
    pub level: u32,
    pub receivers: Vec<String>,
}
