// What each event changes: an incident opened, changed or healed, the facts the page keeps from
// other events (runs, trust, errors), and what is redrawn for it.

import { renderDetail } from "./details.js";
import { addActivity } from "./history.js";
import { later, refreshActiveTotal, refreshInsights, refreshMonitors, refreshTree, renderSoon } from "./load.js";
import { refreshHistories } from "./monitors.js";
import { HEALED_SHOW_MS, HISTORY_MAX, RENDER_DELAY_MS, TILES_MAX, state } from "./state.js";

/** Healed by a playbook or by itself: said at the top for a while (not when a person closed
 * it, nor when it became part of a bigger outage). */
export function wasHealed(incident) {
  return incident.resolved_by === "playbook" || incident.resolved_by === "recovery";
}

/** On load: the incidents healed less than HEALED_SHOW_MS ago are said at the top as they
 * were live, until their minute (counted from when Grace resolved them) is over. */
export function rememberRecentHeals(resolved) {
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

export function applyIncident(incident) {
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

export function onEvent(ev) {
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
export function noteFacts(ev) {
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
