//! The route table: every route Grace serves, one line each, naming the operation and the
//! handler that serves it.
//!
//! A route's method, path and role are written once, in its handler's `#[utoipa::path]`
//! (`security(("bearerAuth" = [Role::Operate]))`: the role it needs; `[]`: any valid token;
//! `security(())`: none). Everything else is read from there: the warp filter that matches the
//! route and checks its caller ([`Route`]), the OpenAPI document (`openapi.rs` walks this
//! table), and the security test (which reads the document). A line says only what the handler
//! is handed: its path parameters, the caller, the body, the query.
//!
//! The table is read once, at start: a path, method or role it cannot read stops the server
//! there, not at a request.

use std::sync::LazyLock;

use utoipa::OpenApi;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

use super::filters::Filters;
use super::pipelines;
use super::route::Route;
use super::{cluster, dashboard, events, healing, history, incidents, intake, monitors, openapi};
use super::{people, playbooks, silences, status_page, system, work_orders, ws};

/// Every route, in the order they are tried: the intake routes first, because they are the
/// hot path (apps and Alertmanager push there); the others are disjoint, so their order
/// changes nothing but how soon each is found.
pub(super) fn table() -> Vec<Line> {
    let groups = [
        intake, system, incidents, healing, monitors, playbooks, pages,
    ];
    groups.into_iter().flat_map(|group| group()).collect()
}

/// The hot path.
fn intake() -> Vec<Line> {
    vec![
        Line::everywhere::<intake::__path_post_events>(|r, f| {
            let route = r.by(f).and(f.json_post()).and(f.app()).and(f.body());
            route.and_then(intake::post_events).boxed()
        }),
        Line::everywhere::<intake::__path_post_alertmanager>(|r, f| {
            let route = r.by(f).and(f.json_post()).and(f.app()).and(f.body());
            route.and_then(intake::post_alertmanager).boxed()
        }),
        Line::everywhere::<events::__path_list_events>(|r, f| {
            let route = r.at(f).and(f.app()).and(f.query());
            route.and_then(events::list_events).boxed()
        }),
        Line::of::<monitors::__path_heartbeat>(|r, f| {
            let route = r.with(f).and(f.json_post()).and(f.app());
            route.and_then(monitors::heartbeat).boxed()
        }),
    ]
}

/// Grace itself.
fn system() -> Vec<Line> {
    vec![
        Line::everywhere::<system::__path_health>(|r, f| {
            r.at(f).and(f.app()).and_then(system::health).boxed()
        }),
        Line::everywhere::<system::__path_whoami>(|r, f| {
            r.by(f).and(f.app()).and_then(system::whoami).boxed()
        }),
        Line::everywhere::<system::__path_metrics>(|r, f| {
            r.at(f).and(f.app()).and_then(system::metrics).boxed()
        }),
        Line::everywhere::<system::__path_actor_tree>(|r, f| {
            r.at(f).and(f.app()).and_then(system::actor_tree).boxed()
        }),
        Line::everywhere::<cluster::__path_cluster>(|r, f| {
            r.at(f).and(f.app()).and_then(cluster::cluster).boxed()
        }),
        Line::of::<system::__path_reload_config>(|r, f| {
            let route = r.by(f).and(f.json_post()).and(f.app());
            route.and_then(system::reload_config).boxed()
        }),
        Line::everywhere::<openapi::__path_document>(|r, f| {
            r.at(f).map(json).and_then(openapi::document).boxed()
        }),
    ]
}

fn incidents() -> Vec<Line> {
    vec![
        Line::of::<incidents::__path_list_incidents>(|r, f| {
            let route = r.at(f).and(f.app()).and(f.query());
            route.and_then(incidents::list_incidents).boxed()
        }),
        Line::everywhere::<incidents::__path_get_incident>(|r, f| {
            r.with(f)
                .and(f.app())
                .and_then(incidents::get_incident)
                .boxed()
        }),
        Line::of::<incidents::__path_acknowledge>(|r, f| {
            let route = r.with_by(f).and(f.json_post()).and(f.app());
            route.and_then(incidents::acknowledge).boxed()
        }),
        Line::of::<incidents::__path_resolve>(|r, f| {
            let route = r.with_by(f).and(f.json_post()).and(f.app());
            route.and_then(incidents::resolve).boxed()
        }),
        Line::of::<work_orders::__path_note_incident>(|r, f| {
            let route = r.with_by(f).and(f.json_post()).and(f.app()).and(f.body());
            route.and_then(work_orders::note_incident).boxed()
        }),
        Line::of::<playbooks::__path_decide>(|r, f| {
            let route = r.with_by(f).and(f.json_post()).and(f.app());
            route.and_then(playbooks::decide).boxed()
        }),
    ]
}

