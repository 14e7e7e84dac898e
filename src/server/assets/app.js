// Grace's dashboard. It loads the current state over REST, then follows the live feed at /ws
// from the seq it started at. When the connection drops (Grace restarting), it reconnects with
// `since` = the last seq it saw: nothing is missed and nothing is shown twice. No framework and
// no build step; every text from the server goes into the page as text, never as HTML.
// On load it also lists the last ACTIVITY_BACKFILL events (the feed replays them from its
// `since`) and says what was healed in the last minute, so a page opened after a heal shows
// what one that watched it would; it asks for a token only when `/health` says Grace needs one.
"use strict";

/** Events kept in the activity list (older ones leave the page). */
const ACTIVITY_MAX = 200;
/** Events from before the page opened that it lists on load: the feed replays them. */
const ACTIVITY_BACKFILL = 50;
/** Active incidents shown as tiles, the newest; the page says how many more there are. */
const TILES_MAX = 200;
/** Resolved incidents shown in the history. */
const HISTORY_MAX = 20;
/** Longest wait between two reconnection tries. */
const RECONNECT_MAX_MS = 4000;
/** Monitors, tree and insights are fetched again at most this often while events stream in. */
const REFRESH_DEBOUNCE_MS = 250;
/** How long a burst of events may gather before the page is drawn again. */
const RENDER_DELAY_MS = 20;
/** How long a healed incident stays at the top, saying how it was healed, before only the
 * history shows it. */
const HEALED_SHOW_MS = 60000;
/** Where this tab keeps its token. */
const TOKEN_KEY = "grace.token";

const state = {
  lastSeq: 0,
  loadedSeq: 0, // the seq the REST load stands at: events up to it are only listed
  feedFrom: 0, // the seq the first feed of this load started after (the activity's oldest)
  active: new Map(), // the newest active incidents by id, at most TILES_MAX
  activeTotal: 0, // how many incidents are active in all, shown or not
  history: [], // resolved incidents, newest first
  healed: new Map(), // incident id -> { incident, until }: just healed, said at the top
  trust: new Map(), // component -> its trust, when the latest trust.changed raised it
  trustNow: new Map(), // component -> its trust as the latest trust.changed left it
  runs: new Map(), // run id -> { playbook_id, playbook_name }
  playbooks: [],
  monitors: [],
  monitorsById: new Map(),
  errors: new Map(), // source -> { error, seq }: the latest error an event reported on it
  histories: new Map(), // monitor id -> its GET /monitors/{id}/history
  insights: null,
  selected: null, // the incident in the detail pane
  detail: null, // { incident, timeline }
  executions: [], // runs of the selected incident
  retryMs: 250,
  loaded: false,
  logId: null, // the event log followed; another one means loading afresh
  loading: null, // { id, events } while a detail pane loads: events that arrive meanwhile
  opener: null, // the button that opened the detail pane, to return focus to
  keys: {}, // what each rebuilt list was last built from, to rebuild only on change
  socket: null,
  timers: {},
  // The token, when Grace requires one: kept for this tab only (sessionStorage), never in a URL.
  token: sessionStorage.getItem(TOKEN_KEY),
  canAct: true, // false for a read-only token: no action buttons
  renderPending: false, // a redraw is scheduled (renderSoon)
  catalog: { families: [], recovery_words: [] }, // event types and their words (GET /catalog)
};

/** How often tiles are redrawn locally so "expected recovery in ~N s" counts down. */
const TICK_MS = 5000;
// Monitors whose history the table draws, and how often it is read again.
const HISTORIES_MAX = 50;
const HISTORY_REFRESH_MS = 30000;

const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

async function api(method, path, body) {
  const init = { method, headers: {} };
  // Grace takes only JSON POSTs (a body-less one too), so no other site's form can post.
  if (method !== "GET") init.headers["content-type"] = "application/json";
  if (state.token) init.headers.authorization = `Bearer ${state.token}`;
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_) {
    json = null;
  }
  if (!response.ok) {
    const message = json && json.error ? json.error.message : `${response.status} ${response.statusText}`;
    const error = new Error(message);
    if (response.status === 401) {
      error.unauthorized = true;
      askForToken(message);
    }
    throw error;
  }
  return json;
}

/** Shows the sign-in form: Grace wants a token (`/health` says so, or a request got 401), or
 * refused the one given. It is never shown otherwise: a Grace that needs no token has no
 * sign-in. */
function askForToken(why) {
  if (state.socket) {
    const socket = state.socket;
    state.socket = null;
    socket.close();
  }
  $("login-why").textContent = state.token ? `That token was refused: ${why}` : "This Grace needs a token.";
  if (!state.loaded) $("summary").textContent = "Sign in to see Grace's health";
  $("login").hidden = false;
  $("token").focus();
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim() || null;
  if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
  $("token").value = "";
  $("login").hidden = true;
  state.loaded = false;
  load().catch(failedToLoad);
});

// ----- words for people ----------------------------------------------------------------------


const SEVERITY = {
  critical: ["🔴", "critical"],
  high: ["🔴", "high"],
  medium: ["🟡", "medium"],
  low: ["🔵", "low"],
};

/** The words for a family of problems, from Grace's catalog (GET /catalog), or null. */
function family(eventType) {
  for (const { prefix, name, verb, healed } of state.catalog.families) {
    if (eventType === prefix || eventType.startsWith(prefix)) {
      return { name, verb, healed };
    }
  }
  return null;
}

/** How a healed incident is told: "Database reconnected automatically (8 s) · trust
 * restored to 0.92". */
