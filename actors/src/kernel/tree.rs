//! The live actor tree, as `GET /actors` shows it: every actor's role, kind, state and
//! restarts, read from ractor's cells and the kernel's spawn counts.

use ractor::{ActorCell, ActorStatus};
use serde::Serialize;

use super::Kernel;

/// One node of the live actor tree.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorNode {
    /// ractor's id for this incarnation; a restarted actor gets a new one.
    pub id: String,
    /// The actor's role (`kernel`, `monitors`, `monitor:orders-db`, `agent:agent-…`).
    pub name: String,
    /// `supervisor`, `store`, `bus`, `feed`, `incidents`, `playbooks`, `monitor` or `agent`.
    pub kind: &'static str,
    pub status: ActorState,
    /// Times its supervisor restarted it.
    pub restarts: u32,
    pub children: Vec<ActorNode>,
}

impl ActorNode {
    /// Depth-first search by role.
    pub fn find(&self, name: &str) -> Option<&ActorNode> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|child| child.find(name))
    }
}

/// Where an actor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorState {
    Starting,
    Running,
    Stopping,
    Stopped,
}

impl ActorState {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorState::Starting => "starting",
            ActorState::Running => "running",
            ActorState::Stopping => "stopping",
            ActorState::Stopped => "stopped",
        }
    }
}

impl From<ActorStatus> for ActorState {
    fn from(status: ActorStatus) -> Self {
        match status {
            ActorStatus::Unstarted | ActorStatus::Starting => ActorState::Starting,
            ActorStatus::Running | ActorStatus::Upgrading | ActorStatus::Draining => {
                ActorState::Running
            }
            ActorStatus::Stopping => ActorState::Stopping,
            ActorStatus::Stopped => ActorState::Stopped,
        }
    }
}

impl Kernel {
    /// The live supervision tree.
    pub fn tree(&self) -> ActorNode {
        self.node(&self.root.get_cell())
    }

    fn node(&self, cell: &ActorCell) -> ActorNode {
        let name = cell.get_name().unwrap_or_default();
        let role = self.ctx.scope.role(&name).to_owned();
        let entry = self.ctx.spawns.get(&role);
        let mut children: Vec<ActorNode> = cell
            .get_children()
            .iter()
            .map(|child| self.node(child))
            .collect();
        children.sort_by(|a, b| a.name.cmp(&b.name));
        ActorNode {
            id: cell.get_id().to_string(),
            kind: entry.map_or("actor", |e| e.kind),
            restarts: entry.map_or(0, |e| e.spawns.saturating_sub(1)),
            status: cell.get_status().into(),
            name: role,
            children,
        }
    }
}
