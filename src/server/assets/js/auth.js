// Talking to Grace: `api` makes a request with the token, and a 401 brings up the sign-in form,
// whose submit loads the page again with the token given.

import { $ } from "./dom.js";
import { failedToLoad, load } from "./load.js";
import { TOKEN_KEY, state } from "./state.js";

export async function api(method, path, body) {
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
export function askForToken(why) {
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