function healedLine(incident) {
  const words = family(incident.event_type);
  const what = words ? words.healed : `${incident.title} over`;
  const how = incident.resolved_by === "playbook" ? "automatically" : "by itself";
  let line = `✅ ${what} on ${incident.source} ${how} (${secs(incident.resolution_time_seconds)})`;
  const trust = state.trust.get(incident.source);
  if (trust !== undefined) line += ` · trust restored to ${trust.toFixed(2)}`;
  return line;
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function secs(value) {
  if (value === null || value === undefined) return "—";
  if (value >= 90) return `${Math.round(value / 60)} min`;
  return value < 10 ? `${value.toFixed(1)} s` : `${Math.round(value)} s`;
}

function firstLine(text) {
  const line = String(text || "").split("\n").find((l) => l.trim()) || "";
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}

function byWhom(resolvedBy) {
  return { playbook: "healed by a playbook", recovery: "came back by itself", manual: "resolved by a person" }[resolvedBy] || resolvedBy || "";
}

/** How a resolved incident ended, in words: how long and by whom, or what it became part of. */
function endedHow(incident) {
  if (incident.resolved_by === "superseded") {
    return `part of incident #${incident.superseded_by}: what ${incident.source} depends on is down`;
  }
  return `resolved in ${secs(incident.resolution_time_seconds)}, ${byWhom(incident.resolved_by)}`;
}

/** The components failing because this incident's is down (its symptoms still going on); or,
 * for a refused login, what its title says to do. */
function causeLine(incident) {
  const failing = [...new Set((incident.symptoms || []).filter((s) => !s.ended_at).map((s) => s.source))];
  // A title that says more than its family's words (a refused login: why, and what to do).
  const saysMore = family(incident.event_type) && !incident.title.endsWith(`: ${incident.source}`);
  if (!failing.length) return saysMore ? `🔑 ${incident.title}` : "";
  const named = failing.slice(0, 3).join(", ");
  const more = failing.length > 3 ? ` and ${failing.length - 3} more` : "";
  return `🔗 ${named}${more} failing because ${incident.source} is down`;
}

function estimateFor(incident, playbookId) {
  const estimates = (state.insights && state.insights.estimates) || [];
  return estimates.find((e) => e.playbook_id === playbookId && e.event_type === incident.event_type) || null;
}

/** What is being done about an incident, in words. */
function doing(incident) {
  const run = incident.active_run_id ? state.runs.get(incident.active_run_id) : null;
  if (incident.active_run_id) {
    const name = run ? run.playbook_name : "a playbook";
    let expected;
    const estimate = run ? estimateFor(incident, run.playbook_id) : null;
    if (!estimate) {
      expected = `no recovery history yet for “${name}” on this kind of incident`;
    } else {
      const since = incident.reopened_at || incident.detected_at;
      const elapsed = (Date.now() - new Date(since).getTime()) / 1000;
      const left = estimate.median_seconds - elapsed;
      expected = left > 0
        ? `expected recovery in ~${secs(Math.max(1, left))}`
        : `taking longer than usual (usually ~${secs(estimate.median_seconds)})`;
    }
    return `Running “${name}” — ${expected}`;
  }
  if (incident.status === "escalated") {
    return `Handed to people — work order ${incident.work_order_id || ""}`.trim();
  }
  const pending = (incident.suggestions || []).find((s) => s.status === "pending");
  if (pending) return `Suggested: “${pending.playbook_name}” — waiting for your approval`;
  if (incident.maintenance) return `🔧 In maintenance (${incident.maintenance}): no automatic healing`;
  if (incident.silenced) return "Silenced: no automatic healing";
  return "Waiting for a person";
}

/** One line for an event, in plain words. */
function describe(ev) {
  const d = ev.data || {};
  const inc = d.incident;
  switch (ev.type) {
    case "incident.opened":
      return `${SEVERITY[inc.severity][0]} Incident #${inc.id} opened: ${inc.title}${inc.title.includes(inc.source) ? "" : ` on ${inc.source}`}`;
    case "incident.updated":
      return `Incident #${inc.id}: ${d.reason || "updated"}`;
    case "incident.resolved":
      if (inc.resolved_by === "superseded") return `🔗 Incident #${inc.id} is ${endedHow(inc)}`;
      return `✅ Incident #${inc.id} resolved in ${secs(inc.resolution_time_seconds)} (${byWhom(inc.resolved_by)})`;
    case "incident.reopened":
      return `🔁 Incident #${inc.id} is back: ${d.reason || "relapse"}`;
    case "incident.escalated":
      return `🧑‍🔧 Incident #${inc.id} handed to people: work order ${d.work_order_id}`;
    case "playbook.started":
      return `▶️ Started “${d.playbook_name}”: ${(d.steps || []).join(" → ")}`;
    case "playbook.resumed":
      return `▶️ Resumed a playbook at step ${(d.from_step || 0) + 1}`;
    case "playbook.step": {
      const step = d.step || {};
      const mark = { running: "⏳", succeeded: "✔️", failed: "✖️", skipped: "⏭️" }[step.status] || "";
      const note = step.status !== "running" && step.output ? ` — ${firstLine(step.output)}` : "";
      return `${mark} Step ${d.index + 1}, ${step.name}: ${step.status}${note}`;
    }
    case "playbook.finished":
      return d.status === "succeeded"
        ? `🏁 Playbook succeeded in ${secs(d.duration_seconds)}`
        : `⚠️ Playbook ${d.status}${d.failing_step ? ` at ${d.failing_step}` : ""}`;
    case "playbook.held":
      return `⏸️ Playbook held: ${d.detail}`;
    case "trust.changed":
      return `Trust in ${d.subject}: ${Number(d.from).toFixed(2)} → ${Number(d.to).toFixed(2)}`;
    case "agent.spawned":
      return `🤖 Sub-agent started`;
    case "agent.finished":
      return `🤖 Sub-agent finished`;
    case "actor.restarted":
      return `♻️ ${d.actor} restarted (${d.restarts} so far)`;
    case "pipeline.started":
      return `🛠️ Pipeline ${d.run.pipeline_id} started (${d.run.trigger})`;
    case "pipeline.finished":
      return `🛠️ Pipeline ${d.run.pipeline_id} ${d.run.status}${d.run.exit_code !== null && d.run.exit_code !== undefined ? ` (exit ${d.run.exit_code})` : ""}`;
    case "webhook.delivered":
      return `📨 Sent to ${d.delivery.webhook_id}: ${d.delivery.status}`;
    case "notification.sent":
      return `📣 ${d.message}`;
    case "config.reloaded":
      return "⚙️ Configuration reloaded";
    case "monitor.controlled":
      if (d.silenced_until && new Date(d.silenced_until) > new Date()) {
        return `🔇 ${d.monitor} silenced until ${clock(d.silenced_until)}${d.paused ? ", paused" : ""}`;
      }
      return d.paused ? `⏸️ ${d.monitor} paused` : `▶️ ${d.monitor} probing${d.silenced_until ? ", silence lifted" : ""}`;
    default: {
      const source = d.monitor || d.source || "";
      const words = family(ev.type);
      const last = ev.type.split(".").pop();
      if (state.catalog.recovery_words.includes(last)) return `💚 ${source} is back (${ev.type})`;
      if (words) return `${words.name}: ${source} ${words.verb}${d.error ? ` — ${firstLine(d.error)}` : ""}`;
      return `${ev.type}${source ? ` on ${source}` : ""}`;
    }
  }
}

// ----- rendering -----------------------------------------------------------------------------

function renderSummary() {
  const counts = {};
  let maintenance = 0;
  for (const incident of state.active.values()) {
    // What a maintenance covers was planned: grey, not counted as a problem.
    if (incident.maintenance) maintenance += 1;
    else counts[incident.severity] = (counts[incident.severity] || 0) + 1;
  }
  const parts = ["critical", "high", "medium", "low"]
    .filter((s) => counts[s])
    .map((s) => `${SEVERITY[s][0]} ${counts[s]} ${SEVERITY[s][1]}`);
  if (maintenance) parts.push(`🔧 ${maintenance} in maintenance`);
  let text = parts.length ? parts.join(" · ") : "✅ All systems healthy";
  if (state.activeTotal > state.active.size) {
    text += ` · ${state.activeTotal.toLocaleString()} active in all`;
  }
  $("summary").textContent = text;
  document.title = `${text} — Grace`;
}

function tileLines(incident) {
  const words = family(incident.event_type);
  const [emoji, level] = SEVERITY[incident.severity] || ["⚪", incident.severity];
  let headline;
  if (words) {
    headline = `${emoji} ${words.name} — ${incident.source} ${words.verb} at ${clock(incident.detected_at)}`;
  } else {
    const where = incident.title.includes(incident.source) ? "" : ` on ${incident.source}`;
    headline = `${emoji} ${incident.title}${where} — since ${clock(incident.detected_at)}`;
  }
  headline += ` — ${doing(incident)}`;
  const bits = [`Severity: ${level}`, `Status: ${incident.status}`];
  if (incident.occurrences > 1) bits.push(`${incident.occurrences} occurrences`);
  if (incident.relapses > 0) {
    bits.push(`🔁 back ${incident.relapses === 1 ? "once" : `${incident.relapses} times`} soon after it was healed`);
  }
  if (incident.acknowledged_at) bits.push(`👀 Acknowledged at ${clock(incident.acknowledged_at)}`);
  return { headline, state: bits.join(" · "), cause: causeLine(incident), error: errorLine(incident) };
}

/** What went wrong on the incident's component, in the probe's own words, shortened: its
 * monitor's last error while it has one, else the error a problem event reported on it since
 * the incident began (a monitor that passed its last probe, or a pushed event); "" if none. */
function errorLine(incident) {
  const monitor = state.monitorsById.get(incident.source);
  let error = monitor && monitor.last_error;
  if (!error) {
    // The first seq an incident keeps is its problem event's; an older error was another's.
    const seen = state.errors.get(incident.source);
    const began = (incident.event_seqs || [])[0];
    error = seen && began !== undefined && seen.seq >= began ? seen.error : "";
  }
  return error ? `Last error: ${firstLine(error)}` : "";
}

function renderTiles() {
  const list = $("tiles");
  const ids = [...state.active.keys()].sort((a, b) => b - a);
  const tiles = new Map();
  for (const tile of [...list.children]) {
    const id = Number(tile.dataset.incident);
    if (state.active.has(id)) tiles.set(id, tile);
    else tile.remove();
  }
  ids.forEach((id, index) => {
    const incident = state.active.get(id);
    let tile = tiles.get(id);
    if (!tile) {
      const headlineId = `tile-${id}-headline`;
      const details = el("button", { type: "button", className: "secondary", textContent: "View details" });
      details.dataset.action = "details";
      details.setAttribute("aria-describedby", headlineId);
      details.addEventListener("click", () => showDetail(id, details));
      const ack = el("button", { type: "button", textContent: "Acknowledge" });
      ack.dataset.action = "acknowledge";
      ack.setAttribute("aria-describedby", headlineId);
      ack.hidden = !state.canAct;
      ack.addEventListener("click", async () => {
        // The button goes away once acknowledged: keep the focus on the tile.
        details.focus();
        await act(id, () => api("POST", `/monitoring/incidents/${id}/acknowledge`), `Acknowledged incident #${id}.`);
      });
      tile = el("li", { className: "tile" },
        el("p", { className: "headline", id: headlineId }),
        el("p", { className: "cause" }),
        el("p", { className: "error-line" }),
        el("p", { className: "state" }),
        el("div", { className: "buttons" }, details, ack));
      tile.dataset.incident = String(id);
    }
    if (list.children[index] !== tile) list.insertBefore(tile, list.children[index] || null);
    const lines = tileLines(incident);
    tile.className = incident.maintenance ? "tile in-maintenance" : `tile sev-${incident.severity}`;
    tile.dataset.status = incident.status;
    tile.querySelector(".headline").textContent = lines.headline;
    tile.querySelector(".state").textContent = lines.state;
    tile.querySelector(".cause").textContent = lines.cause;
    tile.querySelector(".cause").hidden = !lines.cause;
    tile.querySelector(".error-line").textContent = lines.error;
    tile.querySelector(".error-line").hidden = !lines.error;
    tile.querySelector('[data-action="acknowledge"]').hidden = Boolean(incident.acknowledged_at) || !state.canAct;
  });
  $("no-alerts").hidden = state.active.size > 0;
  const more = Math.max(state.activeTotal - state.active.size, 0);
  $("more-alerts").hidden = more === 0;
  $("more-alerts").textContent =
    `Showing the newest ${state.active.size} of ${state.activeTotal.toLocaleString()} active incidents.`;
}

/** The incidents healed in the last HEALED_SHOW_MS, newest first, each saying how. */
function renderHealed() {
  const now = Date.now();
  for (const [id, { until }] of state.healed) if (until <= now) state.healed.delete(id);
  const items = [...state.healed.values()]
    .sort((a, b) => b.incident.id - a.incident.id)
    .map(({ incident }) => {
      const item = el("li", { className: "healed-note", textContent: healedLine(incident) });
      item.dataset.incident = String(incident.id);
      return item;
    });
  $("healed").replaceChildren(...items);
}

function renderHistory() {
  const list = $("history");
  const shown = state.history.slice(0, HISTORY_MAX);
  const key = shown.map((i) => i.id).join(",");
  if (state.keys.history !== key) {
    state.keys.history = key;
    list.replaceChildren(...shown.map(historyItem));
  }
  renderInsightsSummary();
}

function historyItem(incident) {
  {
    const view = el("button", { type: "button", className: "secondary", textContent: "View" });
    view.setAttribute("aria-label", `View incident #${incident.id}`);
    view.addEventListener("click", () => showDetail(incident.id, view));
    const item = el("li", {},
      el("time", { dateTime: incident.resolved_at || "", textContent: incident.resolved_at ? clock(incident.resolved_at) : "" }),
      `✅ #${incident.id} ${incident.title}${incident.title.includes(incident.source) ? "" : ` on ${incident.source}`} — ${endedHow(incident)} `,
      view);
    item.dataset.incident = String(incident.id);
    return item;
  }
}

/** A component's trust trend, told apart from its trust now: "trust then 0.40 → 0.35 (as its
 * last 2 incidents opened), now 0.60" — the points are each incident's trust as it opened,
 * the Monitors table's number is the trust now. */
function trustTrend(trend) {
  const then = trend.points.map((p) => p.toFixed(2)).join(" → ");
  const n = trend.points.length;
  const as = n === 1 ? "as its last incident opened" : `as its last ${n} incidents opened`;
  // A monitor's trust is read with it; another component's is known from the feed, if at all.
  const monitor = state.monitorsById.get(trend.component);
  const current = monitor ? Number(monitor.trust) : state.trustNow.get(trend.component);
  const now = current === undefined ? "" : `, now ${current.toFixed(2)}`;
  return `trust then ${then} (${as})${now}`;
}

function renderInsightsSummary() {
  const i = state.insights;
  if (i) {
    const trends = (i.trust_trends || []).map((t) => `${t.component}: ${trustTrend(t)}`).join("; ");
    $("insights-summary").textContent =
      `${i.incidents} incident${i.incidents === 1 ? "" : "s"} in the last 24 h, ` +
      `average recovery ${secs(i.mttr_seconds)} · MTTA ${secs(i.mtta_seconds)} · ${i.active} active` +
      (trends ? `. ${trends}` : "");
  }
}

function renderMonitors() {
  const icon = { up: "🟢 up", down: "🔴 down", paused: "⏸️ paused", unknown: "❔ unknown" };
  if (!state.monitors.length) {
    $("monitors").replaceChildren(el("tr", {}, el("td", { colSpan: 6, className: "quiet", textContent: "No monitors configured." })));
    return;
  }
  // Each cell names its column: on a narrow screen a row is a card, its values under names.
  const cell = (label, props, ...children) => {
    const td = el("td", props, ...children);
    td.dataset.label = label;
    return td;
  };
  $("monitors").replaceChildren(...state.monitors.map((m) => {
    const history = state.histories.get(m.id);
    const latency = cell("Latency", { textContent: m.latency_ms === null || m.latency_ms === undefined || m.state !== "up" ? "—" : `${m.latency_ms} ms` });
    if (history) latency.append(sparkline(history.cells));
    const row = el("tr", {},
      el("th", { scope: "row", textContent: m.id }),
      cell("State", { textContent: `${icon[m.state] || m.state}${m.silenced_until ? " · silenced" : ""}` }),
      latency,
      cell("Trust now", { className: "trust", textContent: Number(m.trust).toFixed(2) }),
      cell("Last 24 h", {}, history ? statusBar(history) : ""),
      cell("Uptime 24 h / 30 d", { className: "uptime", textContent: history ? `${percent(history.uptime_24h)} / ${percent(history.uptime_30d)}` : "—" }));
    row.dataset.monitor = m.id;
    return row;
  }));
}

// ----- history at a glance -------------------------------------------------------------------

const SVG_NS = "http://www.w3.org/2000/svg";
const CELL_WORDS = { none: "no probe", up: "up", failing: "some probes failed", down: "down" };

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

function percent(share) {
  return share === null || share === undefined ? "—" : `${(share * 100).toFixed(share === 1 ? 0 : 2)}%`;
}

/** One cell per bucket, coloured by the worst state in it; each says what it was. */
function statusBar(history) {
  const cells = history.cells;
  const width = 288 / Math.max(cells.length, 1);
  const downs = cells.filter((c) => c.state === "down").length;
  const bar = svg("svg", { viewBox: "0 0 288 16", class: "status-bar", role: "img",
    "aria-label": `${cells.length} cells, ${downs} down` },
  ...cells.map((cell, i) => svg("rect", { x: i * width, y: 0, width: cells.length > 96 ? width : width - 0.5, height: 16, class: `cell cell-${cell.state}` },
    svg("title", {}, `${clock(cell.start)} — ${CELL_WORDS[cell.state]}${cell.probes ? `, ${cell.failures}/${cell.probes} probes failed` : ""}`))));
  bar.dataset.cells = cells.map((c) => c.state[0]).join("");
  return bar;
}

/** The average latency of each cell as a line; gaps where no probe succeeded. */
function sparkline(cells) {
  const values = cells.map((c) => c.latency_ms_avg);
  const top = Math.max(1, ...values.filter((v) => v !== null));
  const step = 100 / Math.max(cells.length - 1, 1);
  const lines = [];
  let points = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (points.length) lines.push(points);
      points = [];
    } else {
      points.push(`${(i * step).toFixed(1)},${(20 - (v / top) * 18).toFixed(1)}`);
    }
  });
  if (points.length) lines.push(points);
  return svg("svg", { viewBox: "0 0 100 20", class: "sparkline", "aria-hidden": "true" },
    ...lines.map((p) => svg("polyline", { points: p.join(" ") })));
}

