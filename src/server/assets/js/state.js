// The page's state: its limits and timings, and the one `state` object every module reads and
// changes (the token, the incidents, the monitors, the feed's position).

/** Events kept in the activity list (older ones leave the page). */
export const ACTIVITY_MAX = 200;
/** Events from before the page opened that it lists on load: the feed replays them. */
export const ACTIVITY_BACKFILL = 50;
/** Active incidents shown as tiles, the newest; the page says how many more there are. */
export const TILES_MAX = 200;
/** Resolved incidents shown in the history. */
export const HISTORY_MAX = 20;
/** Longest wait between two reconnection tries. */
export const RECONNECT_MAX_MS = 4000;
/** Monitors, tree and insights are fetched again at most this often while events stream in. */
export const REFRESH_DEBOUNCE_MS = 250;
/** How long a burst of events may gather before the page is drawn again. */
export const RENDER_DELAY_MS = 20;
/** How long a healed incident stays at the top, saying how it was healed, before only the
 * history shows it. */
export const HEALED_SHOW_MS = 60000;
/** Where this tab keeps its token. */
export const TOKEN_KEY = "grace.token";

export const state = {
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
// Still a global, as when the page was one classic script: the tests (and a person at the
// console) read `state.lastSeq` and the like.
window.state = state;

/** How often tiles are redrawn locally so "expected recovery in ~N s" counts down. */
export const TICK_MS = 5000;
// Monitors whose history the table draws, and how often it is read again.
export const HISTORIES_MAX = 50;
export const HISTORY_REFRESH_MS = 30000;
