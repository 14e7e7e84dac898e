// The detail pane of one incident: its timeline and runs, and the co-pilot's actions on it
// (acknowledge, approve or reject a suggestion, run a playbook, silence, resolve).

import { api } from "./auth.js";
import { $, el } from "./dom.js";
import { trustTrend } from "./history.js";
import { load } from "./load.js";
import { state } from "./state.js";
import { clock, describe, doing, endedHow, family, secs } from "./words.js";

export async function showDetail(id, opener) {
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

export function renderDetail() {
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
      steps: e.steps.map((s) => ({ name: s.name, status: s.status, attempts: s.attempts, ran_by: s.ran_by, output: s.output })),
    })),
    events: detail.timeline,
  };
  $("technical-body").textContent = JSON.stringify(technical, null, 2);
  renderActions(incident);
}

/** The co-pilot's actions for an incident; rebuilt only when the set of them changes, so
 * keyboard focus and the playbook picked stay put while events stream in. */
export function renderActions(incident) {
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
  if (state.canAct) {
    const text = el("input", { id: "note-text", type: "text", placeholder: "A note for the timeline", maxLength: 4000 });
    text.setAttribute("aria-label", "Note");
    buttons.push(text);
    button("Add note", "note", () => {
      const note = text.value.trim();
      if (!note) return Promise.reject(new Error("Write the note first."));
      return api("POST", `/monitoring/incidents/${id}/notes`, { text: note }).then(() => { text.value = ""; });
    }, "Noted.", true);
  }
  const key = `${id}|${buttons.map((b) => b.dataset.action || b.id).join(",")}`;
  if (state.keys.actions === key) return;
  state.keys.actions = key;
  $("actions").replaceChildren(...buttons);
  const none = state.canAct ? "Nothing to do: it is over." : "Your token may only look: actions need the operate role.";
  if (!buttons.length) $("actions").append(el("p", { className: "quiet", textContent: none }));
}

/** Says how an action went: in the detail pane when it is open, else above the tiles. */
export function showResult(text, isError) {
  const result = $("detail").hidden ? $("notice") : $("action-result");
  result.textContent = text;
  result.classList.toggle("error", Boolean(isError));
}

/** Runs one co-pilot action and says how it went at once; the change itself arrives on the
 * feed (which is never older than the action's reply). */
export async function act(id, run, done) {
  try {
    await run();
    showResult(`✅ ${done}`);
    if (state.selected === id) await showDetail(id);
  } catch (error) {
    showResult(`⚠️ ${error.message}`, true);
  }
}

$("close-detail").addEventListener("click", () => {
  state.selected = null;
  state.detail = null;
  state.keys.actions = null;
  $("detail").hidden = true;
  const back = state.opener && state.opener.isConnected ? state.opener : $("alerts");
  back.focus();
});