/** Incidents per day as bars; a day the read did not reach is drawn hatched and says so. */
function renderPerDay() {
  const days = (state.insights && state.insights.per_day) || [];
  const top = Math.max(1, ...days.map((d) => d.incidents || 0));
  const width = 100 / Math.max(days.length, 1);
  const chart = svg("svg", { viewBox: "0 0 100 40", class: "per-day-chart", role: "img",
    "aria-label": days.map((d) => `${d.day}: ${d.incidents === null ? "unknown" : d.incidents}`).join(", ") },
  ...days.map((d, i) => {
    const h = d.incidents === null ? 38 : (d.incidents / top) * 38;
    return svg("rect", { x: i * width + 0.5, y: 40 - h, width: width - 1, height: Math.max(h, 0.5),
      class: d.incidents === null ? "day day-unknown" : "day" },
    svg("title", {}, `${d.day}: ${d.incidents === null ? "not known (older than the newest 500)" : `${d.incidents} incident${d.incidents === 1 ? "" : "s"}`}`));
  }));
  $("per-day").replaceChildren(chart);
}

/** Each monitor's history (at most HISTORIES_MAX of them), then the table again. */
async function refreshHistories() {
  try {
    const ids = state.monitors.slice(0, HISTORIES_MAX).map((m) => m.id);
    const histories = await Promise.all(ids.map((id) => api("GET", `/monitors/${encodeURIComponent(id)}/history`)));
    state.histories = new Map(histories.map((h) => [h.monitor, h]));
    renderMonitors();
  } catch (_) {
    // As for the monitors: the next refresh tries again.
  }
}

