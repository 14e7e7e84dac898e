// The live feed at /ws: it follows from the seq the load stood at and, when the connection
// drops (Grace restarting), reconnects from the last seq it saw, so nothing is missed or shown
// twice; a new event log means loading afresh.

import { api } from "./auth.js";
import { $ } from "./dom.js";
import { onEvent } from "./incidents.js";
import { failedToLoad, load, refreshMonitors, refreshTree } from "./load.js";
import { RECONNECT_MAX_MS, state } from "./state.js";

export function setConnection(text) {
  $("connection").textContent = text;
}

export function connect() {
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

export async function reconnect() {
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
