// The Monitors table with each monitor's history at a glance (a status bar, a latency sparkline,
// uptime), incidents per day as bars, and the actor tree.

import { api } from "./auth.js";
import { $, el } from "./dom.js";
import { HISTORIES_MAX, state } from "./state.js";
import { clock } from "./words.js";

export function renderMonitors() {
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

export const SVG_NS = "http://www.w3.org/2000/svg";
export const CELL_WORDS = { none: "no probe", up: "up", failing: "some probes failed", down: "down" };

export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

export function percent(share) {
  return share === null || share === undefined ? "—" : `${(share * 100).toFixed(share === 1 ? 0 : 2)}%`;
}

/** One cell per bucket, coloured by the worst state in it; each says what it was. */
export function statusBar(history) {
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
export function sparkline(cells) {
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
export function renderPerDay() {
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
export async function refreshHistories() {
  try {
    const ids = state.monitors.slice(0, HISTORIES_MAX).map((m) => m.id);
    const histories = await Promise.all(ids.map((id) => api("GET", `/monitors/${encodeURIComponent(id)}/history`)));
    state.histories = new Map(histories.map((h) => [h.monitor, h]));
    renderMonitors();
  } catch (_) {
    // As for the monitors: the next refresh tries again.
  }
}

/** The actor tree of the node serving this page; in a cluster, under a line for every node
 * saying its role, the leases it holds and its last renewal. */
export function renderCluster(cluster, tree) {
  if (!cluster.clustered) return [renderTree(tree)];
  return cluster.nodes.map((node) => {
    const leases = node.leases.map((lease) => `${lease.key}@${lease.epoch}`);
    const leads = leases.some((lease) => lease.startsWith("engines@"));
    const role = !node.live ? "gone quiet" : leads ? "leader: runs the engines and heals" : "standby";
    const held = leases.length ? ` (${leases.join(", ")})` : "";
    const here = node.node_id === cluster.node_id;
    const renewed = node.renewed_at ? `renewed ${clock(node.renewed_at)}` : "never renewed";
    const text = `node ${node.node_id} — ${role}${held}, ${renewed}${here ? " — serving this page" : ""}`;
    const item = el("li", { textContent: text });
    if (here) item.append(el("ul", {}, renderTree(tree)));
    return item;
  });
}

export function renderTree(node) {
  const restarts = node.restarts ? `, restarted ${node.restarts}×` : "";
  const item = el("li", { textContent: `${node.name} — ${node.kind}, ${node.status}${restarts}` });
  if (node.children && node.children.length) {
    item.append(el("ul", {}, ...node.children.map(renderTree)));
  }
  return item;
}