function renderTree(node) {
  const restarts = node.restarts ? `, restarted ${node.restarts}×` : "";
  const item = el("li", { textContent: `${node.name} — ${node.kind}, ${node.status}${restarts}` });
  if (node.children && node.children.length) {
    item.append(el("ul", {}, ...node.children.map(renderTree)));
  }
  return item;
}

function addActivity(ev) {
  const list = $("activity");
  const item = el("li", {},
    el("time", { dateTime: ev.at, textContent: clock(ev.at) }),
    describe(ev));
  item.dataset.seq = String(ev.seq);
  item.dataset.type = ev.type;
  list.prepend(item);
  while (list.children.length > ACTIVITY_MAX) list.lastElementChild.remove();
}

// ----- the detail pane -----------------------------------------------------------------------

async function showDetail(id, opener) {
  state.selected = id;
  if (opener) state.opener = opener;
  // Events about it that arrive while it loads are kept and merged in.
  state.loading = { id, events: [] };
  try {
    const [detail, executions] = await Promise.all([
      api("GET", `/monitoring/incidents/${id}`),
      api("GET", `/monitoring/executions?incident_id=${id}&limit=100`),
    ]);
    if (state.selected !== id) return;
    const seqs = new Set(detail.timeline.map((e) => e.seq));
    for (const ev of state.loading.events) {
      if (!seqs.has(ev.seq)) detail.timeline.push(ev);
    }
    detail.timeline.sort((a, b) => a.seq - b.seq);
    state.detail = detail;
    state.executions = executions.items;
  } catch (error) {
    showResult(`Could not load incident ${id}: ${error.message}`, true);
    return;
  } finally {
    if (state.loading && state.loading.id === id) state.loading = null;
  }
  const opening = $("detail").hidden;
  $("detail").hidden = false;
  renderDetail();
  if (opening) $("detail").focus();
}

