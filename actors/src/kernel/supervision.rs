//! How the tree is supervised: the root's children in start order, each (re)spawned through a
//! function that counts restarts and announces them, restarts spaced by an exponential,
//! capped backoff, and the monitors supervisor with one child per configured monitor.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorCell, SpawnErr};
use ractor_supervisor::{
    ChildBackoffFn, ChildSpec, DynamicSupervisor, DynamicSupervisorOptions, Restart, SpawnFn,
    Supervisor,
};

use crate::bus_actor::BusActor;
use crate::context::{Ctx, Duties};
use crate::event::EventDraft;
use crate::feed_actor::FeedActor;
use crate::incidents::IncidentsActor;
use crate::monitor_actor::{MonitorActor, MonitorArgs};
use crate::notifier_actor::NotifierActor;
use crate::pager::PagerActor;
use crate::payload::ActorRestarted;
use crate::pipelines::PipelinesActor;
use crate::playbooks::PlaybooksActor;
use crate::protocol::bus::publish;
use crate::protocol::roles;
use crate::retention_actor::RetentionActor;
use crate::spec::MonitorSpec;
use crate::store_actor::StoreActor;

/// The root supervisor's children, in the order they start: all of them, or what serves a
/// standby node (`Duties::Serve`).
pub(super) fn children(ctx: &Arc<Ctx>) -> Vec<ChildSpec> {
    let mut children = all_children(ctx);
    if ctx.duties == Duties::Serve {
        let serving = [roles::STORE, roles::BUS, roles::FEED, roles::MONITORS]
            .map(|role| ctx.scope.name(role));
        children.retain(|child| serving.contains(&child.id));
    }
    children
}

fn all_children(ctx: &Arc<Ctx>) -> Vec<ChildSpec> {
    vec![
        child(ctx, roles::STORE, "store", |ctx, name, sup| async move {
            spawn_cell(name, StoreActor, ctx, sup).await
        }),
        child(ctx, roles::BUS, "bus", |ctx, name, sup| async move {
            spawn_cell(name, BusActor, ctx, sup).await
        }),
        child(ctx, roles::FEED, "feed", |ctx, name, sup| async move {
            spawn_cell(name, FeedActor, ctx, sup).await
        }),
        child(
            ctx,
            roles::INCIDENTS,
            "incidents",
            |ctx, name, sup| async move { spawn_cell(name, IncidentsActor, ctx, sup).await },
        ),
        // Before the playbook engine: work orders it records as it starts are sent too.
        child(
            ctx,
            roles::NOTIFIER,
            "notifier",
            |ctx, name, sup| async move { spawn_cell(name, NotifierActor, ctx, sup).await },
        ),
        // After the notifier: the deliveries it commits at start are sent at once.
        child(ctx, roles::PAGER, "pager", |ctx, name, sup| async move {
            spawn_cell(name, PagerActor, ctx, sup).await
        }),
        // Before the playbook engine: a resumed run may rerun pipelines at once.
        child(
            ctx,
            roles::PIPELINES,
            "pipelines",
            |ctx, name, sup| async move { spawn_cell(name, PipelinesActor, ctx, sup).await },
        ),
        child(
            ctx,
            roles::PLAYBOOKS,
            "playbooks",
            |ctx, name, sup| async move { spawn_cell(name, PlaybooksActor, ctx, sup).await },
        ),
        child(ctx, roles::MONITORS, "supervisor", spawn_monitors),
        child(
            ctx,
            roles::RETENTION,
            "retention",
            |ctx, name, sup| async move { spawn_cell(name, RetentionActor, ctx, sup).await },
        ),
    ]
}

async fn spawn_cell<A: Actor>(
    name: String,
    actor: A,
    args: A::Arguments,
    supervisor: ActorCell,
) -> Result<ActorCell, SpawnErr> {
    let (actor, _) = Supervisor::spawn_linked(name, actor, args, supervisor).await?;
    Ok(actor.get_cell())
}

