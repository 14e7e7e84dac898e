// The top of the page: the summary line, a tile for each active incident (what went wrong, what
// is being done, its next steps) and the incidents healed in the last minute.

import { api } from "./auth.js";
import { act, showDetail } from "./details.js";
import { $, el } from "./dom.js";
import { state } from "./state.js";
import { SEVERITY, causeLine, clock, doing, family, firstLine, healedLine } from "./words.js";

export function renderSummary() {
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

export function tileLines(incident) {
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
export function errorLine(incident) {
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

export function renderTiles() {
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
export function renderHealed() {
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