function renderDetail() {
  const detail = state.detail;
  if (!detail) return;
  const incident = state.active.get(detail.id) || detail;
  const words = family(incident.event_type);
  $("detail-title").textContent = `#${incident.id} ${words ? words.name : incident.title} — ${incident.source}`;
  $("detail-status").textContent = incident.status === "resolved"
    ? `${endedHow(incident).replace(/^./, (c) => c.toUpperCase())}`
    : `${incident.status} · ${doing(incident)}`;
  $("timeline").replaceChildren(...detail.timeline.map((ev) => {
    const item = el("li", {}, el("time", { dateTime: ev.at, textContent: clock(ev.at) }), describe(ev));
    item.dataset.seq = String(ev.seq);
    return item;
  }));
  const i = state.insights;
  const parts = [];
  if (i) {
    const mine = (i.components || []).find((c) => c.component === incident.source);
    if (mine) {
      const recovery = mine.mttr_seconds === null ? "" : `, average recovery ${secs(mine.mttr_seconds)}`;
      parts.push(`${mine.incidents} incident${mine.incidents === 1 ? "" : "s"} on ${incident.source} in the last 24 h${recovery}.`);
    }
    const trend = (i.trust_trends || []).find((t) => t.component === incident.source);
    if (trend) parts.push(`${incident.source}: ${trustTrend(trend)}.`);
    for (const e of (i.estimates || []).filter((e) => e.event_type === incident.event_type)) {
      parts.push(`“${e.playbook_id}” healed this kind of incident ${e.samples}× (median ${secs(e.median_seconds)}).`);
    }
  }
  $("insights").textContent = parts.join(" ");
  const technical = {
    incident,
    runs: state.executions.map((e) => ({
      run_id: e.run_id,
      playbook_id: e.playbook_id,
      status: e.status,
      steps: e.steps.map((s) => ({ name: s.name, status: s.status, attempts: s.attempts, output: s.output })),
    })),
    events: detail.timeline,
  };
  $("technical-body").textContent = JSON.stringify(technical, null, 2);
  renderActions(incident);
}