/// A permanent child whose (re)spawns are counted, and whose restarts are published.
fn child<F, Fut>(ctx: &Arc<Ctx>, role: &str, kind: &'static str, spawn: F) -> ChildSpec
where
    F: Fn(Arc<Ctx>, String, ActorCell) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ActorCell, SpawnErr>> + Send + 'static,
{
    let spawn = Arc::new(spawn);
    let role = role.to_owned();
    let spec_ctx = ctx.clone();
    ChildSpec {
        id: ctx.scope.name(&role),
        restart: Restart::Permanent,
        spawn_fn: SpawnFn::new(move |supervisor: ActorCell, name: String| {
            let ctx = spec_ctx.clone();
            let spawn = spawn.clone();
            let role = role.clone();
            async move {
                let restarts = ctx.spawns.record(&role, kind);
                let cell = spawn(ctx.clone(), name, supervisor).await?;
                if restarts > 0 {
                    let label = crate::metrics::ActorLabel {
                        kind: kind.to_owned(),
                    };
                    ctx.metrics.actor_restarts.get_or_create(&label).inc();
                    // After the spawn, so a restarted bus or store is there to carry it.
                    publish(
                        &ctx.scope,
                        EventDraft::of(&ActorRestarted {
                            actor: role.clone(),
                            kind,
                            restarts,
                        })
                        .source(role.clone()),
                    );
                }
                Ok(cell)
            }
        }),
        backoff_fn: Some(restart_backoff()),
        reset_after: Some(Duration::from_millis(RESTART_BACKOFF_MAX_MS)),
    }
}

/// The first restart of a child waits this long, each further one twice as long as the last.
/// From 250 ms, one child failing over and over restarts at most 5 times in 10 s (the default
/// `supervision`), so a lasting fault in one part (a full disk under one writer) leaves that
/// part retrying while the rest of Grace runs, instead of melting the whole tree down.
const RESTART_BACKOFF_FIRST_MS: u64 = 250;

/// The longest wait between restarts; a child quiet this long starts over at the first wait.
const RESTART_BACKOFF_MAX_MS: u64 = 30_000;

/// Exponential, capped restart delay per child (see the constants).
fn restart_backoff() -> ChildBackoffFn {
    ChildBackoffFn::new(|_child, restarts, _last_failure, _reset_after| {
        Some(Duration::from_millis(restart_delay_ms(restarts)))
    })
}

fn restart_delay_ms(restarts: usize) -> u64 {
    let doublings = restarts.saturating_sub(1).min(16) as u32;
    (RESTART_BACKOFF_FIRST_MS << doublings).min(RESTART_BACKOFF_MAX_MS)
}

/// The monitors supervisor and one child per configured monitor this node runs
/// (`Ctx::runs_here`). Called again on its restart, so a restarted supervisor comes back with
/// all its monitors.
async fn spawn_monitors(
    ctx: Arc<Ctx>,
    name: String,
    supervisor: ActorCell,
) -> Result<ActorCell, SpawnErr> {
    let period = Duration::from_millis(ctx.spec().supervision.period_ms);
    let options = DynamicSupervisorOptions {
        max_children: None,
        max_restarts: ctx.spec().supervision.max_restarts,
        max_window: period,
        reset_after: Some(period),
    };
    let (monitors, _) =
        Supervisor::spawn_linked(name, DynamicSupervisor, options, supervisor).await?;
    for spec in ctx
        .spec()
        .monitors
        .iter()
        .filter(|spec| ctx.runs_here(spec))
    {
        let child_spec = monitor_child(&ctx, spec.clone());
        DynamicSupervisor::spawn_child(monitors.clone(), child_spec)
            .await
            .map_err(SpawnErr::StartupFailed)?;
    }
    Ok(monitors.get_cell())
}

pub(super) fn monitor_child(ctx: &Arc<Ctx>, spec: MonitorSpec) -> ChildSpec {
    let role = roles::monitor(&spec.id);
    child(ctx, &role, "monitor", move |ctx, name, sup| {
        let spec = spec.clone();
        async move { spawn_cell(name, MonitorActor, MonitorArgs { ctx, spec }, sup).await }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SupervisionSpec;

    #[test]
    fn restart_delays_double_up_to_the_cap() {
        let delays: Vec<u64> = (1..=9).map(restart_delay_ms).collect();
        assert_eq!(
            delays,
            [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        );
        assert_eq!(restart_delay_ms(usize::MAX), RESTART_BACKOFF_MAX_MS);
    }

    #[test]
    fn one_child_failing_at_once_stays_within_the_default_restart_intensity() {
        // Restart n happens at the sum of the first n delays; count those in any 10 s window.
        let spec = SupervisionSpec::default();
        let mut at_ms = 0;
        let times: Vec<u64> = (1..=20)
            .map(|n| {
                at_ms += restart_delay_ms(n);
                at_ms
            })
            .collect();
        for (i, start) in times.iter().enumerate() {
            let within = times[i..]
                .iter()
                .take_while(|t| **t < start + spec.period_ms)
                .count();
            assert!(
                within <= spec.max_restarts,
                "{within} restarts within {} ms",
                spec.period_ms
            );
        }
    }
}
