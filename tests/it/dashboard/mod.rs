//! The health dashboard in a real headless Chromium: a real PostgreSQL outage seen as a tile in
//! plain words, acknowledged with a click, healed by the playbook live, and left in history;
//! the page resuming after Grace restarts without losing or repeating an event; and the page
//! at phone width, in dark mode, driven by keyboard alone. Screenshots of every state go to
//! `target/dashboard-screenshots/`. A first run as a new user meets it is in `first_run`.
//!
//! By concept: an outage from tile to history (`outage`), resuming after a restart (`resume`),
//! acting on an incident by click or keyboard (`actions`), tokens and other sites (`access`), many
//! incidents and a monitor's history (`history`), and a first run (`first_run`).

mod access;
mod actions;
mod first_run;
mod history;
mod outage;
mod resume;
mod status_page;

use std::time::Duration;

use crate::common::browser::Browser;
use crate::common::TestApp;

const TIMEOUT: Duration = Duration::from_secs(30);

async fn open(app: &TestApp, browser: &Browser) {
    browser.goto(&app.url("/")).await;
    browser
        .wait_for(
            "the live feed",
            "document.getElementById('connection').innerText.includes('Live')",
        )
        .await;
}