/** The co-pilot's actions for an incident; rebuilt only when the set of them changes, so
 * keyboard focus and the playbook picked stay put while events stream in. */
function renderActions(incident) {
  const id = incident.id;
  const buttons = [];
  const button = (label, action, run, done, secondary) => {
    const b = el("button", { type: "button", textContent: label, className: secondary ? "secondary" : "" });
    b.dataset.action = action;
    b.addEventListener("click", () => act(id, run, done));
    buttons.push(b);
  };
  const active = incident.status !== "resolved" && state.canAct;
  for (const s of (incident.suggestions || []).filter((s) => s.status === "pending")) {
    button(`Approve “${s.playbook_name}”`, `approve-${s.suggestion_id}`,
      () => api("POST", `/monitoring/incidents/${id}/suggestions/${s.suggestion_id}/approve`), `Approved: “${s.playbook_name}” is running.`);
    button(`Dismiss “${s.playbook_name}”`, `dismiss-${s.suggestion_id}`,
      () => api("POST", `/monitoring/incidents/${id}/suggestions/${s.suggestion_id}/dismiss`), "Dismissed: it stays with people.", true);
  }
  if (active && !incident.acknowledged_at) {
    button("Acknowledge", "acknowledge", () => api("POST", `/monitoring/incidents/${id}/acknowledge`), "Acknowledged.");
  }
  if (active && state.playbooks.length && !incident.active_run_id) {
    const select = el("select", { id: "playbook-choice" },
      ...state.playbooks.map((p) => el("option", { value: p.id, textContent: p.name })));
    select.setAttribute("aria-label", "Playbook to run");
    buttons.push(select);
    button("Run playbook", "run", () => api("POST", `/playbooks/${encodeURIComponent(select.value)}/run`, { incident_id: id }), "Started.");
  }
  if (active) {
    button("Resolve", "resolve", () => api("POST", `/monitoring/incidents/${id}/resolve`), "Resolved.", true);
  }
  if (active && state.monitors.some((m) => m.id === incident.source)) {
    button(`Silence ${incident.source} for 30 min`, "silence",
      () => api("POST", `/monitors/${encodeURIComponent(incident.source)}/silence`, { minutes: 30 }), `Silenced ${incident.source} for 30 minutes.`, true);
  }
  const key = `${id}|${buttons.map((b) => b.dataset.action || b.id).join(",")}`;
  if (state.keys.actions === key) return;
  state.keys.actions = key;
  $("actions").replaceChildren(...buttons);
  const none = state.canAct ? "Nothing to do: it is over." : "Your token may only look: actions need the operate role.";
  if (!buttons.length) $("actions").append(el("p", { className: "quiet", textContent: none }));
}

/** Says how an action went: in the detail pane when it is open, else above the tiles. */
function showResult(text, isError) {
  const result = $("detail").hidden ? $("notice") : $("action-result");
  result.textContent = text;
  result.classList.toggle("error", Boolean(isError));
}

/** Runs one co-pilot action and says how it went at once; the change itself arrives on the
 * feed (which is never older than the action's reply). */
