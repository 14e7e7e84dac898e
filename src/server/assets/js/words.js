// Words for people: severities, each family of problems in Grace's catalog, how an incident
// was healed or ended, what is being done about it, and one line for each kind of event.

import { state } from "./state.js";

export const SEVERITY = {
  critical: ["🔴", "critical"],
  high: ["🔴", "high"],
  medium: ["🟡", "medium"],
  low: ["🔵", "low"],
};

/** The words for a family of problems, from Grace's catalog (GET /catalog), or null. */
export function family(eventType) {
  for (const { prefix, name, verb, healed } of state.catalog.families) {
    if (eventType === prefix || eventType.startsWith(prefix)) {
      return { name, verb, healed };
    }
  }
  return null;
}

/** How a healed incident is told: "Database reconnected automatically (8 s) · trust
 * restored to 0.92". */
export function healedLine(incident) {
  const words = family(incident.event_type);
  const what = words ? words.healed : `${incident.title} over`;
  const how = incident.resolved_by === "playbook" ? "automatically" : "by itself";
  let line = `✅ ${what} on ${incident.source} ${how} (${secs(incident.resolution_time_seconds)})`;
  const trust = state.trust.get(incident.source);
  if (trust !== undefined) line += ` · trust restored to ${trust.toFixed(2)}`;
  return line;
}

export function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function secs(value) {
  if (value === null || value === undefined) return "—";
  if (value >= 90) return `${Math.round(value / 60)} min`;
  return value < 10 ? `${value.toFixed(1)} s` : `${Math.round(value)} s`;
}

export function firstLine(text) {
  const line = String(text || "").split("\n").find((l) => l.trim()) || "";
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}

export function byWhom(resolvedBy) {
  return { playbook: "healed by a playbook", recovery: "came back by itself", manual: "resolved by a person" }[resolvedBy] || resolvedBy || "";
}

/** How a resolved incident ended, in words: how long and by whom, or what it became part of. */
export function endedHow(incident) {
  if (incident.resolved_by === "superseded") {
    return `part of incident #${incident.superseded_by}: what ${incident.source} depends on is down`;
  }
  return `resolved in ${secs(incident.resolution_time_seconds)}, ${byWhom(incident.resolved_by)}`;
}

/** The components failing because this incident's is down (its symptoms still going on); or,
 * for a refused login, what its title says to do. */
export function causeLine(incident) {
  const failing = [...new Set((incident.symptoms || []).filter((s) => !s.ended_at).map((s) => s.source))];
  // A title that says more than its family's words (a refused login: why, and what to do).
  const saysMore = family(incident.event_type) && !incident.title.endsWith(`: ${incident.source}`);
  if (!failing.length) return saysMore ? `🔑 ${incident.title}` : "";
  const named = failing.slice(0, 3).join(", ");
  const more = failing.length > 3 ? ` and ${failing.length - 3} more` : "";
  return `🔗 ${named}${more} failing because ${incident.source} is down`;
}

export function estimateFor(incident, playbookId) {
  const estimates = (state.insights && state.insights.estimates) || [];
  return estimates.find((e) => e.playbook_id === playbookId && e.event_type === incident.event_type) || null;
}

/** What is being done about an incident, in words. */
export function doing(incident) {
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
export function describe(ev) {
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
      const where = step.ran_by ? ` on node ${step.ran_by.node_id}` : "";
      return `${mark} Step ${d.index + 1}, ${step.name}: ${step.status}${where}${note}`;
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
    case "incident.notified":
      return `📟 Told ${(d.receivers || []).join(", ")} (${TOLD[d.reason] || d.reason}, route ${d.route})`;
    case "incident.note":
      return `📝 ${d.note.by}: ${d.note.text}`;
    case "work_order.updated":
      return workOrderWords(d);
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

/** Why people were told, in words. */
const TOLD = {
  opened: "not healed in time",
  escalated: "Grace could not heal it",
  reopened: "it came back",
  reminder: "reminder, not acknowledged",
  level: `nobody acknowledged: next level`,
  resolved: "healed",
};

/** A person's change to a work order, in words. */
function workOrderWords(d) {
  const order = d.work_order;
  const id = order.work_order_id;
  const said = (order.comments || []).at(-1);
  switch (d.action) {
    case "assign":
      return `🧑‍🔧 Work order ${id} assigned to ${order.assignee} by ${d.by}`;
    case "comment":
      return `💬 ${d.by} on work order ${id}: ${said ? said.text : ""}`;
    case "close":
      return `✅ Work order ${id} closed by ${d.by}: ${order.resolution || ""}`;
    default:
      return `↩️ Work order ${id} reopened by ${d.by}`;
  }
}
