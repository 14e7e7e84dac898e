// Grace's dashboard. It loads the current state over REST, then follows the live feed at /ws
// from the seq it started at. When the connection drops (Grace restarting), it reconnects with
// `since` = the last seq it saw: nothing is missed and nothing is shown twice. No framework and
// no build step; every text from the server goes into the page as text, never as HTML.
// On load it also lists the last ACTIVITY_BACKFILL events (the feed replays them from its
// `since`) and says what was healed in the last minute, so a page opened after a heal shows
// what one that watched it would; it asks for a token only when `/health` says Grace needs one.
//
// The page is ES modules, one per part of it (each says what it does); this one starts it.

import { failedToLoad, load } from "./js/load.js";
import { refreshHistories } from "./js/monitors.js";
import { HISTORY_REFRESH_MS, TICK_MS, state } from "./js/state.js";
import { renderTiles } from "./js/tiles.js";

// Local redraw so estimates count down between events (no request is made).
setInterval(renderTiles, TICK_MS);
setInterval(() => { if (state.loaded) refreshHistories(); }, HISTORY_REFRESH_MS);

load().catch(failedToLoad);