async function act(id, run, done) {
  try {
    await run();
    showResult(`✅ ${done}`);
    if (state.selected === id) await showDetail(id);
  } catch (error) {
    showResult(`⚠️ ${error.message}`, true);
  }
}

// ----- state changes -------------------------------------------------------------------------

/** Healed by a playbook or by itself: said at the top for a while (not when a person closed
 * it, nor when it became part of a bigger outage). */
function wasHealed(incident) {
  return incident.resolved_by === "playbook" || incident.resolved_by === "recovery";
}

/** On load: the incidents healed less than HEALED_SHOW_MS ago are said at the top as they
 * were live, until their minute (counted from when Grace resolved them) is over. */
function rememberRecentHeals(resolved) {
  const now = Date.now();
  state.healed = new Map();
  for (const incident of resolved) {
    if (!wasHealed(incident) || !incident.resolved_at) continue;
    // A clock ahead of Grace's never keeps a note longer than a live one would be kept.
    const until = Math.min(Date.parse(incident.resolved_at) + HEALED_SHOW_MS, now + HEALED_SHOW_MS);
    if (until <= now) continue;
    state.healed.set(incident.id, { incident, until });
    setTimeout(renderSoon, until - now + RENDER_DELAY_MS);
  }
}

function applyIncident(incident) {
  if (incident.status === "resolved") {
    if (state.active.has(incident.id) && wasHealed(incident)) {
      state.healed.set(incident.id, { incident, until: Date.now() + HEALED_SHOW_MS });
      setTimeout(renderSoon, HEALED_SHOW_MS + RENDER_DELAY_MS);
    }
    state.active.delete(incident.id);
    state.history = [incident, ...state.history.filter((i) => i.id !== incident.id)].slice(0, HISTORY_MAX);
  } else {
    // A relapse: back from history and from the "just healed" notes.
    state.healed.delete(incident.id);
    state.history = state.history.filter((i) => i.id !== incident.id);
    state.active.set(incident.id, incident);
    // Under a flood of new incidents the page keeps the newest, like its first load.
    if (state.active.size > TILES_MAX) state.active.delete(Math.min(...state.active.keys()));
  }
}

function onEvent(ev) {
  if (ev.seq <= state.lastSeq) return; // already seen (the seam of a reconnect)
  state.lastSeq = ev.seq;
  if (ev.seq <= state.loadedSeq) {
    // From before the load: what REST loaded already holds its changes. It is listed, and
    // what the page keeps from events is noted, nothing more.
    if (ev.type !== "feed.truncated") addActivity(ev);
    noteFacts(ev);
    renderSoon();
    return;
  }
  addActivity(ev);
  noteFacts(ev);
  const d = ev.data || {};
  if (d.reason === "repeat" && d.incident) {
    // A repeat carries only what it changes: merge it into the incident shown, if any.
    const shown = state.active.get(d.incident.id);
    if (shown) Object.assign(shown, d.incident);
  } else if (d.incident && d.incident.id !== undefined && ev.type.startsWith("incident.")) {
    applyIncident(d.incident);
    if (ev.type !== "incident.updated") {
      later("insights", refreshInsights);
      later("activeTotal", refreshActiveTotal);
    }
  }
  const about = d.incident_id !== undefined ? d.incident_id : d.incident && d.incident.id;
  if (state.loading && about === state.loading.id) state.loading.events.push(ev);
  if (state.detail && about === state.detail.id) {
    if (!state.detail.timeline.some((e) => e.seq === ev.seq)) state.detail.timeline.push(ev);
    if (d.incident) Object.assign(state.detail, d.incident);
    renderDetail();
  }
  if (ev.type !== "playbook.step") later("monitors", refreshMonitors);
  if (d.monitor) later("histories", refreshHistories); // a monitor's state changed: its bar too
  if (/^(agent|actor|config|playbook)\./.test(ev.type)) later("tree", refreshTree);
  renderSoon();
}

/** What the page keeps from events besides incidents, live or from before the load: a
 * component's trust when a heal raised it, each run's playbook, the latest error per source. */
function noteFacts(ev) {
  const d = ev.data || {};
  if (ev.type === "trust.changed" && String(d.subject).startsWith("component:")) {
    // Remembered only when it went up: a heal's restore_trust, not the drop at the start.
    const component = d.subject.slice("component:".length);
    state.trustNow.set(component, Number(d.to));
    if (Number(d.to) > Number(d.from)) state.trust.set(component, Number(d.to));
    else state.trust.delete(component);
  }
  if (ev.type === "playbook.started") {
    state.runs.set(d.run_id, { playbook_id: d.playbook_id, playbook_name: d.playbook_name });
  }
  // A monitor's problem event carries its probe's error; a pushed one may carry one too.
  if (typeof d.error === "string" && d.error && typeof d.source === "string") {
    state.errors.set(d.source, { error: d.error, seq: ev.seq });
  }
}

/** Draws the summary, tiles and history once for a burst of events, not once per event. */
function renderSoon() {
  if (state.renderPending) return;
  state.renderPending = true;
  setTimeout(() => {
    state.renderPending = false;
    renderSummary();
    renderHealed();
    renderTiles();
    renderHistory();
  }, RENDER_DELAY_MS);
}

function later(key, fn) {
  if (state.timers[key]) return;
  state.timers[key] = setTimeout(() => {
    state.timers[key] = null;
    fn();
  }, REFRESH_DEBOUNCE_MS);
}

async function refreshMonitors() {
  try {
    state.monitors = (await api("GET", "/monitors")).items || [];
    state.monitorsById = new Map(state.monitors.map((m) => [m.id, m]));
    renderMonitors();
    renderSoon(); // tiles show their monitor's last error; history its trust now
  } catch (_) {
    // The feed is down too; the reconnect loads again.
  }
}