/// What healing did.
fn healing() -> Vec<Line> {
    vec![
        Line::everywhere::<healing::__path_list_executions>(|r, f| {
            let route = r.at(f).and(f.app()).and(f.query());
            route.and_then(healing::list_executions).boxed()
        }),
        Line::everywhere::<healing::__path_get_execution>(|r, f| {
            r.with(f)
                .and(f.app())
                .and_then(healing::get_execution)
                .boxed()
        }),
        Line::everywhere::<healing::__path_list_agents>(|r, f| {
            let route = r.at(f).and(f.app()).and(f.query());
            route.and_then(healing::list_agents).boxed()
        }),
        Line::everywhere::<healing::__path_get_agent>(|r, f| {
            r.with(f).and(f.app()).and_then(healing::get_agent).boxed()
        }),
        Line::everywhere::<healing::__path_list_work_orders>(|r, f| {
            let route = r.at(f).and(f.app()).and(f.query());
            route.and_then(healing::list_work_orders).boxed()
        }),
        Line::everywhere::<healing::__path_get_work_order>(|r, f| {
            let route = r.with(f).and(f.app());
            route.and_then(healing::get_work_order).boxed()
        }),
        Line::of::<work_orders::__path_change_work_order>(|r, f| {
            let route = r.with_by(f).and(f.json_post()).and(f.app()).and(f.body());
            route.and_then(work_orders::change_work_order).boxed()
        }),
        Line::everywhere::<healing::__path_list_deliveries>(|r, f| {
            let route = r.at(f).and(f.app()).and(f.query());
            route.and_then(healing::list_deliveries).boxed()
        }),
    ]
}

/// Monitors and silences.
fn monitors() -> Vec<Line> {
    vec![
        Line::of::<monitors::__path_list_monitors>(|r, f| {
            r.at(f)
                .and(f.app())
                .and_then(monitors::list_monitors)
                .boxed()
        }),
        Line::of::<monitors::__path_get_monitor>(|r, f| {
            r.with(f)
                .and(f.app())
                .and_then(monitors::get_monitor)
                .boxed()
        }),
        Line::of::<history::__path_monitor_history>(|r, f| {
            r.with(f)
                .and(f.app())
                .and_then(history::monitor_history)
                .boxed()
        }),
        Line::of::<monitors::__path_control_monitor>(|r, f| {
            let route = r.with_by(f).and(f.json_post()).and(f.app()).and(f.body());
            route.and_then(monitors::control_monitor).boxed()
        }),
        Line::of::<silences::__path_list_silences>(|r, f| {
            r.at(f)
                .and(f.app())
                .and_then(silences::list_silences)
                .boxed()
        }),
        Line::of::<silences::__path_get_silence>(|r, f| {
            let route = r.with(f).and(f.app());
            route.and_then(silences::get_silence).boxed()
        }),
        Line::of::<silences::__path_create_silence>(|r, f| {
            let route = r.by(f).and(f.json_post()).and(f.app()).and(f.body());
            route.and_then(silences::create_silence).boxed()
        }),
        Line::of::<silences::__path_expire_silence>(|r, f| {
            let route = r.with_by(f).and(f.json_post()).and(f.app());
            route.and_then(silences::expire_silence).boxed()
        }),
        Line::everywhere::<people::__path_list_routes>(|r, f| {
            r.at(f).and(f.app()).and_then(people::list_routes).boxed()
        }),
        Line::everywhere::<people::__path_get_route>(|r, f| {
            r.with(f).and(f.app()).and_then(people::get_route).boxed()
        }),
        Line::everywhere::<people::__path_list_receivers>(|r, f| {
            r.at(f)
                .and(f.app())
                .and_then(people::list_receivers)
                .boxed()
        }),
    ]
}

