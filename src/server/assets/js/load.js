// Loading over REST: everything at once on load (then the feed follows from where the load
// stands), the parts read again as events stream in, and a redraw once per burst of events.

import { api, askForToken } from "./auth.js";
import { renderDetail } from "./details.js";
import { $ } from "./dom.js";
import { connect, reconnect, setConnection } from "./feed.js";
import { renderHistory } from "./history.js";
import { rememberRecentHeals } from "./incidents.js";
import { refreshHistories, renderCluster, renderMonitors, renderPerDay } from "./monitors.js";
import { ACTIVITY_BACKFILL, HISTORY_MAX, REFRESH_DEBOUNCE_MS, RENDER_DELAY_MS, TILES_MAX, state } from "./state.js";
import { renderHealed, renderSummary, renderTiles } from "./tiles.js";

/** Draws the summary, tiles and history once for a burst of events, not once per event. */
export function renderSoon() {
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

export function later(key, fn) {
  if (state.timers[key]) return;
  state.timers[key] = setTimeout(() => {
    state.timers[key] = null;
    fn();
  }, REFRESH_DEBOUNCE_MS);
}

export async function refreshMonitors() {
  try {
    state.monitors = (await api("GET", "/monitors")).items || [];
    state.monitorsById = new Map(state.monitors.map((m) => [m.id, m]));
    renderMonitors();
    renderSoon(); // tiles show their monitor's last error; history its trust now
  } catch (_) {
    // The feed is down too; the reconnect loads again.
  }
}

export async function refreshTree() {
  try {
    const [tree, cluster] = await Promise.all([api("GET", "/actors"), api("GET", "/cluster")]);
    $("tree").replaceChildren(...renderCluster(cluster, tree));
  } catch (_) {
    // As above.
  }
}

/** How many incidents are active in all (one tile's worth of reading). */
export async function refreshActiveTotal() {
  try {
    state.activeTotal = (await api("GET", "/monitoring/incidents?status=active&limit=1")).total;
    renderSoon();
  } catch (_) {
    // As above.
  }
}

export async function refreshInsights() {
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

export async function learnRuns() {
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
export async function load() {
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

export function failedToLoad(error) {
  if (error.unauthorized) {
    setConnection("🔒 Signed out");
    return; // the sign-in form is up; submitting it loads again
  }
  setConnection(`⚠️ Could not load: ${error.message}; retrying`);
  setTimeout(reconnect, state.retryMs);
}
