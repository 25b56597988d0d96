//! `update(state, msg) -> effects`: every decision of the dashboard, and no IO. One file per
//! job: keys, moving, the filter, the details pane, logging in, the worker's answers, the clock.

mod details;
mod filter;
mod keys;
mod login;
mod navigation;
mod tick;
mod worker;

use super::effect::Effect;
use super::msg::Msg;
use super::state::State;
use crossterm::event::KeyEventKind;

use filter::refilter;

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let mut effects = Vec::new();
    match msg {
        Msg::Key(key) => {
            if key.kind != KeyEventKind::Release {
                state.dirty = true;
                state.flash = None;
                keys::on_key(state, key, &mut effects);
            }
        }
        Msg::Tick(now) => tick::on_tick(state, now, &mut effects),
        Msg::Resize { width, height } => {
            state.width = width;
            state.height = height;
            navigation::keep_selection_visible(state);
            state.dirty = true;
        }
        Msg::Worker(event) => {
            state.dirty = true;
            worker::on_worker(state, *event, &mut effects);
            refilter(state);
        }
        Msg::Terminate => state.quit = true,
    }
    // After every message: keys, a filter or a worker event may each change what the details
    // pane shows, and this is the one place that decides which token values are held.
    details::sync_details(state, &mut effects);
    effects
}

fn selected_name(state: &State) -> Option<String> {
    state.selected_row().map(|r| r.name().to_string())
}

fn nothing_done(name: &str, problem: &str) -> String {
    format!("{name}: nothing done: {problem}")
}

fn busy(name: &str) -> String {
    format!("{name}: busy, try again in a moment")
}
