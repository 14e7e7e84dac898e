// What already happened: the resolved incidents, the last 24 hours' insights with each
// component's trust trend, and the activity list of events.

import { showDetail } from "./details.js";
import { $, el } from "./dom.js";
import { ACTIVITY_MAX, HISTORY_MAX, state } from "./state.js";
import { clock, describe, endedHow, secs } from "./words.js";

export function renderHistory() {
  const list = $("history");
  const shown = state.history.slice(0, HISTORY_MAX);
  const key = shown.map((i) => i.id).join(",");
  if (state.keys.history !== key) {
    state.keys.history = key;
    list.replaceChildren(...shown.map(historyItem));
  }
  renderInsightsSummary();
}

export function historyItem(incident) {
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
export function trustTrend(trend) {
  const then = trend.points.map((p) => p.toFixed(2)).join(" → ");
  const n = trend.points.length;
  const as = n === 1 ? "as its last incident opened" : `as its last ${n} incidents opened`;
  // A monitor's trust is read with it; another component's is known from the feed, if at all.
  const monitor = state.monitorsById.get(trend.component);
  const current = monitor ? Number(monitor.trust) : state.trustNow.get(trend.component);
  const now = current === undefined ? "" : `, now ${current.toFixed(2)}`;
  return `trust then ${then} (${as})${now}`;
}

export function renderInsightsSummary() {
  const i = state.insights;
  if (i) {
    const trends = (i.trust_trends || []).map((t) => `${t.component}: ${trustTrend(t)}`).join("; ");
    $("insights-summary").textContent =
      `${i.incidents} incident${i.incidents === 1 ? "" : "s"} in the last 24 h, ` +
      `average recovery ${secs(i.mttr_seconds)} · MTTA ${secs(i.mtta_seconds)} · ${i.active} active` +
      (trends ? `. ${trends}` : "");
  }
}

export function addActivity(ev) {
  const list = $("activity");
  const item = el("li", {},
    el("time", { dateTime: ev.at, textContent: clock(ev.at) }),
    describe(ev));
  item.dataset.seq = String(ev.seq);
  item.dataset.type = ev.type;
  list.prepend(item);
  while (list.children.length > ACTIVITY_MAX) list.lastElementChild.remove();
}