async function refreshTree() {
  try {
    $("tree").replaceChildren(renderTree(await api("GET", "/actors")));
  } catch (_) {
    // As above.
  }
}

/** How many incidents are active in all (one tile's worth of reading). */
async function refreshActiveTotal() {
  try {
    state.activeTotal = (await api("GET", "/monitoring/incidents?status=active&limit=1")).total;
    renderSoon();
  } catch (_) {
    // As above.
  }
}

async function refreshInsights() {
  try {
    state.insights = await api("GET", "/insights");
    renderHistory();
    renderPerDay();
    renderTiles();
    if (state.detail) renderDetail();
  } catch (_) {
    // As above.
  }
}

async function learnRuns() {
  for (const incident of state.active.values()) {
    const runId = incident.active_run_id;
    if (runId && !state.runs.has(runId)) {
      try {
        const run = await api("GET", `/monitoring/executions/${encodeURIComponent(runId)}`);
        state.runs.set(runId, { playbook_id: run.playbook_id, playbook_name: run.playbook_name });
      } catch (_) {
        // Shown as "a playbook" until its events arrive.
      }
    }
  }
}

/** Loads everything over REST, then follows the feed from the seq the load started at (the
 * last ACTIVITY_BACKFILL events before it replayed into the activity list first). */
async function load() {
  // Health (the seq the feed resumes from) is read before the lists, so no change falls
  // between them. It needs no token and says whether the rest does.
  const health = await api("GET", "/health");
  if (health.tokens_required && !state.token) {
    askForToken();
    throw Object.assign(new Error("a token is required"), { unauthorized: true });
  }
  const me = await api("GET", "/whoami");
  state.canAct = me.role === "operate" || me.role === "admin";
  $("whoami").textContent = me.required ? `Signed in as ${me.name} (${me.role})` : "";
  const [active, resolved, playbooks, catalog] = await Promise.all([
    api("GET", `/monitoring/incidents?status=active&limit=${TILES_MAX}`),
    api("GET", `/monitoring/incidents?status=resolved&limit=${HISTORY_MAX}`),
    api("GET", "/playbooks"),
    api("GET", "/catalog"),
  ]);
  state.catalog = catalog;
  state.loadedSeq = health.last_seq;
  state.feedFrom = Math.max(0, health.last_seq - ACTIVITY_BACKFILL);
  state.lastSeq = state.feedFrom;
  state.logId = health.log_id;
  // The feed replays the recent events: the list, trust raised and errors are made anew.
  $("activity").replaceChildren();
  state.trust = new Map();
  state.trustNow = new Map();
  state.errors = new Map();
  state.keys = {};
  state.active = new Map(active.items.map((i) => [i.id, i]));
  state.activeTotal = active.total;
  state.history = resolved.items;
  rememberRecentHeals(resolved.items);
  state.playbooks = playbooks.items;
  await Promise.all([learnRuns(), refreshMonitors(), refreshTree()]);
  refreshHistories();
  state.loaded = true;
  renderSummary();
  renderHealed();
  renderTiles();
  renderHistory();
  // For load harnesses (benches/backlog.rs): when the first paint's content is in the page.
  performance.mark("grace-loaded");
  connect();
  // The slowest read stays off the first paint: estimates and trends fill in when it comes.
  refreshInsights();
}

function setConnection(text) {
  $("connection").textContent = text;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // Browsers cannot set headers on a WebSocket: the token goes as a subprotocol, not in the URL.
  const protocols = state.token ? ["grace", `grace.token.${state.token}`] : undefined;
  const socket = new WebSocket(`${scheme}://${location.host}/ws?since=${state.lastSeq}`, protocols);
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.retryMs = 250;
    setConnection("🟢 Live");
    refreshMonitors();
    refreshTree();
  });
  socket.addEventListener("message", (message) => {
    let ev;
    try {
      ev = JSON.parse(message.data);
    } catch (_) {
      return; // not an event
    }
    onEvent(ev);
  });
  socket.addEventListener("close", () => {
    if (state.socket !== socket) return;
    setConnection("🟠 Reconnecting…");
    setTimeout(reconnect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, RECONNECT_MAX_MS);
  });
}

async function reconnect() {
  let health;
  try {
    health = await api("GET", "/health");
  } catch (error) {
    if (error.unauthorized) return; // the sign-in form is up
    setTimeout(reconnect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, RECONNECT_MAX_MS);
    return;
  }
  const otherLog = health.log_id !== state.logId;
  if (!state.loaded || otherLog) {
    // Never loaded, or a different event log (an in-memory store started over): load again.
    state.loaded = false;
    load().catch(failedToLoad);
    return;
  }
  connect();
}

$("close-detail").addEventListener("click", () => {
  state.selected = null;
  state.detail = null;
  state.keys.actions = null;
  $("detail").hidden = true;
  const back = state.opener && state.opener.isConnected ? state.opener : $("alerts");
  back.focus();
});

// Local redraw so estimates count down between events (no request is made).
setInterval(renderTiles, TICK_MS);
setInterval(() => { if (state.loaded) refreshHistories(); }, HISTORY_REFRESH_MS);

function failedToLoad(error) {
  if (error.unauthorized) {
    setConnection("🔒 Signed out");
    return; // the sign-in form is up; submitting it loads again
  }
  setConnection(`⚠️ Could not load: ${error.message}; retrying`);
  setTimeout(reconnect, state.retryMs);
}

load().catch(failedToLoad);