fn playbooks() -> Vec<Line> {
    vec![
        Line::of::<playbooks::__path_list>(|r, f| {
            r.at(f).and(f.app()).and_then(playbooks::list).boxed()
        }),
        Line::of::<playbooks::__path_get>(|r, f| {
            r.with(f).and(f.app()).and_then(playbooks::get).boxed()
        }),
        Line::of::<playbooks::__path_run>(|r, f| {
            let route = r.with_by(f).and(f.json_post()).and(f.app()).and(f.body());
            route.and_then(playbooks::run).boxed()
        }),
        Line::of::<pipelines::__path_list>(|r, f| {
            r.at(f).and(f.app()).and_then(pipelines::list).boxed()
        }),
        Line::of::<pipelines::__path_runs>(|r, f| {
            let route = r.with(f).and(f.app()).and(f.query());
            route.and_then(pipelines::runs).boxed()
        }),
        Line::of::<pipelines::__path_run>(|r, f| {
            let route = r.with_by(f).and(f.json_post()).and(f.app());
            route.and_then(pipelines::run).boxed()
        }),
    ]
}

/// The feed and the dashboard.
fn pages() -> Vec<Line> {
    vec![
        // The feed's query is checked before the upgrade, so a bad one is a clear 4xx.
        Line::everywhere::<ws::__path_upgrade>(|r, f| {
            let request = r.at(f).and(f.app()).and(f.query()).and_then(ws::parse);
            let protocols = warp::header::optional::<String>("sec-websocket-protocol");
            let upgrade = request
                .and(protocols)
                .and(ws::upgrade_asked())
                .and(warp::ws());
            upgrade.and_then(ws::upgrade).boxed()
        }),
        Line::everywhere::<status_page::__path_status>(|r, f| {
            r.at(f).and(f.app()).and_then(status_page::status).boxed()
        }),
        Line::everywhere::<status_page::__path_badge>(|r, f| {
            r.with(f).and(f.app()).and_then(status_page::badge).boxed()
        }),
        Line::everywhere::<dashboard::__path_index>(|r, f| {
            r.at(f).and_then(dashboard::index).boxed()
        }),
        Line::everywhere::<dashboard::__path_script>(|r, f| {
            r.at(f).and_then(dashboard::script).boxed()
        }),
        Line::everywhere::<dashboard::__path_module>(|r, f| {
            r.with(f).and_then(dashboard::module).boxed()
        }),
        Line::everywhere::<dashboard::__path_stylesheet>(|r, f| {
            r.at(f).and_then(dashboard::stylesheet).boxed()
        }),
        Line::everywhere::<dashboard::__path_catalog>(|r, f| {
            r.at(f).and_then(dashboard::catalog).boxed()
        }),
        Line::everywhere::<dashboard::__path_insights>(|r, f| {
            r.at(f).and(f.app()).and_then(dashboard::insights).boxed()
        }),
    ]
}

/// How a line builds its warp filter from its route and the shared filters.
type Serve = fn(&Route, &Filters) -> BoxedFilter<(Response,)>;

/// One line of the table: a route, how its handler is handed the request, and where it is
/// served.
pub(super) struct Line {
    pub(super) route: Route,
    serve: Serve,
    pub(super) served: Served,
}

/// Which nodes of a cluster serve a route themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Served {
    /// Every node: it needs the store, the log's feed or intake (`Duties::Serve`).
    Everywhere,
    /// The leader: it needs the engines (their state in memory, their commands); a standby
    /// forwards it (`forward.rs`).
    ByLeader,
}

impl Line {
    /// The route `P` declares (`__path_<handler>`, made by `#[utoipa::path]`), served by
    /// `serve` on the leader.
    fn of<P>(serve: Serve) -> Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>,
    {
        Self {
            route: Route::of::<P>(),
            serve,
            served: Served::ByLeader,
        }
    }

    /// [`Line::of`], served by every node.
    fn everywhere<P>(serve: Serve) -> Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>,
    {
        Self {
            served: Served::Everywhere,
            ..Self::of::<P>(serve)
        }
    }

    /// The warp filter of this route.
    pub(super) fn filter(&self, f: &Filters) -> BoxedFilter<(Response,)> {
        (self.serve)(&self.route, f)
    }
}

/// The OpenAPI document: what every route shares (`openapi.rs`) and each route's operation,
/// with the schemas it refers to.
pub(super) fn document() -> utoipa::openapi::OpenApi {
    let mut doc = openapi::ApiDoc::openapi();
    let mut schemas = Vec::new();
    for line in table() {
        line.route.describe(&mut doc, &mut schemas);
    }
    let known = &mut doc.components.get_or_insert_with(Default::default).schemas;
    for (name, schema) in schemas {
        // Two types of one name would be one schema, the last one's: say so at once.
        if let Some(other) = known.insert(name.clone(), schema.clone()) {
            assert!(other == schema, "two different schemas are named {name}");
        }
    }
    doc
}

/// The document, as JSON: built once.
pub fn json() -> &'static str {
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
        document()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    });
    &DOCUMENT
}
